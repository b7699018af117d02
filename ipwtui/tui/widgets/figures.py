"""Headline figures in large type: running IPW, IPJ, accuracy, total joules, mean watts.

Each figure is one widget of fixed size drawn line by line: the value in 3-line digits (or N/A, never 0)
and two caption lines. A new value redraws the figure's own lines, with no layout pass of the screen.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.renderables.digits import Digits
from textual.strip import Strip
from ...core import fmt
from .lines import CachedLines

DIGIT_LINES = 3
CAPTION_LINES = 2


class Figure(CachedLines):
    """A figure: the title on its border, the value in large digits (or N/A), a caption (interval,
    quality). ``-estimate`` is set while the figure's energy source is not measured."""

    COMPONENT_CLASSES = {"figure--digits", "figure--na", "figure--caption"}
    DEFAULT_CSS = """
    Figure {
        height: 7;
        & > .figure--digits { text-style: bold; }
        & > .figure--na { text-style: bold; }
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="figure")
        self._title = title
        self._state: tuple | None = None
        self._text: str | None = None
        self._caption = ""
        self._styles: dict[str, Style] = {}  # component styles, until the next style update
        self.border_title = title

    def show(self, text: str | None, caption: str = "", estimate: bool = False) -> None:
        """``text`` None (or N/A) shows N/A, never 0. ``estimate`` marks the figure as an estimate."""
        state = (text, caption, estimate)
        if state == self._state:
            return
        self._state = state
        missing = text is None or text == fmt.NA
        self._text = None if missing else text
        self._caption = caption
        title = self._title + (" ≈ estimate" if estimate and not missing else "")
        if title != self.border_title:
            self.border_title = title
        # the estimate look follows the energy source, known before the first value: a class change
        # restyles the widget (costly), so it happens at the start of a run, not mid-run
        self.set_class(estimate, "-estimate")
        self.content_changed()  # only the lines that changed (the border stays)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def _style(self, part: str) -> Style:
        st = self._styles.get(part)
        if st is None:
            st = self._styles[part] = self.get_component_rich_style(f"figure--{part}")
        return st

    def build_lines(self, width: int, height: int) -> list[Strip]:
        if self._text is None:
            na = self._style("na")
            body = [Strip([]), Strip([Segment(fmt.NA, na)]), Strip([])]
        else:
            style = self._style("digits")
            rows = "".join(seg.text for seg in Digits(self._text).render(Style(bold=True))).split("\n")
            body = [Strip([Segment(row, style)]) for row in rows[:DIGIT_LINES]]
        caption_style = self._style("caption")
        captions = self._caption.split("\n")[:CAPTION_LINES]
        captions += [""] * (CAPTION_LINES - len(captions))
        lines = body + [Strip([Segment(c, caption_style)]) for c in captions]
        base = self.rich_style
        return [line.crop(0, width).extend_cell_length(width, base).apply_style(base) for line in lines]


def figure_row():
    """The five headline figures, as the run screen and a past session's view both show them."""
    from textual.containers import Horizontal

    return Horizontal(
        Figure("IPW", id="fig-ipw"), Figure("IPJ", id="fig-ipj"), Figure("accuracy %", id="fig-acc"),
        Figure("energy", id="fig-joules"), Figure("power", id="fig-watts"), id="figures")
