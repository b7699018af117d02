"""The answer as the model writes it: the newest lines that fit, redrawn a few times a second.

The widget has a fixed size and draws only the tail of the text, line by line (Textual's line API), so an
update neither asks for a layout pass nor re-renders a growing document: it redraws the lines that
changed.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from .lines import refresh_changed


class AnswerView(Widget):
    DEFAULT_CSS = """
    AnswerView {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""
        self._lines: list[Strip] | None = None
        self._key = None
        self._style = None

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        if text == self._text:
            return
        self._text = text
        old, key = self._lines, self._key
        self._lines = None
        if old is None or key is None or not self.is_mounted:
            self.refresh()
            return
        # redraw only the lines that changed: while the answer grows, usually the last one or two
        refresh_changed(self, old, self._tail_lines(*key), key[0])

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines = None

    def _tail_lines(self, width: int, height: int) -> list[Strip]:
        key = (width, height)
        if self._lines is not None and key == self._key:
            return self._lines
        style = self.rich_style
        # at most width * height characters can show: wrap a generous tail only
        tail = self._text[-(width * height * 2 + 1):]
        wrapped = Text(tail).wrap(self.app.console, width, overflow="fold")
        if len(wrapped) > height:
            wrapped = wrapped[len(wrapped) - height:]
        lines = [Strip([Segment(line.plain)]) for line in wrapped]
        lines += [Strip([])] * (height - len(lines))
        self._lines = [s.extend_cell_length(width).apply_style(style) for s in lines]
        self._key = key
        return self._lines

    def render_line(self, y: int) -> Strip:
        width, height = self.content_size
        lines = self._tail_lines(max(width, 1), max(height, 1))
        return lines[y] if 0 <= y < len(lines) else Strip.blank(width, self.rich_style)
