"""Energy of a time window from a domain's readings: the one place where joules are computed.

Each domain keeps a series of (t, cumulative joules, watts). For a domain with a hardware counter the
cumulative joules are the counter itself and watts are derived from successive deltas; for a domain that
only reports power the cumulative joules are the running trapezoid integral of the power samples. The
energy of a window [a, b] is then cum(b) - cum(a), where cum() is interpolated inside a sample interval:
linearly for a counter (constant power between two reads), and as the exact integral of the linearly
interpolated power for sampled power (the trapezoid with interpolated window edges).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

from .sensors.base import UNAVAILABLE, Domain, Reading, worst_quality


class DomainSeries:
    """The readings of one domain, appended by the sampler thread, read by the runner."""

    def __init__(self, domain: Domain):
        self.domain = domain
        self.t: list[float] = []
        self.cum: list[float] = []  # joules since the first reading
        self.watts: list[float | None] = []
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
                    prev_w = self.watts[-1]
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
            p0, p1 = w[k], w[k + 1]
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
    flags: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0

    @property
    def avg_power_w(self) -> float | None:
        if self.gross_j is None or self.seconds <= 0:
            return None
        return self.gross_j / self.seconds


def window_energy(
    series: list[DomainSeries],
    t0: float,
    t1: float,
    idle_w: dict[str, float] | None = None,
    sample_period_s: float = 0.05,
) -> WindowEnergy:
    """Energy of [t0, t1] summed over the domains marked ``in_total``.

    A domain whose readings do not cover the window gives None for itself; the total is None (N/A) when
    any counted domain is missing, since a partial sum would look like a real, smaller figure.
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
    idle_total = 0.0
    for s in counted:
        a, b = s.cum_at(t0), s.cum_at(t1)
        if a is None or b is None:
            we.per_domain[s.domain.name] = None
            missing = True
            continue
        e = b - a
        we.per_domain[s.domain.name] = e
        total += e
        qualities.append(s.domain.quality)
        if s.domain.source not in sources:
            sources.append(s.domain.source)
        resolution = 2.0 * max(s.domain.period_s or 0.0, sample_period_s)
        if t1 - t0 < resolution and "short-window" not in we.flags:
            we.flags.append("short-window")
        if s.max_gap(t0, t1) > 3.0 * max(sample_period_s, s.domain.period_s or 0.0) + 0.25:
            if "sample-gap" not in we.flags:
                we.flags.append("sample-gap")
        if idle_w is not None and s.domain.name in idle_w:
            idle_total += idle_w[s.domain.name]
    we.source = "+".join(sources)
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


__all__ = ["DomainSeries", "WindowEnergy", "window_energy", "idle_baseline"]
