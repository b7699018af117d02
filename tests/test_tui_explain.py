"""The explainer (key i): what IPW and IPJ are, in the words and figures of the session on screen."""

from __future__ import annotations

import pytest

from ipwtui.core import fmt
from ipwtui.core.summary import session_metrics
from support import canned_run, wait_until
from test_tui_layout import loaded, setup_app, shown

SIZES = [(80, 24), (120, 36), (160, 48)]


async def open_explainer(app, pilot):
    from ipwtui.tui.screens.explain import ExplainScreen

    await pilot.press("i")
    await wait_until(pilot, lambda: isinstance(app.screen, ExplainScreen), what="explainer")
    await pilot.pause(0.1)
    return app.screen


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_explainer_on_a_run_uses_the_sessions_labels(env, size):
    from ipwtui.tui.screens.run import RunScreen

    app = setup_app(env)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        live, handle, clock = canned_run()
        run = RunScreen(live, handle, clock=clock)
        app.push_screen(run)
        await wait_until(pilot, lambda: app.screen is run and run.redraws >= 1, what="run screen")
        ex = await open_explainer(app, pilot)
        text = ex.text
        m = live.metrics["gross"]
        # the definitions, as the paper gives them
        assert "accuracy ÷ mean power per query" in text and "accuracy ÷ mean energy per query" in text
        assert "Intelligence per Watt" in text
        # this session: gross, its counted domain with source and quality, its idle baseline, its coverage
        dom = live.counted_domains[0]
        assert "gross energy" in text and f"{dom.name}: {dom.source}, {dom.quality}" in text
        assert f"cpu-est {fmt.num(live.idle_w['cpu-est'], 3, 'W')}" in text
        assert f"Covers: {m.n} answered queries" in text and f"{m.n_correct} of {m.n_scored} scored" in text
        assert f"IPW {fmt.ci(m.ipw_ci)}" in text  # the core's interval, as the figure shows it
        assert "These figures: ESTIMATED" in text
        assert "same query set" in text and "server's energy" in text
        shown(ex, ex.query_one("#explain-close"), row=1)  # its Close button is on screen at every size
        await pilot.press("i")  # the same key closes it
        await wait_until(pilot, lambda: app.screen is run, what="closed")


async def test_explainer_in_the_net_view_says_net_and_the_cores_notes(env):
    from ipwtui.tui.screens.run import RunScreen

    app = setup_app(env)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        live, handle, clock = canned_run(n_done=4)
        live.energy_view = "net"
        run = RunScreen(live, handle, clock=clock)
        app.push_screen(run)
        await wait_until(pilot, lambda: app.screen is run and run.redraws >= 1, what="run screen")
        text = (await open_explainer(app, pilot)).text
        m = live.metrics["net"]
        assert m.notes  # fewer queries than an interval needs: the core says so
        assert "net energy" in text and "less the idle baseline" in text
        for note in m.notes:
            assert note in text


async def test_explainer_of_a_past_session_and_with_no_session(env):
    from ipwtui.tui.screens.explain import ExplainScreen
    from ipwtui.tui.screens.sessions import SessionView
    from test_tui_snapshots import write_session

    folder = write_session(env / "sessions", "20250101-120000-SmolLM2-135M-Instruct", "interrupted", 12, 40,
                           1_735_732_800)
    app = setup_app(env)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        text = (await open_explainer(app, pilot)).text  # on the setup screen: no session yet
        assert "No session on screen" in text and "accuracy ÷ mean power per query" in text
        await pilot.press("escape")
        view = SessionView(folder)
        app.push_screen(view)
        await wait_until(pilot, lambda: view.summary is not None, what="summary")
        ex = await open_explainer(app, pilot)
        s = view.summary
        m = s["metrics"]["gross"]
        assert "interrupted" in str(ex.query_one(".dialog-title").render())
        assert f"Energy: {s['energy_source']}" in ex.text
        assert f"Covers: {m['n']} answered queries" in ex.text
        assert isinstance(app.screen, ExplainScreen)


async def test_the_key_is_in_the_help_the_palette_and_the_footer_and_typing_i_in_a_field_types_it(env):
    """The setup screen starts with the model list focused (a hidden filter box used to hold the focus
    and take every key typed)."""
    from textual.widgets import Input
    from textual.widgets._footer import FooterKey

    from ipwtui.tui.screens.dialogs import HelpScreen
    from ipwtui.tui.screens.explain import ExplainScreen

    app = setup_app(env)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        assert any(k.action == "explain" for k in app.screen.query(FooterKey))
        assert any("About IPW" in d for _s, rows in app.key_help() for _k, d in rows)
        assert any(c.title == "About IPW" for c in app.get_system_commands(app.screen))
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")
        box = app.screen.query_one("#query-path", Input)
        box.focus()
        await pilot.press("i")
        await pilot.pause(0.1)
        assert box.value == "i" and not isinstance(app.screen, ExplainScreen)
        # while a text field has the focus, the footer offers the other key, and it works
        await pilot.pause(0.1)
        assert [k.key for k in app.screen.query(FooterKey) if k.action == "explain"] == ["f2"]
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, ExplainScreen), what="explainer by f2")


def test_the_explainer_computes_nothing():
    """Every number in the explainer is the core's (the metrics it is given), none its own."""
    from ipwtui.tui.screens.explain import ExplainContext, sections

    from support import canned_records

    m = session_metrics(canned_records(12))["gross"]
    text = "\n".join(t for _h, t in sections(ExplainContext(metrics=m, quality="measured")))
    assert f"{m.n} answered" in text and f"{m.n_correct} of {m.n_scored}" in text
    other = session_metrics(canned_records(5))["gross"]
    text2 = "\n".join(t for _h, t in sections(ExplainContext(metrics=other, quality="measured")))
    assert f"{other.n} answered" in text2 and text2 != text
