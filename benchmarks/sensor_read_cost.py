"""CPU cost of one read() of each reader, on fake sysfs trees and stand-in libraries, against the sampler's
budget (0.5 % of one core at 20 Hz, i.e. 250 µs of CPU per tick for all readers together).

Fake files live on the temporary folder's file system, not in sysfs: a real sysfs attribute is generated
by the driver at each read (an ACPI battery may ask the embedded controller, which the kernel caches for
1 s), and a stand-in library costs nothing of its own. The figures are therefore the readers' own Python
cost (file opening, parsing, bookkeeping, locking), the part this project controls; the script also times
a bare open+read+close of one small file for scale.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from ipwtui.core.sensors.amd import AmdHwmonSensor, AmdSmiSensor
from ipwtui.core.sensors.apple import AppleSocSensor
from ipwtui.core.sensors.battery import BatterySensor
from ipwtui.core.sensors.cpu_model import CpuTimeModelSensor
from ipwtui.core.sensors.rapl import RaplSensor

BUDGET_S = 0.005 / 20  # CPU seconds per tick: 0.5 % of a core at 20 Hz


def write(d: Path, **files) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for k, v in files.items():
        (d / k).write_text(f"{v}\n")
    return d


def fake_tree(root: Path) -> None:
    write(root / "class/powercap/intel-rapl:0", name="package-0", energy_uj=123456789, max_energy_range_uj=2**38)
    write(root / "class/powercap/intel-rapl:0/intel-rapl:0:0", name="dram", energy_uj=5, max_energy_range_uj=2**38)
    for n, bdf, f in ((0, "0000:03:00.0", "power1_average"), (1, "0000:04:00.0", "energy1_input")):
        hw = write(root / f"class/hwmon/hwmon{n}", name="amdgpu", **{f: 150_000_000})
        dev = write(root / "devices/pci0000:00" / bdf)
        os.symlink(dev, hw / "device")
    write(root / "class/power_supply/AC", type="Mains", online=0)
    write(root / "class/power_supply/BAT0", type="Battery", status="Discharging", power_now=15_000_000,
          energy_now=40_000_000)


class StandInAmdSmi:
    """amdsmi's calls for one counter GPU, doing no work of their own."""

    def __init__(self):
        self.acc = 0

    def amdsmi_init(self):
        pass

    def amdsmi_shut_down(self):
        pass

    def amdsmi_get_processor_handles(self):
        return [0]

    def amdsmi_get_gpu_asic_info(self, h):
        return {"market_name": "AMD Instinct MI300X"}

    def amdsmi_get_gpu_device_bdf(self, h):
        return "0000:0c:00.0"

    def amdsmi_get_energy_count(self, h):
        self.acc += 1000
        return {"energy_accumulator": self.acc, "counter_resolution": 15.3, "timestamp": 0}


class StandInMetrics:
    def __init__(self, mj):
        self.cpu_total_mj = self.gpu_mj = self.dram_mj = mj
        self.ane_mj = 0
        self.efficiency_cores_mj = [mj, mj]
        self.performance_cores_mj = [mj, mj, mj, mj]
        self.gpu_sram_mj = mj
        self.efficiency_core_manager_mj = self.performance_core_manager_mj = None


class StandInMonitor:
    def __init__(self):
        self.mj = 0

    def get_cumulative_energy(self):
        self.mj += 3
        return StandInMetrics(self.mj)


def cost(read, n: int, rounds: int) -> float:
    """Median over rounds of the CPU seconds per call in a tight loop (warm caches; thread CPU time, so
    other processes do not count)."""
    per = []
    for _ in range(rounds):
        t0 = time.thread_time()
        for _ in range(n):
            read()
        per.append((time.thread_time() - t0) / n)
    return statistics.median(per)


def paced_cost(read, seconds: float, hz: float = 20.0) -> float:
    """CPU seconds per call when called at ``hz`` from a thread that sleeps in between, as the sampler
    does: caches are cold at each call, so this is the figure that counts against the budget."""
    out = {}

    def run():
        period = 1.0 / hz
        n = int(seconds * hz)
        next_t = time.monotonic()
        t0 = time.thread_time()
        for _ in range(n):
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            c = time.thread_time()
            read()
            out.setdefault("cpu", 0.0)
            out["cpu"] += time.thread_time() - c
        out["n"] = n
        out["all"] = time.thread_time() - t0

    th = threading.Thread(target=run)
    th.start()
    th.join()
    return out["cpu"] / out["n"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=2000, help="reads per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--paced-seconds", type=float, default=5.0, help="per reader, at 20 Hz (0: skip)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        fake_tree(root)
        bare = root / "class/powercap/intel-rapl:0/energy_uj"

        def bare_read():
            with open(bare, encoding="ascii") as f:
                f.read()

        readers = {
            "for scale: Python open()+read() of a file": bare_read,
            "rapl (package + dram)": RaplSensor(root).read,
            "amd-hwmon (2 GPUs)": AmdHwmonSensor(root).read,
            "battery (power_now + energy_now)": BatterySensor(root).read,
            "amdsmi (1 GPU, stand-in library)": AmdSmiSensor(StandInAmdSmi()).read,
            "ioreport (stand-in monitor, 9 parts)": AppleSocSensor(StandInMonitor, platform="darwin").read,
            "cpu-time-model (process)": CpuTimeModelSensor(watts_per_core=4.0, scope="process").read,
        }
        for r in readers.values():
            r()  # probe outside the timing
        print(f"CPU per read (median of {args.rounds} rounds of {args.reads}); budget {BUDGET_S * 1e6:.0f} µs "
              "per tick for all readers")
        total = 0.0
        for name, r in readers.items():
            c = cost(r, args.reads, args.rounds)
            if not name.startswith("for scale"):
                total += c
            print(f"  {name:40s} {c * 1e6:7.1f} µs  = {100 * c * 20:.3f} % of a core at 20 Hz")
        print(f"  {'all readers above, one tick':40s} {total * 1e6:7.1f} µs  = {100 * total * 20:.3f} % "
              f"of a core at 20 Hz; target <= 0.5 %: {'PASS' if total <= BUDGET_S else 'FAIL'}")
        if args.paced_seconds > 0:
            print(f"CPU per read at 20 Hz from a sleeping thread (cold caches, as in the sampler), "
                  f"{args.paced_seconds:g} s each")
            floor = paced_cost(lambda: None, args.paced_seconds)
            print(f"  {'floor: a call that does nothing':40s} {floor * 1e6:7.1f} µs  (a cold call's own cost; "
                  "the figures below are above it)")
            total = 0.0
            for name, r in readers.items():
                c = max(paced_cost(r, args.paced_seconds) - floor, 0.0)
                if not name.startswith("for scale"):
                    total += c
                print(f"  {name:40s} {c * 1e6:7.1f} µs  = {100 * c * 20:.3f} % of a core at 20 Hz")
            print(f"  {'all readers above, one tick':40s} {total * 1e6:7.1f} µs  = {100 * total * 20:.3f} % "
                  f"of a core at 20 Hz (each measured cold on its own, so this sum is pessimistic; the "
                  f"sampler's own bookkeeping comes on top: sampler_cost.py)")

        # the runner reads at window edges while the sampler reads at 20 Hz: the lock must not cost much
        rapl = RaplSensor(root)
        rapl.read()
        alone = cost(rapl.read, args.reads, args.rounds)
        stop = threading.Event()

        def edges():
            while not stop.is_set():
                rapl.read()
                time.sleep(0.005)

        th = threading.Thread(target=edges, daemon=True)
        th.start()
        shared = cost(rapl.read, args.reads, args.rounds)
        stop.set()
        th.join()
        print(f"  rapl read alone {alone * 1e6:.1f} µs; with a second thread reading every 5 ms "
              f"{shared * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
