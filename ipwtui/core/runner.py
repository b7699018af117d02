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
from .backend import Backend, BackendError, Generation
from .contention import CpuShare
from .energy import EdgeMark, EdgeReader, idle_baseline, window_energy
from .record import ERROR, JUDGE_FIELDS, OK, SKIPPED, QueryRecord, apply_server_energy, server_fields
from .remote import RemoteWindow, ServerEnergy, ServerEnergySource
from .sampler import Sampler
from .sensors.base import BOUNDARY_WHOLE_MACHINE, UNAVAILABLE, worst_quality
from .session import Session
from .settings import RunSettings
from .summary import build_summary, session_metrics

Listener = Callable[[object], None]
# (query, answer text) -> a verdict with .correct, .prediction, .scorer, .note (workloads.base.Score)
ScoreFn = Callable[[Any, str], Any]
# (record) -> (cost in USD or None, where it came from or why it is N/A)
CostFn = Callable[[QueryRecord], tuple[float | None, str | None]]
LIVE_BOOTSTRAP_ROUNDS = 500  # running intervals after each query; the final summary uses the full count
RETRY_BASE_S = 0.5  # backoff between attempts with no Retry-After: 0.5, 1, 2, 4, 8 s
RETRY_MAX_S = 8.0
RETRY_AFTER_MAX_S = 300.0  # a server's Retry-After longer than this is capped


def warmup_query(q, k: int):
    """A warm-up query: shaped like a real one (the same kind and length of prompt) but a prompt of its own,
    so that a server's prompt cache gives the measured query that follows no head start."""
    from dataclasses import replace

    return replace(q, id=f"warm-up-{k + 1}", prompt=f"(Warm-up {k + 1}, not scored.) {q.prompt}")


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before the next attempt: the server's Retry-After when it gave one, else backoff."""
    if retry_after is not None and retry_after >= 0:
        return min(float(retry_after), RETRY_AFTER_MAX_S)
    return min(RETRY_BASE_S * 2 ** (attempt - 1), RETRY_MAX_S)


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


def _cut_note(score, gen, max_tokens: int) -> str | None:
    """The verdict's note, and when an answer not scored right stopped at the token limit, that it was cut
    there (the likeliest reason: raise --max-tokens)."""
    note = (score.note or None) if score else None
    if score is not None and score.correct is not True and gen is not None and gen.finish_reason == "length":
        cut = f"the answer was cut at --max-tokens {max_tokens}"
        note = f"{note}; {cut}" if note else cut
    return note


class Runner:
    def __init__(self, session: Session, backend: Backend, sensors: list, queries: list, settings: RunSettings,
                 scorer: ScoreFn, listener: Listener | None = None, model_name: str = "",
                 server_energy: ServerEnergySource | None = None, coster: CostFn | None = None,
                 cpu: CpuShare | None = None):
        self.session = session
        self.backend = backend
        self.sensors = sensors
        self.queries = queries
        self.settings = settings
        self.listener = listener or (lambda e: None)
        self.scorer = scorer
        self.model_name = model_name
        self.server_energy = server_energy  # the server's energy of a remote backend's queries
        self.coster = coster
        self.cpu = cpu or CpuShare()  # other processes' share of the CPU in each window
        self.edges = EdgeReader([], [])  # counters read at the window edges (set up when the run starts)
        self._failures = 0  # queries failed in a row
        self.stop_reason: str | None = None  # why the run stopped by itself
        self._unsettled: list[QueryRecord] = []  # remote queries waiting for the server's telemetry
        self._own_sampler = True
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
        self._windows_partner = 0.0  # a duel: the other side's windows
        self.partner: str | None = None  # a duel: the other side's session folder
        self._seg_mark = EdgeMark(0.0)
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
        """The series summed into a query's energy: the chosen accelerator's domains, or, with
        energy_domains "all", every device domain (never a whole-machine one, which contains the others:
        adding it would count them twice)."""
        ser = self._sampler().series_list()
        if self.settings.energy_domains == "all":
            return [s for s in ser if s.domain.boundary != BOUNDARY_WHOLE_MACHINE
                    or s.domain.accelerator == self.settings.accelerator]
        return [s for s in ser if s.domain.accelerator == self.settings.accelerator]

    def pending(self) -> list:
        """The queries still to do: never answered or skipped (a query whose last attempt failed is tried
        again)."""
        last: dict[str, str] = {}
        for r in self.records:
            last[r.query_id] = r.status
        return [q for q in self.queries if last.get(q.id, ERROR) == ERROR]

    def run(self) -> dict:
        """Run the session to its end (or until stopped). Returns the summary."""
        s = self.settings
        self.open()
        status = "interrupted"
        try:
            todo = self.start()
            if s.idle_seconds > 0 and todo:
                self.measure_idle(s.idle_seconds)
            self.begin_bookkeeping()
            self.warm_up(todo)
            self._emit(ev.Phase("running"))
            offset = len(self.queries) - len(todo)
            for k, q in enumerate(todo):
                self.ctl.running.wait()
                if self.ctl.stop.is_set():
                    break
                self._query(q, offset + k, warmup=False)
                self._gap()
            self._settle_server_energy()
            status = "stopped" if self.ctl.stop.is_set() and self.pending() else "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except Exception as e:
            status = "interrupted"
            self._emit(ev.RunFailed(f"{type(e).__name__}: {e}"))
            raise
        finally:
            self.close(status)
        return self.finish(status)

    # ---- the phases of a run (``run`` goes through them; a duel drives two runners through them) ----------

    def open(self, sampler: Sampler | None = None) -> None:
        """Begin this process's segment and start sampling: with a sampler of its own, or one shared with
        another runner (a duel), which its owner starts and stops."""
        s = self.settings
        self.session.begin_segment()
        self.records = self.session.query_records()
        self._own_sampler = sampler is None
        self.sampler = sampler or Sampler(self.sensors, hz=s.sample_hz, sinks=[self.session.power_sink],
                                          on_fault=lambda n, m: self._emit(ev.SensorFault(n, m)))
        # Everything alive now (the loaded model, the app) lives through the run: collect once, then
        # leave it out of later garbage collections, which would otherwise scan it all again and again
        # (pauses of milliseconds on whichever thread allocates, the model's included). Undone at the end.
        gc.collect()
        gc.freeze()
        if self._own_sampler:
            self.sampler.start()

    def start(self) -> list:
        """Say the session has started; the queries still to do."""
        counted = self.counted_series()
        self.edges = EdgeReader(self.sensors, [x.domain for x in counted])
        todo = self.pending()
        self._emit(ev.SessionStarted(
            folder=str(self.session.folder), segment=self.session.segment, total=len(self.queries),
            done=len(self.queries) - len(todo), domains=self._sampler().domains,
            counted_domains=[x.domain.name for x in counted if x.domain.in_total]))
        return todo

    def warm_up(self, todo: list) -> None:
        s = self.settings
        if todo and s.warmup > 0 and not self.ctl.stop.is_set():
            self._emit(ev.Phase("warmup", f"{s.warmup} warm-up quer{'y' if s.warmup == 1 else 'ies'}"))
            for k in range(s.warmup):
                if self.ctl.stop.is_set():
                    break
                self._query(warmup_query(todo[k % len(todo)], k), -1, warmup=True)
                self._gap()

    def begin_bookkeeping(self) -> None:
        """The segment's energy bookkeeping starts now (after the idle baseline)."""
        self._seg_mark = self.edges.mark()
        self._seg_start = self._seg_mark.t

    def add_partner_window(self, joules: float | None) -> None:
        """A duel: the other side's window, on the same sensors, is neither this session's query nor
        unattributed energy."""
        if joules is None:
            self._windows_ok = False
        else:
            self._windows_partner += joules

    def close(self, status: str) -> None:
        """The segment's last bookkeeping record; stop an own sampler; close the session."""
        try:
            self._segment_record()
        except Exception:
            pass
        if self._own_sampler and self.sampler is not None:
            self.sampler.stop()
        self.session.close(status if status == "finished" else "interrupted",
                           **({"stop_reason": self.stop_reason} if self.stop_reason else {}))
        self.status = status
        gc.unfreeze()

    def finish(self, status: str) -> dict:
        """The session's summary, written beside the journal and sent to the front end."""
        summary = build_summary(self.session.meta, self.session.read_entries())
        try:
            self.session.write_summary(summary)
        except OSError as e:  # the journal holds everything; the summary can be written again by export
            self._emit(ev.Notice(f"summary.json not written ({e.strerror or e}); "
                                 "'ipwtui export' writes it from the journal"))
        self._emit(ev.RunFinished(summary, status))
        return summary

    def _gap(self) -> None:
        if self.between_queries is not None and not self.ctl.stop.is_set():
            self.between_queries()

    def measure_idle(self, seconds: float) -> None:
        sampler = self._sampler()
        self._emit(ev.Phase("idle", f"measuring idle power for {seconds:g} s"))
        t0 = time.monotonic()
        self.ctl.stop.wait(seconds)
        t1 = time.monotonic()
        sampler.wait_past(t1)
        self.adopt_idle(idle_baseline(sampler.series_list(), t0, t1), t0, t1)

    def adopt_idle(self, idle_w: dict[str, float], t0: float, t1: float) -> None:
        """The idle baseline measured over [t0, t1] (by this runner, or by the other side of a duel)."""
        self.idle_w = dict(idle_w)
        self.session.append({"type": "idle", "idle_w": self.idle_w, "seconds": t1 - t0,
                             "wall_start": self.session.wall(t0), "wall_end": self.session.wall(t1)})
        self._emit(ev.IdleMeasured(self.idle_w, t1 - t0))

    def _sampler(self) -> Sampler:
        if self.sampler is None:
            raise RuntimeError("the runner has not started")
        return self.sampler

    # ---- one query ------------------------------------------------------------------------------

    def _query(self, q, index: int, warmup: bool) -> None:
        """One query: attempts until one succeeds, fails for good or the retries are used up. Each
        attempt is its own measured window; the wait between attempts is in none (unattributed)."""
        s = self.settings
        attempt = 1
        while True:
            rec, wait = self._attempt(q, index, warmup, attempt)
            if rec is None:  # stopped mid-answer: left to --resume
                return
            if rec.status != ERROR or wait is None or attempt > s.retries or self.ctl.stop.is_set():
                break
            self._emit(ev.Phase("retrying", f"{q.id}: attempt {attempt} failed ({rec.error}); "
                                            f"attempt {attempt + 1} in {wait:.1f} s"))
            if self.ctl.stop.wait(wait):
                break
            attempt += 1
        if warmup:
            return
        if rec.status == ERROR:
            self._failures += 1
            if self._failures >= s.max_failures:
                self.stop_reason = (f"stopped after {self._failures} queries failed in a row "
                                    f"(last: {rec.error})")
                self._emit(ev.Phase("stopping", self.stop_reason))
                self.ctl.stop.set()
        else:
            self._failures = 0

    def _attempt(self, q, index: int, warmup: bool, attempt: int) -> tuple[QueryRecord | None, float | None]:
        """One measured attempt. Returns its record (None when the run stopped mid-answer) and, for a
        failure worth retrying, how long to wait first (None otherwise)."""
        s = self.settings
        sampler = self._sampler()
        self.ctl.skip.clear()
        self._emit(ev.QueryStarted(index=index, total=len(self.queries), query=q, warmup=warmup))
        n = 0
        mid: EdgeMark | None = None
        edges = self.edges

        def on_token(text: str, t: float) -> bool:
            nonlocal n, mid
            n += 1
            if n == 1:  # the prefill ends: the counters are read here too
                mid = edges.mark()
            self._emit(ev.Token(text, t, n))
            return not (self.ctl.skip.is_set() or self.ctl.stop.is_set())

        error: str | None = None
        retry_wait: float | None = None
        gen: Generation | None = None
        cpu0 = self.cpu.mark()
        m0 = edges.mark()
        try:
            gen = self.backend.generate(messages_for(q), max_tokens=s.max_tokens, on_token=on_token,
                                        temperature=s.temperature, seed=s.seed)
            if not isinstance(gen, Generation):
                error = f"the backend returned {type(gen).__name__}, not an answer (a bug in the backend)"
                gen = None
        except Exception as e:  # a backend fault is recorded on the query; the run goes on
            error = str(e) if isinstance(e, BackendError) else f"{type(e).__name__}: {e}"
            if isinstance(e, BackendError) and e.retryable:
                retry_wait = retry_delay(attempt, e.retry_after)
        m1 = edges.mark()
        cpu1 = self.cpu.mark()
        t0, t1 = m0.t, m1.t
        sampler.wait_past(t1)
        counted = self.counted_series()
        idle = self.idle_w or None
        we = window_energy(counted, t0, t1, idle_w=idle, sample_period_s=sampler.period, edges=(m0, m1))
        prefill = decode = None
        if mid is not None:
            prefill = window_energy(counted, t0, mid.t, idle_w=idle, sample_period_s=sampler.period,
                                    edges=(m0, mid))
            decode = window_energy(counted, mid.t, t1, idle_w=idle, sample_period_s=sampler.period,
                                   edges=(mid, m1))
        others = self.cpu.others(cpu0, cpu1)
        if others is not None and others > s.contended_share:
            we.flags.append("contended")
        if gen is not None and gen.aborted:
            status = "stopped" if self.ctl.stop.is_set() else SKIPPED
        else:
            status = ERROR if error else OK
        if status == "stopped":  # an unfinished answer: leave it to --resume
            if we.gross_j is not None:
                self._windows_excluded += we.gross_j
            self._segment_record()
            return None, None
        score = None
        judged: dict = {}
        if status == OK and not warmup and gen is not None:
            if getattr(self.scorer, "measured", False):
                # A measured scorer (an LLM judge): its call is read like a window of its own, with the
                # counters at its edges, after the query's window has ended. Its energy is not the
                # query's: it stays in the segment's unattributed energy, so the bookkeeping still closes.
                j0 = edges.mark()
                score = self.scorer(q, gen.text)
                j1 = edges.mark()
                if getattr(score, "detail", None):  # the judge was called (not for a rule-scored kind)
                    sampler.wait_past(j1.t)
                    je = window_energy(counted, j0.t, j1.t, sample_period_s=sampler.period, edges=(j0, j1))
                    judged = dict(score.detail, judge_seconds=je.seconds, judge_energy_j=je.gross_j,
                                  judge_energy_source=je.source or None, judge_energy_quality=je.quality,
                                  judge_energy_boundary=je.boundary or None)
                    complete = getattr(self.scorer, "complete", None)  # e.g. a local judge's electricity
                    if complete is not None:
                        judged = complete(judged)
                    judged = {k: v for k, v in judged.items() if k in JUDGE_FIELDS}
            else:
                score = self.scorer(q, gen.text)
        traits = self.backend.traits
        wall = self.session.wall
        meta = getattr(q, "meta", None) or {}
        rec = QueryRecord(
            query_id=q.id, index=index, warmup=warmup, attempt=attempt, segment=self.session.segment,
            dataset=q.dataset, domain=q.domain, kind=q.kind,
            model=self.model_name, backend=traits.name, where=traits.where, accelerator=s.accelerator,
            status=status, error=error,
            correct=score.correct if score else None,
            prediction=score.prediction if score else None,
            scorer=score.scorer if score else None,
            score_note=_cut_note(score, gen, s.max_tokens),
            prompt=q.prompt, reference=q.reference, answer=gen.text if gen else None,
            prompt_tokens=gen.prompt_tokens if gen else None,
            output_tokens=gen.output_tokens if gen else None,
            counts_source=gen.counts_source if gen else None,
            prefill_tps=gen.prefill_tps if gen else None,
            decode_tps=gen.decode_tps if gen else None,
            finish_reason=gen.finish_reason if gen else None,
            peak_memory_bytes=gen.peak_memory_bytes if gen else None,
            wall_sent=wall(t0),
            wall_first=wall(gen.t_first) if gen else None,
            wall_last=wall(gen.t_last) if gen else None,
            wall_done=wall(t1),
            ttft_s=gen.ttft_s if gen else None,
            latency_s=we.seconds,
            energy_j=we.gross_j, energy_net_j=we.net_j, avg_power_w=we.avg_power_w,
            energy_by_domain=we.per_domain, energy_source=we.source or None, energy_quality=we.quality,
            energy_boundary=we.boundary or None, energy_flags=we.flags,
            prefill_energy_j=prefill.gross_j if prefill else None,
            decode_energy_j=decode.gross_j if decode else None,
            others_cpu_share=others,
            server_report=dict(gen.server) if gen else {},
            cloud_pred=meta.get("cloud_pred"),
            **judged,
        )
        if traits.remote and gen is not None and self.server_energy is not None:
            self._server_energy(rec)
        if self.coster is not None:
            try:
                rec.cost_usd, rec.cost_source = self.coster(rec)
            except Exception as e:  # a price problem never stops the run: the cost is N/A, with why
                rec.cost_usd, rec.cost_source = None, f"{type(e).__name__}: {e}"
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
        return rec, retry_wait

    # ---- the server's energy (remote backends) ----------------------------------------------------

    def _window(self, rec: QueryRecord) -> RemoteWindow:
        return RemoteWindow(query_id=rec.query_id, attempt=rec.attempt, wall_start=rec.wall_sent or 0.0,
                            wall_end=rec.wall_done or 0.0, model=self.model_name,
                            prompt_tokens=rec.prompt_tokens, output_tokens=rec.output_tokens)

    def _server_energy(self, rec: QueryRecord) -> None:
        assert self.server_energy is not None
        try:
            se = self.server_energy.window_energy(self._window(rec))
        except Exception as e:  # a telemetry problem never stops the run: N/A with why
            se = ServerEnergy(None, self.server_energy.name, UNAVAILABLE, "unstated",
                              note=f"{type(e).__name__}: {e}")
        if se is None:
            self._unsettled.append(rec)  # the telemetry after the window is not there yet
            rec.server_energy_source = self.server_energy.name
            rec.server_energy_quality = "pending"
        else:
            apply_server_energy(rec, se)

    def _settle_server_energy(self) -> None:
        """Windows whose server telemetry was not there when they ended: settled once it is, each as a
        "settle" journal line that updates its query record."""
        if not self._unsettled or self.server_energy is None:
            return
        pending, self._unsettled = self._unsettled, []
        self._emit(ev.Phase("settling", f"waiting for the server's telemetry of {len(pending)} "
                                        f"quer{'y' if len(pending) == 1 else 'ies'}"))
        try:
            got = self.server_energy.settle([self._window(r) for r in pending])
        except Exception as e:
            got = [ServerEnergy(None, self.server_energy.name, UNAVAILABLE, "unstated",
                                note=f"{type(e).__name__}: {e}") for _ in pending]
        for rec, se in zip(pending, got):
            apply_server_energy(rec, se)
            self.session.append({"type": "settle", "query_id": rec.query_id, "attempt": rec.attempt,
                                 "segment": rec.segment, **server_fields(rec)})

    def _segment_record(self) -> None:
        """This segment's energy bookkeeping so far (the last record of a segment wins): the total over
        the segment (counters read now, as every window reads them; power-only domains up to their latest
        sample), the windows counted, excluded (warm-up, skipped, failed), a duel partner's, and the rest,
        unattributed."""
        if self.sampler is None or self._seg_start is None:
            return
        counted = [x for x in self.counted_series() if x.domain.in_total]
        now = time.monotonic()
        lasts = [x.last_t for x in counted if x.last_t is not None]
        end = min(lasts) if lasts else now
        stale = max(2.0, 10 * self.sampler.period)
        # a domain whose sensor died stopped reading: the total cannot be complete, so it is N/A (a total
        # cut at the sensor's last reading would look like a real, smaller figure)
        dead = [x.domain.name for x in counted if x.last_t is None or now - x.last_t > stale]
        mark = self.edges.mark()
        if counted and all(x.domain.name in mark.values for x in counted):
            end = mark.t  # every counted domain read now
        if end <= self._seg_start:
            return  # nothing measured in this segment yet (a resume with nothing left to do)
        we = window_energy(counted, self._seg_start, end, edges=(self._seg_mark, mark)) \
            if counted and not dead else None
        total = we.gross_j if we is not None else None
        idle_j = None
        if self.idle_w and counted and all(x.domain.name in self.idle_w for x in counted):
            idle_j = sum(self.idle_w[x.domain.name] for x in counted) * (end - self._seg_start)
        srcs: list[str] = []
        bounds: list[str] = []
        for x in counted:
            if x.domain.source not in srcs:
                srcs.append(x.domain.source)
            if x.domain.boundary not in bounds:
                bounds.append(x.domain.boundary)
        windows = self._windows_counted + self._windows_excluded + self._windows_partner
        rec = {
            "type": "segment",
            "wall_start": self.session.wall(self._seg_start),
            "wall_end": self.session.wall(end),
            "seconds": end - self._seg_start,
            "total_j": total,
            "counted_j": self._windows_counted if self._windows_ok else None,
            "excluded_j": self._windows_excluded if self._windows_ok else None,
            "unattributed_j": (total - windows) if total is not None and self._windows_ok else None,
            "idle_j": idle_j,
            "dead_domains": dead,
            "source": "+".join(srcs),
            "quality": worst_quality([x.domain.quality for x in counted]) if counted else UNAVAILABLE,
            "boundary": "+".join(bounds),
            "faults": dict(self.sampler.faults),
            "observer": self._observer(),
        }
        if self.partner is not None:  # a duel: the other side's windows are in this machine's total too
            rec["partner_j"] = self._windows_partner if self._windows_ok else None
            rec["partner"] = self.partner
        self.session.append(rec)

    def _observer(self) -> dict | None:
        if self.observer is None:
            return None
        try:
            return self.observer()
        except Exception as e:  # a figure about the app must never stop the run
            return {"error": f"{type(e).__name__}: {e}"}
