"""The screens fit a terminal of 80x24 and up: what must be seen is inside the screen and on top.

Snapshots show how a screen looks; these checks fail when a part falls off the screen (below the last
row, or under another widget), whatever it looks like.
"""

from __future__ import annotations

import dataclasses

import pytest

from ipwtui.tui.rows import record_cells
from support import canned_records, canned_run, screenshot_app, wait_until

SIZES = [(80, 24), (100, 30), (120, 36), (160, 48)]


def shown(screen, widget, row: int = 0) -> None:
    """``widget`` is inside the screen, and its line ``row`` is drawn by it (not covered, not cut)."""
    r = widget.region
    assert r.width > 0 and r.height > row, (widget, r)
    assert screen.region.contains_region(r), (widget, r, screen.region)
    at, _ = screen.get_widget_at(r.x + r.width // 2, r.y + row)
    assert at is widget or widget in at.ancestors, (widget, at, r)


def table_header_and_rows(screen, table, rows: int) -> None:
    """The table's header line is on screen, and at least ``rows`` query rows under it."""
    content = table.scrollable_content_region
    assert screen.region.contains_region(content), (content, screen.region)
    at, _ = screen.get_widget_at(content.x + 1, content.y)
    assert at is table
    assert content.height - 1 >= rows, content  # the header is the first content line


def setup_app(env):
    return screenshot_app(env, backend="fake")


async def loaded(pilot) -> None:
    await wait_until(pilot, lambda: getattr(pilot.app.screen, "loaded", False), what="setup")


async def canned_screen(pilot):
    from ipwtui.tui.screens.run import RunScreen

    live, handle, clock = canned_run()
    screen = RunScreen(live, handle, clock=clock)
    pilot.app.push_screen(screen)
    await wait_until(pilot, lambda: pilot.app.screen is screen and screen.redraws >= 1, what="run screen")
    await pilot.pause(0.1)
    return screen


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_run_screen_fits(env, size):
    from ipwtui.tui.widgets.figures import Figure
    from ipwtui.tui.widgets.query_table import QueryTable
    from textual.widgets import Footer

    app = setup_app(env)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        screen = await canned_screen(pilot)
        for sel in ("#run-status", "#progress", "#progress-label"):
            shown(screen, screen.query_one(sel))
        shown(screen, screen.query_one(Footer))
        for fig in screen.query(Figure):  # every headline figure, its value line included
            shown(screen, fig, row=fig.region.height // 2)
        table_header_and_rows(screen, screen.query_one(QueryTable), rows=3)
        shown(screen, screen.query_one("#power"))
        shown(screen, screen.query_one("#answer"))
        # the table's columns fit its width: no horizontal scrolling needed to see every column
        table = screen.query_one(QueryTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert screen.has_class("-compact") == (size[0] < 110 or size[1] < 30)


async def test_run_screen_follows_the_terminal_size(env):
    from ipwtui.tui.widgets.query_table import QueryTable

    app = setup_app(env)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        screen = await canned_screen(pilot)
        assert not screen.has_class("-compact")
        fig = screen.query_one("#fig-ipw")
        assert fig.region.height == 7  # a box with big digits
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: screen.has_class("-compact"), what="compact")
        await pilot.pause(0.1)
        assert fig.region.height == 1  # one line
        shown(screen, screen.query_one("#progress-label"))
        table_header_and_rows(screen, screen.query_one(QueryTable), rows=3)
        # resized while a dialog covers the run screen: the run screen catches up when shown again
        from ipwtui.tui.screens.dialogs import HelpScreen

        app.push_screen(HelpScreen(app.key_help()))
        await pilot.pause(0.1)
        await pilot.resize_terminal(150, 44)
        await pilot.pause(0.1)
        app.pop_screen()
        await wait_until(pilot, lambda: not screen.has_class("-compact"), what="wide again")
        await pilot.pause(0.1)
        assert fig.region.height == 7
        shown(screen, screen.query_one("#progress-label"))


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_setup_screen_fits(env, size):
    from textual.widgets import Footer

    app = setup_app(env)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        screen = app.screen
        for sel in ("#models", "#accelerators", "#query-set", "#start", "#open-sessions", "#energy-gross",
                    "#energy-net", "#setup-summary"):
            shown(screen, screen.query_one(sel))
        for inp in screen.query("#settings Input"):
            shown(screen, inp, row=1)
        shown(screen, screen.query_one(Footer))
        # the energy switch shows both words whole
        for sel in ("#energy-gross", "#energy-net"):
            b = screen.query_one(sel)
            assert b.region.width >= len(str(b.label)) + 2, (sel, b.region)


def footer_keys_shown(screen) -> set[str]:
    """The actions of the footer's keys, each of which is inside the screen and not covered."""
    from textual.widgets._footer import FooterKey

    keys = list(screen.query(FooterKey))
    for k in keys:
        shown(screen, k)
    return {k.action for k in keys}


async def footer_shows(pilot, screen, actions: set[str]) -> set[str]:
    """Wait until the footer (recomposed after a change of bindings or size) shows these keys, each inside
    the screen and uncovered; the actions it shows."""

    def ok() -> bool:
        try:
            return actions <= footer_keys_shown(screen)
        except AssertionError:  # a key not laid out yet
            return False

    await wait_until(pilot, ok, what=f"footer keys {sorted(actions)}")
    return footer_keys_shown(screen)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_run_screens_footer_fits_with_every_key_that_matters(env, size):
    """At 80x24 the footer used to run off the screen after "s So" (esc, f1 and i unseen, "palettep" at the
    edge): every key of the run, esc, f1 and i are on it, whole and uncovered, at every size."""
    app = setup_app(env)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        screen = await canned_screen(pilot)
        await footer_shows(pilot, screen, {"toggle_pause", "skip", "stop", "export", "toggle_energy",
                                           "cycle_sort", "back", "help", "explain"})


def label_lines(label) -> list[str]:
    from textual.geometry import Region

    r = label.content_region
    return [s.text.rstrip() for s in label.render_lines(Region(0, 0, r.width, r.height))]


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_setup_labels_are_whole_and_apart(env, size):
    """At 80x24 the settings' labels were cut and ran into each other ("queries (b…warm-up … idle
    basel…sample rat…"): each is whole (on two lines where needed), with a space before the next."""
    from ipwtui.tui.screens.setup import FORM_SETTINGS, setting_label

    app = setup_app(env)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.pause(0.1)
        screen = app.screen
        for name in FORM_SETTINGS:
            label = screen.query_one(f"#label-{name}")
            lines = label_lines(label)
            words = " ".join(lines).split()
            assert words == setting_label(name).split(), (name, lines)
            assert all(len(line) < label.region.width for line in lines), (name, lines, label.region)
        await footer_shows(pilot, screen, {"start", "help"})


def test_a_model_named_after_its_quantisation_does_not_say_it_twice():
    from ipwtui.tui.screens.setup import model_prompt
    from support import fixed_models

    named = dataclasses.replace(fixed_models()[0][0], name="SmolLM2-135M-Instruct.Q4_1")
    assert model_prompt(named).plain.count("Q4_1") == 1
    plain = fixed_models()[0][0]  # named without it: the quantisation is said beside the name
    assert "SmolLM2-135M-Instruct  Q4_1" in model_prompt(plain).plain


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_export_dialog_buttons_are_visible(env, size):
    from ipwtui.tui.screens.dialogs import ExportDialog

    app = setup_app(env)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        app.push_screen(ExportDialog("/data/sessions/20250101-120000-SmolLM2-135M-Instruct"))
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog), what="dialog")
        await pilot.pause(0.1)
        dialog = app.screen
        box = dialog.query_one("#export-dialog")
        for sel in ("#export-dir", "#export-format", "#export-ok", "#export-cancel"):
            w = dialog.query_one(sel)
            shown(dialog, w, row=1)
            assert box.region.contains_region(w.region), (sel, w.region, box.region)


async def test_help_dialog_close_button_is_visible(env):
    from ipwtui.tui.screens.dialogs import HelpScreen

    app = setup_app(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.pause(0.1)
        shown(app.screen, app.screen.query_one("#help-close"), row=1)


async def test_session_view_fits(env):
    from ipwtui.tui.screens.sessions import SessionView
    from ipwtui.tui.widgets.query_table import QueryTable
    from test_tui_snapshots import write_session

    folder = write_session(env / "sessions", "20250101-120000-SmolLM2-135M-Instruct", "interrupted", 12, 40,
                           1_735_732_800)
    app = setup_app(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        view = SessionView(folder)
        app.push_screen(view)
        await wait_until(pilot, lambda: view.summary is not None, what="summary")
        await pilot.pause(0.1)
        shown(view, view.query_one("#session-status"))
        for fig in view.query("#figures > *"):
            shown(view, fig)
        table_header_and_rows(view, view.query_one(QueryTable), rows=3)


# ---- text cut with an ellipsis ---------------------------------------------------------------------

async def test_cut_text_ends_with_an_ellipsis():
    from textual.app import App

    from ipwtui.tui.widgets.figures import Figure
    from ipwtui.tui.widgets.lines import LineText

    class Boxes(App):
        CSS = "#one { width: 20; height: 2; } #line { width: 12; height: 1; } Figure { width: 24; }"

        def compose(self):
            yield LineText("a question that is much longer than two lines of twenty cells", id="one")
            yield LineText("one line that does not fit", id="line", wrap=False)
            yield Figure("IPW", id="fig")

    app = Boxes()
    async with app.run_test(size=(60, 20)) as pilot:
        fig = app.query_one(Figure)
        fig.show("0.0745", "[0.0379, 0.112] 95% CI\nover 3 of 6 · per W · gross", True, "estimated")
        await pilot.pause(0.05)
        one = [s.text for s in app.query_one("#one").lines_for(20, 2)]
        assert one[0].rstrip() == "a question that is" and one[1].rstrip().endswith("…")
        assert [s.text for s in app.query_one("#line").lines_for(12, 1)] == ["one line th…"]
        w, h = fig.content_size
        caption = [s.text for s in fig.lines_for(w, h)][-2:]
        assert all(len(c) == w for c in caption)
        assert caption[1].rstrip().endswith("…") and caption[1].startswith("over 3 of 6")
        assert fig.border_title == "IPW ≈ estimate"
        # the one-line form says the same things on one line
        one_line = fig.lines_for(70, 1)[0].text
        assert one_line.startswith("IPW") and "0.0745 est" in one_line and "over 3 of 6" in one_line


async def test_narrow_table_keeps_every_column():
    from textual.app import App

    from ipwtui.tui.widgets.query_table import COLUMNS, QueryTable

    class One(App):
        CSS = "QueryTable { scrollbar-size-vertical: 1; }"

        def compose(self):
            yield QueryTable(id="t")

    recs = canned_records(6)
    app = One()
    async with app.run_test(size=(79, 12)) as pilot:
        t = app.query_one(QueryTable)
        t.add_records([record_cells(r) for r in recs])
        await pilot.pause(0.05)
        assert t.narrow and t.virtual_size.width <= t.scrollable_content_region.width
        header = t.render_line(0).text
        for _k, label, _w in COLUMNS[2:-1]:  # every column's title (the first two are one cell wide; the
            # last, the rows' notes, is for wide tables: a narrow one shows the selected row's note below)
            assert label.split()[0] in header, (label, header)
        rows = [t.render_line(y).text for y in range(1, 7)]
        assert any("arithmet…" in r for r in rows)  # "arithmetic" cut, and saying so
        await pilot.resize_terminal(120, 12)
        await pilot.pause(0.05)
        assert not t.narrow and "arithmetic" in "".join(t.render_line(y).text for y in range(1, 7))


def test_size_classes():
    from ipwtui.tui.widgets.responsive import size_classes

    assert size_classes(80, 24) == {"-narrow": True, "-short": True, "-compact": True}
    assert size_classes(160, 24) == {"-narrow": False, "-short": True, "-compact": True}
    assert size_classes(100, 48) == {"-narrow": True, "-short": False, "-compact": True}
    assert size_classes(120, 36) == {"-narrow": False, "-short": False, "-compact": False}
