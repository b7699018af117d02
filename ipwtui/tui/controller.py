"""One run of the app: ``ipwtui.runs.Run.execute()`` on a worker thread.

The same run path as the headless command. The runner's events reach the UI thread as ``RunEvent``
messages, except token pieces, which go into a ``TokenBuffer`` the run screen drains on a timer.
Controls (pause, resume, skip, stop) may be called at any time, also before the runner exists: the
``Run`` remembers them and applies them when it starts.
"""

from __future__ import annotations

import threading
from typing import Callable

from textual.message import Message

from ..core import events as ev
from .gaps import FrameGate
from .live import PastRecords, TokenBuffer


class RunEvent(Message):
    """A core event from the runner thread, for the UI thread."""

    def __init__(self, handle: "RunHandle", event) -> None:
        super().__init__()
        self.handle = handle
        self.event = event


class RunProblem(Message):
    """The run could not start (bad input, model that does not load): a one-line message."""

    def __init__(self, handle: "RunHandle", message: str, stage: str) -> None:
        super().__init__()
        self.handle = handle
        self.message = message
        self.stage = stage  # "prepare" or "load"


class RunEnded(Message):
    """The worker has returned: the session is closed and every finished query is on disk."""

    def __init__(self, handle: "RunHandle") -> None:
        super().__init__()
        self.handle = handle


def sampled_series(sampler, window_s: float | None, origin: float | None):
    """(domain, times, watts) copies of a sampler's recent samples, and the series' time origin."""
    if sampler is None:
        return [], origin
    out = []
    for s in list(sampler.series.values()):
        last = s.last_t
        if last is None:
            continue
        if origin is None:
            origin = s.t[0]
        ts, ws = s.tail(None if window_s is None else last - window_s)
        out.append((s.domain, ts, ws))
    return out, origin


class RunHandle:
    """The controls and data sources of one run, shared by the worker thread and the UI thread."""

    def __init__(self, request, post: Callable[[Message], object], sessions_dir=None, sensor_factory=None,
                 backend_factory=None) -> None:
        from ..runs import Run

        if sessions_dir is not None and not request.sessions_root:
            request.sessions_root = str(sessions_dir)
        self.request = request
        self.post = post
        self.buffer = TokenBuffer()
        self.gate = FrameGate(stopped=lambda: self.run.stop_requested)
        self.run = Run(request, listener=self.listener, sensor_factory=sensor_factory,
                       backend_factory=backend_factory, between_queries=self.gate.between_queries,
                       observer=self.gate.observer, on_prepared=self._prepared)
        self.worker = None  # the Textual worker running ``work``
        self.folder: str | None = None
        self.ended = threading.Event()  # set by the worker thread when it returns
        self.shown_ended = False
        self.exported = False  # the app has started writing the session's exports (at the run's end)
        self.export_done = threading.Event()  # set once they are written (or failed)
        self.export_problems: list[str] = []  # failures the app could not show
        self.series_origin: float | None = None

    # ---- controls (UI thread) -------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True until the UI has taken in the end of the run (every event of the run is applied by
        then: the worker posts RunEnded after its last event). ``ended`` is the worker-side flag."""
        return not self.shown_ended

    def mark_ended(self) -> None:
        """Called by the app (UI thread) when it handles RunEnded."""
        self.shown_ended = True

    @property
    def paused(self) -> bool:
        return self.run.paused

    def pause(self) -> None:
        self.run.pause()

    def resume(self) -> None:
        self.run.resume()

    def skip(self) -> None:
        self.run.skip()

    def stop(self) -> None:
        self.run.stop()

    @property
    def stop_requested(self) -> bool:
        return self.run.stop_requested

    @property
    def prep(self):
        return self.run.prepared

    @property
    def runner(self):
        return self.run.runner

    # ---- the worker thread ----------------------------------------------------------------------

    def listener(self, e) -> None:
        """The runner's listener (runner thread): cheap, never blocks on the UI."""
        if isinstance(e, ev.Token):
            self.buffer.push(e.text, e.t)
            return
        if isinstance(e, ev.QueryStarted):
            self.buffer.new_query()
        elif isinstance(e, (ev.SessionStarted, ev.IdleMeasured)):
            self.gate.start_count()  # the segment's bookkeeping starts after the idle baseline
        self.post(RunEvent(self, e))

    def work(self) -> None:
        """Prepare, load and run. Never raises: every problem becomes a message."""
        from ..runs import RunError

        try:
            self.run.execute()
        except RunError as e:
            if e.stage == "run":
                self.post(RunEvent(self, ev.RunFailed(str(e))))
            else:
                self.post(RunProblem(self, str(e), e.stage))
        except BaseException as e:  # the last line of defence: no traceback on the user's screen
            self.post(RunEvent(self, ev.RunFailed(f"{type(e).__name__}: {e}")))
        finally:
            self.ended.set()
            self.post(RunEnded(self))

    def _prepared(self, prep) -> None:
        """The Run's hook once the session exists (worker thread)."""
        self.folder = str(prep.session.folder)
        if prep.resumed:
            self.post(RunEvent(self, PastRecords(prep.session.query_records())))

    # ---- live power (UI thread, on a timer) -----------------------------------------------------

    def power_series(self, window_s: float | None = 130.0):
        """(domain, seconds from the first sample, watts) copies of the sampler's recent samples."""
        series, self.series_origin = sampled_series(getattr(self.runner, "sampler", None), window_s,
                                                    self.series_origin)
        return series


# ---- a duel ----------------------------------------------------------------------------------------


class DuelEvent(Message):
    """A core event of one side of a duel, for the UI thread."""

    def __init__(self, handle: "DuelHandle", side: str, event) -> None:
        super().__init__()
        self.handle = handle
        self.side = side
        self.event = event


class DuelEnded(Message):
    """The duel's worker has returned (both sessions closed), or it could not start (``problem``)."""

    def __init__(self, handle: "DuelHandle", problem: str | None = None, stage: str = "") -> None:
        super().__init__()
        self.handle = handle
        self.problem = problem
        self.stage = stage


class DuelHandle:
    """One duel's controls and data sources (``ipwtui.runs.Duel`` on a worker thread): the token pieces of
    each side in its own buffer, the events tagged with their side."""

    def __init__(self, a, b, post: Callable[[Message], object], sessions_dir=None, sensor_factory=None,
                 backend_factory=None) -> None:
        from ..runs import Duel

        for req in (a, b):
            if sessions_dir is not None and not req.sessions_root:
                req.sessions_root = str(sessions_dir)
        self.post = post
        self.buffers = {"A": TokenBuffer(), "B": TokenBuffer()}
        self._stop = False
        self._paused = False
        self.gate = FrameGate(stopped=lambda: self._stop)
        self.duel = Duel(a, b, listener=self.listener, sensor_factory=sensor_factory,
                         backend_factory=backend_factory, between_queries=self.gate.between_queries)
        self.worker = None
        self.ended = threading.Event()
        self.shown_ended = False
        self.exported = False  # the app has started writing the sessions' exports (at the duel's end)
        self.export_done = threading.Event()  # set once they are written (or failed)
        self.export_problems: list[str] = []  # failures the app could not show
        self.series_origin: float | None = None
        self.status: str | None = None

    @property
    def active(self) -> bool:
        return not self.shown_ended

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self.duel.pause()

    def resume(self) -> None:
        self._paused = False
        self.duel.resume()

    def skip(self) -> None:
        self.duel.skip()

    def stop(self) -> None:
        self._stop = True
        self.duel.stop()

    folder = None  # a duel has two sessions: see ``folders``

    @property
    def folders(self) -> dict[str, str]:
        return {side: str(p.session.folder) for side, p in self.duel.prepared.items()}

    @property
    def prep(self):
        """Side A's (the local side's) preparation: its backend says whether the cores are saturated."""
        return self.duel.prepared.get("A")

    def listener(self, side: str, e) -> None:
        if isinstance(e, ev.Token):
            self.buffers[side].push(e.text, e.t)
            return
        if isinstance(e, ev.QueryStarted):
            self.buffers[side].new_query()
        elif isinstance(e, (ev.SessionStarted, ev.IdleMeasured)) and side == "A":
            self.gate.start_count()
        self.post(DuelEvent(self, side, e))

    def work(self) -> None:
        from ..runs import RunError

        problem, stage = None, ""
        try:
            out = self.duel.execute()
            self.status = out.status
        except RunError as e:
            problem, stage = str(e), e.stage
        except BaseException as e:  # the last line of defence: no traceback on the user's screen
            problem, stage = f"{type(e).__name__}: {e}", "run"
        finally:
            self.ended.set()
            self.post(DuelEnded(self, problem, stage))

    def power_series(self, window_s: float | None = 130.0):
        """The shared sampler's recent samples (both sides run on the same sensors)."""
        duel = self.duel.duel
        sampler = getattr(duel.a if duel is not None else None, "sampler", None)
        series, self.series_origin = sampled_series(sampler, window_s, self.series_origin)
        return series
