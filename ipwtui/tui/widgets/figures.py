"""Headline figures: running IPW, IPJ, accuracy, total joules, mean watts.

Each figure is one widget of fixed size drawn line by line. In a box (7 lines: border, the value in 3-line
digits or N/A, never 0, and two caption lines), or, when the screen is small and the stylesheet gives it
a single line, as one line: "IPW  0.0745 est  95% CI [0.0379, 0.112] · per W · gross". A new value
redraws the figure's own lines, with no layout pass of the screen. A value too wide for large digits is
shown whole as plain text; captions that do not fit are cut with an ellipsis.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.renderables.digits import DIGITS, Digits
from textual.strip import Strip
from ...core import fmt
from .lines import CachedLines, fit

DIGIT_LINES = 3
CAPTION_LINES = 2
TITLE_CELLS = 11  # the title column of the one-line form
VALUE_CELLS = 8  # the value column of the one-line form (right-aligned)
# what the title and the one-line form say of an energy figure's quality (measured needs no word)
TITLE_MARK = {"estimated": " ≈ estimate", "model-based": " ≈ model-based", "measured-remote": " · server"}
SHORT_MARK = {"estimated": "est", "model-based": "model", "measured-remote": "server"}


def large_digits_fit(text: str, width: int) -> bool:
    """``text`` can be drawn in large digits (every character has a large form) within ``width`` cells."""
    return all(c in DIGITS or c == "." for c in text) and Digits.get_width(text) <= width


class Figure(CachedLines):
    """A figure: the title on its border, the value in large digits (or N/A), a caption (interval,
    quality, coverage). ``-estimate`` is set while the figure's energy source is not measured."""

    COMPONENT_CLASSES = {"figure--digits", "figure--na", "figure--caption", "figure--title"}
    DEFAULT_CSS = """
    Figure {
        height: 7;
        & > .figure--digits { text-style: bold; }
        & > .figure--na { text-style: bold; }
        & > .figure--title { text-style: bold; }
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="figure")
        self._title = title
        self._state: tuple | None = None
        self._text: str | None = None
        self._caption = ""
        self._quality: str | None = None
        self._styles: dict[str, Style] = {}  # component styles, until the next style update
        self.border_title = title

    @property
    def caption(self) -> str:
        return self._caption

    @property
    def text(self) -> str | None:
        return self._text

    def show(self, text: str | None, caption: str = "", estimate: bool = False,
             quality: str | None = None) -> None:
        """``text`` None (or N/A) shows N/A, never 0. ``estimate`` gives the figure the estimate look;
        ``quality`` (an energy figure's) is said in the title when it is not "measured" (a server's
        telemetry, measured-remote, says " · server")."""
        state = (text, caption, estimate, quality)
        if state == self._state:
            return
        self._state = state
        missing = text is None or text == fmt.NA
        self._text = None if missing else text
        self._caption = caption
        self._quality = quality if quality in SHORT_MARK else ("estimated" if estimate else None)
        mark = TITLE_MARK.get(self._quality or "", "")
        title = self._title + (mark if not missing else "")
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

    def one_line(self) -> list[tuple[str, str]]:
        """The one-line form as (text, part) pieces: title, value, quality mark, captions."""
        value = fmt.NA if self._text is None else self._text
        mark = SHORT_MARK.get(self._quality or "", "") if self._text is not None else ""
        captions = " · ".join(c for c in self._caption.split("\n") if c)
        return [(f"{self._title:<{TITLE_CELLS}}", "title"),
                (f"{value:>{VALUE_CELLS}}", "na" if self._text is None else "digits"),
                (f" {mark:<6}" if mark else " " * 7, "title"),
                (captions, "caption")]

    def build_lines(self, width: int, height: int) -> list[Strip]:
        base = self.rich_style
        if height < DIGIT_LINES + CAPTION_LINES:
            segs, used = [], 0
            for text, part in self.one_line():
                text = fit(text, width - used)
                if text:
                    segs.append(Segment(text, self._style(part)))
                    used += cell_len(text)
            line = Strip(segs).crop(0, width).extend_cell_length(width, base).apply_style(base)
            return [line] + [Strip.blank(width, base)] * (height - 1)
        if self._text is None:
            na = self._style("na")
            body = [Strip([]), Strip([Segment(fmt.NA, na)]), Strip([])]
        elif not large_digits_fit(self._text, width):
            # too wide for large digits (0.000107 in a narrow box), or a character they lack (1.07e-05):
            # the same number as plain text, whole, never cut into one that reads as another value
            body = [Strip([]), Strip([Segment(fit(self._text, width), self._style("digits"))]), Strip([])]
        else:
            style = self._style("digits")
            rows = "".join(seg.text for seg in Digits(self._text).render(Style(bold=True))).split("\n")
            body = [Strip([Segment(row, style)]) for row in rows[:DIGIT_LINES]]
        caption_style = self._style("caption")
        captions = self._caption.split("\n")[:CAPTION_LINES]
        captions += [""] * (CAPTION_LINES - len(captions))
        lines = body + [Strip([Segment(fit(c, width), caption_style)]) for c in captions]
        return [line.crop(0, width).extend_cell_length(width, base).apply_style(base) for line in lines]


def figure_row():
    """The five headline figures, as the run screen and a past session's view both show them."""
    from textual.containers import Horizontal

    return Horizontal(
        Figure("IPW", id="fig-ipw"), Figure("IPJ", id="fig-ipj"), Figure("accuracy %", id="fig-acc"),
        Figure("energy", id="fig-joules"), Figure("power", id="fig-watts"), id="figures")
