"""The per-query table: verdict, domain, energy, power, latency, TTFT, decode rate, tokens.

A small table widget of its own, drawn line by line (Textual's line API), because it is on screen during
a run and every frame it costs is UI-thread CPU taken from the model's decode threads. Columns have
fixed widths, so a row is drawn once, as one strip of a few segments, and kept: a new row, a cursor move
or a scroll redraws only from that cache, and a 10,000-query session is added in one call and costs only
its visible rows. Cells carry the raw value they show, so sorting orders numbers as numbers and puts N/A
last. When the table is narrower than its columns (an 80-column terminal), the columns get one space
between them instead of two and a few narrower widths; a number that does not fit is shown with fewer
digits, other text ends in an ellipsis. A wide table has a last column saying why a row looks as it does
(which flags the "!" stands for, a failed attempt's error); at any width, the selected row's note is the
table's bottom line while it has the focus (``legend`` otherwise).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from .lines import fit



class Cell(Text):
    """A table cell that remembers the value it shows, for sorting, and shorter forms of its text
    (``alts``, shortest last) for a column too narrow for it: a number is shown with fewer digits rather
    than cut."""

    sort_value = None
    alts: tuple[str, ...] = ()


def cell(text: str, value=None, style: str = "", justify: str = "right") -> Cell:
    c = Cell(text, style=style, justify=justify)
    c.sort_value = value
    return c


# key, label, width
COLUMNS = [
    ("n", "#", 5),
    ("ok", "✓", 3),
    ("domain", "domain", 12),
    ("j", "J", 10),
    ("w", "W", 6),
    ("q", "energy", 6),
    ("lat", "lat s", 6),
    ("ttft", "TTFT s", 6),
    ("tps", "tok/s", 6),
    ("tok", "tokens", 6),
    ("status", "status", 7),
    ("note", "why (flags, error)", 0),  # the rest of a wide table's width; hidden when narrower
]
COLUMN_KEYS = [c[0] for c in COLUMNS]
NOTE = "note"
NOTE_MIN = 20  # the note column shows when it gets at least this many cells
SORT_KEYS = [k for k in COLUMN_KEYS[1:] if k != NOTE]  # what `s` cycles through
# narrower widths for a narrow table (with one space after each column instead of one on each side, the
# table fits 77 cells: an 80-column terminal less the border and a one-cell scrollbar)
NARROW_WIDTHS = {"n": 4, "ok": 1, "domain": 9, "j": 9}


def _sort_key(cell):
    v = getattr(cell, "sort_value", None)
    if v is None:
        return (1, 0, "")
    if isinstance(v, str):
        return (0, 0, v)
    return (0, v, "")


CACHE_MAX = 2048  # row strips kept (a few screens of rows in each of the three looks)


class QueryTable(ScrollView, can_focus=True):
    """The per-query table of a live run or a saved session: a fixed header, rows of ``Cell``s, a row
    cursor, zebra stripes, sorting by any column (the ``s`` key of the screens, or a click on a header)."""

    COMPONENT_CLASSES = {"query-table--header", "query-table--cursor", "query-table--even-row",
                         "query-table--odd-row"}
    DEFAULT_CSS = """
    QueryTable {
        background: $surface;
        color: $foreground;
        /* the scrollbar is always there: the row that first overflows the table does not make a layout
           pass of the whole screen in the middle of a run */
        overflow-y: scroll;
        & > .query-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .query-table--odd-row { }
        & > .query-table--even-row { background: $surface-lighten-1 50%; }
        & > .query-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .query-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False, id="table.up"),
        Binding("down", "cursor_down", "Down", show=False, id="table.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("home", "first", "First query", show=False, id="table.first"),
        Binding("end", "last", "Last query", show=False, id="table.last"),
        Binding("ctrl+home", "first", "First query", show=False, id="table.first_ctrl"),
        Binding("ctrl+end", "last", "Last query", show=False, id="table.last_ctrl"),
    ]

    class HeaderSelected(Message):
        """A column header was clicked."""

        def __init__(self, column_key: str) -> None:
            super().__init__()
            self.column_key = column_key

    def __init__(self, *, id: str | None = None, view: str = "gross") -> None:
        super().__init__(id=id)
        self.view = view
        self.follow = True  # keep the newest row in view until the user moves away from it
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._rows: list[list[Cell]] = []  # in display order
        self._cursor = 0
        self._cache: dict[tuple[int, str], Strip] = {}  # (id of a row's cell list, look) -> strip
        self._looks: dict = {}  # component styles, until the next style update
        self._cell_styles: dict[str, Style] = {}
        self.narrow = False  # the narrow column layout (see set_narrow)
        self.note_width = 0  # cells of the note column (0: hidden)
        self.legend = ""  # the bottom line while no row's note is shown
        self._layout()

    def on_mount(self) -> None:
        # the header's width from the start: the first rows then need no layout pass
        self.virtual_size = Size(self._total_width, len(self._rows) + 1)

    # ---- the data ---------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def get_row_at(self, index: int) -> list[Cell]:
        return self._rows[index]

    def clear(self) -> None:
        self._rows = []
        self._cursor = 0
        self._cache.clear()
        self._resized()

    def add_rows(self, rows: list[list[Cell]]) -> None:
        self._rows.extend(rows)
        self._resized()

    def add_records(self, rows: list[list[Cell]]) -> None:
        """Add prepared rows in one call, then keep the sort and the newest row in view."""
        self.add_rows(rows)
        if self.sort_column is not None:
            self._apply_sort()
        elif self.follow and self.row_count:
            self._follow()

    def add_older(self, rows: list[list[Cell]]) -> None:
        """Rows that come before those shown (a long session's older queries): added, then put in order."""
        self._rows[:0] = rows
        self._cursor += len(rows)
        self._resized()
        if self.sort_column is not None:
            self._apply_sort()
        elif self.follow and self.row_count:
            self._follow()
        else:
            self._scroll_to_cursor()

    def set_view(self, view: str, rows: list[list[Cell]]) -> None:
        """Show gross or net energy: every row, rebuilt by the caller for ``view``."""
        self.view = view
        row = self._cursor
        self._rows = rows
        self._cache.clear()
        self._resized()
        if self.sort_column is not None:
            self._apply_sort()
        if self.row_count:
            if self.follow and self.sort_column is None:
                self._follow()
            else:
                self.move_cursor(min(row, self.row_count - 1))
        self.relabel()

    def _resized(self) -> None:
        new = Size(self._total_width, len(self._rows) + 1)  # the header is line 0
        old = self.virtual_size
        bar = self.show_vertical_scrollbar
        fits = not bar and new.height <= self.scrollable_content_region.height
        if new.width == old.width and (fits or (bar and new.height >= old.height)):
            # still no scrollbar needed, or only longer with the scrollbar showing already: no layout
            # pass of the whole screen
            self.set_reactive(Widget.virtual_size, new)
            self._scroll_update(new)
        else:
            self.virtual_size = new
            # the layout pass may add scrollbars, which take lines: see the cursor again after it
            self.call_after_refresh(self._scroll_to_cursor)
        self._cursor = max(0, min(self._cursor, len(self._rows) - 1))
        self.refresh()

    # ---- the cursor -------------------------------------------------------------------------------

    def _follow(self) -> None:
        self.move_cursor(self.row_count - 1)

    def move_cursor(self, row: int, user: bool = False) -> None:
        """Put the cursor on a row and scroll it into view. ``user``: moved by the user, so the table
        follows the newest row again only once the user is back on it."""
        if not self._rows:
            return
        row = max(0, min(row, len(self._rows) - 1))
        if row != self._cursor:
            self._cursor = row
            self.refresh()
        if self.has_focus:
            self._show_note()
        if user and self.sort_column is None:
            self.follow = row >= len(self._rows) - 1
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        shown = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True, force=True)
        elif self._cursor > top + shown - 1:
            self.scroll_to(y=self._cursor - shown + 1, animate=False, immediate=True, force=True)

    def _page(self) -> int:
        return max(self.scrollable_content_region.height - 2, 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1, user=True)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1, user=True)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page(), user=True)

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page(), user=True)

    def action_first(self) -> None:
        self.move_cursor(0, user=True)

    def action_last(self) -> None:
        self.move_cursor(len(self._rows) - 1, user=True)

    def _layout(self) -> None:
        """Column widths for the look (narrow or wide) and the note column's width."""
        shown = [(k, w) for k, _l, w in COLUMNS if k != NOTE or self.note_width]
        self._keys = [k for k, _w in shown]
        self._cols = [self.note_width if k == NOTE else NARROW_WIDTHS.get(k, w) if self.narrow else w
                      for k, w in shown]
        self._widths = [w + (1 if self.narrow else 2) for w in self._cols]
        self._total_width = sum(self._widths)

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        wide = sum(w + 2 for k, _l, w in COLUMNS if k != NOTE)
        narrow = width < wide
        note = width - wide - 2 if not narrow and width - wide - 2 >= NOTE_MIN else 0
        self.set_narrow(narrow, note)
        self._scroll_to_cursor()

    def set_narrow(self, narrow: bool, note_width: int = 0) -> None:
        """The narrow layout (one space between columns, narrower #, ✓, domain and J) or the wide one, with
        a note column of ``note_width`` cells (0: none)."""
        if (narrow, note_width) == (self.narrow, self.note_width):
            return
        self.narrow, self.note_width = narrow, note_width
        self._layout()
        self._cache.clear()
        self.virtual_size = Size(self._total_width, len(self._rows) + 1)
        self.refresh()

    # ---- the selected row's note ------------------------------------------------------------------

    def selected_note(self) -> str:
        """"#12 flagged: contended" of the row under the cursor, or "" when it has no note."""
        if not self._rows:
            return ""
        row = self._rows[self._cursor]
        i = COLUMN_KEYS.index(NOTE)
        note = row[i].plain if len(row) > i else ""
        return f"#{row[0].plain.strip()} {note}" if note else ""

    def set_legend(self, legend: str) -> None:
        """The bottom line while no row's note is shown (the key to the table's words)."""
        self.legend = legend
        self._show_note()

    def _show_note(self, focused: bool | None = None) -> None:
        focused = self.has_focus if focused is None else focused
        note = self.selected_note() if focused else ""
        line = note or self.legend
        if self.border_subtitle != line:
            self.border_subtitle = line

    def on_focus(self) -> None:
        self._show_note(focused=True)

    def on_blur(self) -> None:
        self._show_note(focused=False)  # (called before the widget's own has_focus is cleared)

    def on_click(self, event: events.Click) -> None:
        at = event.get_content_offset(self)
        if at is None:
            return
        if at.y == 0:  # the header: sort by the column under the pointer
            x = at.x + int(self.scroll_x)
            for key, width in zip(self._keys, self._widths):
                if x < width:
                    if key != NOTE:
                        self.post_message(self.HeaderSelected(key))
                    break
                x -= width
            return
        self.focus()
        self.move_cursor(int(self.scroll_y) + at.y - 1, user=True)

    def on_query_table_header_selected(self, event: HeaderSelected) -> None:
        event.stop()
        key = event.column_key
        if key == "n" and self.sort_column is None:
            return
        if key == self.sort_column:
            self.sort_by(key, reverse=not self.sort_reverse)
        else:
            self.sort_by(None if key == "n" else key)

    # ---- sorting ----------------------------------------------------------------------------------

    def _apply_sort(self) -> None:
        self._sort(self.sort_column, self.sort_reverse)

    def _sort(self, key: str, reverse: bool = False) -> None:
        i = COLUMN_KEYS.index(key)
        current = self._rows[self._cursor] if self._rows else None
        known = [r for r in self._rows if getattr(r[i], "sort_value", None) is not None]
        known.sort(key=lambda row: _sort_key(row[i]), reverse=reverse)
        self._rows = known + [r for r in self._rows if getattr(r[i], "sort_value", None) is None]  # N/A last
        self._cache.clear()  # the zebra stripes follow the new order
        if current is not None:
            self._cursor = next(k for k, r in enumerate(self._rows) if r is current)
        self.refresh()
        self._scroll_to_cursor()

    def sort_by(self, key: str | None, reverse: bool = False) -> None:
        """Sort by a column (None: back to arrival order, newest row followed)."""
        self.sort_column, self.sort_reverse = key, reverse
        if key is None:
            self._sort("n")
            self.follow = True
            if self.row_count:
                self._follow()
        else:
            self.follow = False
            self._apply_sort()
        self.relabel()

    def cycle_sort(self) -> None:
        """Next sort: each column ascending, then descending, then arrival order."""
        keys = SORT_KEYS
        if self.sort_column is None:
            self.sort_by(keys[0])
        elif not self.sort_reverse:
            self.sort_by(self.sort_column, reverse=True)
        else:
            i = keys.index(self.sort_column) + 1 if self.sort_column in keys else 0
            self.sort_by(keys[i] if i < len(keys) else None)

    # ---- drawing ----------------------------------------------------------------------------------

    def _label(self, key: str, label: str, width: int | None = None) -> str:
        """A column's title, with the sort arrow on the sorted column: within ``width`` the title is cut,
        never the arrow ("W n…▲", not "W net…")."""
        if key == "j":
            label = f"J {self.view}"
        elif key == "w" and self.view != "gross":
            label = f"W {self.view}"
        if key == self.sort_column:
            arrow = "▼" if self.sort_reverse else "▲"
            if width is not None and cell_len(label) + 2 > width:
                return fit(label, max(width - 1, 1)) + arrow
            label += " " + arrow
        return label

    def relabel(self) -> None:
        """The header again (energy view, sort marker)."""
        self._cache.pop((0, "header"), None)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._looks.clear()

    def _look(self, name: str) -> Style:
        st = self._looks.get(name)
        if st is None:
            st = self._looks[name] = self.get_component_rich_style(f"query-table--{name}")
        return st

    def _cell_style(self, spec: str | Style) -> Style:
        if isinstance(spec, Style):
            return spec
        st = self._cell_styles.get(spec)
        if st is None:
            st = self._cell_styles[spec] = Style.parse(spec) if spec else Style()
        return st

    def _combined(self, look: str, spec) -> Style:
        key = (look, spec)
        st = self._looks.get(key)
        if st is None:
            st = self._looks[key] = self._look(look) + self._cell_style(spec)
        return st

    def _strip(self, cells: list, look: str, key: tuple | None = None) -> Strip:
        """One row (or the header) as a strip the width of all columns, kept under ``key`` (a row's
        cell list lives as long as its cache entry: both go in ``clear`` and ``set_view``)."""
        key = key or (id(cells), look)
        strip = self._cache.get(key)
        if strip is not None:
            return strip
        base = self._look(look)
        segments = []
        left = "" if self.narrow else " "
        for w, cell in zip(self._cols, self._shown(cells)):
            text = cell.plain if isinstance(cell, Text) else str(cell)
            justify = getattr(cell, "justify", "left") or "left"
            if cell_len(text) > w:
                text = next((a for a in getattr(cell, "alts", ()) if cell_len(a) <= w), None) or fit(text, w)
            gap = w - cell_len(text)
            if justify == "right":
                text = " " * gap + text
            elif justify == "center":
                text = " " * (gap // 2) + text + " " * (gap - gap // 2)
            else:
                text += " " * gap
            spec = cell.style if isinstance(cell, Text) else ""
            style = self._combined(look, spec) if spec else base
            segments.append(Segment(f"{left}{text} ", style))
        strip = Strip(segments, self._total_width)
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[key] = strip
        return strip

    def _shown(self, cells: list) -> list:
        """The cells of the columns shown (the note column only when the table is wide enough)."""
        return cells if self.note_width else [c for k, c in zip(COLUMN_KEYS, cells) if k != NOTE]

    def _header(self) -> Strip:
        widths = dict(zip(self._keys, self._cols))
        cells = [Text(self._label(k, label, widths.get(k)), justify="left") for k, label, _w in COLUMNS]
        return self._strip(cells, "header", key=(0, "header"))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = int(self.scroll_x), int(self.scroll_y)
        bg = self._look("odd-row")
        if y == 0:
            strip = self._header()
        else:
            i = scroll_y + y - 1
            if i >= len(self._rows):
                return Strip.blank(width, bg)
            look = "cursor" if i == self._cursor else ("even-row" if i % 2 else "odd-row")
            strip = self._strip(self._rows[i], look)
        if scroll_x:
            strip = strip.crop(scroll_x, scroll_x + width)
        if strip.cell_length < width:
            strip = strip.extend_cell_length(width, bg)
        elif strip.cell_length > width:
            strip = strip.crop(0, width)
        return strip
