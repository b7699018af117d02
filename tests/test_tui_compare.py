"""The compare screen: sessions side by side, the accuracy-power chart, the routing what-if; marking sessions in
the sessions list; the export dialog's HTML report.

Sessions are written with test_compare's helpers (the real Session API, known records). Every expected text
is built here from the core's own results (core.compare / route, read in the test) and the core's formatting,
never read back from the screen under test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ipwtui.core import fmt
from ipwtui.core.compare import compare, route
from ipwtui.core.routing import PAPER_REFERENCE, strategy_name
from support import make_app, wait_until
from test_compare import local_and_cloud, rec, write_session
from test_tui_layout import shown

SMALL, LARGE = (80, 24), (160, 48)


async def open_compare(pilot, folders):
    """The compare screen on ``folders``, once its first load has finished."""
    from ipwtui.tui.screens.compare import CompareScreen

    app = pilot.app
    app.open_compare(folders)
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.loads >= 1,
                     what="compare loaded")
    await pilot.pause(0.1)
    return app.screen


async def reloaded(pilot, screen, before: int):
    await wait_until(pilot, lambda: screen.loads > before, what="compare reloaded")
    await pilot.pause(0.1)


async def comes_into_view(pilot, screen, widget, row: int = 0) -> None:
    """Wait until ``widget`` is shown (see test_tui_layout.shown): the footer redraws its keys after a
    focus change, a focused widget is scrolled into view after a refresh. A guard against a hang, not a
    speed check."""

    def ok() -> bool:
        try:
            shown(screen, widget, row)
        except AssertionError:
            return False
        return True

    await wait_until(pilot, ok, what=f"{widget} in view")
    shown(screen, widget, row)


def cell(table, row: str, col: str) -> str:
    return table.get_cell(row, col).plain


def column_of(table, label: str) -> str:
    """The key of the column whose header starts with a session's label."""
    for key, col in table.columns.items():
        if col.label.plain.split(" ✗")[0] == label:
            return str(key.value)
    raise AssertionError(f"no column for {label!r}: {[c.label.plain for c in table.columns.values()]}")


QUALITY_WORD = {"estimated": "est", "model-based": "model", "measured-remote": "server"}


def with_mark(text: str, quality: str) -> str:
    """The expected cell of an energy figure: its text, and the quality's word when not measured."""
    word = QUALITY_WORD.get(quality)
    return f"{text} {word}" if word else text


async def test_the_figures_shown_are_the_cores(env):
    lf, cf, _, _ = local_and_cloud(env, n=12)
    expected = compare([lf, cf])
    app = make_app(env)
    async with app.run_test(size=LARGE) as pilot:
        screen = await open_compare(pilot, [lf, cf])
        t = screen.query_one("#compare-table")
        for f in expected.figures:
            col = column_of(t, f["label"])
            n = f["queries"]
            assert cell(t, "accuracy", col) == f"{fmt.pct(f['accuracy'])} ({n['correct']}/{n['scored']})"
            q = f["energy"]["quality"]
            assert cell(t, "ipw", col) == with_mark(fmt.num(f["ipw"], 3), q)
            assert cell(t, "ipw_ci", col) == with_mark(fmt.ci(f["ipw_ci"]), q)
            assert cell(t, "ipj", col) == with_mark(fmt.num(f["ipj"], 3), q)
            assert cell(t, "ipj_ci", col) == with_mark(fmt.ci(f["ipj_ci"]), q)
            assert cell(t, "mean_power_w", col) == with_mark(fmt.num(f["mean_power_w"], 3, "W"), q)
            assert cell(t, "j_per_query", col) == with_mark(fmt.num(f["j_per_query"], 4, "J"), q)
            assert cell(t, "j_per_output_token", col) == with_mark(fmt.num(f["j_per_output_token"], 3, "J"), q)
            assert cell(t, "latency_mean_s", col) == fmt.num(f["latency_mean_s"], 3, "s")
            assert cell(t, "ttft_mean_s", col) == fmt.num(f["ttft_mean_s"], 3, "s")
            assert cell(t, "cost_per_query", col) == fmt.usd(f["cost_per_query"])
            assert cell(t, "energy_quality", col) == q
            assert cell(t, "energy_boundary", col) == f["energy"]["boundary"]
            for d, acc in f["per_domain"].items():
                assert cell(t, f"domain:{d}", col).startswith(fmt.pct(acc))
        local, cloud = column_of(t, "local"), column_of(t, "cloud")
        # the local session has no cost: N/A, never 0; the cloud's energy is an estimate, and says so
        assert cell(t, "cost_per_query", local) == "N/A"
        assert cell(t, "ipw", cloud).endswith(" est") and not cell(t, "ipw", local).endswith(" est")
        # the chart holds the core's points, each labelled, and iso-IPW lines labelled with their k
        chart = screen.query_one("#compare-chart")
        got = {p.label: (p.x, p.y, p.estimate) for p in chart.points}
        want = {p["label"]: (p["x"], p["y"], p["quality"] != "measured") for p in expected.chart["points"]}
        assert got == want
        assert chart.lines == [line["ipw"] for line in expected.chart["lines"]]
        placed = [p.text for p in chart.placed]
        assert {"local", "cloud"} <= set(placed)
        assert any(x.startswith("IPW ") for x in placed)
        # the notes: the core's, word for word
        notes = str(screen.query_one("#compare-notes").render())
        for n in expected.notes:
            assert f"• {n}" in notes


async def test_a_session_that_ran_other_queries_is_marked_not_comparable(env):
    lf, cf, _, _ = local_and_cloud(env, n=12)
    other = write_session(env / "other", [rec(f"x{i}", True, 5.0) for i in range(6)])
    expected = compare([lf, cf, other])
    assert not next(f for f in expected.figures if f["label"] == "other")["comparable"]
    app = make_app(env)
    async with app.run_test(size=LARGE) as pilot:
        screen = await open_compare(pilot, [lf, cf, other])
        t = screen.query_one("#compare-table")
        heads = [c.label.plain for c in t.columns.values()]
        assert "other ✗" in heads and "local" in heads and "cloud" in heads
        col = column_of(t, "other")
        assert cell(t, "comparable", col).startswith("NO")
        assert cell(t, "comparable", column_of(t, "local")) == "yes"
        notes = str(screen.query_one("#compare-notes").render())
        assert "other is not comparable" in notes
        assert "not ranked (other queries): other" in notes
        flags = {p.label: p.flag for p in screen.query_one("#compare-chart").points}
        assert flags["other"] and not flags["local"]


async def test_the_routing_table_is_the_cores_and_labels_the_papers_rows(env):
    lf, cf, _, _ = local_and_cloud(env, n=12)
    from ipwtui.tui.screens.compare import DEFAULT_ALPHA, PAPER_ALPHAS

    a = route(compare([lf, cf]), alphas=sorted({*PAPER_ALPHAS, DEFAULT_ALPHA}))["analyses"][0]
    app = make_app(env)
    async with app.run_test(size=LARGE) as pilot:
        screen = await open_compare(pilot, [lf, cf])
        t = screen.query_one("#routing-table-0")
        rows = {str(k.value): [c.plain for c in t.get_row(k)] for k in t.rows}
        for i, s in enumerate(a["strategies"]):
            cells = rows[f"s{i}"]
            assert cells[0].startswith("all-cloud" if s["name"] == "all-cloud" else strategy_name(s))
            assert cells[3] == fmt.pct(s["local_share"])
            assert cells[2].startswith(fmt.pct(s["accuracy"]))
            assert cells[6] == fmt.num(s["energy_per_query"], 4, "J") + " est"
            if s["name"] != "all-cloud":
                # the savings are estimates (the cloud's energy is one): marked so, with the core's interval
                lo, hi = s["energy_savings_ci"]
                assert cells[1] == f"{100 * s['energy_savings']:+.1f} % est [{100 * lo:.1f}, {100 * hi:.1f}]"
                assert cells[4] == "N/A"  # the local session has no cost: no cost saving, never 0
        # the paper's figures: in rows of their own, labelled as the paper's, with the paper's numbers
        for name, v in PAPER_REFERENCE["savings"].items():
            cells = rows[f"paper:{name}"]
            assert cells[0] == f"paper's {name}"
            assert cells[1] == f"{100 * v['energy']:+.1f} %" and cells[4] == f"{100 * v['cost']:+.1f} %"
        foot = " ".join(str(w.render()) for w in screen.query(".routing-notes"))
        assert "paper's rows: " + PAPER_REFERENCE["label"].removeprefix("reference: ") in foot
        assert "not this comparison's" in foot and PAPER_REFERENCE["setup"] in foot
        head = " ".join(str(w.render()) for w in screen.query(".routing-head"))
        assert f"the paper's coverage: {fmt.pct(PAPER_REFERENCE['coverage'])} (theirs)" in head
        assert f"local coverage: local {fmt.pct(a['coverage']['local'])}" in head


async def test_keys_like_for_like_alpha_and_back(env):
    lf, cf, _, _ = local_and_cloud(env, n=12)
    restated = next(f for f in compare([lf, cf], like_for_like=True).figures if f["label"] == "cloud")
    app = make_app(env)
    async with app.run_test(size=LARGE) as pilot:
        screen = await open_compare(pilot, [lf, cf])
        t = screen.query_one("#compare-table")
        cloud = column_of(t, "cloud")
        assert cell(t, "energy_source", cloud) == "cited:gemini-apps-median"
        n = screen.loads
        await pilot.press("l")
        await reloaded(pilot, screen, n)
        t = screen.query_one("#compare-table")
        assert screen.like_for_like
        assert cell(t, "energy_source", cloud) == fit30(restated["energy"]["source"])
        assert cell(t, "j_per_query", cloud) == with_mark(fmt.num(restated["j_per_query"], 4, "J"), "estimated")
        assert "like for like: on" in str(screen.query_one("#compare-status").render())
        # alpha: a raises it by 0.1, A lowers it; the chosen router is in the table, marked
        n = screen.loads
        await pilot.press("a")
        await reloaded(pilot, screen, n)
        rows = [[c.plain for c in screen.query_one("#routing-table-0").get_row(k)]
                for k in screen.query_one("#routing-table-0").rows]
        chosen = [r[0] for r in rows if "◀ chosen" in r[0]]
        assert chosen == ["router alpha=0.9 ◀ chosen"]
        assert {r[0] for r in rows} >= {"router alpha=0.6", "router alpha=0.8"}  # the paper's two stay
        await pilot.press("A", "A")
        assert screen.alpha == 0.7

        def strategies() -> list[str]:
            t = screen.query_one("#routing-table-0")
            return [t.get_row(k)[0].plain for k in t.rows]

        await wait_until(pilot, lambda: "router alpha=0.7 ◀ chosen" in strategies(), what="router 0.7 shown")
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.screen is not screen


def fit30(s: str) -> str:
    from ipwtui.tui.screens.compare import CELL_MAX
    from ipwtui.tui.widgets.lines import fit

    return fit(s, CELL_MAX)


async def test_user_text_is_shown_as_written(env):
    lf, cf, _, _ = local_and_cloud(env, n=12)
    weird = env / "[red]cloud"
    cf.rename(weird)
    app = make_app(env)
    async with app.run_test(size=LARGE) as pilot:
        screen = await open_compare(pilot, [lf, weird])
        t = screen.query_one("#compare-table")
        assert "[red]cloud" in [c.label.plain for c in t.columns.values()]
        assert "[red]cloud" in str(screen.query_one("#compare-notes").render())
        assert any(p.text == "[red]cloud" for p in screen.query_one("#compare-chart").placed)


async def test_fewer_than_two_readable_sessions_is_a_message(env):
    lf, _, _, _ = local_and_cloud(env, n=12)
    app = make_app(env)
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_compare(pilot, [lf, env / "missing"])
        assert screen.data is None
        status = str(screen.query_one("#compare-status").render())
        assert status.startswith("cannot compare:") and "two readable sessions" in status
        assert any("two readable sessions" in n.message for n in app._notifications)


# ---- from the sessions list, the command palette, the keys help -------------------------------------


async def test_mark_sessions_and_compare_them(env):
    from ipwtui.tui.screens.compare import CompareScreen
    from ipwtui.tui.screens.sessions import SessionsScreen

    sessions = env / "sessions"
    lf, cf, _, _ = local_and_cloud(sessions, n=12)
    app = make_app(env)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen.folders, what="list")
        scr = app.screen
        widths = [c.width for c in scr.query_one("#sessions-table").columns.values()]
        await pilot.press("c")  # nothing marked: says how
        await pilot.pause(0.1)
        assert isinstance(app.screen, SessionsScreen)
        assert any("mark two or more" in n.message for n in app._notifications)
        await pilot.press("m")
        assert len(scr.marked) == 1 and "1 marked" in str(scr.query_one("#sessions-root").render())
        await pilot.press("c")
        await pilot.pause(0.1)
        assert isinstance(app.screen, SessionsScreen)
        await pilot.press("m")  # the cursor moved down after the first mark
        assert {Path(p) for p in scr.marked_folders} == {lf, cf}
        table = scr.query_one("#sessions-table")
        assert all(table.get_cell(str(f), "session").plain.startswith("✓ ") for f in (lf, cf))
        # the mark's cells were kept for it: marking widened no column, so the status words stay whole
        assert [c.width for c in table.columns.values()] == widths
        assert all(table.get_cell(str(f), "status") in ("finished", "interrupted") for f in (lf, cf))
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.loads >= 1,
                         what="compare")
        assert {p.name for p in app.screen.folders} == {"local", "cloud"}
        assert app.screen.data is not None
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.screen is scr
        # unmark: m again on a marked row
        scr.query_one("#sessions-table").move_cursor(row=0)
        await pilot.press("m")
        assert len(scr.marked) == 1


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
async def test_the_sessions_list_shows_what_counts_first_on_a_narrow_terminal(env, size):
    """How far a session got and how its energy was known come before what ran it; at 80 columns the names
    are cut (with an ellipsis) so that those columns are on screen, and whole again when there is room."""
    from ipwtui.tui.screens.sessions import COMPACT_NAME, SessionsScreen

    lf, cf, _, _ = local_and_cloud(env / "sessions", n=12)
    for f in (lf, cf):  # named as the app names them: a time and the model's file name
        f.rename(f.with_name(f"20261129-101500-SmolLM2-135M-Instruct.Q4_1-{f.name}"))
    app = make_app(env)
    async with app.run_test(size=size) as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen.folders, what="list")
        await pilot.pause(0.1)
        table = app.screen.query_one("#sessions-table")
        keys = [k.value for k in table.columns]
        assert keys[:4] == ["session", "status", "queries", "energy"]
        names = [table.get_cell(k, "session").plain[2:] for k in app.screen.folders]
        full = [f.name for f in app.screen.folders.values()]
        if size == SMALL:
            assert all(len(n) <= COMPACT_NAME for n in names)
            assert all(n == f or (n.endswith("…") and f.startswith(n[:-1])) for n, f in zip(names, full))
            right = sum(c.get_render_width(table) for k, c in table.columns.items() if k.value in keys[:4])
            assert right <= size[0]  # the first four columns fit the terminal
        else:
            assert names == full
        await pilot.resize_terminal(*(LARGE if size == SMALL else SMALL))
        await pilot.pause(0.2)
        names = [table.get_cell(k, "session").plain[2:] for k in app.screen.folders]
        assert (names == full) == (size == SMALL)


async def test_compare_from_the_command_palette_and_the_keys_help(env):
    from ipwtui.tui.screens.compare import CompareScreen
    from ipwtui.tui.screens.sessions import SessionsScreen

    app = make_app(env)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"compare sessions")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), what="sessions list")
        await pilot.pause(0.1)
        assert any("mark two or more" in n.message for n in app._notifications)
        sections = dict(app.key_help())
        keys = {desc for _k, desc in sections["Compare"]}
        assert {"Like for like", "Alpha +", "Alpha −", "Back"} <= keys
        assert "Compare" in {desc for _k, desc in sections["Sessions"]}
        assert "Compare sessions" in {desc for _k, desc in sections["Everywhere"]}
        assert all(b.id for b in CompareScreen.BINDINGS)


# ---- layout and snapshots --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [SMALL, (100, 30), LARGE], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_table_header_and_the_chart_are_on_screen(env, size):
    from textual.widgets import Footer

    lf, cf, _, _ = local_and_cloud(env, n=12)
    app = make_app(env)
    async with app.run_test(size=size) as pilot:
        screen = await open_compare(pilot, [lf, cf])
        table = screen.query_one("#compare-table")
        chart = screen.query_one("#compare-chart")
        shown(screen, screen.query_one("#compare-status"))
        shown(screen, table, row=table.region.height // 2)
        content = table.scrollable_content_region
        at, _ = screen.get_widget_at(content.x + 1, content.y)
        assert at is table and "figure" in table.render_line(0).text  # the header line
        assert content.height - 1 >= 5  # at least five figures under it
        for row in (1, chart.region.height // 2, chart.region.height - 2):
            shown(screen, chart, row=row)
        assert chart.region.height >= 9 and chart.region.width >= 40
        assert any(p.text == "local" for p in chart.placed)
        await comes_into_view(pilot, screen, screen.query_one(Footer))
        # the routing table is reached by scrolling the page: focus it, and it comes into view
        rt = screen.query_one("#routing-table-0")
        rt.focus()
        await comes_into_view(pilot, screen, rt)


def snapshot_sessions(root: Path):
    """Two local sessions and a cloud one on the same 12 queries, and one on other queries."""
    lf, cf, _, _ = local_and_cloud(root, n=12)
    big = write_session(root / "local-big", [rec(f"q{i}", i % 5 != 0, 40.0 + 2 * i, 3.0 + 0.1 * i, out=25,
                                                 domain="a" if i % 2 else "b") for i in range(12)])
    return [big, lf, cf]


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_screen_snapshot(env, snap_compare, size):
    root = Path("/tmp/ipwtui-snapshot-compare")
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    folders = snapshot_sessions(root)

    async def go(pilot):
        await pilot.pause(0.2)
        await open_compare(pilot, folders)
        await pilot.pause(0.3)

    try:
        assert snap_compare(make_app(env), terminal_size=size, run_before=go)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---- the export dialog's HTML report ----------------------------------------------------------------


def need_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        message = "matplotlib is not installed (pip install 'ipwtui[report]'): the HTML report needs it"
        if os.environ.get("IPWTUI_REQUIRE_SERVERS") == "1":
            pytest.fail(f"{message}; IPWTUI_REQUIRE_SERVERS=1 requires it", pytrace=False)
        pytest.skip(message)


async def export_with(app, pilot, folder: Path, dest: Path, fmt_value: str):
    from ipwtui.tui.screens.dialogs import ExportDialog

    app.open_export(str(folder))
    await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog) and app.screen.query_one("#export-ok"),
                     what="export dialog")
    dlg = app.screen
    dlg.query_one("#export-dir").value = str(dest)
    dlg.query_one("#export-format").value = fmt_value
    await pilot.pause(0.1)
    return dlg


async def test_export_dialog_writes_an_html_report(env):
    need_matplotlib()
    from ipwtui.tui.screens.dialogs import ExportDialog

    lf, _, _, _ = local_and_cloud(env, n=12)
    out = env / "out"
    app = make_app(env)
    async with app.run_test(size=LARGE) as pilot:
        await export_with(app, pilot, lf, out, "csv+json+html")
        await pilot.click("#export-ok")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExportDialog), timeout=120, what="export done")
        assert any("report.html" in n.message for n in app._notifications if n.title == "Session exported")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "<svg" in html
    assert "local" in html  # the session's name is in its report
    for name in ("queries.csv", "samples.csv", "summary.json"):
        assert (out / name).is_file()


async def test_without_matplotlib_the_html_format_says_so_and_writes_nothing(env, monkeypatch):
    from ipwtui.tui.screens.dialogs import ExportDialog

    lf, _, _, _ = local_and_cloud(env, n=12)
    out = env / "out"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails, as when it is missing
    app = make_app(env)
    async with app.run_test(size=LARGE) as pilot:
        dlg = await export_with(app, pilot, lf, out, "csv+json+html")
        note = dlg.query_one("#export-error")
        first = str(note.render())
        assert "matplotlib" in first and "\n" not in first.strip() and note.has_class("-error")
        await pilot.click("#export-ok")
        await wait_until(pilot, lambda: not dlg.query_one("#export-ok").disabled, what="export refused")
        assert isinstance(app.screen, ExportDialog)  # the dialog stays, with the message
        assert "matplotlib" in str(note.render())
        assert dlg.query_one("#export-dir").value == str(out)
        # another format still works
        dlg.query_one("#export-format").value = "csv+json"
        await pilot.pause(0.1)
        assert "matplotlib" not in str(note.render())
    assert not (out / "report.html").exists() and not (out / "queries.csv").exists()


# ---- the chart widget on its own -------------------------------------------------------------------


async def test_scatter_places_points_by_value_and_labels_every_line():
    from textual.app import App

    from ipwtui.tui.widgets.scatter import ESTIMATE_MARK, MEASURED_MARK, Scatter, ScatterPoint

    class One(App):
        def compose(self):
            yield Scatter(id="s")

    app = One()
    async with app.run_test(size=(70, 20)) as pilot:
        s = app.query_one(Scatter)
        s.show([ScatterPoint("low", 2.0, 0.2, y_ci=(0.1, 0.3)), ScatterPoint("high", 8.0, 0.9, estimate=True,
                                                                             x_range=(6.0, 9.0))],
               [0.05, 0.5], (0.0, 10.0), x_label="power", y_label="acc", line_prefix="k=", legend="legend")
        await pilot.pause(0.05)
        w, h = s.content_size
        rows = [st.text for st in s.lines_for(w, h)]

        def find(ch):
            return next((r, row.index(ch)) for r, row in enumerate(rows) if ch in row)

        (r_low, c_low), (r_high, c_high) = find(MEASURED_MARK), find(ESTIMATE_MARK)
        assert r_high < r_low and c_high > c_low  # higher accuracy higher up, more power further right
        assert rows[0].startswith("acc") and "legend" in rows[-1] and "power" in rows[-2]
        top = next(r for r, row in enumerate(rows) if row.lstrip().startswith("100%"))
        bottom = next(r for r, row in enumerate(rows) if row.lstrip().startswith("0%"))
        assert top < r_high < r_low < bottom
        placed = {p.text for p in s.placed}
        assert {"low", "high", "k=0.05", "k=0.5"} <= placed
        # the accuracy interval is drawn above and below the low point, in its column
        assert rows[r_low - 1][c_low] != " " and rows[r_low + 1][c_low] != " "
        # nothing to draw: the note says so, and no point is invented
        s.show([], [], None, note="nothing here")
        await pilot.pause(0.05)
        text = "\n".join(st.text for st in s.lines_for(w, h))
        assert "nothing here" in text and MEASURED_MARK not in text and ESTIMATE_MARK not in text


async def test_a_new_alpha_brings_its_router_row_into_view(env):
    """At 120x36 the router's row for a raised alpha sorts below the screen's edge: only the status line
    seemed to change. The chosen row is brought into view, under the routing table's cursor."""
    lf, cf, _, _ = local_and_cloud(env, n=12)
    app = make_app(env)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, [lf, cf])

        def chosen_row_on_screen() -> bool:
            t = screen.query_one("#routing-table-0")
            body = screen.query_one("#compare-body")
            for i, key in enumerate(t.rows):
                if "◀ chosen" in t.get_row(key)[0].plain:
                    y = t.region.y + 1 + i
                    return t.cursor_row == i and body.region.y <= y < body.region.bottom
            return False

        for key, alpha in (("a", 0.9), ("a", 1.0), ("A", 0.9)):
            n = screen.loads
            await pilot.press(key)
            await reloaded(pilot, screen, n)
            assert screen.alpha == alpha
            await wait_until(pilot, chosen_row_on_screen, what=f"the row of alpha {alpha} in view")
