"""A Prometheus endpoint for a running session: the running figures at http://HOST:PORT/metrics in the text
exposition format (version 0.0.4), so that a team's existing Prometheus, and Grafana over it, can watch many
headless runs at once (``ipwtui run --metrics-port PORT``).

Two halves:
- ``ExporterState`` is a listener of the runner's events. It runs on the runner thread, so each event only
  updates a few numbers under a lock (token events are dropped before the lock is taken) and it never
  raises. ``render()`` copies those numbers under the lock and writes the text outside it.
- ``MetricsServer`` is the standard library's ThreadingHTTPServer on a daemon thread, answering
  ``GET /metrics`` with ``render()``; ``serve()`` starts one and turns a port in use, a permission refused or
  an unknown host into an ``ExporterError`` with one line for the user.

The rules (the HELP text of each metric repeats the one that applies to it):
- **Unavailable is absent.** A figure that is N/A (a query without energy, no scored query yet, an engine
  that reports no token counts, net energy without an idle baseline) is not exported at all, never as 0.
  A count that is zero (no query errored) is a real zero and is exported.
- **Counters** count from this process's start: warm-up queries are never in them; a resumed session's
  earlier segments are not in them either (Prometheus takes the new process as a counter reset). Net energy
  is not a counter: it can be negative for a query, and a counter never goes down.
- **Gauges** of running figures (accuracy, IPW, IPJ, mean power) cover the whole session, as the summary
  does; at the end of the run they take the summary's own figures (a remote query's server energy may be
  settled only then).
- **Labels**: every series carries ``session``, ``model`` and ``backend``; ``ipwtui_session_info`` carries
  the rest of the session's identity (where, accelerator, version, and the source, quality and boundary of
  its headline energy). No label is per query: a long session does not grow the number of series.
  Nothing is exported until the session is known (an empty page is a valid exposition).
- **End of the run**: the figures stay served after the run; ``wait_final_scrape`` waits until a scrape
  has read the final figures (or a timeout), then ``close()`` stops the server. The headless command waits
  for at most ``--metrics-linger`` seconds.
"""

from __future__ import annotations

import errno
import math
import os
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from . import events as ev
from .sensors.base import UNAVAILABLE, worst_quality

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PATH = "/metrics"
DEFAULT_HOST = "127.0.0.1"
KEEPALIVE_S = 300.0  # an idle scrape connection is closed after this (longer than any usual scrape interval)

COUNTER, GAUGE = "counter", "gauge"
STATUSES = ("ok", "skipped", "error")
VERDICTS = ("correct", "wrong", "unscored")
VIEWS = ("gross", "net")
# every phase the runner names (events.Phase) and the ends of a run; a name not listed is added when seen
PHASES = ("loading", "idle", "warmup", "running", "paused", "retrying", "stopping", "settling",
          "finished", "stopped", "interrupted", "failed")

_ABSENT = "Absent while unavailable (never 0)."
# name -> (type, HELP): the one list of what is exported
METRICS: dict[str, tuple[str, str]] = {
    "ipwtui_session_info": (GAUGE, "The session being run (always 1); labels: where (local|remote), "
                                   "accelerator, version, and the source, quality and boundary of its "
                                   "headline energy (a remote session's is the server's)."),
    "ipwtui_phase": (GAUGE, "1 for the phase the run is in, 0 for the others."),
    "ipwtui_queries_planned": (GAUGE, "Queries planned in the session (warm-up excluded)."),
    "ipwtui_queries_done": (GAUGE, "Queries of the session finished (answered, skipped or failed for good; "
                                   "earlier segments of a resumed session included)."),
    "ipwtui_queries_total": (COUNTER, "Query attempts finished by this process (warm-up excluded), by status "
                                      "(ok, skipped, error); a query tried again after an error counts once "
                                      "per attempt."),
    "ipwtui_answers_total": (COUNTER, "Answered (status ok) queries by verdict: correct, wrong, or unscored "
                                      "(no reference, or the answer could not be scored)."),
    "ipwtui_output_tokens_total": (COUNTER, "Output tokens of answered queries, as the engine counted them; "
                                            "queries whose engine reported no count are not in it. " + _ABSENT),
    "ipwtui_prompt_tokens_total": (COUNTER, "Prompt tokens of answered queries, as the engine counted them; "
                                            "queries whose engine reported no count are not in it. " + _ABSENT),
    "ipwtui_energy_joules_total": (COUNTER, "Gross energy of answered queries' windows (the headline energy: a "
                                            "remote query's is the server's), by its source, quality and "
                                            "boundary; a query without energy is not in it. Net energy is not a "
                                            "counter (it can be negative). " + _ABSENT),
    "ipwtui_query_window_seconds_total": (COUNTER, "Length of answered queries' windows (request sent to engine "
                                                   "returned), by the source, quality and boundary of their "
                                                   "energy (quality unavailable: windows without energy; "
                                                   "pending: a remote query's server energy, known after the "
                                                   "run); "
                                                   "ipwtui_energy_joules_total over it, label for label, is the "
                                                   "mean power in the windows."),
    "ipwtui_last_query_energy_joules": (GAUGE, "Energy of the last finished query (gross, or net of the idle "
                                               "baseline). " + _ABSENT),
    "ipwtui_last_query_power_watts": (GAUGE, "Mean power of the last finished query's window (gross, or net "
                                             "of the idle baseline). " + _ABSENT),
    "ipwtui_last_query_latency_seconds": (GAUGE, "Window length of the last finished query (request sent to "
                                                 "engine returned). " + _ABSENT),
    "ipwtui_last_query_ttft_seconds": (GAUGE, "Time to first token of the last finished query. " + _ABSENT),
    "ipwtui_last_query_decode_tokens_per_second": (GAUGE, "Decode speed of the last finished query, from the "
                                                          "engine's own counters where it has them. " + _ABSENT),
    "ipwtui_accuracy_ratio": (GAUGE, "Running accuracy of the session: correct / scored (0 to 1). " + _ABSENT),
    "ipwtui_ipw": (GAUGE, "Running intelligence per watt of the session (accuracy / mean power, per W), "
                          "over the queries with energy, gross or net. " + _ABSENT),
    "ipwtui_ipj": (GAUGE, "Running intelligence per joule of the session (accuracy / mean energy, per J), "
                          "over the queries with energy, gross or net. " + _ABSENT),
    "ipwtui_mean_power_watts": (GAUGE, "Mean of the queries' window powers in the session, gross or net. "
                                       + _ABSENT),
    "ipwtui_mean_energy_joules": (GAUGE, "Mean energy per query in the session, gross or net. " + _ABSENT),
    "ipwtui_answered_queries": (GAUGE, "Answered queries of the session (warm-up excluded): what the running "
                                       "accuracy is over."),
    "ipwtui_queries_with_energy": (GAUGE, "Answered queries of the session with an energy, gross or net: what "
                                          "the running IPW, IPJ and mean power are over."),
    "ipwtui_idle_power_watts": (GAUGE, "Idle baseline measured before the run, per power domain. " + _ABSENT),
    "ipwtui_sensor_faults_total": (COUNTER, "Sensors that failed during the run, by sensor (their samples are "
                                            "N/A from then on)."),
    "ipwtui_exporter_listener_errors_total": (COUNTER, "Events this endpoint failed to take in (a bug: the "
                                                       "figures here may be incomplete; the session on disk is "
                                                       "not affected)."),
}


class ExporterError(Exception):
    """The endpoint cannot be served: ``str()`` is one line for the user."""


# ---- the text format --------------------------------------------------------------------------------


def escape_label_value(v: str) -> str:
    """A label value as the text format writes it: backslash, double quote and line feed escaped."""
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(v: str) -> str:
    """A HELP text as the text format writes it: backslash and line feed escaped."""
    return v.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(v: float | int) -> str:
    """A sample value: integers as they are, floats in their shortest exact form, +Inf/-Inf/NaN spelt as
    Prometheus reads them."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


Labels = tuple[tuple[str, str], ...]


@dataclass
class Family:
    """One metric: its name, type, HELP and samples (labels, value). A family without samples is not
    written at all."""

    name: str
    type: str
    help: str
    samples: list[tuple[Labels, float | int]] = field(default_factory=list)

    def add(self, labels: Labels, value: float | int | None) -> None:
        """Add a sample; None (unavailable) and NaN add nothing: the series is absent."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        self.samples.append((labels, value))


def exposition(families: list[Family]) -> str:
    """The families in the text exposition format 0.0.4 (families without samples left out)."""
    out: list[str] = []
    for f in families:
        if not f.samples:
            continue
        out.append(f"# HELP {f.name} {escape_help(f.help)}")
        out.append(f"# TYPE {f.name} {f.type}")
        for labels, value in f.samples:
            if labels:
                inner = ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in labels)
                out.append(f"{f.name}{{{inner}}} {format_value(value)}")
            else:
                out.append(f"{f.name} {format_value(value)}")
    return "\n".join(out) + "\n" if out else ""


# ---- the state the runner's events update -------------------------------------------------------------


@dataclass
class _Figures:
    """Everything /metrics shows, as plain values (copied whole for each scrape)."""

    session: str | None = None
    model: str = ""
    backend: str = ""
    where: str = ""
    accelerator: str = ""
    version: str = ""
    remote_energy: dict | None = None  # the session's server-energy description (remote sessions)
    energy: tuple[str, str, str] | None = None  # the session's headline energy: source, quality, boundary
    phase: str | None = None
    phases: list[str] = field(default_factory=lambda: list(PHASES))
    planned: int | None = None
    done: int | None = None
    ended: bool = False
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    energy_j: dict[tuple[str, str, str], float] = field(default_factory=dict)
    window_s: dict[tuple[str, str, str], float] = field(default_factory=dict)
    last: dict[str, float | None] = field(default_factory=dict)
    running: dict[str, dict[str, Any]] = field(default_factory=dict)  # view -> figure -> value
    idle_w: dict[str, float] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    listener_errors: int = 0

    def copy(self) -> "_Figures":
        c = _Figures(**self.__dict__)
        for k in ("phases", "statuses", "verdicts", "energy_j", "window_s", "last", "idle_w", "faults"):
            setattr(c, k, type(getattr(self, k))(getattr(self, k)))
        c.running = {v: dict(d) for v, d in self.running.items()}
        return c


_RUNNING = ("accuracy", "ipw", "ipj", "mean_power_w", "mean_energy_j", "n", "n_with_energy")


def _label(v: Any) -> str:
    return "" if v is None else str(v)


class ExporterState:
    """The runner's listener: takes the events in, renders /metrics. Thread-safe; the listener side never
    raises and holds the lock only to update a few numbers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._f = _Figures()
        self._final_read = threading.Event()
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.SessionStarted: self._session_started,
            ev.Phase: self._phase,
            ev.IdleMeasured: self._idle,
            ev.QueryFinished: self._query_finished,
            ev.SensorFault: self._fault,
            ev.RunFinished: self._run_finished,
            ev.RunFailed: self._run_failed,
        }

    # ---- input (the runner thread) ----------------------------------------------------------------

    def __call__(self, event: object) -> None:
        handler = self._handlers.get(type(event))
        if handler is None:  # tokens, query starts: nothing to export
            return
        try:
            with self._lock:
                handler(event)
        except Exception:
            with self._lock:
                self._f.listener_errors += 1

    def session(self, meta: dict) -> None:
        """The session's identity, from its meta (session.json): id, model, backend, where, accelerator,
        version and, for a remote session, its server-energy source. Call before the run starts."""
        try:
            model = meta.get("model")
            with self._lock:
                f = self._f
                f.session = _label(meta.get("id"))
                f.model = _label(model.get("name") if isinstance(model, dict) else model)
                f.backend = _label(meta.get("backend"))
                f.where = _label(meta.get("where"))
                f.accelerator = _label(meta.get("accelerator"))
                f.version = _label((meta.get("provenance") or {}).get("ipwtui"))
                f.remote_energy = meta.get("server_energy") if f.where == "remote" else None
        except Exception:
            with self._lock:
                self._f.listener_errors += 1

    def _session_started(self, e: ev.SessionStarted) -> None:
        f = self._f
        if f.session is None:  # no meta given: the folder's name is the session id
            f.session = os.path.basename(e.folder.rstrip("/\\"))
        f.planned, f.done = e.total, e.done
        if f.where == "remote":
            d = f.remote_energy or {}
            f.energy = (_label(d.get("name") or d.get("source")), _label(d.get("quality") or UNAVAILABLE),
                        _label(d.get("boundary")))
        else:
            counted = [d for d in e.domains if d.name in e.counted_domains]
            f.energy = ("+".join(dict.fromkeys(d.source for d in counted)),
                        worst_quality([d.quality for d in counted]),
                        "+".join(dict.fromkeys(d.boundary for d in counted)))

    def _set_phase(self, name: str) -> None:
        f = self._f
        if name not in f.phases:
            f.phases.append(name)
        f.phase = name

    def _phase(self, e: ev.Phase) -> None:
        self._set_phase(e.name)

    def _idle(self, e: ev.IdleMeasured) -> None:
        self._f.idle_w = {str(k): float(v) for k, v in e.idle_w.items() if v is not None}

    def _fault(self, e: ev.SensorFault) -> None:
        self._f.faults[e.sensor] = self._f.faults.get(e.sensor, 0) + 1

    def _query_finished(self, e: ev.QueryFinished) -> None:
        r = e.record
        if r.warmup:
            return
        f = self._f
        f.statuses[r.status] = f.statuses.get(r.status, 0) + 1
        if r.attempt == 1 and f.done is not None:
            f.done += 1
        if r.status == "ok":
            f.verdicts["unscored" if r.correct is None else "correct" if r.correct else "wrong"] += 1
            if r.output_tokens is not None:
                f.output_tokens = (f.output_tokens or 0) + r.output_tokens
            if r.prompt_tokens is not None:
                f.prompt_tokens = (f.prompt_tokens or 0) + r.prompt_tokens
            src, quality, boundary = r.energy_label
            key = (_label(src), _label(quality or UNAVAILABLE), _label(boundary))
            joules = r.energy("gross")
            if joules is not None:
                f.energy_j[key] = f.energy_j.get(key, 0.0) + joules
            else:
                key = (key[0], UNAVAILABLE if key[1] != "pending" else "pending", key[2])
            if r.latency_s is not None:
                f.window_s[key] = f.window_s.get(key, 0.0) + r.latency_s
        f.last = {"energy_gross": r.energy("gross"), "energy_net": r.energy("net"),
                  "power_gross": r.power("gross"), "power_net": r.power("net"),
                  "latency": r.latency_s, "ttft": r.ttft_s, "decode_tps": r.decode_tps}
        for view, m in (e.metrics or {}).items():
            f.running[view] = {k: getattr(m, k, None) for k in _RUNNING}

    def _run_finished(self, e: ev.RunFinished) -> None:
        f = self._f
        summary = e.summary or {}
        for view, m in (summary.get("metrics") or {}).items():
            if isinstance(m, dict):
                f.running[view] = {k: m.get(k) for k in _RUNNING}
        finished = (summary.get("queries") or {}).get("finished")
        if isinstance(finished, int):
            f.done = finished
        self._set_phase(e.status)
        f.ended = True

    def _run_failed(self, e: ev.RunFailed) -> None:
        self._set_phase("failed")
        self._f.ended = True

    # ---- output (the server's threads) -------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """The run has ended (finished, stopped or failed): the figures are final."""
        return self._f.ended

    def snapshot(self) -> _Figures:
        with self._lock:
            return self._f.copy()

    def families(self) -> list[Family]:
        """The metrics as families, from one consistent copy of the state."""
        return families(self.snapshot())

    def render(self) -> str:
        """/metrics: the text exposition of the figures now."""
        return self.scrape()[0]

    def scrape(self) -> tuple[str, bool]:
        """The text, and whether it holds the final figures (the run had ended)."""
        snap = self.snapshot()
        return exposition(families(snap)), snap.ended

    def final_sent(self) -> None:
        """A scraper has received the final figures: releases ``wait_final_scrape``."""
        self._final_read.set()

    def wait_final_scrape(self, timeout_s: float) -> bool:
        """Wait until a scraper has received the final figures (a scrape served after the run ended), at
        most ``timeout_s`` seconds; True when one has."""
        return self._final_read.wait(max(0.0, timeout_s))


def families(f: _Figures) -> list[Family]:
    """The families of a copy of the state (no series at all before the session is known)."""
    if f.session is None:
        return []
    fam = {name: Family(name, t, h) for name, (t, h) in METRICS.items()}
    base: Labels = (("session", f.session), ("model", f.model), ("backend", f.backend))

    def put(name: str, value: float | int | None, *extra: tuple[str, str]) -> None:
        fam[name].add(base + extra, value)

    if f.energy is not None:
        src, quality, boundary = f.energy
        put("ipwtui_session_info", 1, ("where", f.where or "local"), ("accelerator", f.accelerator),
            ("version", f.version), ("source", src), ("quality", quality), ("boundary", boundary))
    if f.phase is not None:
        for p in f.phases:
            put("ipwtui_phase", int(p == f.phase), ("phase", p))
    put("ipwtui_queries_planned", f.planned)
    put("ipwtui_queries_done", f.done)
    if f.energy is not None:  # counters from the run's start (zeros included: a count of zero is real)
        for s, n in f.statuses.items():
            put("ipwtui_queries_total", n, ("status", s))
        for v, n in f.verdicts.items():
            put("ipwtui_answers_total", n, ("verdict", v))
    put("ipwtui_output_tokens_total", f.output_tokens)
    put("ipwtui_prompt_tokens_total", f.prompt_tokens)
    for (src, quality, boundary), j in sorted(f.energy_j.items()):
        put("ipwtui_energy_joules_total", j, ("source", src), ("quality", quality), ("boundary", boundary))
    for (src, quality, boundary), secs in sorted(f.window_s.items()):
        put("ipwtui_query_window_seconds_total", secs, ("source", src), ("quality", quality),
            ("boundary", boundary))
    last = f.last
    for view in VIEWS:
        put("ipwtui_last_query_energy_joules", last.get(f"energy_{view}"), ("energy", view))
        put("ipwtui_last_query_power_watts", last.get(f"power_{view}"), ("energy", view))
    put("ipwtui_last_query_latency_seconds", last.get("latency"))
    put("ipwtui_last_query_ttft_seconds", last.get("ttft"))
    put("ipwtui_last_query_decode_tokens_per_second", last.get("decode_tps"))
    gross = f.running.get("gross") or {}
    put("ipwtui_accuracy_ratio", gross.get("accuracy"))
    put("ipwtui_answered_queries", gross.get("n"))
    for view in VIEWS:
        m = f.running.get(view)
        if not m:
            continue
        put("ipwtui_ipw", m.get("ipw"), ("energy", view))
        put("ipwtui_ipj", m.get("ipj"), ("energy", view))
        put("ipwtui_mean_power_watts", m.get("mean_power_w"), ("energy", view))
        put("ipwtui_mean_energy_joules", m.get("mean_energy_j"), ("energy", view))
        put("ipwtui_queries_with_energy", m.get("n_with_energy"), ("energy", view))
    for domain, w in sorted(f.idle_w.items()):
        put("ipwtui_idle_power_watts", w, ("domain", domain))
    for sensor, n in sorted(f.faults.items()):
        put("ipwtui_sensor_faults_total", n, ("sensor", sensor))
    put("ipwtui_exporter_listener_errors_total", f.listener_errors)
    return list(fam.values())


# ---- the HTTP server --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any, **kw: Any) -> None:
        self.open_connections: set[socket.socket] = set()  # kept alive between scrapes: closed on close()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kw)

    def close_connections(self) -> None:
        with self.connections_lock:
            conns, self.open_connections = list(self.open_connections), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's fully qualified name, which may wait on DNS: not needed
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler(state: ExporterState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # keep-alive, as Prometheus scrapes: one connection (and one thread) for all the scrapes rather than
        # a new connection and thread each time; an idle connection is closed after ``timeout`` seconds
        protocol_version = "HTTP/1.1"
        timeout = KEEPALIVE_S
        server: _Server

        def setup(self) -> None:
            super().setup()
            with self.server.connections_lock:
                self.server.open_connections.add(self.connection)

        def finish(self) -> None:
            with self.server.connections_lock:
                self.server.open_connections.discard(self.connection)
            super().finish()

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            final = False
            if path == PATH:
                try:
                    text, final = state.scrape()
                    body, ctype, code = text.encode(), CONTENT_TYPE, 200
                except Exception as e:  # a bug in rendering: say so to the scraper, keep serving
                    body, ctype, code = f"ipwtui: cannot render metrics: {type(e).__name__}: {e}\n".encode(), \
                        "text/plain; charset=utf-8", 500
            elif path == "/":
                body, ctype, code = (f"ipwtui metrics: {PATH}\n").encode(), "text/plain; charset=utf-8", 200
            else:
                body, ctype, code = b"not found\n", "text/plain; charset=utf-8", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            if final:  # sent whole: the process may now stop serving
                state.final_sent()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the run owns the terminal
            pass

    return Handler


def _bind_error(e: OSError, host: str, port: int) -> str:
    where = f"{host}:{port}"
    if isinstance(e, socket.gaierror):
        return f"cannot serve metrics on {where}: unknown host {host!r} ({e.strerror or e})"
    if e.errno == errno.EADDRINUSE:
        return f"cannot serve metrics on {where}: the port is in use (choose another port)"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"cannot serve metrics on {where}: permission denied (ports below 1024 need privileges; " \
               "choose a higher port)"
    if e.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve metrics on {where}: {host} is not an address of this machine"
    return f"cannot serve metrics on {where}: {e.strerror or e}"


class MetricsServer:
    """An HTTP server on a daemon thread serving ``state.render()`` at /metrics."""

    def __init__(self, state: ExporterState, host: str = DEFAULT_HOST, port: int = 0):
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ExporterError(f"cannot serve metrics on port {port}: not a port (1 to 65535, or 0 for any "
                                "free port)")
        self.state = state
        cls = _Server6 if ":" in host else _Server
        try:
            self._server = cls((host, port), _handler(state))
        except OSError as e:
            raise ExporterError(_bind_error(e, host, port)) from None
        except (OverflowError, ValueError, TypeError) as e:
            raise ExporterError(f"cannot serve metrics on {host}:{port}: {e}") from None
        self.host = host
        self.port = int(self._server.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}{PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="ipwtui-metrics", daemon=True)
        self._thread.start()
        self._closed = False

    def wait_final_scrape(self, timeout_s: float) -> bool:
        return self.state.wait_final_scrape(timeout_s)

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(5)


def serve(host: str = DEFAULT_HOST, port: int = 0, state: ExporterState | None = None) -> MetricsServer:
    """Start serving a new (or the given) state at http://host:port/metrics. Raises ExporterError (one line)
    when the port is in use, refused, or the host unknown."""
    return MetricsServer(state if state is not None else ExporterState(), host, port)
