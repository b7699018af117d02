"""What every power sensor reports, and the labels that say how far to trust it and what it covers.

A sensor exposes one or more *domains* (a CPU package, a GPU, DRAM...). Each reading of a domain is
timestamped with ``time.monotonic()`` and carries a cumulative energy in joules (when the hardware has a
counter; the sensor unwraps wraparound itself so the value only grows) and/or an instantaneous or averaged
power in watts.

Every domain carries three labels (docs/architecture.md): ``source`` (which interface), ``quality`` (how much to
trust it) and ``boundary`` (what the figure covers). Figures with different boundaries are never added
together: a GPU board and a battery's whole-machine draw answer different questions.

Readers are called from two threads at once (the sampler at its rate, the runner at each query window's
edges), so every ``read()`` is thread-safe and cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
import threading
from typing import Generic, Protocol, TypeVar, cast

# quality labels (docs/architecture.md): how much to trust a figure
MEASURED = "measured"
MEASURED_REMOTE = "measured-remote"  # measured by the server's own telemetry, read over the network
MODEL_BASED = "model-based"
ESTIMATED = "estimated"
UNAVAILABLE = "unavailable"
QUALITIES = (MEASURED, MEASURED_REMOTE, MODEL_BASED, ESTIMATED, UNAVAILABLE)
# order from most to least trustworthy: a figure combining domains takes the worst of them (a label this
# version does not know counts as unavailable)
_RANK = {MEASURED: 0, MEASURED_REMOTE: 1, MODEL_BASED: 2, ESTIMATED: 3, UNAVAILABLE: 4}


def worst_quality(qualities) -> str:
    """The least trustworthy of several quality labels (UNAVAILABLE when there are none)."""
    qs = list(qualities)
    if not qs:
        return UNAVAILABLE
    return max(qs, key=lambda q: _RANK.get(q, _RANK[UNAVAILABLE]))


# ---- boundary: what a figure covers ----------------------------------------------------------------
# Short names, written once here, shown as they are in tables and exports; ``describe_boundary`` gives the
# sentence behind each. The list grows with ``register_boundary`` (remote readers add "server" and
# "server+datacentre" for figures that cover a whole remote server, or that plus the data centre's
# overhead), so a front end must not assume it is closed.
BOUNDARY_ACCELERATOR = "accelerator"
BOUNDARY_CPU_PACKAGE = "cpu-package"
BOUNDARY_CPU_CORES = "cpu-cores"
BOUNDARY_CPU_UNCORE = "cpu-uncore"
BOUNDARY_DRAM = "dram"
BOUNDARY_PLATFORM = "platform"
BOUNDARY_SOC = "soc"
BOUNDARY_WHOLE_MACHINE = "whole-machine"
BOUNDARY_PROCESS_CPU_TIME = "process-cpu-time"
BOUNDARY_SYSTEM_CPU_TIME = "system-cpu-time"
BOUNDARY_UNSPECIFIED = "unspecified"

BOUNDARIES: dict[str, str] = {
    BOUNDARY_ACCELERATOR: "the device only (a GPU board or rail, a neural engine): not the host CPU, memory, "
                          "fans or power supply",
    BOUNDARY_CPU_PACKAGE: "the CPU package (cores, caches, memory controller) or an SoC's CPU clusters",
    BOUNDARY_CPU_CORES: "the CPU cores alone, inside their package",
    BOUNDARY_CPU_UNCORE: "the package's uncore (on client parts mostly the integrated GPU), inside the package",
    BOUNDARY_DRAM: "the memory modules (or an SoC's memory interface)",
    BOUNDARY_PLATFORM: "the SoC and the platform parts the firmware adds to it (RAPL psys): more than the "
                       "package, less than the wall",
    BOUNDARY_SOC: "a whole system on chip: CPU + GPU + neural engine + memory, as its energy model sums them",
    BOUNDARY_WHOLE_MACHINE: "the whole machine as its battery or wall socket sees it: screen, disks and "
                            "idle draw included",
    BOUNDARY_PROCESS_CPU_TIME: "an estimate from this process's CPU time: the dynamic CPU power of this "
                               "process only",
    BOUNDARY_SYSTEM_CPU_TIME: "an estimate from all the machine's busy CPU time: dynamic CPU power only",
    BOUNDARY_UNSPECIFIED: "not stated by the reader",
}


def register_boundary(name: str, description: str) -> str:
    """Add a boundary to the vocabulary (idempotent for the same text) and return its name."""
    if not name or name != name.strip() or any(c.isspace() for c in name):
        raise ValueError(f"a boundary name is one short token, not {name!r}")
    old = BOUNDARIES.get(name)
    if old is not None and old != description:
        raise ValueError(f"boundary {name!r} is already defined as: {old}")
    BOUNDARIES[name] = description
    return name


def describe_boundary(name: str) -> str:
    """The sentence behind a boundary name (the name itself when it is not in the vocabulary)."""
    return BOUNDARIES.get(name, name)


# ---- flags: caveats that travel with a domain into every window measured on it ---------------------
FLAG_WRAP_UNKNOWN = "wrap-unknown"
FLAGS: dict[str, str] = {
    FLAG_WRAP_UNKNOWN: "the counter's wrap range is unknown: a wrap between two reads loses energy",
}


class SensorError(Exception):
    """A sensor failed to read. The sampler marks the domain N/A for that tick and carries on."""


ENV_SYSFS_ROOT = "IPWTUI_SYSFS_ROOT"


def default_sysfs_root() -> str:
    """The sysfs root every sysfs reader uses: ``$IPWTUI_SYSFS_ROOT`` or ``/sys``."""
    return os.environ.get(ENV_SYSFS_ROOT) or "/sys"


def read_sysfs(path: str) -> str:
    """The text of a small sysfs file, opened afresh (``os.open``/``os.read``: about a third of the cost of
    ``open()`` with its buffered text layers). For probing; the hot path keeps its files open."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096).decode("ascii", "replace")
    finally:
        os.close(fd)


class OpenFiles:
    """Small sysfs files kept open and re-read from offset 0 with ``pread``, for the 20 Hz path.

    The kernel regenerates a sysfs attribute at every read from offset 0, so a kept descriptor gives fresh
    values without the path lookup of a new open, which is most of a cold read's cost. A read that fails
    (a device that went away reads ENODEV) drops the descriptor, so the next read opens the path again.
    Not locked: each reader uses its own under its own lock. Callable like an opener: ``files(path)``.
    """

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}

    def __call__(self, path: str) -> str:
        fd = self._fds.get(path)
        if fd is None:
            fd = os.open(path, os.O_RDONLY)
            self._fds[path] = fd
        try:
            return os.pread(fd, 4096, 0).decode("ascii", "replace")
        except OSError:
            self._drop(path)
            raise

    def _drop(self, path: str) -> None:
        fd = self._fds.pop(path, None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __len__(self) -> int:
        return len(self._fds)

    def close(self) -> None:
        for path in list(self._fds):
            self._drop(path)


@dataclass(frozen=True)
class Domain:
    """One measurable power domain as a sensor offers it."""

    name: str  # unique in a session: "cpu-package-0", "dram-0", "gpu0", "cpu-est", "battery", "soc"
    kind: str  # "cpu" | "gpu" | "dram" | "system" | "soc" | "ane"
    source: str  # "rapl", "nvml-counter", "amdsmi-counter", "battery-power", "ioreport", "cpu-time-model", ...
    quality: str  # one of QUALITIES
    accelerator: str  # which accelerator group it belongs to: "cpu", "gpu0", "soc", "machine", ...
    has_counter: bool  # readings carry a cumulative energy counter
    period_s: float | None = None  # how often the hardware value updates (None: unknown)
    in_total: bool = True  # summed into a query's energy (False for nested domains such as core or psys)
    label: str = ""  # human description, e.g. "NVIDIA A100 (GPU 0)"
    boundary: str = BOUNDARY_UNSPECIFIED  # what the figure covers: a name from BOUNDARIES
    flags: tuple[str, ...] = ()  # caveats every window on this domain inherits (names from FLAGS)


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
    boundary: str = BOUNDARY_UNSPECIFIED
    flags: tuple[str, ...] = ()

    @classmethod
    def of(cls, d: Domain, reason: str = "", fix: str = "") -> Capability:
        """The table line of an available domain."""
        return cls(d.name, d.kind, d.source, d.quality, d.accelerator, True, d.period_s, reason, fix,
                   d.label, d.in_total, d.boundary, d.flags)

    def as_dict(self) -> dict:
        return {
            "domain": self.domain,
            "kind": self.kind,
            "source": self.source,
            "quality": self.quality,
            "boundary": self.boundary,
            "accelerator": self.accelerator,
            "available": self.available,
            "period_s": self.period_s,
            "in_total": self.in_total,
            "flags": list(self.flags),
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


def counter_step(last: int, raw: int, max_range: int | None = None) -> int:
    """How far a cumulative energy counter went from ``last`` to ``raw``, in its own units. A counter that
    went back wrapped once past ``max_range`` when that is known (RAPL's max_energy_range_uj); otherwise it
    was reset (a driver reload, a restarted monitor) or wrapped with no known range: it counts from zero,
    and what it counted before the wrap is lost."""
    if raw >= last:
        return raw - last
    if max_range is not None and last <= max_range:
        return max_range - last + raw
    return raw


T = TypeVar("T")


class ProbedOnce(Generic[T]):
    """The part of the Sensor protocol a reader of found devices shares: it looks for them once, on first
    use (``probe``, ``domains`` or its own ``read``), under its lock. The reader's ``_probe()`` sets
    ``self._found`` (each a Domain, or an object holding its ``domain``) and ``self._caps`` (one line each,
    readable or not); a look that finds nothing leaves an empty list, never None."""

    _found: list[T] | None
    _caps: list[Capability]
    _lock: threading.Lock

    def _probe(self) -> None:
        raise NotImplementedError

    def _ensure(self) -> list[T]:
        if self._found is None:
            self._probe()
        assert self._found is not None
        return self._found

    def probe(self) -> list[Capability]:
        with self._lock:
            self._ensure()
            return list(self._caps)

    def domains(self) -> list[Domain]:
        with self._lock:
            return [x if isinstance(x, Domain) else cast(Domain, getattr(x, "domain")) for x in self._ensure()]


class Sensor(Protocol):
    """Protocol every sensor implements. Readers take their roots/handles as constructor arguments.

    ``read()`` may be called from several threads at once and must stay cheap (it runs 20 times a second
    and at every query edge); readers keep a lock around any state a read updates.
    """

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
        """Close every sensor; a sensor that fails to close is skipped (closing must never fail a run)."""
        for s in self.sensors:
            try:
                s.close()
            except Exception:
                pass
