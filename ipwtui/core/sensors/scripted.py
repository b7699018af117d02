"""A sensor that plays a scripted power trace: for tests and demos, never chosen silently.

Its source is "scripted" and its quality "estimated", so nothing it produces can pass for a measurement.
"""

from __future__ import annotations

import time
from typing import Callable

from .base import ESTIMATED, Capability, Domain, Reading


class ScriptedSensor:
    name = "scripted"

    def __init__(self, power: Callable[[float], float], domain: str = "cpu-scripted",
                 accelerator: str = "cpu", counter: Callable[[float], float] | None = None,
                 clock: Callable[[], float] = time.monotonic, fail_after: int | None = None):
        """``power(t)`` gives watts at monotonic time t; ``counter(t)`` (optional) cumulative joules."""
        self.power = power
        self.counter = counter
        self.clock = clock
        self.fail_after = fail_after
        self.reads = 0
        self.domain = Domain(name=domain, kind="cpu", source="scripted", quality=ESTIMATED,
                             accelerator=accelerator, has_counter=counter is not None, period_s=None,
                             label="scripted power trace")

    def probe(self) -> list[Capability]:
        d = self.domain
        return [Capability(domain=d.name, kind=d.kind, source=d.source, quality=d.quality,
                           accelerator=d.accelerator, available=True, label=d.label,
                           reason="scripted trace for tests and demos, not a measurement")]

    def domains(self) -> list[Domain]:
        return [self.domain]

    def read(self) -> list[Reading]:
        from .base import SensorError

        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise SensorError("scripted sensor failure")
        t = self.clock()
        if self.counter is not None:
            return [Reading(self.domain.name, t, energy_j=self.counter(t))]
        return [Reading(self.domain.name, t, watts=self.power(t))]

    def close(self) -> None:
        pass
