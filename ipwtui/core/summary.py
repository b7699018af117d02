"""A session's figures from its journal: used live by the runner, and by the export, CLI and app."""

from __future__ import annotations

from .metrics import Metrics, QueryFigures, compute
from .record import OK, SKIPPED, ERROR, QueryRecord, records_of
from .sensors.base import UNAVAILABLE, worst_quality


def figures(records: list[QueryRecord], energy: str = "gross") -> list[QueryFigures]:
    return [
        QueryFigures(
            correct=r.correct,
            energy_j=r.energy(energy),
            latency_s=r.latency_s,
            output_tokens=r.output_tokens,
            domain=r.domain or "",
            counted=r.counted,
        )
        for r in records
    ]


def session_metrics(records: list[QueryRecord], ci: bool = True, rounds: int | None = None
                    ) -> dict[str, Metrics]:
    """Gross and net metrics of the non-warm-up query records."""
    qs = [r for r in records if not r.warmup]
    kw = {} if rounds is None else {"rounds": rounds}
    return {e: compute(figures(qs, e), energy=e, ci=ci, **kw) for e in ("gross", "net")}


def energy_totals(journal: list[dict]) -> dict:
    """Session energy bookkeeping summed over segments: total = counted + excluded + unattributed."""
    last: dict[int, dict] = {}
    for r in journal:
        if r.get("type") == "segment":
            last[r.get("segment", 0)] = r
    keys = ("total_j", "counted_j", "excluded_j", "unattributed_j", "idle_j", "seconds")
    out: dict = {k: None for k in keys}
    for k in keys:
        vals = [seg.get(k) for seg in last.values()]
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
    return out


def idle_power(journal: list[dict]) -> dict:
    """The idle baselines measured, per segment."""
    return {str(r.get("segment", 0)): {"idle_w": r.get("idle_w"), "seconds": r.get("seconds")}
            for r in journal if r.get("type") == "idle"}


def build_summary(meta: dict, journal: list[dict]) -> dict:
    """Everything summary.json holds."""
    queries = records_of(journal)
    m = session_metrics(queries)
    counted = [r for r in queries if not r.warmup]
    quals = [r.energy_quality for r in counted if r.energy_quality]
    return {
        "session": meta.get("id"),
        "status": meta.get("status"),
        "model": meta.get("model"),
        "backend": meta.get("backend"),
        "accelerator": meta.get("accelerator"),
        "queries": {
            "planned": len(meta.get("query_ids") or []),
            "finished": len(counted),
            "ok": sum(1 for r in counted if r.status == OK),
            "skipped": sum(1 for r in counted if r.status == SKIPPED),
            "errors": sum(1 for r in counted if r.status == ERROR),
            "warmup": len(queries) - len(counted),
        },
        "energy_quality": worst_quality(quals) if quals else UNAVAILABLE,
        "energy_source": meta.get("energy_source"),
        "metrics": {k: v.as_dict() for k, v in m.items()},
        "energy": energy_totals(journal),
        "idle": idle_power(journal),
        "settings": meta.get("settings"),
        "sensors": meta.get("capabilities"),
        "provenance": meta.get("provenance"),
    }


def figure_rows(summary: dict) -> list[tuple[str, str, str]]:
    """The summary's headline figures as (name, gross, net) text, each energy figure marked with its
    quality: the one list the terminal summary and the Markdown report both print."""
    from . import fmt

    mk = fmt.mark(summary.get("energy_quality"))
    mg, mn = summary["metrics"]["gross"], summary["metrics"]["net"]
    rows = [("accuracy", f"{fmt.pct(mg.get('accuracy'))} ({mg.get('n_correct')}/{mg.get('n_scored')} scored, "
                         f"{mg.get('n_unscored')} unscored)", "")]
    for name, key, unit, ci_key in (
            ("IPW (1/W)", "ipw", "", "ipw_ci"), ("IPJ (1/J)", "ipj", "", "ipj_ci"),
            ("mean power", "mean_power_w", "W", None), ("mean energy per query", "mean_energy_j", "J", None),
            ("J per output token", "j_per_output_token", "J", None),
            ("J per correct answer", "j_per_correct", "J", None), ("tokens per J", "tokens_per_joule", "", None)):
        cells = []
        for m in (mg, mn):
            c = fmt.num(m.get(key), 3, unit)
            if ci_key and m.get(ci_key):
                c += " " + fmt.ci(m[ci_key])
            cells.append(c)
        rows.append((name + mk, cells[0], cells[1]))
    return rows
