"""The sampler thread: reads every sensor at a fixed rate and feeds the domain series.

It never blocks the caller. Readings are timestamped by the sensors with ``time.monotonic()``; the loop
schedules ticks on absolute deadlines so the rate does not drift. A sensor that raises is counted as a
fault for that tick and the loop goes on: its domains simply have no reading (N/A) for that tick.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from .energy import DomainSeries
from .sensors.base import Domain, Reading, SensorError

# a sink receives each tick's stored samples: [(t, domain_name, watts or None)]
Sink = Callable[[list[tuple[float, str, float | None]]], None]


class Sampler:
    def __init__(self, sensors: list, hz: float = 20.0, sinks: list[Sink] | None = None,
                 on_fault: Callable[[str, str], None] | None = None):
        if hz <= 0:
            raise ValueError("sample rate must be > 0 Hz")
        self.sensors = list(sensors)
        self.hz = float(hz)
        self.period = 1.0 / self.hz
        self.sinks = list(sinks or [])
        self.on_fault = on_fault
        self.series: dict[str, DomainSeries] = {}
        self._sensor_domains: list[tuple[Any, list[Domain]]] = []
        for s in self.sensors:
            doms = s.domains()
            self._sensor_domains.append((s, doms))
            for d in doms:
                self.series[d.name] = DomainSeries(d)
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.faults: dict[str, int] = {}
        self.last_error: dict[str, str] = {}
        self._dead: set[str] = set()
        self._waiting = 0  # threads in wait_past(): only then is the condition notified

    @property
    def domains(self) -> list[Domain]:
        return [s.domain for s in self.series.values()]

    def series_list(self) -> list[DomainSeries]:
        return list(self.series.values())

    def start(self) -> None:
        if self._thread is not None:
            return
        self.tick()  # a first reading now, so windows can start at once
        self._thread = threading.Thread(target=self._loop, name="ipwtui-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._cond:
            self._cond.notify_all()

    def _loop(self) -> None:
        next_t = time.monotonic() + self.period
        while not self._stop.is_set():
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # cheaper per wake-up than Event.wait; stop() waits at most one period
            if self._stop.is_set():
                break
            self.tick()
            next_t += self.period
            now = time.monotonic()
            if next_t < now:  # fell behind (suspended, overloaded): skip missed ticks, do not burst
                next_t = now + self.period

    def tick(self) -> None:
        """Read every sensor once and store what came back (this is the hot path: keep it lean)."""
        stored: list[tuple[float, str, float | None]] = []
        series = self.series
        for sensor, doms in self._sensor_domains:
            try:
                readings: list[Reading] = sensor.read()
            except (SensorError, OSError, ValueError, RuntimeError) as e:
                readings = []
                self._fault(getattr(sensor, "name", type(sensor).__name__), str(e) or type(e).__name__)
            for r in readings:
                ser = series.get(r.domain)
                if ser is not None:
                    out = ser.add(r)  # counts its own faults for unusable readings
                    stored.append((r.t, r.domain, out[1] if out else None))
            if len(readings) != len(doms):
                got = {r.domain for r in readings}
                now = time.monotonic()
                for d in doms:
                    if d.name not in got:
                        series[d.name].faults += 1
                        stored.append((now, d.name, None))  # N/A for this tick, never 0
        self.ticks += 1
        for sink in self.sinks:
            try:
                sink(stored)
            except Exception as e:  # a full disk must not stop the measurement
                self._fault("sink", str(e))
        if self._waiting:
            with self._cond:
                self._cond.notify_all()

    def _fault(self, name: str, msg: str) -> None:
        self.faults[name] = self.faults.get(name, 0) + 1
        self.last_error[name] = msg
        if self.on_fault is not None and name not in self._dead:
            self._dead.add(name)  # report once per sensor; the counts stay in self.faults
            try:
                self.on_fault(name, msg)
            except Exception:
                pass

    def wait_past(self, t: float, timeout: float | None = None) -> bool:
        """Block until every domain has a reading at or after t (or the timeout passes)."""
        if timeout is None:
            timeout = max(1.0, 4 * self.period)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting += 1
            try:
                return self._wait_locked(t, deadline)
            finally:
                self._waiting -= 1

    def _wait_locked(self, t: float, deadline: float) -> bool:
        while True:
            now = time.monotonic()
            # a domain that has been silent for a while (a failed sensor) is not waited for
            live = [s for s in self.series.values()
                    if s.last_t is not None and now - s.last_t < max(2.0, 10 * self.period)]
            if all((s.last_t or 0.0) >= t for s in live):
                return True
            left = deadline - now
            if left <= 0 or self._stop.is_set():
                return False
            self._cond.wait(left)
