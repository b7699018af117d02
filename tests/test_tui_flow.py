"""The app's whole flow with the scripted backend and sensor: setup, run, pause, skip, stop, export,
themes, the sessions screen and resuming."""

from __future__ import annotations

import json
from pathlib import Path

from ipwtui.core.settings import RunSettings
from ipwtui.core.session import Session
from support import fake_backend_factory, make_app
from support import wait_until as wait_for

SIZE = (160, 48)


def make_flow_app(tmp_path, n=6, words=60, tps=150.0, settings=None, **kw):
    """The app of these flows: an idle baseline and a warm-up query, long answers."""
    return make_app(tmp_path, n=n, words=words, tps=tps, **kw,
                    settings=settings or RunSettings(idle_seconds=0.3, warmup=1, sample_hz=50, max_tokens=400))


def slow_tail_backend(words=60, tps=150.0, long_words=3000):
    """The fake backend, with the last three queries' answers long enough (20 s) that a stop always
    lands before the run could end on its own, however busy the machine is."""
    from ipwtui.backends.fake.backend import FakeBackend

    filler = " ".join(f"w{i}" for i in range(words))
    long = " ".join(f"w{i}" for i in range(long_words))
    answers = {f"Question {i}:": f"{long} The answer is (A)." for i in (3, 4, 5)}
    return lambda prep=None: FakeBackend(answers=answers, default=f"{filler} The answer is (A).", tokens_per_s=tps)


async def test_run_pause_skip_stop_export_theme_sessions_resume(env):
    app = make_flow_app(env, backend_factory=slow_tail_backend(),
                   settings=RunSettings(idle_seconds=0.3, warmup=1, sample_hz=50, max_tokens=4000))
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        # pick the model and the accelerator
        assert setup.picked_model.name == "fake-model"
        assert setup.picked_accelerator == "cpu"
        assert setup.query_info.count == 6 and setup.query_info.domains == {"even": 3, "odd": 3}
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.live is not None and len(app.live.records) >= 1, what="first query")
        run = app.run_screen
        assert app.screen is run
        # pause: the runner stops between queries
        await pilot.press("space")
        assert app.handle.paused and app.handle.runner.paused
        n_paused = len(app.live.records)
        await pilot.pause(1.2)
        assert len(app.live.records) <= n_paused + 1  # the query that was streaming may finish
        await pilot.press("space")
        assert not app.handle.paused
        # skip the query that streams now
        await wait_for(pilot, lambda: app.live.current is not None and app.live.tokens_now > 3, what="stream")
        await pilot.press("n")
        await wait_for(pilot, lambda: any(r.status == "skipped" for r in app.live.records), what="skip")
        # stop
        await pilot.press("x")
        await wait_for(pilot, lambda: not app.handle.active, what="run ended")
        folder = Path(app.live.folder)
        s = Session.open(folder)
        assert s.meta["status"] == "interrupted"
        done = s.done_ids()
        assert 2 <= len(done) < 6
        assert run.query_one("#queries").row_count == len(app.live.records)
        # the graph was redrawn on the timer, a few times a second at most
        assert run.redraws >= 1
        # the app said what its UI thread took (the fake backend has no CPU threads: no gaps were needed)
        seg = [r for r in s.read_journal() if r.get("type") == "segment"][-1]
        obs = seg["observer"]
        assert obs["gaps"] == 0 and obs["ui_cpu_in_gaps_s"] == 0.0
        assert obs["ui_thread_cpu_s"] is not None and 0 < obs["ui_thread_cpu_s"] < seg["seconds"] + 5
        # export: a key opens the dialog
        from ipwtui.tui.screens.dialogs import ExportDialog

        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), what="export dialog")
        dlg = app.screen
        # an unwritable destination: an error, the dialog stays, nothing lost
        blocker = env / "blocker"
        blocker.write_text("a file, not a folder")
        dlg.query_one("#export-dir").value = str(blocker / "sub")
        dlg.query_one("#export-dir").focus()
        await pilot.press("enter")  # (keys, not clicks: a notification toast may cover the buttons)
        await wait_for(pilot, lambda: "not writable" in str(dlg.query_one("#export-error").render()),
                       what="export error")
        assert app.screen is dlg
        assert dlg.query_one("#export-dir").value == str(blocker / "sub")  # what was typed is kept
        out = env / "out"
        dlg.query_one("#export-dir").value = str(out)
        dlg.query_one("#export-format").value = "csv+json+report"
        dlg.query_one("#export-dir").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog), what="export done")
        for name in ("queries.csv", "samples.csv", "summary.json", "report.md"):
            assert (out / name).is_file()
        summary = json.loads((out / "summary.json").read_text())
        assert summary["energy_quality"] == "estimated"
        assert any(str(out) in n.message for n in app._notifications)
        # theme from the command palette's provider, kept in the config file
        app.theme = "ipw-paper"
        await pilot.pause(0.1)
        cfg = json.loads((env / "config" / "config.json").read_text())
        assert cfg["theme"] == "ipw-paper"
        # back to setup, then the sessions screen
        await pilot.press("escape")
        assert app.screen is setup
        await pilot.press("ctrl+o")
        from ipwtui.tui.screens.sessions import SessionsScreen, SessionView

        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen) and app.screen.folders,
                       what="sessions list")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView) and app.screen.summary is not None,
                       what="session view")
        view = app.screen
        assert view.query_one("#queries").row_count == len(s.query_records())
        assert view.traces and view.traces[0].source == "scripted"
        # resume the interrupted session: it runs to the end (short answers this time)
        app.backend_factory = fake_backend_factory(60, 150.0)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.handle is not None and app.handle.request.resume == str(folder),
                       what="resume started")
        await wait_for(pilot, lambda: not app.handle.active, timeout=30, what="resumed run ended")
        s2 = Session.open(folder)
        assert s2.meta["status"] == "finished"
        assert len(s2.done_ids()) == 6
        assert app.live.past_records and app.live.done == 6


async def test_the_answer_pane_belongs_to_the_question_above_it():
    """Between queries the last answer stays, titled with its query; a new query starts with an empty
    answer (never the previous one under the new question); a failed query says why."""
    from textual.app import App

    from ipwtui.core import events as ev
    from ipwtui.core.record import QueryRecord
    from ipwtui.tui.live import LiveState
    from ipwtui.tui.screens.run import RunScreen
    from ipwtui.tui.widgets.answer import AnswerView
    from ipwtui.workloads.base import Query

    live = LiveState(phase="running")
    live.records.append(QueryRecord("q6", 6, answer="The answer is 42."))

    class A(App):
        def on_mount(self):
            self.push_screen(RunScreen(live))

    app = A()
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause()
        screen = app.screen
        view = screen.query_one(AnswerView)
        assert view.text == "The answer is 42." and view.border_title == "answer · query 7"
        live.apply(ev.QueryStarted(index=7, total=9, query=Query(id="q7", prompt="Next question?", reference="B",
                                                                 kind="mc", domain="d", dataset="x")))
        screen._show_query()
        assert "Next question?" in screen.query_one("#question").text
        assert view.text == "" and view.border_title == "answer"  # not the previous answer
        live.answer = "Fo"
        screen._update_answer()
        assert view.text == "Fo" and view.border_title == "answer"
        failed = QueryRecord("q7", 7, status="error", error="HTTP 503: the server is overloaded", answer=None)
        live.apply(ev.QueryFinished(failed, {}))
        screen._update_answer()
        assert "HTTP 503: the server is overloaded" in view.text and view.border_title == "answer · query 8"
