"""The routing what-if (core.routing): coverage, all-cloud, oracle, alpha router, cascade, the bootstrap.

Expected values are computed here by hand or with plain per-query loops written from the definitions
(the paper's Sec. 4.3 and the cascade's), independently of the vectorised code under test.
"""

from __future__ import annotations

import json

import pytest

from ipwtui.core.compare import compare, route
from ipwtui.core.routing import PAPER_REFERENCE, RoutingError, Side, what_if

from test_compare import rec, write_session


def side(label, recs, digests=None):
    return Side(label, recs, digests)


def strategy(out, name, **params):
    return next(s for s in out["strategies"] if s["name"] == name and all(s.get(k) == v for k, v in params.items()))


def reference(local, cloud, alpha, tpr, fpr):
    """Per-query loops from the definitions. ``local``: list of lists of (correct, x) per local session,
    ``cloud``: list of (correct, x). Returns totals of x for all-cloud, oracle, router, cascade and their
    accuracies (x is energy, cost or latency)."""
    n = len(cloud)
    base = oracle = router = cascade = 0.0
    acc = {"all-cloud": 0.0, "oracle": 0.0, "router": 0.0, "cascade": 0.0}
    for i in range(n):
        ac, xc = cloud[i]
        right = [(loc[i][1], k) for k, loc in enumerate(local) if loc[i][0]]
        base += xc
        acc["all-cloud"] += ac
        if right:
            xl = min(right)[0]  # the lowest-energy correct local model
            oracle += xl
            router += alpha * xl + (1 - alpha) * xc
            acc["oracle"] += 1
            acc["router"] += alpha * 1 + (1 - alpha) * ac
        else:
            oracle += xc
            router += xc
            acc["oracle"] += ac
            acc["router"] += ac
        reach = 1.0
        for loc in local:  # in the order given: local attempts are paid for, accepted or not
            a, x = loc[i]
            cascade += reach * x
            accept = tpr if a else fpr
            acc["cascade"] += reach * accept * a
            reach *= 1 - accept
        cascade += reach * xc
        acc["cascade"] += reach * ac
    return {"all-cloud": base, "oracle": oracle, "router": router, "cascade": cascade}, \
        {k: v / n for k, v in acc.items()}


# ---- one local session, figures by hand ----------------------------------------------------------------------


def four():
    loc = [rec("q0", True, 10.0, 2.0), rec("q1", True, 20.0, 2.0), rec("q2", False, 30.0, 2.0),
           rec("q3", False, 40.0, 2.0)]
    cl = [rec("q0", True, 100.0, 1.0, where="remote", cost=0.01), rec("q1", False, 100.0, 1.0, where="remote",
                                                                         cost=0.01),
          rec("q2", True, 100.0, 1.0, where="remote", cost=0.01), rec("q3", True, 100.0, 1.0, where="remote",
                                                                        cost=0.01)]
    return loc, cl


def test_coverage_oracle_router_and_cascade_by_hand():
    loc, cl = four()
    out = what_if([side("L", loc)], side("C", cl), alphas=(0.8,), tpr=0.9, fpr=0.1)
    assert out["joined"] == 4 and sum(out["dropped"].values()) == 0
    assert out["coverage"] == {"L": 0.5}
    assert out["best_of_local_coverage"] == 0.5
    assert out["cloud_accuracy"] == 0.75
    base = strategy(out, "all-cloud")
    assert base["energy_per_query"] == pytest.approx(100.0) and base["energy_savings"] == pytest.approx(0.0)
    assert base["accuracy"] == pytest.approx(0.75) and base["local_share"] == 0.0
    # oracle: q0, q1 local (10 + 20), q2, q3 cloud (100 + 100) = 230 of 400
    orc = strategy(out, "oracle")
    assert orc["energy_savings"] == pytest.approx(1 - 230 / 400)
    assert orc["accuracy"] == pytest.approx(1.0) and orc["local_share"] == pytest.approx(0.5)
    # latency: 2 + 2 + 1 + 1 = 6 against 4: slower
    assert orc["latency_savings"] == pytest.approx(1 - 6 / 4)
    assert orc["loses_to_all_cloud"] == {"energy": False, "cost": False, "latency": True}
    # router at 0.8: 0.8 x (10 + 20) + 0.2 x 200 + 200 = 264
    r8 = strategy(out, "router", alpha=0.8)
    assert r8["energy_savings"] == pytest.approx(1 - 264 / 400)
    assert r8["energy_savings"] == pytest.approx(0.8 * orc["energy_savings"])  # the paper's rule
    assert r8["accuracy"] == pytest.approx((1 + (0.8 + 0.2 * 0) + 1 + 1) / 4)
    # cascade: every local attempt (100 J) + rejected share of the cloud: 0.1, 0.1, 0.9, 0.9 x 100 = 200
    cas = strategy(out, "cascade")
    assert cas["energy_per_query"] == pytest.approx(300 / 4)
    assert cas["energy_savings"] == pytest.approx(1 - 300 / 400)
    assert cas["accuracy"] == pytest.approx((0.9 + 0.1 * 1 + 0.9 + 0.1 * 0 + 0.9 * 1 + 0.9 * 1) / 4)
    assert cas["local_share"] == pytest.approx((0.9 + 0.9 + 0.1 + 0.1) / 4)
    # no cost on the local side: cost figures N/A, never 0, and the notes say why
    assert orc["cost_savings"] is None and cas["cost_per_query"] is None
    assert out["figures"]["cost"] == {"queries": 0, "dropped": 4, "without_by_session": {"L": 4}}
    assert any("cost savings are N/A" in n and "local queries have no cost" in n for n in out["notes"])
    # fewer than 10 queries: no intervals, and it says so
    assert orc["energy_savings_ci"] is None and any("at least 10" in n for n in out["notes"])


def test_local_electricity_price_gives_the_cost_figures():
    loc, cl = four()
    usd = 0.36  # 0.36 USD/kWh: J x 1e-7 USD
    out = what_if([side("L", loc)], side("C", cl), alphas=(0.6,), local_electricity_usd_per_kwh=usd)
    local_cost = [e * 1e-7 for e in (10.0, 20.0, 30.0, 40.0)]
    orc = strategy(out, "oracle")
    assert orc["cost_per_query"] == pytest.approx((local_cost[0] + local_cost[1] + 0.02) / 4)
    assert orc["cost_savings"] == pytest.approx(1 - (local_cost[0] + local_cost[1] + 0.02) / 0.04)
    free = what_if([side("L", loc)], side("C", cl), local_electricity_usd_per_kwh=0.0)
    assert strategy(free, "oracle")["cost_savings"] == pytest.approx(0.5)  # the paper's convention: local is free


def test_the_cascade_can_lose_to_all_cloud_and_says_so():
    # cheap cloud (20 J), expensive local (100 J): trying local first costs more than going to the cloud
    loc = [rec(f"q{i}", i % 2 == 0, 100.0) for i in range(10)]
    cl = [rec(f"q{i}", True, 20.0, where="remote") for i in range(10)]
    out = what_if([side("L", loc)], side("C", cl), tpr=0.9, fpr=0.1)
    cas = strategy(out, "cascade")
    totals, _ = reference([[(r.correct, r.energy_j) for r in loc]], [(True, 20.0)] * 10, 0.8, 0.9, 0.1)
    assert cas["energy_savings"] == pytest.approx(1 - totals["cascade"] / 200.0)
    assert cas["energy_savings"] < 0  # shown as a loss, not hidden
    assert cas["loses_to_all_cloud"]["energy"] is True
    assert any("cascade" in n and "LOSES to all-cloud on energy" in n for n in out["notes"])
    # the oracle loses too: it goes local whenever local is right, even where local costs more
    orc = strategy(out, "oracle")
    assert orc["energy_savings"] == pytest.approx(1 - (5 * 100 + 5 * 20) / 200)
    assert orc["loses_to_all_cloud"]["energy"] is True
    # the interval of a sure loss lies below zero
    lo, hi = cas["energy_savings_ci"]
    assert hi < 0


def test_several_local_sessions_against_the_loops():
    # L1 right on q0, q2, q4...; L2 right on q0, q1 and every third; cheapest correct one serves
    n = 15
    l1 = [rec(f"q{i}", i % 2 == 0, 10.0 + i, 2.0) for i in range(n)]
    l2 = [rec(f"q{i}", i in (0, 1) or i % 3 == 0, 5.0 + 3 * i, 1.5) for i in range(n)]
    cl = [rec(f"q{i}", i % 5 != 4, 80.0, 1.0, where="remote") for i in range(n)]
    out = what_if([side("L1", l1), side("L2", l2)], side("C", cl), alphas=(0.6, 0.8), tpr=0.85, fpr=0.2)
    solvable = [l1[i].correct or l2[i].correct for i in range(n)]
    assert out["coverage"]["L1"] == pytest.approx(sum(r.correct for r in l1) / n)
    assert out["coverage"]["L2"] == pytest.approx(sum(r.correct for r in l2) / n)
    assert out["best_of_local_coverage"] == pytest.approx(sum(solvable) / n)
    base = 80.0 * n
    for alpha in (0.6, 0.8):
        totals, accs = reference([[(r.correct, r.energy_j) for r in l] for l in (l1, l2)],
                                 [(r.correct, r.server_energy_j) for r in cl], alpha, 0.85, 0.2)
        assert strategy(out, "router", alpha=alpha)["energy_savings"] == pytest.approx(1 - totals["router"] / base)
        assert strategy(out, "router", alpha=alpha)["accuracy"] == pytest.approx(accs["router"])
    assert strategy(out, "oracle")["energy_savings"] == pytest.approx(1 - totals["oracle"] / base)
    assert strategy(out, "oracle")["accuracy"] == pytest.approx(accs["oracle"])
    assert strategy(out, "cascade")["energy_savings"] == pytest.approx(1 - totals["cascade"] / base)
    assert strategy(out, "cascade")["accuracy"] == pytest.approx(accs["cascade"])
    # q0: both right; L2's 5 J beats L1's 10 J. The oracle's latency follows the same pick.
    lat_oracle = 0.0
    for i in range(n):
        right = [(l[i].energy_j, l[i].latency_s) for l in (l1, l2) if l[i].correct]
        lat_oracle += min(right)[1] if right else 1.0
    assert strategy(out, "oracle")["latency_savings"] == pytest.approx(1 - lat_oracle / n)
    assert out["settings"]["cascade_order"] == ["L1", "L2"]


def test_dropped_queries_are_counted_by_reason():
    loc = [rec("q0", True, 10.0), rec("q1", True, 10.0), rec("q2", True, 10.0),
           rec("q3", None, None, status="error"),  # error on the local side
           rec("q4", True, 10.0),
           rec("q5", None, None, status="error"), rec("q5", True, 12.0, attempt=2),  # retried: the last counts
           rec("q6", True, 10.0), rec("q7", None, None, status="skipped"), rec("q8", True, 10.0),
           rec("q9", True, 10.0)]
    cl = [rec("q0", False, 100.0, where="remote"), rec("q1", True, 100.0, where="remote"),
          rec("q2", None, 100.0, where="remote"),  # unscored on the cloud side
          rec("q3", True, 100.0, where="remote"),
          # q4: missing on the cloud side
          rec("q5", False, 100.0, where="remote"),
          rec("q6", False, None, where="remote"),  # no server energy: out of the energy figures only
          rec("q7", True, 100.0, where="remote"), rec("q8", True, 100.0, where="remote"),
          rec("q9", True, 100.0, where="remote"), rec("q10", True, 100.0, where="remote")]  # q10: not local
    ld = {f"q{i}": f"d{i}" for i in range(11)}
    cd = dict(ld, q9="changed")  # q9 asks something else on the cloud side
    out = what_if([side("L", loc, ld)], side("C", cl, cd))
    assert out["dropped"] == {"missing": 2, "changed": 1, "error": 1, "skipped": 1, "unscored": 1}
    assert out["missing_by_session"] == {"L": 1, "C": 1}
    joined = ["q0", "q1", "q5", "q6", "q8"]
    assert out["joined"] == len(joined)
    assert out["figures"]["energy"] == {"queries": 4, "dropped": 1, "without_by_session": {"C": 1}}
    # accuracy over all five; energy over the four with energy on both sides (q6 never counted as 0)
    # all local right: oracle serves all five locally; cloud right on q1, q8
    assert strategy(out, "all-cloud")["accuracy"] == pytest.approx(2 / 5)
    assert strategy(out, "oracle")["accuracy"] == pytest.approx(1.0)
    assert strategy(out, "oracle")["energy_savings"] == pytest.approx(1 - (10 + 10 + 12 + 10) / 400)
    notes = " | ".join(out["notes"])
    assert "5 queries joined; 6 dropped" in notes
    assert "2 not in every session (L lacks 1, C lacks 1)" in notes
    assert "1 whose query differs" in notes and "1 ended in an error" in notes
    assert "1 skipped" in notes and "1 unscored" in notes
    assert "1 of 5 joined queries have no energy on some side (C 1)" in notes and "never counted as 0" in notes


# ---- the bootstrap -----------------------------------------------------------------------------------------------


def spread(n=40):
    loc = [rec(f"q{i}", i % 3 != 0, 5.0 + (i % 7), 1.0 + 0.1 * (i % 4)) for i in range(n)]
    cl = [rec(f"q{i}", i % 5 != 0, 60.0 + 5 * (i % 3), 0.8, where="remote", cost=0.002) for i in range(n)]
    return loc, cl


def test_intervals_hold_the_point_and_repeat_with_the_seed():
    loc, cl = spread()
    a = what_if([side("L", loc)], side("C", cl))
    b = what_if([side("L", loc)], side("C", cl))
    assert json.dumps(a) == json.dumps(b)  # fixed seed
    for s in a["strategies"]:
        for key in ("accuracy", "energy_savings", "latency_savings"):
            lo, hi = s[f"{key}_ci"]
            assert lo <= s[key] + 1e-9 and s[key] - 1e-9 <= hi
    other = what_if([side("L", loc)], side("C", cl), seed=1)
    assert other["strategies"][1]["energy_savings_ci"] != a["strategies"][1]["energy_savings_ci"]


def test_an_estimate_range_is_one_draw_a_round_for_every_query():
    # every query: local right at 10 J; the cloud a cited 100 J with the range 50-150 J. The oracle's savings
    # are 1 - 10 / (cloud energy): with one draw u of the range a round, shared by all queries, from the
    # triangular distribution whose mode is the central value (here the middle), the interval is that
    # function at the triangular's 2.5 % and 97.5 % points. Drawn per query instead, it would be far narrower.
    def tri(q, m=0.5):  # the triangular distribution's quantile on [0, 1]
        return (q * m) ** 0.5 if q < m else 1 - ((1 - q) * (1 - m)) ** 0.5

    n = 200
    loc = [rec(f"q{i}", True, 10.0) for i in range(n)]
    cl = [rec(f"q{i}", True, 100.0, where="remote", low=50.0, high=150.0) for i in range(n)]
    out = what_if([side("L", loc)], side("C", cl))
    orc = strategy(out, "oracle")
    assert orc["energy_savings"] == pytest.approx(0.9)
    lo, hi = orc["energy_savings_ci"]
    assert lo == pytest.approx(1 - 10 / (50 + 100 * tri(0.025)), abs=0.004)
    assert hi == pytest.approx(1 - 10 / (50 + 100 * tri(0.975)), abs=0.004)
    # without the range every resample gives exactly 0.9
    flat = [rec(f"q{i}", True, 100.0, where="remote") for i in range(n)]
    assert strategy(what_if([side("L", loc)], side("C", flat)), "oracle")["energy_savings_ci"] == \
        pytest.approx([0.9, 0.9])
    assert any("estimate with a range" in x for x in out["notes"])


def test_savings_intervals_reach_their_figure_when_the_cloud_estimate_is_its_range_top():
    """The cloud's cited figure is the top of its range (Gemini's 0.24 Wh within 0.10-0.24): every draw
    gives the cloud less energy, so the oracle's savings interval alone would stop below its own figure."""
    n = 200
    loc = [rec(f"q{i}", True, 10.0) for i in range(n)]
    cl = [rec(f"q{i}", True, 864.0, where="remote", low=360.0, high=864.0) for i in range(n)]
    orc = strategy(what_if([side("L", loc)], side("C", cl)), "oracle")
    lo, hi = orc["energy_savings_ci"]
    assert hi == orc["energy_savings"] == pytest.approx(1 - 10 / 864)
    assert lo == pytest.approx(1 - 10 / (360 + 504 * 0.025 ** 0.5), abs=0.002)  # mode 1: quantile sqrt(q)


def test_accuracy_interval_is_a_resample_of_queries():
    # half the queries right on the cloud: the all-cloud accuracy's interval is about 0.5 +- 1.96 x sqrt(.25/n)
    n = 400
    loc = [rec(f"q{i}", False, 10.0) for i in range(n)]
    cl = [rec(f"q{i}", i % 2 == 0, 100.0, where="remote") for i in range(n)]
    lo, hi = strategy(what_if([side("L", loc)], side("C", cl)), "all-cloud")["accuracy_ci"]
    half = 1.96 * (0.25 / n) ** 0.5
    assert lo == pytest.approx(0.5 - half, abs=0.015) and hi == pytest.approx(0.5 + half, abs=0.015)


# ---- settings and the reference block ------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{"alphas": (1.2,)}, {"alphas": (-0.1,)}, {"tpr": 1.5}, {"fpr": float("nan")},
                                {"alphas": ()}])
def test_bad_settings_are_one_line(kw):
    loc, cl = four()
    with pytest.raises(RoutingError) as ei:
        what_if([side("L", loc)], side("C", cl), **kw)
    assert "\n" not in str(ei.value)


def test_the_papers_figures_are_a_labelled_reference_block():
    loc, cl = four()
    out = what_if([side("L", loc)], side("C", cl))
    ref = out["reference"]
    assert ref is PAPER_REFERENCE
    assert "paper's figures" in ref["label"] and "2511.07885" in ref["label"] and "not this" in ref["label"]
    assert ref["coverage"] == 0.887
    assert ref["savings"]["oracle"] == {"energy": 0.804, "compute": 0.773, "cost": 0.738}
    assert ref["savings"]["router alpha=0.8"]["energy"] == 0.643
    assert ref["savings"]["router alpha=0.6"]["energy"] == 0.484
    # their router figures follow savings(alpha) = alpha x oracle savings, as the reference says
    for alpha in (0.8, 0.6):
        assert ref["savings"][f"router alpha={alpha}"]["energy"] == pytest.approx(alpha * 0.804, abs=0.003)


# ---- from session folders, through compare.route ---------------------------------------------------------------


def test_route_over_folders_matches_what_if_on_the_records(tmp_path):
    loc, cl = spread(20)
    lf = write_session(tmp_path / "local", loc)
    cf = write_session(tmp_path / "cloud", cl, where="remote")
    r = route(compare([lf, cf]), alphas=(0.7,), tpr=0.95, fpr=0.05)
    a = r["analyses"][0]
    direct = what_if([side("local", loc)], side("cloud", cl), alphas=(0.7,), tpr=0.95, fpr=0.05)
    for s, d in zip(a["strategies"], direct["strategies"]):
        assert s == d
    # labels and boundaries travel with the analysis
    assert a["energy_labels"]["cloud"]["boundary"] == "server+datacentre"
    assert any("do not cover the same boundary" in n for n in a["notes"])
    assert any("energy savings are estimates" in n for n in a["notes"])


def test_query_digests_of_any_json_value_are_compared_not_hashed():
    """A session's query digests are whatever its file says: a list where a string belongs is compared, as
    compare's own check does, and never makes the what-if fail."""
    local = [rec(f"q{i}", i % 2 == 0, 10.0) for i in range(12)]
    cloud = [rec(f"q{i}", True, 100.0, where="remote") for i in range(12)]
    ld = {f"q{i}": ["same"] for i in range(12)}
    cd = dict(ld, q3=["other"])
    out = what_if([side("L", local, ld)], side("C", cloud, cd))
    assert out["joined"] == 11 and out["dropped"]["changed"] == 1


def test_sides_that_share_a_label_add_up_their_missing_queries():
    a = [rec(f"q{i}", True, 10.0) for i in range(11, 20)]
    b = [rec(f"q{i}", True, 10.0) for i in range(10, 20)]
    cloud = [rec(f"q{i}", True, 100.0, where="remote") for i in range(12, 20)]
    out = what_if([side("L", a), side("L", b)], side("C", cloud))
    # q10 lacks on the first L and on C, q11 on C: the two L miss 1 together (not the last one's 0), C 2
    assert out["missing_by_session"] == {"L": 1, "C": 2} and out["dropped"]["missing"] == 2


def test_draws_shared_by_a_comparison_give_the_figures_drawn_apart(tmp_path, monkeypatch):
    """compare_and_route() draws the resamples once for the sessions' intervals and the what-if (the same
    number of queries, seed and rounds): every figure is the one the calls apart give without sharing."""
    from ipwtui.core import metrics, routing
    from ipwtui.core.compare import compare_and_route
    from ipwtui.core.summary import session_metrics

    local = [rec(f"q{i}", i % 3 != 0, 10.0 + i % 7, 1.0 + (i % 4) * 0.3) for i in range(60)]
    cloud = [rec(f"q{i}", i % 5 != 0, 100.0, 2.0, where="remote", low=40.0, high=100.0, cost=0.001)
             for i in range(60)]
    a = write_session(tmp_path / "local", local)
    b = write_session(tmp_path / "cloud", cloud, where="remote")

    kept = []
    real = metrics.resampled_sums

    def spy(seed, cols, rounds):
        out = real(seed, cols, rounds)
        memo = metrics._SHARED.get()
        kept.append(None if memo is None else sorted(memo))
        return out

    monkeypatch.setattr(metrics, "resampled_sums", spy)
    monkeypatch.setattr(routing, "resampled_sums", spy)
    c_shared, r_shared = compare_and_route([a, b], local_electricity_usd_per_kwh=0.15)
    assert len(kept) == 3 and kept[-1] == [(0, 60, metrics.BOOTSTRAP_ROUNDS)]  # two sessions, the what-if: one key
    monkeypatch.setattr(metrics, "SHARED_DRAWS_MAX", 0)  # nothing kept: every bootstrap draws its own
    c_apart = compare([a, b])
    r_apart = route(c_apart, local_electricity_usd_per_kwh=0.15)
    assert json.dumps(c_shared.as_dict(), default=str) == json.dumps(c_apart.as_dict(), default=str)
    assert json.dumps(r_shared, default=str) == json.dumps(r_apart, default=str)
    # a session's gross and net intervals share their draws too, and are the ones drawn apart
    monkeypatch.setattr(metrics, "SHARED_DRAWS_MAX", 10**9)
    shared = {k: v.as_dict() for k, v in session_metrics(local).items()}
    monkeypatch.setattr(metrics, "SHARED_DRAWS_MAX", 0)
    assert shared == {k: v.as_dict() for k, v in session_metrics(local).items()}
