"""Power sensors: probe what this machine can measure and pick the sensors for a session.

Importing this package is cheap: hardware libraries (pynvml, psutil) are imported only when a sensor
probes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .base import (
    ESTIMATED,
    MEASURED,
    MODEL_BASED,
    QUALITIES,
    UNAVAILABLE,
    Capability,
    Domain,
    Reading,
    Sensor,
    SensorError,
    SensorSet,
    worst_quality,
)
from .cpu_model import CpuTimeModelSensor
from .nvml import NvmlSensor
from .rapl import RaplSensor

__all__ = [
    "ESTIMATED",
    "MEASURED",
    "MODEL_BASED",
    "QUALITIES",
    "UNAVAILABLE",
    "Capability",
    "CpuTimeModelSensor",
    "Domain",
    "NvmlSensor",
    "RaplSensor",
    "Reading",
    "Sensor",
    "SensorError",
    "SensorSet",
    "capability_rows",
    "probe_all",
    "worst_quality",
]


def _probe(sensor: Any, fallback: Capability) -> tuple[list[Capability], bool]:
    """A sensor's capabilities and whether it has an available domain; a crash becomes a table line."""
    try:
        caps = sensor.probe()
    except Exception as e:  # a reader bug must not stop the profiler from starting
        caps = [replace(fallback, reason=f"probe failed: {type(e).__name__}: {e}")]
    return caps, any(c.available for c in caps)


def probe_all(
    sysfs_root: str | None = None,
    nvml: Any = None,
    include_estimate: bool = True,
    cpu_watts_per_core: float | None = None,
    cpu_scope: str = "process",
) -> SensorSet:
    """Probe every reader and return the sensors worth sampling with the full capability table.

    The CPU-time estimate is used only when no measured CPU domain exists; otherwise it is still listed,
    as not used, so that the table explains why.
    """
    chosen: list[Any] = []
    caps: list[Capability] = []

    def add(sensor: Any, fallback: Capability) -> None:
        got, ok = _probe(sensor, fallback)
        caps.extend(got)
        if ok:
            chosen.append(sensor)
        else:
            try:
                sensor.close()
            except Exception:
                pass

    add(RaplSensor(sysfs_root), Capability("cpu-package", "cpu", "rapl", UNAVAILABLE, "cpu", False))
    add(NvmlSensor(nvml), Capability("gpu", "gpu", "nvml", UNAVAILABLE, "gpu", False))
    # further readers (Apple IOReport, AMD amdsmi, hwmon) are added here in the same way

    measured_cpu = [
        c for c in caps if c.available and c.kind == "cpu" and c.in_total and c.quality == MEASURED
    ]
    model = CpuTimeModelSensor(watts_per_core=cpu_watts_per_core, scope=cpu_scope)
    model_fallback = Capability("cpu-est", "cpu", "cpu-time-model", UNAVAILABLE, "cpu", False)
    if measured_cpu:
        got, _ = _probe(model, model_fallback)
        srcs = ", ".join(sorted({c.source for c in measured_cpu}))
        caps.extend(replace(c, available=False, reason=f"not used: CPU power is measured ({srcs})") for c in got)
    elif not include_estimate:
        off = "no measured CPU power and the estimate is turned off"
        caps.append(replace(model_fallback, quality=ESTIMATED, reason=off))
    else:
        add(model, model_fallback)
    return SensorSet(sensors=chosen, capabilities=caps)


def capability_rows(sensor_set: SensorSet) -> list[dict]:
    """The capability table as plain dicts (for JSON and for any front end), with a ``used`` flag."""
    used = {d.name for d in sensor_set.domains()}
    rows = []
    for c in sensor_set.capabilities:
        row = c.as_dict()
        row["used"] = c.available and c.domain in used
        rows.append(row)
    return rows


def accelerators(capabilities: list) -> list[dict]:
    """The capability table grouped per accelerator, for a picker: one dict per accelerator with its
    available and missing domains, whether it can be measured at all, and the worst quality of the
    domains that would be counted. Usable accelerators first, then by name (cpu before gpu0 ...)."""
    from .base import UNAVAILABLE, worst_quality

    groups: dict[str, dict] = {}
    for c in capabilities:
        g = groups.setdefault(c.accelerator, {"accelerator": c.accelerator, "available": [], "missing": []})
        (g["available"] if c.available else g["missing"]).append(c)
    rows = []
    for g in groups.values():
        used = [c for c in g["available"] if c.in_total]
        g["quality"] = worst_quality([c.quality for c in used]) if used else UNAVAILABLE
        g["usable"] = bool(used)
        rows.append(g)
    rows.sort(key=lambda g: (not g["usable"], g["accelerator"]))
    return rows
