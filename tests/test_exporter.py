"""The Prometheus endpoint: the text it writes (read back by a strict parser of the 0.0.4 format, and by
prometheus_client's when it is installed), unavailable figures absent rather than 0, label escaping, the
HTTP server and its one-line errors, and a real Prometheus on loopback scraping a headless run."""

from __future__ import annotations

import errno
import http.client
import json
import math
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ipwtui.core import events as ev
from ipwtui.core import exporter as ex
from ipwtui.core.record import QueryRecord, apply_server_energy
from ipwtui.core.remote import ServerEnergy
from ipwtui.core.sensors.base import Domain
from ipwtui.core.summary import session_metrics

from servers import LOOPBACK, free_port, loopback_get, start_prometheus, wait_until

REPO = Path(__file__).resolve().parents[1]

# ---- a strict reader of the text format (0.0.4) ---------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? ({VALUE})$")
LABEL_PAIR = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def _unescape(v: str) -> str:
    return re.sub(r"\\([\\\"n])", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_strict(text: str) -> dict[str, dict]:
    """name -> {"type", "help", "samples": {frozenset(labels): value}}; fails on anything the format does
    not allow or that Prometheus would reject (a sample before its TYPE, a family split in two, a
    duplicate series or label, a bad escape, a trailing line without a line feed)."""
    assert text == "" or text.endswith("\n"), "the exposition must end with a line feed"
    fams: dict[str, dict] = {}
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        where = f"line {n}: {line!r}"
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert re.fullmatch(NAME, name), where
            assert name not in fams, f"{where}: family written twice"
            assert re.fullmatch(r"(?:[^\\\n]|\\[\\n])*", doc), f"{where}: bad escape in HELP"
            fams[name] = {"help": _unescape(doc), "type": None, "samples": {}}
            current = name
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == current and fams[name]["type"] is None, f"{where}: TYPE without its HELP before it"
            assert typ in ("counter", "gauge", "summary", "histogram", "untyped"), where
            fams[name]["type"] = typ
        elif line.startswith("#") or not line.strip():
            continue
        else:
            m = SAMPLE.match(line)
            assert m, f"{where}: not a sample line"
            name, inner, value = m.groups()
            assert name == current and fams[name]["type"], f"{where}: sample outside its family"
            labels: dict[str, str] = {}
            pos = 0
            while inner and pos < len(inner):
                lm = LABEL_PAIR.match(inner, pos)
                assert lm, f"{where}: bad label at {inner[pos:]!r}"
                assert lm.group(1) not in labels, f"{where}: label {lm.group(1)} twice"
                labels[lm.group(1)] = _unescape(lm.group(2))
                pos = lm.end()
            key = frozenset(labels.items())
            assert key not in fams[name]["samples"], f"{where}: duplicate series"
            fams[name]["samples"][key] = float(value)
    return fams


def parse(text: str) -> dict[str, dict]:
    """The strict reading, checked against prometheus_client's parser when it is installed."""
    fams = parse_strict(text)
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        return fams
    theirs = {}
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            theirs[(s.name, frozenset(s.labels.items()))] = (f.type, s.value)
    mine = {(name, k): (f["type"], v) for name, f in fams.items() for k, v in f["samples"].items()}
    assert mine.keys() == theirs.keys()
    for k, (typ, v) in mine.items():
        assert theirs[k][0] == typ and (theirs[k][1] == v or (math.isnan(v) and math.isnan(theirs[k][1])))
    return fams


def one(fams: dict, name: str, **labels: str) -> float:
    """The value of the one series of ``name`` whose labels include ``labels``."""
    hits = [v for k, v in fams[name]["samples"].items() if set(labels.items()) <= k]
    assert len(hits) == 1, (name, labels, fams.get(name))
    return hits[0]


def has(fams: dict, name: str, **labels: str) -> bool:
    return name in fams and any(set(labels.items()) <= k for k in fams[name]["samples"])


# ---- a session, fed event by event ------------------------------------------------------------------------

PKG = Domain("cpu-package-0", "cpu", "rapl", "measured", "cpu", True, boundary="cpu-package")
CORE = Domain("cpu-core-0", "cpu", "rapl", "measured", "cpu", True, in_total=False, boundary="cpu-cores")
META = {"id": "2025-01-01-m", "model": {"name": "m-1"}, "backend": "llama.cpp", "where": "local",
        "accelerator": "cpu", "provenance": {"ipwtui": "9.9"}}


def rec(qid: str, status: str = "ok", correct: bool | None = True, energy: float | None = 2.0,
        net: float | None = 1.5, latency: float | None = 0.5, **kw) -> QueryRecord:
    base = dict(query_id=qid, index=0, status=status, correct=correct if status == "ok" else None,
                energy_j=energy, energy_net_j=net, latency_s=latency, output_tokens=10, prompt_tokens=30,
                ttft_s=0.1, decode_tps=25.0, energy_source="rapl" if energy is not None else None,
                energy_quality="measured" if energy is not None else "unavailable",
                energy_boundary="cpu-package" if energy is not None else None, model="m-1", backend="llama.cpp")
    base.update(kw)
    return QueryRecord(**base)


def feed(state: ex.ExporterState, records: list[QueryRecord], meta: dict | None = META, total: int | None = None,
         done: int = 0, domains=(PKG, CORE)) -> list[QueryRecord]:
    """What the runner sends for these records (running metrics after each, as it computes them)."""
    if meta is not None:
        state.session(meta)
    state(ev.Phase("loading"))
    state(ev.SessionStarted(folder="/s/x", segment=0, total=total or len(records), done=done,
                            domains=list(domains), counted_domains=[d.name for d in domains if d.in_total]))
    state(ev.Phase("running"))
    seen: list[QueryRecord] = []
    for r in records:
        state(ev.QueryStarted(index=r.index, total=len(records), query=None, warmup=r.warmup))
        state(ev.Token("x", 0.0, 1))
        if not r.warmup:
            seen.append(r)
        state(ev.QueryFinished(r, session_metrics(seen, ci=False) if not r.warmup else {}))
    return seen


def session_records() -> list[QueryRecord]:
    return [
        rec("w", warmup=True, energy=9.0),
        rec("a", correct=True, energy=2.0, latency=0.5),
        rec("b", correct=False, energy=3.0, latency=1.0),
        rec("c", correct=None, energy=1.25, latency=0.25),  # unscorable
        rec("d", status="skipped", energy=0.5, latency=0.1),
        rec("e", status="error", energy=None, latency=0.2, output_tokens=None),
        rec("f", correct=True, energy=None, latency=0.4, ttft_s=None, decode_tps=None, output_tokens=None,
            prompt_tokens=None),
    ]


def test_nothing_is_exported_before_the_session_is_known():
    state = ex.ExporterState()
    state(ev.Phase("loading"))
    assert state.render() == ""
    assert parse(state.render()) == {}


def test_a_session_reads_back_as_prometheus_reads_it():
    state = ex.ExporterState()
    records = session_records()
    counted = feed(state, records)
    state(ev.IdleMeasured({"cpu-package-0": 1.0, "dram-0": None}, 5.0))
    fams = parse(state.render())

    assert set(fams) <= set(ex.METRICS)
    for name, f in fams.items():
        assert f["type"] == ex.METRICS[name][0] and f["help"] == ex.METRICS[name][1]
        for labels in f["samples"]:
            assert {("session", META["id"]), ("model", "m-1"), ("backend", "llama.cpp")} <= labels, name
    info = dict(next(iter(fams["ipwtui_session_info"]["samples"])))
    assert info == {"session": META["id"], "model": "m-1", "backend": "llama.cpp", "where": "local",
                         "accelerator": "cpu", "version": "9.9", "source": "rapl", "quality": "measured",
                         "boundary": "cpu-package"}  # the nested core domain is not in the energy
    assert one(fams, "ipwtui_session_info") == 1
    phases = {dict(k)["phase"]: v for k, v in fams["ipwtui_phase"]["samples"].items()}
    assert phases["running"] == 1 and sum(phases.values()) == 1

    statuses = Counter(r.status for r in counted)
    for s in ex.STATUSES:
        assert one(fams, "ipwtui_queries_total", status=s) == statuses[s]  # warm-up not in it
    ok = [r for r in counted if r.status == "ok"]
    assert one(fams, "ipwtui_answers_total", verdict="correct") == sum(r.correct is True for r in ok)
    assert one(fams, "ipwtui_answers_total", verdict="wrong") == sum(r.correct is False for r in ok)
    assert one(fams, "ipwtui_answers_total", verdict="unscored") == sum(r.correct is None for r in ok)
    assert one(fams, "ipwtui_output_tokens_total") == sum(r.output_tokens or 0 for r in ok)
    assert one(fams, "ipwtui_prompt_tokens_total") == sum(r.prompt_tokens or 0 for r in ok)
    with_e = [r for r in ok if r.energy_j is not None]
    assert one(fams, "ipwtui_energy_joules_total", quality="measured") == pytest.approx(
        sum(r.energy_j for r in with_e), rel=1e-12)
    assert one(fams, "ipwtui_query_window_seconds_total", quality="measured") == pytest.approx(
        sum(r.latency_s for r in with_e), rel=1e-12)
    assert one(fams, "ipwtui_query_window_seconds_total", quality="unavailable") == pytest.approx(
        sum(r.latency_s for r in ok if r.energy_j is None), rel=1e-12)
    assert one(fams, "ipwtui_queries_done") == len(counted) and one(fams, "ipwtui_queries_planned") == len(records)

    m = session_metrics(counted, ci=False)
    assert m["gross"].ipw is not None and m["net"].ipw is not None
    assert one(fams, "ipwtui_ipw", energy="gross") == m["gross"].ipw
    assert one(fams, "ipwtui_ipw", energy="net") == m["net"].ipw
    assert one(fams, "ipwtui_ipj", energy="gross") == m["gross"].ipj
    assert one(fams, "ipwtui_accuracy_ratio") == m["gross"].accuracy
    assert one(fams, "ipwtui_mean_power_watts", energy="gross") == m["gross"].mean_power_w
    assert one(fams, "ipwtui_queries_with_energy", energy="gross") == len(with_e)
    assert one(fams, "ipwtui_answered_queries") == len(ok)
    assert one(fams, "ipwtui_idle_power_watts", domain="cpu-package-0") == 1.0
    assert not has(fams, "ipwtui_idle_power_watts", domain="dram-0")  # N/A: absent


def test_unavailable_figures_are_absent_never_zero():
    state = ex.ExporterState()
    no_energy = [rec(q, correct=None, energy=None, net=None, output_tokens=None, prompt_tokens=None, ttft_s=None,
                     decode_tps=None) for q in ("a", "b")]
    feed(state, no_energy, domains=())
    fams = parse(state.render())
    for name in ("ipwtui_energy_joules_total", "ipwtui_output_tokens_total", "ipwtui_prompt_tokens_total",
                 "ipwtui_last_query_energy_joules", "ipwtui_last_query_power_watts", "ipwtui_last_query_ttft_seconds",
                 "ipwtui_last_query_decode_tokens_per_second", "ipwtui_accuracy_ratio", "ipwtui_ipw", "ipwtui_ipj",
                 "ipwtui_mean_power_watts", "ipwtui_mean_energy_joules", "ipwtui_idle_power_watts"):
        assert name not in fams, name
        assert "never 0" in ex.METRICS[name][1]  # and the HELP says so
    # counts stay: zero errors is a real zero, and so is "no query has energy"
    assert one(fams, "ipwtui_queries_total", status="error") == 0
    assert one(fams, "ipwtui_queries_with_energy", energy="gross") == 0
    assert one(fams, "ipwtui_last_query_latency_seconds") == 0.5
    assert dict(next(iter(fams["ipwtui_session_info"]["samples"])))["quality"] == "unavailable"

    # gross measured, no idle baseline: the net figures alone are absent
    state = ex.ExporterState()
    feed(state, [rec("a", net=None), rec("b", correct=False, net=None)])
    fams = parse(state.render())
    assert has(fams, "ipwtui_ipw", energy="gross") and not has(fams, "ipwtui_ipw", energy="net")
    assert has(fams, "ipwtui_last_query_energy_joules", energy="gross")
    assert not has(fams, "ipwtui_last_query_energy_joules", energy="net")
    # the last query's figures are the last query's: an N/A one does not leave the previous value behind
    state(ev.QueryFinished(rec("c", energy=None, decode_tps=None), {}))
    fams = parse(state.render())
    assert "ipwtui_last_query_decode_tokens_per_second" not in fams
    assert not has(fams, "ipwtui_last_query_energy_joules", energy="gross")


def test_label_values_and_help_are_escaped():
    weird = 'q"uo\\te\nline'
    state = ex.ExporterState()
    feed(state, [rec("a")], meta=META | {"model": {"name": weird}, "id": 'id "1"'})
    text = state.render()
    assert "\nline" not in text  # no raw line feed inside a label
    fams = parse(text)
    labels = dict(next(iter(fams["ipwtui_session_info"]["samples"])))
    assert labels["model"] == weird and labels["session"] == 'id "1"'
    assert ex.escape_help("a\\b\nc") == "a\\\\b\\nc"
    fam = ex.Family("ipwtui_x", "gauge", 'back\\slash "quoted"\nnext line', [((("a", weird),), 1)])
    back = parse_strict(ex.exposition([fam]))["ipwtui_x"]
    assert back["help"] == 'back\\slash "quoted"\nnext line'


@pytest.mark.parametrize("x", [0.0, 1.0, 0.1, 1e-300, 123456789.123456789, 2.5e17, -3.75, 7, 10**20])
def test_values_read_back_exactly(x):
    text = ex.exposition([ex.Family("ipwtui_v", "gauge", "v", [((), x)])])
    assert parse(text)["ipwtui_v"]["samples"][frozenset()] == x


def test_non_finite_values():
    fam = ex.Family("ipwtui_v", "gauge", "v")
    fam.add((("k", "nan"),), float("nan"))  # NaN is "not a number": absent, like None
    fam.add((("k", "none"),), None)
    fam.add((("k", "inf"),), float("inf"))
    fam.add((("k", "-inf"),), float("-inf"))
    fams = parse(ex.exposition([fam]))
    assert {dict(k)["k"]: v for k, v in fams["ipwtui_v"]["samples"].items()} == {"inf": math.inf, "-inf": -math.inf}


def test_names_follow_prometheus_conventions():
    units = ("joules", "seconds", "watts", "ratio", "second", "info")
    for name, (typ, help_) in ex.METRICS.items():
        assert re.fullmatch(r"ipwtui_[a-z0-9_]+", name), name
        assert typ in (ex.COUNTER, ex.GAUGE)
        assert name.endswith("_total") == (typ == ex.COUNTER), name
        stem = name.removesuffix("_total")
        for u in ("joules", "seconds", "watts"):  # a unit in a name is its last word (before _total)
            if u in stem.split("_"):
                assert stem.endswith(u), name
        assert help_ and "\n" not in help_
    assert ex.METRICS["ipwtui_session_info"][0] == ex.GAUGE
    assert any(n.endswith(u) for n in ex.METRICS for u in units)


def test_the_listener_never_raises_and_counts_what_it_could_not_take():
    state = ex.ExporterState()
    feed(state, [rec("a")])
    state(ev.QueryFinished(None, {}))  # a broken event
    state(object())  # and an unknown one (ignored)
    state.session(None)  # type: ignore[arg-type]
    feed(state, [rec("b")], meta=None)  # still counting afterwards
    fams = parse(state.render())
    assert one(fams, "ipwtui_exporter_listener_errors_total") == 2
    assert one(fams, "ipwtui_queries_total", status="ok") == 2


def test_retries_resume_and_the_end_of_the_run():
    state = ex.ExporterState()
    # a resumed session: 3 queries done in an earlier process; this one retries a query once
    feed(state, [rec("d", status="error", attempt=1), rec("d", attempt=2), rec("e", attempt=1)], total=8, done=3)
    fams = parse(state.render())
    assert one(fams, "ipwtui_queries_done") == 5  # d and e, once each
    assert one(fams, "ipwtui_queries_total", status="error") == 1  # attempts: the retried one counts
    assert one(fams, "ipwtui_queries_total", status="ok") == 2
    assert not state.ended and not state.wait_final_scrape(0)
    state(ev.RunFinished({"queries": {"finished": 5}, "metrics": {}}, "stopped"))
    fams = parse(state.render())
    assert state.ended
    phases = {dict(k)["phase"]: v for k, v in fams["ipwtui_phase"]["samples"].items()}
    assert phases["stopped"] == 1 and sum(phases.values()) == 1


def test_a_remote_session_labels_the_server_energy_and_takes_the_settled_figures_at_the_end():
    state = ex.ExporterState()
    meta = META | {"where": "remote", "backend": "openai",
                   "server_energy": {"name": "prometheus", "quality": "measured-remote", "boundary": "server"}}
    recs = [rec(q, where="remote", correct=c, server_energy_source="prometheus", server_energy_quality="pending")
            for q, c in (("a", True), ("b", False))]
    feed(state, recs, meta=meta)
    fams = parse(state.render())
    info = dict(next(iter(fams["ipwtui_session_info"]["samples"])))
    assert (info["where"], info["source"], info["quality"], info["boundary"]) == \
        ("remote", "prometheus", "measured-remote", "server")
    assert "ipwtui_ipw" not in fams and "ipwtui_energy_joules_total" not in fams  # pending: not known yet
    assert one(fams, "ipwtui_query_window_seconds_total", quality="pending") == 1.0
    for r, j in zip(recs, (40.0, 60.0)):  # the telemetry arrives after the run
        apply_server_energy(r, ServerEnergy(j, "prometheus", "measured-remote", "server"))
    m = session_metrics(recs, ci=False)
    state(ev.RunFinished({"queries": {"finished": 2}, "metrics": {k: v.as_dict() for k, v in m.items()}},
                         "finished"))
    fams = parse(state.render())
    assert one(fams, "ipwtui_ipw", energy="gross") == m["gross"].ipw
    assert not has(fams, "ipwtui_ipw", energy="net")  # a server's net energy is N/A


# ---- the HTTP server ----------------------------------------------------------------------------------


def assert_listenable(port: int) -> None:
    """Nothing listens on the port any more (connections it served may linger in TIME_WAIT, which
    SO_REUSEADDR lets a new listener ignore, as servers do; a listener still there fails the bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOOPBACK, port))
        s.listen()


def test_serves_metrics_over_http_and_frees_the_port_when_closed():
    server = ex.serve(LOOPBACK, 0)
    try:
        feed(server.state, [rec("a")])
        opener_status, body = loopback_get(server.url)
        assert opener_status == 200
        assert one(parse(body.decode()), "ipwtui_queries_total", status="ok") == 1
        status, _ = loopback_get(f"http://{LOOPBACK}:{server.port}/other")
        assert status == 404
        import urllib.request

        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(server.url, timeout=5) as r:
            assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        # the final figures: a scrape after the run ended releases the wait
        assert not server.wait_final_scrape(0)
        loopback_get(server.url)
        assert not server.wait_final_scrape(0)  # not ended yet: that scrape was not the final one
        server.state(ev.RunFinished({}, "finished"))
        # as Prometheus scrapes: one connection kept alive across scrapes
        conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=10)
        for _ in range(2):
            conn.request("GET", ex.PATH)
            resp = conn.getresponse()
            assert resp.status == 200 and parse(resp.read().decode())["ipwtui_phase"]
        assert server.wait_final_scrape(30)
    finally:
        server.close()
    with pytest.raises((OSError, http.client.HTTPException)):  # closed: the kept connection too
        conn.request("GET", ex.PATH)
        conn.getresponse()
    conn.close()
    server.close()  # idempotent
    assert_listenable(server.port)  # free again


def test_a_port_in_use_is_one_line():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ex.ExporterError) as e:
            ex.serve(LOOPBACK, port)
    msg = str(e.value)
    assert "\n" not in msg and f"{LOOPBACK}:{port}" in msg and "in use" in msg


def test_refused_ports_and_bad_ports_are_one_line(monkeypatch):
    def refuse(self):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ex._Server, "server_bind", refuse)
    with pytest.raises(ex.ExporterError, match="permission denied"):
        ex.serve(LOOPBACK, 80)
    monkeypatch.undo()
    with pytest.raises(ex.ExporterError, match="not a port"):
        ex.serve(LOOPBACK, 70000)


# ---- the headless command ---------------------------------------------------------------------------------


def _cli_env(tmp_path) -> dict:
    e = dict(os.environ)
    e.update(IPWTUI_DATA_DIR=str(tmp_path / "data"), IPWTUI_CONFIG_DIR=str(tmp_path / "config"),
             PYTHONPATH=str(REPO) + os.pathsep + e.get("PYTHONPATH", ""), COLUMNS="200")
    e.pop("IPWTUI_SYSFS_ROOT", None)
    return e


def test_run_with_a_port_in_use_fails_before_the_run(tmp_path):
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "ipwtui.cli", "run", "--backend", "fake", "--queries", "quick",
                            "--out", str(tmp_path / "s"), "--metrics-port", str(port)],
                           capture_output=True, text=True, env=_cli_env(tmp_path), cwd=REPO, timeout=120,
                           stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr + p.stdout
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "in use" in lines[0], p.stderr
    assert not (tmp_path / "s").exists()  # nothing was run


def test_run_serves_then_closes(tmp_path, env):
    from ipwtui.cli import main

    port = free_port()
    assert main(["run", "--backend", "fake", "--queries", "quick", "--idle-seconds", "0", "--quiet", "--json",
                 "--out", str(tmp_path / "s"), "--metrics-port", str(port), "--metrics-linger", "0"]) == 0
    assert_listenable(port)  # stopped at the end of the command: the port is free
    assert main(["run", "--backend", "fake", "--metrics-port", str(port), "--metrics-linger", "-1"]) == 1


# ---- a real Prometheus scraping a headless run -----------------------------------------------------------


def _query_file(path: Path) -> Path:
    """Multiple-choice queries that the fake backend (always "(A)") gets right, gets wrong, and ones without
    a reference (unscored): a running IPW that is neither 0 nor N/A."""
    lines = []
    for i in range(36):
        if i % 6 == 5:
            lines.append({"id": f"u{i}", "domain": "open", "kind": "none", "prompt": f"Say something ({i})."})
        else:
            lines.append({"id": f"q{i}", "domain": "mc", "kind": "mc", "prompt": f"Pick one ({i}).",
                          "choices": ["yes", "no"], "answer": "A" if i % 3 else "B"})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def _series(prom, selector: str) -> dict[frozenset, list[tuple[float, float]]]:
    """Raw samples of each series of ``selector`` (labels without job and instance)."""
    data = prom.query(f"{selector}[10m]")
    return {frozenset((k, v) for k, v in s["metric"].items() if k not in ("job", "instance", "__name__")):
            [(float(t), float(v)) for t, v in s["values"]] for s in data["result"]}


def _by(series: dict, label: str) -> dict[str, list[tuple[float, float]]]:
    return {dict(k)[label]: v for k, v in series.items()}


def test_a_real_prometheus_scrapes_a_headless_run(tmp_path):
    from ipwtui.core.session import Session

    port = free_port()
    prom = start_prometheus([f"{LOOPBACK}:{port}"], tmp_path / "prom", scrape_interval_s=1.0)
    out = tmp_path / "session"
    try:
        # Prometheus applies its targets a few seconds after it is ready: once it tries this one (up is 0
        # while nothing listens), it scrapes it every second of the run
        assert prom.wait_scraped("up", count=1), prom.process.log_tail()
        p = subprocess.run([sys.executable, "-m", "ipwtui.cli", "run", "--backend", "fake",
                            "--queries", str(_query_file(tmp_path / "q.jsonl")), "--idle-seconds", "0", "--quiet",
                            "--out", str(out), "--metrics-port", str(port), "--metrics-linger", "60"],
                           capture_output=True, text=True, env=_cli_env(tmp_path), cwd=REPO, timeout=300,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr[-2000:]
        # the run waited for a scrape of its final figures before it exited: Prometheus has them
        assert wait_until(lambda: _by(_series(prom, 'ipwtui_phase{phase="finished"}'), "phase")["finished"][-1][1]
                          == 1, 30), prom.process.log_tail()
        summary = json.loads((out / "summary.json").read_text())
        q, mg = summary["queries"], summary["metrics"]["gross"]

        # counters at the end equal the run's own summary
        status = {k: v[-1][1] for k, v in _by(_series(prom, "ipwtui_queries_total"), "status").items()}
        assert status == {"ok": q["ok"], "skipped": q["skipped"], "error": q["errors"] + q["failed_attempts"]}
        verdict = {k: v[-1][1] for k, v in _by(_series(prom, "ipwtui_answers_total"), "verdict").items()}
        assert verdict == {"correct": mg["n_correct"], "wrong": mg["n_scored"] - mg["n_correct"],
                           "unscored": mg["n_unscored"]}
        assert 0 < mg["n_correct"] < mg["n_scored"] and mg["n_unscored"] > 0
        tokens = list(_series(prom, "ipwtui_output_tokens_total").values())
        assert len(tokens) == 1 and tokens[0][-1][1] == mg["output_tokens"]
        energy = _series(prom, "ipwtui_energy_joules_total")
        assert len(energy) == 1
        labels, samples = next(iter(energy.items()))
        assert dict(labels)["quality"] == summary["energy_quality"]
        assert dict(labels)["source"] == summary["energy_source"]
        assert samples[-1][1] == pytest.approx(mg["total_energy_j"], rel=1e-9)
        for s in list(_series(prom, "ipwtui_queries_total").values()) + [samples]:
            assert all(b[1] >= a[1] for a, b in zip(s, s[1:]))  # counters never go down

        # the running IPW: at the end, the summary's; on the way, each scrape's value is the running figure
        # of the queries answered at that scrape
        ipw = _by(_series(prom, "ipwtui_ipw"), "energy")
        assert mg["ipw"] and ipw["gross"][-1][1] == mg["ipw"]
        assert summary["metrics"]["net"]["ipw"] is None and "net" not in ipw  # N/A: absent, not 0
        answered = dict(next(iter(_series(prom, "ipwtui_answered_queries").values())))
        ok = [r for r in Session.open(out).query_records() if r.status == "ok"]  # journal order
        for t, value in ipw["gross"]:  # the same scrape: the same timestamp
            assert value == session_metrics(ok[:int(answered[t])], ci=False)["gross"].ipw
        info = dict(next(iter(_series(prom, "ipwtui_session_info"))))
        assert (info["session"], info["model"], info["backend"], info["where"]) == \
            (summary["session"], summary["model"]["name"], "fake", "local")
    finally:
        prom.stop()
