"""The app's duel and remote target: a duel on screen, and a run on a real OpenAI-compatible server set up
from the setup screen (checked with one request before it starts)."""

import pytest
from support import make_app, wait_until as wait_for

from ipwtui.core.session import Session
from ipwtui.core.settings import RunSettings
from ipwtui.runs import RunRequest

SIZE = (140, 44)


async def test_a_duel_streams_both_sides_into_one_table_and_two_sessions(env):
    from ipwtui.tui.screens.duel import DuelScreen

    app = make_app(env, n=4, words=10, tps=300.0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.setup_screen().loaded, what="setup")
        q = str(env / "q.jsonl")
        s = RunSettings(idle_seconds=0.2, warmup=0, sample_hz=50, max_tokens=64)
        app.start_duel(RunRequest(backend="fake", queries=q, settings=s), RunRequest(backend="fake", queries=q,
                                                                                     settings=s))
        await wait_for(pilot, lambda: isinstance(app.screen, DuelScreen), what="duel screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.ended, what="duel ended")
        await pilot.pause(0.2)
        table = screen.query_one("#duel-table")
        assert table.row_count == 8  # four queries, both sides
        firsts = sorted(table.get_row_at(i)[0].plain.split()[0] for i in range(8))
        assert firsts == ["A"] * 4 + ["B"] * 4
        for side in ("A", "B"):
            figs = screen.query_one(f"#figs-{side}").text
            assert "IPW" in figs and "ESTIMATE" in figs and "acc" in figs
        folders = app.handle.folders
        for side in ("A", "B"):
            assert len(Session.open(folders[side]).done_ids()) == 4
        assert "c compares them" in screen.query_one("#duel-status").text
        # once over, the keys that act on a duel are hidden (not shown dimmed); compare and export are offered
        assert screen.check_action("compare", ()) is True and screen.check_action("stop", ()) is False
        assert screen.check_action("export", ()) is True


@pytest.mark.model
async def test_a_remote_target_from_the_setup_screen_is_checked_then_runs(env, llama):
    from textual.widgets import Input, Select

    from ipwtui.tui.screens.run import RunScreen

    app = make_app(env, n=3, backend="llama.cpp", backend_factory=None,
                   settings=RunSettings(idle_seconds=0, warmup=0, sample_hz=20, max_tokens=8))
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup")
        setup.query_one("#run-mode", Select).value = "remote"
        await pilot.pause()
        assert setup.query_one("#remote-target").display
        setup.query_one("#set-base_url", Input).value = llama.base_url
        setup.query_one("#set-remote_model", Input).value = "not-served"
        setup.action_start()  # checked first: a model the server does not serve is refused
        await wait_for(pilot, lambda: "✗" in str(setup.query_one("#remote-status").render()), what="check")
        assert "not-served" in str(setup.query_one("#remote-status").render())
        assert app.handle is None
        setup.query_one("#set-remote_model", Input).value = str(llama.model_path)
        setup.action_start()
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), timeout=60, what="run screen")
        await wait_for(pilot, lambda: not app.handle.active, timeout=120, what="run ended")
        recs = Session.open(app.live.folder).query_records()
        assert len(recs) == 3 and all(r.where == "remote" and r.backend == "openai" for r in recs)
        assert all(r.server_energy_quality in (None, "unavailable") for r in recs)  # no source: N/A, never 0
