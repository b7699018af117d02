"""Small line-drawn widgets for the parts of the run screen that change on every tick or query: a few lines
of plain text, and a one-line bar chart. A new value redraws only the lines that changed, with no layout
pass and no markup parsing (Static's rendering costs about 1 ms of UI-thread CPU per update).
"""

from __future__ import annotations

import textwrap

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


ELLIPSIS = "…"


def fit(text: str, cells: int) -> str:
    """``text`` cut to ``cells`` cells, an ellipsis saying it was cut."""
    if cell_len(text) <= cells:
        return text
    return set_cell_size(text, cells - 1) + ELLIPSIS if cells > 1 else set_cell_size(text, max(cells, 0))


def refresh_rows(widget: Widget, rows: list[int], width: int) -> None:
    """Repaint only these content rows of a widget (one region per run of consecutive rows)."""
    runs: list[list[int]] = []
    for y in rows:
        if runs and runs[-1][1] == y:
            runs[-1][1] = y + 1
        else:
            runs.append([y, y + 1])
    if runs:
        widget.refresh(*(Region(0, a, width, b - a) for a, b in runs))


def refresh_changed(widget: Widget, old: list[Strip], new: list[Strip], width: int) -> None:
    """Repaint the rows whose text differs between two renderings of a widget's lines."""
    refresh_rows(widget, [y for y, (a, b) in enumerate(zip(old, new)) if a.text != b.text], width)


class CachedLines(Widget):
    """A widget drawn as lines built for its size and kept until its content, size or style changes.

    A subclass builds its lines in ``build_lines(width, height)`` and calls ``content_changed()`` when
    what it shows changes: only the lines whose text differs are repainted, with no layout pass.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[Strip] | None = None
        self._lines_size: tuple[int, int] | None = None

    def build_lines(self, width: int, height: int) -> list[Strip]:
        raise NotImplementedError

    def lines_for(self, width: int, height: int) -> list[Strip]:
        if self._lines is None or self._lines_size != (width, height):
            self._lines = self.build_lines(width, height)
            self._lines_size = (width, height)
        return self._lines

    def content_changed(self) -> None:
        old, size = self._lines, self._lines_size
        self._lines = None
        if old is None or size is None or not self.is_mounted:
            self.refresh()
            return
        refresh_changed(self, old, self.lines_for(*size), size[0])

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines = None

    def render_line(self, y: int) -> Strip:
        width, height = self.content_size
        lines = self.lines_for(max(width, 1), max(height, 1))
        return lines[y] if 0 <= y < len(lines) else Strip.blank(width, self.rich_style)


class LineText(CachedLines):
    """Plain text in a box of fixed size, wrapped at its width (or, with ``wrap=False``, one line per
    paragraph). Text that does not fit is cut, and an ellipsis says so."""

    DEFAULT_CSS = """
    LineText {
        height: 1;
    }
    """

    def __init__(self, text: str = "", *, id: str | None = None, wrap: bool = True) -> None:
        super().__init__(id=id)
        self._text = text
        self.wrap = wrap

    @property
    def text(self) -> str:
        return self._text

    def update(self, text: str, layout: bool = False) -> None:  # noqa: ARG002 - never a layout pass
        text = str(text)
        if text != self._text:
            self._text = text
            self.content_changed()

    def wrapped(self, width: int) -> list[str]:
        width = max(width, 1)
        if not self.wrap:
            return [fit(para, width) for para in self._text.split("\n")]
        out: list[str] = []
        for para in self._text.split("\n"):
            out += textwrap.wrap(para, width=width, break_long_words=True, break_on_hyphens=False) or [""]
        return out

    def build_lines(self, width: int, height: int) -> list[Strip]:
        style = self.rich_style
        rows = self.wrapped(width)
        if len(rows) > height > 0:  # more than fits: the last line shown says so
            rows = rows[:height]
            rows[-1] = fit(rows[-1].rstrip() + ELLIPSIS, width)
        rows += [""] * (height - len(rows))
        return [Strip([Segment(r, style)]).crop(0, width).extend_cell_length(width, style) for r in rows]


class OneLine(Widget):
    """A widget of one line, kept as one strip: ``build(width)`` makes it, ``changed()`` asks for a new one."""

    DEFAULT_CSS = """
    OneLine {
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._strip: Strip | None = None
        self._width = -1

    def changed(self) -> None:
        self._strip = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = None

    def build(self, width: int) -> Strip:
        raise NotImplementedError

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if y != 0:
            return Strip.blank(width, self.rich_style)
        if self._strip is None or width != self._width:
            self._width = width
            self._strip = self.build(width).extend_cell_length(width, self.rich_style).crop(0, width)
        return self._strip


BARS = "▁▂▃▄▅▆▇█"


class BarLine(OneLine):
    """A one-line bar chart of the newest values (one column each), scaled from 0 to the largest."""

    COMPONENT_CLASSES = {"bar-line--bar"}
    DEFAULT_CSS = """
    BarLine {
        & > .bar-line--bar { color: $primary; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: list[float] = []

    def update(self, values: list[float]) -> None:
        values = [float(v) for v in values if v is not None]
        if values != self.values:
            self.values = values
            self.changed()

    def build(self, width: int) -> Strip:
        shown = self.values[-width:] if width > 0 else []
        top = max(shown, default=0.0)
        chars = "".join(BARS[min(int(v / top * (len(BARS) - 1) + 0.5), len(BARS) - 1)] if top > 0 else " "
                        for v in shown)
        return Strip([Segment(chars, self.get_component_rich_style("bar-line--bar"))])
