"""Quitting mid-run, themes, keys and commands, the entry point, a 10,000-query session."""

from __future__ import annotations

import json
import re
from argparse import Namespace
from pathlib import Path

import pytest

from ipwtui.core.session import Session
from ipwtui.tui.app import IpwApp
from support import canned_records, make_app
from ipwtui.tui.themes import ThemeFileError, discover_themes, load_theme_file, theme_dirs

from support import wait_until as wait_for

SIZE = (160, 48)

ROOT = Path(__file__).resolve().parents[1]


async def test_quit_mid_run_keeps_every_finished_query(env):
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.setup_screen().loaded, what="setup")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.live and len(app.live.records) >= 2 and app.live.tokens_now > 2,
                       what="two queries and a stream")
        await pilot.press("ctrl+q")
    h = app.handle
    assert h.ended.is_set()  # the worker finished its finally before the app closed
    s = Session.open(h.folder)
    assert s.meta["status"] == "interrupted"
    done = len(s.done_ids())
    assert 2 <= done < 8
    # what the terminal is told once the app has closed: the session left interrupted, and the command
    from ipwtui.tui.app import after_exit_message

    assert after_exit_message(h) == (f"ipwtui: the session was left interrupted: {done} of 8 queries in {h.folder}; "
                                     f"finish it with: ipwtui run --resume {h.folder}")
    # resumable: the core's resume picks it up from the journal
    from ipwtui.runs import RunRequest, prepare

    prep = prepare(RunRequest(resume=h.folder, backend="fake"))
    assert prep.resumed and len(prep.queries) == 8


async def test_autostart_and_theme_from_arguments(env):
    app = make_app(env, autostart=True, theme="ipw-glacier")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.handle is not None, what="autostart")
        assert app.theme == "ipw-glacier"
        await wait_for(pilot, lambda: app.live.status is not None, timeout=30, what="run end")
        assert app.live.status == "finished"


async def test_a_finished_run_writes_its_exports_as_the_headless_command_does(env):
    """At a run's end the app writes queries.csv, samples.csv, summary.json and report.md into the session
    folder; the summary is the one ``ipwtui export`` would write from the same files."""
    import csv

    from ipwtui.core.summary import build_summary

    app = make_app(env, autostart=True, n=4)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.live is not None and app.live.status is not None, timeout=30,
                       what="run end")
        folder = Path(app.handle.folder)
        await wait_for(pilot, lambda: app.handle.export_done.is_set(), timeout=30, what="exports")
        assert not app.handle.export_problems
        assert any(n.title == "Session exported" and "report.md" in n.message for n in app._notifications)
    assert app.handle.exported
    s = Session.open(folder)
    journal = s.read_journal()
    with open(folder / "queries.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["query_id"] for r in rows) == sorted(r["query_id"] for r in journal
                                                          if r.get("type") == "query" and not r.get("warmup"))
    written = json.loads((folder / "summary.json").read_text())
    fresh = json.loads(json.dumps(build_summary(s.meta, journal), default=str))
    assert written["queries"] == fresh["queries"] and written["status"] == "finished"
    for view in ("gross", "net"):
        for key in ("accuracy", "ipw", "ipj", "n"):
            assert written["metrics"][view][key] == fresh["metrics"][view][key], (view, key)
    assert (folder / "samples.csv").stat().st_size > 0


async def test_quitting_mid_run_still_exports_what_was_answered(env):
    """Quitting stops the run; its end exports the session on a worker thread that run_app waits for (and
    a handle the app never saw end is exported by run_app itself); an empty session is not exported."""
    import csv

    from ipwtui.tui.app import _has_queries, export_sessions_at_end

    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.setup_screen().loaded, what="setup")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.live and len(app.live.records) >= 1, what="a query")
        await pilot.press("ctrl+q")
    h = app.handle
    assert h.exported and h.export_done.wait(timeout=60) and not h.export_problems
    assert (Path(h.folder) / "report.md").exists()
    answered = len(Session.open(h.folder).done_ids())
    with open(Path(h.folder) / "queries.csv", newline="") as f:
        assert len({r["query_id"] for r in csv.DictReader(f) if r["status"] != "error"}) == answered >= 1
    [(line, severity)] = export_sessions_at_end([h.folder])
    assert severity == "information" and "queries.csv" in line and "report.md" in line
    assert (Path(h.folder) / "report.md").exists()
    empty = Path(env) / "sessions" / "empty"
    empty.mkdir()
    (empty / "journal.jsonl").write_text("")
    assert not _has_queries(empty) and export_sessions_at_end([str(empty)]) == []


async def test_theme_switch_from_the_command_palette_is_saved(env):
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "ipw-ember"  # the default, one of the project's themes
        for name in ("ipw-ember", "ipw-glacier", "ipw-paper"):
            assert name in app.available_themes
        assert "textual-dark" in app.available_themes  # beside the built-in ones
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"switch theme")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.press(*"glacier")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "ipw-glacier", what="theme switched")
        await pilot.pause(0.1)
    cfg = json.loads((env / "config" / "config.json").read_text())
    assert cfg["theme"] == "ipw-glacier"
    # the next start uses it
    app2 = make_app(env)
    async with app2.run_test(size=SIZE) as pilot:
        assert app2.theme == "ipw-glacier"


async def test_unknown_theme_is_a_warning(env):
    app = make_app(env, theme="no-such-theme")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.1)
        assert app.theme == "ipw-ember"
        assert any("no-such-theme" in n.message for n in app._notifications)


def test_theme_files():
    files = sorted((ROOT / "themes").glob("*.json"))
    assert len(files) >= 3
    for f in files:
        t = load_theme_file(f)
        assert t.name and t.primary
    themes, problems = discover_themes([ROOT / "themes"])
    assert problems == [] and len(themes) >= 3
    assert any(not t.dark for t in themes.values())  # a light one too
    assert ROOT / "themes" in theme_dirs()


def test_bad_theme_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "primary": "not-a-colour"}')
    with pytest.raises(ThemeFileError, match="bad.json"):
        load_theme_file(bad)
    bad.write_text('{"name": "x", "primary": "#112233", "colour": "#000000"}')
    with pytest.raises(ThemeFileError, match="unknown theme field"):
        load_theme_file(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ThemeFileError):
        load_theme_file(bad)
    themes, problems = discover_themes([tmp_path])
    assert themes == {} and len(problems) == 1


def test_stylesheet_uses_theme_variables_only():
    for css in (ROOT / "ipwtui" / "tui").rglob("*.tcss"):
        text = re.sub(r"/\*.*?\*/", "", css.read_text(), flags=re.S)
        assert not re.search(r"#[0-9a-fA-F]{3,8}\b(?![\w-])(?=[^{]*;)", text), css
        assert not re.search(r"\b(rgb|rgba|hsl|hsla)\(", text), css
        for word in ("white", "black", "red", "green", "blue", "yellow", "grey", "gray"):
            assert not re.search(rf":\s*[^;]*\b{word}\b", text), (css, word)
    for py in (ROOT / "ipwtui" / "tui").rglob("*.py"):
        for m in re.finditer(r'DEFAULT_CSS = """(.*?)"""', py.read_text(), flags=re.S):
            assert "#" not in re.sub(r"#[A-Za-z_-][\w-]*\s*[{,]", "", m.group(1)), py


async def test_every_binding_has_an_id_and_a_description(env):
    from ipwtui.tui.screens.dialogs import ErrorDialog, ExportDialog, HelpScreen
    from ipwtui.tui.screens.run import RunScreen
    from ipwtui.tui.screens.sessions import SessionsScreen, SessionView
    from ipwtui.tui.screens.setup import SetupScreen

    ids = []
    for cls in (IpwApp, SetupScreen, RunScreen, SessionsScreen, SessionView, ExportDialog, ErrorDialog, HelpScreen):
        for b in cls.BINDINGS:
            assert b.id and b.description, (cls.__name__, b)
            ids.append(b.id)
    assert len(ids) == len(set(ids))
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = " ".join(f"{k} {d}" for _title, rows in app.screen.sections for k, d in rows)
        for needle in ("Pause/resume", "Skip query", "Stop run", "Export", "Resume", "Start"):
            assert needle in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_entries(env):
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for t in ("Run", "Switch model", "Switch theme", "Sessions", "Keys"):
            assert t in titles
        # one of each: Textual's own "Keys" and "Theme" are not offered beside ours
        assert titles.count("Keys") == 1 and "Theme" not in titles
        assert "Export session" not in titles  # no session to export yet
        await wait_for(pilot, lambda: app.setup_screen().loaded, what="setup")
        app.action_run()
        await wait_for(pilot, lambda: app.handle is not None and app.handle.runner is not None and app.live.folder,
                       what="run")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Stop run" in titles and "Skip query" in titles and "Export session" in titles
        app.action_stop_run()
        await wait_for(pilot, lambda: not app.handle.active, what="stopped")
        # export from the command: the dialog for the run's session
        app.action_export()
        from ipwtui.tui.screens.dialogs import ExportDialog

        await pilot.pause(0.1)
        assert isinstance(app.screen, ExportDialog) and app.screen.session_folder == app.live.folder


async def test_resize_mid_run_keeps_drawing(env):
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.setup_screen().loaded, what="setup")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.live and app.live.records, what="first query")
        for size in ((80, 24), (60, 20), (200, 60), SIZE):
            await pilot.resize_terminal(*size)
            n = app.run_screen.redraws
            await wait_for(pilot, lambda: app.run_screen.redraws > n + 1, what=f"redraw at {size}")
        app.handle.stop()
        await wait_for(pilot, lambda: not app.handle.active, what="stopped")


def synthetic_session(folder: Path, n: int) -> Path:
    """A finished session of n queries written as the runner writes one (journal and power.csv)."""
    folder.mkdir(parents=True)
    base = canned_records(20)
    meta = {"id": folder.name, "model": {"name": "synthetic"}, "backend": "fake", "backend_kind": "fake",
            "accelerator": "cpu", "query_ids": [f"s{i}" for i in range(n)], "status": "finished",
            "created": 1_750_000_000.0, "settings": {"energy_view": "gross"},
            "domains": [{"domain": "cpu-est", "name": "cpu-est", "source": "cpu-time-model",
                         "quality": "estimated", "accelerator": "cpu"}]}
    (folder / "session.json").write_text(json.dumps(meta))
    with open(folder / "journal.jsonl", "w") as f:
        for i in range(n):
            r = dict(base[i % 20].to_dict(), index=i, query_id=f"s{i}")
            f.write(json.dumps(r) + "\n")
    with open(folder / "power.csv", "w") as f:
        f.write("time,segment,domain,watts\n")
        for k in range(20000):
            f.write(f"{1_750_000_000 + 0.05 * k:.4f},0,cpu-est,{6 + (k % 40) / 10:.4f}\n")
    return folder


async def test_a_10000_query_session_opens_and_scrolls(env):
    from ipwtui.tui.screens.sessions import SessionView

    folder = synthetic_session(env / "sessions" / "big", 10_000)
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(SessionView(folder))
        await wait_for(pilot, lambda: isinstance(app.screen, SessionView)
                       and app.screen.query_one("#queries").row_count > 0, timeout=60, what="first rows")
        # the newest rows come first, with the cursor on the newest (how fast: benchmarks/app_session_10k.py)
        assert app.screen.query_one("#queries").get_row_at(app.screen.query_one("#queries").cursor_row)[0] \
            .plain == "10000"
        await wait_for(pilot, lambda: app.screen.query_one("#queries").row_count == 10_000, timeout=60,
                       what="all rows")
        view = app.screen
        table = view.query_one("#queries")
        table.focus()
        for key in ("pageup", "pageup", "home", "pagedown", "end"):
            await pilot.press(key)
        assert table.cursor_row > 9_900
        assert table.get_row_at(0)[0].plain == "1"  # arrival order once the older rows are in
        # sorting 10,000 rows (by the first sort column)
        view.action_cycle_sort()
        await pilot.pause()
        assert table.sort_column is not None
        await wait_for(pilot, lambda: view.summary is not None, timeout=30, what="summary")
        assert view.summary["queries"]["finished"] == 10_000


def test_run_app_entry_point(env, monkeypatch, capsys):
    """cli.py's call: run_app(args) builds the app from the arguments and returns an exit code."""
    import ipwtui.tui.app as appmod

    seen = {}

    def fake_run(self, *a, **k):
        seen.update(model=self.initial_model, queries=self.initial_queries, autostart=self.autostart,
                    backend=self.backend_kind, theme=self._requested_theme)

    monkeypatch.setattr(appmod.IpwApp, "run", fake_run)
    monkeypatch.setattr(appmod, "after_exit_message", lambda h: "ipwtui: the session was left interrupted: …")
    rc = appmod.run_app(Namespace(model="m.gguf", queries="quick", autostart=True, theme="ipw-paper",
                                  backend="fake"))
    assert rc == 0
    assert capsys.readouterr().err == "ipwtui: the session was left interrupted: …\n"  # after the app closed
    assert seen == {"model": "m.gguf", "queries": "quick", "autostart": True, "backend": "fake",
                    "theme": "ipw-paper"}


def test_first_frame_does_not_import_heavy_modules():
    """Nothing slow before the first frame: llama_cpp and pandas are not imported by the app module."""
    import subprocess
    import sys

    code = ("import sys, ipwtui.tui.app; "
            "print(sorted(m for m in ('llama_cpp', 'pandas', 'pynvml', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


async def test_starting_does_not_write_the_config(env):
    app = make_app(env, theme="ipw-paper")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        assert app.theme == "ipw-paper"
    assert not (env / "config" / "config.json").exists()
