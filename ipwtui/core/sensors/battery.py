"""Whole-machine power from a laptop's battery while it discharges (Linux power_supply sysfs).

Under ``<sysfs>/class/power_supply`` each supply has a ``type`` ("Battery", "Mains", "USB"...). A battery
that powers the machine (``scope`` is not "Device", which marks a mouse's or a headset's) reports
``status`` and, depending on its firmware, ``power_now`` (µW), or ``current_now`` (µA) and ``voltage_now``
(µV), and ``energy_now`` (µWh, the charge left). While the machine runs on battery its whole draw (screen,
disks, idle floor included) comes out of it, so the figure's boundary is ``whole-machine``. On AC power the
battery sees only what it is charged with, or nothing: the domain is then unavailable, never 0.

The figure belongs to its own accelerator group, ``machine``: it must never be summed with a GPU's or a
CPU package's energy, which it already contains.

The fuel gauge updates slowly: the kernel re-reads the ACPI battery at most once a second, and the
embedded controller behind it refreshes its figures every few seconds (from about 1 s to 15 s or more
depending on the laptop). ``PERIOD_S`` (5 s) is the assumed period that makes the energy code flag shorter
windows; while it runs the reader also times the changes of the value it reads (``observed_period_s``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .base import (
    BOUNDARY_WHOLE_MACHINE,
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
)

ACCELERATOR = "machine"
DOMAIN = "battery"
DOMAIN_ENERGY = "battery-energy"
SRC_POWER = "battery-power"
SRC_CURRENT = "battery-current"
SRC_ENERGY = "battery-energy"
PERIOD_S = 5.0
UWH_TO_J = 3600.0 / 1e6  # 1 µWh = 3.6 mJ

AC_REASON = "on AC power: the battery does not see the machine's draw; unplug to measure"
NO_BATTERY_REASON = "no battery under {root}/class/power_supply (a desktop, a server or a VM)"
SLOW_NOTE = "the battery's fuel gauge updates every few seconds: windows shorter than that are flagged"
_DISCHARGING = "discharging"
_ON_AC = ("charging", "full", "not charging")


def not_discharging_reason(on_ac: bool, statuses: dict[str, str]) -> str:
    """Why the battery gives no figure now: AC power, or a status that is not "Discharging"."""
    shown = ", ".join(f"{n}: {s or 'no status'}" for n, s in statuses.items())
    if on_ac or any(s in _ON_AC for s in statuses.values()):
        return f"{AC_REASON} ({shown})"
    return f"the battery is not discharging ({shown}): it does not see the machine's draw"


@dataclass
class _Battery:
    name: str
    path: Path
    status_path: str = ""
    power_paths: tuple[str, ...] = ()  # power_now, or current_now and voltage_now
    energy_path: str = ""
    last_energy: int | None = None

    def __post_init__(self) -> None:
        self.status_path = str(self.path / "status")


@dataclass
class _ChangeClock:
    """Times the changes of a slowly updated value, to estimate its update period."""

    last_value: float | None = None
    last_change_t: float | None = None
    intervals: list[float] = field(default_factory=list)

    def see(self, value: float, t: float) -> None:
        if self.last_value is None:
            self.last_value = value
            return
        if value != self.last_value:
            if self.last_change_t is not None:
                self.intervals.append(t - self.last_change_t)
                del self.intervals[:-50]
            self.last_change_t = t
            self.last_value = value

    def period(self) -> float | None:
        """The median interval between changes (None before three intervals)."""
        xs = sorted(self.intervals)
        n = len(xs)
        if n < 3:
            return None
        return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


class BatterySensor(ProbedOnce[Domain]):
    """Whole-machine power from the batteries under a sysfs root (``$IPWTUI_SYSFS_ROOT`` or ``/sys``).

    One domain, ``battery``: the summed draw of the batteries that are discharging, as power when the
    firmware reports it (``power_now`` or ``current_now`` x ``voltage_now``), else as the drop of
    ``energy_now`` (a counter). When both exist, ``battery-energy`` is offered as a nested cross-check.
    ``opener`` reads a file's text and ``clock`` stamps the readings (both injectable for tests).
    """

    name = "battery"

    def __init__(self, sysfs_root: str | os.PathLike | None = None,
                 opener: Callable[[str], str] | None = None, clock: Callable[[], float] = time.monotonic):
        self.root = str(sysfs_root) if sysfs_root is not None else default_sysfs_root()
        self._open = opener or read_sysfs
        self._files = OpenFiles()
        self._hot = opener or self._files  # status, online, power and energy files, kept open
        self._clock = clock
        self._bats: list[_Battery] = []
        self._mains: list[str] = []  # "online" files of the other supplies (AC adapters, USB-C chargers)
        self._found: list[Domain] | None = None
        self._caps: list[Capability] = []
        self._lock = threading.Lock()
        self._power_clock = _ChangeClock()
        self._energy_total_uwh = 0
        self._energy_clock = _ChangeClock()

    # ---- files -----------------------------------------------------------------------------------
    def _get(self, path: str) -> str:
        """A file read on every tick (kept open)."""
        return self._hot(path).strip()

    def _int(self, path: str) -> int:
        return int(self._get(path))

    def _has(self, p: Path, name: str) -> bool:
        try:
            int(self._open(str(p / name)).strip())
            return True
        except (OSError, ValueError):
            return False

    def _on_ac(self) -> bool:
        for f in self._mains:
            try:
                if self._get(f) == "1":
                    return True
            except OSError:
                continue
        return False

    # ---- discovery -------------------------------------------------------------------------------
    def _scan(self) -> None:
        base = Path(self.root) / "class" / "power_supply"
        try:
            entries = sorted(base.iterdir())
        except OSError:
            entries = []
        for p in entries:
            try:
                kind = self._open(str(p / "type")).strip()
            except OSError:
                continue
            if kind != "Battery":
                if (p / "online").exists():
                    self._mains.append(str(p / "online"))
                continue
            try:
                if self._open(str(p / "scope")).strip().lower() == "device":
                    continue  # a peripheral's battery (mouse, headset): not this machine's supply
            except OSError:
                pass
            b = _Battery(p.name, p)
            if self._has(p, "power_now"):
                b.power_paths = (str(p / "power_now"),)
            elif self._has(p, "current_now") and self._has(p, "voltage_now"):
                b.power_paths = (str(p / "current_now"), str(p / "voltage_now"))
            if self._has(p, "energy_now"):
                b.energy_path = str(p / "energy_now")
            self._bats.append(b)

    def _probe(self) -> None:
        self._found, self._caps = [], []
        self._scan()
        if not self._bats:
            self._caps.append(self._missing(NO_BATTERY_REASON.format(root=self.root.rstrip("/")), ""))
            return
        names = "+".join(b.name for b in self._bats)
        usable = [b for b in self._bats if b.power_paths or b.energy_path]
        if not usable:
            self._caps.append(self._missing(f"{names} reports neither power_now, current_now with voltage_now,"
                                            " nor energy_now", "", names))
            return
        self._bats = usable
        statuses = {b.name: self._status(b) for b in usable}
        on_ac = self._on_ac()
        if on_ac or not any(s == _DISCHARGING for s in statuses.values()):
            why = not_discharging_reason(on_ac, statuses)
            self._caps.append(self._missing(why, "unplug the charger", names))
            return
        power = all(b.power_paths for b in usable)
        energy = all(b.energy_path for b in usable)
        if power:
            src = SRC_POWER if all(len(b.power_paths) == 1 for b in usable) else SRC_CURRENT
            self._found.append(Domain(DOMAIN, "system", src, MEASURED, ACCELERATOR, False, PERIOD_S, True,
                                        f"battery draw ({names})", BOUNDARY_WHOLE_MACHINE))
        if energy:
            nested = power
            self._found.append(Domain(DOMAIN_ENERGY if nested else DOMAIN, "system", SRC_ENERGY, MEASURED,
                                        ACCELERATOR, True, PERIOD_S, not nested,
                                        f"battery energy_now drop ({names})", BOUNDARY_WHOLE_MACHINE))
            self._resync()
        if not self._found:  # batteries disagree on which files they have: no common figure
            self._caps.append(self._missing(f"{names} report different files: no figure covers them all",
                                            "", names))
            return
        for d in self._found:
            notes = [SLOW_NOTE]
            if d.source == SRC_CURRENT:
                notes.insert(0, "power computed as current_now x voltage_now")
            if not d.in_total:
                notes.insert(0, "cross-check of the battery's power: shown, never summed")
            self._caps.append(Capability.of(d, reason="; ".join(notes)))

    def _missing(self, reason: str, fix: str, names: str = "") -> Capability:
        return Capability(DOMAIN, "system", "battery", UNAVAILABLE, ACCELERATOR, False, PERIOD_S,
                          reason=reason, fix=fix, label=f"battery ({names})" if names else "battery",
                          boundary=BOUNDARY_WHOLE_MACHINE)

    def _status(self, b: _Battery) -> str:
        try:
            return self._get(b.status_path).lower()
        except OSError:
            return ""

    # ---- Sensor protocol -------------------------------------------------------------------------
    def observed_period_s(self) -> float | None:
        """Median time between changes of the value read so far (None before three changes): the fuel
        gauge's real update period, for the session's record."""
        with self._lock:
            return self._power_clock.period() or self._energy_clock.period()

    def read(self) -> list[Reading]:
        """The summed draw of the discharging batteries; N/A (SensorError) on AC power. Thread-safe."""
        with self._lock:
            doms = self._ensure()
            if not doms:
                return []
            on_ac = self._on_ac()
            statuses = {b.name: self._status(b) for b in self._bats}
            if on_ac or _DISCHARGING not in statuses.values():
                self._resync()
                raise SensorError(not_discharging_reason(on_ac, statuses))
            discharging = {b.name for b in self._bats if statuses[b.name] == _DISCHARGING}
            out: list[Reading] = []
            t = self._clock()
            try:
                for d in doms:
                    if d.has_counter:
                        out.append(Reading(d.name, t, energy_j=self._energy_step(discharging, t) * UWH_TO_J))
                    else:
                        out.append(Reading(d.name, t, watts=self._power(discharging, t)))
            except (OSError, ValueError) as e:
                raise SensorError(f"battery read failed: {e}") from e
            return out

    def _power(self, discharging: set[str], t: float) -> float:
        total = 0.0
        for b in self._bats:
            if b.name not in discharging:
                continue
            if len(b.power_paths) == 1:
                total += abs(self._int(b.power_paths[0])) / 1e6  # some firmware reports it signed
            else:
                total += abs(self._int(b.power_paths[0])) * self._int(b.power_paths[1]) / 1e12
        self._power_clock.see(total, t)
        return total

    def _energy_step(self, discharging: set[str], t: float) -> int:
        """Add the drop of energy_now since the last read (discharging batteries only); µWh so far."""
        for b in self._bats:
            now = self._int(b.energy_path)
            if b.name in discharging and b.last_energy is not None and now < b.last_energy:
                self._energy_total_uwh += b.last_energy - now
            b.last_energy = now
        self._energy_clock.see(self._energy_total_uwh, t)
        return self._energy_total_uwh

    def _resync(self) -> None:
        """On AC the charge rises: forget the last level so that charging is never counted as a drop."""
        for b in self._bats:
            if b.energy_path:
                try:
                    b.last_energy = self._int(b.energy_path)
                except (OSError, ValueError):
                    b.last_energy = None

    def close(self) -> None:
        """Close the kept files."""
        with self._lock:
            self._files.close()
