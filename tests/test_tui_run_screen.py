"""The run screen as a user reads it: painted whole when shown, the answer pane, the headline figures at
the end of a run and in narrow boxes, the table's flags and errors."""

from __future__ import annotations

from support import make_app, wait_until


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

