"""AMD GPUs: the amdsmi library first, the amdgpu driver's hwmon files as a fallback.

amdsmi (the ``amdsmi`` Python package that ships with ROCm), per GPU, the best source wins:

1. ``amdsmi_get_energy_count`` -> ``energy_accumulator`` x ``counter_resolution`` (µJ per unit) -> a counter
   (``amdsmi-counter``; not supported on virtual machine guests);
2. ``amdsmi_get_power_info`` -> ``socket_power`` (ROCm 7) or ``current_socket_power`` in W -> ``amdsmi-power``;
3. ``amdsmi_get_power_info`` -> ``average_socket_power`` in W, an average kept by the firmware -> ``amdsmi-avg``.

hwmon (``<sysfs>/class/hwmon/hwmon*/name`` == ``amdgpu``), per GPU: ``energy1_input`` (µJ counter) ->
``hwmon-counter``, else ``power1_input`` (µW, instantaneous) -> ``hwmon-instant``, else ``power1_average``
(µW, averaged by the firmware) -> ``hwmon-avg``. The instantaneous value comes before the average because
a 20 Hz integral of it resolves short queries that an average smooths away. The kernel documents these
power files as the power "used by the SoC": on an APU (integrated graphics) they include the CPU cores.

Every figure covers the GPU only (boundary ``accelerator``). Domain names continue NVIDIA's ``gpuN``
numbering (``first_index``) so that names stay unique on a machine with both. The amdsmi module and the
sysfs root are injectable: tests run the real reader code on a stand-in module and fake trees.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import (
    BOUNDARY_ACCELERATOR,
    MEASURED,
    UNAVAILABLE,
    Capability,
    Domain,
    ProbedOnce,
    Reading,
    OpenFiles,
    SensorError,
    default_sysfs_root,
    read_sysfs,
    counter_step,
)

SRC_SMI_COUNTER = "amdsmi-counter"
SRC_SMI_POWER = "amdsmi-power"
SRC_SMI_AVG = "amdsmi-avg"
SRC_HWMON_COUNTER = "hwmon-counter"
SRC_HWMON_INSTANT = "hwmon-instant"
SRC_HWMON_AVG = "hwmon-avg"

# AMD does not document how often these values change. The driver caches the firmware's metrics table for
# 1 ms and the firmware refreshes it every few milliseconds: 10 ms is assumed for the counter and 50 ms for
# the current power. The firmware's average power is taken as a 1 s window, as NVIDIA's is.
PERIOD_COUNTER_S = 0.01
PERIOD_POWER_S = 0.05
PERIOD_AVG_S = 1.0

AVG_REASON = "power is an average kept by the GPU firmware (about 1 s): short queries are smoothed"
APU_NOTE = "on an APU (integrated graphics) the amdgpu power figure includes the CPU cores"
FIX_INSTALL = "install ROCm's amdsmi Python package (pip install amdsmi, the version matching your ROCm)"
FIX_DRIVER = "amdgpu driver or ROCm not ready: check `amd-smi list`"
NO_HWMON_REASON = "no amdgpu hwmon device under {root}/class/hwmon"

_HWMON_RE = re.compile(r"^hwmon(\d+)$")
_BDF_RE = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _number(v: Any) -> float | None:
    """A numeric value from amdsmi's dicts, which use the string "N/A" for what a GPU lacks."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v).split()[0])
    except (ValueError, IndexError):
        return None


def _accumulator(e: dict) -> float | None:
    """The energy accumulator of an ``amdsmi_get_energy_count`` answer (named ``power`` before ROCm 6.4)."""
    return _number(e.get("energy_accumulator", e.get("power")))


def next_gpu_index(names) -> int:
    """The first free N for a ``gpuN`` domain name, given the names already taken."""
    used = [int(m.group(1)) for n in names if (m := re.fullmatch(r"gpu(\d+)", n))]
    return max(used) + 1 if used else 0


# ---------------------------------------------------------------------------------------------------
# amdsmi


@dataclass
class _SmiGpu:
    handle: Any
    domain: Domain
    bdf: str
    resolution_uj: float = 0.0
    power_key: str = ""
    last_raw: int = 0
    total_uj: float = 0.0


class AmdSmiSensor(ProbedOnce[_SmiGpu]):
    """All AMD GPUs amdsmi can see, one domain ``gpuN`` each (N from ``first_index``)."""

    name = "amdsmi"

    def __init__(self, amdsmi: Any = None, first_index: int = 0):
        self._smi = amdsmi
        self.first_index = first_index
        self._import_error: str | None = None
        self._initialized = False
        self._closed = False
        self._found: list[_SmiGpu] | None = None
        self._caps: list[Capability] = []
        self._lock = threading.Lock()

    def _load(self) -> bool:
        if self._smi is None:
            try:
                import amdsmi  # ROCm's Python package; loads libamd_smi at import
            except Exception as e:  # ImportError, or OSError/KeyError when the library is missing
                self._import_error = f"the amdsmi module cannot be imported: {type(e).__name__}: {e}"
                return False
            self._smi = amdsmi
        return True

    def _unavailable(self, domain: str, reason: str, fix: str = "", label: str = "") -> Capability:
        return Capability(domain, "gpu", "amdsmi", UNAVAILABLE, domain, False, None, reason, fix, label,
                          boundary=BOUNDARY_ACCELERATOR)

    # ---- discovery -------------------------------------------------------------------------------
    def _probe(self) -> None:
        self._found, self._caps = [], []
        if not self._load():
            self._caps.append(self._unavailable("gpu", self._import_error or "amdsmi missing", FIX_INSTALL))
            return
        smi = self._smi
        try:
            smi.amdsmi_init()
            self._initialized = True
            handles = list(smi.amdsmi_get_processor_handles())
        except Exception as e:
            why = f"amdsmi failed to start: {_text(e) or type(e).__name__}"
            self._caps.append(self._unavailable("gpu", why, FIX_DRIVER))
            return
        if not handles:
            self._caps.append(self._unavailable("gpu", "amdsmi sees no AMD GPU"))
            return
        for i, h in enumerate(handles):
            self._probe_one(i, h)

    def _describe(self, i: int, h: Any) -> tuple[str, str]:
        """(label, PCI address) of one GPU, as far as amdsmi tells."""
        smi = self._smi
        name = ""
        for call, key in (("amdsmi_get_gpu_asic_info", "market_name"), ("amdsmi_get_gpu_board_info", "product_name")):
            try:
                v = _text(getattr(smi, call)(h).get(key, "")).strip()
            except Exception:
                continue
            if v and v != "N/A":
                name = v
                break
        try:
            bdf = _text(smi.amdsmi_get_gpu_device_bdf(h)).strip().lower()
        except Exception:
            bdf = ""
        where = f"AMD GPU {i}" + (f", {bdf}" if bdf else "")
        return (f"{name} ({where})" if name else where), bdf

    def _probe_one(self, i: int, h: Any) -> None:
        smi = self._smi
        dname = f"gpu{self.first_index + i}"
        label, bdf = self._describe(i, h)
        tried: list[str] = []
        try:
            e = smi.amdsmi_get_energy_count(h)
            raw = _accumulator(e)
            res = _number(e.get("counter_resolution"))
            if raw is None or not res or res <= 0:
                raise ValueError(f"no usable accumulator/resolution in {sorted(e)}")
            dom = Domain(dname, "gpu", SRC_SMI_COUNTER, MEASURED, dname, True, PERIOD_COUNTER_S, True, label,
                         BOUNDARY_ACCELERATOR)
            assert self._found is not None
            self._found.append(_SmiGpu(h, dom, bdf, resolution_uj=res, last_raw=int(raw)))
            self._caps.append(Capability.of(dom))
            return
        except Exception as e:
            tried.append(f"energy counter: {_text(e) or type(e).__name__}")
        try:
            info = smi.amdsmi_get_power_info(h)
        except Exception as e:
            info = {}
            tried.append(f"power info: {_text(e) or type(e).__name__}")
        for key, source, period, reason in (
            ("socket_power", SRC_SMI_POWER, PERIOD_POWER_S, "no energy counter: integrating current power"),
            ("current_socket_power", SRC_SMI_POWER, PERIOD_POWER_S, "no energy counter: integrating current power"),
            ("average_socket_power", SRC_SMI_AVG, PERIOD_AVG_S, AVG_REASON),
        ):
            w = _number(info.get(key))
            if w is not None and w > 0:
                dom = Domain(dname, "gpu", source, MEASURED, dname, False, period, True, label, BOUNDARY_ACCELERATOR)
                assert self._found is not None
                self._found.append(_SmiGpu(h, dom, bdf, power_key=key))
                self._caps.append(Capability.of(dom, reason=f"{reason} ({'; '.join(tried)})"))
                return
        if info:
            tried.append("power info: no socket power value")
        self._caps.append(self._unavailable(dname, "no power reading supported: " + "; ".join(tried), label=label))

    def measured_bdfs(self) -> tuple[set[str], bool]:
        """PCI addresses of the GPUs this reader measures, and whether every one of them is known
        (so that the hwmon fallback can leave exactly those out)."""
        with self._lock:
            gpus = self._ensure()
        return {g.bdf for g in gpus if g.bdf}, all(g.bdf for g in gpus)

    # ---- Sensor protocol -------------------------------------------------------------------------
    def read(self) -> list[Reading]:
        """Counter GPUs: cumulative joules since probe; the others: watts. Thread-safe."""
        with self._lock:
            if self._closed:
                raise SensorError("amdsmi is closed")
            gpus = self._ensure()
            smi = self._smi
            out: list[Reading] = []
            errors: list[str] = []
            for g in gpus:
                try:
                    if g.domain.has_counter:
                        acc = _accumulator(smi.amdsmi_get_energy_count(g.handle))
                        if acc is None:
                            raise ValueError("energy accumulator is N/A")
                        raw = int(acc)
                        t = time.monotonic()
                        # the accumulator only goes back when the driver was reloaded: continue from zero
                        g.total_uj += counter_step(g.last_raw, raw) * g.resolution_uj
                        g.last_raw = raw
                        out.append(Reading(g.domain.name, t, energy_j=g.total_uj / 1e6))
                    else:
                        w = _number(smi.amdsmi_get_power_info(g.handle).get(g.power_key))
                        if w is None:
                            raise ValueError(f"{g.power_key} is N/A")
                        out.append(Reading(g.domain.name, time.monotonic(), watts=w))
                except Exception as e:  # a GPU that fails this time is left out (N/A for this tick)
                    errors.append(f"{g.domain.name}: {_text(e) or type(e).__name__}")
        if gpus and not out:
            raise SensorError("amdsmi read failed: " + "; ".join(errors))
        return out

    def close(self) -> None:
        """Shut amdsmi down (once)."""
        with self._lock:
            self._closed = True
            if self._initialized and self._smi is not None:
                self._initialized = False
                try:
                    self._smi.amdsmi_shut_down()
                except Exception:  # closing must never fail a run
                    pass


# ---------------------------------------------------------------------------------------------------
# hwmon


@dataclass
class _HwmonGpu:
    domain: Domain
    path: str  # the file read each time
    scale: float  # raw unit to joules (counter) or to watts
    last_raw: int = 0
    total_uj: int = 0


class AmdHwmonSensor(ProbedOnce[_HwmonGpu]):
    """amdgpu's hwmon power and energy files under a sysfs root (``$IPWTUI_SYSFS_ROOT`` or ``/sys``).

    ``skip`` holds PCI addresses another reader (amdsmi) already measures; ``skip_all`` (a reason) leaves
    every GPU out when the other reader's GPUs cannot be matched, so that no GPU is counted twice.
    """

    name = "amd-hwmon"

    def __init__(self, sysfs_root: str | os.PathLike | None = None, first_index: int = 0,
                 skip: set[str] | None = None, skip_all: str = "",
                 opener: Callable[[str], str] | None = None):
        self.root = str(sysfs_root) if sysfs_root is not None else default_sysfs_root()
        self.first_index = first_index
        self.skip = {b.lower() for b in (skip or set())}
        self.skip_all = skip_all
        self._open = opener or read_sysfs
        self._files = OpenFiles()
        self._hot = opener or self._files  # the power or energy file of each GPU, kept open
        self._found: list[_HwmonGpu] | None = None
        self._caps: list[Capability] = []
        self._lock = threading.Lock()

    def _devices(self) -> list[tuple[str, int, Path]]:
        """(PCI address or '', hwmon number, folder) of every amdgpu hwmon device, in PCI order."""
        base = Path(self.root) / "class" / "hwmon"
        try:
            entries = list(base.iterdir())
        except OSError:
            return []
        out = []
        for p in entries:
            m = _HWMON_RE.match(p.name)
            if not m:
                continue
            try:
                if self._open(str(p / "name")).strip() != "amdgpu":
                    continue
            except OSError:
                continue
            bdf = os.path.basename(os.path.realpath(p / "device"))
            out.append((bdf.lower() if _BDF_RE.match(bdf) else "", int(m.group(1)), p))
        return sorted(out, key=lambda x: (x[0] == "", x[0], x[1]))

    def _label(self, p: Path, hw: str, bdf: str) -> str:
        try:
            product = self._open(str(p / "device" / "product_name")).strip()
        except OSError:
            product = ""
        where = ", ".join(x for x in (hw, bdf) if x)
        return f"{product} (AMD GPU, {where})" if product else f"AMD GPU ({where})"

    def _probe(self) -> None:
        self._found, self._caps = [], []
        devices = self._devices()
        if not devices:
            self._caps.append(
                Capability("gpu", "gpu", "hwmon", UNAVAILABLE, "gpu", False,
                           reason=NO_HWMON_REASON.format(root=self.root.rstrip("/")),
                           boundary=BOUNDARY_ACCELERATOR)
            )
            return
        index = self.first_index
        for bdf, num, p in devices:
            hw = f"hwmon{num}"
            label = self._label(p, hw, bdf)
            if self.skip_all or (bdf and bdf in self.skip):
                why = self.skip_all or f"not used: amdsmi measures this GPU ({bdf})"
                self._caps.append(Capability(f"amdgpu-{hw}", "gpu", "hwmon", UNAVAILABLE, "gpu", False,
                                             reason=why, label=label, boundary=BOUNDARY_ACCELERATOR))
                continue
            dname = f"gpu{index}"
            tried: list[str] = []
            chosen = None
            for fname, source, period, scale, reason in (
                ("energy1_input", SRC_HWMON_COUNTER, PERIOD_COUNTER_S, 1e-6, ""),
                ("power1_input", SRC_HWMON_INSTANT, PERIOD_POWER_S, 1e-6, "no energy counter: integrating power"),
                ("power1_average", SRC_HWMON_AVG, PERIOD_AVG_S, 1e-6, AVG_REASON),
            ):
                path = str(p / fname)
                try:
                    raw = int(self._hot(path).strip())
                except FileNotFoundError:
                    continue
                except (OSError, ValueError) as e:
                    tried.append(f"{fname}: {e}")
                    continue
                chosen = (path, source, period, scale, reason, raw)
                break
            if chosen is None:
                why = "; ".join(tried) or "no energy1_input, power1_input or power1_average file"
                self._caps.append(Capability(dname, "gpu", "hwmon", UNAVAILABLE, dname, False, reason=why,
                                             label=label, boundary=BOUNDARY_ACCELERATOR))
                index += 1
                continue
            path, source, period, scale, reason, raw = chosen
            counter = source == SRC_HWMON_COUNTER
            dom = Domain(dname, "gpu", source, MEASURED, dname, counter, period, True, label, BOUNDARY_ACCELERATOR)
            self._found.append(_HwmonGpu(dom, path, scale, last_raw=raw))
            self._caps.append(Capability.of(dom, reason="; ".join(x for x in (reason, APU_NOTE) if x)))
            index += 1

    # ---- Sensor protocol -------------------------------------------------------------------------
    def read(self) -> list[Reading]:
        """Counter GPUs: cumulative joules since probe; the others: watts. Thread-safe."""
        with self._lock:
            gpus = self._ensure()
            out: list[Reading] = []
            errors: list[str] = []
            for g in gpus:
                try:
                    raw = int(self._hot(g.path).strip())
                except (OSError, ValueError) as e:
                    errors.append(f"{g.domain.name}: {e}")
                    continue
                t = time.monotonic()
                if g.domain.has_counter:
                    g.total_uj += counter_step(g.last_raw, raw)
                    g.last_raw = raw
                    out.append(Reading(g.domain.name, t, energy_j=g.total_uj * g.scale))
                else:
                    out.append(Reading(g.domain.name, t, watts=raw * g.scale))
        if gpus and not out:
            raise SensorError("amdgpu hwmon read failed: " + "; ".join(errors))
        return out

    def close(self) -> None:
        """Close the kept files."""
        with self._lock:
            self._files.close()
