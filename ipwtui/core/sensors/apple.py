"""Apple silicon energy through IOReport's "Energy Model" group, read with zeus-apple-silicon (no sudo).

``AppleEnergyMonitor().get_cumulative_energy()`` returns ``AppleEnergyMetrics``: cumulative energies in mJ
per component, ``None`` for a channel this chip does not report (``cpu_total_mj``, lists per core in
``efficiency_cores_mj`` and ``performance_cores_mj``, ``efficiency_core_manager_mj``,
``performance_core_manager_mj``, ``dram_mj``, ``gpu_mj``, ``gpu_sram_mj``, ``ane_mj``; releases before 1.1
name the CPU total ``cpu_mj``). The reader uses it as a counter, read at the window edges like every other.

The headline is ``soc``: CPU + GPU + Neural Engine + DRAM, the components the chip reports (the basis the
Intelligence-per-Watt harness reports on Apple). Each component is shown as its own domain nested in it
(``in_total`` False), so that the GPU-only figure stays visible. All of them form the accelerator group
``soc``. The figures come from Apple's energy model, not a power meter: their quality is ``model-based``.
The monitor factory is injectable: tests run the real reader code on Linux with a stand-in.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import (
    BOUNDARY_ACCELERATOR,
    BOUNDARY_CPU_CORES,
    BOUNDARY_CPU_PACKAGE,
    BOUNDARY_DRAM,
    BOUNDARY_SOC,
    MODEL_BASED,
    UNAVAILABLE,
    Capability,
    Domain,
    ProbedOnce,
    Reading,
    SensorError,
    counter_step,
)

SOURCE = "ioreport"
ACCELERATOR = "soc"
DOMAIN = "soc"
# the energy model's resolution is 1 mJ and windows under about 10 ms are noise (zeus-apple-silicon)
PERIOD_S = 0.01
FIX_INSTALL = "pip install 'ipwtui[apple]' (macOS on Apple silicon only)"
MODEL_NOTE = "Apple's energy model (IOReport), not a power meter"
ANE_NOTE = "reads 0 on some chips and macOS releases (M5, macOS 27)"


def _mj(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        vals = [int(x) for x in v if x is not None]
        return sum(vals) if vals else None
    return int(v)


def _field(*names: str) -> Callable[[Any], int | None]:
    """A getter for the first of ``names`` the metrics object has and reports (not None)."""

    def get(m: Any) -> int | None:
        for n in names:
            v = getattr(m, n, None)
            if v is not None:
                return _mj(v)
        return None

    return get


@dataclass(frozen=True)
class _Part:
    name: str
    kind: str
    get: Callable[[Any], int | None]
    boundary: str
    label: str
    in_soc: bool  # part of the headline sum
    note: str = ""


PARTS = (
    _Part("soc-cpu", "cpu", _field("cpu_total_mj", "cpu_mj"), BOUNDARY_CPU_PACKAGE, "CPU clusters", True),
    _Part("soc-gpu", "gpu", _field("gpu_mj"), BOUNDARY_ACCELERATOR, "GPU", True),
    _Part("soc-ane", "ane", _field("ane_mj"), BOUNDARY_ACCELERATOR, "Neural Engine", True, ANE_NOTE),
    _Part("soc-dram", "dram", _field("dram_mj"), BOUNDARY_DRAM, "DRAM", True),
    _Part("soc-gpu-sram", "gpu", _field("gpu_sram_mj"), BOUNDARY_ACCELERATOR, "GPU SRAM", False,
          "not in the SoC sum"),
    _Part("soc-cpu-e", "cpu", _field("efficiency_cores_mj"), BOUNDARY_CPU_CORES, "efficiency cores", False),
    _Part("soc-cpu-p", "cpu", _field("performance_cores_mj"), BOUNDARY_CPU_CORES, "performance cores", False),
    _Part("soc-cpu-e-manager", "cpu", _field("efficiency_core_manager_mj"), BOUNDARY_CPU_CORES,
          "efficiency cluster manager", False),
    _Part("soc-cpu-p-manager", "cpu", _field("performance_core_manager_mj"), BOUNDARY_CPU_CORES,
          "performance cluster manager", False),
)


def _default_factory() -> Any:
    from zeus_apple_silicon import AppleEnergyMonitor  # macOS-only wheel

    return AppleEnergyMonitor()


@dataclass
class _Counter:
    last_mj: int
    total_mj: int = 0

    def step(self, mj: int) -> None:
        self.total_mj += counter_step(self.last_mj, mj)
        self.last_mj = mj


class AppleSocSensor(ProbedOnce[Domain]):
    """SoC, CPU, GPU, ANE and DRAM energy on Apple silicon (``monitor_factory`` and ``platform`` injectable)."""

    name = "ioreport"

    def __init__(self, monitor_factory: Callable[[], Any] | None = None, platform: str | None = None):
        self._factory = monitor_factory or _default_factory
        self.platform = platform or sys.platform
        self._monitor: Any = None
        self._parts: list[_Part] = []
        self._counters: dict[str, _Counter] = {}
        self._found: list[Domain] | None = None
        self._caps: list[Capability] = []
        self._lock = threading.Lock()

    def _missing(self, reason: str, fix: str = "") -> Capability:
        return Capability(DOMAIN, "soc", SOURCE, UNAVAILABLE, ACCELERATOR, False, PERIOD_S, reason, fix,
                          "Apple SoC (IOReport)", boundary=BOUNDARY_SOC)

    def _probe(self) -> None:
        self._found, self._caps = [], []
        if self.platform != "darwin":
            self._caps.append(self._missing(f"IOReport energy is macOS-only (this is {self.platform})",
                                            "on a Mac with Apple silicon: " + FIX_INSTALL))
            return
        try:
            self._monitor = self._factory()
            m = self._monitor.get_cumulative_energy()
        except ImportError as e:
            self._caps.append(self._missing(f"zeus-apple-silicon is not installed ({e})", FIX_INSTALL))
            return
        except Exception as e:
            self._caps.append(self._missing(f"IOReport energy monitor failed: {type(e).__name__}: {e}",
                                            "check that this Mac has Apple silicon"))
            return
        values = {p.name: p.get(m) for p in PARTS}
        self._parts = [p for p in PARTS if values[p.name] is not None]
        in_sum = [p for p in self._parts if p.in_soc]
        if not in_sum:
            self._caps.append(self._missing("IOReport's Energy Model reports no CPU, GPU, ANE or DRAM channel"
                                            " (not Apple silicon?)"))
            return
        self._counters = {p.name: _Counter(int(values[p.name] or 0)) for p in self._parts}
        what = " + ".join(p.label for p in in_sum)
        soc = Domain(DOMAIN, "soc", SOURCE, MODEL_BASED, ACCELERATOR, True, PERIOD_S, True,
                     f"Apple SoC: {what}", BOUNDARY_SOC)
        self._found.append(soc)
        self._caps.append(Capability.of(soc, reason=f"{MODEL_NOTE}; sum of {what}"))
        for p in self._parts:
            d = Domain(p.name, p.kind, SOURCE, MODEL_BASED, ACCELERATOR, True, PERIOD_S, False,
                       f"Apple SoC {p.label}", p.boundary)
            self._found.append(d)
            notes = ["part of the SoC figure: shown, never summed" if p.in_soc else "shown, never summed"]
            notes += [p.note] if p.note else []
            self._caps.append(Capability.of(d, reason="; ".join(notes)))

    # ---- Sensor protocol -------------------------------------------------------------------------
    def read(self) -> list[Reading]:
        """Cumulative joules since probe: the SoC sum and each component. Thread-safe."""
        with self._lock:
            doms = self._ensure()
            if not doms:
                return []
            if self._monitor is None:
                raise SensorError("IOReport monitor is closed")
            try:
                m = self._monitor.get_cumulative_energy()
            except Exception as e:
                raise SensorError(f"IOReport read failed: {type(e).__name__}: {e}") from e
            t = time.monotonic()
            out: list[Reading] = []
            soc_ok = True
            soc_mj = 0
            for p in self._parts:
                v = p.get(m)
                c = self._counters[p.name]
                if v is None:  # the channel went away this time: N/A for it, and for the sum it is in
                    soc_ok = soc_ok and not p.in_soc
                    continue
                c.step(v)
                if p.in_soc:
                    soc_mj += c.total_mj
                out.append(Reading(p.name, t, energy_j=c.total_mj / 1000.0))
            if soc_ok:
                out.insert(0, Reading(DOMAIN, t, energy_j=soc_mj / 1000.0))
            return out

    def close(self) -> None:
        """Drop the monitor (its subscription is released with it)."""
        with self._lock:
            self._monitor = None
