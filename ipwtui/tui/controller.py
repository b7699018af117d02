"""One run of the app: prepare -> load the backend -> Runner.run(), on a worker thread.

The same sequence as the headless command (core.plan.prepare, backend.load, finish_provenance,
core.runner.Runner). The runner's events reach the UI thread as ``RunEvent`` messages, except token
pieces, which go into a ``TokenBuffer`` the run screen drains on a timer. Controls (pause, resume, skip,
stop) may be called at any time, also before the runner exists: they are remembered and applied.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from textual.message import Message

from ..core import events as ev
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


class GapOpen(Message):
    """The runner is between two queries and waits (briefly) for the UI to draw."""

    def __init__(self, handle: "RunHandle") -> None:
        super().__init__()
        self.handle = handle


GAP_MAX_S = 0.25  # the longest the runner waits for the UI between two queries


def ui_cpu_clock():
    """The CPU-time clock of the UI (main) thread, readable from other threads; None where the platform
    has none."""
    try:
        return time.pthread_getcpuclockid(threading.main_thread().ident)
    except (AttributeError, OSError):
        return None


class RunEnded(Message):
    """The worker has returned: the session is closed and every finished query is on disk."""

    def __init__(self, handle: "RunHandle") -> None:
        super().__init__()
        self.handle = handle


class RunHandle:
    """The controls and data sources of one run, shared by the worker thread and the UI thread."""

    def __init__(self, request, post: Callable[[Message], object], sessions_dir=None, sensor_factory=None,
                 backend_factory=None) -> None:
        self.request = request
        self.post = post
        self.sessions_dir = sessions_dir
        self.sensor_factory = sensor_factory
        self.backend_factory = backend_factory
        self.buffer = TokenBuffer()
        self.prep = None
        self.runner = None
        self.worker = None  # the Textual worker running ``work``
        self.folder: str | None = None
        self.ended = threading.Event()  # set by the worker thread when it returns
        self.shown_ended = False
        self._lock = threading.Lock()
        self._stop = False
        self._paused = False
        self.series_origin: float | None = None
        # a frame drawn between two queries: the UI asks (gap_wanted), the runner stops at the next
        # boundary and posts GapOpen, the UI draws and says so (gap_done)
        self.gap_wanted = threading.Event()
        self.gap_done = threading.Event()
        self._ui_clock = ui_cpu_clock()
        self._ui_cpu0: float | None = None  # the UI thread's CPU time when the run started
        self._gaps = 0
        self._gap_cpu = 0.0  # the UI thread's CPU time inside the gaps
        self._gap_wait = 0.0  # the runner's time waiting in the gaps

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
        return self._paused

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            r = self.runner
        if r is not None:
            r.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            r = self.runner
        if r is not None:
            r.resume()

    def skip(self) -> None:
        r = self.runner
        if r is not None:
            r.skip()

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._paused = False
            r = self.runner
        if r is not None:
            r.stop()

    @property
    def stop_requested(self) -> bool:
        return self._stop

    def between_queries(self) -> None:
        """The runner's hook (runner thread): if the UI asked for a gap, wait for its frame, briefly."""
        if not self.gap_wanted.is_set() or self._stop:
            return
        self.gap_wanted.clear()
        self.gap_done.clear()
        c0, t0 = self._ui_cpu(), time.monotonic()
        self.post(GapOpen(self))
        self.gap_done.wait(GAP_MAX_S)
        c1 = self._ui_cpu()
        self._gaps += 1
        self._gap_wait += time.monotonic() - t0
        if c0 is not None and c1 is not None:
            self._gap_cpu += c1 - c0

    def _ui_cpu(self) -> float | None:
        if self._ui_clock is None:
            return None
        try:
            return time.clock_gettime(self._ui_clock)
        except OSError:
            return None

    def observer(self) -> dict:
        """The runner's observer hook: what the app's UI thread took during this segment."""
        now = self._ui_cpu()
        total = None if now is None or self._ui_cpu0 is None else now - self._ui_cpu0
        return {
            "what": "CPU time of the app's UI thread over the segment (from the end of the idle baseline), "
                    "and inside the gaps between queries (outside every measured window) where the app draws "
                    "while the cores are busy",
            "ui_thread_cpu_s": total,
            "ui_cpu_in_gaps_s": self._gap_cpu if total is not None else None,
            "gaps": self._gaps,
            "gap_wait_s": self._gap_wait,
        }

    # ---- the worker thread ----------------------------------------------------------------------

    def listener(self, e) -> None:
        """The runner's listener (runner thread): cheap, never blocks on the UI."""
        if isinstance(e, ev.Token):
            self.buffer.push(e.text, e.t)
            return
        if isinstance(e, ev.QueryStarted):
            self.buffer.new_query()
        elif isinstance(e, ev.IdleMeasured):
            self._ui_cpu0 = self._ui_cpu()  # the segment's bookkeeping starts after the idle baseline
        self.post(RunEvent(self, e))

    def work(self) -> None:
        """Prepare, load and run. Never raises: every problem becomes a message."""
        from ..core.plan import PlanError, finish_provenance
        from ..core.session import SessionError
        from ..core.plan import prepare

        try:
            self._work(prepare, finish_provenance, PlanError, SessionError)
        except BaseException as e:  # the last line of defence: no traceback on the user's screen
            self.post(RunEvent(self, ev.RunFailed(f"{type(e).__name__}: {e}")))
        finally:
            self.ended.set()
            self.post(RunEnded(self))

    def _work(self, prepare, finish_provenance, PlanError, SessionError) -> None:
        sensor_set = self.sensor_factory() if self.sensor_factory is not None else None
        if self.sessions_dir is not None and not self.request.sessions_root:
            self.request.sessions_root = str(self.sessions_dir)
        try:
            prep = prepare(self.request, sensor_set=sensor_set)
            if self.backend_factory is not None:
                prep.backend = self.backend_factory(prep)
        except (PlanError, SessionError) as e:
            self.post(RunProblem(self, str(e), "prepare"))
            return
        except Exception as e:
            self.post(RunProblem(self, f"{type(e).__name__}: {e}", "prepare"))
            return
        self.prep = prep
        self.folder = str(prep.session.folder)
        if prep.resumed:
            self.post(RunEvent(self, PastRecords(prep.session.query_records())))
        name = (prep.session.meta.get("model") or {}).get("name", "")
        self.post(RunEvent(self, ev.Phase("loading", f"loading {name or 'the model'}")))
        try:
            info = prep.backend.load()
        except Exception as e:
            msg = str(e) if type(e).__name__ == "BackendError" else f"{type(e).__name__}: {e}"
            try:
                prep.session.close("failed")
            except Exception:
                pass
            self.post(RunProblem(self, msg, "load"))
            return
        try:
            finish_provenance(prep, info)
            from ..core.runner import Runner
            from ..workloads.scoring import score_answer

            runner = Runner(prep.session, prep.backend, prep.sensor_set.sensors, prep.queries, prep.settings,
                            scorer=score_answer, listener=self.listener, model_name=name)
            runner.between_queries = self.between_queries
            runner.observer = self.observer
            self._ui_cpu0 = self._ui_cpu()
            with self._lock:
                self.runner = runner
                if self._stop:
                    runner.stop()
                elif self._paused:
                    runner.ctl.running.clear()
            try:
                runner.run()
            except Exception:
                pass  # the runner has sent RunFailed with the message, and closed the session
        finally:
            try:
                prep.backend.close()
            except Exception:
                pass
            for s in getattr(prep.sensor_set, "sensors", []):
                try:
                    s.close()
                except Exception:
                    pass

    # ---- live power (UI thread, on a timer) -----------------------------------------------------

    def power_series(self, window_s: float | None = 130.0):
        """(domain, seconds from the first sample, watts) copies of the sampler's recent samples."""
        r = self.runner
        sampler = getattr(r, "sampler", None)
        if sampler is None:
            return []
        out = []
        for s in list(sampler.series.values()):
            last = s.last_t
            if last is None:
                continue
            if self.series_origin is None:
                self.series_origin = s.t[0]
            ts, ws = s.tail(None if window_s is None else last - window_s)
            out.append((s.domain, ts, ws))
        return out
