"""IPW, IPJ and everything derived from per-query records: the one module that computes them.

Definitions (docs/architecture.md and README.md, "What the numbers mean"), for the queries i that were measured (not warm-up, not skipped, no error):
  a   = correct / scored          (unscorable answers are counted, not in the denominator)
  P_i = E_i / L_i                 (mean power of the query's window)
  IPW = a / mean_i(P_i)           IPJ = a / mean_i(E_i)
with E_i gross or net of the idle baseline, and a 95 % bootstrap interval that resamples queries.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import cast

import msgspec

from .contention import usable_cores

MIN_QUERIES_FOR_CI = 10
BOOTSTRAP_ROUNDS = 2000


class QueryFigures(msgspec.Struct, frozen=True, gc=False):
    """What metrics need from one query record. (A Struct: a session's tens of thousands are made in a
    fraction of the time frozen dataclasses take.)"""

    correct: bool | None
    energy_j: float | None  # gross or net, as chosen
    latency_s: float | None
    output_tokens: int | None = None
    domain: str = ""
    counted: bool = True  # False for warm-up, skipped and errored queries
    prompt_tokens: int | None = None
    prefill_j: float | None = None  # [sent, first token]
    decode_j: float | None = None  # [first token, done]
    energy_low_j: float | None = None  # an estimate's range, where it has one
    energy_high_j: float | None = None
    contended: bool = False
    cost_usd: float | None = None


@dataclass
class DomainAccuracy:
    n: int = 0
    scored: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None


@dataclass
class Metrics:
    energy: str  # "gross" or "net"
    n: int = 0  # counted queries
    n_scored: int = 0
    n_correct: int = 0
    n_unscored: int = 0
    n_excluded: int = 0  # skipped or errored
    n_with_energy: int = 0
    accuracy: float | None = None
    mean_power_w: float | None = None
    mean_energy_j: float | None = None
    total_energy_j: float | None = None
    ipw: float | None = None
    ipj: float | None = None
    ipw_ci: tuple[float, float] | None = None
    ipj_ci: tuple[float, float] | None = None
    accuracy_ci: tuple[float, float] | None = None
    j_per_output_token: float | None = None
    j_per_correct: float | None = None
    tokens_per_joule: float | None = None
    prefill_j_per_prompt_token: float | None = None  # prefill energy / prompt tokens
    decode_j_per_output_token: float | None = None  # decode energy / output tokens
    n_split: int = 0  # queries with the prefill/decode split
    n_contended: int = 0  # counted windows during which other processes took a large share of the CPU
    energy_range: bool = False  # the energies are estimates with a range, carried into the intervals
    ipw_range: tuple[float, float] | None = None  # IPW and IPJ at the two ends of the estimate's range
    ipj_range: tuple[float, float] | None = None
    accuracy_with_energy: float | None = None  # the accuracy IPW and IPJ use: of the queries with energy
    n_with_cost: int = 0
    cost_usd: float | None = None  # total over the queries with a cost
    cost_per_query: float | None = None
    cost_per_correct: float | None = None
    accuracy_per_dollar: float | None = None
    output_tokens: int = 0
    notes: list[str] = field(default_factory=list)
    per_domain: dict[str, DomainAccuracy] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["per_domain"] = {k: {"n": v.n, "scored": v.scored, "correct": v.correct, "accuracy": v.accuracy}
                           for k, v in self.per_domain.items()}
        for k in ("ipw_ci", "ipj_ci", "accuracy_ci", "ipw_range", "ipj_range"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d


def compute(figures: list[QueryFigures], energy: str = "gross", ci: bool = True,
            rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> Metrics:
    """All session figures from per-query figures. Unavailable figures stay None, never 0."""
    m = Metrics(energy=energy)
    counted = [f for f in figures if f.counted]
    m.n_excluded = len(figures) - len(counted)
    m.n = len(counted)
    for f in counted:
        d = m.per_domain.setdefault(f.domain or "-", DomainAccuracy())
        d.n += 1
        if f.correct is not None:
            d.scored += 1
            d.correct += int(f.correct)
    scored = [f for f in counted if f.correct is not None]
    m.n_scored = len(scored)
    m.n_correct = sum(1 for f in scored if f.correct)
    m.n_unscored = m.n - m.n_scored
    if m.n_scored:
        m.accuracy = m.n_correct / m.n_scored
    m.output_tokens = sum(f.output_tokens or 0 for f in counted)
    m.n_contended = sum(1 for f in counted if f.contended)
    _costs(m, counted)

    measured = [f for f in counted if f.energy_j is not None and f.latency_s and f.latency_s > 0]
    m.n_with_energy = len(measured)
    if len(measured) < m.n:
        m.notes.append(f"{m.n - len(measured)} counted queries have no energy (N/A)")
        if ci and m.n >= MIN_QUERIES_FOR_CI and m.n_scored:
            # the accuracy is over every scored query, with energy or not: so is its interval (the joint
            # bootstrap below covers only the queries with energy)
            m.accuracy_ci = reaching(_accuracy_interval(m.n_scored, m.n_correct, rounds, seed), m.accuracy)
    if not measured:
        return m
    energies = [cast(float, f.energy_j) for f in measured]
    powers = [cast(float, f.energy_j) / cast(float, f.latency_s) for f in measured]
    m.total_energy_j = sum(energies)
    m.mean_energy_j = m.total_energy_j / len(energies)
    m.mean_power_w = sum(powers) / len(powers)
    tok = sum(f.output_tokens or 0 for f in measured)
    if m.total_energy_j > 0:
        if tok:
            m.j_per_output_token = m.total_energy_j / tok
            m.tokens_per_joule = tok / m.total_energy_j
        n_correct_measured = sum(1 for f in measured if f.correct)
        if n_correct_measured:
            m.j_per_correct = m.total_energy_j / n_correct_measured
    split = [f for f in measured if f.prefill_j is not None and f.decode_j is not None]
    m.n_split = len(split)
    ptok = sum(f.prompt_tokens or 0 for f in split)
    otok = sum(f.output_tokens or 0 for f in split)
    if ptok:
        m.prefill_j_per_prompt_token = sum(cast(float, f.prefill_j) for f in split) / ptok
    if otok:
        m.decode_j_per_output_token = sum(cast(float, f.decode_j) for f in split) / otok
    m.energy_range = any(f.energy_low_j is not None and f.energy_high_j is not None for f in measured)
    acc_measured = _accuracy(measured)
    m.accuracy_with_energy = acc_measured
    if acc_measured is None:
        m.notes.append("no scored query: IPW and IPJ are N/A")
        return m
    if m.mean_power_w <= 0 or m.mean_energy_j <= 0:
        m.notes.append(f"mean {energy} energy is not positive: IPW and IPJ are N/A")
        return m
    m.ipw = acc_measured / m.mean_power_w
    m.ipj = acc_measured / m.mean_energy_j
    if m.energy_range:  # an estimate's two ends, shared by every query (its error is not independent)
        lo = [f.energy_low_j if f.energy_low_j is not None else cast(float, f.energy_j) for f in measured]
        hi = [f.energy_high_j if f.energy_high_j is not None else cast(float, f.energy_j) for f in measured]
        lat = [cast(float, f.latency_s) for f in measured]
        if min(lo) > 0:
            n_m = len(measured)
            m.ipj_range = (acc_measured / (sum(hi) / n_m), acc_measured / (sum(lo) / n_m))
            m.ipw_range = (acc_measured / (sum(h / t for h, t in zip(hi, lat)) / n_m),
                           acc_measured / (sum(x / t for x, t in zip(lo, lat)) / n_m))
    if ci and len(measured) >= MIN_QUERIES_FOR_CI:
        ipw_ci, ipj_ci, acc_ci = _bootstrap(measured, rounds, seed)
        m.ipw_ci, m.ipj_ci = reaching(ipw_ci, m.ipw), reaching(ipj_ci, m.ipj)
        if len(measured) == m.n:  # the same queries as the accuracy's (else its interval is set above)
            m.accuracy_ci = reaching(acc_ci, acc_measured)
    elif ci:
        m.notes.append(f"confidence intervals need at least {MIN_QUERIES_FOR_CI} measured queries")
    return m


def _costs(m: Metrics, counted: list[QueryFigures]) -> None:
    """Cost per query, per correct answer and accuracy per dollar, over the queries with a cost."""
    priced = [f for f in counted if f.cost_usd is not None]
    m.n_with_cost = len(priced)
    if not priced:
        return
    total = sum(cast(float, f.cost_usd) for f in priced)
    m.cost_usd = total
    m.cost_per_query = total / len(priced)
    correct = sum(1 for f in priced if f.correct)
    if correct:
        m.cost_per_correct = total / correct
    acc = _accuracy(priced)
    if acc is not None and total > 0:
        m.accuracy_per_dollar = acc / m.cost_per_query


def range_mode(x, lo, hi) -> float:
    """Where an estimate's central value sits in its range, 0 (low) to 1 (high): the mode of the
    triangular distribution a bootstrap draws the range fraction from, so that the interval is centred
    on the estimate (a cited median at the top of its range gives an interval reaching below it, not one
    that misses it). 0.5 when no query has a range."""
    import numpy as np

    x, lo, hi = (np.asarray(v, dtype=float) for v in (x, lo, hi))
    ok = hi > lo
    if not ok.any():
        return 0.5
    return float(np.clip(np.median((x[ok] - lo[ok]) / (hi[ok] - lo[ok])), 0.0, 1.0))


def reaching(interval, point):
    """A bootstrap interval widened, where needed, to reach its own point figure. A percentile interval
    stops short of an estimate that sits at an end of its range (a cited median that is the top of its
    boundary spread: every draw is at or below it, and the top 2.5 % are cut off), which would show an
    interval that misses the figure it qualifies; the wider interval is the honest one."""
    if interval is None or point is None:
        return interval
    lo, hi = interval
    widened = (min(lo, point), max(hi, point))
    return type(interval)(widened) if isinstance(interval, list) else widened


def range_fractions(u, mode: float):
    """Uniform draws ``u`` (0..1) mapped to range fractions from the triangular distribution on [0, 1]
    whose mode is ``mode`` (its inverse distribution function)."""
    import numpy as np

    u = np.asarray(u, dtype=float)
    return np.where(u < mode, np.sqrt(u * mode), 1.0 - np.sqrt((1.0 - u) * (1.0 - mode)))


def _accuracy_interval(n: int, k: int, rounds: int, seed: int) -> tuple[float, float]:
    """95 % percentile interval of the accuracy of ``k`` right of ``n`` scored queries, resampled with
    replacement: a resample's count of right answers is Binomial(n, k / n), drawn as such."""
    import numpy as np

    draws = np.random.default_rng(seed).binomial(n, k / n, size=rounds) / n
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return float(lo), float(hi)


def _accuracy(fs: list[QueryFigures]) -> float | None:
    s = [f for f in fs if f.correct is not None]
    return sum(1 for f in s if f.correct) / len(s) if s else None


RESAMPLE_CHUNK = 500_000  # draws held at once: small enough to stay in the cache (faster than one big chunk)
# The rounds are drawn as this many independent streams of the seed. The number is fixed, so the figures do
# not depend on the machine; where there is more than one core the streams are drawn side by side.
RESAMPLE_STREAMS = 2
PARALLEL_FROM = 1_000_000  # draws below which one thread does it all (a thread costs more than it saves)


SHARED_DRAWS_MAX = 32_000_000  # counts kept by shared_draws() (bytes, one a query a round): up to 16,000 queries


def resampled_sums(seed: int, cols, rounds: int):
    """Bootstrap rounds over the rows of ``cols`` (n queries, m figures): the (rounds, m) column sums of
    the resamples. A resample is a vector of counts c (how often each query was drawn), so its sums are
    c . cols, one matrix product for a chunk of rounds; the chunks keep memory bounded on long sessions.
    The draws come from streams spawned from ``seed`` (a caller that draws more uses ``seed`` itself); inside
    ``shared_draws()`` they are made once for each (seed, n, rounds)."""
    import numpy as np

    n, m = cols.shape
    out = np.empty((rounds, m))
    streams = np.random.SeedSequence(seed).spawn(RESAMPLE_STREAMS)
    bounds = [rounds * i // RESAMPLE_STREAMS for i in range(RESAMPLE_STREAMS + 1)]
    memo = _SHARED.get()
    key = (seed, n, rounds)
    kept = memo.get(key) if memo is not None else None
    keep = None
    if kept is None and memo is not None and 0 < n * rounds <= SHARED_DRAWS_MAX:
        keep = np.empty((rounds, n), dtype=np.uint8)
    parts = [(np.random.default_rng(st), a, b) for st, a, b in zip(streams, bounds, bounds[1:])]
    too_many: list[bool] = []  # a query drawn over 255 times in a round: the counts are not kept

    def draw(rng, a: int, b: int) -> None:
        chunk = max(1, min(b - a, RESAMPLE_CHUNK // max(n, 1)))
        counts = np.empty((chunk, n))  # one buffer for every chunk (a new one each time costs twice as much)
        offsets = (np.arange(chunk, dtype=np.int64) * n)[:, None]
        done = a
        while done < b:
            k = min(chunk, b - done)
            if kept is not None:  # the same draws, made by an earlier bootstrap of this block
                np.copyto(counts[:k], kept[done:done + k])
            else:
                # int64 draws: bincount takes them without a copy
                idx = rng.integers(0, n, size=(k, n), dtype=np.int64)
                idx += offsets[:k]
                c = np.bincount(idx.ravel(), minlength=k * n).reshape(k, n)
                np.copyto(counts[:k], c)
                if keep is not None:
                    if c.max(initial=0) > 255:
                        too_many.append(True)
                    else:
                        np.copyto(keep[done:done + k], c, casting="unsafe")
            out[done:done + k] = counts[:k] @ cols
            done += k

    with _one_blas_thread():
        if n * rounds < PARALLEL_FROM or usable_cores() < 2:
            for part in parts:
                draw(*part)
        else:
            _side_by_side(draw, parts)
    if keep is not None and memo is not None and not too_many:
        memo[key] = keep
    return out


_SHARED: ContextVar[dict | None] = ContextVar("ipwtui_shared_draws", default=None)


@contextmanager
def shared_draws():
    """Bootstraps run inside this block share their draws when they resample as many queries with the same
    seed and rounds: sessions compared on one query set (each one's intervals, then the what-if's) draw
    once. The draws are kept as counts, a byte a query a round, until the block ends; the figures are
    exactly those without it."""
    if _SHARED.get() is not None:  # inside another such block: its draws are shared too
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _side_by_side(draw, parts) -> None:
    # numpy lets go of the interpreter lock while it draws, counts and multiplies: the streams run on
    # their own cores
    import threading

    failed: list[BaseException] = []

    def run(*part) -> None:
        try:
            draw(*part)
        except BaseException as e:  # (MemoryError): raised again in the caller's thread
            failed.append(e)

    helpers = [threading.Thread(target=run, args=part, daemon=True) for part in parts[1:]]
    for t in helpers:
        t.start()
    run(*parts[0])
    for t in helpers:
        t.join()
    if failed:
        raise failed[0]


@contextmanager
def _one_blas_thread():
    """numpy's BLAS held to one thread of its own while the bootstrap multiplies. Its threads wait busily
    between the many small products: twice the CPU time for no gain, and a core taken from a model that may
    be under measurement; the streams above use the cores instead. (Two bootstraps overlapping in two
    threads can leave it at one thread: harmless, ipwtui's products are small. Only BLAS is limited, not
    OpenMP, which llama.cpp uses. Without threadpoolctl, BLAS is left alone.)"""
    limits = None
    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(1, user_api="blas")
    except Exception:  # not installed, or a BLAS it cannot steer
        pass
    try:
        yield
    finally:
        if limits is not None:
            limits.restore_original_limits()


def _bootstrap(fs: list[QueryFigures], rounds: int, seed: int):
    """95 % percentile intervals of IPW, IPJ and accuracy, resampling queries with replacement."""
    import numpy as np

    n = len(fs)
    e = np.array([cast(float, f.energy_j) for f in fs], dtype=float)
    lat = np.array([cast(float, f.latency_s) for f in fs], dtype=float)
    # an estimate's range is carried into the interval: each round draws one point of every query's
    # [low, high] (the same fraction for all: an estimate's error is shared, not independent per query)
    lo = np.array([f.energy_low_j if f.energy_low_j is not None else f.energy_j for f in fs], dtype=float)
    hi = np.array([f.energy_high_j if f.energy_high_j is not None else f.energy_j for f in fs], dtype=float)
    ranged = bool(np.any(hi > lo))
    mode = range_mode(e, lo, hi)
    scored = np.array([f.correct is not None for f in fs], dtype=float)
    correct = np.array([bool(f.correct) for f in fs], dtype=float)
    # A round's energy is low + u (high - low) with one u for every query, so its mean power is
    # (c . low/L + u c . (high - low)/L) / n, and the same for energy.
    if ranged:
        cols = np.stack([scored, correct, lo / lat, (hi - lo) / lat, lo, hi - lo], axis=1)
    else:
        cols = np.stack([scored, correct, e / lat, e], axis=1)
    sums = resampled_sums(seed, cols, rounds)
    if ranged:
        u = range_fractions(np.random.default_rng(seed).random(rounds), mode)
        mp = (sums[:, 2] + u * sums[:, 3]) / n
        me = (sums[:, 4] + u * sums[:, 5]) / n
    else:
        mp, me = sums[:, 2] / n, sums[:, 3] / n
    ns = sums[:, 0]
    ok = ns > 0
    acc, mp, me = sums[ok, 1] / ns[ok], mp[ok], me[ok]
    pos = (mp > 0) & (me > 0)
    if not pos.any():
        return None, None, None

    def interval(x):
        lo, hi = np.percentile(x, [2.5, 97.5])
        return (float(lo), float(hi))

    return interval(acc[pos] / mp[pos]), interval(acc[pos] / me[pos]), interval(acc)
