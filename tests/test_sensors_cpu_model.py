"""The CPU-time power estimate, with injected CPU-time sources."""

from __future__ import annotations

import os

from collections import namedtuple

import pytest

from ipwtui.core.sensors.base import ESTIMATED, UNAVAILABLE, SensorError
from ipwtui.core.sensors.cpu_model import (
    CPU_TABLE,
    DEFAULT_WATTS_PER_THREAD,
    CpuTimeModelSensor,
    _proc_stat_busy,
    detect_cpu_name,
    lookup_cpu,
)

# the shapes psutil returns on Linux
scputimes = namedtuple(
    "scputimes", "user nice system idle iowait irq softirq steal guest guest_nice"
)
pcputimes = namedtuple("pcputimes", "user system children_user children_system iowait")


class Seq:
    """Returns the given records one after the other (the last one repeats)."""

    def __init__(self, *records):
        self.records = list(records)
        self.i = 0

    def __call__(self):
        r = self.records[min(self.i, len(self.records) - 1)]
        self.i += 1
        return r


class FakeProcess:
    def __init__(self, *records):
        self.cpu_times = Seq(*records)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("IPWTUI_CPU_WATTS_PER_CORE", raising=False)


def sys_times(user=0.0, nice=0.0, system=0.0, idle=0.0, iowait=0.0, irq=0.0, softirq=0.0, steal=0.0,
              guest=0.0, guest_nice=0.0):
    return scputimes(user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice)


# ---- watts per thread ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, key, per_thread",
    [
        ("AMD EPYC 7763 64-Core Processor", "EPYC 7763", 280 / 128),
        ("Intel(R) Core(TM) i9-13900K", "Core i9-13900K", 125 / 32),
        ("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", "Xeon Platinum 8380", 270 / 80),
        ("Intel(R) Xeon(R) Platinum 8480+", "Xeon Platinum 8480+", 350 / 112),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Xeon CPU E5-2686 v4", 145 / 36),
        ("AMD Ryzen 7 7840U w/ Radeon  780M Graphics", "Ryzen 7 7840U", 28 / 16),
        ("Intel(R) Core(TM) Ultra 7 155H", "Core Ultra 7 155H", 28 / 22),
    ],
)
def test_table_lookup(name, key, per_thread):
    s = CpuTimeModelSensor(cpu_name=name, cpu_times=Seq(sys_times()))
    assert s.watts_per_core == pytest.approx(per_thread)
    tdp, threads = CPU_TABLE[key]
    assert s.watts_origin == f"table: {key} ({tdp:g} W / {threads} threads)"


def test_table_needs_whole_model_number():
    assert lookup_cpu("AMD Ryzen 9 7950X3D 16-Core Processor") is None  # not the 7950X
    assert lookup_cpu("Intel(R) Core(TM) i5-124000") is None
    assert lookup_cpu("AMD Ryzen 9 7950X 16-Core Processor")[0] == "Ryzen 9 7950X"


def test_table_entries_are_plausible():
    assert len(CPU_TABLE) >= 12
    for tdp, threads in CPU_TABLE.values():
        assert 0.5 <= tdp / threads <= 15


def test_default_when_unknown():
    s = CpuTimeModelSensor(cpu_name="AMD EPYC", cpu_times=Seq(sys_times()))
    assert s.watts_per_core == DEFAULT_WATTS_PER_THREAD == 4.0
    assert s.watts_origin == "default 4 W/thread"


def test_env_beats_table_and_argument_beats_env(monkeypatch):
    monkeypatch.setenv("IPWTUI_CPU_WATTS_PER_CORE", "6.5")
    s = CpuTimeModelSensor(cpu_name="AMD EPYC 7763 64-Core Processor", cpu_times=Seq(sys_times()))
    assert (s.watts_per_core, s.watts_origin) == (6.5, "env IPWTUI_CPU_WATTS_PER_CORE")
    s = CpuTimeModelSensor(watts_per_core=3.0, cpu_name="AMD EPYC 7763", cpu_times=Seq(sys_times()))
    assert (s.watts_per_core, s.watts_origin) == (3.0, "argument")


def test_bad_env_is_ignored(monkeypatch):
    monkeypatch.setenv("IPWTUI_CPU_WATTS_PER_CORE", "lots")
    s = CpuTimeModelSensor(cpu_name="AMD EPYC 7742 64-Core Processor", cpu_times=Seq(sys_times()))
    assert s.watts_per_core == pytest.approx(225 / 128)


def test_bad_arguments():
    with pytest.raises(ValueError):
        CpuTimeModelSensor(scope="gpu")
    with pytest.raises(ValueError):
        CpuTimeModelSensor(watts_per_core=0)


def test_detect_cpu_name(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7763 64-Core Processor\n")
    assert detect_cpu_name(str(f)) == "AMD EPYC 7763 64-Core Processor"
    assert isinstance(detect_cpu_name(str(tmp_path / "missing")), str)


# ---- energy --------------------------------------------------------------------------------------


def test_system_scope_energy_is_busy_seconds_times_watts():
    times = Seq(
        sys_times(user=100, nice=5, system=20, idle=1000, iowait=30, irq=1, softirq=2, steal=7, guest=3),
        # +4 user, +1 system, +0.5 irq busy; +50 idle, +9 iowait, +3 steal, +2 guest (inside user) are not
        sys_times(user=104, nice=5, system=21, idle=1050, iowait=39, irq=1.5, softirq=2, steal=10, guest=5),
        sys_times(user=110, nice=5, system=21, idle=1100, iowait=39, irq=1.5, softirq=2, steal=10, guest=5),
    )
    s = CpuTimeModelSensor(watts_per_core=2.0, cpu_times=times, cpu_name="x", logical_cores=8)
    doms = s.domains()
    assert len(doms) == 1
    d = doms[0]
    assert (d.name, d.kind, d.source, d.quality, d.accelerator, d.has_counter, d.in_total) == (
        "cpu-est", "cpu", "cpu-time-model", ESTIMATED, "cpu", True, True)
    assert d.period_s == pytest.approx(0.01, rel=0.5)
    r = s.read()[0]
    assert r.domain == "cpu-est" and r.watts is None
    assert r.energy_j == pytest.approx(5.5 * 2.0)
    assert s.read()[0].energy_j == pytest.approx(11.5 * 2.0)


def test_process_scope_counts_children():
    proc = FakeProcess(
        pcputimes(1.0, 0.5, 0.0, 0.0, 0.0),
        pcputimes(3.0, 1.0, 2.0, 0.5, 9.0),  # iowait is not busy time
    )
    s = CpuTimeModelSensor(watts_per_core=4.0, scope="process", process=proc, cpu_name="x")
    s.probe()
    assert s.read()[0].energy_j == pytest.approx((2.0 + 0.5 + 2.0 + 0.5) * 4.0)


def test_energy_never_goes_back():
    times = Seq(sys_times(user=10), sys_times(user=12), sys_times(user=11.5))
    s = CpuTimeModelSensor(watts_per_core=1.0, cpu_times=times, cpu_name="x")
    s.probe()
    assert s.read()[0].energy_j == pytest.approx(2.0)
    assert s.read()[0].energy_j == pytest.approx(2.0)


def test_capability_says_estimate_and_origin():
    s = CpuTimeModelSensor(cpu_name="AMD EPYC 7763 64-Core Processor", cpu_times=Seq(sys_times()),
                           logical_cores=4)
    (c,) = s.probe()
    assert c.available and c.quality == ESTIMATED and c.source == "cpu-time-model"
    assert c.reason.startswith("estimate, not a measurement")
    assert "2.19 W per thread (table: EPYC 7763 (280 W / 128 threads))" in c.reason
    assert "~9 W on 4 threads" in c.reason
    assert "IPWTUI_CPU_WATTS_PER_CORE" in c.fix
    assert "AMD EPYC 7763" in c.label


def test_broken_source_is_unavailable_and_read_raises():
    def boom():
        raise OSError("no /proc")

    s = CpuTimeModelSensor(cpu_times=boom, cpu_name="x")
    (c,) = s.probe()
    assert not c.available and c.quality == UNAVAILABLE and "no /proc" in c.reason
    assert s.domains() == []
    with pytest.raises(SensorError):
        s.read()


def test_source_failing_mid_run_raises_sensor_error():
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("gone")
        return sys_times(user=1)

    s = CpuTimeModelSensor(cpu_times=flaky, cpu_name="x")
    s.probe()
    with pytest.raises(SensorError, match="gone"):
        s.read()


def test_proc_stat_fallback(tmp_path):
    import os

    hz = os.sysconf("SC_CLK_TCK")
    f = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice (ticks)
    f.write_text(f"cpu  {4 * hz} {hz} {2 * hz} {100 * hz} {5 * hz} 0 {hz} {3 * hz} {hz} 0\ncpu0 1 2 3\n")
    assert _proc_stat_busy(str(f)) == pytest.approx(4 + 1 + 2 + 1)


def test_default_sources_without_injection():
    for scope in ("system", "process"):
        s = CpuTimeModelSensor(watts_per_core=1.0, scope=scope)
        (c,) = s.probe()
        assert c.available, c.reason
        r = s.read()[0]
        assert r.energy_j >= 0.0


def test_default_process_scope_counts_this_process_cpu_time():
    import time

    s = CpuTimeModelSensor(watts_per_core=2.0, scope="process")
    s.probe()
    c0 = time.process_time()
    e0 = s.read()[0].energy_j
    for _ in range(3000):  # a fixed amount of work (not of wall time: the machine may be busy)
        sum(range(10_000))
    e1 = s.read()[0].energy_j
    used = time.process_time() - c0
    assert used > 0.05
    assert e1 - e0 == pytest.approx(2.0 * used, rel=0.05, abs=0.05)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux /proc/stat only")
def test_default_system_scope_reads_proc_stat():
    s = CpuTimeModelSensor(watts_per_core=1.0, scope="system")
    s.probe()
    assert s._fast, "the kept-open /proc/stat reader is used on Linux"
    e0 = s.read()[0].energy_j
    sum(range(2_000_000))
    assert s.read()[0].energy_j >= e0
    s.close()


# ---- the cited power table, the default, the boundary ----------------------------------------------


def test_every_table_entry_cites_its_source():
    import json

    from ipwtui.core.sensors.cpu_model import CPU_SOURCES, TABLE_ERROR, TABLE_FILE

    assert TABLE_ERROR == ""
    doc = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    assert doc["default_watts_per_thread"] == DEFAULT_WATTS_PER_THREAD
    models = [e["model"] for e in doc["cpus"]]
    assert len(models) == len(set(models)) == len(CPU_TABLE)
    for e in doc["cpus"]:
        assert CPU_TABLE[e["model"]] == (e["tdp_w"], e["threads"])
        assert e["url"].startswith("https://") and e["power_spec"]
        # the citation names the part and repeats the figures it gives
        assert e["model"].split()[-1] in e["source"] and f"{e['threads']}" in e["source"]
        assert e["model"] in CPU_SOURCES and e["url"] in CPU_SOURCES[e["model"]]


def test_table_shipped_with_the_package():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert '"ipwtui.core.sensors" = ["cpu_power.json"]' in section


def test_table_hit_cites_the_source_in_the_reason():
    s = CpuTimeModelSensor(cpu_name="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", cpu_times=Seq(sys_times()))
    (c,) = s.probe()
    assert "source: Intel ARK, Intel Xeon Gold 6248" in c.reason and "https://ark.intel.com" in c.reason
    assert "for a better figure" in c.fix


def test_unknown_cpu_reason_names_the_default_and_how_to_set_it():
    s = CpuTimeModelSensor(cpu_name="AMD EPYC", cpu_times=Seq(sys_times()), logical_cores=2)
    (c,) = s.probe()
    assert "4.00 W per thread (default 4 W/thread)" in c.reason
    assert ("CPU 'AMD EPYC' is not in the power table, so the default is used"
            " (set --cpu-watts-per-core or IPWTUI_CPU_WATTS_PER_CORE for yours)") in c.reason
    assert "--cpu-watts-per-core" in c.fix and "IPWTUI_CPU_WATTS_PER_CORE" in c.fix
    assert c.quality == ESTIMATED and c.available


def test_explicit_figure_needs_no_fix(monkeypatch):
    (c,) = CpuTimeModelSensor(watts_per_core=3.0, cpu_name="AMD EPYC", cpu_times=Seq(sys_times())).probe()
    assert c.fix == "" and "(argument)" in c.reason and "not in the power table" not in c.reason


@pytest.mark.parametrize("value", ["-2", "inf", "nan"])
def test_ignored_env_value_is_reported(monkeypatch, value):
    monkeypatch.setenv("IPWTUI_CPU_WATTS_PER_CORE", value)
    s = CpuTimeModelSensor(cpu_name="AMD EPYC", cpu_times=Seq(sys_times()))
    assert s.watts_per_core == DEFAULT_WATTS_PER_THREAD
    assert f"IPWTUI_CPU_WATTS_PER_CORE={value!r} is not a positive number: ignored" in s.probe()[0].reason


def test_broken_table_file_falls_back_to_the_default(tmp_path):
    from ipwtui.core.sensors.cpu_model import _load_table

    f = tmp_path / "cpu_power.json"
    f.write_text('{"cpus": [{"model": "X", "tdp_w": 0, "threads": 4, "source": "s"}]}')
    table, sources, default, err = _load_table(f)
    assert (table, sources, default) == ({}, {}, 4.0)
    assert err.startswith("cpu_power.json: entry 0 (X)")
    assert _load_table(tmp_path / "missing.json")[3].startswith("missing.json:")


@pytest.mark.parametrize("scope, boundary", [("process", "process-cpu-time"), ("system", "system-cpu-time")])
def test_boundary_follows_the_scope(scope, boundary):
    kw = {"process": FakeProcess(pcputimes(0, 0, 0, 0, 0))} if scope == "process" else {"cpu_times": Seq(sys_times())}
    s = CpuTimeModelSensor(watts_per_core=1.0, scope=scope, cpu_name="x", **kw)
    (c,) = s.probe()
    (d,) = s.domains()
    assert c.boundary == d.boundary == boundary


def test_concurrent_reads_stay_monotone():
    import threading

    s = CpuTimeModelSensor(watts_per_core=1.0, scope="process")
    s.probe()
    got: list = []

    def hammer():
        for _ in range(500):
            got.extend(s.read())

    ths = [threading.Thread(target=hammer) for _ in range(2)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    merged = sorted(got, key=lambda r: (r.t, r.energy_j))
    assert len(merged) == 1000
    assert all(b.energy_j >= a.energy_j for a, b in zip(merged, merged[1:]))
