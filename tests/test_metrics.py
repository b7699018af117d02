"""IPW and IPJ exactly as the README defines them (What the numbers mean)."""

import pytest

from ipwtui.core.metrics import MIN_QUERIES_FOR_CI, QueryFigures, compute


def q(correct, e, l, tok=10, domain="x", counted=True):
    return QueryFigures(correct=correct, energy_j=e, latency_s=l, output_tokens=tok, domain=domain,
                        counted=counted)


def test_ipw_ipj_by_hand():
    fs = [q(True, 10.0, 2.0), q(False, 30.0, 3.0), q(True, 20.0, 1.0), q(None, 40.0, 4.0)]
    m = compute(fs, ci=False)
    # a = 2 correct / 3 scored; P = 5, 10, 20, 10 -> mean 11.25; E mean = 25
    assert m.accuracy == pytest.approx(2 / 3)
    assert m.n == 4 and m.n_scored == 3 and m.n_unscored == 1
    assert m.mean_power_w == pytest.approx(11.25)
    assert m.mean_energy_j == pytest.approx(25.0)
    assert m.ipw == pytest.approx((2 / 3) / 11.25)
    assert m.ipj == pytest.approx((2 / 3) / 25.0)
    assert m.j_per_output_token == pytest.approx(100.0 / 40)
    assert m.tokens_per_joule == pytest.approx(40 / 100.0)
    assert m.j_per_correct == pytest.approx(50.0)


def test_excluded_queries_are_in_no_figure():
    base = [q(True, 10.0, 2.0), q(False, 10.0, 2.0)]
    extra = [q(True, 1000.0, 1.0, counted=False), q(False, 5.0, 1.0, counted=False)]
    a, b = compute(base, ci=False), compute(base + extra, ci=False)
    assert (a.accuracy, a.ipw, a.ipj, a.mean_power_w) == (b.accuracy, b.ipw, b.ipj, b.mean_power_w)
    assert b.n_excluded == 2


def test_unavailable_energy_is_none_not_zero():
    m = compute([q(True, None, 1.0), q(False, None, 2.0)])
    assert m.accuracy == 0.5
    assert m.ipw is None and m.ipj is None and m.mean_power_w is None and m.total_energy_j is None
    assert any("N/A" in n for n in m.notes)


def test_no_scored_query_gives_na_ipw():
    m = compute([q(None, 10.0, 1.0)], ci=False)
    assert m.accuracy is None and m.ipw is None


def test_nonpositive_net_energy_gives_na():
    m = compute([q(True, -1.0, 1.0), q(True, 0.5, 1.0)], energy="net", ci=False)
    assert m.ipw is None and "not positive" in m.notes[0]


def test_bootstrap_ci_contains_point_and_is_deterministic():
    fs = [q(i % 3 != 0, 10.0 + i, 1.0 + (i % 4) * 0.5, domain="abc"[i % 3]) for i in range(40)]
    m1, m2 = compute(fs, seed=1), compute(fs, seed=1)
    assert m1.ipw_ci == m2.ipw_ci
    lo, hi = m1.ipw_ci
    assert lo < m1.ipw < hi
    lo, hi = m1.ipj_ci
    assert lo < m1.ipj < hi
    assert m1.per_domain["a"].accuracy == 0.0 and m1.per_domain["b"].accuracy == 1.0


def test_ci_needs_enough_queries():
    fs = [q(True, 10.0, 1.0)] * (MIN_QUERIES_FOR_CI - 1)
    assert compute(fs).ipw_ci is None
    fs = [q(i % 2 == 0, 10.0, 1.0) for i in range(MIN_QUERIES_FOR_CI)]
    assert compute(fs).ipw_ci is not None


def test_ci_narrows_with_more_queries():
    small = [q(i % 2 == 0, 10.0 + (i % 5), 1.0) for i in range(20)]
    big = small * 20
    w = lambda m: m.ipw_ci[1] - m.ipw_ci[0]
    assert w(compute(big)) < w(compute(small))


def test_an_interval_reaches_its_estimate_when_the_estimate_is_the_end_of_its_range():
    """Every query answered right, the same cited 0.24 Wh (range 0.10-0.24 Wh): no sampling noise, and every
    draw of the range is at or below the figure, so the percentile interval alone would start above the IPW
    it qualifies; it is widened to reach it."""
    from ipwtui.core.metrics import QueryFigures, compute, reaching

    fs = [QueryFigures(correct=True, energy_j=864.0, latency_s=2.0, counted=True, energy_low_j=360.0,
                       energy_high_j=864.0) for _ in range(400)]
    m = compute(fs, rounds=2000)
    assert m.ipw_ci[0] == m.ipw < m.ipw_ci[1] and m.ipj_ci[0] == m.ipj < m.ipj_ci[1]
    # the top: the range's fraction at the triangular's (mode 1) 2.5 % point, sqrt(0.025)
    assert m.ipj_ci[1] == pytest.approx(1 / (360.0 + 504.0 * 0.025 ** 0.5), rel=0.03)
    assert reaching((1.0, 2.0), 0.5) == (0.5, 2.0) and reaching([1.0, 2.0], 3.0) == [1.0, 3.0]
    assert reaching((1.0, 2.0), 1.5) == (1.0, 2.0) and reaching(None, 1.0) is None and reaching((1, 2), None) == (1, 2)


def test_an_estimate_range_widens_the_interval_and_the_interval_holds_the_estimate():
    from ipwtui.core.metrics import QueryFigures, compute

    # a cited per-query median at the top of its range (0.24 Wh within 0.10-0.24 Wh): every round draws one
    # point of the range for all queries, from a triangular distribution whose mode is the median
    def fig(i, ranged):
        return QueryFigures(correct=i % 4 != 0, energy_j=864.0, latency_s=2.0, counted=True,
                            energy_low_j=360.0 if ranged else None, energy_high_j=864.0 if ranged else None)

    flat = compute([fig(i, False) for i in range(40)], rounds=2000)
    ranged = compute([fig(i, True) for i in range(40)], rounds=2000)
    assert ranged.ipj == flat.ipj  # the figure itself is the central estimate's
    assert ranged.ipj_ci[0] <= ranged.ipj <= ranged.ipj_ci[1]
    assert ranged.ipj_ci[1] > flat.ipj_ci[1] * 1.3  # the range reaches down to 360 J: IPJ up to 2.4x
    assert ranged.energy_range and not flat.energy_range


def test_the_accuracy_interval_is_over_every_scored_query_with_energy_or_not():
    """A remote session in the net view has no energy at all (the server's idle power is unknown), and a
    sensor that died leaves some queries without: the accuracy still covers every scored query, and so does
    its interval (Binomial(n, k/n) resampling), which holds the accuracy itself."""
    none = [q(i % 3 == 0, None, 1.0) for i in range(30)]
    m = compute(none)
    assert m.n_with_energy == 0 and m.ipw is None and m.accuracy == pytest.approx(1 / 3)
    lo, hi = m.accuracy_ci
    assert lo < m.accuracy < hi and 0.1 < lo and hi < 0.6
    # half without energy, all of those right; the half with energy all wrong: the interval is the accuracy's
    half = [q(True, None, 1.0) for _ in range(20)] + [q(False, 10.0, 1.0) for _ in range(20)]
    m = compute(half)
    assert m.accuracy == 0.5 and m.accuracy_with_energy == 0.0
    assert m.accuracy_ci[0] < 0.5 < m.accuracy_ci[1]
    assert compute(none[: MIN_QUERIES_FOR_CI - 1]).accuracy_ci is None  # too few for any interval


# ---- the resampling under every interval (core.metrics.resampled_sums) ---------------------------------


def _cols(n):
    import numpy as np

    rng = np.random.default_rng(7)
    return np.stack([np.ones(n), (np.arange(n) == 0).astype(float), rng.uniform(1.0, 50.0, n)], axis=1)


def test_a_resample_draws_every_query_once_on_average_and_n_in_all():
    import numpy as np

    from ipwtui.core.metrics import resampled_sums

    n, rounds = 300, 2000
    sums = resampled_sums(3, _cols(n), rounds)
    assert sums.shape == (rounds, 3)
    assert np.all(sums[:, 0] == n)  # each round is n draws with replacement
    # query 0 is drawn once a round on average (Binomial(n, 1/n): sd 1 a round, 0.022 over 2000 rounds)
    assert abs(sums[:, 1].mean() - 1.0) < 0.15
    assert 0 < sums[:, 1].min() or sums[:, 1].max() > 1  # counts vary: a resample, not the sample itself
    # the sum of a figure over a resample has the sample's sum as its mean
    assert sums[:, 2].mean() == pytest.approx(_cols(n)[:, 2].sum(), rel=0.01)


def test_the_intervals_are_the_same_drawn_side_by_side_or_one_after_the_other(monkeypatch):
    """The rounds are drawn as a fixed number of seeded streams: whether the machine runs them on two cores
    or one changes nothing in the figures."""
    import numpy as np

    from ipwtui.core import metrics

    cols = _cols(4000)
    monkeypatch.setattr(metrics, "usable_cores", lambda: 2)
    monkeypatch.setattr(metrics, "PARALLEL_FROM", 0)
    side_by_side = metrics.resampled_sums(5, cols, 1000)
    monkeypatch.setattr(metrics, "PARALLEL_FROM", 10**18)
    one_thread = metrics.resampled_sums(5, cols, 1000)
    monkeypatch.setattr(metrics, "RESAMPLE_CHUNK", 4000 * 7)  # another chunking, the same draws
    chunked = metrics.resampled_sums(5, cols, 1000)
    assert np.array_equal(side_by_side, one_thread)
    assert np.allclose(chunked, one_thread, rtol=1e-12)
    assert not np.array_equal(metrics.resampled_sums(6, cols, 1000), one_thread)  # the seed matters


def test_a_failure_in_a_stream_drawn_beside_is_raised_in_the_caller(monkeypatch):
    from ipwtui.core import metrics

    calls = []

    def draw(rng, dest):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("no room for the counts")

    with pytest.raises(MemoryError, match="no room"):
        metrics._side_by_side(draw, [(None, None), (None, None)])


def test_the_bootstrap_leaves_the_blas_threads_as_it_found_them():
    import numpy  # noqa: F401  (its BLAS loaded before the count)

    threadpoolctl = pytest.importorskip("threadpoolctl")
    from ipwtui.core.metrics import resampled_sums

    from ipwtui.core.metrics import _one_blas_thread

    before = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()]
    with _one_blas_thread():  # while a bootstrap multiplies: one thread
        assert all(i["num_threads"] == 1 for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")
    resampled_sums(1, _cols(2000), 600)
    assert [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()] == before

