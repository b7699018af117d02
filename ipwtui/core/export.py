"""Session export: queries.csv, samples.csv and summary.json, written with pandas.

One module serves the headless command and the app. Every energy column travels with its source and
quality columns; unavailable figures are empty cells (N/A), never 0.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .outfile import MARK, OutputError, check_replaceable, csv_header_is, json_summary, markdown_of_ipwtui, write_atomic
from .record import QueryRecord, records_of
from .session import Session, SessionError, check_writable, shown_status
from .summary import bookkeeping_rows, build_summary, figure_rows

# the columns of queries.csv, in order: each is a QueryRecord field or property (lists are joined with ";").
# energy_* is this machine's energy over the query's window; server_energy_* the server's (remote queries)
QUERY_COLUMNS = [
    "query_id", "index", "attempt", "dataset", "domain", "kind", "model", "backend", "where", "accelerator",
    "status", "correct", "prediction", "reference", "prompt_tokens", "output_tokens", "ttft_s", "last_token_s",
    "latency_s", "prefill_tps", "decode_tps", "energy_j", "energy_net_j", "avg_power_w",
    "prefill_energy_j", "decode_energy_j", "energy_source", "energy_quality", "energy_boundary",
    "energy_flags", "others_cpu_share", "server_energy_j", "server_energy_low_j", "server_energy_high_j",
    "server_energy_source", "server_energy_quality", "server_energy_boundary", "server_energy_flags",
    "cost_usd", "cost_source", "counts_source", "scorer", "score_note", "finish_reason", "error",
    "cloud_pred", "peak_memory_bytes", "wall_sent", "wall_first", "wall_last", "wall_done", "segment",
    "prompt", "answer",
]
_LIST_COLUMNS = ("energy_flags", "server_energy_flags")
SAMPLE_COLUMNS = ["time", "segment", "domain", "watts", "source", "quality"]


def finite(x):
    """``x`` with every non-finite float (nan, inf) as None: JSON has no such numbers, and a figure that is
    not a number is unavailable (N/A)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    return x


def queries_frame(records: list[QueryRecord]):
    import pandas as pd

    rows = []
    for r in records:
        row = {c: getattr(r, c) for c in QUERY_COLUMNS}
        for c in _LIST_COLUMNS:
            row[c] = ";".join(row[c] or []) or None
        rows.append(row)
    df = pd.DataFrame(rows, columns=QUERY_COLUMNS)
    # correct stays tri-state (True / False / empty for unscored): pandas' nullable boolean
    df["correct"] = df["correct"].astype("boolean")
    for c in ("prompt_tokens", "output_tokens", "index", "segment", "attempt", "peak_memory_bytes"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
    return df


def samples_frame(session: Session):
    import pandas as pd

    doms = {d.get("domain"): d for d in (session.meta.get("domains") or [])}
    rows = session.read_power()
    df = pd.DataFrame(rows, columns=["time", "segment", "domain", "watts"])
    df["source"] = df["domain"].map(lambda d: doms.get(d, {}).get("source"))
    df["quality"] = [
        (doms.get(d, {}).get("quality") if w is not None and w == w else "unavailable")
        for d, w in zip(df["domain"], df["watts"])
    ]
    return df[SAMPLE_COLUMNS]


def report_markdown(summary: dict) -> str:
    """A short human report of a session's summary: headline figures, bookkeeping, accuracy by domain,
    provenance. Every energy figure carries its quality; unavailable figures read N/A."""
    from . import fmt

    q = summary.get("energy_quality")
    model = summary.get("model") or {}
    mg = summary["metrics"]["gross"]
    qs = summary["queries"]
    remote = summary.get("where") == "remote"
    out = [f"# ipwtui session {summary.get('session') or ''}".rstrip(), "", f"<!-- {MARK} -->", "",
           f"- model: {model.get('name', fmt.NA)} ({model.get('quantization') or fmt.NA}), "
           f"sha256 {model.get('sha256') or fmt.NA}",
           f"- backend: {summary.get('backend')} ({summary.get('where')}), accelerator: {summary.get('accelerator')}",
           f"- the figures' energy{' (the server' + chr(39) + 's)' if remote else ''}: "
           f"{summary.get('energy_source') or fmt.NA}, quality: **{q}**, boundary: "
           f"{summary.get('energy_boundary') or fmt.NA}"
           + (" — every energy figure below is an estimate, not a measurement" if q == "estimated" else ""),
           f"- queries: {qs['ok']} answered, {qs['skipped']} skipped, {qs['errors']} errors, "
           f"{qs['warmup']} warm-up (of {qs['planned']} planned); status {summary.get('status')}", "",
           "| figure | gross | net |", "|---|---|---|"]
    out += [f"| {name} | {g} | {n} |" for name, g, n in figure_rows(summary)]
    title, parts = bookkeeping_rows(summary)
    out += ["", f"{title[0].upper()}{title[1:]}: " + "; ".join(f"{p} {v}" for p, v in parts) + ".",
            "", "| domain | n | scored | correct | accuracy |", "|---|---|---|---|---|"]
    for d, v in sorted((mg.get("per_domain") or {}).items()):
        out.append(f"| {d} | {v['n']} | {v['scored']} | {v['correct']} | {fmt.pct(v['accuracy'])} |")
    prov = summary.get("provenance") or {}
    out += ["", "Provenance: " + ", ".join(f"{k} {v}" for k, v in prov.items() if not isinstance(v, dict)), ""]
    return "\n".join(out)


def export_session(folder: str | os.PathLike, out: str | os.PathLike | None = None,
                   csv_file: str | os.PathLike | None = None, report: bool = False) -> dict[str, Path]:
    """Write the three export files for a session folder into ``out`` (default: the session folder),
    and with ``report`` a Markdown report (report.md) too.

    Raises SessionError with a one-line message when the destination cannot be written; nothing in the
    session folder itself is changed by a failed export.
    """
    session = Session.open(folder)
    dest = Path(out) if out is not None else session.folder
    check_writable(dest)
    journal = session.read_entries()
    every = records_of(journal)
    records = [r for r in every if not r.warmup]
    paths = {
        "queries": dest / "queries.csv",
        "samples": dest / "samples.csv",
        "summary": dest / "summary.json",
    }
    csv_q = csv_header_is(QUERY_COLUMNS)
    plan = [(paths["queries"], csv_q, "a query table"),
            (paths["samples"], csv_header_is(SAMPLE_COLUMNS), "a sample table"),
            (paths["summary"], json_summary, "a summary")]
    if report:
        paths["report"] = dest / "report.md"
        plan.append((paths["report"], markdown_of_ipwtui, "a report"))
    if csv_file is not None:
        paths["csv"] = Path(csv_file)
        plan.append((paths["csv"], csv_q, "a query table"))
    try:
        for p, ours, what in plan:  # every destination checked before the first is written
            check_replaceable(p, ours, what)
    except OutputError as e:
        raise SessionError(str(e)) from None
    try:
        queries_csv = queries_frame(records).to_csv(index=False)
        write_atomic(paths["queries"], queries_csv)
        write_atomic(paths["samples"], samples_frame(session).to_csv(index=False))
        # a session killed while running still says "running" in its file: the summary says what it is now
        meta = dict(session.meta, status=shown_status(session.meta, session.folder))
        summary = build_summary(meta, journal, every)
        write_atomic(paths["summary"], json.dumps(finite(summary), indent=2, default=str, allow_nan=False) + "\n")
        if report:
            write_atomic(paths["report"], report_markdown(summary))
        if csv_file is not None:
            write_atomic(paths["csv"], queries_csv)
    except OSError as e:
        where = getattr(e, "filename", None) or dest
        raise SessionError(f"{where}: export failed ({e.strerror or e})") from None
    return paths
