"""A labelled CPU power *estimate* for machines with no power sensor (VMs, containers, most laptops' guests).

power ≈ busy CPU seconds per second × watts per hardware thread

Busy time is this process's user + system CPU time over all its threads (``scope="process"``, the default:
the in-process inference engine's work, and the cheapest thing to read 20 times a second), or the whole
machine's (``scope="system"``: all CPU time that is neither idle, I/O wait nor stolen by the hypervisor,
for engines that run in another process). The
watts per thread come from, in order: the constructor argument, ``$IPWTUI_CPU_WATTS_PER_CORE``, a small
table of CPU models (TDP / threads, public figures), and a default of 4 W per thread. It is exposed as a
cumulative counter so that a query's energy is a difference of two readings, like a hardware counter.

This is a model of dynamic CPU power only: it knows nothing of the GPU, memory, or the idle floor, and it
is always shown as an estimate.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable
from typing import Any

from .base import ESTIMATED, UNAVAILABLE, Capability, Domain, Reading, SensorError

SOURCE = "cpu-time-model"
DOMAIN = "cpu-est"
ENV_WATTS = "IPWTUI_CPU_WATTS_PER_CORE"
DEFAULT_WATTS_PER_THREAD = 4.0  # about what a typical desktop or server CPU's TDP / threads gives

# CPU model (substring of the normalised model name) -> (TDP or base power in W, hardware threads).
# Vendors' public specifications; desktop parts at their base power, laptop parts at their default TDP.
CPU_TABLE: dict[str, tuple[float, int]] = {
    # Intel desktop
    "Core i9-14900K": (125, 32),
    "Core i9-13900K": (125, 32),
    "Core i7-13700K": (125, 24),
    "Core i5-13600K": (125, 20),
    "Core i7-12700K": (125, 20),
    "Core i5-12400": (65, 12),
    "Core i9-9900K": (95, 16),
    "Core i7-8700K": (95, 12),
    # Intel laptop
    "Core i7-8550U": (15, 8),
    "Core i7-1260P": (28, 16),
    "Core Ultra 7 155H": (28, 22),
    # Intel server
    "Xeon Platinum 8480+": (350, 112),
    "Xeon Platinum 8380": (270, 80),
    "Xeon Gold 6338": (205, 64),
    "Xeon Gold 6248": (150, 40),
    "Xeon CPU E5-2686 v4": (145, 36),
    # AMD desktop and laptop
    "Ryzen 9 7950X": (170, 32),
    "Ryzen 9 5950X": (105, 32),
    "Ryzen 7 7800X3D": (120, 16),
    "Ryzen 7 5800X": (105, 16),
    "Ryzen 5 5600X": (65, 12),
    "Ryzen 7 7840U": (28, 16),
    "Ryzen Threadripper 3990X": (280, 128),
    # AMD server
    "EPYC 9654": (360, 192),
    "EPYC 9554": (360, 128),
    "EPYC 7763": (280, 128),
    "EPYC 7742": (225, 128),
}

# fields of a cpu_times() record that are not busy time: guest time is already inside user/nice on Linux,
# and steal is time the hypervisor gave to someone else while this machine waited
_NOT_BUSY = {"idle", "iowait", "steal", "guest", "guest_nice"}
_PROC_FIELDS = ("user", "system", "children_user", "children_system")
_TRADEMARKS = re.compile(r"\((?:R|TM)\)|®|™", re.IGNORECASE)


def normalise_cpu_name(name: str) -> str:
    """Model name without trademark marks and with single spaces."""
    return " ".join(_TRADEMARKS.sub(" ", name).split())


def lookup_cpu(name: str) -> tuple[str, float, int] | None:
    """(table key, TDP W, threads) for the longest table entry found as a whole token in ``name``."""
    norm = normalise_cpu_name(name)
    for key in sorted(CPU_TABLE, key=len, reverse=True):
        pat = r"(?<![0-9A-Za-z])" + re.escape(key) + r"(?![0-9A-Za-z])"
        if re.search(pat, norm, re.IGNORECASE):
            tdp, threads = CPU_TABLE[key]
            return key, tdp, threads
    return None


def detect_cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU model name from /proc/cpuinfo, else ``platform.processor()``, else ''."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or ""


def _clock_tick_s() -> float:
    try:
        hz = os.sysconf("SC_CLK_TCK")
        if hz > 0:
            return 1.0 / hz
    except (AttributeError, ValueError, OSError):
        pass
    return 0.01


def _fields(rec: Any) -> dict[str, float]:
    if hasattr(rec, "_asdict"):
        return {k: float(v) for k, v in rec._asdict().items()}
    if isinstance(rec, dict):
        return {k: float(v) for k, v in rec.items()}
    return {k: float(v) for k, v in vars(rec).items() if not k.startswith("_")}


def system_busy_seconds(rec: Any) -> float:
    """Busy CPU seconds in a ``cpu_times()`` record (all CPUs summed)."""
    return sum(v for k, v in _fields(rec).items() if k not in _NOT_BUSY)


def process_busy_seconds(rec: Any) -> float:
    """user + system CPU seconds of a process and its waited-for children."""
    f = _fields(rec)
    return sum(f.get(k, 0.0) for k in _PROC_FIELDS)


def _proc_stat_busy(path: str = "/proc/stat") -> float:
    """Busy seconds from /proc/stat's first line, for when psutil is not installed."""
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
    with open(path, encoding="ascii") as f:
        parts = f.readline().split()
    if not parts or parts[0] != "cpu":
        raise OSError(f"unexpected {path} format")
    tick = _clock_tick_s()
    rec = {n: int(v) * tick for n, v in zip(names, parts[1:])}
    return system_busy_seconds(rec)


class _ProcStatReader:
    """Busy seconds from /proc/stat through a descriptor kept open: the cheapest read (it runs 20x a second)."""

    _BUSY = (0, 1, 2, 5, 6)  # user nice system irq softirq (idle, iowait, steal and guest time excluded)

    def __init__(self, path: str = "/proc/stat"):
        self.fd = os.open(path, os.O_RDONLY)
        self.tick = _clock_tick_s()
        self()  # fail now, not in the sampler, when the format is not the expected one

    def __call__(self) -> float:
        head = os.pread(self.fd, 512, 0)
        parts = head[: head.index(b"\n")].split()
        if not parts or parts[0] != b"cpu":
            raise OSError("unexpected /proc/stat format")
        vals = parts[1:]
        return sum(int(vals[i]) for i in self._BUSY if i < len(vals)) * self.tick

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class CpuTimeModelSensor:
    """Estimated CPU energy from CPU time. ``cpu_times`` / ``process`` are injectable for tests."""

    name = "cpu-model"

    def __init__(
        self,
        watts_per_core: float | None = None,
        scope: str = "system",
        cpu_times: Callable[[], Any] | None = None,
        process: Any = None,
        cpu_name: str | None = None,
        logical_cores: int | None = None,
    ):
        if scope not in ("system", "process"):
            raise ValueError(f"scope must be 'system' or 'process', not {scope!r}")
        self.scope = scope
        self._cpu_times = cpu_times
        self._process = process
        self.cpu_name = cpu_name if cpu_name is not None else detect_cpu_name()
        self.logical_cores = logical_cores or os.cpu_count() or 1
        self.period_s = _clock_tick_s()
        self.watts_per_core, self.watts_origin = self._resolve_watts(watts_per_core)
        self._start: float | None = None
        self._last_j = 0.0
        self._error: str | None = None
        self._fast = None  # _ProcStatReader on Linux when cpu_times is not injected

    # ---- watts per thread ------------------------------------------------------------------------
    def _resolve_watts(self, explicit: float | None) -> tuple[float, str]:
        if explicit is not None:
            if explicit <= 0:
                raise ValueError("watts_per_core must be positive")
            return float(explicit), "argument"
        env = os.environ.get(ENV_WATTS, "").strip()
        if env:
            try:
                w = float(env)
                if w > 0:
                    return w, f"env {ENV_WATTS}"
            except ValueError:
                pass
        hit = lookup_cpu(self.cpu_name)
        if hit:
            key, tdp, threads = hit
            return tdp / threads, f"table: {key} ({tdp:g} W / {threads} threads)"
        return DEFAULT_WATTS_PER_THREAD, f"default {DEFAULT_WATTS_PER_THREAD:g} W/thread"

    # ---- busy time -------------------------------------------------------------------------------
    def _busy(self) -> float:
        if self.scope == "system":
            if self._cpu_times is None and self._fast is None and os.path.exists("/proc/stat"):
                try:
                    self._fast = _ProcStatReader()
                except (OSError, ValueError):
                    self._fast = False
            if self._fast:
                return self._fast()
            if self._cpu_times is None:
                try:
                    import psutil

                    self._cpu_times = psutil.cpu_times
                except ImportError:
                    return _proc_stat_busy()
            return system_busy_seconds(self._cpu_times())
        if self._process is None:
            # user + system CPU time of every thread of this process: one cheap call
            return time.process_time()
        return process_busy_seconds(self._process.cpu_times())

    def _ensure(self) -> bool:
        if self._start is None and self._error is None:
            try:
                self._start = self._busy()
            except Exception as e:  # no psutil and no /proc/stat, a broken injected source...
                self._error = f"cannot read CPU time: {e}"
        return self._start is not None

    # ---- Sensor protocol -------------------------------------------------------------------------
    def _reason(self) -> str:
        what = "all CPU time" if self.scope == "system" else "this process's CPU time"
        return (
            f"estimate, not a measurement: {what} x {self.watts_per_core:.2f} W per thread"
            f" ({self.watts_origin}); up to ~{self.watts_per_core * self.logical_cores:.0f} W"
            f" on {self.logical_cores} threads"
        )

    def _label(self) -> str:
        return f"CPU time model ({self.scope}): {self.cpu_name or 'unknown CPU'}"

    def probe(self) -> list[Capability]:
        if not self._ensure():
            return [
                Capability(DOMAIN, "cpu", SOURCE, UNAVAILABLE, "cpu", False, self.period_s,
                           reason=self._error or "", fix="pip install psutil", label=self._label())
            ]
        return [
            Capability(DOMAIN, "cpu", SOURCE, ESTIMATED, "cpu", True, self.period_s,
                       reason=self._reason(),
                       fix=f"set {ENV_WATTS} to your CPU's TDP / threads for a better figure",
                       label=self._label())
        ]

    def domains(self) -> list[Domain]:
        if not self._ensure():
            return []
        return [Domain(DOMAIN, "cpu", SOURCE, ESTIMATED, "cpu", True, self.period_s, True, self._label())]

    def read(self) -> list[Reading]:
        """Estimated joules since the first probe (cumulative, never decreasing)."""
        if not self._ensure():
            raise SensorError(self._error or "CPU time unavailable")
        try:
            busy = self._busy()
        except Exception as e:
            raise SensorError(f"cannot read CPU time: {e}") from e
        t = time.monotonic()
        assert self._start is not None
        self._last_j = max(self._last_j, (busy - self._start) * self.watts_per_core)
        return [Reading(DOMAIN, t, watts=None, energy_j=self._last_j)]

    def close(self) -> None:
        if self._fast:
            self._fast.close()
            self._fast = None
