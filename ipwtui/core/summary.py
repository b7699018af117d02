"""A session's figures from its journal: used live by the runner, and by the export, CLI and app."""

from __future__ import annotations

from .metrics import Metrics, QueryFigures, compute, shared_draws
from .record import ERROR, OK, REMOTE, SKIPPED, QueryRecord, final_attempts, records_of
from .sensors.base import UNAVAILABLE, worst_quality


def figures(records: list[QueryRecord], energy: str = "gross") -> list[QueryFigures]:
    """What the metrics need from each record, for gross or net energy. A remote query's energy is the
    server's (with its estimate's range, when it has one); the prefill/decode split is this machine's
    and exists for local queries only."""
    out = []
    gross = energy == "gross"
    for r in records:
        remote = r.where == REMOTE
        ranged = remote and gross
        out.append(QueryFigures(
            correct=r.correct,
            energy_j=r.energy(energy),
            latency_s=r.latency_s,
            output_tokens=r.output_tokens,
            domain=r.domain or "",
            counted=r.status == OK and not r.warmup,  # (r.counted, written out: called per record a lot)
            prompt_tokens=r.prompt_tokens,
            prefill_j=None if remote or r.prefill_energy_j is None else _part(r, "prefill", energy),
            decode_j=None if remote or r.decode_energy_j is None else _part(r, "decode", energy),
            energy_low_j=r.server_energy_low_j if ranged else None,
            energy_high_j=r.server_energy_high_j if ranged else None,
            contended="contended" in r.energy_flags,
            cost_usd=r.cost_usd,
        ))
    return out


def _part(r: QueryRecord, which: str, energy: str) -> float | None:
    """The prefill [sent, first token] or decode [first token, done] part of a local query's energy, gross
    or net (the part less the idle power, P_idle = (gross - net) / latency, times the part's length)."""
    part = r.prefill_energy_j if which == "prefill" else r.decode_energy_j
    if part is None or energy == "gross":
        return part
    if None in (r.energy_j, r.energy_net_j, r.latency_s, r.wall_sent, r.wall_first, r.wall_done) \
            or not r.latency_s:
        return None
    idle_w = (r.energy_j - r.energy_net_j) / r.latency_s  # type: ignore[operator]
    span = (r.wall_first - r.wall_sent) if which == "prefill" else (r.wall_done - r.wall_first)  # type: ignore[operator]
    return part - idle_w * span


def session_metrics(records: list[QueryRecord], ci: bool = True, rounds: int | None = None
                    ) -> dict[str, Metrics]:
    """Gross and net metrics of the non-warm-up query records."""
    qs = [r for r in records if not r.warmup]
    kw = {} if rounds is None else {"rounds": rounds}
    with shared_draws():  # gross and net resample the same queries, mostly: drawn once
        return {e: compute(figures(qs, e), energy=e, ci=ci, **kw) for e in ("gross", "net")}


def energy_totals(journal: list) -> dict:
    """This machine's energy bookkeeping summed over segments: total = counted + excluded + unattributed
    (+ a duel partner's windows)."""
    last: dict[int, dict] = {}
    for r in journal:
        if type(r) is dict and r.get("type") == "segment":  # (a journal's entries: records are not)
            last[r.get("segment", 0)] = r
    duel = any("partner" in seg for seg in last.values())
    keys = ("total_j", "counted_j", "excluded_j", "unattributed_j", "idle_j", "seconds") + \
        (("partner_j",) if duel else ())
    out: dict = {k: None for k in keys}
    for k in keys:
        vals = [seg.get(k, 0.0 if k == "partner_j" else None) for seg in last.values()]
        if vals and all(v is not None for v in vals):
            out[k] = sum(vals)
    out["segments"] = len(last)
    qs = [seg.get("quality") for seg in last.values() if seg.get("quality")]
    out["quality"] = worst_quality(qs) if qs else UNAVAILABLE
    srcs = []
    for seg in last.values():
        for s in (seg.get("source") or "").split("+"):
            if s and s not in srcs:
                srcs.append(s)
    out["source"] = "+".join(srcs)
    out["boundary"] = _joined(seg.get("boundary") for seg in last.values())
    if duel:
        out["partner"] = next(seg.get("partner") for seg in last.values() if "partner" in seg)
    return out


def idle_power(journal: list) -> dict:
    """The idle baselines measured, per segment."""
    return {str(r.get("segment", 0)): {"idle_w": r.get("idle_w"), "seconds": r.get("seconds")}
            for r in journal if type(r) is dict and r.get("type") == "idle"}


def energy_label_of(records: list[QueryRecord]) -> tuple[str | None, str, str | None]:
    """(source, quality, boundary) of the energy of these queries: that of the ones that have one (the
    server's for a remote query), the worst quality among them; a query with none (failed, or N/A) does
    not turn the label to N/A. Unavailable when none has any."""
    labels = [r.energy_label for r in records if r.energy("gross") is not None]
    if not labels:
        return None, UNAVAILABLE, None
    return (_joined(src for src, _, _ in labels), worst_quality([q for _, q, _ in labels]),
            _joined(b for _, _, b in labels))


def _joined(values) -> str | None:
    out: list[str] = []
    for v in values:
        for part in (v or "").split("+"):
            if part and part not in out:
                out.append(part)
    return "+".join(out) or None


def build_summary(meta: dict, journal: list, records: list[QueryRecord] | None = None) -> dict:
    """Everything summary.json holds, from a journal (its dicts, or ``Session.read_entries()``).
    ``records``: ``records_of(journal)`` (warm-up included) when the caller has it already (reading 10,000
    records twice is most of the time here)."""
    queries = records if records is not None else records_of(journal)
    m = session_metrics(queries)
    attempts = [r for r in queries if not r.warmup]
    counted = final_attempts(attempts)
    # the energy the figures use: the server's for a remote session, this machine's otherwise; its
    # quality is that of the queries that have one (how many do is said apart, never folded into it)
    source, quality, boundary = energy_label_of(counted)
    remote = any(r.remote for r in counted) or meta.get("where") == "remote"
    out = {
        "session": meta.get("id"),
        "status": meta.get("status"),
        "stop_reason": meta.get("stop_reason"),
        "model": meta.get("model"),
        "backend": meta.get("backend"),
        "where": "remote" if remote else "local",
        "accelerator": meta.get("accelerator"),
        "queries": {
            "planned": len(meta.get("query_ids") or []),
            "finished": len(counted),
            "ok": sum(1 for r in counted if r.status == OK),
            "skipped": sum(1 for r in counted if r.status == SKIPPED),
            "errors": sum(1 for r in counted if r.status == ERROR),
            "failed_attempts": sum(1 for r in attempts if r.status == ERROR) - sum(1 for r in counted
                                                                                  if r.status == ERROR),
            "warmup": len(queries) - len(attempts),
            "with_energy": m["gross"].n_with_energy,
            "contended": m["gross"].n_contended,
        },
        "energy_quality": quality,
        "energy_source": source,
        "energy_boundary": boundary,
        "metrics": {k: v.as_dict() for k, v in m.items()},
        "energy": energy_totals(journal),
        "idle": idle_power(journal),
        "server_energy": meta.get("server_energy"),
        "prices": meta.get("prices"),
        "settings": meta.get("settings"),
        "sensors": meta.get("capabilities"),
        "provenance": meta.get("provenance"),
    }
    if remote:  # what this machine spent waiting, beside the server's figures
        client = [r for r in counted if r.client_energy("gross") is not None]
        out["client_energy"] = {
            "total_j": sum(r.client_energy("gross") or 0.0 for r in client) if client else None,
            "queries": len(client),
            "source": _joined(r.energy_source for r in client),
            "quality": worst_quality([r.energy_quality for r in client]) if client else UNAVAILABLE,
            "boundary": _joined(r.energy_boundary for r in client),
        }
    return out


def bookkeeping_rows(summary: dict) -> tuple[str, list[tuple[str, str]]]:
    """The energy bookkeeping of this machine as (title, [(part, J)]): the one list the terminal summary
    and the Markdown report print. For a remote session it is the client's (what this machine spent while
    it waited), not the figures' energy, which is the server's."""
    from . import fmt

    en = summary.get("energy") or {}
    mk = fmt.mark(en.get("quality"))
    remote = summary.get("where") == "remote"
    title = "this machine's energy bookkeeping (gross" + (", the client's: the figures use the server's"
                                                          if remote else "") + ")"
    rows = [("counted query windows", fmt.num(en.get("counted_j"), 4, "J")),
            ("warm-up, skipped and failed windows", fmt.num(en.get("excluded_j"), 4, "J"))]
    if "partner_j" in en:
        rows.append(("the other side's windows (a duel)", fmt.num(en.get("partner_j"), 4, "J")))
    rows += [("unattributed (between windows)", fmt.num(en.get("unattributed_j"), 4, "J")),
             (f"total{mk}", fmt.num(en.get("total_j"), 4, "J")),
             ("source", f"{en.get('source') or fmt.NA} ({en.get('quality')}, {en.get('boundary') or fmt.NA})")]
    return title, rows


def coverage(m: dict) -> str:
    """How many queries an energy figure covers, when not all of them, and the accuracy of those (the one
    IPW and IPJ use): " over 3 of 6 queries (their accuracy 66.7 %)"."""
    from . import fmt

    n, k = m.get("n") or 0, m.get("n_with_energy") or 0
    if k == n:
        return ""
    return f" over {k} of {n} queries (their accuracy {fmt.pct(m.get('accuracy_with_energy'))})"


def figure_rows(summary: dict) -> list[tuple[str, str, str]]:
    """The summary's headline figures as (name, gross, net) text, each energy figure marked with its
    quality and how many queries it covers: the one list the terminal summary and the Markdown report
    both print."""
    from . import fmt

    mk = fmt.mark(summary.get("energy_quality"))
    mg, mn = summary["metrics"]["gross"], summary["metrics"]["net"]
    rows = [("accuracy", f"{fmt.pct(mg.get('accuracy'))} ({mg.get('n_correct')}/{mg.get('n_scored')} scored, "
                         f"{mg.get('n_unscored')} unscored)", "")]
    for name, key, unit, ci_key in (
            ("IPW (1/W)", "ipw", "", "ipw_ci"), ("IPJ (1/J)", "ipj", "", "ipj_ci"),
            ("mean power", "mean_power_w", "W", None), ("mean energy per query", "mean_energy_j", "J", None),
            ("J per output token", "j_per_output_token", "J", None),
            ("J per prompt token (prefill)", "prefill_j_per_prompt_token", "J", None),
            ("J per output token (decode)", "decode_j_per_output_token", "J", None),
            ("J per correct answer", "j_per_correct", "J", None), ("tokens per J", "tokens_per_joule", "", None)):
        cells = []
        for m in (mg, mn):
            c = fmt.num(m.get(key), 3, unit)
            if ci_key and m.get(ci_key):
                c += " " + fmt.ci(m[ci_key])
            rng = m.get(f"{key}_range") if ci_key else None
            if rng:  # the estimate's own range, which the interval (when there is one) already carries
                c += f" (estimate's range {fmt.num(rng[0], 3)} to {fmt.num(rng[1], 3)})"
            if m.get(key) is not None:
                c += coverage(m)
            cells.append(c)
        rows.append((name + mk, cells[0], cells[1]))
    if mg.get("n_with_cost"):
        rows.append(("cost per query", fmt.usd(mg.get("cost_per_query")), ""))
        rows.append(("cost per correct answer", fmt.usd(mg.get("cost_per_correct")), ""))
        rows.append(("accuracy per dollar", fmt.num(mg.get("accuracy_per_dollar"), 3), ""))
    if mg.get("n_contended"):
        rows.append(("contended windows", f"{mg['n_contended']} of {mg.get('n')} (other processes took a "
                                          "large share of the CPU)", ""))
    return rows
