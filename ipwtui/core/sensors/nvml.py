"""NVIDIA GPUs through NVML (the ``pynvml`` module of the nvidia-ml-py package).

Per GPU the best source wins:

1. ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since the driver loaded; Volta and newer) -> ``nvml-counter``;
2. the instant power field ``NVML_FI_DEV_POWER_INSTANT`` (mW, with a timestamp) -> ``nvml-instant``;
3. ``nvmlDeviceGetPowerUsage`` (mW; a trailing 1 s average on Ampere and newer) -> ``nvml-avg1s``.

The NVML handle is injectable: tests pass a fake module with the same names. Every figure covers the GPU
board only (boundary ``accelerator``). NVML itself is thread-safe; the reader's own state (the counter's
running total, the last timestamp) is kept under a lock so that the sampler and the runner can both read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from .base import (BOUNDARY_ACCELERATOR, MEASURED, UNAVAILABLE, Capability, Domain, ProbedOnce, Reading,
                   SensorError, counter_step)

SRC_COUNTER = "nvml-counter"
SRC_INSTANT = "nvml-instant"
SRC_AVG = "nvml-avg1s"

# How often each value changes. The energy counter steps every 20-100 ms depending on the board: take the
# slow end so that windows shorter than two steps get flagged. The instant field refreshes at tens of Hz;
# the averaged power cannot resolve anything shorter than its 1 s window.
PERIOD_COUNTER_S = 0.1
PERIOD_INSTANT_S = 0.02
PERIOD_AVG_S = 1.0

# values from nvml.h, used when the handle lacks the constant
_FI_DEV_POWER_INSTANT = 186
_NVML_SUCCESS = 0
_VALUE_FIELDS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}

AVG_REASON = "power is a 1 s trailing average on Ampere and newer: short queries are smoothed"
FIX_INSTALL = "pip install 'ipwtui[nvidia]'"
FIX_DRIVER = "NVIDIA driver not loaded: install it or check `nvidia-smi`"


class _NoNvmlError(Exception):
    """Placeholder error class while no NVML handle is loaded."""


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def field_value(fv: Any) -> float:
    """The number in an NVML field value, chosen by its ``valueType`` (unsigned int when absent)."""
    attr = _VALUE_FIELDS.get(getattr(fv, "valueType", 1), "uiVal")
    return float(getattr(fv.value, attr))


@dataclass
class _Gpu:
    index: int
    handle: Any
    domain: Domain
    instant: bool  # the instant power field works on this GPU
    first_mj: int = 0
    last_mj: int = 0
    total_mj: int = 0  # counter delta since probe, reset-safe
    last_t: float = float("-inf")


class NvmlSensor(ProbedOnce[_Gpu]):
    """All NVIDIA GPUs NVML can see, one domain ``gpuN`` per GPU."""

    name = "nvml"

    def __init__(self, nvml: Any = None):
        self._nvml = nvml
        self._import_error: str | None = None
        self._initialized = False
        self._found: list[_Gpu] | None = None
        self._caps: list[Capability] = []
        self._wall_offset = time.time() - time.monotonic()
        self._lock = threading.Lock()
        self._closed = False
        self.driver_version: str | None = None  # for the session's provenance

    # ---- helpers ---------------------------------------------------------------------------------
    @property
    def _err(self) -> type[BaseException]:
        return getattr(self._nvml, "NVMLError", None) or _NoNvmlError

    def _load(self) -> bool:
        if self._nvml is None:
            try:
                import pynvml  # from nvidia-ml-py
            except ImportError as e:
                self._import_error = f"the pynvml module (nvidia-ml-py) is not installed: {e}"
                return False
            self._nvml = pynvml
        return True

    def _instant(self, handle: Any) -> tuple[float, float | None]:
        """(watts, NVML timestamp in µs or None) from the instant power field; raises on failure."""
        nv = self._nvml
        fid = getattr(nv, "NVML_FI_DEV_POWER_INSTANT", _FI_DEV_POWER_INSTANT)
        fv = nv.nvmlDeviceGetFieldValues(handle, [fid])[0]
        ret = getattr(fv, "nvmlReturn", _NVML_SUCCESS)
        if ret != getattr(nv, "NVML_SUCCESS", _NVML_SUCCESS):
            raise self._err(ret)
        ts = getattr(fv, "timestamp", None)
        return field_value(fv) / 1000.0, (float(ts) if ts else None)

    def _mono_from_us(self, ts_us: float | None, now: float) -> float:
        """Map an NVML wall-clock timestamp (µs) to ``time.monotonic()``; ``now`` when implausible."""
        if ts_us is None:
            return now
        t = ts_us / 1e6 - self._wall_offset
        if t - now > 0.5 or now - t > 5.0:
            self._wall_offset = time.time() - time.monotonic()  # the wall clock may have been stepped
            t = ts_us / 1e6 - self._wall_offset
            if t - now > 0.5 or now - t > 5.0:
                return now
        return min(t, now)

    def _unavailable(self, domain: str, reason: str, fix: str = "", accel: str = "gpu", label: str = "") -> Capability:
        return Capability(domain, "gpu", "nvml", UNAVAILABLE, accel, False, None, reason, fix, label,
                          boundary=BOUNDARY_ACCELERATOR)

    # ---- discovery -------------------------------------------------------------------------------
    def _probe(self) -> None:
        """One line per GPU (or one unavailable ``gpu`` line when NVML itself is missing)."""
        self._found, self._caps = [], []
        if not self._load():
            self._caps.append(self._unavailable("gpu", self._import_error or "pynvml missing", FIX_INSTALL))
            return
        nv = self._nvml
        try:
            nv.nvmlInit()
            self._initialized = True
            count = int(nv.nvmlDeviceGetCount())
        except Exception as e:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            why = f"NVML failed to start: {_text(e) or type(e).__name__}"
            self._caps.append(self._unavailable("gpu", why, FIX_DRIVER))
            return
        try:
            self.driver_version = _text(nv.nvmlSystemGetDriverVersion())
        except Exception:
            self.driver_version = None
        if count == 0:
            self._caps.append(self._unavailable("gpu", "NVML sees no NVIDIA GPU"))
            return
        for i in range(count):
            self._probe_one(i)

    def _probe_one(self, i: int) -> None:
        nv, err = self._nvml, self._err
        dname = f"gpu{i}"
        try:
            handle = nv.nvmlDeviceGetHandleByIndex(i)
        except err as e:
            self._caps.append(self._unavailable(dname, f"no handle for GPU {i}: {_text(e)}", accel=dname))
            return
        try:
            label = f"{_text(nv.nvmlDeviceGetName(handle))} (GPU {i})"
        except err:
            label = f"NVIDIA GPU {i}"
        tried: list[str] = []

        try:
            self._instant(handle)
            instant = True
        except (err, AttributeError, IndexError, TypeError) as e:
            instant = False
            tried.append(f"instant power field: {_text(e) or 'not supported'}")

        source, period, reason = None, None, ""
        first_mj = 0
        try:
            first_mj = int(nv.nvmlDeviceGetTotalEnergyConsumption(handle))
            source, period = SRC_COUNTER, PERIOD_COUNTER_S
        except (err, AttributeError) as e:
            tried.insert(0, f"energy counter: {_text(e) or 'not supported'}")
        if source is None and instant:
            source, period = SRC_INSTANT, PERIOD_INSTANT_S
            reason = "no energy counter (needs Volta or newer): integrating instant power"
        if source is None:
            try:
                nv.nvmlDeviceGetPowerUsage(handle)
                source, period, reason = SRC_AVG, PERIOD_AVG_S, AVG_REASON
            except (err, AttributeError) as e:
                tried.append(f"power usage: {_text(e) or 'not supported'}")
        if source is None:
            self._caps.append(
                self._unavailable(dname, "no power reading supported: " + "; ".join(tried), accel=dname, label=label)
            )
            return
        dom = Domain(dname, "gpu", source, MEASURED, dname, source == SRC_COUNTER, period, True, label,
                     BOUNDARY_ACCELERATOR)
        assert self._found is not None
        self._found.append(_Gpu(i, handle, dom, instant, first_mj, first_mj))
        self._caps.append(Capability.of(dom, reason))

    # ---- Sensor protocol -------------------------------------------------------------------------
    def read(self) -> list[Reading]:
        """Counter GPUs: cumulative joules since probe (plus instant watts when the field works);
        the others: watts. A GPU whose read fails this time is left out. Thread-safe."""
        with self._lock:
            if self._closed:
                raise SensorError("NVML is closed")
            return self._read()

    def _read(self) -> list[Reading]:
        gpus = self._ensure()
        nv, err = self._nvml, self._err
        out: list[Reading] = []
        errors: list[str] = []
        for g in gpus:
            try:
                if g.domain.source == SRC_COUNTER:
                    mj = int(nv.nvmlDeviceGetTotalEnergyConsumption(g.handle))
                    t = time.monotonic()
                    # the counter only goes back if the driver was reloaded: continue from zero
                    g.total_mj += counter_step(g.last_mj, mj)
                    g.last_mj = mj
                    watts = None
                    if g.instant:
                        try:
                            watts = self._instant(g.handle)[0]
                        except (err, AttributeError, IndexError, TypeError):
                            watts = None
                    out.append(Reading(g.domain.name, t, watts=watts, energy_j=g.total_mj / 1000.0))
                elif g.domain.source == SRC_INSTANT:
                    w, ts = self._instant(g.handle)
                    t = max(self._mono_from_us(ts, time.monotonic()), g.last_t)
                    g.last_t = t
                    out.append(Reading(g.domain.name, t, watts=w))
                else:
                    w = nv.nvmlDeviceGetPowerUsage(g.handle) / 1000.0
                    out.append(Reading(g.domain.name, time.monotonic(), watts=w))
            except (err, OSError, ValueError, TypeError, IndexError) as e:
                errors.append(f"{g.domain.name}: {_text(e)}")
        if gpus and not out:
            raise SensorError("NVML read failed: " + "; ".join(errors))
        return out

    def close(self) -> None:
        """Shut NVML down (once); a read racing with it waits, then gets a SensorError."""
        with self._lock:
            self._closed = True
            if self._initialized and self._nvml is not None:
                self._initialized = False
                try:
                    self._nvml.nvmlShutdown()
                except Exception:  # closing must never fail a run
                    pass
