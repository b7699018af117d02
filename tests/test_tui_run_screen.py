"""The run screen as a user reads it: painted whole when shown, the answer pane, the headline figures at
the end of a run and in narrow boxes, the table's flags and errors."""

from __future__ import annotations

from ipwtui.core import fmt
from support import make_app, wait_until
from test_tui_layout import loaded, setup_app


async def test_a_run_screen_is_painted_whole_even_when_the_frame_of_the_switch_is_lost(env, monkeypatch):
    """The run widgets repaint only the lines that change: if the whole frame of the switch from the setup
    screen never reaches the terminal (Textual drops a frame rendered during a batch update), the screen
    must still be painted whole, or the setup screen's cells stay under it."""
    from textual._compositor import LayoutUpdate

    from ipwtui.tui.screens.run import RunScreen

    app = make_app(env, n=3, words=5, tps=400.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.setup_screen().loaded, what="setup")
        real = app._display
        lost, whole, ticks = [], [], []
        real_tick = RunScreen._tick
        monkeypatch.setattr(RunScreen, "_tick", lambda self: ticks.append(1) or real_tick(self))

        def display(screen, renderable):
            if isinstance(screen, RunScreen):
                if not ticks:  # everything of the switch, up to the screen's first frame: never shown
                    lost.append(renderable)
                    return None
                if isinstance(renderable, LayoutUpdate):
                    whole.append(renderable)
            return real(screen, renderable)

        app._display = display
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), what="run screen")
        await wait_until(pilot, lambda: whole, what="a whole frame of the run screen after the lost one")
        assert lost
        header = app.screen.query_one("HeaderTitle")
        assert "setup" not in str(header.render())
        app.handle.stop()
        await wait_until(pilot, lambda: not app.handle.active, what="stopped")


async def test_a_headline_value_too_wide_for_large_digits_is_shown_whole(env):
    """At 120x36 a figure's box holds about 20 cells: 0.000107 in large digits takes 22. It is shown whole,
    as text, never cut into a number that reads as another ("0.00010…")."""
    from ipwtui.tui.widgets.figures import Figure

    app = setup_app(env)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        from test_tui_layout import canned_screen

        screen = await canned_screen(pilot)
        fig = screen.query_one("#fig-ipw", Figure)
        for value in ("0.000107", "0.0745", "1.07e-05"):
            fig.show(value, "[0, 0.0002] 95% CI\nper W · gross", True, "estimated")
            await pilot.pause()
            w, h = fig.content_size
            lines = [strip.text for strip in fig.lines_for(w, h)]
            body = "\n".join(lines[:3])
            assert "…" not in body, (value, lines)
            if value == "0.0745":
                assert value not in body  # fits: large digits
            else:
                assert value in body  # too wide for large digits: the same number, whole


async def test_a_finished_run_shows_the_intervals_of_its_summary(env):
    """The running intervals use fewer bootstrap rounds; once the run is over the screen shows the
    session's own (summary.json's), so the screen and the saved summary agree."""
    import json
    from pathlib import Path

    app = make_app(env, n=14, words=3, tps=2000.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.setup_screen().loaded, what="setup")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.live is not None and app.live.status == "finished", what="finished")
        await wait_until(pilot, lambda: not app.handle.active, what="ended")
        await pilot.pause(0.3)
        summary = json.loads((Path(app.live.folder) / "summary.json").read_text())
        gross = summary["metrics"]["gross"]
        assert gross["ipw_ci"] and gross["ipj_ci"]
        screen = app.run_screen
        assert screen.query_one("#fig-ipw").caption.startswith(f"{fmt.ci(gross['ipw_ci'])} 95% CI")
        assert screen.query_one("#fig-ipj").caption.startswith(f"{fmt.ci(gross['ipj_ci'])} 95% CI")
        assert screen.query_one("#fig-ipw").text == fmt.num(gross["ipw"], 3)


async def test_too_few_queries_for_an_interval_says_so_once_the_run_is_over(env):
    app = make_app(env, n=8, words=3, tps=2000.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.setup_screen().loaded, what="setup")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.live is not None and app.live.status == "finished", what="finished")
        await pilot.pause(0.3)
        screen = app.run_screen
        for fid in ("fig-ipw", "fig-ipj", "fig-acc"):
            caption = screen.query_one(f"#{fid}").caption
            assert "CI after" not in caption, (fid, caption)  # no more queries are coming
            assert caption.startswith("no CI: 8 measured, 10 needed"), (fid, caption)
