"""Session export: queries.csv, samples.csv and summary.json, written with pandas.

One module serves the headless command and the app. Every energy column travels with its source and
quality columns; unavailable figures are empty cells (N/A), never 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .session import Session, SessionError, check_writable
from .summary import build_summary

QUERY_COLUMNS = [
    "query_id", "index", "dataset", "domain", "kind", "model", "backend", "accelerator", "status",
    "correct", "prediction", "reference", "prompt_tokens", "output_tokens", "ttft_s", "latency_s",
    "prefill_tps", "decode_tps", "energy_j", "energy_net_j", "avg_power_w", "energy_source",
    "energy_quality", "energy_flags", "counts_source", "scorer", "score_note", "finish_reason", "error",
    "cloud_pred", "wall_sent", "wall_last", "segment", "prompt", "answer",
]
SAMPLE_COLUMNS = ["time", "segment", "domain", "watts", "source", "quality"]


def queries_frame(records: list[dict]):
    import pandas as pd

    rows = []
    for r in records:
        row = {c: r.get(c) for c in QUERY_COLUMNS}
        row["energy_flags"] = ";".join(r.get("energy_flags") or []) or None
        rows.append(row)
    df = pd.DataFrame(rows, columns=QUERY_COLUMNS)
    # correct stays tri-state (True / False / empty for unscored): pandas' nullable boolean
    df["correct"] = df["correct"].astype("boolean")
    for c in ("prompt_tokens", "output_tokens", "index", "segment"):
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


def export_session(folder: str | os.PathLike, out: str | os.PathLike | None = None,
                   csv_file: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write the three export files for a session folder into ``out`` (default: the session folder).

    Raises SessionError with a one-line message when the destination cannot be written; nothing in the
    session folder itself is changed by a failed export.
    """
    session = Session.open(folder)
    dest = Path(out) if out is not None else session.folder
    check_writable(dest)
    journal = session.read_journal()
    records = [r for r in journal if r.get("type") == "query" and not r.get("warmup")]
    paths = {
        "queries": dest / "queries.csv",
        "samples": dest / "samples.csv",
        "summary": dest / "summary.json",
    }
    try:
        queries_frame(records).to_csv(paths["queries"], index=False)
        samples_frame(session).to_csv(paths["samples"], index=False)
        summary = build_summary(session.meta, journal)
        paths["summary"].write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
        if csv_file is not None:
            p = Path(csv_file)
            if p.parent and not p.parent.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
            queries_frame(records).to_csv(p, index=False)
            paths["csv"] = p
    except OSError as e:
        raise SessionError(f"{dest}: export failed ({e.strerror or e})") from None
    return paths
