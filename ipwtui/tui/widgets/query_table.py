"""The per-query table: verdict, domain, energy, power, latency, TTFT, decode rate, tokens.

Columns have fixed widths, so adding rows never measures their cells: a 10,000-query session is added
in one ``add_rows`` call and drawn at once (only the visible rows are ever rendered). Cells carry the
raw value they show, so sorting orders numbers as numbers and puts N/A last.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ...core import fmt


class Cell(Text):
    """A table cell that remembers the value it shows, for sorting."""

    sort_value = None


def _cell(text: str, value=None, style: str = "", justify: str = "right") -> Cell:
    c = Cell(text, style=style, justify=justify)
    c.sort_value = value
    return c


def _num(v, digits: int = 3):
    return _cell(fmt.num(v, digits), v if isinstance(v, (int, float)) else None)


# key, label, width
COLUMNS = [
    ("n", "#", 5),
    ("ok", "✓", 3),
    ("domain", "domain", 12),
    ("j", "J", 8),
    ("w", "W", 6),
    ("q", "energy", 6),
    ("lat", "lat s", 6),
    ("ttft", "TTFT s", 6),
    ("tps", "tok/s", 6),
    ("tok", "tokens", 6),
    ("status", "status", 7),
]
COLUMN_KEYS = [c[0] for c in COLUMNS]


def record_cells(rec: dict, view: str = "gross") -> list[Cell]:
    """The row of one journal query record. Thread-safe (no widget involved)."""
    correct = rec.get("correct")
    sym = fmt.correct_symbol(correct)
    ok_style = "bold" if correct is not None else "dim"
    energy = rec.get("energy_net_j") if view == "net" else rec.get("energy_j")
    quality = rec.get("energy_quality") or "unavailable"
    q_text = fmt.QUALITY_SHORT.get(quality, quality)
    flags = rec.get("energy_flags") or []
    if flags:
        q_text += " !"
    idx = rec.get("index")
    status = rec.get("status") or ""
    return [
        _cell(str(idx + 1) if isinstance(idx, int) else "", idx),
        _cell(sym, {True: 0, False: 1}.get(correct, 2), style=ok_style, justify="center"),
        _cell(str(rec.get("domain") or ""), str(rec.get("domain") or ""), justify="left"),
        _num(energy),
        _num(rec.get("avg_power_w")),
        _cell(q_text, quality, justify="left"),
        _num(rec.get("latency_s")),
        _num(rec.get("ttft_s")),
        _num(rec.get("decode_tps")),
        _cell(fmt.NA if rec.get("output_tokens") is None else str(rec["output_tokens"]),
              rec.get("output_tokens")),
        _cell(status, status, justify="left"),
    ]


def _sort_key(cell):
    v = getattr(cell, "sort_value", None)
    if v is None:
        return (1, 0, "")
    if isinstance(v, str):
        return (0, 0, v)
    return (0, v, "")


class QueryTable(DataTable):
    """The per-query table of a live run or a saved session."""

    # home/end go to the first/last query (the default moves between columns, which here draws nothing)
    BINDINGS = [
        Binding("home", "scroll_top", "First query", show=False, id="table.first"),
        Binding("end", "scroll_bottom", "Last query", show=False, id="table.last"),
    ]

    def __init__(self, *, id: str | None = None, view: str = "gross") -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.view = view
        self.follow = True  # keep the newest row in view until the user moves away from it
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._auto_row: int | None = None  # the row the table moved to by itself (following)

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(self._label(key, label), key=key, width=width)

    def _label(self, key: str, label: str) -> str:
        if key == "j":
            label = f"J {self.view}"
        if key == self.sort_column:
            label += " ▼" if self.sort_reverse else " ▲"
        return label

    def _relabel(self) -> None:
        for key, label, _w in COLUMNS:
            col = self.columns.get(key)  # type: ignore[call-overload]
            if col is not None:
                col.label = Text(self._label(key, label))
        self._update_count += 1  # the header's cached rendering is stale
        self.refresh()

    def _update_dimensions(self, new_rows) -> None:  # noqa: D401
        """Every column has a fixed width and every row one line: nothing to measure."""
        if all(not c.auto_width for c in self.columns.values()) and not self._labelled_row_exists:
            from textual.geometry import Size
            from textual.widget import Widget

            width = sum(c.get_render_width(self) for c in self.columns.values())
            header = self.header_height if self.show_header else 0
            new = Size(width, self._total_row_height + header)
            old = self.virtual_size
            if new.width == old.width and new.height >= old.height and self.show_vertical_scrollbar:
                # only longer, and the scrollbar is showing already: no layout pass of the whole screen
                self.set_reactive(Widget.virtual_size, new)
                self._scroll_update(new)
                self.refresh()
            else:
                self.virtual_size = new
            return
        super()._update_dimensions(new_rows)

    # ---- rows -----------------------------------------------------------------------------------

    def add_records(self, rows: list[list[Cell]], keys: list[str] | None = None) -> None:
        """Add prepared rows in one call, then keep the sort and the newest row in view."""
        if keys is None:
            self.add_rows(rows)
        else:
            for row, key in zip(rows, keys):
                self.add_row(*row, key=key)
        if self.sort_column is not None:
            self._apply_sort()
        elif self.follow and self.row_count:
            self._follow()

    def add_older(self, rows: list[list[Cell]]) -> None:
        """Rows that come before those shown (a long session's older queries): added, then put in order."""
        self.add_rows(rows)
        if self.sort_column is not None:
            self._apply_sort()
        else:
            self.sort("n", key=_sort_key)
            if self.follow and self.row_count:
                self._follow()

    def _follow(self) -> None:
        self._auto_row = self.row_count - 1
        self.move_cursor(row=self._auto_row, animate=False)

    def set_view(self, view: str, records: list[dict]) -> None:
        """Show gross or net energy: the J column is rebuilt from the records."""
        self.view = view
        row = self.cursor_row
        self.clear()
        self._relabel()
        self.add_rows([record_cells(r, view) for r in records])
        if self.sort_column is not None:
            self._apply_sort()
        if self.row_count:
            if self.follow and self.sort_column is None:
                self._follow()
            else:
                self.move_cursor(row=min(row, self.row_count - 1), animate=False)

    # ---- sorting --------------------------------------------------------------------------------

    def _apply_sort(self) -> None:
        self.sort(self.sort_column, key=_sort_key, reverse=self.sort_reverse)

    def sort_by(self, key: str | None, reverse: bool = False) -> None:
        """Sort by a column (None: back to arrival order, newest row followed)."""
        self.sort_column, self.sort_reverse = key, reverse
        if key is None:
            self.sort("n", key=_sort_key)
            self.follow = True
            if self.row_count:
                self._follow()
        else:
            self.follow = False
            self._apply_sort()
        self._relabel()

    def cycle_sort(self) -> None:
        """Next sort: each column ascending, then descending, then arrival order."""
        keys = COLUMN_KEYS[1:]
        if self.sort_column is None:
            self.sort_by(keys[0])
        elif not self.sort_reverse:
            self.sort_by(self.sort_column, reverse=True)
        else:
            i = keys.index(self.sort_column) + 1 if self.sort_column in keys else 0
            self.sort_by(keys[i] if i < len(keys) else None)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = event.column_key.value
        if key == "n" and self.sort_column is None:
            return
        if key == self.sort_column:
            self.sort_by(key, reverse=not self.sort_reverse)
        else:
            self.sort_by(None if key == "n" else key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.sort_column is None and event.cursor_row != self._auto_row:
            # the user moved: follow again only once they are back on the newest row
            self.follow = event.cursor_row >= self.row_count - 1
            self._auto_row = None
