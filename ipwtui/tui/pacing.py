"""How often the live run screen redraws.

Every redraw costs CPU time on the UI thread. When the model's threads take every core, that time is
taken from them: on a 2-core machine, a UI using 4 % of one core costs about 4 % of the decode rate.
So while the cores are saturated the run screen draws between queries when it can (see
``RunScreen.tick``), and otherwise keeps its own CPU time under a budget (1 % of one core),
measured, not assumed: the UI thread's CPU time from one tick to the next (the tick and the frames it
caused) is the cost of a tick, and the median of the last few costs sets the next interval,
interval = cost / budget, between the normal interval and a ceiling (a one-off cost, such as a layout
pass when a dialog closes, does not slow the screen down). With cores to spare the screen redraws at the
normal rate.
"""

from __future__ import annotations

import statistics
import time
from collections import deque

BASE_S = 0.5  # the normal interval: 2 redraws a second
LONGEST_S = 2.0  # never slower than this
BUDGET = 0.01  # UI-thread CPU, as a share of one core, while the model's threads take every core
WINDOW = 5  # ticks in the median cost


class Pacer:
    """The interval to the next tick, from the measured UI-thread CPU time per tick."""

    def __init__(self, base: float = BASE_S, longest: float = LONGEST_S, budget: float = BUDGET,
                 cpu=time.thread_time) -> None:
        self.base, self.longest, self.budget = base, longest, budget
        self.cpu = cpu  # CPU time of the calling (UI) thread
        self.costs: deque[float] = deque(maxlen=WINDOW)  # CPU seconds of the last ticks
        self.interval = base
        self._last: float | None = None

    @property
    def cost(self) -> float | None:
        """The median CPU seconds per tick of the last few ticks (None before two ticks)."""
        return statistics.median(self.costs) if self.costs else None

    def next_interval(self, saturated: bool) -> float:
        """Called once per tick, on the UI thread, after the tick's work."""
        now = self.cpu()
        if self._last is not None:
            self.costs.append(max(now - self._last, 0.0))
        self._last = now
        cost = self.cost
        if not saturated or cost is None:
            self.interval = self.base
        else:
            self.interval = min(max(cost / self.budget, self.base), self.longest)
        return self.interval
