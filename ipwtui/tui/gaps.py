"""Frames drawn between two queries while the model's threads take every core: the one home of this logic.

On a small machine running CPU inference with as many threads as cores, every frame the app draws takes
CPU time from the model's decode threads, inside a measured window. So a due frame waits for the runner
to be between two queries, outside every window:

1. the screen says a frame is due (``frame_due``); with the cores saturated, the gate asks the runner
   for a gap and arms a fallback timer;
2. the runner, between two queries, calls ``between_queries`` (runner thread): the gate posts
   ``GapOpen`` to the screen and waits for the frame, at most ``GAP_MAX_S``;
3. the screen's handler calls ``gap_open`` (UI thread): the frame is drawn, and the runner is let go once
   it is on screen;
4. if no query ends within ``GAP_WAIT_S`` (a long answer), the fallback draws the frame anyway.

The gate also counts the UI thread's CPU time over the run and inside the gaps: what the app took
itself, written into the session's segment record (``observer``).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from textual.message import Message

GAP_MAX_S = 0.25  # the longest the runner waits for the UI between two queries
GAP_WAIT_S = 1.0  # how long a due frame waits for the gap between two queries before it is drawn anyway


def ui_cpu_clock():
    """The CPU-time clock of the UI (main) thread, readable from other threads; None where the platform
    has none."""
    try:
        return time.pthread_getcpuclockid(threading.main_thread().ident)
    except (AttributeError, OSError):
        return None


class GapOpen(Message):
    """The runner is between two queries and waits (briefly) for the screen to draw."""

    def __init__(self, gate: "FrameGate") -> None:
        super().__init__()
        self.gate = gate


class FrameGate:
    def __init__(self, stopped: Callable[[], bool] = lambda: False) -> None:
        self.stopped = stopped  # the run is stopping: the runner no longer waits
        self.wanted = threading.Event()  # the screen asked for a gap
        self.drawn = threading.Event()  # the frame asked for is on screen
        self._screen = None
        self._draw: Callable[[bool], None] | None = None
        self._awaiting = False
        self._fallback = None
        self._clock = ui_cpu_clock()
        self._cpu0: float | None = None
        self.gaps = 0
        self.gap_cpu = 0.0  # the UI thread's CPU time inside the gaps
        self.gap_wait = 0.0  # the runner's time waiting in the gaps

    # ---- UI thread --------------------------------------------------------------------------------

    def frame_due(self, screen, draw: Callable[[bool], None], saturated: bool) -> None:
        """A frame is due: drawn now (``draw(False)``), or, while the cores are saturated, in the next
        gap between two queries (``draw(True)``) or after ``GAP_WAIT_S`` at the latest."""
        if not saturated:
            draw(False)
            return
        self._screen, self._draw, self._awaiting = screen, draw, True
        self.wanted.set()
        self._fallback = screen.set_timer(GAP_WAIT_S, self._draw_anyway, name="frame-gate-fallback")

    def gap_open(self) -> None:
        """GapOpen: the runner waits between two queries. Draw, then let it go on once on screen."""
        if not self._awaiting or self._draw is None:  # drawn already (the fallback came first)
            self.drawn.set()
            return
        self._awaiting = False
        if self._fallback is not None:
            self._fallback.stop()
            self._fallback = None
        self._draw(True)
        self._screen.call_after_refresh(self.drawn.set)

    def release(self) -> None:
        """Let a waiting runner go on without a frame (the screen is covered)."""
        self.drawn.set()

    def _draw_anyway(self) -> None:
        self._fallback = None
        if self._awaiting and self._draw is not None:
            self._awaiting = False
            self.wanted.clear()
            self._draw(False)

    # ---- runner thread ----------------------------------------------------------------------------

    def between_queries(self) -> None:
        """The runner's hook: if the screen asked for a gap, wait for its frame, briefly."""
        if not self.wanted.is_set() or self.stopped() or self._screen is None:
            return
        self.wanted.clear()
        self.drawn.clear()
        c0, t0 = self._cpu(), time.monotonic()
        self._screen.post_message(GapOpen(self))
        self.drawn.wait(GAP_MAX_S)
        c1 = self._cpu()
        self.gaps += 1
        self.gap_wait += time.monotonic() - t0
        if c0 is not None and c1 is not None:
            self.gap_cpu += c1 - c0

    def start_count(self) -> None:
        """The segment's bookkeeping starts now (after the idle baseline): count the UI's CPU from here."""
        self._cpu0 = self._cpu()

    def _cpu(self) -> float | None:
        if self._clock is None:
            return None
        try:
            return time.clock_gettime(self._clock)
        except OSError:
            return None

    def observer(self) -> dict:
        """The runner's observer hook: what the app's UI thread took during this segment."""
        now = self._cpu()
        total = None if now is None or self._cpu0 is None else now - self._cpu0
        return {
            "what": "CPU time of the app's UI thread over the segment (from the end of the idle baseline), "
                    "and inside the gaps between queries (outside every measured window) where the app draws "
                    "while the cores are busy",
            "ui_thread_cpu_s": total,
            "ui_cpu_in_gaps_s": self.gap_cpu if total is not None else None,
            "gaps": self.gaps,
            "gap_wait_s": self.gap_wait,
        }
