"""Sessions side by side (core.compare) and the ``ipwtui compare`` command.

Sessions are written through the real Session API with known records; every expected figure is computed
here from those records (by hand or with plain loops), never read back from the code under test.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import pytest

from ipwtui.core.compare import CompareError, compare, route
from ipwtui.core.record import QueryRecord
from ipwtui.core.session import Session

J_PER_WH = 3600.0


# ---- helpers (test_routing.py uses them too) ----------------------------------------------------------


def rec(qid: str, correct: bool | None, energy: float | None, latency: float = 1.0, *, where: str = "local",
        cost: float | None = None, status: str = "ok", low: float | None = None, high: float | None = None,
        out: int = 10, domain: str = "d", attempt: int = 1, ttft: float | None = 0.1,
        source: str | None = None, boundary: str | None = None, quality: str | None = None,
        client: float | None = 0.5) -> QueryRecord:
    """A query record as the runner writes one. Local: ``energy`` is this machine's (RAPL, CPU package, by
    default); remote: ``energy`` is the server's (a cited estimate, server+datacentre, by default) and
    ``client`` this machine's while it waited."""
    d: dict = dict(query_id=qid, index=int(qid.strip("q").split("-")[0]) if qid.strip("q").isdigit() else 0,
                   attempt=attempt, status=status, correct=correct if status == "ok" else None,
                   latency_s=latency, ttft_s=ttft, output_tokens=out, prompt_tokens=20, domain=domain,
                   where=where, cost_usd=cost, model="m", backend="b", accelerator="cpu")
    if where == "local":
        d.update(energy_j=energy, energy_net_j=None if energy is None else energy * 0.5,
                 energy_quality=quality or ("measured" if energy is not None else "unavailable"),
                 energy_source=source or "rapl", energy_boundary=boundary or "cpu-package",
                 avg_power_w=None if energy is None else energy / latency)
    else:
        d.update(energy_j=client, energy_quality="estimated", energy_source="cpu-time-model",
                 energy_boundary="process-cpu-time", server_energy_j=energy, server_energy_low_j=low,
                 server_energy_high_j=high, server_energy_source=source or "cited:gemini-apps-median",
                 server_energy_quality=quality or ("estimated" if energy is not None else "unavailable"),
                 server_energy_boundary=boundary or "server+datacentre")
    return QueryRecord(**d)


def write_session(folder: Path, records: list[QueryRecord], *, where: str = "local", ids: list[str] | None = None,
                  digests: dict[str, str] | None = None, model: str | None = None, **meta) -> Path:
    """A finished session folder written through Session (session.json, journal.jsonl, power.csv)."""
    ids = ids if ids is not None else list(dict.fromkeys(r.query_id for r in records))
    m = {"id": folder.name, "model": {"name": model or folder.name}, "backend": "openai" if where == "remote"
         else "llama.cpp", "where": where, "accelerator": "cpu", "queries_file": "/data/q.jsonl",
         "query_ids": ids, "query_digests": digests if digests is not None else {i: f"dig-{i}" for i in ids}}
    m.update(meta)
    s = Session.create(folder, m)
    s.begin_segment()
    for r in records:
        s.append(r.to_dict())
    s.close("finished")
    return folder


def local_and_cloud(tmp_path: Path, n: int = 12):
    """A local session (CPU package, measured) and a remote one (cited Gemini median, 0.24 Wh a query with
    its 0.10-0.24 Wh range) on the same n queries."""
    lrecs = [rec(f"q{i}", i % 3 != 0, 10.0 + i, 2.0 + 0.1 * i, out=20 + i, domain="a" if i % 2 else "b",
                 ttft=0.2 + 0.01 * i) for i in range(n)]
    crecs = [rec(f"q{i}", i % 4 != 1, 0.24 * J_PER_WH, 1.0 + 0.05 * i, where="remote", low=0.10 * J_PER_WH,
                 high=0.24 * J_PER_WH, cost=0.001 + 0.0001 * i, out=30, domain="a" if i % 2 else "b")
             for i in range(n)]
    return (write_session(tmp_path / "local", lrecs), write_session(tmp_path / "cloud", crecs, where="remote"),
            lrecs, crecs)


def by_label(c, label):
    return next(f for f in c.figures if f["label"] == label)


# ---- one session's figures --------------------------------------------------------------------------------


def test_every_figure_is_the_records_own(tmp_path):
    lf, cf, lrecs, crecs = local_and_cloud(tmp_path)
    c = compare([lf, cf])
    loc, cl = by_label(c, "local"), by_label(c, "cloud")
    for f, recs, remote in ((loc, lrecs, False), (cl, crecs, True)):
        e = [r.server_energy_j if remote else r.energy_j for r in recs]
        lat = [r.latency_s for r in recs]
        acc = sum(1 for r in recs if r.correct) / len(recs)
        assert f["accuracy"] == pytest.approx(acc)
        assert f["mean_power_w"] == pytest.approx(sum(x / t for x, t in zip(e, lat)) / len(e))
        assert f["ipw"] == pytest.approx(acc / (sum(x / t for x, t in zip(e, lat)) / len(e)))
        assert f["ipj"] == pytest.approx(acc / (sum(e) / len(e)))
        assert f["j_per_query"] == pytest.approx(sum(e) / len(e))
        assert f["j_per_output_token"] == pytest.approx(sum(e) / sum(r.output_tokens for r in recs))
        assert f["latency_mean_s"] == pytest.approx(sum(lat) / len(lat))
        assert f["latency_median_s"] == pytest.approx(statistics.median(lat))
        assert f["ttft_mean_s"] == pytest.approx(sum(r.ttft_s for r in recs) / len(recs))
        for dom in ("a", "b"):
            mine = [r for r in recs if r.domain == dom]
            assert f["per_domain"][dom] == pytest.approx(sum(1 for r in mine if r.correct) / len(mine))
        assert f["queries"]["answered"] == len(recs) and f["query_set"]["n"] == len(recs)
        # the intervals are there and hold the point
        for k in ("ipw", "ipj", "accuracy"):
            lo, hi = f[f"{k}_ci"]
            assert lo <= hi
    assert loc["where"] == "local" and cl["where"] == "remote"
    assert loc["energy"] == {"quality": "measured", "source": "rapl", "boundary": "cpu-package"}
    assert cl["energy"] == {"quality": "estimated", "source": "cited:gemini-apps-median",
                            "boundary": "server+datacentre"}
    # an estimate's range: the mean power's range is the mean of low/latency and of high/latency
    assert cl["energy_range"] is True
    assert cl["mean_power_range_w"] == pytest.approx(
        [sum(360.0 / r.latency_s for r in crecs) / len(crecs), sum(864.0 / r.latency_s for r in crecs) / len(crecs)])
    # cost of the cloud side; none recorded locally: N/A, never 0
    costs = [r.cost_usd for r in crecs]
    n_ok = sum(1 for r in crecs if r.correct)
    assert cl["cost_per_query"] == pytest.approx(sum(costs) / len(costs))
    assert cl["cost_per_correct"] == pytest.approx(sum(costs) / n_ok)
    assert cl["accuracy_per_dollar"] == pytest.approx((n_ok / len(crecs)) / (sum(costs) / len(costs)))
    assert loc["cost_per_query"] is None and loc["accuracy_per_dollar"] is None
    # the client's own energy beside the server's, for the remote session only
    assert "client_energy" not in loc
    assert cl["client_energy"]["j_per_query"] == pytest.approx(0.5)
    assert cl["client_energy"]["quality"] == "estimated" and cl["client_energy"]["boundary"] == "process-cpu-time"
    assert cl["model"] == "cloud" and cl["backend"] == "openai" and cl["query_set"]["file"] == "q.jsonl"


def test_intervals_are_the_core_metrics_ones(tmp_path):
    from ipwtui.core.metrics import compute
    from ipwtui.core.summary import figures

    lf, cf, lrecs, crecs = local_and_cloud(tmp_path)
    c = compare([lf, cf])
    for label, recs in (("local", lrecs), ("cloud", crecs)):
        m = compute(figures(recs, "gross"), energy="gross")
        f = by_label(c, label)
        assert f["ipw_ci"] == pytest.approx(list(m.ipw_ci))
        assert f["ipj_ci"] == pytest.approx(list(m.ipj_ci))
        assert f["accuracy_ci"] == pytest.approx(list(m.accuracy_ci))


def test_last_attempt_counts_and_errors_are_not_in_the_figures(tmp_path):
    recs = [rec("q0", True, 10.0), rec("q1", None, None, status="error"), rec("q1", False, 30.0, attempt=2),
            rec("q2", None, None, status="error"), rec("q3", True, 20.0)]
    a = write_session(tmp_path / "a", recs)
    b = write_session(tmp_path / "b", [rec(f"q{i}", True, 5.0) for i in range(4)])
    f = by_label(compare([a, b]), "a")
    assert f["queries"]["answered"] == 3 and f["queries"]["errors"] == 1 and f["queries"]["finished"] == 4
    assert f["accuracy"] == pytest.approx(2 / 3)
    assert f["j_per_query"] == pytest.approx((10 + 30 + 20) / 3)


def test_a_current_summary_json_is_reused_and_a_stale_one_is_not(tmp_path):
    from ipwtui.core.export import export_session

    lf, cf, lrecs, _ = local_and_cloud(tmp_path)
    fresh = by_label(compare([lf, cf]), "local")
    export_session(lf)
    again = by_label(compare([lf, cf]), "local")
    for k in ("accuracy", "ipw", "ipj", "ipw_ci", "ipj_ci", "mean_power_w", "j_per_query"):
        assert again[k] == pytest.approx(fresh[k])
    # a summary older than the journal is not trusted
    p = lf / "summary.json"
    data = json.loads(p.read_text())
    data["metrics"]["gross"]["ipw"] = 123.0
    p.write_text(json.dumps(data))
    old = time.time() - 3600
    os.utime(p, (old, old))
    assert by_label(compare([lf, cf]), "local")["ipw"] == pytest.approx(fresh["ipw"])
    # nor one that counts other queries than the journal holds
    data["metrics"]["gross"]["n"] = 3
    p.write_text(json.dumps(data))
    assert by_label(compare([lf, cf]), "local")["ipw"] == pytest.approx(fresh["ipw"])


# ---- what cannot be read ------------------------------------------------------------------------------------


def test_unreadable_folders_are_listed_and_the_others_compared(tmp_path):
    lf, cf, _, _ = local_and_cloud(tmp_path)
    (tmp_path / "plain").mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "session.json").write_text("{not json")
    empty = tmp_path / "empty"
    Session.create(empty, {"id": "empty"}).close("failed")
    c = compare([lf, tmp_path / "plain", bad, tmp_path / "missing", empty, cf])
    assert [f["label"] for f in c.figures] == ["local", "cloud"]
    errs = {Path(e["folder"]).name: e["error"] for e in c.errors}
    assert set(errs) == {"plain", "bad", "missing", "empty"}
    assert "not a session folder" in errs["plain"]
    assert "cannot read session" in errs["bad"]
    assert "no such folder" in errs["missing"]
    assert "no query record" in errs["empty"] and "failed" in errs["empty"]
    assert all("\n" not in e for e in errs.values())


def test_fewer_than_two_readable_sessions_is_one_line(tmp_path):
    lf, _, _, _ = local_and_cloud(tmp_path)
    with pytest.raises(CompareError) as ei:
        compare([lf, tmp_path / "missing"])
    assert "two readable sessions" in str(ei.value) and "no such folder" in str(ei.value)
    assert "\n" not in str(ei.value)


# ---- comparability --------------------------------------------------------------------------------------------


def test_differing_query_sets_are_shown_flagged_and_never_ranked(tmp_path):
    a = write_session(tmp_path / "a", [rec(f"q{i}", i % 2 == 0, 10.0) for i in range(6)])
    b = write_session(tmp_path / "b", [rec(f"q{i}", True, 15.0) for i in range(6)])  # IPJ 1/15 > a's 0.5/10
    # c: other ids (two shared, four of its own)
    c_ = write_session(tmp_path / "c", [rec(f"q{i}", True, 1.0) for i in range(4, 10)])
    # d: the same ids as a, but two of them ask something else
    dig = {f"q{i}": f"dig-q{i}" for i in range(6)} | {"q0": "other", "q1": "other"}
    d = write_session(tmp_path / "d", [rec(f"q{i}", True, 1.0) for i in range(6)], digests=dig)
    c = compare([a, b, c_, d])
    f = {x["label"]: x for x in c.figures}
    assert f["a"]["comparable"] and f["b"]["comparable"]
    assert f["a"]["query_set"]["digest"] == f["b"]["query_set"]["digest"] != f["c"]["query_set"]["digest"]
    assert f["c"]["comparable"] is False
    assert "4 queries only here, 4 only there" in f["c"]["comparable_reason"]
    assert f["d"]["comparable"] is False and "2 of them ask something else" in f["d"]["comparable_reason"]
    # shown, but never ranked with the others (c and d have the highest IPW of all)
    assert f["c"]["ipw"] > f["a"]["ipw"] and f["d"]["ipw"] > f["a"]["ipw"]
    assert c.ranking["ipw"] == ["b", "a"] and c.ranking["ipj"] == ["b", "a"]
    assert any("not ranked" in x and "c" in x and "d" in x for x in c.ranking["caveats"])
    assert any(n.startswith("c is not comparable") for n in c.notes)


def test_the_largest_group_is_the_reference(tmp_path):
    odd = write_session(tmp_path / "odd", [rec(f"x{i}", True, 1.0) for i in range(3)])
    a = write_session(tmp_path / "a", [rec(f"q{i}", True, 10.0) for i in range(3)])
    b = write_session(tmp_path / "b", [rec(f"q{i}", False, 10.0) for i in range(3)])
    c = compare([odd, a, b])
    assert [x["comparable"] for x in c.figures] == [False, True, True]


def test_an_unfinished_session_says_its_figures_cover_fewer_queries(tmp_path):
    a = write_session(tmp_path / "a", [rec(f"q{i}", True, 10.0) for i in range(6)])
    b = write_session(tmp_path / "b", [rec(f"q{i}", True, 10.0) for i in range(4)], ids=[f"q{i}" for i in range(6)])
    c = compare([a, b])
    assert by_label(c, "b")["comparable"]
    assert any("b: its figures cover 4 answered queries of the 6 planned" in n for n in c.notes)


# ---- boundaries ----------------------------------------------------------------------------------------------


def test_cpu_package_against_a_cited_datacentre_figure_is_not_like_for_like(tmp_path):
    lf, cf, _, crecs = local_and_cloud(tmp_path)
    c = compare([lf, cf])
    text = " | ".join(c.notes)
    assert "energy boundaries differ" in text and "not like for like" in text
    assert "data centre" in text and "CPU package" in text
    assert "cited:gemini-apps-median-accel" in text  # the like-for-like choice the cited table offers
    assert any("boundaries differ" in x for x in c.ranking["caveats"])
    # taken: the cloud session restated with the accelerator-only figure, 0.10 Wh a query (a constant)
    c2 = compare([lf, cf], like_for_like=True)
    cl = by_label(c2, "cloud")
    assert cl["restated"] == {"from": "cited:gemini-apps-median", "to": "cited:gemini-apps-median-accel"}
    assert cl["energy"]["boundary"] == "server-accelerator"
    assert cl["j_per_query"] == pytest.approx(0.10 * J_PER_WH)
    acc = sum(1 for r in crecs if r.correct) / len(crecs)
    assert cl["ipj"] == pytest.approx(acc / (0.10 * J_PER_WH))
    assert cl["energy_range"] is False
    notes = " | ".join(c2.notes)
    assert "restated like for like" in notes and "the session itself is unchanged" in notes
    assert "closest like-for-like pair" in notes  # CPU package vs accelerators only: close, not identical
    # the folder on disk is untouched
    assert all(r.server_energy_source == "cited:gemini-apps-median" for r in Session.open(cf).query_records())


def test_like_for_like_without_a_counterpart_keeps_the_session_and_says_so(tmp_path):
    a = write_session(tmp_path / "a", [rec(f"q{i}", True, 10.0) for i in range(3)])
    e = write_session(tmp_path / "epoch", [rec(f"q{i}", True, 2.167 * 10, where="remote", source="cited:gpt-4o-epoch")
                                           for i in range(3)], where="remote")
    c = compare([a, e], like_for_like=True)
    f = by_label(c, "epoch")
    assert f["restated"] is None and f["energy"]["source"] == "cited:gpt-4o-epoch"
    assert f["j_per_query"] == pytest.approx(21.67)
    assert any("epoch kept as recorded" in n for n in c.notes)
    assert any("no accelerator-only counterpart of cited:gpt-4o-epoch" in n for n in c.notes)


def test_a_local_gpu_and_a_server_accelerator_are_like_for_like(tmp_path):
    g = write_session(tmp_path / "gpu", [rec(f"q{i}", True, 50.0, source="nvml-counter", boundary="accelerator")
                                         for i in range(4)], accelerator="gpu0")
    s = write_session(tmp_path / "srv", [rec(f"q{i}", True, 80.0, where="remote", source="prometheus",
                                             boundary="server-accelerator", quality="measured-remote")
                                         for i in range(4)], where="remote")
    c = compare([g, s])
    text = " | ".join(c.notes)
    assert "accelerators only" in text and "like for like" in text
    assert "boundaries differ" not in text
    assert not any("boundaries differ" in x for x in c.ranking["caveats"])


def test_an_unstated_boundary_and_a_session_without_energy_say_so(tmp_path):
    a = write_session(tmp_path / "a", [rec(f"q{i}", True, 10.0) for i in range(3)])
    u = write_session(tmp_path / "u", [rec(f"q{i}", True, 1224.0, where="remote", source="cited:chatgpt-avg",
                                           boundary="unstated") for i in range(3)], where="remote")
    n = write_session(tmp_path / "n", [rec(f"q{i}", True, None, where="remote", source="none")
                                       for i in range(3)], where="remote")
    c = compare([a, u, n])
    text = " | ".join(c.notes)
    assert "u: the energy source does not state what it covers" in text
    assert "n has no energy figure (N/A)" in text
    f = by_label(c, "n")
    assert f["ipw"] is None and f["j_per_query"] is None and f["energy"]["quality"] == "unavailable"


# ---- chart -------------------------------------------------------------------------------------------------------


def test_chart_points_and_iso_ipw_lines(tmp_path):
    lf, cf, _, _ = local_and_cloud(tmp_path)
    c = compare([lf, cf])
    ch = c.chart
    pts = {p["label"]: p for p in ch["points"]}
    for label in ("local", "cloud"):
        f = by_label(c, label)
        assert pts[label]["x"] == f["mean_power_w"] and pts[label]["y"] == f["accuracy"]
        assert pts[label]["y_ci"] == f["accuracy_ci"] and pts[label]["ipw"] == f["ipw"]
    assert pts["cloud"]["x_range"] is not None and pts["local"]["x_range"] is None
    ks = [line["ipw"] for line in ch["lines"]]
    assert ks == sorted(ks) and 2 <= len(ks) <= 7
    ipws = [p["ipw"] for p in pts.values()]
    assert ks[0] <= min(ipws) and ks[-1] >= max(ipws)  # the lines span the points
    for line in ch["lines"]:
        (x0, y0), (x1, y1) = line["points"]
        assert y0 == pytest.approx(line["ipw"] * x0) and y1 == pytest.approx(line["ipw"] * x1)
        assert y1 <= 1.0 + 1e-9 and x0 < x1
        assert f"{line['ipw']:e}"[:4] in ("1.00", "2.00", "5.00")  # 1-2-5 values
    assert ch["log_x"] is (max(p["x"] for p in pts.values()) / min(p["x"] for p in pts.values()) > 20)


# ---- route() picks the sides --------------------------------------------------------------------------------


def test_route_uses_the_remote_sessions_or_the_one_named(tmp_path):
    lf, cf, _, _ = local_and_cloud(tmp_path)
    l2 = write_session(tmp_path / "local2", [rec(f"q{i}", True, 100.0) for i in range(12)])
    c = compare([lf, l2, cf])
    r = route(c)
    assert r["note"] is None and len(r["analyses"]) == 1
    assert r["analyses"][0]["cloud"] == "cloud" and r["analyses"][0]["local"] == ["local", "local2"]
    r = route(c, cloud=[str(l2)])
    assert r["analyses"][0]["cloud"] == "local2" and r["analyses"][0]["local"] == ["local"]
    with pytest.raises(CompareError):
        route(c, cloud=[str(tmp_path / "elsewhere")])
    only_local = compare([lf, l2])
    r = route(only_local)
    assert r["analyses"] == [] and "no session is remote" in r["note"]


# ---- the command ------------------------------------------------------------------------------------------------


def run_cli(argv, capsys):
    from ipwtui.cli import main

    code = main(["compare", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_is_one_object_with_compare_and_routing(tmp_path, capsys):
    lf, cf, _, _ = local_and_cloud(tmp_path)
    code, out, err = run_cli([lf, cf, "--json", "--alpha", "0.5,0.9", "--tpr", "0.8", "--fpr", "0.2"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"compare", "routing"}
    assert [s["label"] for s in data["compare"]["sessions"]] == ["local", "cloud"]
    a = data["routing"]["analyses"][0]
    assert [s.get("alpha") for s in a["strategies"] if s["name"] == "router"] == [0.5, 0.9]
    cas = next(s for s in a["strategies"] if s["name"] == "cascade")
    assert cas["tpr"] == 0.8 and cas["fpr"] == 0.2
    assert "NaN" not in out and "Infinity" not in out


def test_cli_tables_mark_estimates_and_escape_user_text(tmp_path, capsys):
    lf, cf, _, _ = local_and_cloud(tmp_path)
    weird = tmp_path / "[red]cloud"
    cf.rename(weird)
    code, out, err = run_cli([lf, weird], capsys)
    assert code == 0, err
    assert "[red]cloud" in out  # printed as written, not taken as markup
    assert "(estimate)" in out and "N/A" in out
    assert "Routing what-if" in out and "reference: the paper's figures" in out
    assert "like-for-like choice" in out


def test_cli_shows_a_losing_cascade(tmp_path, capsys):
    # an expensive local model and a cheap cloud: trying local first costs more than all-cloud
    lf = write_session(tmp_path / "l", [rec(f"q{i}", i % 2 == 0, 100.0, 1.0) for i in range(10)])
    cf = write_session(tmp_path / "c", [rec(f"q{i}", True, 20.0, 1.0, where="remote") for i in range(10)],
                       where="remote")
    code, out, err = run_cli([lf, cf], capsys)
    assert code == 0, err
    assert "LOSES" in out


@pytest.mark.parametrize("extra, words", [
    (["--alpha", "0.6,x"], "--alpha"),
    (["--alpha", "1.5"], "alpha must be a number from 0 to 1"),
    (["--tpr", "2"], "TPR must be a number from 0 to 1"),
    (["--cloud", "nowhere"], "--cloud"),
    (["--tpr", "high"], "--tpr high: not a number"),
    (["--electricity", "-1"], "--electricity must be a finite number >= 0"),
])
def test_cli_bad_input_is_one_line_and_exit_1(tmp_path, capsys, extra, words):
    lf, cf, _, _ = local_and_cloud(tmp_path)
    code, out, err = run_cli([lf, cf, *extra], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and words in err and err.startswith("ipwtui: error:")


def test_cli_with_one_readable_session_is_exit_1(tmp_path, capsys):
    lf, _, _, _ = local_and_cloud(tmp_path)
    code, out, err = run_cli([lf, tmp_path / "nope"], capsys)
    assert code == 1 and err.count("\n") == 1 and "two readable sessions" in err


def test_cli_without_a_cloud_side_says_why_there_is_no_routing(tmp_path, capsys):
    a = write_session(tmp_path / "a", [rec(f"q{i}", True, 10.0) for i in range(3)])
    b = write_session(tmp_path / "b", [rec(f"q{i}", True, 20.0) for i in range(3)])
    code, out, err = run_cli([a, b, "--json"], capsys)
    assert code == 0
    r = json.loads(out)["routing"]
    assert r["analyses"] == [] and "no session is remote" in r["note"]
    code, out, err = run_cli([a, b], capsys)
    assert "no routing what-if" in out


# ---- end to end: a local run and a "cloud" run on a real OpenAI-compatible server -----------------------------


@pytest.mark.model
def test_compare_a_local_run_and_a_cloud_run_end_to_end(tmp_path, llama, capsys):
    """The fake backend locally; llama-cpp-python's own server on loopback as the cloud, its server energy
    the cited GPT-4o estimate (per output token); then ``ipwtui compare`` on both folders."""
    from support import scripted_sensors, write_queries

    from ipwtui.backends.openai import ENGINE
    from ipwtui.core.settings import RunSettings
    from ipwtui.runs import Run, RunRequest

    q = write_queries(tmp_path / "q.jsonl", n=5)
    base = dict(idle_seconds=0, warmup=0, sample_hz=50)
    local = Run(RunRequest(backend="fake", queries=str(q), out=str(tmp_path / "local"),
                           settings=RunSettings(max_tokens=16, **base)),
                sensor_factory=scripted_sensors()).execute()
    name = ENGINE.find_models(settings=RunSettings(base_url=llama.base_url))[0][0].name
    cloud = Run(RunRequest(backend="openai", model=name, queries=str(q), out=str(tmp_path / "cloud"),
                           settings=RunSettings(base_url=llama.base_url, remote_model=name, max_tokens=8, retries=0,
                                                server_energy="cited:gpt-4o-epoch", **base)),
                sensor_factory=scripted_sensors()).execute()
    assert local.status == "finished" and cloud.status == "finished"

    code, out, err = run_cli([local.folder, cloud.folder, "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    loc, cl = data["compare"]["sessions"]
    assert loc["where"] == "local" and loc["backend"] == "fake" and cl["where"] == "remote"
    assert loc["query_set"]["digest"] == cl["query_set"]["digest"] and loc["comparable"] and cl["comparable"]
    assert loc["query_set"]["n"] == cl["query_set"]["n"] == 5
    assert cl["energy"]["source"] == "cited:gpt-4o-epoch" and cl["energy"]["quality"] == "estimated"
    assert cl["energy"]["boundary"] == "server+datacentre" and cl["energy_range"] is True
    assert cl["client_energy"]["queries"] == cl["queries"]["answered"]
    assert loc["energy"]["source"] == "scripted"
    for f in (loc, cl):
        assert f["queries"]["answered"] == 5 and f["j_per_query"] > 0 and f["latency_mean_s"] > 0
    assert any("boundaries differ" in n for n in data["compare"]["notes"])
    routing = data["routing"]
    assert routing["note"] is None and len(routing["analyses"]) == 1
    a = routing["analyses"][0]
    assert a["local"] == ["local"] and a["cloud"] == "cloud"
    assert a["joined"] + sum(a["dropped"].values()) == 5
    assert [s["name"] for s in a["strategies"]] == ["all-cloud", "oracle", "router", "router", "cascade"]
    assert a["reference"]["coverage"] == 0.887
    if a["joined"]:
        assert 0 <= a["coverage"]["local"] <= 1 and a["strategies"][0]["energy_per_query"] > 0

    code, out, err = run_cli([local.folder, cloud.folder], capsys)
    assert code == 0, err
    assert "Sessions compared" in out and "Routing what-if" in out and "(estimate)" in out


def test_a_session_killed_while_running_is_compared_as_interrupted(tmp_path):
    """A kill -9 leaves "running" in session.json; nobody holds its lock, so compare says what it is now."""
    import json as _json

    lf, cf = local_and_cloud(tmp_path)[:2]
    meta = _json.loads((lf / "session.json").read_text())
    meta["status"] = "running"
    (lf / "session.json").write_text(_json.dumps(meta))
    f = {x["label"]: x for x in compare([lf, cf]).figures}
    assert f["local"]["status"] == "interrupted" and f["cloud"]["status"] == "finished"
