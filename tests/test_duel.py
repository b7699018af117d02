"""A duel: each query to two targets, the first side alternating, each side in its own session."""

import json

import pytest
from support import fake_backend_factory, scripted_sensors, write_queries

from ipwtui.cli import main
from ipwtui.core import events as ev
from ipwtui.core.session import Session
from ipwtui.core.settings import RunSettings
from ipwtui.runs import Duel, RunError, RunRequest


def requests(tmp_path, n=6, **kw):
    q = write_queries(tmp_path / "q.jsonl", n=n)
    s = RunSettings(idle_seconds=0.3, warmup=1, sample_hz=50, max_tokens=40, **kw)
    return (RunRequest(backend="fake", queries=str(q), settings=s, sessions_root=str(tmp_path / "sessions")),
            RunRequest(backend="fake", queries=str(q), settings=s, sessions_root=str(tmp_path / "sessions")))


def test_each_query_goes_to_both_sides_the_first_side_alternating(tmp_path):
    a, b = requests(tmp_path)
    seen = []
    duel = Duel(a, b, listener=lambda side, e: seen.append((side, e)), sensor_factory=scripted_sensors(),
                backend_factory=fake_backend_factory(8, 400.0))
    out = duel.execute()
    assert out.status == "finished"
    sa, sb = (Session.open(out.sides[s].folder) for s in ("A", "B"))
    assert sa.folder != sb.folder
    assert sa.meta["duel"]["partner"] == str(sb.folder) and sb.meta["duel"]["partner"] == str(sa.folder)
    ra = {r.query_id: r for r in sa.query_records()}
    rb = {r.query_id: r for r in sb.query_records()}
    assert sorted(ra) == sorted(rb) == [f"q{i}" for i in range(6)]
    for i in range(6):  # side A first on even queries, side B first on odd ones; one after the other
        first, second = (ra, rb) if i % 2 == 0 else (rb, ra)
        assert first[f"q{i}"].wall_done <= second[f"q{i}"].wall_sent
        assert ra[f"q{i}"].index == rb[f"q{i}"].index == i
    # one idle baseline, measured once, in both sessions
    ia = [r for r in sa.read_journal() if r.get("type") == "idle"]
    ib = [r for r in sb.read_journal() if r.get("type") == "idle"]
    assert len(ia) == len(ib) == 1 and ia[0]["idle_w"] == ib[0]["idle_w"]
    # both sides' power samples in both sessions (one sampler)
    assert len(sa.read_power()) == len(sb.read_power()) > 10
    # each side keeps its own bookkeeping: its counted windows are its own queries'; the other side's windows
    # (on the same sensors) are charged as the partner's, not as this session's unattributed energy
    segs = {}
    for side, s, recs in (("A", sa, ra), ("B", sb, rb)):
        seg = segs[side] = [r for r in s.read_journal() if r.get("type") == "segment"][-1]
        assert seg["counted_j"] == pytest.approx(sum(r.energy_j for r in recs.values()))
        parts = seg["counted_j"] + seg["excluded_j"] + seg["partner_j"] + seg["unattributed_j"]
        assert parts == pytest.approx(seg["total_j"])
    for me, other in (("A", "B"), ("B", "A")):
        assert segs[me]["partner_j"] == pytest.approx(segs[other]["counted_j"] + segs[other]["excluded_j"])
        assert segs[me]["partner"] == str((sb if me == "A" else sa).folder)
        # what is left between the windows is small next to them (the gaps, the bookkeeping)
        assert 0 <= segs[me]["unattributed_j"] < 0.5 * (segs[me]["counted_j"] + segs[me]["partner_j"])
    # the events came tagged with their side, a QueryFinished per answered query on each side (+ warm-up)
    finished = [(side, e.record.query_id) for side, e in seen if isinstance(e, ev.QueryFinished)]
    assert sum(1 for s, _ in finished if s == "A") == sum(1 for s, _ in finished if s == "B") == 7


def test_stopping_a_duel_stops_both_sides_and_keeps_every_finished_query(tmp_path):
    a, b = requests(tmp_path, n=8)
    duel = None

    def listener(side, e):
        if isinstance(e, ev.QueryFinished) and side == "B" and e.record.query_id == "q2":
            duel.stop()

    duel = Duel(a, b, listener=listener, sensor_factory=scripted_sensors(),
                backend_factory=fake_backend_factory(8, 400.0))
    out = duel.execute()
    assert out.status == "stopped"
    for side in ("A", "B"):
        s = Session.open(out.sides[side].folder)
        assert s.meta["status"] == "interrupted"
        assert 2 <= len(s.done_ids()) < 8


def test_a_duel_refuses_a_resume(tmp_path):
    a, b = requests(tmp_path)
    a.resume = str(tmp_path / "x")
    with pytest.raises(RunError, match="resume each side"):
        Duel(a, b, sensor_factory=scripted_sensors()).execute()


@pytest.mark.model
def test_local_against_a_real_server_then_the_comparison_and_the_what_if(tmp_path, llama, capsys, monkeypatch):
    monkeypatch.setenv("IPWTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IPWTUI_CONFIG_DIR", str(tmp_path / "config"))
    q = write_queries(tmp_path / "q.jsonl", n=4)
    code = main(["duel", "--a", "fake", "--b", "openai", "--b-model", str(llama.model_path), "--b-base-url", llama.base_url,
                 "--queries", str(q), "--idle-seconds", "0", "--warmup", "0", "--max-tokens", "8",
                 "--server-energy", "cited:gpt-4o-epoch", "--out", str(tmp_path / "sessions"), "--json", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    sessions = data["compare"]["sessions"]
    assert [s["where"] for s in sessions] == ["local", "remote"]
    cloud = sessions[1]
    assert cloud["energy"]["quality"] == "estimated" and cloud["energy"]["source"].startswith("cited:")
    analyses = data["routing"]["analyses"]
    assert len(analyses) == 1 and {s["name"] for s in analyses[0]["strategies"]} >= {"oracle", "all-cloud"}


def test_a_side_that_cannot_start_leaves_no_empty_session_of_the_other(tmp_path):
    """Side B's server does not answer: the duel is refused in one line, and side A's session, made a moment
    before and holding nothing, is removed (no empty session left in the list)."""
    import socket

    a, _ = requests(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    b = RunRequest(backend="openai", model="m", queries=a.queries, sessions_root=a.sessions_root,
                   settings=a.settings.replace(base_url=f"http://127.0.0.1:{port}/v1", connect_timeout_s=2))
    duel = Duel(a, b, sensor_factory=scripted_sensors(), backend_factory=fake_backend_factory(8, 400.0))
    with pytest.raises(RunError):
        duel.execute()
    root = tmp_path / "sessions"
    assert not root.exists() or list(root.iterdir()) == []


def test_the_duel_command_writes_each_sides_files_as_a_run_does(tmp_path, capsys, env):
    q = write_queries(tmp_path / "q.jsonl", n=3)
    code = main(["duel", "--a", "fake", "--b", "fake", "--queries", str(q), "--idle-seconds", "0", "--warmup", "0",
                 "--max-tokens", "8", "--out", str(tmp_path / "sessions"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    folders = sorted(p for p in (tmp_path / "sessions").iterdir())
    assert len(folders) == 2
    for f in folders:
        assert {"queries.csv", "samples.csv", "summary.json", "report.md"} <= {p.name for p in f.iterdir()}
        assert f"{f} (queries.csv, samples.csv, summary.json, report.md)" in captured.out.replace("\n", "")
