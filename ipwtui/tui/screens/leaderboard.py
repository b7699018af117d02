"""The leaderboard: every past session side by side, ranked only within its query set.

The board is read by the core (``core.leaderboard``) on a thread worker; sorting happens on the UI
thread (a few hundred rows) and always within each query set: the rows of one set stay together, and a
rank is never given across sets. Sort with ``s`` (next column) and ``r`` (reverse), or by clicking a
column's header.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, LoadingIndicator, Static

from ...core.leaderboard import COLUMNS, DEFAULT_SORT, RANK_RULE, TEXT_COLUMNS, Leaderboard, row_text
from ..widgets.footer import KeyFooter

SORTABLE = [c for c in TEXT_COLUMNS if c in COLUMNS]


class LeaderboardLoaded(Message):
    def __init__(self, board: Leaderboard | None, error: str | None = None) -> None:
        super().__init__()
        self.board = board
        self.error = error


class LeaderboardScreen(Screen):
    BINDINGS = [
        Binding("s", "next_sort", "Sort by next column", id="leaderboard.sort"),
        Binding("r", "reverse", "Reverse order", id="leaderboard.reverse"),
        Binding("g", "toggle_energy", "Gross/net", id="leaderboard.energy"),
        Binding("enter", "open", "Open session", id="leaderboard.open"),
        Binding("f5", "reload", "Reload", id="leaderboard.reload"),
        Binding("escape", "back", "Back", id="leaderboard.back"),
    ]

    def __init__(self, root: str | Path | None = None) -> None:
        super().__init__()
        self.root = Path(root) if root is not None else None
        self.board: Leaderboard | None = None
        self.sort = DEFAULT_SORT
        self.descending = COLUMNS[DEFAULT_SORT][1]
        self.view = "gross"
        self.folders: dict[str, Path] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="leaderboard-status", markup=False)
        yield DataTable(id="leaderboard-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="leaderboard-notes", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = "ipwtui"
        self.sub_title = "leaderboard"
        self.action_reload()

    # ---- loading ---------------------------------------------------------------------------------

    def action_reload(self) -> None:
        if not self.query("#leaderboard-loading"):
            self.mount(LoadingIndicator(id="leaderboard-loading"), after=self.query_one(DataTable))
        self._load(self.root or Path(self.app.sessions_dir), self.view)

    @work(thread=True, exclusive=True, group="leaderboard-load", exit_on_error=False)
    def _load(self, root: Path, view: str) -> None:
        from ...core.leaderboard import leaderboard

        try:
            board = leaderboard(root, view=view)
        except Exception as e:  # a message on screen, never a traceback
            self.post_message(LeaderboardLoaded(None, f"{root}: {type(e).__name__}: {e}"))
            return
        self.post_message(LeaderboardLoaded(board))

    @on(LeaderboardLoaded)
    def _loaded(self, msg: LeaderboardLoaded) -> None:
        for w in self.query("#leaderboard-loading"):
            w.remove()
        if msg.error or msg.board is None:
            self.query_one("#leaderboard-status", Static).update(f"cannot read the sessions: {msg.error}")
            self.notify(msg.error or "?", title="Leaderboard", severity="error")
            return
        self.board = msg.board
        self._fill()
        self.query_one(DataTable).focus()

    # ---- the table ---------------------------------------------------------------------------------

    def _fill(self) -> None:
        if self.board is None:
            return
        board = self.board.sorted(self.sort, self.descending)
        t = self.query_one(DataTable)
        t.clear(columns=True)
        arrow = " ↓" if self.descending else " ↑"
        t.add_column("query set", key="set")
        for c in TEXT_COLUMNS:
            t.add_column(COLUMNS[c][0] + (arrow if c == self.sort else ""), key=c)
        self.folders = {}
        rows = []
        for g in board.groups:
            label = f"{g.query_set.name} #{g.query_set.digest[:6]}"
            for e in g.entries:
                cells = row_text(e)
                rows.append((label, [cells[c] for c in TEXT_COLUMNS], str(e.folder)))
                self.folders[str(e.folder)] = e.folder
        for e in board.unreadable:
            cells = row_text(e)
            rows.append(("unreadable", [cells[c] for c in TEXT_COLUMNS], str(e.folder)))
            self.folders[str(e.folder)] = e.folder
        for label, texts, key in rows:
            t.add_row(label, *texts, key=key)
        n = sum(len(g.entries) for g in board.groups)
        sets = len(board.groups)
        status = (f"{n} session{'s' if n != 1 else ''} in {board.root} · {board.view} energy · sorted by "
                  f"{COLUMNS[self.sort][0]}{arrow} within each query set")
        if board.unreadable:
            status += f" · {len(board.unreadable)} unreadable"
        if not n and not board.unreadable:
            status = f"no session yet in {board.root}: run one from the setup screen"
        self.query_one("#leaderboard-status", Static).update(status)
        notes = [f"{sets} query sets: sessions of different sets are never ranked together."] if sets > 1 else []
        notes += [f"{g.query_set.name}: {note}" for g in board.groups for note in g.notes]
        notes.append(f"Rank: {RANK_RULE}.")
        unranked = [e for g in board.groups for e in g.entries if e.rank_note]
        notes += [f"{e.session}: {e.rank_note}" for e in unranked[:5]]  # why a row's rank is "–"
        if len(unranked) > 5:
            notes.append(f"… and {len(unranked) - 5} more sessions not ranked")
        self.query_one("#leaderboard-notes", Static).update("\n".join(notes))

    def sort_by(self, col: str, descending: bool | None = None) -> None:
        """Sort by ``col`` (its natural direction unless told); the same column again reverses it."""
        if col not in COLUMNS:
            return
        if descending is None:
            descending = (not self.descending) if col == self.sort else COLUMNS[col][1]
        self.sort, self.descending = col, descending
        self._fill()

    @on(DataTable.HeaderSelected, "#leaderboard-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    def action_next_sort(self) -> None:
        k = SORTABLE.index(self.sort) if self.sort in SORTABLE else -1
        col = SORTABLE[(k + 1) % len(SORTABLE)]
        self.sort_by(col, COLUMNS[col][1])

    def action_reverse(self) -> None:
        self.sort_by(self.sort, not self.descending)

    def action_toggle_energy(self) -> None:
        self.view = "net" if self.view == "gross" else "gross"
        self.action_reload()

    @property
    def selected_folder(self) -> Path | None:
        t = self.query_one(DataTable)
        if not t.row_count:
            return None
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        return self.folders.get(key or "")

    @on(DataTable.RowSelected, "#leaderboard-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        from .sessions import SessionView

        folder = self.selected_folder
        if folder is not None:
            self.app.push_screen(SessionView(folder))

    def action_back(self) -> None:
        self.app.pop_screen()
