"""The duel screen: two targets answer the same query side by side, live (the stage demo).

Each side has its figures (IPW, IPJ, accuracy, J per query, mean W, with their quality and boundary: a
remote side's energy is the server's), the question and its answer streaming in; below them the machine's
power and one table with both sides' rows ("A 3", "B 3"). Like the run screen it draws on a timer, in the
gaps between queries while the local model's threads take every core, and computes nothing itself: the
figures are the core's running metrics each side's events carry.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Header

from ...core import events as ev
from ...core import fmt
from ..gaps import GapOpen
from ..live import LiveState
from ...core.contention import usable_cores
from ..pacing import Pacer
from ..rows import record_cells
from ..widgets.answer import AnswerView
from ..widgets.lines import LineText
from ..widgets.power_graph import PowerGraph
from ..widgets.query_table import QueryTable
from ..widgets.footer import KeyFooter
from ..widgets.responsive import Responsive, WholeRepaint
from ...core.summary import energy_label_of
from .run import answer_text, live_traces, metric

SIDES = ("A", "B")


def session_label(records: list) -> tuple[str | None, str, str | None]:
    """(source, quality, boundary) of the energy a side's figures use: that of its queries that have one
    (a failed query, with none, does not turn the label to N/A), as the session's summary says it."""
    return energy_label_of([r for r in records if r.counted])


def side_figures(live: LiveState, remote: bool) -> str:
    """Three short lines of one side's running figures: IPW and IPJ; accuracy, J per query and mean W;
    where the energy comes from (the server's for a remote side), its quality and boundary."""
    m = live.metrics.get(live.energy_view) if live.metrics else None
    if m is None:
        return "no query finished yet\n\n"
    get = (lambda k: metric(m, k))
    src, quality, boundary = session_label(live.all_records)
    n, k = get("n") or 0, get("n_with_energy") or 0
    cover = f" (over {k} of {n})" if k != n else ""
    short = {"estimated": " ≈ est", "model-based": " ≈ model"}.get(quality, "")  # kept short: never cut off
    line1 = f"IPW {fmt.num(get('ipw'), 3)} · IPJ {fmt.num(get('ipj'), 3)}{short}{cover}"
    line2 = (f"acc {fmt.pct(get('accuracy'))} · {fmt.num(get('mean_energy_j'), 3, 'J')} · "
             f"{fmt.num(get('mean_power_w'), 3, 'W')}")
    word = {"measured": "measured", "measured-remote": "measured on the server", "model-based": "model-based",
            "estimated": "ESTIMATE"}.get(quality, "N/A")
    line3 = f"{word}: {'server ' if remote else ''}{src or fmt.NA}, {boundary or fmt.NA}"
    return f"{line1}\n{line2}\n{line3}"


class DuelScreen(WholeRepaint, Responsive, Screen):
    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/resume", id="duel.pause"),
        Binding("n", "skip", "Skip query", id="duel.skip"),
        Binding("x", "stop", "Stop duel", id="duel.stop"),
        Binding("c", "compare", "Compare", id="duel.compare"),
        Binding("e", "export", "Export", id="duel.export", tooltip="Export both sessions of the duel"),
        Binding("escape", "back", "Setup", id="duel.back"),
    ]

    def __init__(self, handle, names: dict[str, str], remote: dict[str, bool], energy_view: str = "gross") -> None:
        super().__init__()
        self.handle = handle
        self.names = names
        self.remote = remote
        self.lives = {s: LiveState(energy_view=energy_view, model_name=names[s]) for s in SIDES}
        self.pacer = Pacer()
        self._pending: list[tuple[str, object]] = []
        self._tick_timer = None
        self._in_gap = False
        self.ended = False
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield LineText(id="duel-status")
        with Horizontal(id="duel-sides"):
            for side in SIDES:
                with Vertical(id=f"side-{side}", classes="pane duel-side"):
                    figs = LineText(id=f"figs-{side}")
                    figs.add_class("duel-figures")
                    yield figs
                    yield LineText(id=f"question-{side}")
                    yield AnswerView(id=f"answer-{side}")
        yield PowerGraph(id="duel-power")
        yield QueryTable(id="duel-table")
        yield LineText(id="duel-progress")
        yield KeyFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.title = "ipwtui"
        self.sub_title = f"duel: {self.names['A']} vs {self.names['B']}"
        for side in SIDES:
            where = "remote" if self.remote[side] else "this machine"
            self.query_one(f"#side-{side}").border_title = f"{side} · {self.names[side]} · {where}"
        self.query_one("#duel-power").border_title = "power of this machine"
        self.query_one("#duel-table").border_title = "queries (A and B)"
        self._status()
        self._tick_timer = self.set_timer(self.pacer.base, self.tick, name="duel-tick")

    # ---- events (UI thread) ---------------------------------------------------------------------

    def on_duel_event(self, side: str, e) -> None:
        """Called by the app: the state changes now, the widgets on the next frame."""
        self.lives[side].apply(e)
        self._pending.append((side, e))

    def on_duel_ended(self, problem: str | None) -> None:
        self.ended = True
        self.problem = problem
        self._flush()
        self.refresh_bindings()
        self._status()
        try:
            self._progress()  # no frame follows the end: the counters' last values are drawn now
        except NoMatches:  # the screen is being taken down
            pass

    # ---- frames -----------------------------------------------------------------------------------

    def saturated(self) -> bool:
        prep = getattr(self.handle, "prep", None)
        threads = prep.backend.traits.uses_cpu_threads if prep is not None and prep.backend is not None else None
        return not self.ended and threads is not None and threads >= usable_cores()

    def tick(self) -> None:
        self._tick_timer = None
        gate = getattr(self.handle, "gate", None)
        if gate is None:
            self._draw(False)
            return
        gate.frame_due(self, self._draw, saturated=self.saturated() and self.app.screen is self)

    @on(GapOpen)
    def _gap_open(self, msg: GapOpen) -> None:
        if self.app.screen is self:
            msg.gate.gap_open()
        else:
            msg.gate.release()

    def _draw(self, in_gap: bool) -> None:
        try:
            if self.app.screen is self:
                self._frame()
                self.frame_drawn()
        except NoMatches:  # the screen is being taken down
            return
        self._in_gap = in_gap
        interval = self.pacer.next_interval(self.saturated() and not in_gap)
        if not self.ended:
            self._tick_timer = self.set_timer(interval, self.tick, name="duel-tick")

    def _frame(self) -> None:
        self._flush()
        for side in SIDES:
            live = self.lives[side]
            if live.add_tokens(self.handle.buffers[side].drain()):
                self.query_one(f"#answer-{side}", AnswerView).set_text(live.answer)
        traces = live_traces(self.handle.power_series(), self.handle.series_origin)
        self.query_one(PowerGraph).draw(traces, dict(self.lives["A"].idle_w),
                                        note=None if traces else "waiting for the first samples")
        self._progress()

    def _flush(self) -> None:
        events, self._pending = self._pending, []
        rows = []
        for side, e in events:
            if isinstance(e, ev.QueryFinished) and not e.record.warmup:
                cells = record_cells(e.record, self.lives[side].energy_view)
                cells[0].plain = f"{side} {cells[0].plain}"
                rows.append(cells)
                self.query_one(f"#figs-{side}", LineText).update(side_figures(self.lives[side], self.remote[side]))
                if e.record.status != "ok":  # a failed or skipped query says why, in its side's answer pane
                    self.query_one(f"#answer-{side}", AnswerView).set_text(answer_text(e.record))
            elif isinstance(e, ev.QueryStarted):
                q = e.query
                tag = "warm-up" if e.warmup else f"query {e.index + 1}/{e.total}"
                self.query_one(f"#question-{side}", LineText).update(f"{tag} · {q.domain}: {q.prompt}")
                self.query_one(f"#answer-{side}", AnswerView).set_text("")
        if rows:
            self.query_one(QueryTable).add_records(rows)
        if events:
            self._status()

    def _progress(self) -> None:
        parts = []
        for side in SIDES:
            live = self.lives[side]
            errors = live.errors
            parts.append(f"{side}: {live.done}/{live.total or '?'}" +
                         (f" ({errors} error{'s' if errors != 1 else ''})" if errors else ""))
        self.query_one("#duel-progress", LineText).update("  ·  ".join(parts) + (
            "  ·  redrawn between queries" if self._in_gap and not self.ended else ""))

    def _status(self) -> None:
        a = self.lives["A"]
        if self.problem:
            text = f"failed: {self.problem}"
        elif self.ended:
            failed = [f"side {side} had {n} error{'s' if n != 1 else ''}" for side in SIDES
                      if (n := self.lives[side].errors)]
            text = f"{self.handle.status or 'ended'}: " + (f"{' and '.join(failed)} (the rows say why); "
                                                            if failed else "") + \
                "every finished query is in the two sessions · c compares them · e exports them"
        else:
            phase = a.phase + (f": {a.phase_detail}" if a.phase_detail and a.phase != "running" else "")
            text = f"{phase} · the side that answers first alternates from query to query"
        self.query_one("#duel-status", LineText).update(text)

    # ---- actions ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters) -> bool | None:
        if action in ("toggle_pause", "skip", "stop"):
            return not self.ended  # hidden once the duel is over: only what still applies is offered
        if action == "compare":
            return True if self.ended and len(self.handle.folders) == 2 else None
        if action == "export":
            return True if self.export_folders() else None
        return True

    def export_folders(self) -> list[str]:
        """The duel's sessions (both, once they exist)."""
        try:
            return list(self.handle.folders.values())
        except Exception:  # not prepared yet
            return []

    def action_export(self) -> None:
        folders = self.export_folders()
        if not folders:
            self.notify("the duel's sessions are not made yet", severity="warning", timeout=3)
            return
        self.app.open_export(folders)

    def action_toggle_pause(self) -> None:
        if self.handle.paused:
            self.handle.resume()
            self.notify("resumed", timeout=2)
        else:
            self.handle.pause()
            self.notify("paused after the current query", timeout=3)

    def action_skip(self) -> None:
        self.handle.skip()

    def action_stop(self) -> None:
        self.handle.stop()
        self.notify("stopping: every finished query is kept in both sessions", timeout=4)

    def action_compare(self) -> None:
        self.app.compare_sessions(list(self.handle.folders.values()))

    def action_back(self) -> None:
        if not self.ended:
            self.notify("the duel is going: stop it first (x)", severity="warning", timeout=3)
            return
        self.app.pop_screen()
