"""The run screen: power graph, throughput, headline figures, the per-query table, the answer streaming in.

It only shows what the core sends: events are applied to a ``LiveState`` by the app and passed on here;
token pieces and the sampler's power series are read on a timer (2 Hz, slower while the model's threads
take every core: see ``tui.pacing``), never once per token or sample.
"""

from __future__ import annotations

import time

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Header, Static

from ...core import events as ev
from ...core import fmt
from ...core.metrics import MIN_QUERIES_FOR_CI as MIN_CI
from ...core.remote import MEASURED_REMOTE
from ...core.sensors.base import MEASURED, UNAVAILABLE, worst_quality
from ...core.summary import energy_label_of
from ..gaps import GapOpen
from ..live import LiveState, PastRecords
from ...core.contention import usable_cores
from ..pacing import Pacer
from ..widgets.answer import AnswerView
from ..widgets.figures import Figure, figure_row
from ..widgets.lines import BarLine, LineText
from ..widgets.power_graph import PowerGraph, Trace
from ..widgets.progress import RunProgress
from ..widgets.footer import KeyFooter
from ..widgets.responsive import Responsive, WholeRepaint
from ..rows import record_cells
from ..widgets.query_table import QueryTable

TABLE_KEY = ("energy: meas = measured · model = model-based · est = estimate · ! = window flagged (select a row: "
             "why) · lat = latency · tok/s = decode rate")
# Every screen update costs UI-thread CPU that a small machine takes from the model's decode threads, so
# all live parts change together, in one frame per tick (the answer streaming in, the live rate, the
# question, the power graph), and the tick's interval comes from a Pacer.
ROWS_MIN_S = 1.0  # finished queries (table rows, figures, progress): once a second at most


def metric(m, key):
    """A field of a Metrics object or of its as_dict() (a saved summary)."""
    if m is None:
        return None
    return m.get(key) if isinstance(m, dict) else getattr(m, key, None)


def duration(s: float | None) -> str:
    if s is None:
        return fmt.NA
    s = int(round(s))
    h, r = divmod(s, 3600)
    m, sec = divmod(r, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {sec:02d}s" if m else f"{sec}s"


def coverage(m) -> str:
    """"over 3 of 6" when an energy figure covers fewer queries than were counted, else "" (also when it
    covers none: the figure is N/A and says why)."""
    n, k = metric(m, "n") or 0, metric(m, "n_with_energy") or 0
    return f"over {k} of {n}" if 0 < k != n else ""


def na_reason(m, view: str) -> str | None:
    """Why IPW and IPJ are N/A although queries have energy, from the core's notes (None otherwise)."""
    if metric(m, "ipw") is not None or not metric(m, "n_with_energy"):
        return None
    notes = " ".join(metric(m, "notes") or [])
    if "not positive" in notes:
        if view == "net":
            return "net ≤ 0: the idle baseline is at or above the queries' power"
        return "energy ≤ 0: IPW and IPJ are N/A"
    if "no scored query" in notes:
        return "no scored query yet"
    return None


def too_few(measured: int, ended: bool) -> str:
    """Why there is no interval: too few queries with energy (the core's bootstrap needs MIN_CI), said as
    such once the run is over; while it runs, when one will come."""
    return f"no CI: {measured} measured, {MIN_CI} needed" if ended else f"CI after {MIN_CI} queries"


def figure_values(m, quality: str, view: str, ended: bool = False, na_why: str | None = None
                  ) -> dict[str, tuple[str | None, str, bool, str | None]]:
    """(digits text or None, two caption lines, estimate?, quality) of each headline figure, from the
    core's metrics. The quality of an energy figure goes in its title; the captions say the interval (or,
    with too few queries for one, the estimate's own range, or why there is none: ``ended`` says no more
    queries will come; ``na_why`` why no query has energy), the unit, gross or net, and how many queries a
    figure covers when not all."""
    est = quality not in (MEASURED, MEASURED_REMOTE)  # a server's own telemetry is measured, not estimated
    n = metric(m, "n") or 0
    cover = coverage(m)
    reason = na_reason(m, view)
    if reason is None and n and not metric(m, "n_with_energy"):
        reason = na_why  # no query has energy: why, where the caller knows (a server's source said)

    def ci_line(key: str) -> str:
        interval = metric(m, key)
        if interval:  # the numbers first: a narrow box cuts the words, not the interval
            return f"{fmt.ci(interval)} 95% CI"
        if reason:
            return reason
        spread = metric(m, key.replace("_ci", "_range"))
        if spread and metric(m, key.replace("_ci", "")) is not None:
            return f"{fmt.ci(spread)} est. range"
        if n:
            return too_few(metric(m, "n_with_energy") or 0, ended)
        return "no query yet"

    def detail(*parts: str) -> str:
        return " · ".join(p for p in (cover, *parts) if p)

    acc = metric(m, "accuracy")
    acc_ci = metric(m, "accuracy_ci")
    scored = metric(m, "n_scored") or 0
    correct = metric(m, "n_correct") or 0
    unscored = metric(m, "n_unscored") or 0
    acc_cap = f"{correct}/{scored} correct" + (f" · {unscored} unscored" if unscored else "")
    acc_ci_line = f"[{100 * acc_ci[0]:.0f}, {100 * acc_ci[1]:.0f}] 95% CI" if acc_ci else \
        (too_few(metric(m, "n_with_energy") or 0, ended) if n else "")
    ipw, ipj = metric(m, "ipw"), metric(m, "ipj")
    tot, mw = metric(m, "total_energy_j"), metric(m, "mean_power_w")
    q = None if quality == UNAVAILABLE else quality
    return {
        "fig-ipw": (None if ipw is None else fmt.num(ipw, 3), f"{ci_line('ipw_ci')}\n{detail('per W', view)}", est, q),
        "fig-ipj": (None if ipj is None else fmt.num(ipj, 3), f"{ci_line('ipj_ci')}\n{detail('per J', view)}", est, q),
        "fig-acc": (None if acc is None else f"{100 * acc:.1f}", f"{acc_ci_line}\n{acc_cap}", False, None),
        "fig-joules": (None if tot is None else fmt.num(tot, 4), f"J in query windows\n{detail(view)}", est, q),
        "fig-watts": (None if mw is None else fmt.num(mw, 3), f"W, mean per query\n{detail(view)}", est, q),
    }


def answer_text(rec) -> str:
    """What a finished query's answer pane shows: the answer, and for a failed or skipped query, why."""
    answer = rec.answer or ""
    if rec.status == "error":
        why = f"✗ error: {rec.error or 'no reason given'}"
        return f"{why}\n{answer}" if answer else why
    if rec.status == "skipped" and not answer:
        return "skipped"
    return answer


def live_traces(data, origin: float | None) -> list[Trace]:
    """The power graph's traces from a sampler's (domain, times, watts) copies, in seconds from ``origin``
    (the earliest sample when None). N/A samples are left out, never drawn as 0."""
    if origin is None:
        starts = [ts[0] for _, ts, _ in data if ts]
        origin = min(starts) if starts else 0.0
    traces = []
    for dom, ts, ws in data:
        x = np.asarray(ts, dtype=float) - origin
        try:
            y = np.asarray(ws, dtype=float)
        except TypeError:
            y = np.array([np.nan if w is None else w for w in ws], dtype=float)
        keep = np.isfinite(y)
        traces.append(Trace(dom.name, x[keep], y[keep], dom.source, dom.quality))
    return traces


class RunScreen(WholeRepaint, Responsive, Screen):
    """A live run (``handle`` given) or a canned one (tests and screenshots: events applied by hand)."""

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/resume", id="run.pause"),
        Binding("n", "skip", "Skip query", id="run.skip"),
        Binding("x", "stop", "Stop run", id="run.stop"),
        Binding("e", "export", "Export", id="run.export"),
        Binding("g", "toggle_energy", "Gross/net", id="run.energy"),
        Binding("s", "cycle_sort", "Sort", id="run.sort"),
        Binding("escape", "back", "Setup", id="run.back"),
    ]

    def __init__(self, live: LiveState, handle=None, series_source=None, clock=time.monotonic) -> None:
        super().__init__()
        self.live = live
        self.handle = handle
        self.series_source = series_source  # () -> [(Domain, [t], [watts])], t in seconds
        self.clock = clock
        self._answer_shown = None
        self._shown: dict[str, object] = {}
        self._pending: list = []
        self.redraws = 0  # graph redraws (for tests of the redraw rate)
        self.pacer = Pacer()
        self._in_gap = False  # the last frame was drawn between two queries
        self._rows_at = float("-inf")  # clock of the last flush of finished queries
        self._tick_timer = None
        self._labels: list[str] = []  # quality labels of the energy the figures use, one per record seen
        self._labels_seen = 0
        self._told_na = False  # the notice that the server's energy is N/A was given

    # ---- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-status")
        yield figure_row()
        with Horizontal(id="middle"):
            yield PowerGraph(id="power")
            with Vertical(id="now"):
                yield LineText(id="throughput", wrap=False)
                yield BarLine(id="tps-spark")
                yield LineText(id="question")
                yield LineText(id="reference", wrap=False)
                yield AnswerView(id="answer")
        yield QueryTable(id="queries", view=self.live.energy_view)
        with Horizontal(id="progress-row"):
            yield RunProgress(id="progress")
            yield LineText(id="progress-label", wrap=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = "ipwtui"
        self.query_one("#power").border_title = "power"
        self.query_one("#now").border_title = "now"
        self.query_one("#queries").border_title = "queries"
        self.query_one("#queries", QueryTable).set_legend(TABLE_KEY)
        self.query_one("#answer").border_title = "answer"
        self.sub_title = " · ".join(x for x in (self.live.model_name, self.live.accelerator) if x)
        table = self.query_one(QueryTable)
        if self.live.past_records and not self.live.metrics:
            self._past_metrics(self.live.past_records)
        if self.live.all_records:
            table.add_records([record_cells(r, self.live.energy_view) for r in self.live.all_records])
        # the rows above already hold every finished query: only later ones may come from events
        self._pending = [e for e in self._pending if not isinstance(e, (ev.QueryFinished, PastRecords))]
        self.refresh_all()
        self._tick_timer = self.set_timer(self.pacer.base, self.tick, name="run-tick")

    # ---- events (UI thread) ---------------------------------------------------------------------

    def on_run_event(self, e) -> None:
        """Called by the app after ``live.apply(e)``. Widgets follow on the next tick, all in one frame
        (a frame per event would repaint the screen several times per query); the end of the run is
        shown at once."""
        self._pending.append(e)
        if isinstance(e, PastRecords) and not self.live.records:
            self._past_metrics(e.records)
        if isinstance(e, (ev.RunFinished, ev.RunFailed)):
            self._flush_events()

    def _past_metrics(self, records: list) -> None:
        """A resumed session's figures before its first new query: the core's metrics of the records
        it already has, computed once when they arrive (later ones come with each finished query)."""
        from ...core.runner import LIVE_BOOTSTRAP_ROUNDS
        from ...core.summary import session_metrics

        if records:
            self.live.metrics = session_metrics(records, ci=True, rounds=LIVE_BOOTSTRAP_ROUNDS)

    def _flush_events(self, rows_too: bool = True) -> None:
        """Show what the pending events changed. Finished queries (a table row, the figures) are shown
        at most once a second (``rows_too``): a table repaint costs the UI thread tens of milliseconds,
        and short queries can finish several times a second."""
        if not self._pending:
            return
        if rows_too:
            events, self._pending = self._pending, []
        else:
            events = [e for e in self._pending if not isinstance(e, (ev.QueryFinished, PastRecords))]
            self._pending = [e for e in self._pending if isinstance(e, (ev.QueryFinished, PastRecords))]
        rows = [record_cells(e.record, self.live.energy_view) for e in events
                if isinstance(e, ev.QueryFinished) and not e.record.warmup]
        if any(isinstance(e, PastRecords) for e in events):
            self.show_past_records()  # every record so far, the new ones included
            self._update_figures()
        elif rows:
            self.query_one(QueryTable).add_records(rows)
        if any(isinstance(e, ev.QueryFinished) for e in events):
            self._update_throughput_done(None)
            self._update_figures()
            self._update_progress()
            self._update_answer()  # the whole answer, or why the query failed
            self._tell_server_na()
        if any(isinstance(e, ev.QueryStarted) for e in events):
            self._show_query()
        if any(isinstance(e, (ev.RunFinished, ev.RunFailed, ev.SessionStarted)) for e in events):
            self._update_figures()
            self._update_progress()  # "stopped 3/8", no ETA
            self.refresh_bindings()  # export needs a session folder; pause/skip/stop a running run
        if events:
            self._update_status()

    def show_run_ended(self) -> None:
        """The worker has returned: the keys that act on a run go, the status says how it ended."""
        self.refresh_bindings()
        self._update_status()
        self._update_progress()

    def size_changed(self, classes: dict[str, bool]) -> None:
        """The screen went compact or back: the parts whose text depends on it."""
        try:
            self._update_throughput_live()
        except NoMatches:
            return

    def on_screen_resume(self) -> None:
        self._flush_events()

    def show_past_records(self) -> None:
        """Rows of a resumed session's earlier segments (the worker reads them from the journal)."""
        table = self.query_one(QueryTable)
        table.clear()
        table.add_records([record_cells(r, self.live.energy_view) for r in self.live.all_records])

    def refresh_all(self) -> None:
        self._update_status()
        self._update_progress()
        self._update_figures()
        self._show_query()
        self._update_answer()
        self._update_throughput_live()
        self._update_throughput_done(None)
        self._redraw_graph()

    # ---- the tick --------------------------------------------------------------------------------

    def saturated(self) -> bool:
        """True while a run's model threads take every core of the machine (CPU inference)."""
        if self.handle is None or not self.live.running:
            return False
        backend = getattr(getattr(self.handle, "prep", None), "backend", None)
        threads = backend.traits.uses_cpu_threads if backend is not None else None
        return threads is not None and threads >= usable_cores()

    def tick(self) -> None:
        """A frame is due. While the model's threads take every core, it is drawn between two queries
        (outside every measured window) or, during a long answer, at the paced rate (see tui.gaps)."""
        self._tick_timer = None
        gate = getattr(self.handle, "gate", None)
        if gate is None:
            self._draw(in_gap=False)
            return
        gate.frame_due(self, lambda in_gap: self._draw(in_gap=in_gap),
                       saturated=self.saturated() and self.app.screen is self)

    @on(GapOpen)
    def _gap_open(self, msg: GapOpen) -> None:
        if self.app.screen is self:
            msg.gate.gap_open()
        else:
            msg.gate.release()  # covered by a dialog: nothing to draw, the runner goes on

    def _draw(self, in_gap: bool) -> None:
        try:
            if self.app.screen is self:  # covered by a dialog or another screen: nothing to draw
                self._tick()
                self.frame_drawn()
        except NoMatches:  # the screen is being taken down
            return
        self._in_gap = in_gap
        # a frame drawn between queries takes nothing from the model: the normal rate
        interval = self.pacer.next_interval(self.saturated() and not in_gap)
        self._update_status()  # says how the screen redraws while the cores are saturated
        self._tick_timer = self.set_timer(interval, self.tick, name="run-tick")

    def _tick(self) -> None:
        now = time.monotonic()
        rows_due = now - self._rows_at >= ROWS_MIN_S or not self.live.running
        if rows_due:
            self._rows_at = now
        self._flush_events(rows_too=rows_due)
        if self.handle is not None:
            if self.live.add_tokens(self.handle.buffer.drain()):
                self._update_answer()
        self._update_throughput_live()
        self._redraw_graph()
        if self.live.running and rows_due:
            self._update_progress()  # the ETA

    def _series(self):
        if self.series_source is not None:
            return self.series_source()
        if self.handle is not None:
            return self.handle.power_series()
        return []

    def _redraw_graph(self) -> None:
        graph = self.query_one(PowerGraph)
        traces = live_traces(self._series(), getattr(self.handle, "series_origin", None))
        idle = {k: v for k, v in self.live.idle_w.items()}
        note = None if traces else "waiting for the first samples"
        graph.draw(traces, idle, note=note)
        self.redraws += 1

    # ---- pieces ---------------------------------------------------------------------------------

    def _set(self, selector: str, content) -> None:
        """Update a fixed-size Static or LineText without a layout pass, only when its content changed."""
        w = self.query_one(selector)
        if self._shown.get(selector) != content:
            self._shown[selector] = content
            w.update(content, layout=False)

    def _update_status(self) -> None:
        live = self.live
        phase = live.phase
        if self.handle is not None and self.handle.paused and live.running:
            phase = "paused" + (" (the current query finishes first)" if live.in_flight else "")
        elif live.phase_detail and live.phase not in ("running",):
            phase = f"{phase}: {live.phase_detail}"
        if live.failure:
            phase = f"failed: {live.failure}"
        if self.is_remote():
            # the figures use the server's energy: name its source, not this machine's sensors
            src, q = self.server_energy_words()
            energy = f"server energy: {src} ({q})"
            if q not in (MEASURED, MEASURED_REMOTE, UNAVAILABLE):
                energy = f"[reverse] ESTIMATE [/reverse] {energy}"
            elif q == UNAVAILABLE and self.server_notes():
                energy += " — why: i"
        else:
            src = live.energy_source or fmt.NA
            q = live.energy_quality
            energy = f"energy: {src} ({q})"
            if live.estimated and live.domains:
                energy = f"[reverse] ESTIMATE [/reverse] {energy}"
        parts = [f"[b]{phase}[/b]", energy, f"on screen: {live.energy_view}"]
        if live.running and self._in_gap:
            # the model's threads take every core: frames are drawn between queries
            parts.append("redrawn between queries")
        elif live.running and self.pacer.interval > self.pacer.base:
            # ... or, during a long answer, with the screen's own CPU time kept under a budget
            parts.append(f"redraw {self.pacer.interval:.1f} s (UI ≤ {100 * self.pacer.budget:g} % CPU)")
        if live.faults:
            parts.append(f"sensor faults: {', '.join(s for s, _ in live.faults)}")
        self._set("#run-status", "  ·  ".join(parts))

    def _update_progress(self) -> None:
        live = self.live
        self.query_one(RunProgress).update(live.total, live.done)
        count = f"{live.done}/{live.total or '?'}"
        errors = live.errors
        warm = (f" ({errors} failed)" if errors else "") + (f" · {live.warmups} warm-up" if live.warmups else "")
        stopping = live.running and bool(getattr(self.handle, "stop_requested", False))
        if live.failure:
            text = f"failed {count} queries{warm}"
        elif live.status:  # ended: how, and how far; no ETA
            text = f"{live.status} {count} queries{warm}"
        elif stopping:
            text = f"stopping {count} queries{warm} · the current query finishes"
        else:
            text = f"{count} queries{warm}"
            if live.running and live.total:
                text += f" · ETA {duration(live.eta_seconds())}"
        self._set("#progress-label", text)

    # ---- a remote run: the server's energy ------------------------------------------------------

    def is_remote(self) -> bool:
        """The figures use a server's energy (a remote backend), known from the backend before the first
        record and from the records after."""
        backend = getattr(getattr(self.handle, "prep", None), "backend", None)
        return any(r.remote for r in self.live.all_records) or bool(backend is not None and backend.traits.remote)

    def configured_server_energy(self) -> dict:
        """What the session records of its server-energy source (empty before the session exists)."""
        prep = getattr(self.handle, "prep", None)
        meta = getattr(getattr(prep, "session", None), "meta", None) or {}
        return meta.get("server_energy") or {}

    def server_energy_words(self) -> tuple[str, str]:
        """(source, quality) of the server energy the figures use: its records' once they have energy,
        else the configured source's (N/A when no record has any)."""
        labels = [r.energy_label for r in self.live.all_records if r.counted and r.energy("gross") is not None]
        conf = self.configured_server_energy()
        name = conf.get("name") or conf.get("source") or fmt.NA
        if labels:
            return "+".join(dict.fromkeys(x[0] or fmt.NA for x in labels)), worst_quality({x[1] for x in labels})
        if any(r.remote and r.counted for r in self.live.all_records):
            return name, UNAVAILABLE  # queries answered, none with server energy
        return name, conf.get("quality") or UNAVAILABLE

    def server_notes(self) -> list[str]:
        """Why a remote query's server energy is N/A, in the source's words (each note once)."""
        notes: dict[str, None] = {}
        for r in self.live.all_records:
            if r.remote and r.counted and r.energy("gross") is None:
                notes.setdefault(r.server_energy_note or self.configured_server_energy().get("note")
                                 or "no server-energy source", None)
        return list(notes)

    def _tell_server_na(self) -> None:
        """Once per run: the first answered remote query without server energy says why, in a notice."""
        if self._told_na or not self.is_remote():
            return
        notes = self.server_notes()
        if notes:
            self._told_na = True
            self.notify(notes[0] + "\n(i explains the figures)", title="Server energy N/A", severity="warning",
                        timeout=15, markup=False)

    def figure_quality(self) -> str:
        """The quality of the energy the figures use: that of the records' energy (a remote query's is
        the server's), as the session's summary says it; before the first record, the counted domains'."""
        recs = self.live.all_records
        if self._labels_seen > len(recs):  # the records were replaced (a resumed session's past ones)
            self._labels, self._labels_seen = [], 0
        for r in recs[self._labels_seen:]:
            if r.counted and r.energy("gross") is not None:
                self._labels.append(r.energy_label[1])
        self._labels_seen = len(recs)
        if self._labels:
            return worst_quality(set(self._labels))
        if any(r.remote for r in recs):
            return UNAVAILABLE
        return self.live.energy_quality

    def explain_context(self):
        """The session's labels for the explainer (key i): the core's metrics, nothing computed here."""
        from .explain import DomainLabel, ExplainContext

        live = self.live
        quality = self.figure_quality()
        source, _quality, boundary = energy_label_of([r for r in live.all_records if r.counted])
        remote = self.is_remote()
        status = live.failure and "failed" or live.status or ("paused" if getattr(self.handle, "paused", False)
                                                              else "running")
        if remote and source is None:  # no query has server energy (yet): the source the run was given
            source = self.server_energy_words()[0]
        return ExplainContext(
            view=live.energy_view, metrics=live.metrics.get(live.energy_view) if live.metrics else None,
            quality=quality, source=source, boundary=boundary,
            domains=[DomainLabel(d.name, d.source, d.quality, d.boundary) for d in live.counted_domains],
            idle_w=dict(live.idle_w), idle_seconds=live.idle_seconds, remote=remote, status=status,
            na_notes=self.server_notes() if remote else [])

    def _update_figures(self) -> None:
        live = self.live
        m = live.metrics.get(live.energy_view) if live.metrics else None
        na_why = "server energy N/A (i: why)" if self.is_remote() and self.server_notes() else None
        values = figure_values(m, self.figure_quality(), live.energy_view, ended=not live.running, na_why=na_why)
        for fid, (text, caption, est, quality) in values.items():
            self.query_one(f"#{fid}", Figure).show(text, caption, est, quality)

    def _show_query(self) -> None:
        cur = self.live.current
        q = getattr(cur, "query", None)
        if q is None:
            self._set("#question", "")
            self._set("#reference", "")
            return
        tag = "warm-up" if cur.warmup else f"query {cur.index + 1}/{cur.total}"
        self._set("#question", f"{tag} · {q.domain}\n{q.prompt}")
        ref = q.reference if q.reference is not None else "none (unscored)"
        self._set("#reference", f"reference: {ref}")
        self._update_answer()

    def _update_answer(self) -> None:
        """The answer streaming in. A new query starts with an empty answer (never the previous one under
        the new question); between queries and after the run, the last query's answer stays, titled as
        such, so a short answer between two redraws is still seen, and a failed query says why."""
        live = self.live
        text, title = live.answer, "answer"
        last = live.records[-1] if live.records else None
        if not live.in_flight and last is not None:
            text = answer_text(last)
            title = "answer · warm-up" if last.warmup else \
                f"answer · query {last.index + 1}" if last.index >= 0 else "answer · last query"
        if (text, title) == self._answer_shown:
            return
        self._answer_shown = (text, title)
        view = self.query_one(AnswerView)
        if view.border_title != title:
            view.border_title = title
        view.set_text(text)

    def _update_throughput_live(self) -> None:
        live = self.live
        rate = live.live_rate(self.clock()) if live.in_flight else None
        last = live.records[-1] if live.records else None
        now = fmt.num(rate, 3, 'tok/s') if rate is not None else "–"
        if self.compact:  # one line
            line = f"now {now}"
            if last is not None:
                line += f" · last: decode {fmt.num(last.decode_tps, 3, 'tok/s')}"
        else:
            line = f"streaming now: {now}"
            if last is not None:
                src = last.counts_source or fmt.NA
                line += (f"\nlast: prefill {fmt.num(last.prefill_tps, 3, 'tok/s')}"
                         f" · decode {fmt.num(last.decode_tps, 3, 'tok/s')}\n({src}) · bars: decode per query")
        self._set("#throughput", line)

    def _update_throughput_done(self, record: dict | None) -> None:
        rates = [r.decode_tps for r in self.live.records[-60:] if r.decode_tps is not None]
        self.query_one("#tps-spark", BarLine).update(rates)

    # ---- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters) -> bool | None:
        running = self.handle is not None and self.handle.active and self.live.running
        if action in ("toggle_pause", "skip", "stop"):
            return running  # hidden once the run is over: only what still applies is offered
        if action == "export":
            return True if self.live.folder else None
        return True

    def action_toggle_pause(self) -> None:
        if self.handle is None:
            return
        if self.handle.paused:
            self.handle.resume()
            self.notify("resumed", timeout=2)
        else:
            self.handle.pause()
            self.notify("paused after the current query", timeout=3)
        self._update_status()

    def action_skip(self) -> None:
        if self.handle is not None:
            self.handle.skip()

    def action_stop(self) -> None:
        if self.handle is not None and self.handle.active:
            self.handle.stop()
            self.notify("stopping: every finished query is kept; resume it from Sessions", timeout=4)

    def action_export(self) -> None:
        self.app.action_export()

    def action_toggle_energy(self) -> None:
        self.live.energy_view = "net" if self.live.energy_view == "gross" else "gross"
        view = self.live.energy_view
        self.query_one(QueryTable).set_view(view, [record_cells(r, view) for r in self.live.all_records])
        self._update_figures()
        self._update_status()

    def action_cycle_sort(self) -> None:
        self.query_one(QueryTable).cycle_sort()

    def action_back(self) -> None:
        if self.handle is not None and self.handle.active:
            self.notify("the run is going: stop it first (x)", severity="warning", timeout=3)
            return
        self.app.pop_screen()
