"""Window-edge error on a scripted power step: counters read at the edges vs interpolated samples.

A scripted counter steps from 5 W to 20 W when the backend starts answering and back when it returns
(the step the query itself causes). For each window length, the runner's figure (counters read at the
window's start, first token and end) and the figure interpolated between the sampler's 20 Hz readings
are compared with the trace's exact energy over the same window. Prints the worst and median relative
error of each. Target: edge reads within 0.1 % from 50 ms up.

    python benchmarks/window_edges.py [--queries 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import SteppingBackend, StepTrace  # noqa: E402

from ipwtui.core.energy import window_energy  # noqa: E402
from ipwtui.core.runner import Runner  # noqa: E402
from ipwtui.core.sensors.scripted import ScriptedSensor  # noqa: E402
from ipwtui.core.session import Session  # noqa: E402
from ipwtui.core.settings import RunSettings  # noqa: E402
from ipwtui.workloads.base import Query, Score  # noqa: E402


def errors(seconds: float, n: int) -> tuple[list[float], list[float]]:
    trace = StepTrace()
    sensor = ScriptedSensor(trace.power, counter=trace.energy)
    queries = [Query(f"q{i}", f"question {i}?", "A", "mc", "d", "t") for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        session = Session.create(Path(d) / "s", {"id": "s", "query_ids": [q.id for q in queries]})
        runner = Runner(session, SteppingBackend(trace, seconds), [sensor], queries,
                        RunSettings(idle_seconds=0, warmup=0, sample_hz=20, max_tokens=8),
                        scorer=lambda q, a: Score(True, "A", "bench"))
        runner.run()
        off = session._mono_to_wall
        edge, interp = [], []
        for rec in session.query_records():
            t0, t1 = rec.wall_sent - off, rec.wall_done - off
            truth = trace.energy(t1) - trace.energy(t0)
            edge.append(abs(rec.energy_j - truth) / truth)
            got = window_energy(runner.sampler.series_list(), t0, t1).gross_j
            interp.append(abs(got - truth) / truth)
    return edge, interp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=8)
    args = ap.parse_args()
    print(f"{'window':>8}  {'edge reads: worst':>18} {'median':>8}  {'interpolated: worst':>20} {'median':>8}")
    for seconds in (0.05, 0.1, 0.3, 1.0):
        edge, interp = errors(seconds, args.queries)
        print(f"{seconds * 1000:>6.0f} ms  {100 * max(edge):>17.4f}% {100 * statistics.median(edge):>7.4f}%"
              f"  {100 * max(interp):>19.2f}% {100 * statistics.median(interp):>7.2f}%")


if __name__ == "__main__":
    main()
