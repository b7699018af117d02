"""Linux RAPL energy counters through the powercap sysfs interface.

Zones live in ``<root>/class/powercap/intel-rapl:N`` (packages, and psys on client parts) and subzones in
``intel-rapl:N:M`` (core, uncore, dram). AMD CPUs expose the same names. Each zone has ``name``,
``energy_uj`` (a counter that wraps at ``max_energy_range_uj``) and ``max_energy_range_uj``. When the range
cannot be read a wrap cannot be unwrapped: the domain then carries the ``wrap-unknown`` flag.

Only package and DRAM zones are summed: core and uncore are inside their package, and psys contains the
package, so adding them would count the same joules twice. They are still offered, with ``in_total=False``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .base import (
    BOUNDARY_CPU_CORES,
    BOUNDARY_CPU_PACKAGE,
    BOUNDARY_CPU_UNCORE,
    BOUNDARY_DRAM,
    BOUNDARY_PLATFORM,
    ENV_SYSFS_ROOT,
    FLAG_WRAP_UNKNOWN,
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

SOURCE = "rapl"
PERIOD_S = 0.001  # RAPL counters update about every millisecond
ENV_ROOT = ENV_SYSFS_ROOT

PERMISSION_REASON = "energy_uj is readable only by root (CVE-2020-8694)"
NO_RAPL_REASON = "no RAPL powercap interface (not an Intel/AMD CPU with powercap, or a VM/container)"
NO_RAPL_FIX = "on bare metal: modprobe intel_rapl_msr; in a container: mount the host's /sys and set IPWTUI_SYSFS_ROOT"

_ZONE_RE = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")


WRAP_UNKNOWN_REASON = (
    "max_energy_range_uj is unreadable: a wrap between two reads cannot be unwrapped"
    " (windows on this domain are flagged wrap-unknown)"
)

@dataclass
class _Zone:
    zone_id: str  # "intel-rapl:0:1"
    path: Path
    domain: Domain
    max_range_uj: int | None
    last_raw: int
    total_uj: int = 0  # unwrapped micro-joules since the first read
    energy_path: str = ""  # path of energy_uj, joined once: read() runs 20 times a second

    def __post_init__(self) -> None:
        self.energy_path = str(self.path / "energy_uj")


def _permission_fix(root: str) -> str:
    return (
        f"sudo chmod a+r {root.rstrip('/')}/class/powercap/intel-rapl:*/energy_uj"
        " (until reboot; a udev rule or tmpfiles.d entry with the same mode makes it stick)"
    )


def _classify(name: str, package: int, sub: int | None) -> tuple[str, str, bool, str]:
    """Map a zone's ``name`` to (domain name, kind, in_total, boundary)."""
    n = name.strip().lower()
    if n.startswith("package"):
        idx = n.split("-", 1)[1] if "-" in n else str(package)
        return f"cpu-package-{idx}", "cpu", True, BOUNDARY_CPU_PACKAGE
    if n == "dram":
        return f"dram-{package}", "dram", True, BOUNDARY_DRAM
    if n == "core":
        return f"cpu-core-{package}", "cpu", False, BOUNDARY_CPU_CORES
    if n == "uncore":
        return f"cpu-uncore-{package}", "cpu", False, BOUNDARY_CPU_UNCORE
    if n == "psys":
        return "psys", "system", False, BOUNDARY_PLATFORM
    safe = re.sub(r"[^a-z0-9]+", "-", n).strip("-") or "zone"
    dname = f"rapl-{safe}-{package}" + (f"-{sub}" if sub is not None else "")
    return dname, "cpu", False, BOUNDARY_CPU_PACKAGE  # an unknown zone sits inside its package


class RaplSensor(ProbedOnce[_Zone]):
    """Reads the RAPL powercap counters under a sysfs root (injectable for tests).

    ``opener`` reads a file's text; tests inject one to simulate ``PermissionError`` even as root. Without
    one, the counters are kept open and re-read with ``pread`` (see ``OpenFiles``).
    ``read()`` returns cumulative joules since the zones were first probed, unwrapped. It is thread-safe:
    the unwrapping state is updated under a lock, and each value is stamped inside it, so readings taken
    by several threads stay monotone in both time and energy.
    """

    name = "rapl"

    def __init__(self, sysfs_root: str | os.PathLike | None = None, opener: Callable[[str], str] | None = None):
        self.root = str(sysfs_root) if sysfs_root is not None else default_sysfs_root()
        self._open = opener or read_sysfs
        self._files = OpenFiles()
        self._hot = opener or self._files  # energy_uj, read 20 times a second
        self._found: list[_Zone] | None = None
        self._caps: list[Capability] = []
        self._lock = threading.Lock()

    # ---- discovery -------------------------------------------------------------------------------
    def _zone_dirs(self) -> list[tuple[tuple[int, int], str, Path]]:
        """Zone folders, flat or nested, each once, sorted by (package, subzone)."""
        base = Path(self.root) / "class" / "powercap"
        found: dict[str, Path] = {}
        try:
            tops = sorted(base.iterdir())
        except OSError:
            return []
        for p in tops:
            if _ZONE_RE.match(p.name):
                found.setdefault(p.name, p)
                try:
                    for child in sorted(p.iterdir()):
                        if _ZONE_RE.match(child.name):
                            found.setdefault(child.name, child)
                except OSError:
                    pass
        out = []
        for zid, path in found.items():
            m = _ZONE_RE.match(zid)
            assert m
            key = (int(m.group(1)), int(m.group(2)) if m.group(2) is not None else -1)
            out.append((key, zid, path))
        return sorted(out)

    def _probe(self) -> None:
        """Every zone found, readable or not; a single unavailable line when there is no RAPL at all."""
        zones: list[_Zone] = []
        caps: list[Capability] = []
        seen: set[str] = set()
        dirs = self._zone_dirs()
        for (pkg, sub), zid, path in dirs:
            subzone = None if sub < 0 else sub
            try:
                zname = self._open(str(path / "name")).strip()
            except OSError:
                continue  # not a usable zone folder
            dname, kind, in_total, boundary = _classify(zname, pkg, subzone)
            if dname in seen:
                dname = f"{dname}-{zid.split(':', 1)[1].replace(':', '-')}"
            seen.add(dname)
            label = f"RAPL {zname} ({zid})"
            try:
                raw = int(self._hot(str(path / "energy_uj")).strip())
            except PermissionError:
                caps.append(
                    Capability(dname, kind, SOURCE, UNAVAILABLE, "cpu", False, PERIOD_S,
                               reason=PERMISSION_REASON, fix=_permission_fix(self.root),
                               label=label, in_total=in_total, boundary=boundary)
                )
                continue
            except (OSError, ValueError) as e:
                caps.append(
                    Capability(dname, kind, SOURCE, UNAVAILABLE, "cpu", False, PERIOD_S,
                               reason=f"cannot read energy_uj: {e}", label=label, in_total=in_total,
                               boundary=boundary)
                )
                continue
            try:
                raw_range = int(self._open(str(path / "max_energy_range_uj")).strip())
                max_range: int | None = raw_range if raw_range > 0 else None
            except (OSError, ValueError):
                max_range = None
            flags = (FLAG_WRAP_UNKNOWN,) if max_range is None else ()
            dom = Domain(dname, kind, SOURCE, MEASURED, "cpu", True, PERIOD_S, in_total, label, boundary, flags)
            zones.append(_Zone(zid, path, dom, max_range, raw))
            notes = [] if in_total else ["nested in or containing a package: shown, never summed"]
            if flags:
                notes.append(WRAP_UNKNOWN_REASON)
            caps.append(Capability.of(dom, reason="; ".join(notes)))
        if not caps:
            caps.append(
                Capability("cpu-package", "cpu", SOURCE, UNAVAILABLE, "cpu", False, PERIOD_S,
                           reason=NO_RAPL_REASON, fix=NO_RAPL_FIX, label="RAPL", boundary=BOUNDARY_CPU_PACKAGE)
            )
        self._found, self._caps = zones, caps

    # ---- Sensor protocol -------------------------------------------------------------------------
    def read(self) -> list[Reading]:
        """Cumulative unwrapped joules per readable zone; a zone that fails this time is left out."""
        with self._lock:
            zones = self._ensure()
            out: list[Reading] = []
            errors: list[str] = []
            for z in zones:
                try:
                    raw = int(self._hot(z.energy_path).strip())
                except (OSError, ValueError) as e:
                    errors.append(f"{z.domain.name}: {e}")
                    continue
                t = time.monotonic()
                z.total_uj += counter_step(z.last_raw, raw, z.max_range_uj)
                z.last_raw = raw
                out.append(Reading(z.domain.name, t, watts=None, energy_j=z.total_uj / 1e6))
        if zones and not out:
            raise SensorError("RAPL read failed: " + "; ".join(errors))
        return out

    def close(self) -> None:
        """Close the kept files."""
        with self._lock:
            self._files.close()
