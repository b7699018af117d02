"""What the run screen shows, kept from the runner's events (plain Python: no Textual here).

The runner calls its listener from its own thread. Token events (up to a few hundred a second) go into a
``TokenBuffer`` that the UI drains on a timer; every other event is handed to the UI thread as a message
and applied here with ``LiveState.apply``. Nothing here computes a metric: the running figures are the
``metrics`` the core attaches to each ``QueryFinished``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ..core import events as ev
from ..core.record import ERROR, final_attempts
from ..core.sensors.base import MEASURED, UNAVAILABLE, worst_quality


@dataclass
class PastRecords:
    """Not a core event: the query records of a resumed session's earlier segments."""

    records: list


class TokenBuffer:
    """Token pieces from the runner thread, drained by the UI thread a few times a second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[int, str, float]] = []  # (query serial, text, monotonic t)
        self.serial = 0  # bumped by the runner thread at each QueryStarted

    def push(self, text: str, t: float) -> None:
        with self._lock:
            self._items.append((self.serial, text, t))

    def new_query(self) -> None:
        with self._lock:
            self.serial += 1

    def drain(self) -> list[tuple[int, str, float]]:
        with self._lock:
            items, self._items = self._items, []
        return items


@dataclass
class LiveState:
    energy_view: str = "gross"
    model_name: str = ""
    backend: str = ""
    accelerator: str = ""
    phase: str = "preparing"
    phase_detail: str = ""
    folder: str = ""
    total: int = 0
    done_before: int = 0  # finished in earlier segments (resume)
    domains: list = field(default_factory=list)  # [Domain]
    counted: list = field(default_factory=list)  # names of domains summed into query energy
    idle_w: dict = field(default_factory=dict)
    idle_seconds: float | None = None
    records: list = field(default_factory=list)  # non-warm-up query records, in order of arrival
    past_records: list = field(default_factory=list)  # a resumed session's earlier records
    warmups: int = 0
    # {"gross": Metrics, "net": Metrics}; once the run is over, the summary's (the same as dicts)
    metrics: dict = field(default_factory=dict)
    current: object = None  # the QueryStarted of the query streaming now (or the last one)
    in_flight: bool = False  # a query is being answered now
    serial: int = 0  # which query the answer below belongs to
    answer: str = ""
    token_times: deque = field(default_factory=lambda: deque(maxlen=4096))
    tokens_now: int = 0
    faults: list = field(default_factory=list)  # (sensor, message)
    status: str | None = None  # "finished", "stopped", "interrupted" once the run is over
    failure: str | None = None
    summary: dict | None = None
    _early: list = field(default_factory=list, repr=False)

    # ---- events ---------------------------------------------------------------------------------

    def apply(self, e) -> None:
        if isinstance(e, ev.SessionStarted):
            self.folder = e.folder
            self.total = e.total
            self.done_before = e.done
            self.domains = list(e.domains)
            self.counted = list(e.counted_domains)
        elif isinstance(e, ev.Phase):
            self.phase, self.phase_detail = e.name, e.detail
        elif isinstance(e, ev.IdleMeasured):
            self.idle_w = dict(e.idle_w)
            self.idle_seconds = e.seconds
        elif isinstance(e, ev.QueryStarted):
            self.current = e
            self.in_flight = True
            self.serial += 1
            self.answer = ""
            self.tokens_now = 0
            self.token_times.clear()
            if self._early:
                self.add_tokens([])
        elif isinstance(e, ev.QueryFinished):
            self.in_flight = False
            if e.record.warmup:
                self.warmups += 1
            else:
                self.records.append(e.record)
            if e.metrics:
                self.metrics = e.metrics
        elif isinstance(e, PastRecords):
            self.past_records = list(e.records)
        elif isinstance(e, ev.SensorFault):
            self.faults.append((e.sensor, e.message))
        elif isinstance(e, ev.RunFinished):
            self.status = e.status
            self.summary = e.summary
            final = (e.summary or {}).get("metrics")
            if final:  # the session's own figures (summary.json's, with its full bootstrap), not the live ones
                self.metrics = dict(final)
            self.phase = e.status
            self.current = None
            self.in_flight = False
        elif isinstance(e, ev.RunFailed):
            self.failure = e.message
            self.phase = "failed"

    def add_tokens(self, items: list[tuple[int, str, float]]) -> bool:
        """Drained token pieces; those of an earlier query are dropped. True when the answer changed."""
        changed = False
        items = self._early + items
        self._early = []
        for serial, text, t in items:
            if serial > self.serial:  # its QueryStarted message has not been applied yet
                self._early.append((serial, text, t))
                continue
            if serial < self.serial:
                continue
            self.answer += text
            self.tokens_now += 1
            self.token_times.append(t)
            changed = True
        return changed

    # ---- what the screen reads ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.status is None and self.failure is None

    @property
    def all_records(self) -> list:
        return self.past_records + self.records

    @property
    def done(self) -> int:
        """Queries finished (a query tried again after a failed attempt counts once; its attempts are
        rows of their own)."""
        past = {r.query_id for r in self.past_records}
        new = {r.query_id for r in self.records} - past
        return max(self.done_before, len(past)) + len(new)

    @property
    def errors(self) -> int:
        """Queries whose last attempt so far failed."""
        return sum(1 for r in final_attempts(self.all_records) if r.status == ERROR)

    @property
    def counted_domains(self) -> list:
        return [d for d in self.domains if d.name in self.counted]

    @property
    def energy_quality(self) -> str:
        """The worst quality of the domains summed into query energy (unavailable when none)."""
        qs = [d.quality for d in self.counted_domains]
        return worst_quality(qs) if qs else UNAVAILABLE

    @property
    def energy_source(self) -> str:
        srcs: list[str] = []
        for d in self.counted_domains:
            if d.source not in srcs:
                srcs.append(d.source)
        return "+".join(srcs)

    @property
    def estimated(self) -> bool:
        return self.energy_quality != MEASURED

    def live_rate(self, now: float | None = None, window: float = 1.0) -> float | None:
        """Streamed pieces per second over the last ``window`` seconds (None before the first piece)."""
        if not self.token_times:
            return None
        now = time.monotonic() if now is None else now
        if now - self.token_times[-1] > 2 * window:
            return 0.0
        n = sum(1 for t in self.token_times if t > now - window)
        first = self.token_times[0]
        span = min(window, max(now - first, 1e-3))
        return n / span

    def eta_seconds(self) -> float | None:
        """Time left at the pace of this segment's finished queries (wall clock, scoring included)."""
        seg = [r for r in self.records if r.wall_sent and r.wall_done]
        if len(seg) < 1:
            return None
        last_seg = max(r.segment for r in seg)
        seg = [r for r in seg if r.segment == last_seg]
        span = seg[-1].wall_done - seg[0].wall_sent
        pace = span / len(seg) if len(seg) > 1 else seg[0].wall_done - seg[0].wall_sent
        left = max(self.total - self.done, 0)
        return pace * left
