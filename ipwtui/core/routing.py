"""Routing what-if: what if each query had gone to a local model or to the cloud?

Read from sessions that ran the same queries locally and on a cloud (or any remote) model, joined by
query id (each query's last attempt), as the Intelligence per Watt paper does it (Saad-Falcon et al. 2025,
arXiv 2511.07885, Sec. 4.3), plus a cascade that is ours. For query i, a_L and a_C are the local and cloud
verdicts (1 correct, 0 wrong), X_L and X_C its energy (the headline energy: the server's for a remote
query, this machine's for a local one), cost or latency:

- **local coverage**: mean(a_L); with several local sessions, the share of queries *any* of them answers
  correctly (S, the locally-solvable queries), each then served by the lowest-energy correct one;
- **all-cloud** (the baseline): X = sum X_C, accuracy = mean(a_C);
- **oracle**: local when local is right, else cloud: X = sum_S X_L + sum_not-S X_C, accuracy = mean(a_L or a_C);
- **router right a fraction alpha of the time** (the paper's): each locally-solvable query runs local with
  probability alpha, else on the cloud; failed local attempts are not charged, so savings = alpha x oracle
  savings (expected values, no sampling);
- **cascade** (ours: what one user does): always local first (the local sessions in the order given), the
  next one when a verifier rejects the answer, the cloud when every local answer was rejected, paying for
  every attempt. A verifier accepts a correct answer with probability TPR and a wrong one with probability
  FPR; an accepted wrong answer is served wrong. Expected values. It can cost more than all-cloud (cheap
  cloud, expensive local): its savings are then negative, and it says so.

Savings = 1 - X_strategy / X_all-cloud for energy, cost and latency, over the queries that have the figure
on every side (a query with no energy on a side is dropped from the energy figures, never taken as 0).
Each figure has a 95 % bootstrap interval: queries resampled jointly (the same draw for every side and
strategy), a fixed seed, and an estimate's range carried as core.metrics carries it (one draw of the
range fraction per round, the same for every query of that session).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .metrics import range_fractions, range_mode, reaching, resampled_sums
from .record import ERROR, OK, REMOTE, QueryRecord, final_attempts

DEFAULT_ALPHAS = (0.6, 0.8)
DEFAULT_TPR = 0.9
DEFAULT_FPR = 0.1
BOOTSTRAP_ROUNDS = 2000
MIN_QUERIES_FOR_CI = 10
METRICS = ("energy", "cost", "latency")

# The paper's own figures, for reference: theirs, on their data, never ours.
PAPER_REFERENCE: dict[str, Any] = {
    "label": "reference: the paper's figures (Saad-Falcon et al. 2025, 'Intelligence per Watt', arXiv "
             "2511.07885, Sec. 4.3 and Fig. 4), on their data, not this comparison's",
    "coverage": 0.887,  # best-of-local: share of queries at least one local model answers correctly
    "oracle_local_share": 0.807,
    "savings": {  # 1 - strategy / all-cloud
        "oracle": {"energy": 0.804, "compute": 0.773, "cost": 0.738},
        "router alpha=0.8": {"energy": 0.643, "compute": 0.618, "cost": 0.590},
        "router alpha=0.6": {"energy": 0.484, "compute": 0.467, "cost": 0.445},
    },
    "setup": "80.2M queries over 24 h (BurstGPT trace); local pool Qwen3-4B/8B/14B and GPT-OSS-20B on an "
             "Apple M4 Max at batch size 1; cloud Qwen3-235B on an H200 at batch size 16; accelerator-only "
             "energy; cost from OpenRouter prices (Qwen3-235B $0.22 in / $0.88 out per million tokens, local $0)",
    "rule": "savings(alpha) = alpha x oracle savings (their router figures match it to within 0.3 points)",
}


class RoutingError(ValueError):
    """Bad routing settings. ``str()`` is one line."""


@dataclass
class Side:
    """One session's queries for the what-if: a label for people, its records (every attempt, the last
    one of each query is used) and its query digests (id -> digest), when the session recorded them."""

    label: str
    records: list[QueryRecord]
    digests: dict[str, str] | None = None


def check_settings(alphas, tpr: float, fpr: float) -> tuple[float, ...]:
    """The alphas as a tuple; RoutingError (one line) for a value outside [0, 1]."""
    out = []
    for name, v in [("alpha", a) for a in alphas] + [("TPR", tpr), ("FPR", fpr)]:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= 1:
            raise RoutingError(f"{name} must be a number from 0 to 1, got {v!r}")
    for a in alphas:
        out.append(float(a))
    if not out:
        raise RoutingError("give at least one alpha")
    return tuple(out)


# ---- the join ---------------------------------------------------------------------------------------


@dataclass
class _Joined:
    ids: list[str]
    a: list[list[float]]  # per side (locals..., cloud last): verdict 0/1 per joined query
    x: dict[str, list[list[float]]]  # metric -> per side -> value (nan: none)
    lo: list[list[float]]  # energy range per side (equal to x where there is none)
    hi: list[list[float]]
    dropped: dict[str, int]
    missing: dict[str, int]  # side label -> queries the other sessions have and it has not
    no_figure: dict[str, dict[str, int]]  # metric -> side label -> joined queries without the figure


def _last(side: Side) -> dict[str, QueryRecord]:
    return {r.query_id: r for r in final_attempts([r for r in side.records if not r.warmup])}


def _join(sides: list[Side], local_cost: float | None) -> _Joined:
    """Queries present, answered and scored on every side, with their figures; counts of the rest."""
    from .cost import energy_cost

    lasts = [_last(s) for s in sides]
    order = list(dict.fromkeys(q for d in lasts for q in d))  # first seen first
    dropped = {"missing": 0, "changed": 0, "error": 0, "skipped": 0, "unscored": 0}
    # every side has these queries (set operations: a 10,000-query join is not 10,000 Python steps each)
    everywhere = set(lasts[0]).intersection(*lasts[1:])
    common = [q for q in order if q in everywhere]
    dropped["missing"] = len(order) - len(common)
    missing = {s.label: 0 for s in sides}
    for s, d in zip(sides, lasts):  # (sides that share a label add up)
        missing[s.label] += len(order) - len(d)
    digs = [s.digests for s in sides if s.digests]
    if len(digs) > 1:  # the same id asking something else on another side
        same = []
        for q in common:
            known = [dg for d in digs if (dg := d.get(q))]  # (compared, not hashed: a digest is whatever the file says)
            if known and any(dg != known[0] for dg in known):
                dropped["changed"] += 1
            else:
                same.append(q)
        common = same
    good = [{q for q, r in d.items() if r.status == OK and r.correct is not None} for d in lasts]
    joinable = set.intersection(*good)
    ids = [q for q in common if q in joinable]
    for q in common:
        if q in joinable:
            continue
        present = [d[q] for d in lasts]
        if any(r.status == ERROR for r in present):
            dropped["error"] += 1
        elif any(r.status != OK for r in present):
            dropped["skipped"] += 1
        else:
            dropped["unscored"] += 1
    nan = math.nan
    a: list[list[float]] = []
    x: dict[str, list[list[float]]] = {m: [] for m in METRICS}
    lo: list[list[float]] = []
    hi: list[list[float]] = []
    for d in lasts:  # one side's joined records at a time, a field at a time
        column = list(map(d.__getitem__, ids))
        remote = [r.where == REMOTE for r in column]
        a.append([1.0 if r.correct else 0.0 for r in column])
        energies = list(map(QueryRecord.energy, column))  # (gross)
        e = [nan if v is None else float(v) for v in energies]
        x["energy"].append(e)
        if local_cost is not None:
            costs = [r.cost_usd if g else energy_cost(v, local_cost) for r, g, v in zip(column, remote, energies)]
        else:
            costs = [r.cost_usd for r in column]
        x["cost"].append([nan if c is None else float(c) for c in costs])
        x["latency"].append([nan if r.latency_s is None else float(r.latency_s) for r in column])
        # a remote estimate's range; every other figure is its own range
        ranged = [g and r.server_energy_low_j is not None and r.server_energy_high_j is not None
                  for r, g in zip(column, remote)]
        lo.append([float(r.server_energy_low_j) if g else v  # type: ignore[arg-type]
                   for r, g, v in zip(column, ranged, e)])
        hi.append([float(r.server_energy_high_j) if g else v  # type: ignore[arg-type]
                   for r, g, v in zip(column, ranged, e)])
    no_figure = {m: {s.label: sum(1 for v in x[m][j] if v != v) for j, s in enumerate(sides)} for m in METRICS}
    return _Joined(ids, a, x, lo, hi, dropped, missing, no_figure)


# ---- the strategies as per-query weights --------------------------------------------------------------


@dataclass
class _Strategy:
    name: str
    params: dict
    weights: Any  # (n, sides) array: the expected share of each side's figure that query i pays
    accuracy: Any  # (n,) expected correctness of the answer served
    local_share: Any  # (n,) probability the answer served is a local one


def _strategies(a, e, alphas, tpr: float, fpr: float) -> list[_Strategy]:
    """The strategies' weights. ``a``: (n, sides) verdicts, cloud last; ``e``: (n, sides) energies (nan:
    none) used to pick the lowest-energy correct local model."""
    import numpy as np

    n, k = a.shape
    nl = k - 1
    al, ac = a[:, :nl], a[:, nl]
    solvable = (al.max(axis=1) > 0).astype(float)
    # the local model that serves a locally-solvable query: the lowest-energy correct one (the first
    # correct one when energies are missing)
    el = np.where(np.isnan(e[:, :nl]), np.inf, e[:, :nl])
    cand = np.where(al > 0, el, np.nan)
    pick = np.zeros(n, dtype=int)
    any_correct = solvable > 0
    if any_correct.any():
        finite = np.isfinite(np.where(np.isnan(cand), np.inf, cand))
        by_energy = np.argmin(np.where(np.isnan(cand), np.inf, cand), axis=1)
        first_correct = np.argmax(al > 0, axis=1)
        pick = np.where(finite.any(axis=1), by_energy, first_correct)
    sel = np.zeros((n, nl))
    sel[np.arange(n), pick] = 1.0
    sel *= solvable[:, None]

    def w(local_w, cloud_w):
        return np.concatenate([local_w, cloud_w[:, None]], axis=1)

    out = [_Strategy("all-cloud", {}, w(np.zeros((n, nl)), np.ones(n)), ac.copy(), np.zeros(n)),
           _Strategy("oracle", {}, w(sel, 1.0 - solvable), solvable + (1 - solvable) * ac, solvable.copy())]
    for alpha in alphas:
        out.append(_Strategy("router", {"alpha": alpha}, w(alpha * sel, 1.0 - alpha * solvable),
                             solvable * (alpha + (1 - alpha) * ac) + (1 - solvable) * ac, alpha * solvable))
    reach = np.ones(n)
    local_w = np.zeros((n, nl))
    acc = np.zeros(n)
    served_local = np.zeros(n)
    for j in range(nl):
        local_w[:, j] = reach
        accept = np.where(al[:, j] > 0, tpr, fpr)
        acc += reach * accept * al[:, j]
        served_local += reach * accept
        reach = reach * (1 - accept)
    acc += reach * ac
    out.append(_Strategy("cascade", {"tpr": tpr, "fpr": fpr}, w(local_w, reach), acc, served_local))
    return out


# ---- the what-if --------------------------------------------------------------------------------------


def what_if(local: list[Side], cloud: Side, alphas=DEFAULT_ALPHAS, tpr: float = DEFAULT_TPR,
            fpr: float = DEFAULT_FPR, local_electricity_usd_per_kwh: float | None = None,
            rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> dict:
    """The routing what-if of ``local`` sessions (one or more) against a ``cloud`` session, as a plain
    dict (see the module docstring; ``as text`` in headless). ``local_electricity_usd_per_kwh``: when
    given, a local query's cost is its gross energy at that price (0 is the paper's convention: local is
    free); otherwise each query's recorded cost. Raises RoutingError for bad settings."""
    import numpy as np

    if not local:
        raise RoutingError("the what-if needs at least one local session")
    alphas = check_settings(alphas, tpr, fpr)
    if local_electricity_usd_per_kwh is not None and (not math.isfinite(local_electricity_usd_per_kwh)
                                                      or local_electricity_usd_per_kwh < 0):
        raise RoutingError(f"electricity price must be >= 0 USD/kWh, got {local_electricity_usd_per_kwh!r}")
    sides = local + [cloud]
    j = _join(sides, local_electricity_usd_per_kwh)
    n = len(j.ids)
    out: dict[str, Any] = {
        "local": [s.label for s in local],
        "cloud": cloud.label,
        "settings": {"alphas": list(alphas), "tpr": tpr, "fpr": fpr, "rounds": rounds, "seed": seed,
                     "local_electricity_usd_per_kwh": local_electricity_usd_per_kwh,
                     "cascade_order": [s.label for s in local]},
        "joined": n,
        "dropped": dict(j.dropped),
        "missing_by_session": {k: v for k, v in j.missing.items() if v},
        "notes": [],
        "reference": PAPER_REFERENCE,
    }
    notes: list[str] = out["notes"]
    notes.append(_dropped_words(j, n))
    if n == 0:
        out.update(coverage={}, best_of_local_coverage=None, cloud_accuracy=None, strategies=[],
                   figures={m: {"queries": 0, "dropped": 0} for m in METRICS})
        notes.append("no query is answered and scored in every session: nothing to route")
        return out
    a = np.array(j.a, dtype=float).T  # (n, sides)
    x = {m: np.array(j.x[m], dtype=float).T for m in METRICS}
    lo = np.array(j.lo, dtype=float).T
    hi = np.array(j.hi, dtype=float).T
    out["coverage"] = {s.label: float(a[:, i].mean()) for i, s in enumerate(local)}
    out["best_of_local_coverage"] = float((a[:, :-1].max(axis=1) > 0).mean())
    out["cloud_accuracy"] = float(a[:, -1].mean())
    strategies = _strategies(a, x["energy"], alphas, tpr, fpr)
    masks = {m: ~np.isnan(x[m]).any(axis=1) for m in METRICS}
    out["figures"] = {m: {"queries": int(masks[m].sum()), "dropped": int(n - masks[m].sum()),
                          "without_by_session": {k: v for k, v in j.no_figure[m].items() if v}}
                      for m in METRICS}
    for m, words in (("energy", "energy"), ("cost", "a cost"), ("latency", "a latency")):
        k = n - int(masks[m].sum())
        if k:
            who = ", ".join(f"{lab} {c}" for lab, c in j.no_figure[m].items() if c)
            notes.append(f"{k} of {n} joined queries have no {m} on some side ({who}): left out of the {m} "
                         f"figures (never counted as 0)")
    if not masks["cost"].any():
        why = []
        if any(j.no_figure["cost"][s.label] for s in local) and local_electricity_usd_per_kwh is None:
            why.append("the local queries have no cost: price their energy with an electricity price (0 is "
                       "the paper's convention: local is free)")
        if j.no_figure["cost"][cloud.label]:
            why.append(f"{cloud.label}'s queries have no cost: no API price for its model, or no token counts")
        notes.append("cost savings are N/A: " + "; ".join(why or ["no query has a cost on every side"]))
    ranged = [s.label for i, s in enumerate(sides) if bool(np.any((hi[:, i] > lo[:, i]) & masks["energy"]))]
    if ranged:
        notes.append(f"energy of {', '.join(ranged)} is an estimate with a range: the intervals carry it "
                     "(one draw of the range a round)")
    point = _point(strategies, a, x, masks)
    ci = _bootstrap(strategies, x, lo, hi, masks, rounds, seed) if n >= MIN_QUERIES_FOR_CI else None
    if ci is None:
        notes.append(f"bootstrap intervals need at least {MIN_QUERIES_FOR_CI} joined queries")
    out["strategies"] = []
    for si, st in enumerate(strategies):
        row = dict(name=st.name, **st.params, **point[si])
        for key in ("accuracy", *(f"{m}_savings" for m in METRICS)):
            row[f"{key}_ci"] = reaching(ci[si][key], row.get(key)) if ci is not None else None
        row["loses_to_all_cloud"] = {m: bool(row[f"{m}_savings"] is not None and row[f"{m}_savings"] < 0)
                                     for m in METRICS}
        out["strategies"].append(row)
    for row in out["strategies"]:
        lost = [f"{m} ({100 * row[f'{m}_savings']:+.1f} %)" for m in METRICS if row["loses_to_all_cloud"][m]]
        if not lost:
            continue
        reason = ""
        if row["name"] == "cascade":
            reason = (f": every query pays for its local attempt, and {100 * (1 - row['local_share']):.1f} % of "
                      "them pay for the cloud too")
        notes.append(f"{strategy_name(row)} LOSES to all-cloud on {', '.join(lost)}{reason}")
    return out


def strategy_name(row: dict) -> str:
    """A strategy's name for people: "router alpha=0.8", "cascade TPR 0.9 FPR 0.1"."""
    if row["name"] == "router":
        return f"router alpha={row['alpha']:g}"
    if row["name"] == "cascade":
        return f"cascade (TPR {row['tpr']:g}, FPR {row['fpr']:g})"
    return row["name"]


def _dropped_words(j: _Joined, n: int) -> str:
    d = j.dropped
    total = sum(d.values())
    if not total:
        return f"{n} queries answered and scored in every session; none dropped"
    parts = []
    if d["missing"]:
        who = ", ".join(f"{k} lacks {v}" for k, v in j.missing.items() if v)
        parts.append(f"{d['missing']} not in every session ({who})")
    if d["changed"]:
        parts.append(f"{d['changed']} whose query differs between sessions under the same id")
    if d["error"]:
        parts.append(f"{d['error']} ended in an error on some side")
    if d["skipped"]:
        parts.append(f"{d['skipped']} skipped on some side")
    if d["unscored"]:
        parts.append(f"{d['unscored']} unscored on some side")
    return f"{n} queries joined; {total} dropped: " + "; ".join(parts)


def _point(strategies: list[_Strategy], a, x: dict, masks: dict) -> list[dict]:
    """Each strategy's expected figures on the data."""
    import numpy as np

    base = strategies[0]
    out = []
    for st in strategies:
        row: dict[str, Any] = {"accuracy": float(st.accuracy.mean()), "local_share": float(st.local_share.mean())}
        for m in METRICS:
            mk = masks[m]
            if not mk.any():
                row[f"{m}_per_query"] = row[f"{m}_savings"] = None
                continue
            xm = np.where(mk[:, None], x[m], 0.0)
            total = float((st.weights * xm).sum())
            base_total = float((base.weights * xm).sum())
            row[f"{m}_per_query"] = total / int(mk.sum())
            row[f"{m}_savings"] = 1.0 - total / base_total if base_total > 0 else None
        out.append(row)
    return out


def _bootstrap(strategies: list[_Strategy], x: dict, lo, hi, masks: dict, rounds: int, seed: int):
    """95 % percentile intervals of each strategy's accuracy and savings, resampling queries jointly.

    A resample is a vector of counts c (how often each query was drawn), so every total is a dot
    product: c . (w x X) over the queries. An estimate's range enters as X = lo + u (hi - lo) with one u
    per session a round, so the energy totals are c . (w lo) + u c . (w (hi - lo)) per side."""
    import numpy as np

    n, k = lo.shape
    cols: list = []
    index: dict[tuple, int] = {}

    def col(key: tuple, v) -> None:
        index[key] = len(cols)
        cols.append(v)

    em = masks["energy"]
    elo = np.where(em[:, None], lo, 0.0)
    ed = np.where(em[:, None], hi - lo, 0.0)
    for si, st in enumerate(strategies):
        col((si, "acc"), st.accuracy)
        for s in range(k):
            col((si, "elo", s), st.weights[:, s] * elo[:, s])
            col((si, "ed", s), st.weights[:, s] * ed[:, s])
        for m in ("cost", "latency"):
            xm = np.where(masks[m][:, None], x[m], 0.0)
            col((si, m), (st.weights * xm).sum(axis=1))
    V = np.stack(cols, axis=1)
    live = np.flatnonzero(np.any(V != 0, axis=0))  # a column of zeros sums to zero in every round
    Vl = V[:, live]
    S = np.zeros((rounds, V.shape[1]))
    S[:, live] = resampled_sums(seed, Vl, rounds)
    U = np.random.default_rng(seed).random((rounds, k))
    # the range fraction of each side from a triangular distribution whose mode is where that side's
    # central estimate sits in its range (core.metrics.range_mode): the intervals are centred on it
    for s in range(k):
        U[:, s] = range_fractions(U[:, s], range_mode(x["energy"][:, s], lo[:, s], hi[:, s]))

    def interval(v):
        v = v[np.isfinite(v)]
        if not len(v):
            return None
        lo_, hi_ = np.percentile(v, [2.5, 97.5])
        return [float(lo_), float(hi_)]

    def energy_total(si):
        return sum(S[:, index[(si, "elo", s)]] + U[:, s] * S[:, index[(si, "ed", s)]] for s in range(k))

    base_e = energy_total(0)
    out = []
    for si in range(len(strategies)):
        row = {"accuracy": interval(S[:, index[(si, "acc")]] / n)}
        with np.errstate(divide="ignore", invalid="ignore"):
            row["energy_savings"] = interval(np.where(base_e > 0, 1 - energy_total(si) / base_e, np.nan)) \
                if em.any() else None
            for m in ("cost", "latency"):
                b = S[:, index[(0, m)]]
                row[f"{m}_savings"] = interval(np.where(b > 0, 1 - S[:, index[(si, m)]] / b, np.nan)) \
                    if masks[m].any() else None
        out.append(row)
    return out


__all__ = ["Side", "RoutingError", "what_if", "strategy_name", "check_settings", "PAPER_REFERENCE", "DEFAULT_ALPHAS",
           "DEFAULT_TPR", "DEFAULT_FPR"]
