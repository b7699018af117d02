"""NVML reader against a fake of the pynvml API (nvidia-ml-py), and probe_all over fake hardware."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ipwtui.core.sensors import capability_rows, probe_all
from ipwtui.core.sensors.base import MEASURED, UNAVAILABLE, SensorError
from ipwtui.core.sensors.nvml import AVG_REASON, NvmlSensor, field_value

# ---------------------------------------------------------------------------------------------------
# a fake of the pynvml module: same names, same shapes (ctypes field values, NVMLError with .value)


class c_nvmlValue_t(ctypes.Union):
    _fields_ = [
        ("dVal", ctypes.c_double),
        ("uiVal", ctypes.c_uint),
        ("ulVal", ctypes.c_ulong),
        ("ullVal", ctypes.c_ulonglong),
        ("sllVal", ctypes.c_longlong),
        ("siVal", ctypes.c_int),
        ("usVal", ctypes.c_ushort),
    ]


class c_nvmlFieldValue_t(ctypes.Structure):
    _fields_ = [
        ("fieldId", ctypes.c_uint32),
        ("scopeId", ctypes.c_uint32),
        ("timestamp", ctypes.c_int64),  # µs since the epoch
        ("latencyUsec", ctypes.c_int64),
        ("valueType", ctypes.c_uint),
        ("nvmlReturn", ctypes.c_uint),
        ("value", c_nvmlValue_t),
    ]


class FakeGpu:
    def __init__(self, name, energy_mj=None, instant_mw=None, instant_type=1, avg_mw=None):
        self.name = name
        self.energy_mj = energy_mj  # None: counter not supported
        self.instant_mw = instant_mw  # None: field returns NOT_SUPPORTED
        self.instant_type = instant_type
        self.instant_ts_us: int | None = None  # None: now
        self.avg_mw = avg_mw
        self.broken = False  # every call fails (GPU fell off the bus)


class FakeNvml:
    NVML_SUCCESS = 0
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_GPU_IS_LOST = 15
    NVML_ERROR_DRIVER_NOT_LOADED = 9
    NVML_FI_DEV_POWER_INSTANT = 186
    NVML_VALUE_TYPE_DOUBLE = 0
    NVML_VALUE_TYPE_UNSIGNED_INT = 1
    NVML_VALUE_TYPE_SIGNED_INT = 5

    class NVMLError(Exception):
        _text = {3: "Not Supported", 9: "Driver Not Loaded", 15: "GPU is lost"}

        def __init__(self, value):
            super().__init__(value)
            self.value = value

        def __str__(self):
            return self._text.get(self.value, f"NVML error {self.value}")

    def __init__(self, gpus, init_error=None):
        self.gpus = gpus
        self.init_error = init_error
        self.calls: list[str] = []

    def _gpu(self, handle) -> FakeGpu:
        g = self.gpus[handle[1]]
        if g.broken:
            raise self.NVMLError(self.NVML_ERROR_GPU_IS_LOST)
        return g

    def nvmlInit(self):
        self.calls.append("init")
        if self.init_error is not None:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self):
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlSystemGetDriverVersion(self):
        return "580.65.06"

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("handle", i)

    def nvmlDeviceGetName(self, handle):
        return self._gpu(handle).name

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        g = self._gpu(handle)
        if g.energy_mj is None:
            raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return g.energy_mj

    def nvmlDeviceGetFieldValues(self, handle, field_ids):
        g = self._gpu(handle)
        values = (c_nvmlFieldValue_t * len(field_ids))()
        for i, fid in enumerate(field_ids):
            v = values[i]
            v.fieldId = fid
            if fid != self.NVML_FI_DEV_POWER_INSTANT or g.instant_mw is None:
                v.nvmlReturn = self.NVML_ERROR_NOT_SUPPORTED
                continue
            v.nvmlReturn = self.NVML_SUCCESS
            v.timestamp = g.instant_ts_us if g.instant_ts_us is not None else int(time.time() * 1e6)
            v.latencyUsec = 12
            v.valueType = g.instant_type
            if g.instant_type == self.NVML_VALUE_TYPE_SIGNED_INT:
                v.value.siVal = g.instant_mw
            elif g.instant_type == self.NVML_VALUE_TYPE_DOUBLE:
                v.value.dVal = g.instant_mw
            else:
                v.value.uiVal = g.instant_mw
        return values

    def nvmlDeviceGetPowerUsage(self, handle):
        g = self._gpu(handle)
        if g.avg_mw is None:
            raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return g.avg_mw


def four_gpus() -> FakeNvml:
    return FakeNvml(
        [
            FakeGpu("NVIDIA A100-SXM4-80GB", energy_mj=5_000_000, instant_mw=250_000, avg_mw=240_000),
            FakeGpu(b"Tesla P100-PCIE-16GB", instant_mw=120_500, instant_type=5, avg_mw=118_000),
            FakeGpu("Tesla K80", avg_mw=90_000),
            FakeGpu("GRID M60-1Q"),
        ]
    )


def caps_by_domain(caps):
    return {c.domain: c for c in caps}


# ---------------------------------------------------------------------------------------------------


def test_probe_picks_best_source_per_gpu():
    s = NvmlSensor(four_gpus())
    caps = caps_by_domain(s.probe())
    assert list(caps) == ["gpu0", "gpu1", "gpu2", "gpu3"]
    assert (caps["gpu0"].source, caps["gpu0"].period_s) == ("nvml-counter", 0.1)
    assert (caps["gpu1"].source, caps["gpu1"].period_s) == ("nvml-instant", 0.02)
    assert (caps["gpu2"].source, caps["gpu2"].period_s) == ("nvml-avg1s", 1.0)
    assert caps["gpu2"].reason == AVG_REASON and "1 s" in AVG_REASON
    for d in ("gpu0", "gpu1", "gpu2"):
        assert caps[d].available and caps[d].quality == MEASURED and caps[d].accelerator == d
    assert not caps["gpu3"].available and caps["gpu3"].quality == UNAVAILABLE
    assert "Not Supported" in caps["gpu3"].reason and caps["gpu3"].label == "GRID M60-1Q (GPU 3)"

    doms = {d.name: d for d in s.domains()}
    assert list(doms) == ["gpu0", "gpu1", "gpu2"]
    assert doms["gpu0"].has_counter and not doms["gpu1"].has_counter and not doms["gpu2"].has_counter
    assert doms["gpu0"].label == "NVIDIA A100-SXM4-80GB (GPU 0)"
    assert doms["gpu1"].label == "Tesla P100-PCIE-16GB (GPU 1)"  # bytes names are decoded
    assert all(d.kind == "gpu" and d.in_total for d in doms.values())
    assert s.driver_version == "580.65.06"


def test_read_values_and_units():
    nv = four_gpus()
    s = NvmlSensor(nv)
    s.probe()
    first = {r.domain: r for r in s.read()}
    assert first["gpu0"].energy_j == 0.0 and first["gpu0"].watts == pytest.approx(250.0)
    assert first["gpu1"].energy_j is None and first["gpu1"].watts == pytest.approx(120.5)
    assert first["gpu2"].watts == pytest.approx(90.0) and first["gpu2"].energy_j is None
    assert "gpu3" not in first

    nv.gpus[0].energy_mj += 1_234_567  # mJ
    nv.gpus[2].avg_mw = 95_500
    second = {r.domain: r for r in s.read()}
    assert second["gpu0"].energy_j == pytest.approx(1234.567)
    assert second["gpu2"].watts == pytest.approx(95.5)


def test_counter_survives_driver_reload():
    nv = FakeNvml([FakeGpu("H100", energy_mj=10_000)])
    s = NvmlSensor(nv)
    s.read()
    nv.gpus[0].energy_mj = 12_000
    assert s.read()[0].energy_j == pytest.approx(2.0)
    nv.gpus[0].energy_mj = 500  # counter restarted from zero
    assert s.read()[0].energy_j == pytest.approx(2.5)
    nv.gpus[0].energy_mj = 1_500
    assert s.read()[0].energy_j == pytest.approx(3.5)
    assert s.read()[0].watts is None  # no instant field on this one


def test_instant_uses_field_timestamp():
    nv = FakeNvml([FakeGpu("Tesla P100", instant_mw=100_000)])
    s = NvmlSensor(nv)
    s.probe()
    nv.gpus[0].instant_ts_us = int((time.time() - 0.5) * 1e6)
    now = time.monotonic()
    r = s.read()[0]
    assert r.t == pytest.approx(now - 0.5, abs=0.2)  # (the 0.5 s it is old, with room for a slow machine)
    # an implausible timestamp (far past) falls back to the read time, and t never goes back
    nv.gpus[0].instant_ts_us = 1
    r2 = s.read()[0]
    assert r2.t >= r.t and r2.t == pytest.approx(time.monotonic(), abs=0.2)


def test_field_value_decodes_by_type():
    v = c_nvmlFieldValue_t()
    v.valueType, v.value.dVal = 0, 12.5
    assert field_value(v) == 12.5
    v.valueType, v.value.ullVal = 3, 2**40
    assert field_value(v) == float(2**40)
    v.valueType, v.value.siVal = 5, -3
    assert field_value(v) == -3.0


def test_lost_gpu_is_omitted_then_all_lost_raises():
    nv = four_gpus()
    s = NvmlSensor(nv)
    s.probe()
    nv.gpus[1].broken = True
    assert [r.domain for r in s.read()] == ["gpu0", "gpu2"]
    nv.gpus[0].broken = nv.gpus[2].broken = True
    with pytest.raises(SensorError, match="GPU is lost"):
        s.read()


def test_init_failure_is_one_unavailable_line():
    s = NvmlSensor(FakeNvml([], init_error=FakeNvml.NVML_ERROR_DRIVER_NOT_LOADED))
    caps = s.probe()
    assert len(caps) == 1
    c = caps[0]
    assert (c.domain, c.source, c.available, c.quality) == ("gpu", "nvml", False, UNAVAILABLE)
    assert "Driver Not Loaded" in c.reason and "driver" in c.fix.lower()
    assert s.domains() == [] and s.read() == []


def test_no_gpu():
    caps = NvmlSensor(FakeNvml([])).probe()
    assert [(c.domain, c.available) for c in caps] == [("gpu", False)]
    assert "no NVIDIA GPU" in caps[0].reason


def test_missing_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    caps = NvmlSensor().probe()
    assert len(caps) == 1 and not caps[0].available
    assert "nvidia-ml-py" in caps[0].reason
    assert caps[0].fix == "pip install 'ipwtui[nvidia]'"


def test_close_shuts_down_once():
    nv = four_gpus()
    s = NvmlSensor(nv)
    s.probe()
    s.close()
    s.close()
    assert nv.calls == ["init", "shutdown"]


# ---------------------------------------------------------------------------------------------------
# probe_all: RAPL + NVML + the CPU-time estimate together


def _rapl_tree(root: Path, energy_uj: int = 1000) -> None:
    d = root / "class" / "powercap" / "intel-rapl:0"
    d.mkdir(parents=True)
    (d / "name").write_text("package-0\n")
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text("262143328850\n")


def test_probe_all_with_rapl_and_gpus(tmp_path):
    _rapl_tree(tmp_path)
    nv = four_gpus()
    ss = probe_all(sysfs_root=str(tmp_path), nvml=nv)
    assert [d.name for d in ss.domains()] == ["cpu-package-0", "gpu0", "gpu1", "gpu2"]
    rows = {r["domain"]: r for r in capability_rows(ss)}
    assert rows["cpu-package-0"]["used"] and rows["gpu0"]["used"]
    assert not rows["gpu3"]["used"] and not rows["gpu3"]["available"]
    est = rows["cpu-est"]
    assert not est["used"] and not est["available"] and est["quality"] == "estimated"
    assert est["reason"] == "not used: CPU power is measured (rapl)"
    for s in ss.sensors:
        s.close()
    assert nv.calls[-1] == "shutdown"


def test_probe_all_without_sensors_uses_the_estimate(tmp_path):
    nv = FakeNvml([], init_error=FakeNvml.NVML_ERROR_DRIVER_NOT_LOADED)

    class NoAmd:
        def amdsmi_init(self):
            raise RuntimeError("AMDSMI_STATUS_DRIVER_NOT_LOADED")

    ss = probe_all(sysfs_root=str(tmp_path), nvml=nv, cpu_watts_per_core=2.5, cpu_scope="process",
                   amdsmi=NoAmd(), platform="linux")
    assert [d.name for d in ss.domains()] == ["cpu-est"]
    rows = capability_rows(ss)
    assert [(r["domain"], r["source"], r["available"], r["used"]) for r in rows] == [
        ("cpu-package", "rapl", False, False),
        ("soc", "ioreport", False, False),
        ("gpu", "nvml", False, False),
        ("gpu", "amdsmi", False, False),
        ("gpu", "hwmon", False, False),
        ("battery", "battery", False, False),
        ("cpu-est", "cpu-time-model", True, True),
    ]
    est = rows[-1]
    assert est["quality"] == "estimated" and "2.50 W per thread (argument)" in est["reason"]
    assert est["boundary"] == "process-cpu-time"
    assert nv.calls == ["init"]  # init failed: nothing to shut down
    r = ss.sensors[0].read()[0]
    assert r.domain == "cpu-est" and r.energy_j >= 0.0


def test_probe_all_estimate_turned_off(tmp_path):
    ss = probe_all(sysfs_root=str(tmp_path), nvml=FakeNvml([]), include_estimate=False)
    assert ss.sensors == [] and ss.domains() == []
    est = [r for r in capability_rows(ss) if r["domain"] == "cpu-est"][0]
    assert not est["available"] and "turned off" in est["reason"]


def test_probe_all_survives_a_crashing_reader(tmp_path):
    class Broken(FakeNvml):
        def nvmlDeviceGetCount(self):
            raise ZeroDivisionError("boom")

    _rapl_tree(tmp_path)
    ss = probe_all(sysfs_root=str(tmp_path), nvml=Broken([]))
    gpu = [c for c in ss.capabilities if c.domain == "gpu"][0]
    assert not gpu.available and "boom" in gpu.reason
    assert [d.name for d in ss.domains()] == ["cpu-package-0"]


def test_import_is_light():
    code = (
        "import sys, ipwtui.core.sensors; "
        "bad = [m for m in ('pynvml', 'psutil', 'textual', 'rich', 'pandas') if m in sys.modules]; "
        "print(bad)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_accelerators_grouped_for_a_picker():
    from ipwtui.core.sensors import accelerators
    from ipwtui.core.sensors.base import ESTIMATED, MEASURED, Capability

    caps = [Capability("gpu1", "gpu", "nvml", UNAVAILABLE, "gpu1", False, reason="Not Supported"),
            Capability("cpu-core-0", "cpu", "rapl", MEASURED, "cpu", True, in_total=False),
            Capability("cpu-est", "cpu", "cpu-time-model", ESTIMATED, "cpu", True),
            Capability("gpu0", "gpu", "nvml-counter", MEASURED, "gpu0", True)]
    rows = accelerators(caps)
    assert [r["accelerator"] for r in rows] == ["cpu", "gpu0", "gpu1"]
    assert rows[0]["quality"] == ESTIMATED  # the nested core domain is not counted
    assert rows[1]["usable"] and rows[1]["quality"] == MEASURED
    assert not rows[2]["usable"] and rows[2]["missing"][0].reason == "Not Supported"


def test_boundary_and_no_read_after_close():
    s = NvmlSensor(four_gpus())
    caps = s.probe()
    assert {c.boundary for c in caps} == {"accelerator"}
    assert {d.boundary for d in s.domains()} == {"accelerator"}
    s.close()
    with pytest.raises(SensorError, match="closed"):
        s.read()


def test_concurrent_reads_count_each_counter_step_once():
    import threading

    nv = FakeNvml([FakeGpu("NVIDIA A100", energy_mj=0)])
    lock = threading.Lock()
    orig = nv.nvmlDeviceGetTotalEnergyConsumption

    def advancing(handle):  # the counter moves by 50 mJ between any two calls
        with lock:
            nv.gpus[0].energy_mj += 50
            v = orig(handle)
        time.sleep(0)
        return v

    nv.nvmlDeviceGetTotalEnergyConsumption = advancing
    s = NvmlSensor(nv)
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
    assert merged[-1].energy_j == pytest.approx(800 * 0.05)
