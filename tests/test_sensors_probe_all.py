"""probe_all over fake machines: every reader registered, names unique, groups kept apart, the table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ipwtui.core.sensors import accelerators, capability_rows, probe_all


class Nvml:
    """The few pynvml calls a counter GPU needs."""

    class NVMLError(Exception):
        pass

    def __init__(self, n: int):
        self.n, self.calls = n, []

    def nvmlInit(self):
        self.calls.append("init")

    def nvmlShutdown(self):
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self):
        return self.n

    def nvmlSystemGetDriverVersion(self):
        return "580.65.06"

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return "NVIDIA L4"

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        return 1000

    def nvmlDeviceGetFieldValues(self, h, ids):
        raise self.NVMLError("Not Supported")


class AmdSmi:
    def __init__(self, bdfs):
        self.bdfs, self.calls = bdfs, []

    def amdsmi_init(self):
        self.calls.append("init")

    def amdsmi_shut_down(self):
        self.calls.append("shutdown")

    def amdsmi_get_processor_handles(self):
        return list(range(len(self.bdfs)))

    def amdsmi_get_gpu_asic_info(self, h):
        return {"market_name": "AMD Instinct MI210"}

    def amdsmi_get_gpu_device_bdf(self, h):
        return self.bdfs[h]

    def amdsmi_get_energy_count(self, h):
        return {"energy_accumulator": 10, "counter_resolution": 15.3, "timestamp": 0}


def write(d: Path, **files) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for k, v in files.items():
        (d / k).write_text(f"{v}\n")
    return d


def machine(root: Path, battery_status: str = "Discharging") -> None:
    """A workstation-laptop hybrid: RAPL, two amdgpu hwmon devices, a battery."""
    write(root / "class/powercap/intel-rapl:0", name="package-0", energy_uj=1, max_energy_range_uj=2**32)
    for n, bdf in ((0, "0000:03:00.0"), (1, "0000:04:00.0")):
        hw = write(root / f"class/hwmon/hwmon{n}", name="amdgpu", power1_average=50_000_000)
        dev = write(root / "devices/pci0000:00" / bdf)
        os.symlink(dev, hw / "device")
    write(root / "class/power_supply/AC", type="Mains", online=0)
    write(root / "class/power_supply/BAT0", type="Battery", status=battery_status, power_now=20_000_000)


def test_everything_registered_with_unique_names_and_groups(tmp_path):
    machine(tmp_path)
    nv, smi = Nvml(2), AmdSmi(["0000:03:00.0"])
    ss = probe_all(sysfs_root=str(tmp_path), nvml=nv, amdsmi=smi, platform="linux")
    names = [d.name for d in ss.domains()]
    # NVIDIA gpu0-1, amdsmi's MI210 gpu2, the second AMD GPU through hwmon gpu3 (the first is amdsmi's)
    assert names == ["cpu-package-0", "gpu0", "gpu1", "gpu2", "gpu3", "battery"]
    assert len(set(names)) == len(names)
    doms = {d.name: d for d in ss.domains()}
    assert (doms["gpu2"].source, doms["gpu3"].source) == ("amdsmi-counter", "hwmon-avg")
    assert doms["battery"].accelerator == "machine" and doms["battery"].boundary == "whole-machine"
    rows = {(r["domain"], r["source"]): r for r in capability_rows(ss)}
    skipped = rows[("amdgpu-hwmon0", "hwmon")]
    assert not skipped["available"] and "amdsmi measures this GPU (0000:03:00.0)" in skipped["reason"]
    assert rows[("cpu-est", "cpu-time-model")]["reason"] == "not used: CPU power is measured (rapl)"
    for r in capability_rows(ss):  # every row says where, how good, what it covers, how often, why
        assert set(r) >= {"source", "quality", "boundary", "period_s", "reason", "fix", "flags", "used"}
        assert r["boundary"] != "unspecified"
    groups = {g["accelerator"]: g for g in accelerators(ss.capabilities)}
    assert {a for a, g in groups.items() if g["usable"]} == {"cpu", "gpu0", "gpu1", "gpu2", "gpu3", "machine"}
    assert groups["machine"]["boundary"] == "whole-machine" and groups["cpu"]["boundary"] == "cpu-package"
    assert groups["gpu3"]["boundary"] == "accelerator"
    ss.close()
    assert nv.calls[-1] == "shutdown" and smi.calls[-1] == "shutdown"


def test_amdsmi_gpu_without_pci_address_turns_hwmon_off(tmp_path):
    machine(tmp_path)
    ss = probe_all(sysfs_root=str(tmp_path), nvml=Nvml(0), amdsmi=AmdSmi([""]), platform="linux")
    assert [d.name for d in ss.domains() if d.kind == "gpu"] == ["gpu0"]
    hw = [c for c in ss.capabilities if c.source == "hwmon"]
    assert len(hw) == 2 and all("cannot be matched" in c.reason for c in hw)


def test_sysfs_root_from_the_environment_covers_hwmon_and_battery(tmp_path, monkeypatch):
    machine(tmp_path)
    monkeypatch.setenv("IPWTUI_SYSFS_ROOT", str(tmp_path))
    ss = probe_all(nvml=Nvml(0), amdsmi=AmdSmi([]), platform="linux")
    assert [d.name for d in ss.domains()] == ["cpu-package-0", "gpu0", "gpu1", "battery"]


def test_battery_on_ac_is_listed_not_used(tmp_path):
    machine(tmp_path, battery_status="Charging")
    ss = probe_all(sysfs_root=str(tmp_path), nvml=Nvml(0), amdsmi=AmdSmi([]), platform="linux")
    (bat,) = [r for r in capability_rows(ss) if r["domain"] == "battery"]
    assert not bat["used"] and bat["reason"].startswith("on AC power") and bat["fix"]


class Metrics:
    def __init__(self, mj):
        self.cpu_total_mj, self.gpu_mj, self.ane_mj, self.dram_mj = mj, mj, 0, mj


class Monitor:
    def __init__(self):
        self.mj = 0

    def get_cumulative_energy(self):
        self.mj += 5
        return Metrics(self.mj)


def test_apple_soc_replaces_the_cpu_estimate(tmp_path, monkeypatch):
    monkeypatch.delenv("IPWTUI_POWERMETRICS", raising=False)
    ss = probe_all(sysfs_root=str(tmp_path), nvml=Nvml(0), amdsmi=AmdSmi([]), apple_monitor_factory=Monitor,
                   platform="darwin")
    assert [d.name for d in ss.domains()] == ["soc", "soc-cpu", "soc-gpu", "soc-ane", "soc-dram"]
    rows = {(r["domain"], r["source"]): r for r in capability_rows(ss)}
    assert rows[("soc", "ioreport")]["used"] and rows[("soc", "ioreport")]["quality"] == "model-based"
    pm = rows[("soc", "powermetrics")]
    assert not pm["available"] and "IPWTUI_POWERMETRICS=1" in pm["reason"]
    est = rows[("cpu-est", "cpu-time-model")]
    assert not est["used"] and est["reason"] == "not used: CPU power is in the SoC figure (ioreport)"
    groups = {g["accelerator"]: g for g in accelerators(ss.capabilities)}
    assert groups["soc"]["usable"] and groups["soc"]["quality"] == "model-based" and groups["soc"]["boundary"] == "soc"


def test_powermetrics_opt_in_replaces_ioreport(tmp_path):
    from test_sensors_apple import FakeProc, sample_plist, spawner

    proc = FakeProc()
    proc.feed(sample_plist() + b"\0")
    ss = probe_all(sysfs_root=str(tmp_path), nvml=Nvml(0), amdsmi=AmdSmi([]), apple_monitor_factory=Monitor,
                   powermetrics=True, powermetrics_spawn=spawner(proc), platform="darwin")
    doms = {d.name: d for d in ss.domains()}
    assert doms["soc"].source == "powermetrics"
    rows = {(r["domain"], r["source"]): r for r in capability_rows(ss)}
    assert rows[("soc", "ioreport")]["reason"].startswith("not used: sudo powermetrics was chosen")
    ss.close()
    assert proc.returncode is not None


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_no_hardware_at_all(tmp_path, platform, monkeypatch):
    monkeypatch.delenv("IPWTUI_POWERMETRICS", raising=False)

    def no_zeus():
        raise ImportError("No module named 'zeus_apple_silicon'")

    ss = probe_all(sysfs_root=str(tmp_path), nvml=Nvml(0), amdsmi=AmdSmi([]), apple_monitor_factory=no_zeus,
                   platform=platform, cpu_watts_per_core=1.0)
    assert [d.name for d in ss.domains()] == ["cpu-est"]
    missing = [c for c in ss.capabilities if not c.available]
    assert all(c.reason for c in missing)
    soc = [c for c in missing if c.source == "ioreport"][0]
    assert "pip install 'ipwtui[apple]'" in soc.fix
    ss.close()
