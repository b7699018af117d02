"""Headline figures in large type: running IPW, IPJ, accuracy, total joules, mean watts."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Static

from ...core import fmt


class FigureDigits(Digits):
    """Digits in a box of fixed size: a new value repaints it without a layout pass of the screen."""

    def update(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("value must be a str")
        if value != self._value:
            self._value = value
            self.refresh()


class Figure(Vertical):
    """A figure: a title, the value in large digits (or N/A), and a caption (interval, quality)."""

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="figure")
        self._title = title
        self._state = None

    def compose(self) -> ComposeResult:
        yield FigureDigits("", classes="fig-digits")
        yield Static(fmt.NA, classes="fig-na")
        yield Static("", classes="fig-caption", markup=False)

    def on_mount(self) -> None:
        self.show(None, "")

    def show(self, text: str | None, caption: str = "", estimate: bool = False) -> None:
        """``text`` None (or N/A) shows N/A, never 0. ``estimate`` marks the figure as an estimate."""
        state = (text, caption, estimate)
        if state == self._state:
            return
        self._state = state
        digits = self.query_one(".fig-digits", Digits)
        na = self.query_one(".fig-na", Static)
        missing = text is None or text == fmt.NA
        digits.display = not missing
        na.display = missing
        if not missing:
            digits.update(text)
        self.border_title = self._title + (" ≈ estimate" if estimate and not missing else "")
        self.query_one(".fig-caption", Static).update(caption, layout=False)
        self.set_class(estimate and not missing, "-estimate")

    @property
    def value_text(self) -> str:
        """What the figure shows now (for tests): its digits or N/A."""
        digits = self.query_one(".fig-digits", Digits)
        return digits.value if digits.display else fmt.NA


def figure_row():
    """The five headline figures, as the run screen and a past session's view both show them."""
    from textual.containers import Horizontal

    return Horizontal(
        Figure("IPW", id="fig-ipw"), Figure("IPJ", id="fig-ipj"), Figure("accuracy %", id="fig-acc"),
        Figure("energy", id="fig-joules"), Figure("power", id="fig-watts"), id="figures")
