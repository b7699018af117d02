"""Backend and sensor errors become notifications or dialogs with the message, never a crash."""

from __future__ import annotations

from ipwtui.core.settings import RunSettings
from ipwtui.core.session import Session
from support import fake_backend_factory, scripted_sensors, make_app
from ipwtui.tui.screens.dialogs import ErrorDialog

from support import wait_until as wait_for

SIZE = (160, 48)


def app_with(env, backend_factory, sensor_factory=None, n=4):
    """The app with this backend (and sensors), no idle baseline and no warm-up."""
    kw = {"sensor_factory": sensor_factory} if sensor_factory else {}
    return make_app(env, n=n, backend_factory=backend_factory,
                    settings=RunSettings(idle_seconds=0, warmup=0, sample_hz=50, max_tokens=64), **kw)


async def start(app, pilot):
    setup = app.setup_screen()
    await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
    await pilot.press("ctrl+r")
    return setup


def dialog_shown(app):
    """A condition: the error dialog is on screen with its message composed."""
    return lambda: isinstance(app.screen, ErrorDialog) and app.screen.query_one("#error-message")


async def test_model_that_does_not_load(env):
    app = app_with(env, fake_backend_factory(fail_load="model.gguf: llama.cpp could not load the model (bad)"))
    async with app.run_test(size=SIZE) as pilot:
        setup = await start(app, pilot)
        await wait_for(pilot, dialog_shown(app), what="error dialog")
        dlg = app.screen
        assert "could not load the model (bad)" in str(dlg.query_one("#error-message").render())
        assert "Traceback" not in str(dlg.query_one("#error-message").render())
        await pilot.press("enter")
        assert app.screen is setup  # back where the user was, free to pick another model
        await wait_for(pilot, lambda: not app.handle.active, what="worker done")
        assert Session.open(app.handle.folder).meta["status"] == "failed"


async def test_bad_input_found_by_prepare(env, monkeypatch):
    q = env / "gone.jsonl"
    app = app_with(env, fake_backend_factory())
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        from ipwtui.runs import RunRequest

        app.start_run(RunRequest(queries=str(q), backend="fake", settings=RunSettings(idle_seconds=0)))
        await wait_for(pilot, dialog_shown(app), what="error dialog")
        assert "gone.jsonl" in str(app.screen.query_one("#error-message").render())
        assert app.screen.title_text == "Cannot start the run"


async def test_sensor_fault_is_a_notification_and_the_run_goes_on(env):
    app = app_with(env, fake_backend_factory(10, 300.0), scripted_sensors(fail_after=8), n=4)
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot)
        await wait_for(pilot, lambda: any(n.title == "Sensor failed" for n in app._notifications),
                       what="sensor notification")
        note = next(n for n in app._notifications if n.title == "Sensor failed")
        assert "scripted sensor failure" in note.message and "N/A" in note.message
        await wait_for(pilot, lambda: not app.handle.active, timeout=20, what="run ended")
        assert len(app.live.records) == 4
        # queries after the failure have no energy: N/A in the table, never 0
        late = app.live.records[-1]
        assert late.energy_j is None
        row = app.run_screen.query_one("#queries").get_row_at(3)
        assert str(row[3]) == "N/A" and str(row[4]) == "N/A"
        assert ("scripted", "scripted sensor failure") in app.live.faults


async def test_backend_error_on_a_query_is_a_row_not_a_dialog(env):
    app = app_with(env, fake_backend_factory(5, 400.0, fail_on={"Question 1:"}), n=3)
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot)
        await wait_for(pilot, lambda: not app.handle.active, timeout=20, what="run ended")
        statuses = [r.status for r in app.live.records]
        assert statuses == ["ok", "error", "ok"]
        assert not isinstance(app.screen, ErrorDialog)


async def test_run_failure_is_a_dialog_and_the_session_is_kept(env, monkeypatch):
    from ipwtui.core.session import Session as S

    real_append = S.append

    def append(self, record):  # the disk fills up after two queries
        if record.get("type") == "query" and len(self.query_records()) >= 2:
            raise OSError(28, "No space left on device")
        return real_append(self, record)

    monkeypatch.setattr(S, "append", append)
    app = app_with(env, fake_backend_factory(5, 400.0), n=4)
    async with app.run_test(size=SIZE) as pilot:
        await start(app, pilot)
        await wait_for(pilot, dialog_shown(app), what="run failed dialog")
        msg = str(app.screen.query_one("#error-message").render())
        assert "No space left on device" in msg and "resume" in msg
        await wait_for(pilot, lambda: not app.handle.active, what="worker done")
        s = Session.open(app.live.folder)
        assert s.meta["status"] == "interrupted"
        assert len(s.query_records()) == 2  # the finished queries are on disk
