"""A duel: each query to two targets, one after the other, each side into its own session.

The stage demo of local against cloud (or any two targets): both sides answer every query, the side that
goes first alternates from one query to the next so that a drift of the machine (temperature, other
programs, a server warming up) does not favour one side, and the two sessions are joined afterwards by
query id (``ipwtui compare``). One sampler reads the sensors for both sides and writes its samples into
both sessions; one idle baseline is measured and recorded in both. Each side keeps its own windows,
energies, retries and bookkeeping: a duel session is an ordinary session that says who its partner was.
"""

from __future__ import annotations

import functools
import time
from typing import Callable

from . import events as ev
from .runner import Runner
from .sampler import Sampler

SIDES = ("A", "B")


class DuelRunner:
    def __init__(self, a: Runner, b: Runner, listener: Callable[[str, object], None] | None = None):
        """``a`` and ``b``: runners of the two sides over the same queries and the same sensors; their
        events reach ``listener(side, event)`` (side "A" or "B")."""
        if [q.id for q in a.queries] != [q.id for q in b.queries]:
            raise ValueError("the two sides of a duel must run the same queries in the same order")
        self.a, self.b = a, b
        self.sides = {"A": a, "B": b}
        a.partner, b.partner = str(b.session.folder), str(a.session.folder)
        if listener is not None:
            a.listener = lambda e: listener("A", e)
            b.listener = lambda e: listener("B", e)
        self.status = "created"

    # ---- controls (any thread): both sides at once ----------------------------------------------------

    def stop(self) -> None:
        for r in (self.a, self.b):
            r.stop()

    def pause(self) -> None:
        for r in (self.a, self.b):
            r.pause()

    def resume(self) -> None:
        for r in (self.a, self.b):
            r.resume()

    def skip(self) -> None:
        for r in (self.a, self.b):
            r.skip()

    @property
    def paused(self) -> bool:
        return self.a.paused

    def _stopped(self) -> bool:
        return self.a.ctl.stop.is_set() or self.b.ctl.stop.is_set()

    # ---- the duel ------------------------------------------------------------------------------------

    def _on_one_side(self, side: str, work: Callable[[], object]) -> None:
        """Run one side's windows; their energy is on the same sensors as the other side's bookkeeping: it
        is charged there as the partner's windows, neither that session's queries nor unattributed."""
        me = self.sides[side]
        other = self.b if me is self.a else self.a
        before = me._windows_counted + me._windows_excluded
        ok = me._windows_ok
        work()
        if ok and not me._windows_ok:
            other.add_partner_window(None)  # a window on it had no energy: the other's rest is N/A too
        else:
            other.add_partner_window(me._windows_counted + me._windows_excluded - before)

    def run(self) -> tuple[dict, dict]:
        """Run both sides to the end (or until either is stopped). Returns both summaries."""
        a, b = self.a, self.b
        s = a.settings
        def fault(name: str, message: str) -> None:
            for r in (a, b):
                r._emit(ev.SensorFault(name, message))

        sampler = Sampler(a.sensors, hz=s.sample_hz, sinks=[a.session.power_sink, b.session.power_sink],
                          on_fault=fault)
        status = {"A": "interrupted", "B": "interrupted"}
        opened: list[Runner] = []
        try:
            for r in (a, b):
                r.open(sampler)
                opened.append(r)
            sampler.start()
            todo = {"A": a.start(), "B": b.start()}
            if s.idle_seconds > 0 and (todo["A"] or todo["B"]):
                t0 = time.monotonic()
                a.measure_idle(s.idle_seconds)
                b.adopt_idle(a.idle_w, t0, time.monotonic())
            for r in (a, b):
                r.begin_bookkeeping()
            for side in SIDES:
                self._on_one_side(side, functools.partial(self.sides[side].warm_up, todo[side]))
            for r in (a, b):
                r._emit(ev.Phase("running"))
            pending = {side: {q.id for q in todo[side]} for side in SIDES}
            for k, q in enumerate(a.queries):
                a.ctl.running.wait()
                b.ctl.running.wait()
                if self._stopped():
                    break
                order = SIDES if k % 2 == 0 else SIDES[::-1]
                for side in order:
                    if q.id in pending[side] and not self._stopped():
                        r = self.sides[side]
                        self._on_one_side(side, functools.partial(r._query, q, k, warmup=False))
                        pending[side].discard(q.id)
                        r._gap()
            for r in (a, b):
                r._settle_server_energy()
            for side in SIDES:
                r = self.sides[side]
                status[side] = "stopped" if self._stopped() and r.pending() else "finished"
        except KeyboardInterrupt:
            raise
        except Exception as e:
            for r in (a, b):
                r._emit(ev.RunFailed(f"{type(e).__name__}: {e}"))
            raise
        finally:
            sampler.stop()
            for r in opened:
                r.close(status["A" if r is a else "B"])
            self.status = "finished" if all(v == "finished" for v in status.values()) else \
                "stopped" if "interrupted" not in status.values() else "interrupted"
        return a.finish(status["A"]), b.finish(status["B"])
