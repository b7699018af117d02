"""Side by side: two or more sessions' figures, whether they can be compared, and what their energies cover.

``compare(folders)`` reads each session folder (a folder that is not a session, or cannot be read, is
listed with a one-line reason and the others are still compared) and gives, per session, what ran (model,
backend, local or remote, accelerator, query set) and its figures: accuracy, IPW and IPJ with their
intervals (the core's metrics, as the session summary computes them), mean power, J per query and per
output token, latency, TTFT, cost, accuracy per domain, every energy figure with its quality and boundary,
and for a remote session this machine's own energy beside the server's.

Two sessions are ranked together only when they ran the same queries (the same ids asking the same
thing: the session's query digests); the others are still shown, flagged ``comparable: False`` with the
reason. Energies whose boundaries differ (a CPU package here, a server with its data centre there) are
said to differ, in words, with the like-for-like choice where the sources allow one: a cited figure with
an accelerator-only counterpart in the cited table (``<id>-accel``) is restated with it on request
(``like_for_like=True``).

``route(comparison, ...)`` runs the routing what-if (``core.routing``) of the local sessions against each
cloud side: the remote sessions by default, or the ones named.

Everything returned is plain data (dicts, lists, numbers, None for N/A): the headless command prints it,
the app shows it, ``--json`` dumps it. The chart data (accuracy against mean power, iso-IPW lines) is
points and lines, no plotting.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from .metrics import compute, shared_draws
from .record import REMOTE, QueryRecord, apply_server_energy, final_attempts, records_of
from .sensors.base import UNAVAILABLE, describe_boundary, worst_quality
from .session import JOURNAL_FILE, Session, SessionError, shown_status
from .summary import figures as query_figures

SUMMARY_FILE = "summary.json"
ACCEL_SUFFIX = "-accel"  # the cited table's accelerator-only counterpart of an entry: "<id>-accel"
# boundaries that count the accelerators alone, here and on a server
ACCELERATOR_ONLY = {"accelerator", "server-accelerator"}
COMPUTE_DEVICE = {"cpu-package", "cpu-cores", "soc"}  # the chip that ran the model, when no GPU did


class CompareError(Exception):
    """A session cannot be compared (not a session, unreadable, empty). ``str()`` is one line."""


# ---- loading -----------------------------------------------------------------------------------------


@dataclass
class LoadedSession:
    folder: Path
    label: str
    meta: dict
    records: list[QueryRecord]  # non-warm-up records, every attempt, in journal order
    summary_metrics: dict | None = None  # summary.json's gross metrics, when they are current
    restated: dict | None = None  # {"from": "cited:X", "to": "cited:X-accel"} when restated like for like
    _remote: bool | None = field(default=None, repr=False)
    _final: list[QueryRecord] | None = field(default=None, repr=False)

    @property
    def final(self) -> list[QueryRecord]:
        """Each query's last attempt (computed once)."""
        if self._final is None:
            self._final = final_attempts(self.records)
        return self._final

    @property
    def remote(self) -> bool:
        if self._remote is None:
            self._remote = self.meta.get("where") == REMOTE or any(r.remote for r in self.records)
        return self._remote

    def side(self):
        """This session as one side of the routing what-if."""
        from .routing import Side

        digests = self.meta.get("query_digests")
        return Side(self.label, self.records, digests if isinstance(digests, dict) else None)


def load_session(folder: str | os.PathLike) -> LoadedSession:
    """One session folder read for comparison. Raises CompareError (one line)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CompareError(f"{folder}: not a folder" if folder.exists() else f"{folder}: no such folder")
    try:
        s = Session.open(folder)
        journal = s.read_entries()
    except SessionError as e:
        raise CompareError(str(e)) from None
    except OSError as e:
        raise CompareError(f"{folder / JOURNAL_FILE}: cannot read ({e.strerror or e})") from None
    try:
        records = records_of(journal, include_warmup=False)
    except (TypeError, ValueError) as e:
        raise CompareError(f"{folder / JOURNAL_FILE}: a query record is malformed ({e})") from None
    # a session killed while running still says "running" in its file: shown as what it is now
    meta = dict(s.meta, status=shown_status(s.meta, folder)) if s.meta.get("status") else s.meta
    if not records:
        status = meta.get("status")
        raise CompareError(f"{folder}: holds no query record" + (f" (status {status})" if status else ""))
    return LoadedSession(folder, folder.name, meta, records, _current_summary(folder))


def _current_summary(folder: Path) -> dict | None:
    """summary.json's gross metrics when the file is at least as new as the journal (the export writes
    it with the same core function; checked against the records before use)."""
    p, j = folder / SUMMARY_FILE, folder / JOURNAL_FILE
    try:
        if p.stat().st_mtime < j.stat().st_mtime:
            return None
        data = json.loads(p.read_text(encoding="utf-8"))
        m = data["metrics"]["gross"]
        return m if isinstance(m, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_sessions(folders) -> tuple[list[LoadedSession], list[dict]]:
    """(sessions read, [{"folder", "error"}] for the ones that could not be). Labels are the folder
    names, made unique."""
    out: list[LoadedSession] = []
    errors: list[dict] = []
    seen: set[Path] = set()
    for f in folders:
        p = Path(f)
        key = p.resolve() if p.exists() else p
        if key in seen:
            continue
        seen.add(key)
        try:
            out.append(load_session(p))
        except CompareError as e:
            errors.append({"folder": str(p), "error": str(e)})
    labels: dict[str, int] = {}
    for s in out:
        n = labels.get(s.label, 0) + 1
        labels[s.label] = n
        if n > 1:
            s.label = f"{s.label}#{n}"
    return out, errors


# ---- like for like: a cited figure's accelerator-only counterpart -----------------------------------


def accelerator_counterpart(source: str | None):
    """The cited table's accelerator-only entry for a ``cited:<id>`` source whose boundary is wider
    (``<id>-accel``, boundary server-accelerator), or None."""
    if not source or not source.startswith("cited:"):
        return None
    from .remote.estimate import EstimateError, cited_table

    try:
        table = cited_table()
    except EstimateError:
        return None
    entry = table.entries.get(source.split(":", 1)[1])
    if entry is None or entry.boundary == "server-accelerator":
        return None
    cand = table.entries.get(entry.id + ACCEL_SUFFIX)
    return cand if cand is not None and cand.boundary == "server-accelerator" else None


def restate(s: LoadedSession) -> LoadedSession | None:
    """A remote session whose server energy is one cited figure, restated with that figure's
    accelerator-only counterpart (a copy; None when there is none)."""
    from .remote import RemoteWindow
    from .remote.estimate import CitedEstimate

    sources = {r.server_energy_source for r in s.records if r.remote and r.server_energy_source}
    if len(sources) != 1:
        return None
    src = next(iter(sources))
    entry = accelerator_counterpart(src)
    if entry is None:
        return None
    est = CitedEstimate(entry.id)
    recs = []
    for r in s.records:
        r2 = msgspec.structs.replace(r, server_energy_flags=list(r.server_energy_flags))
        if r.remote:
            w = RemoteWindow(r.query_id, r.attempt, r.wall_sent or 0.0, r.wall_done or r.wall_sent or 0.0,
                             r.model, r.prompt_tokens, r.output_tokens)
            apply_server_energy(r2, est.window_energy(w))
        recs.append(r2)
    return LoadedSession(s.folder, s.label, s.meta, recs, None, {"from": src, "to": est.name})


# ---- one session's figures ---------------------------------------------------------------------------


def query_set(meta: dict, final: list[QueryRecord]) -> dict:
    """What a session asked: the query file's name, how many queries, and a digest of their ids (and of
    what each asks, when the session recorded query digests)."""
    raw = meta.get("query_ids")
    from_journal = not isinstance(raw, list) or not raw
    ids: list = [r.query_id for r in final] if from_journal else list(raw)  # type: ignore[arg-type]
    d = meta.get("query_digests")
    digests: dict = d if isinstance(d, dict) else {}
    with_content = bool(digests) and all(i in digests for i in ids)
    body = sorted((str(i), str(digests.get(i, "")) if with_content else "") for i in ids)
    h = hashlib.sha256(json.dumps(body).encode("utf-8")).hexdigest()[:12]
    qf = meta.get("queries_file")
    return {"file": Path(qf).name if qf else None, "n": len(ids), "digest": h,
            "by": "ids and content" if with_content else "ids only",
            "from_journal": from_journal}


def _energy_label(with_energy: list[QueryRecord]) -> dict:
    """The (source, quality, boundary) of the energy of the counted queries that have one."""
    # the distinct labels, in the order first seen (a session's records mostly share one)
    labelled = list(dict.fromkeys(r.energy_label for r in with_energy))
    return {"quality": worst_quality([q for _, q, _ in labelled]) if labelled else UNAVAILABLE,
            "source": _joined(s for s, _, _ in labelled),
            "boundary": _joined_boundaries(b for _, _, b in labelled)}


def _joined(values) -> str | None:
    return "+".join(v for v in dict.fromkeys(values) if v) or None


def _joined_boundaries(values) -> str | None:
    out: list[str] = []
    for v in dict.fromkeys(values):  # a session's records mostly share one boundary
        for part in boundary_parts(v):
            if part not in out:
                out.append(part)
    return "+".join(out) or None


def boundary_parts(b: str | None) -> list[str]:
    """A "+"-joined boundary split into names ("server+datacentre" is one name)."""
    if not b:
        return []
    parts = b.split("+")
    out: list[str] = []
    for p in parts:
        if p == "datacentre" and out and out[-1] == "server":
            out[-1] = "server+datacentre"
        elif p:
            out.append(p)
    return out


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def session_figures(s: LoadedSession) -> dict:
    """One session's figures, all plain data (None: N/A)."""
    final = s.final
    counted = [r for r in final if r.counted]
    m = s.summary_metrics
    if m is None or m.get("n") != sum(1 for r in s.records if r.counted):
        m = compute(query_figures(s.records, "gross"), energy="gross").as_dict()
    model = s.meta.get("model")
    model_name = (model.get("name") if isinstance(model, dict) else model) or \
        next((r.model for r in final if r.model), None)
    lat = [v for v in (r.latency_s for r in counted) if v is not None]
    ttft = [v for v in (r.ttft_s for r in counted) if v is not None]
    with_energy = [r for r, e in zip(counted, map(QueryRecord.energy, counted)) if e is not None]
    label = _energy_label(with_energy)
    measured = [r for r in with_energy if r.latency_s and r.latency_s > 0]
    power_range = None
    if any(r.remote and r.server_energy_low_j is not None and r.server_energy_high_j is not None for r in measured):
        def end(r: QueryRecord, v: float | None) -> float:
            return float(v if v is not None else r.energy("gross")) / float(r.latency_s)  # type: ignore[arg-type]

        lows = [end(r, r.server_energy_low_j) for r in measured]
        highs = [end(r, r.server_energy_high_j) for r in measured]
        power_range = [sum(lows) / len(lows), sum(highs) / len(highs)]
    statuses = [r.status for r in final]
    out: dict[str, Any] = {
        "label": s.label,
        "folder": str(s.folder),
        "session": s.meta.get("id"),
        "status": s.meta.get("status"),
        "model": model_name,
        "backend": s.meta.get("backend") or next((r.backend for r in final if r.backend), None),
        "where": REMOTE if s.remote else "local",
        "accelerator": s.meta.get("accelerator") or next((r.accelerator for r in final if r.accelerator), None),
        "query_set": query_set(s.meta, final),
        "queries": {"finished": len(final), "answered": m.get("n"), "scored": m.get("n_scored"),
                    "correct": m.get("n_correct"), "unscored": m.get("n_unscored"),
                    "errors": statuses.count("error"), "skipped": statuses.count("skipped"),
                    "with_energy": m.get("n_with_energy"), "with_cost": m.get("n_with_cost")},
        "accuracy": m.get("accuracy"), "accuracy_ci": m.get("accuracy_ci"),
        "ipw": m.get("ipw"), "ipw_ci": m.get("ipw_ci"),
        "ipj": m.get("ipj"), "ipj_ci": m.get("ipj_ci"),
        "mean_power_w": m.get("mean_power_w"), "mean_power_range_w": power_range,
        "j_per_query": m.get("mean_energy_j"),
        "j_per_output_token": m.get("j_per_output_token"),
        "j_per_correct": m.get("j_per_correct"),
        "energy_range": bool(m.get("energy_range")),
        "energy": label,
        "latency_mean_s": _mean(lat), "latency_median_s": statistics.median(lat) if lat else None,
        "ttft_mean_s": _mean(ttft),
        "cost_per_query": m.get("cost_per_query"), "cost_per_correct": m.get("cost_per_correct"),
        "accuracy_per_dollar": m.get("accuracy_per_dollar"),
        "per_domain": {k: v.get("accuracy") if isinstance(v, dict) else None
                       for k, v in sorted((m.get("per_domain") or {}).items())},
        "per_domain_counts": {k: {"scored": v.get("scored"), "correct": v.get("correct")}
                              for k, v in sorted((m.get("per_domain") or {}).items()) if isinstance(v, dict)},
        "metrics_notes": list(m.get("notes") or []),
        "restated": s.restated,
        "comparable": True,
        "comparable_reason": None,
    }
    if s.remote:  # what this machine spent waiting, beside the server's energy
        client = [r for r in counted if r.client_energy("gross") is not None]
        out["client_energy"] = {
            "j_per_query": _mean([r.client_energy("gross") for r in client]),  # type: ignore[misc]
            "queries": len(client),
            "source": _joined(r.energy_source for r in client),
            "quality": worst_quality([r.energy_quality for r in client]) if client else UNAVAILABLE,
            "boundary": _joined_boundaries(r.energy_boundary for r in client),
        }
    return out


# ---- comparability ---------------------------------------------------------------------------------


def _id_set(s: LoadedSession) -> tuple[frozenset, dict]:
    ids = s.meta.get("query_ids")
    if not isinstance(ids, list) or not ids:
        ids = [r.query_id for r in s.final]
    d = s.meta.get("query_digests")
    return frozenset(str(i) for i in ids), (d if isinstance(d, dict) else {})


def comparability(sessions: list[LoadedSession], figs: list[dict]) -> None:
    """Mark each figure dict comparable or not, with the reason: the reference is the largest group of
    sessions that ran the same query set (the earliest such group on a tie)."""
    keys = [f["query_set"]["digest"] for f in figs]
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    ref_key = max(groups, key=lambda k: (len(groups[k]), -groups[k][0]))
    ref = groups[ref_key][0]
    ref_ids, ref_dig = _id_set(sessions[ref])
    for i, f in enumerate(figs):
        if keys[i] == ref_key:
            if f["query_set"]["by"] == "ids only" and len(groups[ref_key]) > 1:
                f["comparable_reason"] = "query sets matched by ids only (no query digests recorded)"
            continue
        ids, dig = _id_set(sessions[i])
        f["comparable"] = False
        if ids != ref_ids:
            only_here, only_there = len(ids - ref_ids), len(ref_ids - ids)
            f["comparable_reason"] = (f"its query set differs from {sessions[ref].label}'s: {only_here} "
                                      f"queries only here, {only_there} only there")
        else:
            changed = sum(1 for q in ids if q in dig and q in ref_dig and dig[q] != ref_dig[q])
            if changed:
                f["comparable_reason"] = (f"same query ids as {sessions[ref].label} but {changed} of them ask "
                                          "something else (query digests differ)")
            else:
                f["comparable_reason"] = (f"cannot tell it ran the same queries as {sessions[ref].label} (one "
                                          "of them recorded no query digests)")


def _coverage_notes(figs: list[dict]) -> list[str]:
    notes = []
    for f in figs:
        q = f["queries"]
        planned = f["query_set"]["n"]
        if f["comparable"] and q["answered"] is not None and q["answered"] < planned:
            notes.append(f"{f['label']}: its figures cover {q['answered']} answered queries of the {planned} "
                         f"planned (status {f['status'] or '?'}): not every query is in them")
    return notes


def _ranking(figs: list[dict]) -> dict:
    """IPW and IPJ orders of the comparable sessions, with what mixes in them."""
    ok = [f for f in figs if f["comparable"]]
    out: dict[str, Any] = {}
    for key in ("ipw", "ipj"):
        ranked = sorted((f for f in ok if f[key] is not None), key=lambda f: -f[key])
        out[key] = [f["label"] for f in ranked]
    caveats = []
    bounds = {_like_key(f["energy"]["boundary"]) for f in ok if f["ipw"] is not None}
    if len(bounds) > 1:
        caveats.append("the ranked sessions' energy boundaries differ (see the boundary notes): the order "
                       "mixes figures that do not cover the same thing")
    quals = {f["energy"]["quality"] for f in ok if f["ipw"] is not None}
    if len(quals) > 1:
        caveats.append(f"the ranked sessions' energy qualities differ ({', '.join(sorted(quals))}): figures "
                       "of different trust are ranked together")
    left = [f["label"] for f in figs if not f["comparable"]]
    if left:
        caveats.append(f"not ranked (other queries): {', '.join(left)}")
    out["caveats"] = caveats
    return out


# ---- boundaries in words -----------------------------------------------------------------------------


def _like_key(boundary: str | None) -> frozenset:
    """Boundaries with the same key cover the same thing: an accelerator here and a server's accelerators
    there are the same boundary."""
    return frozenset("accelerator" if p in ACCELERATOR_ONLY else p for p in boundary_parts(boundary))


def _words(boundary: str | None) -> str:
    parts = boundary_parts(boundary)
    if not parts:
        return "nothing (no energy)"
    return "; ".join(f"{p} ({describe_boundary(p)})" if describe_boundary(p) != p else p for p in parts)


_REMOTE_WORDS = {
    "server-accelerator": "the server's accelerators only",
    "server": "the whole server node: accelerators, host CPU and memory, its share of idle",
    "server+datacentre": "the server node with the data centre's overhead (PUE)",
    "server-cpu": "the server's CPU packages (and DRAM), no accelerator",
    "unstated": "not stated by the source",
}


def _say(boundary: str | None) -> str:
    parts = boundary_parts(boundary)
    if not parts:
        return "nothing (no energy)"
    return "; ".join(_REMOTE_WORDS.get(p) or describe_boundary(p) for p in parts)


def boundary_notes(figs: list[dict], sessions: list[LoadedSession], like_for_like: bool) -> list[str]:
    """What each session's energy covers, when they differ, and the like-for-like choices, in words."""
    notes: list[str] = []
    withe = [f for f in figs if f["energy"]["boundary"]]
    for f in figs:
        if not f["energy"]["boundary"]:
            notes.append(f"{f['label']} has no energy figure (N/A): nothing to compare it on")
        if f.get("restated"):
            r = f["restated"]
            notes.append(f"{f['label']} restated like for like: its server energy is {r['to']} (accelerator "
                         f"only) instead of {r['from']}; the session itself is unchanged")
    groups: dict[frozenset, list[dict]] = {}
    for f in withe:
        groups.setdefault(_like_key(f["energy"]["boundary"]), []).append(f)
    unstated = [f["label"] for f in withe if "unstated" in boundary_parts(f["energy"]["boundary"])]
    if unstated:
        notes.append(f"{', '.join(unstated)}: the energy source does not state what it covers: no "
                     "like-for-like comparison with it is possible")
    if len(groups) <= 1:
        if len(withe) > 1 and groups:
            b = withe[0]["energy"]["boundary"]
            if set(boundary_parts(b)) <= ACCELERATOR_ONLY or len({f["energy"]["boundary"] for f in withe}) > 1:
                notes.append("every session's energy counts the accelerators only (here and on the server): "
                             "like for like")
            else:
                notes.append(f"every session's energy covers the same boundary ({b}): like for like")
        return notes
    desc = "; ".join(f"{', '.join(x['label'] for x in g)}: {_say(g[0]['energy']['boundary'])}"
                     for g in groups.values())
    notes.append(f"energy boundaries differ, so energies, IPW and IPJ are not like for like: {desc}")
    by_label = {s.label: s for s in sessions}
    local_device = [f for f in withe if f["where"] == "local"
                    and (set(boundary_parts(f["energy"]["boundary"])) & (ACCELERATOR_ONLY | COMPUTE_DEVICE))]
    for f in withe:
        if f["where"] != REMOTE or f.get("restated"):
            continue
        s = by_label.get(f["label"])
        src = f["energy"]["source"]
        entry = accelerator_counterpart(src)
        if entry is not None:
            tail = "" if like_for_like else " (the like-for-like option restates it so)"
            notes.append(f"like-for-like choice for {f['label']}: its source {src} has an accelerator-only "
                         f"counterpart in the cited table, cited:{entry.id} ({entry.value:g} {entry.unit}, "
                         f"{entry.what}){tail}")
        elif s is not None and "server+datacentre" in boundary_parts(f["energy"]["boundary"]) and local_device:
            notes.append(f"{f['label']}'s figure includes data-centre overhead and no accelerator-only "
                         f"counterpart of {src or 'its source'} is known: a local device measurement is "
                         f"smaller by construction")
    for f in local_device:
        parts = set(boundary_parts(f["energy"]["boundary"]))
        if parts & COMPUTE_DEVICE and not parts & ACCELERATOR_ONLY:
            remote_accel = [x["label"] for x in withe if x["where"] == REMOTE
                            and set(boundary_parts(x["energy"]["boundary"])) <= ACCELERATOR_ONLY]
            if remote_accel:
                notes.append(f"{f['label']} counts the chip that ran the model ({_words(f['energy']['boundary'])})"
                             f" and {', '.join(remote_accel)} the server's accelerators only: the closest "
                             "like-for-like pair available, not an identical one")
    return notes


# ---- the chart: accuracy against mean power, iso-IPW lines -------------------------------------------


def _nice_steps(lo: float, hi: float) -> list[float]:
    """1-2-5 values from just below ``lo`` to just above ``hi``."""
    if lo <= 0 or hi <= 0:
        return []
    start = 10 ** math.floor(math.log10(lo))
    vals: list[float] = []
    e = start
    while len(vals) < 40:
        for m in (1, 2, 5):
            v = m * e
            vals.append(v)
        e *= 10
        if e > hi * 10:
            break
    below = [v for v in vals if v <= lo]
    above = [v for v in vals if v >= hi]
    first = below[-1] if below else vals[0]
    last = above[0] if above else vals[-1]
    return [round(v, 12) for v in vals if first <= v <= last]


def chart_data(figs: list[dict]) -> dict:
    """Points (mean power W, accuracy) per session with their intervals, and iso-IPW lines a = k x P for
    1-2-5 values of k spanning the points' IPW (at most 7), clipped to accuracy <= 1."""
    points = []
    for f in figs:
        if f["mean_power_w"] is None or f["accuracy"] is None:
            continue
        points.append({"label": f["label"], "x": f["mean_power_w"], "y": f["accuracy"],
                       "y_ci": f["accuracy_ci"], "x_range": f["mean_power_range_w"], "ipw": f["ipw"],
                       "ipw_ci": f["ipw_ci"], "quality": f["energy"]["quality"],
                       "boundary": f["energy"]["boundary"], "where": f["where"], "comparable": f["comparable"]})
    out: dict[str, Any] = {"x": "mean power (W)", "y": "accuracy", "points": points, "lines": []}
    if not points:
        out.update(x_range=None, y_range=[0.0, 1.0], log_x=False)
        return out
    xs = [p["x"] for p in points] + [v for p in points for v in (p["x_range"] or [])]
    xs = [x for x in xs if x and x > 0]
    if not xs:
        out.update(x_range=None, y_range=[0.0, 1.0], log_x=False)
        return out
    x_lo, x_hi = min(xs), max(xs)
    log_x = x_hi / x_lo > 20
    x_range = [x_lo / 1.5, x_hi * 1.5] if log_x else [0.0, x_hi * 1.15]
    out.update(x_range=x_range, y_range=[0.0, 1.0], log_x=log_x)
    ipws = [p["ipw"] for p in points if p["ipw"] and p["ipw"] > 0]
    for ci in (p["ipw_ci"] for p in points if p["ipw_ci"]):
        ipws += [v for v in ci if v and v > 0]
    if not ipws:
        return out
    ks = _nice_steps(min(ipws), max(ipws))
    while len(ks) > 7:
        ks = ks[::2]
    for k in ks:
        x0 = x_range[0] if x_range[0] > 0 else 0.0
        x1 = min(x_range[1], 1.0 / k)
        if x1 <= x0:
            continue
        out["lines"].append({"ipw": k, "points": [[x0, k * x0], [x1, k * x1]]})
    return out


# ---- the whole comparison ----------------------------------------------------------------------------


@dataclass
class Comparison:
    sessions: list[LoadedSession]
    figures: list[dict]
    errors: list[dict]
    notes: list[str] = field(default_factory=list)
    ranking: dict = field(default_factory=dict)
    chart: dict = field(default_factory=dict)
    like_for_like: bool = False

    def as_dict(self) -> dict:
        return {"sessions": self.figures, "errors": self.errors, "notes": self.notes, "ranking": self.ranking,
                "chart": self.chart, "like_for_like": self.like_for_like,
                "energy_view": "gross (a remote session has no net energy: the server's idle is unknown)"}


def compare(folders, like_for_like: bool = False) -> Comparison:
    """Read the session folders and compare them (see the module docstring). A folder that cannot be
    read is in ``errors``; the rest are compared. Raises CompareError when fewer than two remain."""
    with shared_draws():  # sessions on one query set resample as many queries: drawn once
        sessions, errors = load_sessions(folders)
        return compare_loaded(sessions, errors, like_for_like)


def compare_loaded(sessions: list[LoadedSession], errors: list[dict] | None = None,
                   like_for_like: bool = False) -> Comparison:
    errors = list(errors or [])
    if len(sessions) < 2:
        why = "; ".join(e["error"] for e in errors)
        raise CompareError(f"need at least two readable sessions to compare, got {len(sessions)}"
                           + (f" ({why})" if why else ""))
    kept_as_is: list[str] = []
    if like_for_like:
        restated = [restate(s) if s.remote else s for s in sessions]
        kept_as_is = [s.label for s, r in zip(sessions, restated) if r is None]
        sessions = [r or s for s, r in zip(sessions, restated)]
    figs = []
    for s in sessions:
        try:
            figs.append(session_figures(s))
        except (TypeError, ValueError, ZeroDivisionError) as e:  # a journal with values of the wrong type
            errors.append({"folder": str(s.folder), "error": f"{s.folder / JOURNAL_FILE}: cannot compute "
                                                             f"its figures ({type(e).__name__}: {e})"})
    kept = [s for s in sessions if any(f["label"] == s.label for f in figs)]
    if len(kept) < 2:
        raise CompareError(f"need at least two readable sessions to compare, got {len(kept)}: "
                           + "; ".join(e["error"] for e in errors))
    comparability(kept, figs)
    notes = [f"{f['label']} is not comparable: {f['comparable_reason']}" for f in figs if not f["comparable"]]
    notes += [f"{f['label']}: {f['comparable_reason']}" for f in figs if f["comparable"] and f["comparable_reason"]]
    notes += _coverage_notes(figs)
    notes += boundary_notes(figs, kept, like_for_like)
    if kept_as_is:
        notes.append(f"like for like: {', '.join(kept_as_is)} kept as recorded (its server energy is not one cited "
                     "figure with an accelerator-only counterpart in the cited table)")
    est = [f["label"] for f in figs if f["energy"]["quality"] not in ("measured", "measured-remote", UNAVAILABLE)]
    if est:
        notes.append(f"not measured (an estimate or a model): the energy of {', '.join(est)}; every energy "
                     "figure of it is marked so")
    for f in figs:
        notes += [f"{f['label']}: {n}" for n in f["metrics_notes"]]
    return Comparison(kept, figs, errors, notes, _ranking(figs), chart_data(figs), like_for_like)


# ---- routing over a comparison -----------------------------------------------------------------------


def route(c: Comparison, cloud: list[str | os.PathLike] | None = None, alphas=None, tpr: float | None = None,
          fpr: float | None = None, local_electricity_usd_per_kwh: float | None = None,
          rounds: int | None = None, seed: int = 0) -> dict:
    """The routing what-if of the comparison's local sessions against each cloud side: the sessions named
    in ``cloud`` (folders or labels), else the remote ones. {"analyses": [...], "note": why none, or
    None}. Raises CompareError when a named cloud is not among the sessions, RoutingError for bad
    settings."""
    from . import routing

    kw: dict[str, Any] = {"alphas": alphas if alphas is not None else routing.DEFAULT_ALPHAS,
                          "tpr": routing.DEFAULT_TPR if tpr is None else tpr,
                          "fpr": routing.DEFAULT_FPR if fpr is None else fpr,
                          "local_electricity_usd_per_kwh": local_electricity_usd_per_kwh, "seed": seed}
    if rounds is not None:
        kw["rounds"] = rounds
    routing.check_settings(kw["alphas"], kw["tpr"], kw["fpr"])
    if cloud:
        clouds = [_find(c, x) for x in cloud]
    else:
        clouds = [s for s in c.sessions if s.remote]
    if not clouds:
        return {"analyses": [], "note": "no routing what-if: no session is remote (a cloud side), and none "
                                        "was named as the cloud side"}
    cloud_labels = {s.label for s in clouds}
    locals_ = [s for s in c.sessions if s.label not in cloud_labels and not s.remote]
    if not locals_:
        return {"analyses": [], "note": "no routing what-if: no local session beside the cloud side"}
    analyses = []
    for cl in clouds:
        a = routing.what_if([s.side() for s in locals_], cl.side(), **kw)
        labels = [s.label for s in locals_] + [cl.label]
        figs = {f["label"]: f for f in c.figures}
        a["energy_labels"] = {lab: figs[lab]["energy"] for lab in labels if lab in figs}
        if len({_like_key(figs[lab]["energy"]["boundary"]) for lab in labels if lab in figs}) > 1:
            a["notes"].append("the local and cloud energies do not cover the same boundary (see the boundary "
                              "notes): the energy savings compare unlike figures")
        if any(figs[lab]["energy"]["quality"] == "estimated" for lab in labels if lab in figs):
            a["notes"].append("some energy here is an estimate: the energy savings are estimates too")
        cited = (figs.get(cl.label) or {}).get("energy", {}).get("source") or ""
        if cited.startswith("cited:"):
            a["notes"].append("a cited figure already bakes in the provider's production batching; the "
                              "paper's cloud ran at batch size 16")
        analyses.append(a)
    return {"analyses": analyses, "note": None}


def compare_and_route(folders, like_for_like: bool = False, **route_kw) -> tuple[Comparison, dict]:
    """``compare(folders)`` and then ``route()`` on it, with their bootstraps drawing once where they
    resample as many queries (sessions on one query set, and the what-if over them): the figures are those
    of the two calls apart."""
    with shared_draws():
        c = compare(folders, like_for_like=like_for_like)
        return c, route(c, **route_kw)


def _find(c: Comparison, x) -> LoadedSession:
    p = Path(x)
    for s in c.sessions:
        if s.label == str(x) or (p.exists() and s.folder.resolve() == p.resolve()):
            return s
    raise CompareError(f"{x}: the cloud side must be one of the compared sessions")


__all__ = ["Comparison", "CompareError", "LoadedSession", "compare", "compare_loaded", "load_session",
           "load_sessions", "session_figures", "chart_data", "boundary_notes", "accelerator_counterpart",
           "restate", "route", "query_set"]


def plain(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, infinity) as None and tuples as lists: safe for JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
