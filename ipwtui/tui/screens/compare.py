"""Compare: two or more sessions side by side, accuracy against mean power, and the routing what-if.

Everything is computed by the core (``core.compare.compare`` and ``route``) on a thread worker, as the
``ipwtui compare`` command computes it; this screen only lays it out:

- the figures side by side (a column per session): accuracy, IPW and IPJ with their 95 % intervals,
  mean power, J per query, per output token and per correct answer, latency, TTFT, cost, accuracy per
  domain, and the energy's source, quality and boundary. A figure whose energy is not measured says so
  ("est", "model", "server"); N/A is never 0; a session that ran other queries is marked;
- the chart: accuracy (y) against mean power (x) with each session's intervals and the iso-IPW lines
  a / P = k, as the Intelligence per Watt paper draws it;
- the notes (like for like or not, not comparable, ranking caveats);
- the routing what-if of the local sessions against each cloud side, with the paper's own figures in
  rows labelled as theirs.

Keys: ``l`` like for like (restate a cited cloud figure with its accelerator-only counterpart), ``a`` /
``A`` the router's alpha up / down, ``f5`` reload, ``escape`` back. Every text that comes from a session
(labels, models, notes) is shown as text, never read as markup.
"""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Region
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from ...core import fmt
from ...core.fmt import model_label
from ..widgets.lines import fit
from ..widgets.footer import KeyFooter
from ..widgets.responsive import Responsive
from ..widgets.scatter import ESTIMATE_MARK, MEASURED_MARK, Scatter, ScatterPoint

PAPER_ALPHAS = (0.6, 0.8)  # the routers the paper reports
ALPHA_STEPS = tuple(round(0.1 * i, 1) for i in range(1, 11))
DEFAULT_ALPHA = 0.8
CELL_MAX = 24  # a side-by-side cell is cut (with an ellipsis) beyond this; the notes say it all
# what a figure whose energy is not measured carries (the query table's words)
QUALITY_WORD = {"estimated": " est", "model-based": " model", "measured-remote": " server"}
KEY_LINE = ("est = estimate · model = model-based · server = measured on the server · N/A = not available "
            "(never 0) · ✗ = other queries: not comparable")
NOT_COMPARABLE = " ✗"


def marked(text: str, value, quality: str | None) -> str:
    """A figure's text with its quality word when it has a value and is not measured here."""
    return text if value is None else text + QUALITY_WORD.get(quality or "", "")


def pct_ci(ci) -> str:
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] %" if ci else fmt.NA


def side_by_side(figs: list[dict]) -> list[tuple[str, str, list[str]]]:
    """(row key, row label, a cell per session) of the side-by-side table, from the core's figures."""
    rows: list[tuple[str, str, list[str]]] = []

    def row(key: str, label: str, cell) -> None:
        rows.append((key, label, [cell(f) for f in figs]))

    def energy(key: str, digits: int = 3, unit: str = ""):
        return lambda f: marked(fmt.num(f[key], digits, unit), f[key], f["energy"]["quality"])

    def interval(key: str, digits: int = 3):
        return lambda f: marked(fmt.ci(f[key], digits), f[key], f["energy"]["quality"]) if f[key] else fmt.NA

    def qs(f) -> str:
        s = f["query_set"]
        return f"{s['file'] or fmt.NA}, {s['n']} q, #{s['digest'][:6]}"

    def queries(f) -> str:
        q = f["queries"]
        return f"{q['answered']} answered · {q['errors']} err"

    def client(f) -> str:
        c = f.get("client_energy")
        if c is None:
            return "–"
        return marked(fmt.num(c["j_per_query"], 3, "J"), c["j_per_query"], c["quality"]) + \
            f" · {c['boundary'] or fmt.NA}"

    def power_range(f) -> str:
        r = f["mean_power_range_w"]
        return marked(f"{fmt.ci(r)} W", r, f["energy"]["quality"]) if r else "–"

    row("model", "model", lambda f: model_label(f["model"]) or fmt.NA)
    row("where", "where", lambda f: f["where"] + (f" · {f['backend']}" if f["backend"] else ""))
    row("accelerator", "accelerator", lambda f: (f["accelerator"] or fmt.NA) +
        (" (client)" if f["where"] == "remote" else ""))
    row("query_set", "query set", qs)
    row("comparable", "comparable", lambda f: "yes" if f["comparable"] else "NO: other queries (notes)")
    row("queries", "queries", queries)
    row("accuracy", "accuracy", lambda f: fmt.pct(f["accuracy"]) + (
        f" ({f['queries']['correct']}/{f['queries']['scored']})" if f["accuracy"] is not None else ""))
    row("accuracy_ci", "  95 % CI", lambda f: pct_ci(f["accuracy_ci"]))
    row("ipw", "IPW (1/W)", energy("ipw"))
    row("ipw_ci", "  95 % CI", interval("ipw_ci"))
    row("ipj", "IPJ (1/J)", energy("ipj"))
    row("ipj_ci", "  95 % CI", interval("ipj_ci"))
    row("mean_power_w", "mean power", energy("mean_power_w", 3, "W"))
    row("mean_power_range_w", "  range", power_range)
    row("j_per_query", "J per query", energy("j_per_query", 4, "J"))
    row("j_per_output_token", "J per output token", energy("j_per_output_token", 3, "J"))
    row("j_per_correct", "J per correct", energy("j_per_correct", 4, "J"))
    row("energy_quality", "energy quality", lambda f: f["energy"]["quality"])
    row("energy_source", "energy source", lambda f: f["energy"]["source"] or fmt.NA)
    row("energy_boundary", "energy boundary", lambda f: f["energy"]["boundary"] or fmt.NA)
    if any("client_energy" in f for f in figs):
        row("client_energy", "this machine J/query", client)
    row("latency_mean_s", "latency mean", lambda f: fmt.num(f["latency_mean_s"], 3, "s"))
    row("latency_median_s", "latency median", lambda f: fmt.num(f["latency_median_s"], 3, "s"))
    row("ttft_mean_s", "TTFT mean", lambda f: fmt.num(f["ttft_mean_s"], 3, "s"))
    row("cost_per_query", "cost per query", lambda f: fmt.usd(f["cost_per_query"]))
    row("cost_per_correct", "cost per correct", lambda f: fmt.usd(f["cost_per_correct"]))
    row("accuracy_per_dollar", "accuracy per $", lambda f: fmt.num(f["accuracy_per_dollar"], 3))
    for d in sorted({d for f in figs for d in f["per_domain"]}):
        def dom(f, d=d) -> str:
            k = f["per_domain_counts"].get(d)
            return f"{fmt.pct(f['per_domain'].get(d))} ({k['correct']}/{k['scored']})" if k else "–"

        row(f"domain:{d}", f"  {d}", dom)
    return rows


def chart_points(chart: dict) -> list[ScatterPoint]:
    """The core's chart points as the scatter widget's."""
    out = []
    for p in chart.get("points") or []:
        out.append(ScatterPoint(
            label=p["label"], x=p["x"], y=p["y"],
            y_ci=tuple(p["y_ci"]) if p.get("y_ci") else None,
            x_range=tuple(p["x_range"]) if p.get("x_range") else None,
            estimate=p.get("quality") not in ("measured", "measured-remote"),
            flag="" if p.get("comparable", True) else NOT_COMPARABLE))
    return out


def routing_rows(a: dict, chosen: float) -> list[tuple[str, list[str]]]:
    """(key, cells) of one routing what-if's table: our strategies, then the paper's rows, labelled."""
    from ...core.routing import strategy_name

    quals = {v.get("quality") for v in (a.get("energy_labels") or {}).values()}
    mk = " est" if "estimated" in quals else " model" if "model-based" in quals else ""

    def saving(v, ci, mark: str = "") -> str:
        if v is None:
            return fmt.NA
        s = f"{100 * v:+.1f} %" + mark
        if ci:
            s += f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
        return s + (" LOSES" if v < 0 else "")

    def acc(r) -> str:
        ci = r.get("accuracy_ci")
        return fmt.pct(r["accuracy"]) + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")

    rows: list[tuple[str, list[str]]] = []
    for i, r in enumerate(a.get("strategies") or []):
        name = strategy_name(r)
        if r["name"] == "router" and abs(r["alpha"] - chosen) < 1e-9:
            name += " ◀ chosen"
        e = r["energy_per_query"]
        joules = fmt.num(e, 4, "J") + (mk if e is not None else "")
        if r["name"] == "all-cloud":  # the baseline the savings are measured against
            rows.append((f"s{i}", ["all-cloud (baseline)", "–", acc(r), fmt.pct(r["local_share"]), "–", "–",
                                   joules]))
            continue
        rows.append((f"s{i}", [name, saving(r["energy_savings"], r["energy_savings_ci"], mk), acc(r),
                               fmt.pct(r["local_share"]), saving(r["cost_savings"], r["cost_savings_ci"]),
                               saving(r["latency_savings"], r["latency_savings_ci"]), joules]))
    ref = a.get("reference") or {}
    for name, v in (ref.get("savings") or {}).items():
        share = fmt.pct(ref.get("oracle_local_share")) if name == "oracle" else "not given"
        rows.append((f"paper:{name}", [f"paper's {name}", f"{100 * v['energy']:+.1f} %", "not given", share,
                                       f"{100 * v['cost']:+.1f} %", "not given", "not given"]))
    return rows


# the savings first: on a small screen they are what shows without scrolling sideways
ROUTING_COLUMNS = ("strategy", "energy saved [CI]", "accuracy [95 % CI]", "local share", "cost saved [CI]",
                   "latency saved [CI]", "J per query")


def routing_head(a: dict) -> str:
    cov = ", ".join(f"{k} {fmt.pct(v)}" for k, v in (a.get("coverage") or {}).items()) or fmt.NA
    ref = a.get("reference") or {}
    return (f"Routing what-if: local side {', '.join(a['local'])} · cloud side {a['cloud']} · {a['joined']} queries "
            f"joined · local coverage: {cov}; any local right: {fmt.pct(a.get('best_of_local_coverage'))}; "
            f"cloud accuracy: {fmt.pct(a.get('cloud_accuracy'))} · the paper's coverage: "
            f"{fmt.pct(ref.get('coverage'))} (theirs)")


def text(s: str) -> Text:
    """A table cell: plain text, never markup."""
    return Text(str(s), no_wrap=True, overflow="ellipsis")


class CompareLoaded(Message):
    def __init__(self, data: dict | None, error: str | None = None) -> None:
        super().__init__()
        self.data = data
        self.error = error


class CompareScreen(Responsive, Screen):
    """Two or more session folders compared (see the module docstring)."""

    BINDINGS = [
        Binding("l", "toggle_like", "Like for like", id="compare.like",
                tooltip="Restate a cited cloud figure with its accelerator-only counterpart, where the cited "
                        "table has one"),
        Binding("a", "alpha_up", "Alpha +", id="compare.alpha_up",
                tooltip="The router's alpha (how often it is right) up by 0.1"),
        Binding("A", "alpha_down", "Alpha −", id="compare.alpha_down",
                tooltip="The router's alpha down by 0.1"),
        Binding("f5", "reload", "Reload", id="compare.reload"),
        Binding("escape", "back", "Back", id="compare.back"),
    ]

    def __init__(self, folders, like_for_like: bool = False, alpha: float = DEFAULT_ALPHA) -> None:
        super().__init__()
        self.folders = [Path(f) for f in folders]
        self.like_for_like = like_for_like
        self.alpha = alpha
        self.data: dict | None = None  # {"compare": ..., "routing": ...} as plain data, once loaded
        self.error: str | None = None
        self.loads = 0  # loads finished (for tests)
        self._table_need = 0  # the side-by-side table's width without its border
        self.loading_now = False
        self._show_chosen_next = False  # an alpha key was pressed: show its row once reloaded

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("comparing…", id="compare-status", markup=False)
        with VerticalScroll(id="compare-body"):
            with Horizontal(id="compare-top"):
                yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True,
                                classes="compare-pane")
                yield Scatter(id="compare-chart", classes="compare-pane")
            yield Static(KEY_LINE, id="compare-key", markup=False)
            yield Vertical(id="routing")
            yield Static("", id="compare-notes", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = "ipwtui"
        self.sub_title = "compare"
        self.query_one("#compare-table").border_title = "side by side (gross energy)"
        self.query_one("#compare-chart").border_title = "accuracy against mean power"
        self.action_reload()

    # ---- loading -----------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.loading_now = True
        self.query_one("#compare-body").loading = True
        self._status()
        self._load(list(self.folders), self.like_for_like, self.alpha)

    @work(thread=True, exclusive=True, group="compare-load", exit_on_error=False)
    def _load(self, folders: list[Path], like_for_like: bool, alpha: float) -> None:
        from ...core.compare import CompareError, compare_and_route, plain
        from ...core.routing import RoutingError

        try:
            c, r = compare_and_route(folders, like_for_like=like_for_like, alphas=sorted({*PAPER_ALPHAS, alpha}))
        except (CompareError, RoutingError) as e:
            self.post_message(CompareLoaded(None, str(e)))
            return
        except Exception as e:  # a message on screen, never a traceback
            self.post_message(CompareLoaded(None, f"{type(e).__name__}: {e}"))
            return
        self.post_message(CompareLoaded(plain({"compare": c.as_dict(), "routing": r,
                                               "like_for_like": like_for_like, "alpha": alpha})))

    @on(CompareLoaded)
    async def _loaded(self, msg: CompareLoaded) -> None:
        self.loading_now = False
        self.query_one("#compare-body").loading = False
        self.error = msg.error
        if msg.error or msg.data is None:
            self.data = None
            self._status()
            self.notify(msg.error or "?", title="Compare", severity="error", markup=False)
        else:
            first = self.data is None
            self.data = msg.data
            self._fill_table()
            self._fill_chart()
            self._fill_notes()
            await self._fill_routing()
            self._status()
            if first:
                self.query_one("#compare-table", DataTable).focus()
            if self._show_chosen_next:
                self._show_chosen_next = False
                self.call_after_refresh(self.show_chosen_router)
        self.loads += 1  # (last: a test waiting for a load sees it whole)

    # ---- parts ---------------------------------------------------------------------------------------

    def _status(self) -> None:
        like = "on" if self.like_for_like else "off"
        head = (f"{len(self.folders)} sessions · gross energy · like for like: {like} (l) · router alpha "
                f"{self.alpha:g} (a/A)")
        if self.loading_now:
            head += " · comparing…"
        elif self.error:
            head = f"cannot compare: {self.error}"
        elif self.data is not None:
            errs = self.data["compare"]["errors"]
            if errs:
                head += f" · {len(errs)} folder{'s' if len(errs) != 1 else ''} not read (notes)"
        self.query_one("#compare-status", Static).update(head)

    def _fill_table(self) -> None:
        figs = self.data["compare"]["sessions"]  # type: ignore[index]
        t = self.query_one("#compare-table", DataTable)
        cursor = t.cursor_row
        t.clear(columns=True)
        heads = ["figure"] + [fit(f["label"] + ("" if f["comparable"] else NOT_COMPARABLE), CELL_MAX) for f in figs]
        rows = [[label] + [fit(c, CELL_MAX) for c in cells] for _key, label, cells in side_by_side(figs)]
        for i, h in enumerate(heads):
            t.add_column(text(h), key="figure" if i == 0 else f"s{i - 1}")
        for (key, _label, _cells), cells in zip(side_by_side(figs), rows):
            t.add_row(*(text(c) for c in cells), key=key)
        # the width the columns need: the widest text of each, and the cell padding on both sides
        self._table_need = sum(max(cell_len(r[i]) for r in [heads, *rows]) + 2 * t.cell_padding
                               for i in range(len(heads)))
        if t.row_count:
            t.move_cursor(row=min(cursor, t.row_count - 1))
        self._size_table()

    def _size_table(self) -> None:
        """Side by side with the chart, the table takes the width its columns need (up to two thirds of
        the screen); stacked (narrow screens), the whole width."""
        t = self.query_one("#compare-table", DataTable)
        if self.has_class("-narrow") or not self._table_need:
            t.styles.width = None
            return
        need = self._table_need + 4  # the border and the scrollbar
        t.styles.width = max(40, min(need, self.app.size.width * 2 // 3))

    def size_changed(self, classes: dict[str, bool]) -> None:
        self._size_table()

    def on_resize(self) -> None:
        self.call_after_refresh(self._size_table)

    def _fill_chart(self) -> None:
        cd = self.data["compare"]  # type: ignore[index]
        ch = cd["chart"]
        points = chart_points(ch)
        shown = {p.label for p in points}
        left = [f["label"] for f in cd["sessions"] if f["label"] not in shown]
        legend = (f"{MEASURED_MARK} measured  {ESTIMATE_MARK} estimate  │ accuracy 95 % CI  ─ power range  "
                  "⋰ IPW = a/P")
        if any(p.flag for p in points):
            legend += f"  {NOT_COMPARABLE.strip()} not comparable"
        if left:
            legend += f" · not drawn (no accuracy or power): {', '.join(left)}"
        self.query_one(Scatter).show(
            points, [line["ipw"] for line in ch.get("lines") or []],
            tuple(ch["x_range"]) if ch.get("x_range") else None, bool(ch.get("log_x")),
            x_label="mean power (W)", y_label="accuracy", line_prefix="IPW ", legend=legend,
            note="no session has both an accuracy and a mean power")

    def _fill_notes(self) -> None:
        cd = self.data["compare"]  # type: ignore[index]
        rk = cd["ranking"]
        lines = []
        if len(rk.get("ipw") or []) > 1:
            lines.append(f"Ranked by IPW: {' > '.join(rk['ipw'])} · by IPJ: {' > '.join(rk['ipj'])}")
        elif cd["sessions"]:
            lines.append("Not ranked: fewer than two comparable sessions with an IPW")
        lines += [f"caveat: {c}" for c in rk.get("caveats") or []]
        lines += [f"• {n}" for n in cd["notes"]]
        lines += [f"not compared: {e['error']}" for e in cd["errors"]]
        self.query_one("#compare-notes", Static).update("\n".join(lines))

    async def _fill_routing(self) -> None:
        box = self.query_one("#routing", Vertical)
        await box.remove_children()
        r = self.data["routing"]  # type: ignore[index]
        widgets = []
        if r.get("note"):
            widgets.append(Static(r["note"], classes="routing-head", markup=False))
        for n, a in enumerate(r.get("analyses") or []):
            widgets.append(Static(routing_head(a), classes="routing-head", markup=False))
            t = DataTable(id=f"routing-table-{n}", classes="routing-table", cursor_type="row", zebra_stripes=True)
            for i, col in enumerate(ROUTING_COLUMNS):
                t.add_column(text(col), key=f"c{i}")
            for key, cells in routing_rows(a, self.alpha):
                t.add_row(*(text(c) for c in cells), key=key)
            widgets.append(t)
            ref = a.get("reference") or {}
            label = str(ref.get("label", "the paper's figures")).removeprefix("reference: ")
            foot = [f"paper's rows: {label}; their setup: {ref.get('setup', '?')}"]
            foot += [f"• {x}" for x in a.get("notes") or []]
            widgets.append(Static("\n".join(foot), classes="routing-notes", markup=False))
        await box.mount_all(widgets)

    # ---- keys -----------------------------------------------------------------------------------------

    def action_toggle_like(self) -> None:
        self.like_for_like = not self.like_for_like
        self.action_reload()

    def _step_alpha(self, step: int) -> None:
        steps = list(ALPHA_STEPS)
        i = min(range(len(steps)), key=lambda k: abs(steps[k] - self.alpha))
        self.alpha = steps[(i + step) % len(steps)]
        self._show_chosen_next = True
        self.action_reload()

    def show_chosen_router(self) -> None:
        """Bring the chosen router's row into view (a new alpha's row may sort below the screen's edge, so
        only the status line would seem to change) and put the routing table's cursor on it."""
        body = self.query_one("#compare-body")
        for t in self.query(".routing-table").results(DataTable):
            for i, key in enumerate(t.rows):
                if "◀ chosen" in t.get_row(key)[0].plain:
                    t.move_cursor(row=i, scroll=False)
                    y = t.region.y + 1 + i - body.region.y + int(body.scroll_y)  # in the body's own lines
                    body.scroll_to_region(Region(0, y, 1, 1), animate=False, immediate=True)
                    return

    def action_alpha_up(self) -> None:
        self._step_alpha(1)

    def action_alpha_down(self) -> None:
        self._step_alpha(-1)

    def action_back(self) -> None:
        self.app.pop_screen()
