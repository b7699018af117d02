"""AMD GPU readers: amdsmi against a stand-in of its Python module, hwmon on fake sysfs trees."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ipwtui.core.sensors.amd import (
    AVG_REASON,
    FIX_INSTALL,
    AmdHwmonSensor,
    AmdSmiSensor,
    next_gpu_index,
)
from ipwtui.core.sensors.base import MEASURED, UNAVAILABLE, SensorError

# ---------------------------------------------------------------------------------------------------
# a stand-in for the amdsmi module: same function names, same dict shapes ("N/A" for what is absent)


class FakeAmdGpu:
    def __init__(self, market_name="AMD Instinct MI300X", bdf="0000:0c:00.0", acc=None, resolution=15.259,
                 current_w="N/A", average_w="N/A", socket_w=None, product_name="N/A"):
        self.market_name, self.bdf, self.product_name = market_name, bdf, product_name
        self.acc = acc  # None: energy counter not supported
        self.resolution = resolution
        self.current_w, self.average_w, self.socket_w = current_w, average_w, socket_w
        self.broken = False


class FakeAmdSmi:
    class AmdSmiException(Exception):
        pass

    class AmdSmiLibraryException(AmdSmiException):
        def __init__(self, err_code, err_info):
            super().__init__(f"Error code:\n\t{err_code} | {err_info}")
            self.err_code, self.err_info = err_code, err_info

    def __init__(self, gpus, init_error=None):
        self.gpus = gpus
        self.init_error = init_error
        self.calls: list[str] = []

    def _gpu(self, h) -> FakeAmdGpu:
        g = self.gpus[h[1]]
        if g.broken:
            raise self.AmdSmiLibraryException(2, "AMDSMI_STATUS_NOT_SUPPORTED")
        return g

    def amdsmi_init(self, flag=None):
        self.calls.append("init")
        if self.init_error:
            raise self.AmdSmiLibraryException(8, self.init_error)

    def amdsmi_shut_down(self):
        self.calls.append("shutdown")

    def amdsmi_get_processor_handles(self):
        return [("handle", i) for i in range(len(self.gpus))]

    def amdsmi_get_gpu_asic_info(self, h):
        return {"market_name": self._gpu(h).market_name, "vendor_id": "0x1002"}

    def amdsmi_get_gpu_board_info(self, h):
        return {"product_name": self._gpu(h).product_name}

    def amdsmi_get_gpu_device_bdf(self, h):
        return self._gpu(h).bdf

    def amdsmi_get_energy_count(self, h):
        g = self._gpu(h)
        if g.acc is None:
            raise self.AmdSmiLibraryException(2, "AMDSMI_STATUS_NOT_SUPPORTED")
        return {"power": g.acc, "energy_accumulator": g.acc, "counter_resolution": g.resolution,
                "timestamp": 1_700_000_000_000_000_000}

    def amdsmi_get_power_info(self, h):
        g = self._gpu(h)
        info = {"current_socket_power": g.current_w, "average_socket_power": g.average_w,
                "gfx_voltage": 800, "soc_voltage": "N/A", "mem_voltage": "N/A", "power_limit": 750}
        if g.socket_w is not None:
            info["socket_power"] = g.socket_w
        return info


def three_gpus() -> FakeAmdSmi:
    return FakeAmdSmi([
        FakeAmdGpu(acc=1_000_000, current_w=450, average_w=440),
        FakeAmdGpu(market_name="N/A", product_name="Radeon RX 7900 XTX", bdf="0000:03:00.0", current_w=210),
        FakeAmdGpu(market_name="AMD Radeon Pro W6800", bdf="0000:04:00.0", average_w=95),
    ])


def by_name(items):
    return {x.domain if hasattr(x, "domain") else x.name: x for x in items}


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


def test_amdsmi_picks_the_best_source_per_gpu():
    s = AmdSmiSensor(three_gpus())
    caps = by_name(s.probe())
    assert list(caps) == ["gpu0", "gpu1", "gpu2"]
    assert (caps["gpu0"].source, caps["gpu0"].reason) == ("amdsmi-counter", "")
    assert caps["gpu1"].source == "amdsmi-power" and "NOT_SUPPORTED" in caps["gpu1"].reason
    assert caps["gpu2"].source == "amdsmi-avg" and caps["gpu2"].reason.startswith(AVG_REASON)
    for c in caps.values():
        assert c.available and c.quality == MEASURED and c.boundary == "accelerator"
        assert c.accelerator == c.domain and c.kind == "gpu"
    doms = by_name(s.domains())
    assert doms["gpu0"].has_counter and not doms["gpu1"].has_counter
    assert doms["gpu0"].label == "AMD Instinct MI300X (AMD GPU 0, 0000:0c:00.0)"
    assert doms["gpu1"].label == "Radeon RX 7900 XTX (AMD GPU 1, 0000:03:00.0)"  # board name when no market name
    assert s.measured_bdfs() == ({"0000:0c:00.0", "0000:03:00.0", "0000:04:00.0"}, True)


def test_amdsmi_counter_units_and_values():
    smi = three_gpus()
    s = AmdSmiSensor(smi)
    first = by_name(s.read())
    assert first["gpu0"].energy_j == 0.0 and first["gpu0"].watts is None
    assert first["gpu1"].watts == pytest.approx(210.0) and first["gpu1"].energy_j is None
    assert first["gpu2"].watts == pytest.approx(95.0)
    smi.gpus[0].acc += 65_536  # units of 15.259 µJ
    assert by_name(s.read())["gpu0"].energy_j == pytest.approx(65_536 * 15.259e-6)
    smi.gpus[0].acc = 100  # the driver was reloaded: continue from zero
    assert by_name(s.read())["gpu0"].energy_j == pytest.approx((65_536 + 100) * 15.259e-6)


def test_amdsmi_socket_power_field_of_newer_rocm():
    s = AmdSmiSensor(FakeAmdSmi([FakeAmdGpu(socket_w=300, current_w="N/A", average_w=290)]))
    (c,) = s.probe()
    assert c.source == "amdsmi-power"
    assert s.read()[0].watts == pytest.approx(300.0)


def test_amdsmi_names_continue_after_nvidia():
    s = AmdSmiSensor(three_gpus(), first_index=next_gpu_index(["gpu0", "gpu1", "cpu-package-0", "gpu"]))
    assert [d.name for d in s.domains()] == ["gpu2", "gpu3", "gpu4"]
    assert [d.accelerator for d in s.domains()] == ["gpu2", "gpu3", "gpu4"]
    assert next_gpu_index(["gpu", "cpu-est"]) == 0


def test_amdsmi_gpu_without_any_power_is_listed_with_why():
    s = AmdSmiSensor(FakeAmdSmi([FakeAmdGpu(market_name="AMD Radeon VII", bdf="")]))
    (c,) = s.probe()
    assert not c.available and c.quality == UNAVAILABLE
    assert "energy counter" in c.reason and "no socket power value" in c.reason
    assert c.label == "AMD Radeon VII (AMD GPU 0)"
    assert s.domains() == [] and s.read() == []


def test_amdsmi_missing_module_and_failed_init():
    s = AmdSmiSensor()
    try:
        import amdsmi  # noqa: F401
    except Exception:
        (c,) = s.probe()
        assert not c.available and "amdsmi module cannot be imported" in c.reason and c.fix == FIX_INSTALL
    smi = FakeAmdSmi([], init_error="AMDSMI_STATUS_DRIVER_NOT_LOADED")
    (c,) = AmdSmiSensor(smi).probe()
    assert not c.available and "DRIVER_NOT_LOADED" in c.reason and "amd-smi" in c.fix
    (c,) = AmdSmiSensor(FakeAmdSmi([])).probe()
    assert c.reason == "amdsmi sees no AMD GPU"


def test_amdsmi_lost_gpu_is_omitted_then_all_lost_raises():
    smi = three_gpus()
    s = AmdSmiSensor(smi)
    s.probe()
    smi.gpus[1].broken = True
    assert sorted(by_name(s.read())) == ["gpu0", "gpu2"]
    for g in smi.gpus:
        g.broken = True
    with pytest.raises(SensorError, match="amdsmi read failed"):
        s.read()


def test_amdsmi_close_once_and_no_read_after():
    smi = three_gpus()
    s = AmdSmiSensor(smi)
    s.probe()
    s.close()
    s.close()
    assert smi.calls == ["init", "shutdown"]
    with pytest.raises(SensorError, match="closed"):
        s.read()


def test_amdsmi_concurrent_reads_count_each_step_once():
    smi = FakeAmdSmi([FakeAmdGpu(acc=0, resolution=1.0)])
    lock = threading.Lock()
    orig = smi.amdsmi_get_energy_count

    def advancing(h):  # the accumulator moves by 1000 units between any two calls
        with lock:
            smi.gpus[0].acc += 1000
            return orig(h)

    smi.amdsmi_get_energy_count = advancing
    s = AmdSmiSensor(smi)
    s.probe()
    got: list = []

    def hammer():
        for _ in range(400):
            got.extend(s.read())

    ths = [threading.Thread(target=hammer) for _ in range(2)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    merged = sorted(got, key=lambda r: (r.t, r.energy_j))
    assert all(b.energy_j > a.energy_j for a, b in zip(merged, merged[1:]))
    assert merged[-1].energy_j == pytest.approx(800 * 1000 * 1e-6)


# ---------------------------------------------------------------------------------------------------
# hwmon


def amdgpu(root: Path, n: int, bdf: str | None = "0000:03:00.0", name: str = "amdgpu",
           product: str | None = None, **files) -> Path:
    d = root / "class" / "hwmon" / f"hwmon{n}"
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    for k, v in files.items():
        (d / k).write_text(f"{v}\n")
    if bdf is not None:
        dev = root / "devices" / "pci0000:00" / bdf
        dev.mkdir(parents=True)
        if product:
            (dev / "product_name").write_text(product + "\n")
        (d / "device").symlink_to(dev)
    return d


def test_hwmon_sources_and_order(tmp_path):
    amdgpu(tmp_path, 5, "0000:04:00.0", power1_average=95_000_000)
    amdgpu(tmp_path, 2, "0000:03:00.0", product="Radeon RX 7900 XTX", power1_input=210_500_000,
           power1_average=200_000_000)
    amdgpu(tmp_path, 7, "0000:0c:00.0", energy1_input=5_000_000, power1_average=1)
    amdgpu(tmp_path, 1, None, name="k10temp", temp1_input=45000)  # a CPU sensor: not a GPU
    s = AmdHwmonSensor(tmp_path)
    caps = by_name(s.probe())
    assert list(caps) == ["gpu0", "gpu1", "gpu2"]  # in PCI order
    assert [caps[n].source for n in caps] == ["hwmon-instant", "hwmon-avg", "hwmon-counter"]
    assert caps["gpu0"].label == "Radeon RX 7900 XTX (AMD GPU, hwmon2, 0000:03:00.0)"
    assert caps["gpu1"].label == "AMD GPU (hwmon5, 0000:04:00.0)"
    assert caps["gpu1"].reason.startswith(AVG_REASON) and "APU" in caps["gpu1"].reason
    assert all(c.boundary == "accelerator" and c.quality == MEASURED for c in caps.values())
    r = by_name(s.read())
    assert r["gpu0"].watts == pytest.approx(210.5) and r["gpu1"].watts == pytest.approx(95.0)
    assert r["gpu2"].energy_j == 0.0


def test_hwmon_energy_counter_in_microjoules(tmp_path):
    d = amdgpu(tmp_path, 0, energy1_input=5_000_000)
    s = AmdHwmonSensor(tmp_path)
    s.read()
    (d / "energy1_input").write_text("7500000\n")
    assert s.read()[0].energy_j == pytest.approx(2.5)


def test_hwmon_skips_gpus_amdsmi_measures(tmp_path):
    amdgpu(tmp_path, 0, "0000:03:00.0", power1_average=1_000_000)
    amdgpu(tmp_path, 1, "0000:04:00.0", power1_average=2_000_000)
    s = AmdHwmonSensor(tmp_path, first_index=3, skip={"0000:03:00.0"})
    caps = by_name(s.probe())
    assert not caps["amdgpu-hwmon0"].available and "amdsmi measures this GPU" in caps["amdgpu-hwmon0"].reason
    assert caps["gpu3"].available and [d.name for d in s.domains()] == ["gpu3"]
    s = AmdHwmonSensor(tmp_path, skip_all="not used: amdsmi reads the AMD GPUs")
    assert s.domains() == [] and all(not c.available for c in s.probe())


def test_hwmon_nothing_found(tmp_path):
    (c,) = AmdHwmonSensor(tmp_path).probe()
    assert not c.available and c.reason == f"no amdgpu hwmon device under {tmp_path}/class/hwmon"
    amdgpu(tmp_path, 0, temp1_input=40000)  # amdgpu without power files
    (c,) = AmdHwmonSensor(tmp_path).probe()
    assert c.domain == "gpu0" and not c.available and "power1_average" in c.reason


def test_hwmon_env_root(tmp_path, monkeypatch):
    amdgpu(tmp_path, 0, power1_input=1_000_000)
    monkeypatch.setenv("IPWTUI_SYSFS_ROOT", str(tmp_path))
    assert [d.name for d in AmdHwmonSensor().domains()] == ["gpu0"]


def test_hwmon_vanished_file(tmp_path, monkeypatch):
    d = amdgpu(tmp_path, 0, power1_input=1_000_000)
    s = AmdHwmonSensor(tmp_path)
    s.probe()
    vanish(monkeypatch, d / "power1_input")
    with pytest.raises(SensorError, match="amdgpu hwmon read failed"):
        s.read()


def test_amdsmi_before_rocm_6_4_names_the_accumulator_power():
    class Old(FakeAmdSmi):
        def amdsmi_get_energy_count(self, h):
            d = super().amdsmi_get_energy_count(h)
            del d["energy_accumulator"]
            return d

    smi = Old([FakeAmdGpu(acc=500, resolution=2.0)])
    s = AmdSmiSensor(smi)
    assert s.probe()[0].source == "amdsmi-counter"
    s.read()
    smi.gpus[0].acc += 1000
    assert s.read()[0].energy_j == pytest.approx(2000e-6)
