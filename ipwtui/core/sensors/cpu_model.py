"""A labelled CPU power *estimate* for machines with no power sensor (VMs, containers, most laptops' guests).

power ≈ busy CPU seconds per second × watts per hardware thread

Busy time is this process's user + system CPU time over all its threads (``scope="process"``, the default:
the in-process inference engine's work, and the cheapest thing to read 20 times a second), or the whole
machine's (``scope="system"``: all CPU time that is neither idle, I/O wait nor stolen by the hypervisor,
for engines that run in another process). The
watts per thread come from, in order: the constructor argument, ``$IPWTUI_CPU_WATTS_PER_CORE``, a small
table of CPU models (rated power / threads, each entry citing the vendor specification, in
``cpu_power.json``), and a default of 4 W per thread. It is exposed as a cumulative counter so that a
query's energy is a difference of two readings, like a hardware counter. Its boundary says which CPU time
it counts: ``process-cpu-time`` or ``system-cpu-time``.

This is a model of dynamic CPU power only: it knows nothing of the GPU, memory, or the idle floor, and it
is always shown as an estimate.
"""

from __future__ import annotations

import json
import os
import platform
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import (
    BOUNDARY_PROCESS_CPU_TIME,
    BOUNDARY_SYSTEM_CPU_TIME,
    ESTIMATED,
    UNAVAILABLE,
    Capability,
    Domain,
    Reading,
    SensorError,
)

SOURCE = "cpu-time-model"
DOMAIN = "cpu-est"
ENV_WATTS = "IPWTUI_CPU_WATTS_PER_CORE"
TABLE_FILE = Path(__file__).with_name("cpu_power.json")
SET_FIX = (
    f"set --cpu-watts-per-core W or {ENV_WATTS}=W to your CPU's rated power (TDP) / hardware threads"
)


def _load_table(path: Path = TABLE_FILE) -> tuple[dict[str, tuple[float, int]], dict[str, str], float, str]:
    """(model -> (rated W, threads), model -> cited source, default W/thread, error) from the data file.

    Each entry of the file cites the vendor specification its two figures come from. A missing or broken
    file leaves the table empty (every CPU then gets the default) and says why in the capability table.
    """
    table: dict[str, tuple[float, int]] = {}
    sources: dict[str, str] = {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        default = float(doc.get("default_watts_per_thread", 4.0))
        for i, e in enumerate(doc["cpus"]):
            tdp, threads = float(e["tdp_w"]), int(e["threads"])
            if tdp <= 0 or threads <= 0:
                raise ValueError(f"entry {i} ({e.get('model')}): power and threads must be positive")
            table[str(e["model"])] = (tdp, threads)
            sources[str(e["model"])] = f"{e['source']} <{e['url']}>" if e.get("url") else str(e["source"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        return {}, {}, 4.0, f"{path.name}: {e}"
    return table, sources, default, ""


# CPU model (substring of the normalised model name) -> (rated power in W, hardware threads), and the
# vendor document each entry comes from (ipwtui/core/sensors/cpu_power.json).
CPU_TABLE, CPU_SOURCES, DEFAULT_WATTS_PER_THREAD, TABLE_ERROR = _load_table()

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
        self.boundary = BOUNDARY_SYSTEM_CPU_TIME if scope == "system" else BOUNDARY_PROCESS_CPU_TIME
        self.watts_source = ""  # the cited specification when the figure comes from the table
        self._watts_note = ""  # why the default was used, or why an env value was ignored
        self.watts_per_core, self.watts_origin = self._resolve_watts(watts_per_core)
        self._start: float | None = None
        self._last_j = 0.0
        self._error: str | None = None
        self._fast: Any = None  # _ProcStatReader on Linux when cpu_times is not injected (False: none)
        self._lock = threading.Lock()  # read() runs on the sampler and the runner threads

    # ---- watts per thread ------------------------------------------------------------------------
    def _resolve_watts(self, explicit: float | None) -> tuple[float, str]:
        if explicit is not None:
            if explicit <= 0:
                raise ValueError("watts_per_core must be positive")
            return float(explicit), "argument"
        env = os.environ.get(ENV_WATTS, "").strip()
        notes = []
        if env:
            try:
                w = float(env)
            except ValueError:
                w = 0.0
            if 0 < w < float("inf"):
                return w, f"env {ENV_WATTS}"
            notes.append(f"{ENV_WATTS}={env!r} is not a positive number: ignored")
        hit = lookup_cpu(self.cpu_name)
        if hit:
            key, tdp, threads = hit
            self.watts_source = CPU_SOURCES.get(key, "")
            self._watts_note = "; ".join(notes)
            return tdp / threads, f"table: {key} ({tdp:g} W / {threads} threads)"
        cpu = repr(self.cpu_name) if self.cpu_name else "this CPU (no model name found)"
        notes.append(f"CPU {cpu} is not in the power table, so the default is used"
                     f" (set --cpu-watts-per-core or {ENV_WATTS} for yours)")
        if TABLE_ERROR:
            notes.append(f"power table unreadable ({TABLE_ERROR})")
        self._watts_note = "; ".join(notes)
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
        text = (
            f"estimate, not a measurement: {what} x {self.watts_per_core:.2f} W per thread"
            f" ({self.watts_origin}); up to ~{self.watts_per_core * self.logical_cores:.0f} W"
            f" on {self.logical_cores} threads"
        )
        if self.watts_source:
            text += f"; source: {self.watts_source}"
        if self._watts_note:
            text += f"; {self._watts_note}"
        return text

    def _fix(self) -> str:
        if self.watts_origin in ("argument",) or self.watts_origin.startswith("env "):
            return ""
        return SET_FIX + (" for a better figure" if self.watts_source else "")

    def _domain(self) -> Domain:
        return Domain(DOMAIN, "cpu", SOURCE, ESTIMATED, "cpu", True, self.period_s, True, self._label(),
                      self.boundary)

    def _label(self) -> str:
        return f"CPU time model ({self.scope}): {self.cpu_name or 'unknown CPU'}"

    def probe(self) -> list[Capability]:
        with self._lock:
            ok = self._ensure()
        if not ok:
            return [
                Capability(DOMAIN, "cpu", SOURCE, UNAVAILABLE, "cpu", False, self.period_s,
                           reason=self._error or "", fix="pip install psutil", label=self._label(),
                           boundary=self.boundary)
            ]
        return [Capability.of(self._domain(), reason=self._reason(), fix=self._fix())]

    def domains(self) -> list[Domain]:
        with self._lock:
            ok = self._ensure()
        return [self._domain()] if ok else []

    def read(self) -> list[Reading]:
        """Estimated joules since the first probe (cumulative, never decreasing). Thread-safe."""
        with self._lock:
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
        with self._lock:
            if self._fast:
                self._fast.close()
                self._fast = None
