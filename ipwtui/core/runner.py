"""The measurement loop: idle baseline, warm-up, then one energy window per query, journaled as it goes.

For query i the window is [sent_i, done_i] (``Generation.end``). After it the runner waits for the
sampler's next reading so the window's end can be interpolated, computes the window's energy, scores the
answer, appends the ``QueryRecord`` to the journal (on disk before the next query starts) and tells the
front end. Energy outside every window (scoring, bookkeeping, pauses) is kept as *unattributed*.

The runner knows backends only through ``core.backend.Backend`` and scorers only as a callable
``(query, answer) -> verdict`` handed to it: the run path (``ipwtui.runs``) chooses both.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import events as ev
from .backend import Backend, BackendError
from .energy import idle_baseline, window_energy
from .record import ERROR, OK, SKIPPED, QueryRecord
from .sampler import Sampler
from .sensors.base import UNAVAILABLE, worst_quality
from .session import Session
from .settings import RunSettings
from .summary import build_summary, session_metrics

Listener = Callable[[object], None]
# (query, answer text) -> a verdict with .correct, .prediction, .scorer, .note (workloads.base.Score)
ScoreFn = Callable[[Any, str], Any]
LIVE_BOOTSTRAP_ROUNDS = 500  # running intervals after each query; the final summary uses the full count


def messages_for(query) -> list[dict]:
    msgs = []
    if getattr(query, "system", None):
        msgs.append({"role": "system", "content": query.system})
    msgs.append({"role": "user", "content": query.prompt})
    return msgs


@dataclass
class _Controls:
    stop: threading.Event = field(default_factory=threading.Event)
    skip: threading.Event = field(default_factory=threading.Event)
    running: threading.Event = field(default_factory=threading.Event)  # cleared while paused


class Runner:
    def __init__(self, session: Session, backend: Backend, sensors: list, queries: list, settings: RunSettings,
                 scorer: ScoreFn, listener: Listener | None = None, model_name: str = ""):
        self.session = session
        self.backend = backend
        self.sensors = sensors
        self.queries = queries
        self.settings = settings
        self.listener = listener or (lambda e: None)
        self.scorer = scorer
        self.model_name = model_name
        # Called on the runner thread between two queries, outside every measured window (the app draws
        # its heavier frames there); None: go straight on
        self.between_queries: Callable[[], None] | None = None
        # The app's own cost during the run (its UI thread's CPU time, the gaps), written into the
        # segment record: a profiler says what it took itself; None: nothing to say (headless)
        self.observer: Callable[[], dict] | None = None
        self.ctl = _Controls()
        self.ctl.running.set()
        self.sampler: Sampler | None = None
        self.idle_w: dict[str, float] = {}
        self.status = "created"
        self._seg_start: float | None = None
        self._windows_counted = 0.0
        self._windows_excluded = 0.0
        self._windows_ok = True
        self.records: list[QueryRecord] = []  # this session's query records (not warm-up), kept in memory

    # ---- controls (any thread) ------------------------------------------------------------------

    def stop(self) -> None:
        self.ctl.stop.set()
        self.ctl.running.set()

    def skip(self) -> None:
        self.ctl.skip.set()

    def pause(self) -> None:
        self.ctl.running.clear()
        self._emit(ev.Phase("paused"))

    def resume(self) -> None:
        self.ctl.running.set()
        self._emit(ev.Phase("running"))

    @property
    def paused(self) -> bool:
        return not self.ctl.running.is_set()

    # ---- the loop -----------------------------------------------------------------------------

    def _emit(self, e) -> None:
        try:
            self.listener(e)
        except Exception:
            pass  # a broken front end must not lose measurements

    def counted_series(self):
        assert self.sampler is not None
        ser = self.sampler.series_list()
        if self.settings.energy_domains == "all":
            return ser
        mine = [s for s in ser if s.domain.accelerator == self.settings.accelerator]
        return mine

    def pending(self) -> list:
        done = {r.query_id for r in self.records}
        return [q for q in self.queries if q.id not in done]

    def run(self) -> dict:
        """Run the session to its end (or until stopped). Returns the summary."""
        s = self.settings
        seg = self.session.begin_segment()
        self.records = self.session.query_records()
        self.sampler = Sampler(self.sensors, hz=s.sample_hz, sinks=[self.session.power_sink],
                               on_fault=lambda n, m: self._emit(ev.SensorFault(n, m)))
        status = "interrupted"
        # Everything alive now (the loaded model, the app) lives through the run: collect once, then
        # leave it out of later garbage collections, which would otherwise scan it all again and again
        # (pauses of milliseconds on whichever thread allocates, the model's included). Undone at the end.
        gc.collect()
        gc.freeze()
        try:
            self.sampler.start()
            counted = self.counted_series()
            todo = self.pending()
            self._emit(ev.SessionStarted(
                folder=str(self.session.folder), segment=seg, total=len(self.queries),
                done=len(self.queries) - len(todo), domains=self.sampler.domains,
                counted_domains=[x.domain.name for x in counted if x.domain.in_total]))
            if s.idle_seconds > 0 and todo:
                self._measure_idle(s.idle_seconds)
            self._seg_start = time.monotonic()
            if todo and s.warmup > 0 and not self.ctl.stop.is_set():
                self._emit(ev.Phase("warmup", f"{s.warmup} warm-up quer{'y' if s.warmup == 1 else 'ies'}"))
                for k in range(s.warmup):
                    if self.ctl.stop.is_set():
                        break
                    self._one(todo[k % len(todo)], -1, warmup=True)
                    self._gap()
            self._emit(ev.Phase("running"))
            offset = len(self.queries) - len(todo)
            for k, q in enumerate(todo):
                self.ctl.running.wait()
                if self.ctl.stop.is_set():
                    break
                self._one(q, offset + k, warmup=False)
                self._gap()
            status = "stopped" if self.ctl.stop.is_set() and self.pending() else "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except Exception as e:
            status = "interrupted"
            self._emit(ev.RunFailed(f"{type(e).__name__}: {e}"))
            raise
        finally:
            try:
                self._segment_record()
            except Exception:
                pass
            self.sampler.stop()
            self.session.close(status if status == "finished" else "interrupted")
            self.status = status
            gc.unfreeze()
        summary = build_summary(self.session.meta, self.session.read_journal())
        self._emit(ev.RunFinished(summary, status))
        return summary

    def _gap(self) -> None:
        if self.between_queries is not None and not self.ctl.stop.is_set():
            self.between_queries()

    def _measure_idle(self, seconds: float) -> None:
        self._emit(ev.Phase("idle", f"measuring idle power for {seconds:g} s"))
        t0 = time.monotonic()
        self.ctl.stop.wait(seconds)
        t1 = time.monotonic()
        self.sampler.wait_past(t1)
        self.idle_w = idle_baseline(self.sampler.series_list(), t0, t1)
        self.session.append({"type": "idle", "idle_w": self.idle_w, "seconds": t1 - t0,
                             "wall_start": self.session.wall(t0), "wall_end": self.session.wall(t1)})
        self._emit(ev.IdleMeasured(self.idle_w, t1 - t0))

    def _one(self, q, index: int, warmup: bool) -> QueryRecord | None:
        s = self.settings
        self.ctl.skip.clear()
        self._emit(ev.QueryStarted(index=index, total=len(self.queries), query=q, warmup=warmup))
        n = 0

        def on_token(text: str, t: float) -> bool:
            nonlocal n
            n += 1
            self._emit(ev.Token(text, t, n))
            return not (self.ctl.skip.is_set() or self.ctl.stop.is_set())

        error = None
        gen = None
        t_err0 = time.monotonic()
        try:
            gen = self.backend.generate(messages_for(q), max_tokens=s.max_tokens, on_token=on_token,
                                        temperature=s.temperature, seed=s.seed)
        except Exception as e:  # a backend fault is recorded on the query; the run goes on
            error = str(e) if isinstance(e, BackendError) else f"{type(e).__name__}: {e}"
        t_sent = gen.t_sent if gen else t_err0
        t_end = gen.end if gen else time.monotonic()
        self.sampler.wait_past(t_end)
        counted = self.counted_series()
        we = window_energy(counted, t_sent, t_end, idle_w=self.idle_w or None,
                           sample_period_s=self.sampler.period)
        if gen is not None and gen.aborted:
            status = "stopped" if self.ctl.stop.is_set() else SKIPPED
        else:
            status = ERROR if error else OK
        if status == "stopped":  # an unfinished answer: leave it to --resume
            if we.gross_j is not None:
                self._windows_excluded += we.gross_j
            self._segment_record()
            return None
        score = None
        if status == OK and not warmup:
            score = self.scorer(q, gen.text)
        traits = self.backend.traits
        wall = self.session.wall
        meta = getattr(q, "meta", None) or {}
        rec = QueryRecord(
            query_id=q.id, index=index, warmup=warmup, segment=self.session.segment,
            dataset=q.dataset, domain=q.domain, kind=q.kind,
            model=self.model_name, backend=traits.name, where=traits.where, accelerator=s.accelerator,
            status=status, error=error,
            correct=score.correct if score else None,
            prediction=score.prediction if score else None,
            scorer=score.scorer if score else None,
            score_note=score.note if score else None,
            prompt=q.prompt, reference=q.reference, answer=gen.text if gen else None,
            prompt_tokens=gen.prompt_tokens if gen else None,
            output_tokens=gen.output_tokens if gen else None,
            counts_source=gen.counts_source if gen else None,
            prefill_tps=gen.prefill_tps if gen else None,
            decode_tps=gen.decode_tps if gen else None,
            finish_reason=gen.finish_reason if gen else None,
            peak_memory_bytes=gen.peak_memory_bytes if gen else None,
            wall_sent=wall(t_sent),
            wall_first=wall(gen.t_first) if gen else None,
            wall_last=wall(gen.t_last) if gen else None,
            wall_done=wall(t_end),
            ttft_s=gen.ttft_s if gen else None,
            latency_s=we.seconds,
            energy_j=we.gross_j, energy_net_j=we.net_j, avg_power_w=we.avg_power_w,
            energy_by_domain=we.per_domain, energy_source=we.source or None, energy_quality=we.quality,
            energy_flags=we.flags,
            server_report=dict(gen.server) if gen else {},
            cloud_pred=meta.get("cloud_pred"),
        )
        self.session.append(rec.to_dict())
        if we.gross_j is not None:
            if status == OK and not warmup:
                self._windows_counted += we.gross_j
            else:
                self._windows_excluded += we.gross_j
        else:
            self._windows_ok = False
        self._segment_record()
        if not warmup:
            self.records.append(rec)
            metrics = session_metrics(self.records, ci=True, rounds=LIVE_BOOTSTRAP_ROUNDS)
        else:
            metrics = {}
        self._emit(ev.QueryFinished(rec, metrics))
        return rec

    def _segment_record(self) -> None:
        """This segment's energy bookkeeping so far (the last record of a segment wins)."""
        if self.sampler is None or self._seg_start is None:
            return
        counted = [x for x in self.counted_series() if x.domain.in_total]
        # up to the latest reading every counted domain has: no waiting for the next sample (every query
        # window already waited for the reading after its end, so that end is always covered)
        lasts = [x.last_t for x in counted if x.last_t is not None]
        end = min(lasts) if lasts else time.monotonic()
        total = 0.0
        ok = bool(counted)
        for x in counted:
            a, b = x.cum_at(self._seg_start), x.cum_at(end)
            if a is None or b is None:
                ok = False
                break
            total += b - a
        srcs = []
        for x in counted:
            if x.domain.source not in srcs:
                srcs.append(x.domain.source)
        self.session.append({
            "type": "segment",
            "wall_start": self.session.wall(self._seg_start),
            "wall_end": self.session.wall(end),
            "seconds": end - self._seg_start,
            "total_j": total if ok else None,
            "counted_j": self._windows_counted if self._windows_ok else None,
            "excluded_j": self._windows_excluded if self._windows_ok else None,
            "unattributed_j": (total - self._windows_counted - self._windows_excluded)
            if ok and self._windows_ok else None,
            "idle_j": sum(self.idle_w.values()) * (end - self._seg_start) if self.idle_w else None,
            "source": "+".join(srcs),
            "quality": worst_quality([x.domain.quality for x in counted]) if counted else UNAVAILABLE,
            "faults": dict(self.sampler.faults),
            "observer": self._observer(),
        })

    def _observer(self) -> dict | None:
        if self.observer is None:
            return None
        try:
            return self.observer()
        except Exception as e:  # a figure about the app must never stop the run
            return {"error": f"{type(e).__name__}: {e}"}
