"""Counters are read at the window edges: a power step the query itself causes is charged exactly.

A scripted counter whose power steps from 5 W to 20 W when the backend starts answering and back when
it returns. The true energy of each window is computed from the trace's own transitions; the record's
energy must be within 0.1 % of it for windows from 50 ms up, where interpolating between 20 Hz samples
is off by several per cent."""

import pytest

from ipwtui.core.energy import window_energy
from ipwtui.core.runner import Runner
from ipwtui.core.sensors.scripted import ScriptedSensor
from ipwtui.core.session import Session
from ipwtui.core.settings import RunSettings
from ipwtui.workloads.base import Query, Score
from support import BUSY_W, SteppingBackend, StepTrace

@pytest.mark.parametrize("seconds", [0.05, 0.12, 0.3])
def test_window_energy_is_exact_on_a_power_step(tmp_path, seconds):
    trace = StepTrace()
    sensor = ScriptedSensor(trace.power, counter=trace.energy)
    queries = [Query(f"q{i}", f"question {i}?", "A", "mc", "d", "t") for i in range(4)]
    session = Session.create(tmp_path / "s", {"id": "s", "query_ids": [q.id for q in queries]})
    runner = Runner(session, SteppingBackend(trace, seconds), [sensor], queries,
                    RunSettings(idle_seconds=0, warmup=0, sample_hz=20, max_tokens=8),
                    scorer=lambda q, a: Score(True, "A", "test"))
    runner.run()
    off = session._mono_to_wall
    interp_errors = []
    for rec in session.query_records():
        t0, t1 = rec.wall_sent - off, rec.wall_done - off
        truth = trace.energy(t1) - trace.energy(t0)
        assert truth > BUSY_W * seconds * 0.99
        assert rec.energy_j == pytest.approx(truth, rel=1e-3), (rec.query_id, rec.energy_j, truth)
        # the window's prefill and decode parts add up to it (read at the first token too)
        assert rec.prefill_energy_j + rec.decode_energy_j == pytest.approx(rec.energy_j, rel=1e-9)
        # what interpolating the 20 Hz samples across the step would have said
        interp = window_energy(runner.sampler.series_list(), t0, t1).gross_j
        interp_errors.append(abs(interp - truth) / truth)
    if seconds <= 0.12:  # the edge reads matter: interpolation misses the step by more than 0.1 %
        assert max(interp_errors) > 1e-3
