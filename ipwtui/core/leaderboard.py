"""The leaderboard: every session under a folder, side by side, ranked only where ranking means something.

Sessions are grouped by **query set** (the query file's name and a digest of the query ids): sessions
whose query sets differ are never ranked together, each query set is its own table. Inside a query set,
each row is one session, labelled with its model and its accelerator (or, for a remote session, its
target). A session is ranked (by IPW) only when every planned query is answered (none failed: a session whose
hard queries failed would otherwise look better on the rest); a partial session is listed
without a rank. Rows whose energy boundaries or qualities differ within a query set are
ranked together only with a note saying so.

Figures come from the session's summary.json when it exists and is at least as new as its journal (fast),
otherwise from its journal (build_summary: slower, a bootstrap per session). Nothing is ever written into a
session folder. A folder that cannot be read is listed as unreadable with the reason, never raised.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from .sensors.base import UNAVAILABLE

SUMMARY_FILE = "summary.json"
VIEWS = ("gross", "net")

# sortable columns: key -> (title, higher is better: the default direction is descending)
COLUMNS: dict[str, tuple[str, bool]] = {
    "rank": ("rank", False),
    "ipw": ("IPW (1/W)", True),
    "ipj": ("IPJ (1/J)", True),
    "accuracy": ("accuracy", True),
    "n": ("n", True),
    "model": ("model", False),
    "target": ("accelerator / target", False),
    "quality": ("quality", False),
    "boundary": ("boundary", False),
    "status": ("status", False),
    "session": ("session", False),
    "created": ("created", True),
}
DEFAULT_SORT = "ipw"


@dataclass(frozen=True)
class QuerySet:
    """What a session ran: its query file's name and a digest of its (sorted) query ids."""

    name: str
    digest: str  # 12 hex digits of sha256 over the sorted ids
    size: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.size} queries, ids #{self.digest[:8]})"

    def as_dict(self) -> dict:
        return {"name": self.name, "digest": self.digest, "size": self.size}


def query_set_of(meta: dict) -> QuerySet:
    """A session's query set from its session.json."""
    ids = [str(i) for i in meta.get("query_ids") or []]
    h = hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()[:12]
    name = Path(str(meta.get("queries_file") or "")).name or "unknown query file"
    return QuerySet(name, h, len(ids))


def target_of(meta: dict) -> str:
    """Where the model ran: the accelerator for a local session, the server (and its model) for a remote
    one."""
    if meta.get("where") == "remote":
        s = meta.get("settings") or {}
        url = s.get("base_url") or meta.get("backend") or "remote"
        host = str(url).split("://", 1)[-1].split("/", 1)[0]
        return f"remote {host}"
    return str(meta.get("accelerator") or "?")


@dataclass
class Entry:
    """One session's row. ``status`` is the session's own, or "unreadable" with ``error`` saying why."""

    folder: Path
    session: str
    status: str
    model: str | None = None
    target: str | None = None
    backend: str | None = None
    query_set: QuerySet | None = None
    view: str = "gross"
    n: int = 0  # counted queries (answered, not warm-up)
    planned: int = 0
    finished: int = 0  # planned queries with a final attempt (answered, skipped or errored)
    errors: int = 0  # planned queries whose final attempt failed (no answer to score)
    n_with_energy: int = 0
    accuracy: float | None = None
    accuracy_ci: tuple[float, float] | None = None
    ipw: float | None = None
    ipw_ci: tuple[float, float] | None = None
    ipj: float | None = None
    ipj_ci: tuple[float, float] | None = None
    mean_power_w: float | None = None
    mean_energy_j: float | None = None
    quality: str = UNAVAILABLE
    boundary: str | None = None
    source: str | None = None
    created: float | None = None
    figures_from: str | None = None  # "summary.json" or "journal"
    error: str | None = None
    rank: int | None = None
    rank_note: str | None = None  # why a readable session has no rank

    @property
    def readable(self) -> bool:
        return self.error is None

    @property
    def complete(self) -> bool:
        """Every planned query done (answered, skipped or errored): its figures cover the whole query set,
        whatever the session's status says (a run killed after its last query is complete)."""
        return self.planned > 0 and self.finished >= self.planned

    @property
    def key(self) -> tuple[str, str, str]:
        """model x accelerator (or remote target) x query set."""
        qs = self.query_set.digest if self.query_set else ""
        return (self.model or "?", self.target or "?", qs)

    def value(self, col: str) -> Any:
        if col == "model":
            return (self.model or "").lower()
        if col == "target":
            return (self.target or "").lower()
        v = getattr(self, col)
        return v.lower() if isinstance(v, str) else v

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "session", "status", "model", "target", "backend", "view", "n", "planned", "finished",
            "n_with_energy", "accuracy", "accuracy_ci", "ipw", "ipw_ci", "ipj", "ipj_ci", "mean_power_w",
            "mean_energy_j", "quality", "boundary", "source", "created", "figures_from", "error", "rank",
            "rank_note")}
        d["folder"] = str(self.folder)
        d["query_set"] = self.query_set.as_dict() if self.query_set else None
        for k in ("accuracy_ci", "ipw_ci", "ipj_ci"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d


@dataclass
class Group:
    """The sessions of one query set: the only sessions ever ranked together."""

    query_set: QuerySet
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"query_set": self.query_set.as_dict(), "label": self.query_set.label, "notes": self.notes,
                "entries": [e.as_dict() for e in self.entries]}


@dataclass
class Leaderboard:
    view: str
    groups: list[Group]
    unreadable: list[Entry]
    sort: str = DEFAULT_SORT
    descending: bool = True
    root: Path | None = None

    @property
    def entries(self) -> list[Entry]:
        """Every readable row, group after group (query sets never interleaved), then the unreadable."""
        return [e for g in self.groups for e in g.entries] + self.unreadable

    def sorted(self, col: str, descending: bool | None = None) -> "Leaderboard":
        """The same board, each group's rows sorted by ``col`` (unknown figures last either way)."""
        if col not in COLUMNS:
            raise ValueError(f"unknown column {col!r} (columns: {', '.join(COLUMNS)})")
        desc = COLUMNS[col][1] if descending is None else descending
        groups = [replace(g, entries=sort_entries(g.entries, col, desc)) for g in self.groups]
        return replace(self, groups=groups, sort=col, descending=desc)

    def as_dict(self) -> dict:
        return {"root": str(self.root) if self.root else None, "view": self.view, "sort": self.sort,
                "descending": self.descending, "groups": [g.as_dict() for g in self.groups],
                "unreadable": [e.as_dict() for e in self.unreadable]}


def sort_entries(entries: Iterable[Entry], col: str, descending: bool) -> list[Entry]:
    """Rows sorted by one column; a row without the figure (N/A) goes last in both directions."""
    have = [e for e in entries if e.value(col) is not None]
    missing = [e for e in entries if e.value(col) is None]
    have.sort(key=lambda e: (e.value(col), e.session), reverse=descending)
    return have + sorted(missing, key=lambda e: e.session)


# ---- as text (the CLI table and the app's screen say the same) ----------------------------------------

TEXT_COLUMNS = ("rank", "model", "target", "ipw", "ipj", "accuracy", "n", "quality", "boundary", "status",
                "session")


def _with_ci(v: float | None, ci: tuple[float, float] | None, pct: bool = False) -> str:
    from . import fmt

    if v is None:
        return fmt.NA
    show = fmt.pct if pct else (lambda x: fmt.num(x, 3))
    return show(v) + (f" [{show(ci[0])}, {show(ci[1])}]" if ci else "")


def row_text(e: Entry) -> dict[str, str]:
    """One row's cells as text, keyed by column; an energy figure that is not a measurement is marked."""
    from . import fmt

    if not e.readable:  # the reason where a model's name would be: the first cells a person reads
        return {"rank": "", "session": e.session, "model": f"{e.session}: {e.error or '?'}", "target": "",
                "status": "unreadable", "n": "", "accuracy": "", "ipw": "", "ipj": "", "quality": "",
                "boundary": ""}
    mk = fmt.mark(e.quality) if e.quality != UNAVAILABLE else ""
    energy = "" if e.n_with_energy == e.n else f" over {e.n_with_energy} of {e.n}"
    return {
        "rank": str(e.rank) if e.rank is not None else "–",
        "session": e.session,
        "model": fmt.model_label(e.model) or "?",  # a file's name, not its whole path (JSON keeps it whole)
        "target": e.target or "?",
        "status": e.status if e.complete or not e.planned else f"{e.status} ({e.finished} of {e.planned})",
        "n": str(e.n),
        "accuracy": _with_ci(e.accuracy, e.accuracy_ci, pct=True),
        "ipw": _with_ci(e.ipw, e.ipw_ci) + (mk + energy if e.ipw is not None else ""),
        "ipj": _with_ci(e.ipj, e.ipj_ci) + (mk + energy if e.ipj is not None else ""),
        "quality": e.quality,
        "boundary": e.boundary or fmt.NA,
    }


# ---- reading one session -------------------------------------------------------------------------


def _ci(v: Any) -> tuple[float, float] | None:
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return (float(v[0]), float(v[1]))
    return None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def cached_summary(folder: Path) -> dict | None:
    """summary.json when it exists, reads as a summary and is at least as new as the journal; else None."""
    p = folder / SUMMARY_FILE
    try:
        st = p.stat()
    except OSError:
        return None
    try:
        if (folder / "journal.jsonl").stat().st_mtime > st.st_mtime:
            return None  # queries were journalled after the summary was written
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        s = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(s, dict) or not isinstance(s.get("metrics"), dict) or \
            not all(isinstance(s["metrics"].get(v), dict) for v in VIEWS):
        return None
    return s


# summaries built from journals in this process, by (folder, journal and session.json stamps): the app's
# reload and gross/net switch do not bootstrap every session again
_BUILT: dict[tuple, dict] = {}
_BUILT_MAX = 2000


def _stamp(folder: Path) -> tuple | None:
    try:
        j, m = (folder / "journal.jsonl").stat(), (folder / "session.json").stat()
    except OSError:
        return None
    return (str(folder.resolve()), j.st_mtime_ns, j.st_size, m.st_mtime_ns, m.st_size)


def session_summary(folder: Path, meta: dict) -> tuple[dict, str]:
    """(summary, where it came from): the cached summary.json, or one built from the journal."""
    s = cached_summary(folder)
    if s is not None:
        return s, SUMMARY_FILE
    from .session import Session
    from .summary import build_summary

    key = _stamp(folder)
    if key is not None and key in _BUILT:
        return _BUILT[key], "journal"
    built = build_summary(meta, Session(folder, meta).read_entries())
    if key is not None:
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        _BUILT[key] = built
    return built, "journal"


def entry_from(folder: Path, meta: dict, summary: dict, view: str = "gross",
               figures_from: str | None = None) -> Entry:
    """One row from a session's meta and summary."""
    m = (summary.get("metrics") or {}).get(view) or {}
    qs = summary.get("queries") or {}
    model = meta.get("model") or {}
    created = meta.get("created")
    return Entry(
        folder=Path(folder), session=str(meta.get("id") or Path(folder).name),
        status=str(meta.get("status") or "?"), model=model.get("name") if isinstance(model, dict) else str(model),
        target=target_of(meta), backend=meta.get("backend"), query_set=query_set_of(meta), view=view,
        n=int(m.get("n") or 0), planned=len(meta.get("query_ids") or []),
        finished=int(qs.get("finished") or 0), errors=int(qs.get("errors") or 0),
        n_with_energy=int(m.get("n_with_energy") or 0),
        accuracy=_num(m.get("accuracy")), accuracy_ci=_ci(m.get("accuracy_ci")),
        ipw=_num(m.get("ipw")), ipw_ci=_ci(m.get("ipw_ci")), ipj=_num(m.get("ipj")), ipj_ci=_ci(m.get("ipj_ci")),
        mean_power_w=_num(m.get("mean_power_w")), mean_energy_j=_num(m.get("mean_energy_j")),
        quality=summary.get("energy_quality") or UNAVAILABLE, boundary=summary.get("energy_boundary"),
        source=summary.get("energy_source"),
        created=float(created) if isinstance(created, (int, float)) else None, figures_from=figures_from)


def unreadable(folder: Path, error: str) -> Entry:
    return Entry(folder=Path(folder), session=Path(folder).name, status="unreadable", error=error)


def load_entry(folder: str | os.PathLike, view: str = "gross") -> Entry:
    """One session's row; never raises: a folder that cannot be read is an "unreadable" row."""
    from .session import Session

    folder = Path(folder)
    try:
        meta = Session.open(folder).meta
        summary, where = session_summary(folder, meta)
        return entry_from(folder, meta, summary, view, where)
    except Exception as e:  # a broken folder is a row, never a crash
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return unreadable(folder, msg if msg.startswith(str(folder)) else f"{type(e).__name__}: {msg}")


# ---- the board -----------------------------------------------------------------------------------


def group_entries(entries: Iterable[Entry]) -> tuple[list[Group], list[Entry]]:
    """Readable rows grouped by query set (biggest group first), ranked by IPW within each group; and the
    unreadable rows."""
    by: dict[QuerySet, list[Entry]] = {}
    bad: list[Entry] = []
    for e in entries:
        if not e.readable or e.query_set is None:
            bad.append(e)
        else:
            by.setdefault(e.query_set, []).append(e)
    groups = [Group(qs, rows) for qs, rows in by.items()]
    for g in groups:
        _rank(g)
    groups.sort(key=lambda g: (-len(g.entries), g.query_set.name, g.query_set.digest))
    return groups, sorted(bad, key=lambda e: e.session)


RANK_RULE = "ranked by IPW, only among sessions that answered every query of their query set (none failed)"


def _rank(g: Group) -> None:
    """Rank the complete sessions of one query set by IPW (highest first); say why others have no rank and
    when the ranked ones differ in boundary or quality."""
    ranked = [e for e in g.entries if e.complete and not e.errors and e.ipw is not None]
    for e in g.entries:
        e.rank = None
        if not e.complete:
            e.rank_note = (f"not ranked: {e.finished} of {e.planned} queries done" if e.planned
                           else "not ranked: no planned query")
        elif e.errors:  # its figures leave out the queries that failed: not the same work as the others'
            e.rank_note = (f"not ranked: {e.errors} of {e.planned} queries failed (no answer); "
                           "ipwtui run --resume tries them again")
        elif e.ipw is None:
            e.rank_note = "not ranked: IPW is N/A"
        else:
            e.rank_note = None
    for k, e in enumerate(sorted(ranked, key=lambda e: (-(e.ipw or 0.0), e.session)), 1):
        e.rank = k
    if len(ranked) > 1:
        bounds = sorted({e.boundary or "unknown" for e in ranked})
        quals = sorted({e.quality for e in ranked})
        if len(bounds) > 1:
            g.notes.append(f"ranked sessions have different energy boundaries ({', '.join(bounds)}): "
                           "their IPW covers different parts of the machine")
        if len(quals) > 1:
            g.notes.append(f"ranked sessions mix energy qualities ({', '.join(quals)})")


def build(folders: Iterable[str | os.PathLike], view: str = "gross", sort: str = DEFAULT_SORT,
          descending: bool | None = None, root: Path | None = None) -> Leaderboard:
    """A leaderboard of the given session folders."""
    if view not in VIEWS:
        raise ValueError(f"unknown energy view {view!r} (gross or net)")
    groups, bad = group_entries(load_entry(f, view) for f in folders)
    board = Leaderboard(view=view, groups=groups, unreadable=bad, root=root)
    return board.sorted(sort, descending)


def session_folders(root: Path) -> list[Path]:
    """The session folders under ``root``, and the folders that hold a journal or power file but no
    session.json (a session whose session.json was lost: listed as unreadable, not left out)."""
    from .session import JOURNAL_FILE, POWER_FILE, SESSION_FILE, list_sessions

    found = list_sessions(root)
    try:
        others = [p for p in root.iterdir() if p.is_dir() and not (p / SESSION_FILE).exists()
                  and ((p / JOURNAL_FILE).exists() or (p / POWER_FILE).exists())]
    except OSError:
        others = []
    return found + sorted(others)


def leaderboard(root: str | os.PathLike | None = None, view: str = "gross", sort: str = DEFAULT_SORT,
                descending: bool | None = None) -> Leaderboard:
    """Every session under ``root`` (default: the sessions root), grouped, ranked and sorted."""
    from .session import sessions_root

    base = Path(root) if root is not None else sessions_root()
    return build(session_folders(base), view, sort, descending, root=base)
