"""The answer as the model writes it: the newest lines that fit, redrawn a few times a second.

The widget has a fixed size and draws only the tail of the text, line by line (Textual's line API), so an
update neither asks for a layout pass nor re-renders a growing document: it redraws the lines that
changed.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from .lines import CachedLines


class AnswerView(CachedLines):
    DEFAULT_CSS = """
    AnswerView {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        # redraws only the lines that changed: while the answer grows, usually the last one or two
        if text != self._text:
            self._text = text
            self.content_changed()

    def build_lines(self, width: int, height: int) -> list[Strip]:
        style = self.rich_style
        # at most width * height characters can show: wrap a generous tail only
        tail = self._text[-(width * height * 2 + 1):]
        wrapped = Text(tail).wrap(self.app.console, width, overflow="fold")
        if len(wrapped) > height:
            wrapped = wrapped[len(wrapped) - height:]
        lines = [Strip([Segment(line.plain)]) for line in wrapped]
        lines += [Strip([])] * (height - len(lines))
        return [s.extend_cell_length(width).apply_style(style) for s in lines]
