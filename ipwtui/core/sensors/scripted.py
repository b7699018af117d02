"""A sensor that plays a scripted power trace: for tests and demos, never chosen silently.

Its source is "scripted" and its quality "estimated", so nothing it produces can pass for a measurement.
Its boundary is whatever the trace stands for (a CPU package by default).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from .base import BOUNDARY_CPU_PACKAGE, ESTIMATED, Capability, Domain, Reading, SensorError


class ScriptedSensor:
    name = "scripted"

    def __init__(self, power: Callable[[float], float], domain: str = "cpu-scripted",
                 accelerator: str = "cpu", counter: Callable[[float], float] | None = None,
                 clock: Callable[[], float] = time.monotonic, fail_after: int | None = None,
                 boundary: str = BOUNDARY_CPU_PACKAGE):
        """``power(t)`` gives watts at monotonic time t; ``counter(t)`` (optional) cumulative joules."""
        self.power = power
        self.counter = counter
        self.clock = clock
        self.fail_after = fail_after
        self.reads = 0
        self._lock = threading.Lock()
        self.domain = Domain(name=domain, kind="cpu", source="scripted", quality=ESTIMATED,
                             accelerator=accelerator, has_counter=counter is not None, period_s=None,
                             label="scripted power trace", boundary=boundary)

    def probe(self) -> list[Capability]:
        return [Capability.of(self.domain, reason="scripted trace for tests and demos, not a measurement")]

    def domains(self) -> list[Domain]:
        return [self.domain]

    def read(self) -> list[Reading]:
        with self._lock:
            self.reads += 1
            if self.fail_after is not None and self.reads > self.fail_after:
                raise SensorError("scripted sensor failure")
            t = self.clock()
            if self.counter is not None:
                return [Reading(self.domain.name, t, energy_j=self.counter(t))]
            return [Reading(self.domain.name, t, watts=self.power(t))]

    def close(self) -> None:
        pass
