"""CPU cost of the sampler thread at 20 Hz with this machine's sensors, writing samples to a journal."""

import argparse
import tempfile
import threading
import time

from ipwtui.core.sampler import Sampler
from ipwtui.core.sensors import probe_all
from ipwtui.core.session import Session


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--hz", type=float, default=20.0)
    args = ap.parse_args()
    ss = probe_all()
    with tempfile.TemporaryDirectory() as d:
        sess = Session.create(d + "/s", {"id": "bench"})
        sess.begin_segment()
        smp = Sampler(ss.sensors, hz=args.hz, sinks=[sess.power_sink])
        cpu = {}
        orig_loop = smp._loop

        def measured_loop():
            t0 = time.thread_time()
            orig_loop()
            cpu["s"] = time.thread_time() - t0

        smp._loop = measured_loop
        wall0 = time.monotonic()
        smp.start()
        time.sleep(args.seconds)
        smp.stop()
        wall = time.monotonic() - wall0
        sess.close("finished")
    share = cpu["s"] / wall
    doms = ", ".join(f"{d.name} ({d.source})" for d in ss.domains())
    print(f"sensors: {doms}")
    print(f"{smp.ticks} ticks in {wall:.1f} s ({smp.ticks / wall:.1f} Hz requested {args.hz:g} Hz)")
    print(f"sampler thread CPU: {cpu['s'] * 1000:.1f} ms = {100 * share:.3f} % of one core "
          f"({1e6 * cpu['s'] / max(smp.ticks, 1):.0f} us per tick); target <= 0.5 %: "
          f"{'PASS' if share <= 0.005 else 'FAIL'}")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
