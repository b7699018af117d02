"""How much of the machine's CPU other processes took during a window.

Other programs inflate a package counter (RAPL charges their energy to the query) and deflate a CPU-time
estimate (the process gets less CPU): either way the window's figure is not the query's alone. The runner
marks the machine's busy CPU time and this process's CPU time at each window edge; the others' share is
their CPU time over the window's CPU capacity. A window above a threshold is flagged ``contended``.

/proc/stat moves in clock ticks (10 ms), so the share of a window shorter than ``MIN_WINDOW_S`` is not
judged.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

MIN_WINDOW_S = 0.1


def usable_cores() -> int:
    """The cores this process may run on (its affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CpuMark:
    t: float  # monotonic
    machine_busy_s: float | None  # every CPU's busy time since boot (None where unknown)
    process_s: float  # this process's CPU time, all threads


def _machine_busy() -> float | None:
    try:
        import psutil

        c = psutil.cpu_times()
    except Exception:
        return None
    busy = c.user + c.system + getattr(c, "nice", 0.0) + getattr(c, "irq", 0.0) + getattr(c, "softirq", 0.0)
    return busy + getattr(c, "steal", 0.0)


class CpuShare:
    def __init__(self, cpus: int | None = None, busy=_machine_busy, process=time.process_time,
                 clock=time.monotonic):
        self.cpus = cpus or os.cpu_count() or 1
        self._busy, self._process, self._clock = busy, process, clock

    def mark(self) -> CpuMark:
        return CpuMark(self._clock(), self._busy(), self._process())

    def others(self, a: CpuMark, b: CpuMark) -> float | None:
        """Share of the machine's CPU capacity that other processes used between two marks (0..1),
        None when it cannot be known (no machine-wide figure, a window too short to judge)."""
        span = b.t - a.t
        if a.machine_busy_s is None or b.machine_busy_s is None or span < MIN_WINDOW_S:
            return None
        others = (b.machine_busy_s - a.machine_busy_s) - (b.process_s - a.process_s)
        return min(max(others / (span * self.cpus), 0.0), 1.0)
