"""Power sensors: probe what this machine can measure and pick the sensors for a session.

Importing this package is cheap: hardware libraries (pynvml, amdsmi, zeus_apple_silicon, psutil) are
imported only when a sensor probes.

Readers, in the order ``probe_all`` tries them: RAPL (CPU package, DRAM), Apple IOReport or the opt-in
powermetrics (SoC), NVML (NVIDIA GPUs), amdsmi then amdgpu hwmon (AMD GPUs), the battery (whole machine),
and the CPU-time estimate when no CPU power is measured. Each domain belongs to an accelerator group
("cpu", "soc", "gpu0"..., "machine"); a figure sums the ``in_total`` domains of one group only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .base import (
    BOUNDARIES,
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
    describe_boundary,
    register_boundary,
    worst_quality,
)

# readers, imported on first use so that importing the package (for its types) stays cheap
_READERS = {
    "AmdHwmonSensor": "amd",
    "AmdSmiSensor": "amd",
    "AppleSocSensor": "apple",
    "BatterySensor": "battery",
    "CpuTimeModelSensor": "cpu_model",
    "NvmlSensor": "nvml",
    "PowermetricsSensor": "powermetrics",
    "RaplSensor": "rapl",
}


def __getattr__(name: str) -> Any:
    if name in _READERS:
        import importlib

        return getattr(importlib.import_module(f".{_READERS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BOUNDARIES",
    "ESTIMATED",
    "MEASURED",
    "MODEL_BASED",
    "QUALITIES",
    "UNAVAILABLE",
    "AmdHwmonSensor",
    "AmdSmiSensor",
    "AppleSocSensor",
    "BatterySensor",
    "Capability",
    "CpuTimeModelSensor",
    "Domain",
    "NvmlSensor",
    "PowermetricsSensor",
    "RaplSensor",
    "Reading",
    "Sensor",
    "SensorError",
    "SensorSet",
    "accelerators",
    "capability_rows",
    "describe_boundary",
    "probe_all",
    "register_boundary",
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
    amdsmi: Any = None,
    apple_monitor_factory: Any = None,
    powermetrics: bool | None = None,
    powermetrics_spawn: Any = None,
    platform: str | None = None,
) -> SensorSet:
    """Probe every reader and return the sensors worth sampling with the full capability table.

    ``sysfs_root`` (else ``$IPWTUI_SYSFS_ROOT``, else /sys) serves RAPL, hwmon and the battery; ``nvml``,
    ``amdsmi``, ``apple_monitor_factory``, ``powermetrics_spawn`` and ``platform`` stand in for the
    libraries and the OS in tests. ``powermetrics`` (else ``$IPWTUI_POWERMETRICS``) opts in to
    ``sudo powermetrics``, which then replaces IOReport.

    The CPU-time estimate is used only when no measured CPU domain exists; otherwise it is still listed,
    as not used, so that the table explains why.
    """
    from .amd import AmdHwmonSensor, AmdSmiSensor, next_gpu_index
    from .apple import AppleSocSensor
    from .battery import BatterySensor
    from .cpu_model import CpuTimeModelSensor
    from .nvml import NvmlSensor
    from .powermetrics import PowermetricsSensor, enabled_by_env
    from .rapl import RaplSensor

    chosen: list[Any] = []
    caps: list[Capability] = []

    def add(sensor: Any, fallback: Capability) -> bool:
        got, ok = _probe(sensor, fallback)
        caps.extend(got)
        if ok:
            chosen.append(sensor)
        else:
            try:
                sensor.close()
            except Exception:
                pass
        return ok

    def listed_only(sensor: Any, fallback: Capability, why: str) -> None:
        """Show a reader's lines as not used (another reader covers the same hardware)."""
        got, _ = _probe(sensor, fallback)
        caps.extend(replace(c, available=False, reason=why) for c in got)
        try:
            sensor.close()
        except Exception:
            pass

    def gpu_fallback(source: str) -> Capability:
        return Capability("gpu", "gpu", source, UNAVAILABLE, "gpu", False, boundary="accelerator")

    add(RaplSensor(sysfs_root), Capability("cpu-package", "cpu", "rapl", UNAVAILABLE, "cpu", False,
                                           boundary="cpu-package"))

    # Apple silicon: IOReport (no sudo), or powermetrics when asked for
    soc_fallback = Capability("soc", "soc", "ioreport", UNAVAILABLE, "soc", False, boundary="soc")
    ioreport = AppleSocSensor(apple_monitor_factory, platform=platform)
    want_pm = enabled_by_env() if powermetrics is None else powermetrics
    pm = PowermetricsSensor(enabled=want_pm, spawn=powermetrics_spawn, platform=platform)
    if want_pm and add(pm, replace(soc_fallback, source="powermetrics")):
        pm_on = "not used: sudo powermetrics was chosen (IPWTUI_POWERMETRICS)"
        caps.append(replace(soc_fallback, reason=pm_on, label="Apple SoC (IOReport)"))
    else:
        add(ioreport, soc_fallback)
        if not want_pm and pm.platform == "darwin":
            caps.extend(pm.probe())  # the opt-in line (nothing is started), so that the table tells it exists

    add(NvmlSensor(nvml), gpu_fallback("nvml"))
    smi = AmdSmiSensor(amdsmi, first_index=next_gpu_index(c.domain for c in caps))
    smi_ok = add(smi, gpu_fallback("amdsmi"))
    skip: set[str] = set()
    skip_all = ""
    if smi_ok:
        skip, all_known = smi.measured_bdfs()
        if not all_known:
            skip_all = "not used: amdsmi reads the AMD GPUs (their PCI addresses cannot be matched)"
    add(AmdHwmonSensor(sysfs_root, first_index=next_gpu_index(c.domain for c in caps), skip=skip,
                       skip_all=skip_all), gpu_fallback("hwmon"))

    add(BatterySensor(sysfs_root), Capability("battery", "system", "battery", UNAVAILABLE, "machine", False,
                                              boundary="whole-machine"))

    cpu_power = [
        c for c in caps
        if c.available and c.in_total and ((c.kind == "cpu" and c.quality == MEASURED) or c.kind == "soc")
    ]
    model = CpuTimeModelSensor(watts_per_core=cpu_watts_per_core, scope=cpu_scope)
    model_fallback = Capability("cpu-est", "cpu", "cpu-time-model", UNAVAILABLE, "cpu", False,
                                boundary=model.boundary)
    if cpu_power:
        srcs = ", ".join(sorted({c.source for c in cpu_power}))
        how = "measured" if all(c.kind == "cpu" for c in cpu_power) else "in the SoC figure"
        listed_only(model, model_fallback, f"not used: CPU power is {how} ({srcs})")
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
    domains that would be counted, and what they cover (``boundary``). Usable accelerators first, then by
    name (cpu before gpu0 ...)."""
    groups: dict[str, dict] = {}
    for c in capabilities:
        g = groups.setdefault(c.accelerator, {"accelerator": c.accelerator, "available": [], "missing": []})
        (g["available"] if c.available else g["missing"]).append(c)
    rows = []
    for g in groups.values():
        used = [c for c in g["available"] if c.in_total]
        g["quality"] = worst_quality([c.quality for c in used]) if used else UNAVAILABLE
        g["usable"] = bool(used)
        # what the group's figure covers: its counted domains' boundaries, e.g. "cpu-package+dram"
        g["boundary"] = "+".join(dict.fromkeys(c.boundary for c in used)) if used else ""
        rows.append(g)
    rows.sort(key=lambda g: (not g["usable"], g["accelerator"]))
    return rows
