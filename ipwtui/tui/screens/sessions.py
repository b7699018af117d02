"""Past sessions: the list of session folders, and one session opened (table, figures, power graph).

Everything is read from the session folder by the core (Session.read_journal, read_power,
build_summary) on a worker thread; the table's rows are prepared there too and added in one call.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, LoadingIndicator, Static

from ...core import fmt
from ...core.fmt import model_label
from ..widgets.figures import Figure, figure_row
from ..widgets.power_graph import PowerGraph, Trace
from ..widgets.footer import KeyFooter
from ..widgets.responsive import Responsive
from ..rows import record_cells
from ..widgets.query_table import QueryTable
from .run import TABLE_KEY, figure_values


def session_row(folder: Path) -> tuple[list, dict]:
    """One line of the sessions list (worker thread)."""
    from ...core.session import session_overview

    o = session_overview(folder)
    if o["error"]:
        cells = {"session": folder.name, "status": "unreadable", "model": o["error"]}
        return [cells.get(k, "") for k, _ in COLUMNS], {"status": "unreadable"}
    created = o["created"]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created is not None else ""
    cells = {"session": folder.name, "status": o["status"], "queries": f"{o['done']}/{o['planned']}",
             "energy": ", ".join(o["qualities"]) or fmt.NA, "model": model_label(o["model"]),
             "backend": o["backend"], "accel": o["accelerator"], "created": when}
    return [cells[k] for k, _ in COLUMNS], {"status": o["status"]}


# the list's columns, what a narrow terminal shows first (how far a session got, and how its energy was known)
COLUMNS = (("session", "session"), ("status", "status"), ("queries", "queries"), ("energy", "energy"),
           ("model", "model"), ("backend", "backend"), ("accel", "accelerator"), ("created", "created"))
COMPACT_NAME = 24  # a session's name cut to this on a narrow terminal (its date, time and the model's start)


def mark_cell(name: str, marked: bool, limit: int | None = None):
    """A session's name with room for the compare mark before it, taken or not: marking a session never
    widens its column (a wider column cut the status column's words: "finishe", "interru"). ``limit``:
    the name cut to that many characters, with an ellipsis (a narrow terminal)."""
    from rich.text import Text

    if limit is not None and len(name) > limit:
        name = name[: limit - 1] + "…"
    return Text(("✓ " if marked else "  ") + name)


class SessionsLoaded(Message):
    def __init__(self, rows: list, root: Path) -> None:
        super().__init__()
        self.rows = rows
        self.root = root


class SessionsScreen(Responsive, Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="sessions.open"),
        Binding("r", "resume", "Resume", id="sessions.resume"),
        Binding("e", "export", "Export", id="sessions.export"),
        Binding("m", "mark", "Mark", id="sessions.mark", tooltip="Mark or unmark a session to compare"),
        Binding("c", "compare", "Compare", id="sessions.compare",
                tooltip="Compare the marked sessions side by side (two or more)"),
        Binding("f5", "reload", "Reload", id="sessions.reload"),
        Binding("escape", "back", "Back", id="sessions.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.folders: dict[str, Path] = {}
        self.metas: dict[str, dict] = {}
        self.names: dict[str, str] = {}  # each row's session cell, unmarked
        self.marked: list[str] = []  # the keys of the marked sessions, in the order marked
        self.root_line = ""
        self._rows: list = []  # (folder, row, meta) as last loaded

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="sessions-root", markup=False)
        yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = "ipwtui"
        self.sub_title = "sessions"
        t = self.query_one(DataTable)
        for key, label in COLUMNS:
            t.add_column(label, key=key)
        self.action_reload()

    def action_reload(self) -> None:
        if not self.query("#sessions-loading"):
            self.mount(LoadingIndicator(id="sessions-loading"), after=self.query_one(DataTable))
        self._load()

    @work(thread=True, exclusive=True, group="sessions-load", exit_on_error=False)
    def _load(self) -> None:
        from ...core.session import list_sessions

        root = Path(self.app.sessions_dir)
        rows = []
        try:
            for folder in list_sessions(root):
                row, meta = session_row(folder)
                rows.append((folder, row, meta))
        except Exception as e:
            self.app.call_from_thread(self.notify, f"{root}: {e}", severity="error")
        self.post_message(SessionsLoaded(rows, root))

    @on(SessionsLoaded)
    def _loaded(self, msg: SessionsLoaded) -> None:
        for w in self.query("#sessions-loading"):
            w.remove()
        self._rows = msg.rows
        self.folders = {}
        self.metas = {}
        self.names = {}
        for folder, row, meta in msg.rows:
            key = str(folder)
            self.folders[key] = folder
            self.metas[key] = meta
            self.names[key] = row[0]
        self.marked = [k for k in self.marked if k in self.folders]  # marks kept across a reload
        self._fill()
        n = len(msg.rows)
        self.root_line = (f"{n} session{'s' if n != 1 else ''} in {msg.root}" if n else
                          f"no session yet in {msg.root}: run one from the setup screen")
        self._root_status()
        self.query_one(DataTable).focus()

    def _fill(self) -> None:
        """The table's rows, drawn afresh (a column's width follows what it holds now)."""
        t = self.query_one(DataTable)
        cursor = t.cursor_row
        t.clear(columns=True)
        for key, label in COLUMNS:
            t.add_column(label, key=key)
        for folder, row, _ in self._rows:
            key = str(folder)
            t.add_row(*[self._name_cell(key), *row[1:]], key=key)
        if t.row_count:
            t.move_cursor(row=min(max(cursor, 0), t.row_count - 1))

    def _name_cell(self, key: str):
        narrow = self.has_class("-narrow")
        return mark_cell(self.names.get(key, ""), key in self.marked, COMPACT_NAME if narrow else None)

    def size_changed(self, classes: dict[str, bool]) -> None:
        if self._rows:
            self._fill()  # the names cut or whole

    def _root_status(self) -> None:
        line = self.root_line
        if self.marked:
            k = len(self.marked)
            line = (f"{k} marked" + (" · c compares them" if k > 1 else " · mark one more to compare") +
                    f" · {line}")
        self.query_one("#sessions-root", Static).update(line)

    def _show_mark(self, key: str) -> None:
        self.query_one(DataTable).update_cell(key, "session", self._name_cell(key))

    @property
    def selected_folder(self) -> Path | None:
        t = self.query_one(DataTable)
        if not t.row_count:
            return None
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        return self.folders.get(key)

    @on(DataTable.RowSelected, "#sessions-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        folder = self.selected_folder
        if folder is not None:
            self.app.push_screen(SessionView(folder))

    def action_resume(self) -> None:
        folder = self.selected_folder
        if folder is not None:
            self.app.resume_session(str(folder), self.metas.get(str(folder), {}).get("status"))

    def action_export(self) -> None:
        folder = self.selected_folder
        if folder is not None:
            self.app.open_export(str(folder))

    def action_mark(self) -> None:
        """Mark the session under the cursor to compare it (again: unmark it), then move down."""
        folder = self.selected_folder
        if folder is None:
            return
        key = str(folder)
        if key in self.marked:
            self.marked.remove(key)
        else:
            self.marked.append(key)
        self._show_mark(key)
        self._root_status()
        t = self.query_one(DataTable)
        if t.cursor_row < t.row_count - 1:
            t.move_cursor(row=t.cursor_row + 1)

    @property
    def marked_folders(self) -> list[Path]:
        return [self.folders[k] for k in self.marked if k in self.folders]

    def action_compare(self) -> None:
        folders = self.marked_folders
        if len(folders) < 2:
            self.notify("mark two or more sessions with m, then press c to compare them", timeout=4)
            return
        self.app.open_compare(folders)

    def action_back(self) -> None:
        self.app.pop_screen()


FIRST_ROWS = 300  # the newest rows are shown first; the older ones follow in one more call


class ViewRows(Message):
    def __init__(self, records: list, rows: list, meta: dict, older: bool = False) -> None:
        super().__init__()
        self.records = records
        self.rows = rows
        self.meta = meta
        self.older = older  # rows older than those already shown


class ViewPower(Message):
    def __init__(self, traces: list) -> None:
        super().__init__()
        self.traces = traces


class ViewSummary(Message):
    def __init__(self, summary: dict | None, error: str | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.error = error


def power_traces(session) -> list[Trace]:
    """Per-domain traces from a session's power.csv (seconds from its first sample)."""
    rows = session.read_power()
    if not rows:
        return []
    doms = {d.get("domain") or d.get("name"): d for d in session.meta.get("domains") or []}
    by: dict[str, list] = {}
    for t, _seg, dom, w in rows:
        if w is not None:  # N/A samples are left out, never drawn as 0
            by.setdefault(dom, []).append((t, w))
    t0 = min(r[0] for r in rows)
    out = []
    for dom, pts in by.items():
        arr = np.asarray(pts, dtype=float)
        arr = arr[np.argsort(arr[:, 0], kind="stable")]
        meta = doms.get(dom, {})
        out.append(Trace(dom, arr[:, 0] - t0, arr[:, 1], meta.get("source", ""), meta.get("quality", "")))
    return out


class SessionView(Responsive, Screen):
    """One past session: figures and bookkeeping from its summary, its table and its power graph."""

    BINDINGS = [
        Binding("e", "export", "Export", id="session.export"),
        Binding("r", "resume", "Resume", id="session.resume"),
        Binding("g", "toggle_energy", "Gross/net", id="session.energy"),
        Binding("s", "cycle_sort", "Sort", id="session.sort"),
        Binding("escape", "back", "Back", id="session.back"),
    ]

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.records: list = []
        self.meta: dict = {}
        self.summary: dict | None = None
        self.view = "gross"
        self.traces: list = []
        self.idle: dict = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="session-status")
        yield figure_row()
        with Horizontal(id="middle"):
            yield PowerGraph(id="power", window_s=None)
            with Vertical(id="now"):
                yield Static("", id="session-info", markup=False)
        yield QueryTable(id="queries")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = "ipwtui"
        self.sub_title = self.folder.name
        self.query_one("#power").border_title = "power"
        self.query_one("#now").border_title = "session"
        self.query_one("#queries").border_title = "queries"
        self.query_one("#queries", QueryTable).set_legend(TABLE_KEY)
        self._load()

    @work(thread=True, exclusive=True, group="session-view", exit_on_error=False)
    def _load(self) -> None:
        from ...core.record import records_of
        from ...core.session import Session
        from ...core.summary import build_summary

        try:
            s = Session.open(self.folder)
            journal = s.read_entries()
        except Exception as e:
            self.post_message(ViewSummary(None, str(e)))
            return
        every = records_of(journal)  # warm-up included, as the summary wants them
        records = [r for r in every if not r.warmup]
        view = (s.meta.get("settings") or {}).get("energy_view", "gross")
        newest, older = records[-FIRST_ROWS:], records[:-FIRST_ROWS]
        self.post_message(ViewRows(records, [record_cells(r, view) for r in newest], s.meta))
        if older:
            self.post_message(ViewRows(records, [record_cells(r, view) for r in older], s.meta, older=True))
        try:
            self.post_message(ViewPower(power_traces(s)))
        except Exception as e:
            self.post_message(ViewPower([]))
            self.app.call_from_thread(self.notify, f"power.csv: {e}", severity="warning")
        try:
            summary = build_summary(s.meta, journal, every)
        except Exception as e:
            self.post_message(ViewSummary(None, f"{type(e).__name__}: {e}"))
            return
        self.post_message(ViewSummary(summary))

    @on(ViewRows)
    def _rows(self, msg: ViewRows) -> None:
        table = self.query_one(QueryTable)
        if msg.older:
            table.add_older(msg.rows)
            return
        self.records, self.meta = msg.records, msg.meta
        self.view = (self.meta.get("settings") or {}).get("energy_view", "gross")
        if self.view != table.view:
            table.view = self.view
            table.relabel()
        table.add_records(msg.rows)
        self._status()

    @on(ViewPower)
    def _power(self, msg: ViewPower) -> None:
        self.traces = msg.traces
        self._draw()

    @on(ViewSummary)
    def _summary(self, msg: ViewSummary) -> None:
        if msg.error:
            self.query_one("#session-status", Static).update(f"cannot read the session: {msg.error}")
            self.notify(msg.error, title="Session", severity="error", markup=False)
            return
        self.summary = msg.summary
        idle = (self.summary.get("idle") or {})
        if idle:
            last = idle[sorted(idle, key=lambda k: int(k) if str(k).isdigit() else 0)[-1]]
            self.idle = last.get("idle_w") or {}
        self._figures()
        self._info()
        self._status()
        self._draw()

    def _draw(self) -> None:
        self.query_one(PowerGraph).draw(self.traces, self.idle, note=None if self.traces else "no samples")

    def _status(self) -> None:
        meta = self.meta
        status = meta.get("status", "?")
        model = model_label((meta.get("model") or {}).get("name")) or "?"
        s = self.summary or {}
        q = s.get("energy_quality") or "unavailable"
        remote = s.get("where") == "remote"
        # the source of the energy the figures use (a remote session's: the server's)
        src = s.get("energy_source") or (None if remote else (s.get("energy") or {}).get("source"))
        if remote and not src:
            conf = s.get("server_energy") or {}
            src = conf.get("name") or conf.get("source")
        energy = f"{'server energy' if remote else 'energy'}: {src or fmt.NA} ({q})"
        if q not in ("measured", "measured-remote", "unavailable"):
            energy = f"[reverse] ESTIMATE [/reverse] {energy}" if self.summary else energy
        resumable = " · resumable (r)" if status != "finished" else ""
        # what a small screen must not cut comes first: how it ended, and whether the energy is an estimate
        self.query_one("#session-status", Static).update(
            f"[b]{status}[/b]{resumable}  ·  {energy}  ·  on screen: {self.view}  ·  "
            f"{model} · {meta.get('accelerator', '?')}")

    def _figures(self) -> None:
        if not self.summary:
            return
        m = (self.summary.get("metrics") or {}).get(self.view)
        q = self.summary.get("energy_quality") or "unavailable"
        for fid, (text, caption, est, quality) in figure_values(m, q, self.view, ended=True).items():
            self.query_one(f"#{fid}", Figure).show(text, caption, est, quality)

    def _info(self) -> None:
        s = self.summary or {}
        qs = s.get("queries") or {}
        en = s.get("energy") or {}
        mk = fmt.mark(s.get("energy_quality"))
        lines = [
            f"queries: {qs.get('finished', 0)}/{qs.get('planned', 0)} finished",
            f"  {qs.get('ok', 0)} answered · {qs.get('skipped', 0)} skipped · {qs.get('errors', 0)} errors"
            f" · {qs.get('warmup', 0)} warm-up",
            "",
            f"energy (gross){mk}:",
            f"  query windows   {fmt.num(en.get('counted_j'), 4, 'J')}",
            f"  warm-up/skipped {fmt.num(en.get('excluded_j'), 4, 'J')}",
            f"  unattributed    {fmt.num(en.get('unattributed_j'), 4, 'J')}",
            f"  session total   {fmt.num(en.get('total_j'), 4, 'J')}",
            f"  source          {en.get('source') or fmt.NA} ({en.get('quality') or 'unavailable'})",
        ]
        if self.idle:
            lines.append("idle baseline: " + ", ".join(f"{k} {fmt.num(v, 3, 'W')}" for k, v in self.idle.items()))
        m = (s.get("metrics") or {}).get(self.view) or {}
        lines += ["", f"J/output token {fmt.num(m.get('j_per_output_token'), 3)}{mk}",
                  f"J/correct answer {fmt.num(m.get('j_per_correct'), 3)}{mk}",
                  f"tokens/J {fmt.num(m.get('tokens_per_joule'), 3)}{mk}"]
        for note in m.get("notes") or []:
            lines.append(f"note: {note}")
        self.query_one("#session-info", Static).update("\n".join(lines))

    def explain_context(self):
        """The session's labels for the explainer (key i), from its summary."""
        from .explain import context_from_summary

        if not self.summary:
            return None
        ctx = context_from_summary(self.summary, self.view)
        if ctx.remote:  # why the server's energy is N/A, in the source's words
            ctx.na_notes = list(dict.fromkeys(r.server_energy_note for r in self.records
                                              if r.remote and r.counted and r.energy("gross") is None
                                              and r.server_energy_note))
        return ctx

    def action_toggle_energy(self) -> None:
        self.view = "net" if self.view == "gross" else "gross"
        self.query_one(QueryTable).set_view(self.view, [record_cells(r, self.view) for r in self.records])
        self._figures()
        self._info()
        self._status()

    def action_cycle_sort(self) -> None:
        self.query_one(QueryTable).cycle_sort()

    def action_export(self) -> None:
        self.app.open_export(str(self.folder))

    def action_resume(self) -> None:
        self.app.resume_session(str(self.folder), self.meta.get("status"))

    def action_back(self) -> None:
        self.app.pop_screen()
