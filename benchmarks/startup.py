"""Time `ipwtui --help` (the CLI must import heavy libraries lazily), next to a bare interpreter start."""

import statistics
import subprocess
import sys
import time

ROUNDS = 15


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    help_cmd = [sys.executable, "-m", "ipwtui.cli", "--help"]
    bare_cmd = [sys.executable, "-c", "pass"]
    timed(help_cmd)  # warm the file cache
    a, b = [], []
    for _ in range(ROUNDS):  # interleaved
        a.append(timed(help_cmd))
        b.append(timed(bare_cmd))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"ipwtui --help : median {ma:.3f} s (min {min(a):.3f}, max {max(a):.3f}) over {ROUNDS} runs")
    print(f"python -c pass: median {mb:.3f} s")
    print(f"ipwtui's own share: {ma - mb:.3f} s; target <= 0.300 s total: {'PASS' if ma <= 0.3 else 'FAIL'}")


if __name__ == "__main__":
    main()
