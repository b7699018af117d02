"""The energy bookkeeping checked from the session's own files, independently of how it was computed:
samples.csv integrated over each query window and over the gaps between them gives back the windows'
energies, the unattributed energy and the session total."""

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

from ipwtui.backends.fake.backend import FakeBackend
from ipwtui.core.export import export_session
from ipwtui.core.runner import Runner
from ipwtui.core.sensors.scripted import ScriptedSensor
from ipwtui.core.session import Session
from ipwtui.core.settings import RunSettings
from ipwtui.workloads.base import Query, Score


def integrate(t: np.ndarray, w: np.ndarray, a: float, b: float) -> float:
    """Trapezoid integral of the samples over [a, b], the edges linearly interpolated."""
    inside = (t > a) & (t < b)
    ts = np.concatenate([[a], t[inside], [b]])
    ws = np.concatenate([[np.interp(a, t, w)], w[inside], [np.interp(b, t, w)]])
    return float(np.sum((ts[1:] - ts[:-1]) * (ws[1:] + ws[:-1]) / 2.0))


def test_samples_integrate_back_to_the_windows_the_gaps_and_the_total(tmp_path):
    t0 = time.monotonic()
    sensor = ScriptedSensor(lambda t: 9.0 + 4.0 * math.sin(3.0 * (t - t0)))  # power only: sampled
    queries = [Query(f"q{i}", f"question {i}?", "A", "mc", "d", "t") for i in range(8)]
    session = Session.create(tmp_path / "s", {"id": "s", "query_ids": [q.id for q in queries],
                                               "domains": [{"domain": "cpu-scripted", "source": "scripted",
                                                            "quality": "estimated"}]})
    between = []

    def pause():
        time.sleep(0.1)  # energy between windows: unattributed
        between.append(1)

    runner = Runner(session, FakeBackend(tokens_per_s=300), [sensor], queries,
                    RunSettings(idle_seconds=0.3, warmup=1, sample_hz=50, max_tokens=24),
                    scorer=lambda q, a: Score(True, "A", "test"))
    runner.between_queries = pause
    runner.run()
    paths = export_session(session.folder)
    samples = pd.read_csv(paths["samples"]).dropna(subset=["watts"])
    t, w = samples["time"].to_numpy(), samples["watts"].to_numpy()
    qdf = pd.read_csv(paths["queries"])
    summary = json.loads(paths["summary"].read_text())
    seg = [r for r in session.read_journal() if r.get("type") == "segment"][-1]
    # each counted window, from the samples alone
    for _, r in qdf.iterrows():
        assert integrate(t, w, r["wall_sent"], r["wall_done"]) == pytest.approx(r["energy_j"], rel=2e-3, abs=1e-3)
    # the whole segment, from the samples alone, is the session's total
    total = integrate(t, w, seg["wall_start"], seg["wall_end"])
    assert total == pytest.approx(summary["energy"]["total_j"], rel=2e-3)
    # the gaps between the windows (warm-up included as a window of its own) are the unattributed energy
    warm = [x for x in session.query_records(include_warmup=True) if x.warmup]
    windows = [(x.wall_sent, x.wall_done) for x in warm] + list(zip(qdf["wall_sent"], qdf["wall_done"]))
    windows.sort()
    edges = [seg["wall_start"]] + [e for win in windows for e in win] + [seg["wall_end"]]
    gaps = sum(integrate(t, w, a, b) for a, b in zip(edges[::2], edges[1::2]) if b > a)
    assert gaps == pytest.approx(summary["energy"]["unattributed_j"], rel=5e-3, abs=2e-3)
    assert gaps > 0.5 * len(between) * 0.1 * 5.0  # the pauses are in it, at the trace's lowest power
