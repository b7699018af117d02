"""What every power sensor reports, and the labels that say how far to trust it.

A sensor exposes one or more *domains* (a CPU package, a GPU, DRAM...). Each reading of a domain is
timestamped with ``time.monotonic()`` and carries a cumulative energy in joules (when the hardware has a
counter; the sensor unwraps wraparound itself so the value only grows) and/or an instantaneous or averaged
power in watts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# quality labels (DESIGN.md): how much to trust a figure
MEASURED = "measured"
MODEL_BASED = "model-based"
ESTIMATED = "estimated"
UNAVAILABLE = "unavailable"
QUALITIES = (MEASURED, MODEL_BASED, ESTIMATED, UNAVAILABLE)
# order from most to least trustworthy: a figure combining domains takes the worst of them
_RANK = {MEASURED: 0, MODEL_BASED: 1, ESTIMATED: 2, UNAVAILABLE: 3}


def worst_quality(qualities) -> str:
    """The least trustworthy of several quality labels (UNAVAILABLE when there are none)."""
    qs = list(qualities)
    if not qs:
        return UNAVAILABLE
    return max(qs, key=lambda q: _RANK.get(q, 3))


class SensorError(Exception):
    """A sensor failed to read. The sampler marks the domain N/A for that tick and carries on."""


@dataclass(frozen=True)
class Domain:
    """One measurable power domain as a sensor offers it."""

    name: str  # unique in a session: "cpu-package-0", "dram-0", "gpu0", "cpu-est"
    kind: str  # "cpu" | "gpu" | "dram" | "system" | "soc"
    source: str  # "rapl", "nvml-counter", "nvml-instant", "nvml-avg1s", "cpu-time-model", ...
    quality: str  # one of QUALITIES
    accelerator: str  # which accelerator it belongs to: "cpu", "gpu0", ...
    has_counter: bool  # readings carry a cumulative energy counter
    period_s: float | None = None  # how often the hardware value updates (None: unknown)
    in_total: bool = True  # summed into a query's energy (False for nested domains such as core or psys)
    label: str = ""  # human description, e.g. "NVIDIA A100 (GPU 0)"


@dataclass(frozen=True)
class Capability:
    """A line of the capability table: a domain that is available, or one that is missing and why."""

    domain: str
    kind: str
    source: str
    quality: str
    accelerator: str
    available: bool
    period_s: float | None = None
    reason: str = ""  # why it is missing or degraded
    fix: str = ""  # one-line fix where one exists
    label: str = ""
    in_total: bool = True

    def as_dict(self) -> dict:
        return {
            "domain": self.domain,
            "kind": self.kind,
            "source": self.source,
            "quality": self.quality,
            "accelerator": self.accelerator,
            "available": self.available,
            "period_s": self.period_s,
            "in_total": self.in_total,
            "label": self.label,
            "reason": self.reason,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Reading:
    """One reading of one domain. ``energy_j`` is cumulative (monotone, unwrapped) or None."""

    domain: str
    t: float  # time.monotonic() of the reading
    watts: float | None = None
    energy_j: float | None = None


class Sensor(Protocol):
    """Protocol every sensor implements. Readers take their roots/handles as constructor arguments."""

    name: str

    def probe(self) -> list[Capability]:
        """Every domain this sensor knows about, available or not (with reason and fix)."""
        ...

    def domains(self) -> list[Domain]:
        """The available domains, in a stable order."""
        ...

    def read(self) -> list[Reading]:
        """One reading per available domain. May raise SensorError; may omit a domain that failed."""
        ...

    def close(self) -> None: ...


@dataclass
class SensorSet:
    """The sensors chosen for a session and their domains, as handed to the sampler."""

    sensors: list = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)

    def domains(self) -> list[Domain]:
        out: list[Domain] = []
        for s in self.sensors:
            out.extend(s.domains())
        return out

    def close(self) -> None:
        """Close every sensor (a sensor that fails to close does not keep the others open)."""
        for s in self.sensors:
            try:
                s.close()
            except Exception:
                pass
