"""The setup screen: models (with the filter box), accelerators, query files and settings."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from ipwtui.backends.llama_cpp.gguf import describe
from ipwtui.core.settings import RunSettings
from ipwtui.core.sensors.base import SensorSet
from ipwtui.core.sensors.scripted import ScriptedSensor
from ipwtui.core.session import Session
from support import fake_backend_factory, make_app, write_queries

from support import wait_until as wait_for

SIZE = (160, 48)


def gguf(path: Path, name: str, file_type: int = 15) -> Path:
    """A GGUF file holding only a header (general.name, general.architecture, general.file_type)."""

    def s(x: str) -> bytes:
        b = x.encode()
        return struct.pack("<Q", len(b)) + b

    kv = [s("general.name") + struct.pack("<I", 8) + s(name),
          s("general.architecture") + struct.pack("<I", 8) + s("llama"),
          s("general.file_type") + struct.pack("<I", 4) + struct.pack("<I", file_type)]
    path.write_bytes(b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 0, len(kv)) + b"".join(kv))
    return path


def two_accelerators():
    def factory():
        cpu = ScriptedSensor(lambda t: 9.0 + math.sin(t))
        gpu = ScriptedSensor(lambda t: 40.0 + 5 * math.sin(t), domain="gpu0-scripted", accelerator="gpu0")
        return SensorSet(sensors=[cpu, gpu], capabilities=cpu.probe() + gpu.probe())

    return factory


async def test_pick_model_with_filter_and_accelerator(env):
    models_dir = env / "models"
    models_dir.mkdir()
    names = ["alpha-1b", "bravo-3b", "charlie-7b", "delta-8b", "echo-1b", "foxtrot-2b", "golf-9b", "hotel-4b"]
    models = [describe(gguf(models_dir / f"{n}.Q4_K_M.gguf", n), "models dir") for n in names]
    q = write_queries(env / "q.jsonl", n=3)
    app = make_app(env, backend="llama", backend_factory=fake_backend_factory(5, 400.0),
                   sensor_factory=two_accelerators(), model_finder=lambda: (models, ["bad.gguf: not a GGUF"]),
                   queries=str(q), settings=RunSettings(idle_seconds=0, warmup=0, sample_hz=50, max_tokens=32))
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        flt = setup.query_one("#model-filter")
        assert flt.display  # more models than fit: a filter box
        assert setup.query_one("#models").option_count == 8
        assert "bad.gguf" in str(setup.query_one("#model-problems").render())
        await pilot.press("ctrl+f")
        await pilot.press(*"golf")
        assert setup.query_one("#models").option_count == 1
        assert setup.picked_model.path == models[6].path
        # both accelerators are offered; pick the second
        accel = setup.query_one("#accelerators")
        assert accel.option_count == 2
        accel.focus()
        await pilot.press("down")
        assert setup.picked_accelerator == "gpu0"
        # settings from the form
        setup.query_one("#set-max_tokens").value = "16"
        setup.query_one("#energy-net").value = True
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.handle is not None and not app.handle.active, what="run ended")
        s = Session.open(app.live.folder)
        assert s.meta["model"]["path"] == models[6].path
        assert s.meta["accelerator"] == "gpu0"
        assert s.meta["settings"]["max_tokens"] == 16
        assert s.meta["settings"]["energy_view"] == "net"
        assert [d["domain"] for d in s.meta["domains"]] == ["cpu-scripted", "gpu0-scripted"]
        recs = s.query_records()
        assert len(recs) == 3 and all(r.energy_source == "scripted" for r in recs)
        assert app.live.energy_view == "net"


async def test_bad_query_file_is_a_message_not_a_crash(env):
    bad = env / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "x", "answer": "1"}\n{not json\n')
    q = write_queries(env / "q.jsonl", n=2)
    app = make_app(env, sensor_factory=two_accelerators(), queries=str(q), query_sets=lambda: [q])
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        assert not setup.query_one("#start").disabled
        path_in = setup.query_one("#query-path")
        path_in.focus()
        path_in.value = str(bad)
        await pilot.press("enter")
        await wait_for(pilot, lambda: setup.query_info is not None and setup.query_info.error is not None,
                       what="query error")
        assert f"{bad}:2" in setup.query_info.error
        assert "bad.jsonl:2" in str(setup.query_one("#query-counts").render())
        assert setup.query_one("#start").disabled
        await pilot.press("ctrl+r")
        await pilot.pause(0.1)
        assert app.handle is None
        assert any("bad.jsonl" in n.message for n in app._notifications)
        # a missing file too
        path_in.value = str(env / "nope.jsonl")
        await pilot.press("enter")
        await wait_for(pilot, lambda: setup.query_info and "nope.jsonl" in (setup.query_info.error or ""),
                       what="missing file")
        # a good file: counts per domain
        path_in.value = str(q)
        await pilot.press("enter")
        await wait_for(pilot, lambda: setup.query_info and setup.query_info.count == 2, what="good file")
        assert setup.query_info.domains == {"even": 1, "odd": 1}
        assert not setup.query_one("#start").disabled


async def test_settings_are_checked(env):
    q = write_queries(env / "q.jsonl", n=2)
    app = make_app(env, sensor_factory=two_accelerators(), queries=str(q))
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        setup.query_one("#set-sample_hz").value = "0"
        await pilot.press("ctrl+r")
        await pilot.pause(0.1)
        assert app.handle is None
        assert any("sample rate" in n.message for n in app._notifications)


async def test_no_sensor_for_any_accelerator(env):
    from ipwtui.core.sensors.base import UNAVAILABLE, Capability

    def nothing():
        return SensorSet(sensors=[], capabilities=[
            Capability("cpu-package", "cpu", "rapl", UNAVAILABLE, "cpu", False, reason="energy_uj is root-only",
                       fix="sudo chmod o+r /sys/class/powercap/intel-rapl:0/energy_uj")])

    q = write_queries(env / "q.jsonl", n=2)
    app = make_app(env, sensor_factory=nothing, queries=str(q))
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        assert setup.picked_accelerator is None
        text = str(setup.query_one("#accelerators").get_option_at_index(0).prompt)
        assert "root-only" in text and "chmod" in text
        assert setup.query_one("#start").disabled


async def test_a_query_file_typed_without_enter_is_what_runs(env):
    """ctrl+r uses the query file typed in the field even when Enter was never pressed (it used to start
    on the bundled set); a bad file typed so stops the start with its one-line message."""
    other = write_queries(env / "other.jsonl", n=3, prefix="o")
    bundled = write_queries(env / "bundled.jsonl", n=5, prefix="b")
    bad = env / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "x", "answer": "1"}\n{not json\n')
    app = make_app(env, sensor_factory=two_accelerators(), queries=None, query_sets=lambda: [bundled])
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        assert setup.query_info.path == str(bundled)
        path_in = setup.query_one("#query-path")
        path_in.value = str(bad)  # typed, no Enter
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any("bad.jsonl:2" in n.message for n in app._notifications), what="message")
        assert app.handle is None
        assert "bad.jsonl:2" in str(setup.query_one("#query-counts").render())
        path_in.value = str(other)  # typed, no Enter
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.handle is not None, what="run started")
        assert app.handle.request.queries == str(other)
        await wait_for(pilot, lambda: not app.handle.active, what="run ended")
        assert [r.query_id for r in Session.open(app.live.folder).query_records()] == ["o0", "o1", "o2"]


async def test_remote_fields_take_the_focus_in_order_and_the_check_line_is_whole(env):
    """Tab goes from the run mode straight to the base URL (the scrolling box around the remote fields took
    a Tab without showing it, and swallowed what was typed next); Check's answer has a line of its own."""
    from textual.widgets import Select

    app = make_app(env, queries=None, query_sets=lambda: [write_queries(env / "q.jsonl", n=2)])
    async with app.run_test(size=(80, 24)) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        setup.query_one("#run-mode", Select).value = "remote"
        await pilot.pause()
        setup.query_one("#run-mode").focus()
        await pilot.press("tab")
        assert setup.focused is setup.query_one("#set-base_url")
        await pilot.press(*"http://h:1/v1")
        assert setup.query_one("#set-base_url").value == "http://h:1/v1"
        assert not setup.query_one("#model-problems").display  # no blank rows above the remote target
        button, status = setup.query_one("#remote-check"), setup.query_one("#remote-status")
        assert status.region.y > button.region.y and status.region.width > button.region.width


async def test_number_fields_say_what_is_wrong_and_blank_is_valid_where_it_means_all(env):
    from textual.widgets import Input

    app = make_app(env, queries=None, query_sets=lambda: [write_queries(env / "q.jsonl", n=2)])
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        queries = setup.query_one("#set-max_queries", Input)
        assert queries.value == ""
        queries.focus()
        await pilot.pause()
        assert not queries.has_class("-invalid")  # blank: all queries, a valid choice
        summary = setup.query_one("#setup-summary")
        tokens = setup.query_one("#set-max_tokens", Input)
        for typed in ("12x", "inf", "nan", "0"):
            tokens.value = ""
            tokens.focus()
            await pilot.press(*typed)
            await pilot.pause()
            assert tokens.value == typed  # kept, not silently dropped
            assert tokens.has_class("-invalid")
            said = str(summary.render())
            assert said.startswith("✗ max tokens (--max-tokens) must be between 1 and 131072"), said
        tokens.value = "64"
        await pilot.pause()
        assert not tokens.has_class("-invalid") and "✗" not in str(summary.render())
