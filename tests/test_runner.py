"""The measurement loop with a scripted backend and a scripted power trace."""

import json
import math
import threading
import time

import pytest

from ipwtui.backends.fake.backend import FakeBackend
from ipwtui.core import events as ev
from ipwtui.core.export import export_session
from ipwtui.core.runner import Runner
from ipwtui.core.settings import RunSettings
from ipwtui.core.sensors.scripted import ScriptedSensor
from ipwtui.core.session import Session, SessionError
from ipwtui.workloads.base import Query, Score


def queries(n=6):
    return [Query(id=f"q{i}", prompt=f"question {i}?", reference="A" if i % 2 == 0 else "B", kind="mc",
                  domain="even" if i % 2 == 0 else "odd", dataset="t") for i in range(n)]


def scorer(q, answer):
    pred = "A" if "(A)" in answer else None
    return Score(correct=pred == q.reference, prediction=pred, scorer="test")


def make(tmp_path, n=6, settings=None, backend=None, sensor=None, listener=None, meta=None):
    s = Session.create(tmp_path / "sess", meta or {"id": "sess", "query_ids": [f"q{i}" for i in range(n)],
                                                     "domains": [{"domain": "cpu-scripted",
                                                                  "source": "scripted",
                                                                  "quality": "estimated"}]})
    t0 = time.monotonic()
    sensor = sensor or ScriptedSensor(lambda t: 12.0 + 3.0 * math.sin(t - t0))
    backend = backend or FakeBackend(tokens_per_s=400)
    settings = settings or RunSettings(idle_seconds=0.3, warmup=1, sample_hz=50, max_tokens=32)
    return Runner(s, backend, [sensor], queries(n), settings, scorer=scorer, listener=listener,
                  model_name="fake")


def test_full_run_journal_totals_and_events(tmp_path):
    got = []
    r = make(tmp_path, listener=got.append)
    summary = r.run()
    kinds = [type(e).__name__ for e in got]
    assert kinds[0] == "SessionStarted" and kinds[-1] == "RunFinished"
    assert "IdleMeasured" in kinds and kinds.count("QueryFinished") == 6 + 1
    recs = r.session.query_records(include_warmup=True)
    assert len(recs) == 7 and recs[0].warmup is True
    real = [x for x in recs if not x.warmup]
    assert [x.correct for x in real] == [True, False] * 3
    for x in real:
        assert x.energy_j > 0 and x.energy_quality == "estimated" and x.energy_source == "scripted"
        assert x.avg_power_w == pytest.approx(x.energy_j / x.latency_s)
        assert 8.5 < x.avg_power_w < 15.5
        assert x.energy_net_j is not None
    m = summary["metrics"]["gross"]
    assert m["accuracy"] == 0.5 and m["n"] == 6
    assert m["ipw"] == pytest.approx(0.5 / (sum(x.avg_power_w for x in real) / 6))
    en = summary["energy"]
    # the bookkeeping itself is checked from the session's files in test_bookkeeping.py
    assert en["counted_j"] == pytest.approx(sum(x.energy_j for x in real))
    assert en["unattributed_j"] >= -1e-6
    assert summary["queries"]["warmup"] == 1
    assert r.session.meta["status"] == "finished"


def test_export_files(tmp_path):
    r = make(tmp_path)
    r.run()
    paths = export_session(r.session.folder)
    import pandas as pd

    qdf = pd.read_csv(paths["queries"])
    assert len(qdf) == 6
    for col in ("query_id", "dataset", "domain", "model", "backend", "accelerator", "correct", "prediction",
                "reference", "prompt_tokens", "output_tokens", "ttft_s", "latency_s", "prefill_tps",
                "decode_tps", "energy_j", "energy_net_j", "avg_power_w", "energy_source", "energy_quality",
                "error"):
        assert col in qdf.columns
    assert set(qdf["energy_quality"]) == {"estimated"}
    sdf = pd.read_csv(paths["samples"])
    assert list(sdf.columns) == ["time", "segment", "domain", "watts", "source", "quality"]
    assert len(sdf) > 20 and set(sdf["quality"]) == {"estimated"}
    summary = json.loads(paths["summary"].read_text())
    assert summary["metrics"]["gross"]["n"] == 6
    assert "report" not in paths
    rep = export_session(r.session.folder, tmp_path / "out", report=True)["report"].read_text()
    assert "quality: **estimated**" in rep and "IPW (1/W) (estimate)" in rep
    assert "| even | 3 | 3 | 3 | 100.0 % |" in rep and "| odd | 3 | 3 | 0 | 0.0 % |" in rep


def test_skip_and_backend_error_are_recorded_not_counted(tmp_path):
    backend = FakeBackend(tokens_per_s=50, default="word " * 30 + "(A)", fail_on={"question 3?"})
    runner = None

    def listener(e):
        if isinstance(e, ev.Token) and e.n == 3 and "question 1?" in current[0]:
            runner.skip()
        if isinstance(e, ev.QueryStarted):
            current[0] = e.query.prompt

    current = [""]
    runner = make(tmp_path, backend=backend, listener=listener,
                  settings=RunSettings(idle_seconds=0, warmup=0, sample_hz=50))
    summary = runner.run()
    recs = {r.query_id: r for r in runner.session.query_records()}
    assert recs["q1"].status == "skipped" and recs["q1"].correct is None
    assert recs["q3"].status == "error" and "scripted backend failure" in recs["q3"].error
    q = summary["queries"]
    assert (q["planned"], q["finished"], q["ok"], q["skipped"], q["errors"], q["warmup"]) == (6, 6, 4, 1, 1, 0)
    assert q["failed_attempts"] == 0  # a RuntimeError is not worth retrying: one attempt
    assert summary["metrics"]["gross"]["n"] == 4


def test_stop_then_resume_completes_without_redoing(tmp_path):
    runner = None

    def listener(e):
        if isinstance(e, ev.QueryFinished) and e.record.query_id == "q2":
            runner.stop()

    runner = make(tmp_path, listener=listener, settings=RunSettings(idle_seconds=0, warmup=0, sample_hz=50))
    runner.run()
    assert runner.status == "stopped"
    assert runner.session.done_ids() == {"q0", "q1", "q2"}
    assert Session.open(runner.session.folder).meta["status"] == "interrupted"
    # a second process (segment) finishes it
    s2 = Session.open(runner.session.folder)
    backend = FakeBackend(tokens_per_s=400)
    r2 = Runner(s2, backend, [ScriptedSensor(lambda t: 10.0)], queries(6),
                RunSettings(idle_seconds=0.2, warmup=1, sample_hz=50), scorer=scorer)
    summary = r2.run()
    recs = s2.query_records()
    assert [r.query_id for r in recs] == [f"q{i}" for i in range(6)]
    assert backend.calls == 3 + 1  # three left plus one warm-up
    assert summary["energy"]["segments"] == 2
    assert summary["metrics"]["gross"]["n"] == 6


def test_pause_blocks_between_queries(tmp_path):
    got = []
    r = make(tmp_path, listener=got.append, settings=RunSettings(idle_seconds=0, warmup=0, sample_hz=50))
    r.pause()
    th = threading.Thread(target=r.run)
    th.start()
    time.sleep(0.4)
    assert not any(isinstance(e, ev.QueryStarted) for e in got)
    r.resume()
    th.join(10)
    assert sum(isinstance(e, ev.QueryFinished) for e in got) == 6


def test_sensor_failure_mid_run_gives_na_and_run_goes_on(tmp_path):
    got = []
    sensor = ScriptedSensor(lambda t: 10.0, fail_after=30)
    r = make(tmp_path, sensor=sensor, listener=got.append, backend=FakeBackend(tokens_per_s=40),
             settings=RunSettings(idle_seconds=0, warmup=0, sample_hz=100))
    summary = r.run()
    recs = r.session.query_records()
    assert len(recs) == 6 and all(x.status == "ok" for x in recs)
    assert any(isinstance(e, ev.SensorFault) for e in got)
    assert recs[-1].energy_j is None and recs[-1].energy_quality == "unavailable"
    assert summary["metrics"]["gross"]["n_with_energy"] < 6


def test_unwritable_session_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SessionError) as e:
        Session.create(blocker / "sess", {})
    assert "not writable" in str(e.value) and "\n" not in str(e.value)


def test_torn_last_journal_line_is_ignored(tmp_path):
    r = make(tmp_path, n=2, settings=RunSettings(idle_seconds=0, warmup=0, sample_hz=50))
    r.run()
    with open(r.session.folder / "journal.jsonl", "a") as f:
        f.write('{"type": "query", "query_id": "q9", "sta')
    assert Session.open(r.session.folder).done_ids() == {"q0", "q1"}


def test_prepare_uses_injected_sensors_and_unique_folders(tmp_path):
    from ipwtui.runs import RunRequest, prepare

    sensor = ScriptedSensor(lambda t: 5.0)
    from ipwtui.core.sensors.base import SensorSet

    ss = SensorSet(sensors=[sensor], capabilities=sensor.probe())
    req = lambda: RunRequest(backend="fake", queries="quick", sessions_root=str(tmp_path / "root"))
    a, b = prepare(req(), sensor_set=ss), prepare(req(), sensor_set=ss)
    assert a.session.folder != b.session.folder  # same second, same model: still two folders
    assert a.session.folder.parent == tmp_path / "root"
    assert [d["domain"] for d in a.session.meta["domains"]] == ["cpu-scripted"]
    assert a.sensor_set is ss


def test_the_gap_between_queries_is_outside_every_window_and_counted_as_unattributed(tmp_path):
    """The app draws between two queries: the runner calls its hook after each query (warm-up too);
    the time spent there is in no query's window, and the energy bookkeeping still closes."""
    calls = []
    got = []
    r = make(tmp_path, n=4, listener=got.append)

    def gap():
        t0 = time.time()
        time.sleep(0.15)
        calls.append((t0, time.time()))

    r.between_queries = gap
    summary = r.run()
    assert len(calls) == 4 + 1  # after the warm-up and after each query
    finished = [e for e in got if isinstance(e, ev.QueryFinished)]
    # each hook call comes after its query's record is written, before the next query starts
    started = [e for e in got if isinstance(e, ev.QueryStarted)]
    assert len(started) == len(finished) == 5
    for rec in r.session.query_records(include_warmup=True):  # the gaps are in no window (whatever the speed)
        assert all(rec.wall_done <= g0 or rec.wall_sent >= g1 for g0, g1 in calls)
    en = summary["energy"]
    assert en["unattributed_j"] > 0.5 * 4 * 0.15 * 8.5  # at least the gaps at the sensor's lowest power


def test_no_gap_after_a_stop(tmp_path):
    calls = []
    r = make(tmp_path, n=4)
    r.between_queries = lambda: (calls.append(1), r.stop())
    r.run()
    assert calls == [1]  # the warm-up's gap stops the run: no further hook call


def test_the_observer_figures_go_into_the_segment_record(tmp_path):
    r = make(tmp_path, n=2)
    r.observer = lambda: {"ui_thread_cpu_s": 0.25, "gaps": 3}
    r.run()
    segs = [x for x in r.session.read_journal() if x.get("type") == "segment"]
    assert segs and segs[-1]["observer"] == {"ui_thread_cpu_s": 0.25, "gaps": 3}
    # headless: nothing to say, said as such
    r2 = make(tmp_path / "b", n=1)
    r2.run()
    assert [x for x in r2.session.read_journal() if x.get("type") == "segment"][-1]["observer"] is None


def test_a_failing_observer_never_stops_the_run(tmp_path):
    r = make(tmp_path, n=2)
    r.observer = lambda: 1 / 0
    summary = r.run()
    assert summary["queries"]["finished"] == 2
    seg = [x for x in r.session.read_journal() if x.get("type") == "segment"][-1]
    assert seg["observer"] == {"error": "ZeroDivisionError: division by zero"}


def test_the_default_accelerator_follows_the_machine_and_a_given_one_is_kept(tmp_path):
    """On an Apple SoC the CPU estimate is not used (the SoC's energy is measured): a run that names no
    accelerator counts the SoC and says so; one that names cpu is refused with what is available."""
    from ipwtui.core.sensors.base import SensorSet
    from ipwtui.runs import RunError, RunRequest, prepare

    soc = ScriptedSensor(lambda t: 7.0, domain="soc", accelerator="soc")
    ss = SensorSet(sensors=[soc], capabilities=soc.probe())
    prep = prepare(RunRequest(backend="fake", queries="quick", sessions_root=str(tmp_path / "a")), sensor_set=ss)
    assert prep.settings.accelerator == "soc" and any("'soc' is counted" in w for w in prep.warnings)
    prep.session.close("interrupted")
    with pytest.raises(RunError, match="available: soc"):
        prepare(RunRequest(backend="fake", queries="quick", sessions_root=str(tmp_path / "b"),
                           given=frozenset({"accelerator"})), sensor_set=ss)
