"""What a report needs from a session folder, read once: meta, summary, query records, power samples.

Also the headline figures as text (value, interval, coverage, estimate mark), shared by the HTML and the
Markdown report so that both say the same thing.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..core import fmt
from ..core.metrics import MIN_QUERIES_FOR_CI
from ..core.leaderboard import Entry, QuerySet, cached_summary, entry_from, query_set_of, target_of
from ..core.record import OK, QueryRecord
from ..core.sensors.base import ESTIMATED, MODEL_BASED, UNAVAILABLE

VIEWS = ("gross", "net")


class ReportError(Exception):
    """A report cannot be made or written. ``str()`` is one line."""


@dataclass
class DomainStats:
    """One query domain's figures (counted queries)."""

    n: int = 0
    scored: int = 0
    correct: int = 0
    energies: list[float] = field(default_factory=list)
    powers: list[float] = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None

    @property
    def mean_energy_j(self) -> float | None:
        return sum(self.energies) / len(self.energies) if self.energies else None

    @property
    def mean_power_w(self) -> float | None:
        return sum(self.powers) / len(self.powers) if self.powers else None


@dataclass
class PowerTrace:
    """One power domain's samples on the report's time axis (seconds, segments joined end to end)."""

    domain: str
    t: Any  # numpy array
    w: Any  # numpy array; NaN where the sample was N/A
    source: str = ""
    quality: str = UNAVAILABLE
    boundary: str = ""


@dataclass
class ReportSession:
    folder: Path
    meta: dict
    summary: dict
    view: str
    records: list[QueryRecord]  # counted queries (answered, not warm-up), in journal order
    traces: list[PowerTrace]
    idle_spans: list[tuple[str, float, float, float]]  # (domain, x0, x1, idle W) per segment
    segment_starts: list[float]  # x of each segment after the first (segments joined)
    n_samples: int = 0
    number: int = 1  # position in the report, from 1
    segment_origin: dict[int, tuple[float, float]] = field(default_factory=dict)  # segment -> (t0, x0)

    def windows(self) -> list[tuple[float, float]]:
        """Each counted query's window [sent, done] on the power chart's time axis."""
        out = []
        for r in self.records:
            origin = self.segment_origin.get(r.segment)
            if origin is None or r.wall_sent is None or r.wall_done is None:
                continue
            t0, x0 = origin
            out.append((r.wall_sent - t0 + x0, r.wall_done - t0 + x0))
        return out

    @property
    def name(self) -> str:
        return str(self.meta.get("id") or self.folder.name)

    @property
    def model(self) -> str:
        m = self.meta.get("model") or {}
        return str(m.get("name") if isinstance(m, dict) else m or "?")

    @property
    def target(self) -> str:
        return target_of(self.meta)

    @property
    def heading(self) -> str:
        """"NAME: MODEL on TARGET" (the model left out when the session's name already says it)."""
        who = self.name if self.model in self.name else f"{self.name}: {self.model}"
        return f"{who} on {self.target}"

    @property
    def quality(self) -> str:
        return self.summary.get("energy_quality") or UNAVAILABLE

    @property
    def query_set(self) -> QuerySet:
        return query_set_of(self.meta)

    @property
    def metrics(self) -> dict:
        return (self.summary.get("metrics") or {}).get(self.view) or {}

    @property
    def entry(self) -> Entry:
        return entry_from(self.folder, self.meta, self.summary, self.view, "journal")

    def per_domain(self) -> dict[str, DomainStats]:
        out: dict[str, DomainStats] = {}
        for r in self.records:
            d = out.setdefault(r.domain or "-", DomainStats())
            d.n += 1
            if r.correct is not None:
                d.scored += 1
                d.correct += int(bool(r.correct))
            e, p = r.energy(self.view), r.power(self.view)
            if e is not None and p is not None:
                d.energies.append(e)
                d.powers.append(p)
        return dict(sorted(out.items()))


# ---- reading ---------------------------------------------------------------------------------------


def read_power_frame(path: Path):
    """power.csv as a DataFrame (time, segment, domain, watts); a torn last line and malformed rows are
    dropped, an empty watts cell is NaN (N/A, never 0). Read with pandas: a long session has millions of
    samples."""
    import pandas as pd

    cols = ["time", "segment", "domain", "watts"]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return pd.DataFrame(columns=cols)
    except OSError as e:
        raise ReportError(f"{path}: cannot read ({e.strerror or e})") from None
    data = data[: data.rfind(b"\n") + 1]  # a line cut short by a kill
    if not data.strip():
        return pd.DataFrame(columns=cols)
    df = pd.read_csv(io.BytesIO(data), names=cols, header=None, skiprows=1, dtype={"domain": str},
                     on_bad_lines="skip", engine="c")
    for c in ("time", "segment", "watts"):
        if not pd.api.types.is_numeric_dtype(df[c]):  # a malformed cell somewhere: that column by hand
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df.dropna(subset=["time", "segment", "domain"])


def power_traces(folder: Path, meta: dict, idle: dict) -> tuple[list[PowerTrace], list, list[float], int, dict]:
    """Per-domain traces on one time axis where each segment (a resumed run) follows the previous one
    without the gap between runs; the idle baseline of each segment as spans on that axis."""
    import numpy as np

    df = read_power_frame(folder / "power.csv")
    if df.empty:
        return [], [], [], 0, {}
    doms = {d.get("domain") or d.get("name"): d for d in meta.get("domains") or []}
    x = np.empty(len(df))
    t = df["time"].to_numpy(dtype=float)
    seg = df["segment"].to_numpy(dtype=float)
    spans, starts, offset = [], [], 0.0
    origin: dict[int, tuple[float, float]] = {}
    for k, s in enumerate(sorted(set(seg.tolist()))):
        mask = seg == s
        t0, t1 = float(t[mask].min()), float(t[mask].max())
        x[mask] = t[mask] - t0 + offset
        origin[int(s)] = (t0, offset)
        if k:
            starts.append(offset)
        idle_w = ((idle.get(str(int(s))) or {}).get("idle_w") or {})
        for dom, w in idle_w.items():
            if isinstance(w, (int, float)):
                spans.append((dom, offset, offset + (t1 - t0), float(w)))
        offset += t1 - t0
    df = df.assign(x=x)
    traces = []
    for dom, g in df.groupby("domain", sort=True):
        g = g.sort_values("x", kind="stable")
        info = doms.get(dom, {})
        traces.append(PowerTrace(str(dom), g["x"].to_numpy(dtype=float), g["watts"].to_numpy(dtype=float),
                                 info.get("source") or "", info.get("quality") or UNAVAILABLE,
                                 info.get("boundary") or ""))
    return traces, spans, starts, len(df), origin


def default_view(metas: list[dict]) -> str:
    """The energy view of the report: the sessions' own when they agree, else gross."""
    views = {(m.get("settings") or {}).get("energy_view") or "gross" for m in metas}
    return views.pop() if len(views) == 1 and views <= set(VIEWS) else "gross"


def load_sessions(folders: Iterable[str | os.PathLike], view: str | None = None) -> list[ReportSession]:
    """Read every session folder; ReportError (one line) for the first that cannot be read."""
    from ..core.session import Session, SessionError
    from ..core.record import final_attempts
    from ..core.summary import build_summary
    from ..core.record import records_of

    folders = [Path(f) for f in folders]
    if not folders:
        raise ReportError("no session folder given")
    if view is not None and view not in VIEWS:
        raise ReportError(f"unknown energy view {view!r} (gross or net)")
    opened = []
    for f in folders:
        try:
            s = Session.open(f)
            journal = s.read_entries()
        except SessionError as e:
            raise ReportError(str(e)) from None
        except OSError as e:
            raise ReportError(f"{f}: cannot read the session ({e.strerror or e})") from None
        opened.append((s, journal))
    v = view or default_view([s.meta for s, _ in opened])
    out = []
    for k, (s, journal) in enumerate(opened, 1):
        try:
            # summary.json when it is not older than the journal (what the run wrote), else built afresh
            summary = cached_summary(s.folder) or build_summary(s.meta, journal)
            records = [r for r in final_attempts(records_of(journal, include_warmup=False)) if r.status == OK]
            traces, spans, starts, n, origin = power_traces(s.folder, s.meta, summary.get("idle") or {})
        except ReportError:
            raise
        except Exception as e:  # a journal or power file this version cannot make sense of
            raise ReportError(f"{s.folder}: cannot read the session ({type(e).__name__}: {e})") from None
        out.append(ReportSession(s.folder, s.meta, summary, v, records, traces, spans, starts, n, k, origin))
    return out


def check_target(path: Path, ours=None, what: str = "a report") -> None:
    """ReportError (one line) unless ``path`` may be written: absent, empty or a file ipwtui wrote."""
    from ..core.outfile import OutputError, check_replaceable, has_mark

    try:
        check_replaceable(path, ours or has_mark, what)
    except OutputError as e:
        raise ReportError(str(e)) from None


def write_text(path: Path, text: str, ours=None, what: str = "a report") -> Path:
    """Write a report file whole (a temporary file and one rename); ReportError (one line) when it must not
    be replaced (it exists and ipwtui did not write it) or cannot be written."""
    from ..core.outfile import write_atomic

    check_target(path, ours, what)
    try:
        write_atomic(path, text)
    except OSError as e:
        raise ReportError(f"{path}: cannot write the report ({e.strerror or e})") from None
    return path


# ---- figures as text -------------------------------------------------------------------------------


def estimate_word(quality: str | None) -> str:
    """The word that marks a figure that is not a measurement ("" for measured ones)."""
    if quality == ESTIMATED:
        return "estimate"
    if quality == MODEL_BASED:
        return "model-based"
    if quality in (None, UNAVAILABLE):
        return "N/A"
    return ""


def is_estimate(quality: str | None) -> bool:
    return quality in (ESTIMATED, MODEL_BASED)


@dataclass
class Cell:
    """A figure as text: value, its 95 % interval, how many queries it covers, and whether it is an
    estimate."""

    value: str
    interval: str = ""
    coverage: str = ""
    estimate: str = ""  # "estimate", "model-based" or ""

    @property
    def plain(self) -> str:
        parts = [self.value]
        if self.interval:
            parts.append(self.interval)
        if self.coverage:
            parts.append(f"({self.coverage})")
        if self.estimate and self.value != fmt.NA:
            parts.append(f"({self.estimate})")
        return " ".join(parts)


@dataclass
class Row:
    name: str
    gross: Cell
    net: Cell | None  # None: the same figure in both views (accuracy)


HEADLINE = (  # name, metrics key, unit, interval key
    ("IPW (1/W)", "ipw", "", "ipw_ci"),
    ("IPJ (1/J)", "ipj", "", "ipj_ci"),
    ("mean power", "mean_power_w", "W", None),
    ("mean energy per query", "mean_energy_j", "J", None),
    ("J per output token", "j_per_output_token", "J", None),
    ("J per prompt token (prefill)", "prefill_j_per_prompt_token", "J", None),
    ("J per output token (decode)", "decode_j_per_output_token", "J", None),
    ("J per correct answer", "j_per_correct", "J", None),
    ("tokens per J", "tokens_per_joule", "", None),
)


def covers(m: dict) -> str:
    """How many queries an energy figure covers: "6 queries", or "3 of 6 queries"."""
    n, k = m.get("n") or 0, m.get("n_with_energy") or 0
    return f"{k:,} queries" if k == n else f"{k:,} of {n:,} queries"


def accuracy_cell(m: dict) -> Cell:
    ci = m.get("accuracy_ci")
    return Cell(fmt.pct(m.get("accuracy")), f"[{fmt.pct(ci[0])}, {fmt.pct(ci[1])}]" if ci else "",
                f"{m.get('n_correct', 0)}/{m.get('n_scored', 0)} scored, {m.get('n_unscored', 0)} unscored")


def figure_cell(m: dict, key: str, unit: str, ci_key: str | None, quality: str | None) -> Cell:
    v = m.get(key)
    ci = m.get(ci_key) if ci_key else None
    rng = m.get(f"{key}_range") if ci_key else None
    interval = fmt.ci(ci) if ci and v is not None else ""
    if rng and v is not None:  # the estimate's own range, shown even where there is no interval yet
        interval = (interval + " " if interval else "") + f"(estimate's range {fmt.num(rng[0], 3)} to " \
                                                         f"{fmt.num(rng[1], 3)})"
    return Cell(fmt.num(v, 3, unit), interval, covers(m) if v is not None else "",
                estimate_word(quality) if is_estimate(quality) else "")


def headline_rows(summary: dict) -> list[Row]:
    """The headline figures, gross and net, each with its interval, coverage and estimate mark."""
    q = summary.get("energy_quality")
    mg = (summary.get("metrics") or {}).get("gross") or {}
    mn = (summary.get("metrics") or {}).get("net") or {}
    rows = [Row("accuracy", accuracy_cell(mg), None)]
    for name, key, unit, ci_key in HEADLINE:
        rows.append(Row(name, figure_cell(mg, key, unit, ci_key, q), figure_cell(mn, key, unit, ci_key, q)))
    if mg.get("n_with_cost"):
        rows.append(Row("cost per query", Cell(fmt.usd(mg.get("cost_per_query"))), None))
        rows.append(Row("cost per correct answer", Cell(fmt.usd(mg.get("cost_per_correct"))), None))
    return rows


def interval_note(summary: dict) -> str:
    """Why a session's figures have no interval, or what their interval includes."""
    mg = (summary.get("metrics") or {}).get("gross") or {}
    if mg.get("energy_range"):
        if not mg.get("ipw_ci"):
            return (f"no bootstrap interval: fewer than {MIN_QUERIES_FOR_CI} queries with energy; the energy "
                    "estimate's own range is shown")
        return "intervals include the range of the energy estimates"
    if mg.get("ipw") is not None and not mg.get("ipw_ci"):
        return f"no interval: fewer than {MIN_QUERIES_FOR_CI} queries with energy"
    return ""


def model_of(meta: dict) -> dict:
    """The session's model description (a dict even when the session recorded only a name)."""
    m = meta.get("model")
    return m if isinstance(m, dict) else {"name": m}


def machine_of(meta: dict) -> dict:
    prov = meta.get("provenance") or {}
    m = prov.get("machine") if isinstance(prov, dict) else None
    return m if isinstance(m, dict) else {}


def when(ts: Any) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if isinstance(ts, (int, float)) else fmt.NA
