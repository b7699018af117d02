"""Energy of a time window from a domain's readings: the one place where joules are computed.

A domain with a cumulative counter (RAPL, NVML total energy, IOReport, amdsmi, the CPU-time estimate...)
is read synchronously at the window's edges, as Zeus does (``EdgeReader``): the window's energy is the
difference of the two readings, with no interpolation across the power step the query itself causes.

Every domain also keeps the sampler's series of (t, cumulative joules, watts), for the graph, for domains
that only report power, and as the fallback when an edge read fails. For a counter the cumulative joules
are the counter itself and watts are derived from successive deltas; for a power-only domain they are the
running trapezoid integral of the samples. From the series, the energy of [a, b] is cum(b) - cum(a), with
cum() interpolated inside a sample interval: linearly for a counter, and as the exact integral of the
linearly interpolated power for sampled power (the trapezoid with interpolated window edges).
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from typing import cast

from .sensors.base import UNAVAILABLE, Domain, Reading, worst_quality


class DomainSeries:
    """The readings of one domain, appended by the sampler thread, read by the runner."""

    def __init__(self, domain: Domain):
        self.domain = domain
        self.t: list[float] = []
        self.cum: list[float] = []  # joules since the first reading
        self.watts: list[float | None] = []  # power at each reading (None: a counter's first reading)
        self.faults = 0  # ticks where the sensor gave nothing for this domain
        self._e0: float | None = None  # the counter's first value
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.t)

    def add(self, r: Reading) -> tuple[float, float | None] | None:
        """Append a reading; returns (t, watts) as stored, or None when the reading was unusable."""
        with self._lock:
            if self.t and r.t <= self.t[-1]:
                return None
            if self.domain.has_counter:
                if r.energy_j is None:
                    self.faults += 1
                    return None
                if self._e0 is None:
                    self._e0 = r.energy_j
                cum = r.energy_j - self._e0
                if self.t and cum < self.cum[-1]:  # a counter never goes back (the sensor unwraps)
                    self.faults += 1
                    return None
                w = r.watts
                if w is None and self.t:
                    w = (cum - self.cum[-1]) / (r.t - self.t[-1])
            else:
                if r.watts is None:
                    self.faults += 1
                    return None
                w = r.watts
                if self.t:
                    prev_w = cast(float, self.watts[-1])  # a power-only domain stores no None
                    cum = self.cum[-1] + (r.t - self.t[-1]) * (prev_w + w) / 2.0
                else:
                    cum = 0.0
            self.t.append(r.t)
            self.cum.append(cum)
            self.watts.append(w)
            return r.t, w

    @property
    def last_t(self) -> float | None:
        return self.t[-1] if self.t else None

    def cum_at(self, x: float) -> float | None:
        """Cumulative joules at time x, interpolated; None outside the readings."""
        with self._lock:
            t, cum, w = self.t, self.cum, self.watts
            n = len(t)
            if n == 0 or x < t[0] or x > t[-1]:
                return None
            k = bisect.bisect_right(t, x) - 1
            if k >= n - 1:
                return cum[-1]
            t0, t1 = t[k], t[k + 1]
            f = (x - t0) / (t1 - t0)
            if self.domain.has_counter:
                return cum[k] + f * (cum[k + 1] - cum[k])
            p0, p1 = cast(float, w[k]), cast(float, w[k + 1])
            px = p0 + f * (p1 - p0)
            return cum[k] + (x - t0) * (p0 + px) / 2.0

    def max_gap(self, a: float, b: float) -> float:
        """The longest interval between readings that overlaps [a, b]."""
        with self._lock:
            t = self.t
            if not t:
                return float("inf")
            i = max(bisect.bisect_right(t, a) - 1, 0)
            j = min(bisect.bisect_left(t, b), len(t) - 1)
            gaps = [t[k + 1] - t[k] for k in range(i, j)]
            return max(gaps) if gaps else 0.0

    def tail(self, since_t: float | None = None) -> tuple[list[float], list[float | None]]:
        """A consistent copy of the readings with t >= since_t (all of them when None), for display."""
        with self._lock:
            i = 0 if since_t is None else bisect.bisect_left(self.t, since_t)
            return self.t[i:], self.watts[i:]

    def power_between(self, a: float, b: float) -> list[float]:
        """Power readings with a <= t <= b (for the idle median)."""
        with self._lock:
            i = bisect.bisect_left(self.t, a)
            j = bisect.bisect_right(self.t, b)
            return [w for w in self.watts[i:j] if w is not None]


@dataclass(frozen=True)
class EdgeMark:
    """Counter values read synchronously at one window edge: domain -> (t of its read, cumulative J)."""

    t: float  # monotonic time the mark was taken (before the first read)
    values: dict[str, tuple[float, float]] = field(default_factory=dict)


class EdgeReader:
    """Reads every counted counter domain at once, at a window edge (start, first token, end)."""

    def __init__(self, sensors: list, domains: list[Domain]):
        names = {d.name for d in domains if d.has_counter and d.in_total}
        self._pairs: list[tuple[object, set[str]]] = []
        for sensor in sensors:
            mine = {d.name for d in sensor.domains()} & names
            if mine:
                self._pairs.append((sensor, mine))

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def mark(self) -> EdgeMark:
        t = time.monotonic()
        values: dict[str, tuple[float, float]] = {}
        for sensor, names in self._pairs:
            try:
                readings = sensor.read()  # type: ignore[attr-defined]
            except Exception:  # a failed edge read: that domain falls back to the sampler's series
                continue
            for r in readings:
                if r.domain in names and r.energy_j is not None:
                    values[r.domain] = (r.t, r.energy_j)
        return EdgeMark(t, values)


@dataclass
class WindowEnergy:
    """Energy of one window over the domains that count toward a total."""

    t0: float
    t1: float
    per_domain: dict[str, float | None] = field(default_factory=dict)
    gross_j: float | None = None
    net_j: float | None = None
    source: str = ""  # "+"-joined sources of the summed domains
    quality: str = UNAVAILABLE
    boundary: str = ""  # "+"-joined boundaries of the summed domains (what the figure covers)
    flags: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0

    @property
    def avg_power_w(self) -> float | None:
        if self.gross_j is None or self.seconds <= 0:
            return None
        return self.gross_j / self.seconds


def _flag(we: WindowEnergy, flag: str) -> None:
    if flag not in we.flags:
        we.flags.append(flag)


def window_energy(
    series: list[DomainSeries],
    t0: float,
    t1: float,
    idle_w: dict[str, float] | None = None,
    sample_period_s: float = 0.05,
    edges: tuple[EdgeMark, EdgeMark] | None = None,
) -> WindowEnergy:
    """Energy of [t0, t1] summed over the domains marked ``in_total``.

    A counter domain read at both edges (``edges``) gives the difference of those two readings; any other
    domain is taken from its series. A domain whose readings do not cover the window gives None for
    itself; the total is None (N/A) when any counted domain is missing, since a partial sum would look
    like a real, smaller figure.
    """
    we = WindowEnergy(t0=t0, t1=t1)
    counted = [s for s in series if s.domain.in_total]
    if not counted:
        we.flags.append("no-sensor")
        return we
    total = 0.0
    missing = False
    qualities: list[str] = []
    sources: list[str] = []
    boundaries: list[str] = []
    idle_total = 0.0
    for s in counted:
        d = s.domain
        if d.boundary not in boundaries:
            boundaries.append(d.boundary)
        e: float | None = None
        if edges is not None and d.name in edges[0].values and d.name in edges[1].values:
            (ta, ea), (tb, eb) = edges[0].values[d.name], edges[1].values[d.name]
            if eb >= ea:  # a counter never goes back (the sensor unwraps)
                e = eb - ea
                if tb - ta < 2.0 * (d.period_s or 0.0):
                    _flag(we, "short-window")
        if e is None:
            a, b = s.cum_at(t0), s.cum_at(t1)
            if a is None or b is None:
                we.per_domain[d.name] = None
                missing = True
                continue
            e = b - a
            if d.has_counter and edges is not None:
                _flag(we, "edge-read-failed")  # interpolated between samples instead
            if t1 - t0 < 2.0 * max(d.period_s or 0.0, sample_period_s):
                _flag(we, "short-window")
            if s.max_gap(t0, t1) > 3.0 * max(sample_period_s, d.period_s or 0.0) + 0.25:
                _flag(we, "sample-gap")
        we.per_domain[d.name] = e
        total += e
        qualities.append(d.quality)
        if d.source not in sources:
            sources.append(d.source)
        for f in d.flags:  # e.g. "wrap-unknown": the domain's own caveat travels with every window on it
            _flag(we, f)
        if idle_w is not None and d.name in idle_w:
            idle_total += idle_w[d.name]
    we.source = "+".join(sources)
    we.boundary = "+".join(boundaries)
    if missing:
        we.flags.append("domain-missing")
        we.quality = UNAVAILABLE
        return we
    we.gross_j = total
    we.quality = worst_quality(qualities) if qualities else UNAVAILABLE
    if idle_w is not None:
        we.net_j = total - idle_total * (t1 - t0)
    return we


def idle_baseline(series: list[DomainSeries], t0: float, t1: float) -> dict[str, float]:
    """Median power per domain over [t0, t1]: the idle baseline P_idle."""
    out: dict[str, float] = {}
    for s in series:
        ws = sorted(s.power_between(t0, t1))
        if not ws:
            continue
        n = len(ws)
        out[s.domain.name] = ws[n // 2] if n % 2 else (ws[n // 2 - 1] + ws[n // 2]) / 2.0
    return out


__all__ = ["DomainSeries", "EdgeMark", "EdgeReader", "WindowEnergy", "window_energy", "idle_baseline"]
