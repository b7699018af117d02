"""The run's progress: a bar and its percentage on one line.

It changes only when it is given a new count (Textual's ProgressBar also redraws itself every second,
which costs a frame each time during a run).
"""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip

from .lines import OneLine


class RunProgress(OneLine):
    COMPONENT_CLASSES = {"run-progress--done", "run-progress--todo", "run-progress--percent"}
    DEFAULT_CSS = """
    RunProgress {
        & > .run-progress--done { color: $primary; }
        & > .run-progress--todo { color: $foreground-muted; }
        & > .run-progress--percent { color: $foreground; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total: int | None = None
        self.done = 0

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)

    def update(self, total: int | None, done: int) -> None:
        if (total, done) != (self.total, self.done):
            self.total, self.done = total, done
            self.changed()

    def build(self, width: int) -> Strip:
        f = self.fraction
        label = " --- " if f is None else f"{100 * f:4.0f}%"
        bar_w = max(width - len(label) - 1, 0)
        n_done = 0 if f is None else int(round(f * bar_w))
        done, todo, percent = (self.get_component_rich_style(f"run-progress--{k}")
                               for k in ("done", "todo", "percent"))
        # done and to do differ in weight as well as colour (a heavy line, then a light one)
        return Strip([Segment("━" * n_done, done), Segment("─" * (bar_w - n_done), todo),
                      Segment(" " + label, percent)]).apply_style(self.rich_style)
