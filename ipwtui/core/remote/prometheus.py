"""A remote server's energy read from its own telemetry in Prometheus (dcgm-exporter, node_exporter...).

Raw samples, never ``increase()``/``rate()``: those extrapolate to the window edges. For a window
[t0, t1] one instant query of a range selector (``SELECTOR[Nms]`` at a time after t1) returns the samples
Prometheus scraped around it, series by series:
- an energy **counter** (J, or mJ for ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION``) is interpolated linearly at
  t0 and t1 and differenced; a sample lower than the one before is a counter reset, whose pre-reset value
  is added back. The counter only grows between two samples, so the samples around each edge also bound
  the figure: that is the range (``low_j``, ``high_j``);
- a **power gauge** (W: ``DCGM_FI_DEV_POWER_USAGE``, ``*_watts``) is integrated with the trapezoid rule,
  the edges interpolated.
Several series matching the selector (several GPUs) are computed one by one, then summed. The figure is
gross: everything inside the boundary drew in the window, idle power and other clients' requests served
at the same time (batching) included.

Timing. The scrape interval is estimated from the samples' spacing (median). A window shorter than two
intervals keeps its figure but is flagged ``short-window`` (coarse). A window is known once a sample
after its end exists: ``window_energy`` waits for it a little (at most 1.5 intervals and ``max_wait_s``),
else returns None and ``settle`` computes it later, or gives N/A with the reason.

Clocks. Prometheus stamps samples with its own clock; the windows are in this machine's clock. ``check``
reads Prometheus's clock (``time()``) and the offset found is applied to the windows (recorded in
``describe``, with its uncertainty, half the round trip). An exporter that refreshes its values more
slowly than Prometheus scrapes them (dcgm-exporter collects every 30 s unless told ``-c 1000``) lags by up
to its own period: lower it to the scrape interval.

Boundary. DCGM metrics cover the server's GPUs (``server-accelerator``); node_exporter's RAPL counters
(``node_rapl_*``) cover only its CPU packages/DRAM: ``server-cpu``, never the whole server. Other names
are ``unstated`` unless the caller says what they cover.

Errors never raise out of ``window_energy``/``settle``: a window gets N/A (``joules`` None, quality
``unavailable``) with a one-line reason. Credentials in the URL (``user:pass@``) are sent as HTTP basic
auth and never appear in ``describe`` or a message.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import re
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from ..sensors.base import UNAVAILABLE
from . import MEASURED_REMOTE, SERVER_ACCELERATOR, SERVER_CPU, UNSTATED, RemoteWindow, ServerEnergy

SOURCE = "prometheus"
SHORT_WINDOW = "short-window"
TELEMETRY_GAP = "telemetry-gap"

COUNTER, GAUGE = "counter", "gauge"
# unit -> (kind, factor to joules or watts)
UNITS: dict[str, tuple[str, float]] = {
    "J": (COUNTER, 1.0), "mJ": (COUNTER, 1e-3), "uJ": (COUNTER, 1e-6), "kJ": (COUNTER, 1e3),
    "Wh": (COUNTER, 3600.0), "kWh": (COUNTER, 3.6e6),
    "W": (GAUGE, 1.0), "mW": (GAUGE, 1e-3), "kW": (GAUGE, 1e3),
}
# exact names: (kind, unit, boundary). DCGM energy is mJ since boot (dcgm-exporter default-counters.csv).
KNOWN_METRICS: dict[str, tuple[str, str, str]] = {
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": (COUNTER, "mJ", SERVER_ACCELERATOR),
    "DCGM_FI_DEV_POWER_USAGE": (GAUGE, "W", SERVER_ACCELERATOR),
    "DCGM_FI_DEV_POWER_USAGE_INSTANT": (GAUGE, "W", SERVER_ACCELERATOR),
}
# Prometheus naming conventions: base units in the name's suffix
SUFFIXES: tuple[tuple[str, str, str], ...] = (
    ("_joules_total", COUNTER, "J"),
    ("_joules", COUNTER, "J"),
    ("_watts", GAUGE, "W"),
)

# (status, body) for a GET of a URL with headers, within timeout seconds; raises OSError when unreachable
HttpGet = Callable[[str, float, dict[str, str]], tuple[int, bytes]]

_MAX_BODY = 64 * 1024 * 1024
_PROBE_LOOKBACK_S = 300.0
_GROUP_SPAN_S = 900.0  # settle fetches pending windows in groups spanning at most this long

_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_MATCHER = rf'\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*(?:{_STRING})\s*'
_SELECTOR_RE = re.compile(rf'^\s*(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)?\s*'
                          rf'(?P<labels>\{{(?:{_MATCHER}(?:,{_MATCHER})*,?)?\s*\}})?\s*$')
_NAME_MATCHER_RE = re.compile(r'__name__\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')


def urllib_get(url: str, timeout: float, headers: dict[str, str]) -> tuple[int, bytes]:
    """The default HTTP getter (stdlib only). Proxies from the environment are not used for loopback."""
    host = urllib.parse.urlsplit(url).hostname or ""
    handlers = []
    if host == "localhost" or host == "::1" or host.startswith("127."):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read(_MAX_BODY)
    except urllib.error.HTTPError as e:
        try:
            return e.code, e.read(_MAX_BODY)
        finally:
            e.close()


class _PromError(Exception):
    """A one-line problem with Prometheus. ``transient``: worth trying again later (down, 5xx, timeout)."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class _Missing(Exception):
    """A series has no sample on one side of a window edge."""

    def __init__(self, side: str):  # "before" the start or "after" the end
        super().__init__(side)
        self.side = side


@dataclass
class _Series:
    labels: dict[str, str]
    samples: list[tuple[float, float]]  # (server time, value), time order, finite values only


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def metric_name(selector: str) -> str | None:
    """The metric name of a plain selector (``name{...}`` or ``{__name__="name",...}``), else None."""
    m = _SELECTOR_RE.match(selector)
    if not m:
        return None
    if m.group("name"):
        return m.group("name")
    n = _NAME_MATCHER_RE.search(m.group("labels") or "")
    return (n.group(1) or n.group(2)) if n else None


def detect(name: str | None) -> tuple[str, str, str] | None:
    """(kind, unit, boundary) for a known metric name or a conventional suffix, else None."""
    if not name:
        return None
    if name in KNOWN_METRICS:
        return KNOWN_METRICS[name]
    boundary = SERVER_CPU if name.startswith("node_rapl_") else UNSTATED
    for suffix, kind, unit in SUFFIXES:
        if name.endswith(suffix):
            return kind, unit, boundary
    return None


def _interp(samples: list[tuple[float, float]], t: float) -> tuple[float, int, int]:
    """The value at t, linear between the samples around it, and the indexes of those two samples."""
    if not samples or samples[0][0] > t:
        raise _Missing("before")
    if samples[-1][0] < t:
        raise _Missing("after")
    lo, hi = 0, len(samples) - 1
    while hi - lo > 1:  # samples[lo].t <= t <= samples[hi].t
        mid = (lo + hi) // 2
        if samples[mid][0] <= t:
            lo = mid
        else:
            hi = mid
    (ta, va), (tb, vb) = samples[lo], samples[hi]
    if t <= ta or tb == ta:
        return va, lo, lo
    if t >= tb:
        return vb, hi, hi
    return va + (vb - va) * (t - ta) / (tb - ta), lo, hi


def _unreset(samples: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A counter with its resets undone: after a drop, the value before the drop is added to what follows."""
    out, offset, prev = [], 0.0, None
    for t, v in samples:
        if prev is not None and v < prev:
            offset += prev
        out.append((t, v + offset))
        prev = v
    return out


def counter_delta(samples: list[tuple[float, float]], t0: float, t1: float) -> tuple[float, float, float]:
    """(delta, low, high) of a counter over [t0, t1] in its own unit: interpolated at the edges, resets
    undone; low/high bound it with the samples around each edge (the counter never falls between two)."""
    adj = _unreset(samples)
    c0, a0, b0 = _interp(adj, t0)
    c1, a1, b1 = _interp(adj, t1)
    low = max(0.0, adj[a1][1] - adj[b0][1])
    high = adj[b1][1] - adj[a0][1]
    return c1 - c0, min(low, c1 - c0), max(high, c1 - c0)


def gauge_integral(samples: list[tuple[float, float]], t0: float, t1: float) -> float:
    """The trapezoid integral of a gauge over [t0, t1] in its unit x seconds, the edges interpolated."""
    p0, _, _ = _interp(samples, t0)
    p1, _, _ = _interp(samples, t1)
    pts = [(t0, p0)] + [(t, v) for t, v in samples if t0 < t < t1] + [(t1, p1)]
    return sum((tb - ta) * (va + vb) / 2 for (ta, va), (tb, vb) in zip(pts, pts[1:]))


def median_interval(series: list[_Series]) -> float | None:
    """The median spacing of consecutive samples over all series (None with fewer than two samples)."""
    gaps = [b[0] - a[0] for s in series for a, b in zip(s.samples, s.samples[1:]) if b[0] > a[0]]
    return statistics.median(gaps) if gaps else None


class PrometheusEnergy:
    """The server energy of remote windows from a Prometheus energy counter or power gauge (``name``
    "prometheus"). See the module's docstring for the method."""

    name = SOURCE

    def __init__(self, url: str, query: str, *, kind: str | None = None, unit: str | None = None,
                 boundary: str | None = None, timeout_s: float = 5.0, max_wait_s: float = 3.0,
                 correct_clock: bool = True, get: HttpGet | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        """``url``: the Prometheus server (``http[s]://[user:pass@]host:port[/prefix]``); ``query``: a plain
        selector; ``kind``/``unit``: needed for names that do not say (a counter in J, mJ... or a gauge in
        W); ``boundary``: what the metric covers, when not the default; ``timeout_s``: per HTTP request;
        ``max_wait_s``: the most ``window_energy`` waits for the scrape after a window. ``get``, ``clock``
        and ``sleep`` are injectable for tests. Raises ValueError (one line) on a bad URL, query or unit."""
        self._url, self._headers, self._secrets = _split_credentials(url)
        self.query = query.strip()
        if not _SELECTOR_RE.match(self.query) or not self.query:
            raise ValueError(f"Prometheus query {_one_line(self.query, 80)!r} is not a plain selector "
                             f"(a metric name with optional {{labels}}): raw samples are read from it, "
                             f"without rate()/increase()")
        self.metric = metric_name(self.query)
        self.kind, self.unit, default_boundary = _resolve_kind(self.metric, kind, unit)
        self._factor = UNITS[self.unit][1]
        self.boundary = boundary or default_boundary
        if not timeout_s > 0 or not max_wait_s >= 0:
            raise ValueError("Prometheus timeout must be > 0 s and the wait >= 0 s")
        self.timeout_s = float(timeout_s)
        self.max_wait_s = float(max_wait_s)
        self.correct_clock = correct_clock
        self._get: HttpGet = get or urllib_get
        self._clock = clock
        self._sleep = sleep
        self.interval_s: float | None = None  # the scrape interval, estimated from the samples
        self.series: int | None = None  # how many series the selector matched at the last fetch
        self.clock_offset_s: float | None = None  # Prometheus's clock minus ours
        self.clock_offset_uncertainty_s: float | None = None
        self._ready = False

    # ---- the protocol ----
    def describe(self) -> dict:
        return {
            "name": self.name, "quality": MEASURED_REMOTE, "boundary": self.boundary, "url": self._url,
            "query": self.query, "metric": self.metric, "kind": self.kind, "unit": self.unit,
            "method": ("raw samples (instant query of a range selector); "
                       + ("counter interpolated at the window edges and differenced, resets undone"
                          if self.kind == COUNTER else "gauge integrated (trapezoid), edges interpolated")),
            "scope": "gross: all the boundary drew in the window, idle power and concurrent requests included",
            "scrape_interval_s": self.interval_s, "series": self.series,
            "clock_offset_s": self.clock_offset_s, "clock_offset_uncertainty_s": self.clock_offset_uncertainty_s,
            "clock_corrected": self.correct_clock, "timeout_s": self.timeout_s, "max_wait_s": self.max_wait_s,
        }

    def check(self) -> str | None:
        """Validate the URL and query once before a run: None when Prometheus answers, the selector matches
        series with at least two samples in the last 5 min (which gives the scrape interval), and its clock
        was read; else a one-line problem."""
        try:
            self._probe()
        except _PromError as e:
            return self._scrub(str(e))
        return None

    def window_energy(self, window: RemoteWindow) -> ServerEnergy | None:
        """The window's energy; None when the scrape after its end has not come within the short wait (or
        Prometheus did not answer just now): ``settle`` it later."""
        try:
            self._ensure_ready()
            wait = min(1.5 * (self.interval_s or 0.0), self.max_wait_s)
            deadline = self._clock() + wait
            while True:
                result = self._compute_group([window])[0]
                if result is not None or self._clock() >= deadline:
                    return result
                self._sleep(self._poll_s(deadline))
        except _PromError as e:
            if e.transient:
                return None
            return self._na(self._scrub(str(e)))

    def settle(self, windows: list[RemoteWindow], timeout_s: float = 30.0) -> list[ServerEnergy]:
        """Every window's energy, waiting (at most ``timeout_s``) for the scrapes after them; N/A with the
        reason for those whose telemetry never came or when Prometheus did not answer."""
        results: list[ServerEnergy | None] = [None] * len(windows)
        reasons: dict[int, str] = {}
        deadline = self._clock() + timeout_s
        while True:
            pending = [i for i, r in enumerate(results) if r is None]
            if not pending:
                break
            try:
                self._ensure_ready()
                for group in self._groups(pending, windows):
                    try:
                        got = self._compute_group([windows[i] for i in group])
                    except _PromError as e:
                        if not e.transient:
                            for i in group:
                                results[i] = self._na(self._scrub(str(e)))
                            continue
                        raise
                    for i, r in zip(group, got):
                        results[i] = r
                        if r is None:
                            reasons[i] = (f"no sample after the window end within {timeout_s:g} s (the "
                                          f"exporter stopped, or scrapes are further apart than the wait)")
            except _PromError as e:
                if not e.transient:
                    return [r or self._na(self._scrub(str(e))) for r in results]
                for i in pending:
                    reasons[i] = self._scrub(str(e))
            if all(r is not None for r in results) or self._clock() >= deadline:
                break
            self._sleep(self._poll_s(deadline))
        return [r if r is not None else self._na(reasons.get(i, "no telemetry")) for i, r in enumerate(results)]

    def close(self) -> None:
        """Nothing held open (one HTTP request at a time)."""

    # ---- fetching ----
    def _ensure_ready(self) -> None:
        if not self._ready:
            self._probe()

    def _probe(self) -> None:
        """Read Prometheus's clock, then the last 5 min of the selector: series exist, scrape interval."""
        if self.correct_clock:
            before = self._clock()
            data = self._api({"query": "time()"})
            after = self._clock()
            if data.get("resultType") != "scalar":
                raise _PromError(f"Prometheus at {self._url}: time() did not return a scalar")
            server_now = _number(data.get("result", [None, None])[1], "time()")
            self.clock_offset_s = server_now - (before + after) / 2
            self.clock_offset_uncertainty_s = (after - before) / 2
        now = self._server_time(self._clock())
        series = self._fetch(now - _PROBE_LOOKBACK_S, now)
        if not series:
            raise _PromError(f"no series matches {self.query} at {self._url} in the last "
                             f"{_PROBE_LOOKBACK_S / 60:.0f} min (check the name and labels, and that Prometheus "
                             f"scrapes the exporter)")
        interval = median_interval(series)
        if interval is None:
            raise _PromError(f"{self.query} has a single sample in the last {_PROBE_LOOKBACK_S / 60:.0f} min: "
                             f"the scrape interval is not known yet (wait for the next scrape)")
        self.interval_s = interval
        self.series = len(series)
        self._ready = True

    def _api(self, params: dict[str, str]) -> dict:
        """GET /api/v1/query with params: the ``data`` of a successful answer, else a _PromError."""
        url = f"{self._url}/api/v1/query?{urllib.parse.urlencode(params)}"
        where = f"Prometheus at {self._url}"
        try:
            status, body = self._get(url, self.timeout_s, dict(self._headers))
        except (OSError, http.client.HTTPException) as e:  # refused, timed out, dropped: try again later
            reason = getattr(e, "reason", None) or e
            raise _PromError(f"{where} did not answer: {_one_line(str(reason) or type(e).__name__, 100)}",
                             transient=True) from None
        except Exception as e:  # an invalid URL, a getter's own failure: not worth retrying
            raise _PromError(f"{where} could not be asked: {_one_line(str(e) or type(e).__name__, 100)}") from None
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            doc = None
        if not isinstance(doc, dict):
            kind = "an error page" if status >= 400 else "not a Prometheus API answer"
            raise _PromError(f"{where} answered HTTP {status}, {kind}: {_one_line(_text(body), 80)!r}",
                             transient=status >= 500)
        if doc.get("status") != "success" or status >= 400:
            err = _one_line(str(doc.get("error") or doc.get("errorType") or "no reason given"), 120)
            raise _PromError(f"{where} refused the query (HTTP {status}): {err}",
                             transient=status >= 500 and status != 501)
        data = doc.get("data")
        if not isinstance(data, dict):
            raise _PromError(f"{where} answered without data")
        return data

    def _fetch(self, start: float, end: float) -> list[_Series]:
        """The raw samples of every series in (start, end], server time, evaluated at ``end``."""
        range_ms = max(1, math.ceil((end - start) * 1000))
        data = self._api({"query": f"{self.query}[{range_ms}ms]", "time": f"{end:.3f}"})
        if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise _PromError(f"Prometheus at {self._url} did not return raw samples for {self.query} "
                             f"(result type {data.get('resultType')!r})")
        out = []
        for item in data["result"]:
            if not isinstance(item, dict) or not isinstance(item.get("values", []), list):
                raise _PromError(f"Prometheus at {self._url}: a malformed series in the answer")
            samples = []
            for pair in item.get("values", []):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _PromError(f"Prometheus at {self._url}: a malformed sample in the answer")
                t, v = _number(pair[0], "a timestamp"), _number(pair[1], "a value")
                if math.isfinite(v):
                    samples.append((t, v))
            samples.sort()
            metric = item.get("metric")
            labels = {str(k): str(v) for k, v in metric.items()} if isinstance(metric, dict) else {}
            out.append(_Series(labels, samples))
        return out

    # ---- computing ----
    def _server_time(self, t: float) -> float:
        return t + (self.clock_offset_s or 0.0) if self.correct_clock else t

    def _compute_group(self, windows: list[RemoteWindow]) -> list[ServerEnergy | None]:
        """One fetch covering the windows, then each window's energy (None: no sample after it yet)."""
        iv = self.interval_s or 1.0
        start = min(self._server_time(w.wall_start) for w in windows) - 2.5 * iv
        end = max(self._server_time(w.wall_end) for w in windows) + 2 * iv
        series = self._fetch(start, end)
        if not series:
            raise _PromError(f"no series matches {self.query} around the window (the exporter or its "
                             f"target stopped?)")
        self.series = len(series)
        fresh = median_interval(series)
        if fresh is not None:
            self.interval_s = fresh
        return [self._energy(w, series) for w in windows]

    def _energy(self, w: RemoteWindow, series: list[_Series]) -> ServerEnergy | None:
        t0, t1 = self._server_time(w.wall_start), self._server_time(w.wall_end)
        if t1 < t0:
            return self._na("the window ends before it starts")
        total = low = high = 0.0
        gap = False
        iv = self.interval_s or 0.0
        for s in series:
            try:
                if self.kind == COUNTER:
                    d, lo, hi = counter_delta(s.samples, t0, t1)
                    total, low, high = total + d, low + lo, high + hi
                else:
                    total += gauge_integral(s.samples, t0, t1)
            except _Missing as m:
                if m.side == "after":
                    return None  # the scrape after the window has not happened yet
                return self._na(f"series {_labels(s.labels)} has no sample before the window start "
                                f"(it started later, or a scrape gap)")
            if iv and _largest_gap(s.samples, t0, t1) > 2.5 * iv:
                gap = True
        flags, notes = [], [f"{len(series)} series summed" if len(series) > 1 else "1 series"]
        if iv:
            notes.append(f"scrape interval {iv:.2f} s")
        if iv and (t1 - t0) < 2 * iv:
            flags.append(SHORT_WINDOW)
            notes.append(f"coarse: the window ({t1 - t0:.2f} s) is shorter than two scrape intervals")
        if gap:
            flags.append(TELEMETRY_GAP)
            notes.append("coarse: samples missing around the window (a gap over 2.5 scrape intervals)")
        f = self._factor
        return ServerEnergy(
            joules=total * f, source=SOURCE, quality=MEASURED_REMOTE, boundary=self.boundary,
            low_j=low * f if self.kind == COUNTER else None, high_j=high * f if self.kind == COUNTER else None,
            flags=flags, note="; ".join(notes))

    def _na(self, reason: str) -> ServerEnergy:
        return ServerEnergy(joules=None, source=SOURCE, quality=UNAVAILABLE, boundary=self.boundary,
                            note=_one_line(reason, 240))

    def _groups(self, pending: list[int], windows: list[RemoteWindow]) -> list[list[int]]:
        """Pending windows in time order, grouped so that one fetch spans at most ~15 min."""
        order = sorted(pending, key=lambda i: windows[i].wall_start)
        groups: list[list[int]] = []
        for i in order:
            if groups and windows[i].wall_end - windows[groups[-1][0]].wall_start <= _GROUP_SPAN_S:
                groups[-1].append(i)
            else:
                groups.append([i])
        return groups

    def _poll_s(self, deadline: float) -> float:
        step = min(max((self.interval_s or 1.0) / 4, 0.05), 1.0)
        return max(0.01, min(step, deadline - self._clock()))

    def _scrub(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message


def _resolve_kind(name: str | None, kind: str | None, unit: str | None) -> tuple[str, str, str]:
    """(kind, unit, default boundary) from the metric name and the caller's explicit kind/unit."""
    if kind is not None and kind not in (COUNTER, GAUGE):
        raise ValueError(f"Prometheus metric kind {kind!r}: use counter or gauge")
    if unit is not None and unit not in UNITS:
        raise ValueError(f"Prometheus metric unit {unit!r}: use one of {', '.join(UNITS)}")
    found = detect(name)
    boundary = found[2] if found else (SERVER_CPU if (name or "").startswith("node_rapl_") else UNSTATED)
    if unit is not None:
        unit_kind = UNITS[unit][0]
        if kind is not None and kind != unit_kind:
            raise ValueError(f"Prometheus metric unit {unit} is a {unit_kind}'s, not a {kind}'s")
        return unit_kind, unit, boundary
    if found and (kind is None or kind == found[0]):
        return found[0], found[1], boundary
    if found:
        raise ValueError(f"Prometheus metric {name} is a {found[0]} in {found[1]} by its name: to read it as a "
                         f"{kind}, give its unit too")
    what = f"metric {name}" if name else "selector without a metric name"
    raise ValueError(f"Prometheus {what}: kind and unit unknown, give them (a counter in J or mJ, or a gauge "
                     f"in W)")


def _split_credentials(url: str) -> tuple[str, dict[str, str], list[str]]:
    """(URL without credentials or trailing slash, auth headers, the strings never to show)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Prometheus URL must be http:// or https:// with a host, e.g. http://127.0.0.1:9090")
    headers: dict[str, str] = {}
    secrets: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        secrets = sorted({s for s in (userinfo, password, parts.password or "", token) if s}, key=len,
                         reverse=True)
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return clean, headers, secrets


def _number(raw: object, what: str) -> float:
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _PromError(f"Prometheus answered {what} that is not a number: {_one_line(repr(raw), 40)}") from None


def _text(body: bytes) -> str:
    return body[:200].decode("utf-8", errors="replace")


def _labels(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(shown.items())) + "}"


def _largest_gap(samples: list[tuple[float, float]], t0: float, t1: float) -> float:
    """The largest spacing between the samples that matter to [t0, t1] (those around and inside it)."""
    ts = [t for t, _ in samples]
    first = max((i for i, t in enumerate(ts) if t <= t0), default=0)
    last = min((i for i, t in enumerate(ts) if t >= t1), default=len(ts) - 1)
    return max((b - a for a, b in zip(ts[first:last], ts[first + 1:last + 1])), default=0.0)
