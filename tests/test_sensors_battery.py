"""Battery reader on fake power_supply trees."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ipwtui.core.sensors.base import MEASURED, UNAVAILABLE, SensorError
from ipwtui.core.sensors.battery import AC_REASON, PERIOD_S, BatterySensor


def supply(root: Path, name: str, **files) -> Path:
    d = root / "class" / "power_supply" / name
    d.mkdir(parents=True, exist_ok=True)
    for k, v in files.items():
        (d / k).write_text(f"{v}\n")
    return d


def put(d: Path, **files) -> None:
    """Change files in place (the readers keep them open, as they keep sysfs files open)."""
    for k, v in files.items():
        (d / k).write_text(f"{v}\n")


def vanish(monkeypatch, *files: Path) -> None:
    """Take files away as sysfs does when a device goes: a kept descriptor then reads ENODEV, and the path
    is gone for a new open."""
    import errno

    from ipwtui.core.sensors import base

    gone = {os.path.realpath(f) for f in files}
    real = getattr(base.os.pread, "real", base.os.pread)
    gone |= getattr(base.os.pread, "gone", set())

    def pread(fd, n, off):
        if os.readlink(f"/proc/self/fd/{fd}").removesuffix(" (deleted)") in gone:
            raise OSError(errno.ENODEV, "No such device")
        return real(fd, n, off)

    pread.real, pread.gone = real, gone
    monkeypatch.setattr(base.os, "pread", pread)
    for f in files:
        f.unlink(missing_ok=True)


def laptop(root: Path, status="Discharging", ac=0, **bat) -> Path:
    supply(root, "AC", type="Mains", online=ac)
    files = {"type": "Battery", "status": status, "power_now": 12_500_000, "energy_now": 40_000_000}
    files.update(bat)
    return supply(root, "BAT0", **{k: v for k, v in files.items() if v is not None})


def test_discharging_gives_whole_machine_power(tmp_path):
    laptop(tmp_path)
    s = BatterySensor(tmp_path)
    caps = {c.domain: c for c in s.probe()}
    bat = caps["battery"]
    assert bat.available and bat.quality == MEASURED and bat.boundary == "whole-machine"
    assert bat.accelerator == "machine" and bat.kind == "system" and bat.in_total
    assert bat.source == "battery-power" and bat.period_s == PERIOD_S
    assert "every few seconds" in bat.reason
    # energy_now is offered too, as a nested cross-check that is never summed
    cross = caps["battery-energy"]
    assert cross.available and not cross.in_total and cross.source == "battery-energy"
    assert [d.name for d in s.domains()] == ["battery", "battery-energy"]
    (r, e) = s.read()
    assert r.domain == "battery" and r.watts == pytest.approx(12.5) and r.energy_j is None
    assert e.domain == "battery-energy" and e.energy_j == 0.0


def test_current_times_voltage_when_no_power_now(tmp_path):
    laptop(tmp_path, power_now=None, current_now=-1_500_000, voltage_now=11_400_000)
    s = BatterySensor(tmp_path)
    (d, _) = s.domains()
    assert d.source == "battery-current"
    assert "current_now x voltage_now" in s.probe()[0].reason
    assert s.read()[0].watts == pytest.approx(1.5 * 11.4)  # the sign some firmware uses is dropped


def test_energy_now_alone_is_a_counter(tmp_path):
    b = laptop(tmp_path, power_now=None)
    s = BatterySensor(tmp_path)
    (d,) = s.domains()
    assert (d.name, d.source, d.has_counter, d.in_total) == ("battery", "battery-energy", True, True)
    assert s.read()[0].energy_j == 0.0
    put(b, energy_now=39_990_000)  # 10_000 µWh used = 36 J
    assert s.read()[0].energy_j == pytest.approx(36.0)
    put(b, energy_now=39_990_000)  # the gauge has not moved yet
    assert s.read()[0].energy_j == pytest.approx(36.0)
    put(b, energy_now=39_985_000)
    assert s.read()[0].energy_j == pytest.approx(54.0)


@pytest.mark.parametrize("status", ["Charging", "Full", "Not charging"])
def test_on_ac_is_unavailable_with_the_reason(tmp_path, status):
    laptop(tmp_path, status=status, ac=1)
    s = BatterySensor(tmp_path)
    (c,) = s.probe()
    assert not c.available and c.quality == UNAVAILABLE and c.accelerator == "machine"
    assert c.reason.startswith(AC_REASON)
    assert AC_REASON == "on AC power: the battery does not see the machine's draw; unplug to measure"
    assert s.domains() == [] and s.read() == []


def test_adapter_online_wins_over_a_discharging_status(tmp_path):
    laptop(tmp_path, status="Discharging", ac=1)  # heavy load on a weak charger: the battery helps out
    (c,) = BatterySensor(tmp_path).probe()
    assert not c.available and c.reason.startswith(AC_REASON)


def test_usb_c_charger_counts_as_ac(tmp_path):
    supply(tmp_path, "ucsi-source-psy-USBC000:001", type="USB", online=1)
    supply(tmp_path, "BAT0", type="Battery", status="Charging", power_now=5)
    (c,) = BatterySensor(tmp_path).probe()
    assert c.reason.startswith(AC_REASON)


def test_unknown_status_without_ac_says_so(tmp_path):
    laptop(tmp_path, status="Unknown")
    (c,) = BatterySensor(tmp_path).probe()
    assert not c.available and "not discharging (BAT0: unknown)" in c.reason


def test_plugging_in_mid_run_makes_it_na_and_charging_is_never_counted(tmp_path):
    b = laptop(tmp_path, power_now=None)
    s = BatterySensor(tmp_path)
    s.read()
    put(b, energy_now=39_000_000)
    assert s.read()[0].energy_j == pytest.approx(1_000_000 * 3.6e-3)
    put(tmp_path / "class" / "power_supply" / "AC", online=1)
    put(b, status="Charging", energy_now=39_500_000)
    with pytest.raises(SensorError, match="on AC power"):
        s.read()
    put(tmp_path / "class" / "power_supply" / "AC", online=0)
    put(b, status="Discharging", energy_now=39_400_000)
    # only the 100_000 µWh used since unplugging are added, not the charge gained on AC
    assert s.read()[0].energy_j == pytest.approx(1_100_000 * 3.6e-3)


def test_two_batteries_sum_the_discharging_ones(tmp_path):
    supply(tmp_path, "AC", type="Mains", online=0)
    supply(tmp_path, "BAT0", type="Battery", status="Discharging", power_now=8_000_000)
    b1 = supply(tmp_path, "BAT1", type="Battery", status="Unknown", power_now=3_000_000)
    s = BatterySensor(tmp_path)
    assert s.probe()[0].label == "battery draw (BAT0+BAT1)"
    assert s.read()[0].watts == pytest.approx(8.0)
    put(b1, status="Discharging")
    assert s.read()[0].watts == pytest.approx(11.0)


def test_peripheral_batteries_are_ignored(tmp_path):
    supply(tmp_path, "hidpp_battery_0", type="Battery", scope="Device", status="Discharging", power_now=1)
    (c,) = BatterySensor(tmp_path).probe()
    assert not c.available and "no battery" in c.reason


def test_no_power_supply_folder(tmp_path):
    (c,) = BatterySensor(tmp_path).probe()
    assert (c.domain, c.available, c.boundary) == ("battery", False, "whole-machine")
    assert c.reason == f"no battery under {tmp_path}/class/power_supply (a desktop, a server or a VM)"


def test_battery_without_any_reading(tmp_path):
    supply(tmp_path, "BAT0", type="Battery", status="Discharging", capacity=50)
    (c,) = BatterySensor(tmp_path).probe()
    assert not c.available and "neither power_now" in c.reason


def test_env_root_is_honoured(tmp_path, monkeypatch):
    laptop(tmp_path)
    monkeypatch.setenv("IPWTUI_SYSFS_ROOT", str(tmp_path))
    assert [d.name for d in BatterySensor().domains()] == ["battery", "battery-energy"]


def test_observed_period_from_value_changes(tmp_path):
    b = laptop(tmp_path)
    now = {"t": 0.0}
    s = BatterySensor(tmp_path, clock=lambda: now["t"])
    s.probe()
    # read every 0.5 s; the gauge changes its value at t = 2, 5, 8 and 11 (every 3 s)
    for k in range(25):
        now["t"] = k * 0.5
        step = sum(1 for c in (2, 5, 8, 11) if now["t"] >= c)
        put(b, power_now=(10 + step) * 1_000_000)
        s.read()
        if now["t"] == 8.0:
            assert s.observed_period_s() is None  # two intervals so far: not enough to tell
    assert s.observed_period_s() == pytest.approx(3.0)


def test_vanished_files_raise_sensor_error(tmp_path, monkeypatch):
    b = laptop(tmp_path)
    s = BatterySensor(tmp_path)
    s.read()
    vanish(monkeypatch, b / "power_now")
    with pytest.raises(SensorError, match="battery read failed"):
        s.read()


def test_concurrent_reads_of_the_energy_counter(tmp_path):
    b = laptop(tmp_path, power_now=None)
    s = BatterySensor(tmp_path)
    s.probe()
    got: list = []

    def hammer():
        for _ in range(300):
            got.extend(s.read())

    ths = [threading.Thread(target=hammer) for _ in range(2)]
    for th in ths:
        th.start()
    fd = os.open(b / "energy_now", os.O_WRONLY)  # one write of the same length: never half-seen
    os.pwrite(fd, b"39000000\n", 0)
    os.close(fd)
    for th in ths:
        th.join()
    merged = sorted(got, key=lambda r: (r.t, r.energy_j))
    assert all(b.energy_j >= a.energy_j for a, b in zip(merged, merged[1:]))
    assert merged[-1].energy_j == pytest.approx(3600.0)  # the drop counted once
