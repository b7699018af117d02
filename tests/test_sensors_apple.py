"""Apple silicon readers on Linux: IOReport through a stand-in of zeus-apple-silicon, and the opt-in
powermetrics reader on a sample plist stream written here."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest

from ipwtui.core.sensors.apple import FIX_INSTALL, AppleSocSensor
from ipwtui.core.sensors.base import MODEL_BASED, UNAVAILABLE, SensorError
from ipwtui.core.sensors.powermetrics import (
    FIX_SUDO,
    OPT_IN_REASON,
    PowermetricsSensor,
    parse_sample,
    parse_stream,
)

# ---------------------------------------------------------------------------------------------------
# a stand-in for zeus_apple_silicon: AppleEnergyMetrics fields in mJ, None when the chip lacks them


class Metrics:
    def __init__(self, **kw):
        for f in ("cpu_total_mj", "efficiency_cores_mj", "performance_cores_mj", "efficiency_core_manager_mj",
                  "performance_core_manager_mj", "dram_mj", "gpu_mj", "gpu_sram_mj", "ane_mj"):
            setattr(self, f, kw.pop(f, None))
        assert not kw, kw


class Monitor:
    """AppleEnergyMonitor's cumulative read; ``script`` yields the metrics of each call in turn."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    def get_cumulative_energy(self):
        m = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return m


def m1(cpu, gpu, ane, dram, e=(10, 20), p=(100, 200, 300), sram=5):
    return Metrics(cpu_total_mj=cpu, gpu_mj=gpu, ane_mj=ane, dram_mj=dram, efficiency_cores_mj=list(e),
                   performance_cores_mj=list(p), gpu_sram_mj=sram)


def by_name(items):
    return {x.domain if hasattr(x, "domain") else x.name: x for x in items}


def test_not_macos_says_why_and_how():
    (c,) = AppleSocSensor(platform="linux").probe()
    assert not c.available and c.quality == UNAVAILABLE and c.source == "ioreport"
    assert c.reason == "IOReport energy is macOS-only (this is linux)"
    assert "pip install 'ipwtui[apple]'" in c.fix and c.boundary == "soc" and c.accelerator == "soc"


def test_package_missing_runs_the_real_import():
    try:
        import zeus_apple_silicon  # noqa: F401
        pytest.skip("zeus-apple-silicon is installed here")
    except ImportError:
        pass
    (c,) = AppleSocSensor(platform="darwin").probe()
    assert not c.available and c.reason.startswith("zeus-apple-silicon is not installed")
    assert c.fix == FIX_INSTALL and "macOS" in c.fix


def test_soc_headline_and_nested_parts():
    mon = Monitor([m1(1000, 500, 0, 200), m1(1600, 900, 10, 250, e=(11, 22), p=(150, 260, 390), sram=9)])
    s = AppleSocSensor(lambda: mon, platform="darwin")
    caps = by_name(s.probe())
    assert list(caps) == ["soc", "soc-cpu", "soc-gpu", "soc-ane", "soc-dram", "soc-gpu-sram", "soc-cpu-e",
                          "soc-cpu-p"]
    soc = caps["soc"]
    assert soc.available and soc.in_total and soc.quality == MODEL_BASED and soc.boundary == "soc"
    assert "energy model" in soc.reason and "CPU clusters + GPU + Neural Engine + DRAM" in soc.reason
    for n, c in caps.items():
        assert c.accelerator == "soc" and c.source == "ioreport" and c.quality == MODEL_BASED
        assert c.in_total == (n == "soc")
    assert {n: caps[n].boundary for n in ("soc-cpu", "soc-gpu", "soc-dram", "soc-cpu-p")} == {
        "soc-cpu": "cpu-package", "soc-gpu": "accelerator", "soc-dram": "dram", "soc-cpu-p": "cpu-cores"}
    assert "not in the SoC sum" in caps["soc-gpu-sram"].reason
    r = by_name(s.read())
    # deltas since probe: cpu 600, gpu 400, ane 10, dram 50 mJ -> 1.06 J
    assert r["soc"].energy_j == pytest.approx(1.06)
    assert r["soc-gpu"].energy_j == pytest.approx(0.4) and r["soc-gpu-sram"].energy_j == pytest.approx(0.004)
    assert r["soc-cpu-e"].energy_j == pytest.approx(0.003) and r["soc-cpu-p"].energy_j == pytest.approx(0.2)
    assert len({x.t for x in r.values()}) == 1  # one reading, one timestamp


def test_absent_channels_are_left_out_of_the_sum():
    mon = Monitor([Metrics(cpu_total_mj=100, gpu_mj=50), Metrics(cpu_total_mj=300, gpu_mj=80)])
    s = AppleSocSensor(lambda: mon, platform="darwin")
    assert [d.name for d in s.domains()] == ["soc", "soc-cpu", "soc-gpu"]
    assert "CPU clusters + GPU" in s.probe()[0].reason and "DRAM" not in s.probe()[0].reason
    assert by_name(s.read())["soc"].energy_j == pytest.approx(0.23)


def test_older_release_field_name():
    class Old:
        cpu_mj, gpu_mj, ane_mj, dram_mj, gpu_sram_mj = 10, 20, None, None, None

    s = AppleSocSensor(lambda: Monitor([Old()]), platform="darwin")
    assert [d.name for d in s.domains()] == ["soc", "soc-cpu", "soc-gpu"]


def test_channel_vanishing_mid_run_makes_the_sum_na():
    mon = Monitor([m1(100, 100, 0, 10), Metrics(cpu_total_mj=200, gpu_mj=None, ane_mj=0, dram_mj=20)])
    s = AppleSocSensor(lambda: mon, platform="darwin")
    s.probe()
    r = by_name(s.read())
    assert "soc" not in r and "soc-gpu" not in r and r["soc-cpu"].energy_j == pytest.approx(0.1)


def test_no_channel_at_all_and_a_failing_monitor():
    (c,) = AppleSocSensor(lambda: Monitor([Metrics()]), platform="darwin").probe()
    assert not c.available and "no CPU, GPU, ANE or DRAM channel" in c.reason

    def boom():
        raise RuntimeError("IOReportCopyChannelsInGroup returned NULL")

    (c,) = AppleSocSensor(boom, platform="darwin").probe()
    assert not c.available and "IOReportCopyChannelsInGroup" in c.reason


def test_read_failure_and_close():
    class Flaky(Monitor):
        def get_cumulative_energy(self):
            if self.calls >= 1:
                raise OSError("subscription lost")
            return super().get_cumulative_energy()

    s = AppleSocSensor(lambda: Flaky([m1(1, 1, 1, 1)]), platform="darwin")
    s.probe()
    with pytest.raises(SensorError, match="subscription lost"):
        s.read()
    s.close()
    with pytest.raises(SensorError, match="closed"):
        s.read()


def test_concurrent_reads_count_each_step_once():
    class Rising:
        def __init__(self):
            self.mj = 0
            self.lock = threading.Lock()

        def get_cumulative_energy(self):
            with self.lock:
                self.mj += 7
                v = self.mj
            time.sleep(0)
            return Metrics(cpu_total_mj=v, gpu_mj=v)

    s = AppleSocSensor(Rising, platform="darwin")
    s.probe()
    got: list = []

    def hammer():
        for _ in range(300):
            got.extend(r for r in s.read() if r.domain == "soc")

    ths = [threading.Thread(target=hammer) for _ in range(2)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    merged = sorted(got, key=lambda r: (r.t, r.energy_j))
    assert all(b.energy_j > a.energy_j for a, b in zip(merged, merged[1:]))
    assert merged[-1].energy_j == pytest.approx(2 * 600 * 7 / 1000)


# ---------------------------------------------------------------------------------------------------
# powermetrics: a sample of its plist output, written for these tests in the shape it prints


def sample_plist(cpu_mj=412, gpu_mj=96, ane_mj=0, elapsed_ns=200_118_000, gpu_in="processor") -> bytes:
    gpu_proc = f"<key>gpu_energy</key><integer>{gpu_mj}</integer>" if gpu_in == "processor" else ""
    gpu_dict = f"<key>gpu_energy</key><integer>{gpu_mj}</integer>" if gpu_in == "gpu" else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>is_delta</key><true/>
  <key>elapsed_ns</key><integer>{elapsed_ns}</integer>
  <key>hw_model</key><string>MacBookPro18,3</string>
  <key>timestamp</key><date>2025-03-01T10:00:00Z</date>
  <key>processor</key>
  <dict>
    <key>clusters</key>
    <array>
      <dict><key>name</key><string>E-Cluster</string><key>freq_hz</key><real>1056000000</real>
            <key>idle_ratio</key><real>0.62</real></dict>
      <dict><key>name</key><string>P0-Cluster</string><key>freq_hz</key><real>2064000000</real>
            <key>idle_ratio</key><real>0.35</real></dict>
    </array>
    <key>ane_energy</key><integer>{ane_mj}</integer>
    <key>cpu_energy</key><integer>{cpu_mj}</integer>
    {gpu_proc}
    <key>ane_power</key><real>{ane_mj / elapsed_ns * 1e9}</real>
    <key>cpu_power</key><real>{cpu_mj / elapsed_ns * 1e9}</real>
    <key>gpu_power</key><real>{gpu_mj / elapsed_ns * 1e9}</real>
    <key>combined_power</key><real>{(cpu_mj + gpu_mj + ane_mj) / elapsed_ns * 1e9}</real>
  </dict>
  <key>gpu</key>
  <dict><key>freq_hz</key><real>389000000</real><key>idle_ratio</key><real>0.91</real>{gpu_dict}</dict>
  <key>thermal_pressure</key><string>Nominal</string>
</dict>
</plist>
""".encode()


def test_parse_stream_splits_on_nul_and_keeps_the_tail():
    one, two = sample_plist(412, 96, 0), sample_plist(500, 120, 30, gpu_in="gpu")
    samples, tail, errors = parse_stream(one + b"\0" + two + b"\0" + two[:100])
    assert errors == [] and tail == two[:100]
    assert samples[0] == {"elapsed_s": pytest.approx(0.200118), "cpu": 412.0, "gpu": 96.0, "ane": 0.0}
    assert (samples[1]["cpu"], samples[1]["gpu"], samples[1]["ane"]) == (500.0, 120.0, 30.0)


def test_parse_sample_falls_back_to_power_times_interval():
    s = parse_sample({"elapsed_ns": 500_000_000, "processor": {"cpu_power": 2000.0, "gpu_power": 100}})
    assert (s["cpu"], s["gpu"], s["ane"]) == (pytest.approx(1000.0), pytest.approx(50.0), None)
    assert parse_sample({"processor": {"cpu_power": 2000.0}})["cpu"] is None  # no interval: no energy


def test_parse_stream_reports_a_broken_document():
    samples, tail, errors = parse_stream(b"<plist><dict><key>x</key>\0" + sample_plist() + b"\0")
    assert len(samples) == 1 and tail == b"" and len(errors) == 1 and "unreadable" in errors[0]


class FakeProc:
    """A child process whose stdout is a real pipe the test writes powermetrics' output into."""

    def __init__(self, stderr: bytes = b"", exit_at_once: bool = False):
        r, self.w = os.pipe()
        self.stdout = os.fdopen(r, "rb")
        self.stderr = io.BytesIO(stderr)
        self.returncode = None
        self.cmd = None
        if exit_at_once:
            self.exit(1)

    def feed(self, data: bytes) -> None:
        os.write(self.w, data)

    def exit(self, code: int = 0) -> None:
        if self.returncode is None:
            self.returncode = code
            os.close(self.w)

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        return self.returncode

    def terminate(self):
        self.exit(-15)

    def kill(self):
        self.exit(-9)


def spawner(proc: FakeProc):
    def spawn(cmd):
        proc.cmd = cmd
        return proc

    return spawn


def wait_for(cond, what: str, limit_s: float = 10.0) -> None:
    """Wait for the reader thread to catch up (an event, not a speed: the limit only ends a hang)."""
    end = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def test_off_unless_asked_and_macos_only(monkeypatch):
    monkeypatch.delenv("IPWTUI_POWERMETRICS", raising=False)
    (c,) = PowermetricsSensor(platform="darwin").probe()
    assert not c.available and c.reason == OPT_IN_REASON and "IPWTUI_POWERMETRICS=1" in c.reason
    monkeypatch.setenv("IPWTUI_POWERMETRICS", "1")
    s = PowermetricsSensor(platform="linux")
    assert s.enabled
    (c,) = s.probe()
    assert c.reason == "powermetrics is macOS-only (this is linux)"


def test_command_uses_sudo_unless_root():
    assert PowermetricsSensor(True, interval_ms=250, euid=501).command() == [
        "sudo", "-n", "powermetrics", "--samplers", "cpu_power,gpu_power", "-i", "250", "-f", "plist"]
    assert PowermetricsSensor(True, euid=0).command()[0] == "powermetrics"


def test_reads_the_stream_as_a_counter():
    proc = FakeProc()
    proc.feed(sample_plist(412, 96, 0) + b"\0")
    s = PowermetricsSensor(True, interval_ms=200, spawn=spawner(proc), platform="darwin", euid=501)
    caps = by_name(s.probe())
    assert proc.cmd[:3] == ["sudo", "-n", "powermetrics"]
    assert list(caps) == ["soc", "soc-cpu", "soc-gpu", "soc-ane"]
    soc = caps["soc"]
    assert soc.available and soc.source == "powermetrics" and soc.quality == MODEL_BASED
    assert soc.period_s == pytest.approx(0.2) and soc.boundary == "soc" and "no DRAM" in soc.reason
    assert [c.in_total for c in caps.values()] == [True, False, False, False]
    r = by_name(s.read())
    assert r["soc"].energy_j == pytest.approx(0.508) and r["soc-gpu"].energy_j == pytest.approx(0.096)
    proc.feed(sample_plist(300, 100, 20, gpu_in="gpu") + b"\0" + sample_plist(1, 1, 1)[:50])
    wait_for(lambda: by_name(s.read())["soc"].energy_j > 0.6, "the second sample")
    r = by_name(s.read())
    assert r["soc"].energy_j == pytest.approx(0.928) and r["soc-ane"].energy_j == pytest.approx(0.02)
    s.close()
    assert proc.returncode == -15
    with pytest.raises(SensorError):
        s.read()


def test_stream_ending_makes_reads_fail_with_why():
    proc = FakeProc(stderr=b"powermetrics: sampler cpu_power unavailable\n")
    proc.feed(sample_plist() + b"\0")
    s = PowermetricsSensor(True, spawn=spawner(proc), platform="darwin", euid=0)
    assert s.probe()[0].available
    proc.exit(1)
    wait_for(lambda: s._error != "", "the reader to notice the end")
    with pytest.raises(SensorError, match="sampler cpu_power unavailable"):
        s.read()


def test_sudo_refusing_is_unavailable_with_the_fix():
    proc = FakeProc(stderr=b"sudo: a password is required\n", exit_at_once=True)
    s = PowermetricsSensor(True, spawn=spawner(proc), platform="darwin", euid=501)
    (c,) = s.probe()
    assert not c.available and "sudo: a password is required" in c.reason
    assert c.fix == FIX_SUDO and "sudo -v" in c.fix
    assert s.domains() == [] and s.read() == []


def test_no_first_sample_in_time():
    proc = FakeProc()
    s = PowermetricsSensor(True, spawn=spawner(proc), platform="darwin", euid=0, first_sample_timeout_s=0.2)
    (c,) = s.probe()
    assert not c.available and "no sample from powermetrics within 0.2 s" in c.reason
    assert proc.returncode == -15  # stopped, not left running
