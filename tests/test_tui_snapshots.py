"""Snapshots of the screens at fixed terminal sizes (80x24, 120x36, 160x48), with fixed data (no clock, no
machine probe). tests/test_tui_layout.py checks that what must be seen is on screen at these sizes."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from support import canned_records, canned_run, screenshot_app

SIZES = [(80, 24), (120, 36), (160, 48)]
size_param = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
SNAP_SESSIONS = Path("/tmp/ipwtui-snapshot/sessions")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("IPWTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("IPWTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield tmp_path
    monkeypatch.delenv("TZ")
    time.tzset()


def make_app(env, backend="llama", sessions_dir=None):
    return screenshot_app(env, backend=backend, sessions_dir=sessions_dir)


async def wait_until(pilot, cond, timeout=60.0):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out")
        await pilot.pause(0.05)


async def setup_loaded(pilot):
    app = pilot.app
    await wait_until(pilot, lambda: getattr(app.screen, "loaded", False))
    await pilot.pause(0.2)


@size_param
def test_setup_screen(env, snap_compare, size):
    assert snap_compare(make_app(env), terminal_size=size, run_before=setup_loaded)


@size_param
def test_run_screen_mid_run(env, snap_compare, size):
    from ipwtui.tui.screens.run import RunScreen

    async def push_canned(pilot):
        await setup_loaded(pilot)
        live, handle, clock = canned_run()
        pilot.app.push_screen(RunScreen(live, handle, clock=clock))
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunScreen) and pilot.app.screen.redraws >= 2)
        await pilot.pause(0.3)

    assert snap_compare(make_app(env, backend="fake"), terminal_size=size, run_before=push_canned)


@pytest.mark.parametrize("size", SIZES[:2], ids=lambda s: f"{s[0]}x{s[1]}")
def test_export_dialog(env, snap_compare, size):
    from ipwtui.tui.screens.dialogs import ExportDialog

    async def push_dialog(pilot):
        await setup_loaded(pilot)
        pilot.app.push_screen(ExportDialog("/data/sessions/20250101-120000-SmolLM2-135M-Instruct"))
        await pilot.pause(0.3)

    assert snap_compare(make_app(env), terminal_size=size, run_before=push_dialog)


def write_session(root: Path, name: str, status: str, n_done: int, planned: int, created: float):
    folder = root / name
    folder.mkdir(parents=True)
    meta = {"id": name, "model": {"name": "SmolLM2-135M-Instruct"}, "backend": "llama.cpp", "backend_kind": "llama",
            "accelerator": "cpu", "query_ids": [f"demo-{i:03d}" for i in range(planned)], "status": status,
            "created": created, "settings": {"energy_view": "gross"},
            "domains": [{"domain": "cpu-est", "name": "cpu-est", "source": "cpu-time-model",
                         "quality": "estimated", "accelerator": "cpu"}]}
    (folder / "session.json").write_text(json.dumps(meta))
    with open(folder / "journal.jsonl", "w") as f:
        for r in canned_records(n_done):
            f.write(json.dumps(r.to_dict()) + "\n")
    os.utime(folder, (created, created))
    return folder


@pytest.mark.parametrize("size", [(80, 24), (140, 44)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_sessions_screen(env, snap_compare, size):
    from ipwtui.tui.screens.sessions import SessionsScreen

    shutil.rmtree(SNAP_SESSIONS, ignore_errors=True)
    write_session(SNAP_SESSIONS, "20250101-120000-SmolLM2-135M-Instruct", "finished", 12, 12, 1_735_732_800)
    write_session(SNAP_SESSIONS, "20250102-093000-SmolLM2-135M-Instruct", "interrupted", 7, 40, 1_735_810_200)

    async def open_sessions(pilot):
        await setup_loaded(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SessionsScreen) and pilot.app.screen.folders
                         and pilot.app.screen.query_one("#sessions-table").row_count == 2)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.2)

    try:
        assert snap_compare(make_app(env, sessions_dir=SNAP_SESSIONS), terminal_size=size,
                            run_before=open_sessions)
    finally:
        shutil.rmtree(SNAP_SESSIONS.parent, ignore_errors=True)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_session_view(env, snap_compare, size):
    from ipwtui.tui.screens.sessions import SessionView

    shutil.rmtree(SNAP_SESSIONS, ignore_errors=True)
    folder = write_session(SNAP_SESSIONS, "20250102-093000-SmolLM2-135M-Instruct", "interrupted", 12, 40,
                           1_735_810_200)

    async def open_view(pilot):
        await setup_loaded(pilot)
        view = SessionView(folder)
        pilot.app.push_screen(view)
        await wait_until(pilot, lambda: view.summary is not None
                         and view.query_one("#queries").row_count == 12)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.3)

    try:
        assert snap_compare(make_app(env, sessions_dir=SNAP_SESSIONS), terminal_size=size, run_before=open_view)
    finally:
        shutil.rmtree(SNAP_SESSIONS.parent, ignore_errors=True)
