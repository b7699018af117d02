"""The Textual app: pick a model and accelerator, watch power, throughput and IPW live, export the session.

A thin client of the core: ``core.plan.prepare`` builds the session, ``core.runner.Runner`` measures on a
thread worker, ``core.summary`` / ``core.fmt`` / ``core.export`` give every figure, word and file.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Callable, Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .controller import DuelEnded, DuelEvent, RunEnded, RunEvent, RunHandle, RunProblem
from .live import LiveState
from ..core.fmt import model_label
from .themes import DEFAULT_THEME, FALLBACK_THEME, discover_themes


class IpwApp(App):
    """ipwtui's app. Every source of data can be injected for tests and demos."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "ipwtui"
    BINDINGS = [
        Binding("f1,question_mark", "help", "Keys", id="app.help"),
        Binding("ctrl+o", "sessions", "Sessions", id="app.sessions"),
        Binding("ctrl+l", "leaderboard", "Leaderboard", id="app.leaderboard", show=False),
        Binding("ctrl+g", "compare", "Compare sessions", id="app.compare", show=False,
                tooltip="Sessions side by side, the accuracy-power chart and the routing what-if: mark "
                        "sessions (m) in Sessions, then compare them"),
        Binding("i,f2", "explain", "About IPW", id="app.explain", tooltip="What IPW and IPJ are, and how this "
                "session's figures are computed"),
        Binding("ctrl+t", "change_theme", "Theme", id="app.theme", show=False),
        Binding("ctrl+e", "export", "Export", id="app.export", show=False),
    ]

    def __init__(self, backend_factory: Callable | None = None, sensor_factory: Callable | None = None,
                 sessions_dir: str | os.PathLike | None = None, config_dir: str | os.PathLike | None = None,
                 model: str | None = None, queries: str | None = None, autostart: bool = False,
                 theme: str | None = None, backend: str = "llama.cpp", model_finder: Callable | None = None,
                 query_sets: Callable[[], Iterable] | None = None, settings=None) -> None:
        """
        backend_factory: ``(Prepared) -> backend`` used instead of the backend ``prepare`` makes.
        sensor_factory: ``() -> SensorSet`` used instead of probing this machine's sensors.
        sessions_dir: where sessions go and are listed (default: the core's sessions_root()).
        config_dir: the config folder (sets IPWTUI_CONFIG_DIR for this process, as the CLI's env would).
        model_finder: ``() -> (models, problems)`` instead of the backend engine's find_models().
        query_sets: ``() -> [path]`` instead of the bundled sets.
        settings: a RunSettings with the setup form's initial values.
        """
        if config_dir is not None:
            os.environ["IPWTUI_CONFIG_DIR"] = str(config_dir)
        super().__init__()
        from ..core.settings import RunSettings

        self.backend_factory = backend_factory
        self.sensor_factory = sensor_factory
        self._sessions_dir = Path(sessions_dir) if sessions_dir is not None else None
        self.initial_model = model
        self.initial_queries = queries
        self.autostart = autostart
        self.backend_kind = backend
        self.model_finder = model_finder
        self.query_sets = query_sets
        self.initial_settings = settings or RunSettings()
        self.handle: RunHandle | None = None  # the run going now (or a DuelHandle)
        self.duel_screen = None
        self.live: LiveState | None = None
        self.run_screen = None
        self._theme_problems: list[str] = []
        self._startup_theme: str | None = None
        self._requested_theme = theme
        self._register_themes()

    # ---- sources (called from workers) ---------------------------------------------------------

    @property
    def sessions_dir(self) -> Path:
        if self._sessions_dir is not None:
            return self._sessions_dir
        from ..core.session import sessions_root

        return sessions_root()

    def find_models(self):
        if self.model_finder is not None:
            return self.model_finder()
        from .. import backends

        extra = [self.initial_model] if self.initial_model else None
        return backends.engine(self.backend_kind).find_models(extra_paths=extra, settings=self.initial_settings)

    def initial_model_path(self) -> str | None:
        if not self.initial_model:
            return None
        return str(Path(self.initial_model).expanduser().resolve())

    def probe_sensors(self):
        if self.sensor_factory is not None:
            return self.sensor_factory()
        from ..core.sensors import probe_all

        return probe_all(cpu_watts_per_core=self.initial_settings.cpu_watts_per_core)

    def find_query_sets(self):
        if self.query_sets is not None:
            return list(self.query_sets())
        from ..workloads.loaders import bundled_sets

        return bundled_sets()

    # ---- themes ---------------------------------------------------------------------------------

    def _register_themes(self) -> None:
        themes, problems = discover_themes()
        for t in themes.values():
            self.register_theme(t)
        self._theme_problems = problems

    def _initial_theme(self) -> str:
        from ..core.config import ConfigError, load_config

        try:
            saved = load_config().get("theme")
        except ConfigError:  # reported by run_app before the app starts; never fatal for a colour
            saved = None
        wanted = [self._requested_theme, saved, DEFAULT_THEME, FALLBACK_THEME]
        for name in wanted:
            if name and name in self.available_themes:
                return name
        return FALLBACK_THEME

    def _save_theme(self, theme) -> None:
        """Keep a theme picked in the app (not the one the app started with) in the config file."""
        from ..core.config import save_config

        if self._startup_theme is not None:
            first, self._startup_theme = self._startup_theme, None
            if theme.name == first:
                return
        try:
            save_config({"theme": theme.name})
        except (OSError, ValueError) as e:  # ValueError: ConfigError, a config file that cannot be read
            self.notify(f"theme not saved: {e}", severity="warning", markup=False)

    def on_mount(self) -> None:
        self.theme = self._initial_theme()
        self._startup_theme = self.theme
        if self._requested_theme and self._requested_theme not in self.available_themes:
            self.notify(f"no theme named {self._requested_theme!r}; themes: "
                        f"{', '.join(sorted(self.available_themes))}", severity="warning", timeout=8, markup=False)
        for p in self._theme_problems:
            self.notify(p, title="Theme file skipped", severity="warning", timeout=8, markup=False)
        self.theme_changed_signal.subscribe(self, self._save_theme)
        from .screens.setup import SetupScreen

        self.push_screen(SetupScreen())

    # ---- commands -------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Run", "Start a run with the setup screen's choices", self.action_run)
        if self.handle is not None and self.handle.active:
            yield SystemCommand("Stop run", "Stop after the current query; finished queries are kept",
                                self.action_stop_run)
            yield SystemCommand("Pause / resume run", "Pause between queries, or go on",
                                self.action_pause_run)
            yield SystemCommand("Skip query", "Skip the query being answered", self.action_skip_query)
        if self.export_folder() is not None:  # only with a session to export on screen
            yield SystemCommand("Export session", "Write queries.csv, samples.csv and summary.json",
                                self.action_export)
        yield SystemCommand("Switch model", "Back to the setup screen to pick a model", self.action_switch_model)
        yield SystemCommand("Switch theme", "Pick a theme (kept in the config file)", self.action_change_theme)
        yield SystemCommand("Sessions", "Past sessions: open, export or resume one", self.action_sessions)
        yield SystemCommand("Leaderboard", "Every past session ranked within its query set",
                            self.action_leaderboard)
        yield SystemCommand("Compare sessions", "Two or more sessions side by side, accuracy against power, "
                            "the routing what-if (mark them with m in Sessions)", self.action_compare)
        yield SystemCommand("Keys", "The keys of every screen", self.action_help)
        yield SystemCommand("About IPW", "What IPW and IPJ are, and how this session's figures are computed",
                            self.action_explain)
        # Textual's own "Keys" (a panel of the focused widget's keys) and "Theme" would stand beside ours
        ours = {"Keys", "Theme"}
        yield from (c for c in super().get_system_commands(screen) if c.title not in ours)

    def setup_screen(self):
        """The setup screen (always at the bottom of the stack once the app has started)."""
        from .screens.setup import SetupScreen

        for s in self.screen_stack:
            if isinstance(s, SetupScreen):
                return s
        return None

    def _to_setup(self, busy_message: str, timeout: float):
        """The setup screen brought to the top, or None (with a notice) while a run is going."""
        if self.handle is not None and self.handle.active:
            self.notify(busy_message, severity="warning", timeout=timeout)
            return None
        setup = self.setup_screen()
        if setup is None:
            return None
        while self.screen is not setup:
            self.pop_screen()
        return setup

    def action_run(self) -> None:
        setup = self._to_setup("a run is going already", 3)
        if setup is not None:
            setup.action_start()

    def action_switch_model(self) -> None:
        setup = self._to_setup("stop the run first (x), then pick another model", 4)
        if setup is not None:
            setup.query_one("#models").focus()

    def action_stop_run(self) -> None:
        if self.handle is not None and self.handle.active:
            self.handle.stop()
            self.notify("stopping: every finished query is kept", timeout=3)

    def action_pause_run(self) -> None:
        if self.run_screen is not None:
            self.run_screen.action_toggle_pause()

    def action_skip_query(self) -> None:
        if self.handle is not None:
            self.handle.skip()

    def action_sessions(self) -> None:
        from .screens.sessions import SessionsScreen

        if isinstance(self.screen, SessionsScreen):
            return
        self.push_screen(SessionsScreen())

    def action_leaderboard(self) -> None:
        from .screens.leaderboard import LeaderboardScreen

        if not isinstance(self.screen, LeaderboardScreen):
            self.push_screen(LeaderboardScreen())

    def action_compare(self) -> None:
        """Compare the sessions marked in the sessions list; without two marked, the list and how to mark."""
        from .screens.sessions import SessionsScreen

        scr = self.screen
        if isinstance(scr, SessionsScreen) and len(scr.marked_folders) >= 2:
            self.open_compare(scr.marked_folders)
            return
        if not isinstance(scr, SessionsScreen):
            self.push_screen(SessionsScreen())
        self.notify("mark two or more sessions with m, then press c to compare them", timeout=6)

    def open_compare(self, folders) -> None:
        from .screens.compare import CompareScreen

        self.push_screen(CompareScreen(list(folders)))

    def action_help(self) -> None:
        from .screens.dialogs import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.key_help()))

    def action_explain(self) -> None:
        """The explainer, with the labels of the session on screen (a run, or a past session's view)."""
        from .screens.explain import ExplainScreen

        if not isinstance(self.screen, ExplainScreen):
            context = getattr(self.screen, "explain_context", None)
            self.push_screen(ExplainScreen(context() if callable(context) else None))

    def key_help(self) -> list[tuple[str, list[tuple[str, str]]]]:
        from .screens.compare import CompareScreen
        from .screens.dialogs import ExportDialog
        from .screens.duel import DuelScreen
        from .screens.leaderboard import LeaderboardScreen
        from .screens.run import RunScreen
        from .screens.sessions import SessionsScreen, SessionView
        from .screens.setup import SetupScreen

        def rows(bindings) -> list[tuple[str, str]]:
            out = []
            for b in bindings:
                if not isinstance(b, Binding) or not b.description:
                    continue
                keys = ", ".join(self.get_key_display(Binding(k, b.action)) for k in b.key.split(","))
                out.append((keys, b.description))
            return out

        app_rows = rows(self.BINDINGS) + [
            (self.get_key_display(Binding("ctrl+p", "command_palette")),
             "Command palette: run, stop, export, switch model, switch theme"),
            (self.get_key_display(Binding("ctrl+q", "quit")),
             "Quit (a run stops first; every finished query is kept)"),
        ]
        return [
            ("Everywhere", app_rows),
            ("Setup", rows(SetupScreen.BINDINGS)),
            ("Run", rows(RunScreen.BINDINGS)),
            ("Duel", rows(DuelScreen.BINDINGS)),
            ("Sessions", rows(SessionsScreen.BINDINGS)),
            ("A session", rows(SessionView.BINDINGS)),
            ("Leaderboard", rows(LeaderboardScreen.BINDINGS)),
            ("Compare", rows(CompareScreen.BINDINGS)),
            ("Export dialog", rows(ExportDialog.BINDINGS)),
        ]

    def export_folder(self):
        """The session(s) export would write: a folder, a duel's two folders (a list), or None."""
        from .screens.duel import DuelScreen
        from .screens.run import RunScreen
        from .screens.sessions import SessionsScreen, SessionView

        scr = self.screen
        folder = None
        if isinstance(scr, SessionView):
            folder = str(scr.folder)
        elif isinstance(scr, SessionsScreen):
            sel = scr.selected_folder
            folder = str(sel) if sel else None
        elif isinstance(scr, RunScreen):
            folder = scr.live.folder or None
        elif isinstance(scr, DuelScreen):
            folders = scr.export_folders()
            return folders or None
        elif self.live is not None and self.live.folder:
            folder = self.live.folder
        return folder or None

    def action_export(self) -> None:
        folder = self.export_folder()
        if not folder:
            self.notify("no session to export yet: start a run, or open one from Sessions (ctrl+o)",
                        severity="warning", timeout=4)
            return
        self.open_export(folder)

    def open_export(self, folder: str | list[str]) -> None:
        from .screens.dialogs import ExportDialog

        self.push_screen(ExportDialog(folder))

    def on_export_dialog_chosen(self, msg) -> None:
        """The export dialog's choice: the files are written off the UI thread."""
        self._write_export(msg.dialog, msg.session_folder, msg.dest, msg.report,
                           html=getattr(msg, "format", "") == "csv+json+html",
                           folders=getattr(msg, "folders", None))

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _write_export(self, dialog, session_folder: str, dest: str, report: bool, html: bool = False,
                      folders: list[str] | None = None) -> None:
        """The export files (with the Markdown report, or the HTML report: report.html through
        ``report.write_html``), written on a worker thread; any failure is the dialog's message.
        Several sessions (a duel's): each into its own folder (``dest`` blank) or a sub-folder of
        ``dest`` named after it; one HTML report of them all, in ``dest`` (blank: the first session's)."""
        from ..core.export import export_session
        from ..core.session import SessionError
        from ..report import ReportError

        folders = folders or [session_folder]
        if html:
            from .screens.dialogs import html_report_problem

            problem = html_report_problem()
            if problem:  # before anything is written
                self.call_from_thread(dialog.show_problem, problem, "pick another format.")
                return
        several = len(folders) > 1
        base = Path(dest).expanduser() if dest else None

        def out(folder: str) -> Path:
            if base is None:
                return Path(folder)
            return base / Path(folder).name if several else base

        try:
            written_all: dict = {}
            for f in folders:
                part = export_session(f, out(f), report=report)
                written_all.update({(f"{Path(f).name}: {k}" if several else k): v for k, v in part.items()})
            paths = written_all
            if html:
                from ..report import write_html

                paths["report"] = write_html(folders, (base or Path(folders[0])) / "report.html")
        except SessionError as e:
            self.call_from_thread(dialog.show_problem, str(e))
            return
        except ReportError as e:  # the CSV and JSON files are written; the report is not
            self.call_from_thread(dialog.show_problem, str(e), "queries.csv, samples.csv and summary.json were "
                                  "written; pick another format or folder.")
            return
        except Exception as e:  # anything else is still a message, never a traceback
            self.call_from_thread(dialog.show_problem, f"{type(e).__name__}: {e}")
            return
        written = {k: str(v) for k, v in paths.items()}
        folder = "\n".join(dict.fromkeys(str(Path(p).parent) for p in written.values()))
        names = ", ".join(dict.fromkeys(Path(p).name for p in written.values()))
        self.call_from_thread(self.notify, f"{folder}\n{names}", title="Session exported", timeout=10)
        self.call_from_thread(dialog.done, written)

    # ---- runs -----------------------------------------------------------------------------------

    def start_duel(self, a, b) -> None:
        """A duel of two requests over the same queries (the setup screen's duel mode)."""
        from .controller import DuelHandle
        from .screens.duel import DuelScreen

        if self.handle is not None and self.handle.active:
            self.notify("a run is going already", severity="warning", timeout=3)
            return
        from .. import backends

        names = {"A": model_label(getattr(a.model, "name", None) or str(a.model or a.backend)),
                 "B": model_label(getattr(b.model, "name", None) or str(b.model or b.backend))}
        remote = {"A": backends.engine(a.backend).where == "remote", "B": backends.engine(b.backend).where == "remote"}
        handle = DuelHandle(a, b, self.post_message, sessions_dir=self.sessions_dir,
                            sensor_factory=self.sensor_factory, backend_factory=self.backend_factory)
        self.handle = handle
        screen = DuelScreen(handle, names, remote, energy_view=a.settings.energy_view)
        self.duel_screen = screen
        self.push_screen(screen)
        handle.worker = self.run_worker(handle.work, thread=True, group="run", name="duel", exit_on_error=False)

    @on(DuelEvent)
    def _duel_event(self, msg) -> None:
        if msg.handle is not self.handle or self.duel_screen is None:
            return
        try:
            self.duel_screen.on_duel_event(msg.side, msg.event)
        except Exception as err:  # a display problem must never stop the duel
            self.log.error(f"duel screen: {err!r}")
        e = msg.event
        from ..core import events as ev

        if isinstance(e, ev.SensorFault) and msg.side == "A":
            self.notify(f"{e.sensor}: {e.message}. Its samples are N/A from now on.", title="Sensor failed",
                        severity="warning", timeout=10, markup=False)

    @on(DuelEnded)
    def _duel_ended(self, msg) -> None:
        msg.handle.shown_ended = True
        if msg.handle is not self.handle:
            return
        self._export_at_end(msg.handle)  # what a duel made: each side's exports (none when neither side started)
        if msg.problem and msg.stage in ("prepare", "load"):
            from .screens.dialogs import ErrorDialog

            if self.duel_screen is not None and self.screen is self.duel_screen:
                self.pop_screen()
            self.push_screen(ErrorDialog("Cannot start the duel", msg.problem))
            return
        if self.duel_screen is not None:
            self.duel_screen.on_duel_ended(msg.problem)
        folders = msg.handle.folders
        self.notify(f"side A: {folders.get('A')}\nside B: {folders.get('B')}\npress c to compare them",
                    title=f"Duel {msg.handle.status or 'ended'}", timeout=10, markup=False)

    def compare_sessions(self, folders: list[str]) -> None:
        """The compare screen on these sessions (from a duel, or sessions marked in the list)."""
        try:
            from .screens.compare import CompareScreen
        except ImportError:
            self.notify("ipwtui compare " + " ".join(folders), title="Compare them with", timeout=10,
                        markup=False)
            return
        self.push_screen(CompareScreen(folders))

    def start_run(self, request) -> RunHandle | None:
        """Start a run (a new session or a resumed one) and show the run screen."""
        from .screens.run import RunScreen

        if self.handle is not None and self.handle.active:
            self.notify("a run is going already", severity="warning", timeout=3)
            return None
        s = request.settings
        live = LiveState(energy_view=s.energy_view, accelerator=s.accelerator, backend=request.backend)
        m = request.model
        live.model_name = getattr(m, "name", None) or model_label(str(m) if m else "")
        if request.resume:
            live.model_name = Path(request.resume).name
        handle = RunHandle(request, self.post_message, sessions_dir=self.sessions_dir,
                           sensor_factory=self.sensor_factory, backend_factory=self.backend_factory)
        self.handle, self.live = handle, live
        self.run_screen = RunScreen(live, handle)
        self.push_screen(self.run_screen)
        handle.worker = self.run_worker(handle.work, thread=True, group="run", name="runner",
                                        exit_on_error=False)
        return handle

    def resume_session(self, folder: str, status: str | None) -> None:
        from ..runs import RunRequest

        if status == "finished":
            self.notify("this session is finished: nothing to resume", timeout=3)
            return
        if self.handle is not None and self.handle.active:
            if self.handle.folder == folder:
                self.notify("this session is running now", timeout=3)
            else:
                self.notify("a run is going already", severity="warning", timeout=3)
            return
        from .screens.run import RunScreen

        # the run screen goes on top of the setup screen, not of the sessions list
        while len(self.screen_stack) > 2 and not isinstance(self.screen, RunScreen):
            self.pop_screen()
        if isinstance(self.screen, RunScreen):
            self.pop_screen()
        self.start_run(RunRequest(resume=folder, backend=self.backend_kind))

    def _shown_run_screen(self):
        """The run screen when it is on the screen stack (it receives updates), else None."""
        rs = self.run_screen
        if rs is not None and rs in self.screen_stack and rs.is_mounted:
            return rs
        return None

    @on(RunEvent)
    def _run_event(self, msg: RunEvent) -> None:
        from ..core import events as ev

        if msg.handle is not self.handle or self.live is None:
            return
        e = msg.event
        self.live.apply(e)
        if isinstance(e, ev.SessionStarted) and self.handle.prep is not None:
            meta = self.handle.prep.session.meta
            self.live.model_name = model_label((meta.get("model") or {}).get("name")) or self.live.model_name
            self.live.accelerator = meta.get("accelerator") or self.live.accelerator
            if self._shown_run_screen() is not None:
                self.run_screen.sub_title = f"{self.live.model_name} · {self.live.accelerator}"
        if self._shown_run_screen() is not None:
            try:
                self.run_screen.on_run_event(e)
            except Exception as err:  # a display problem must never stop the run
                self.log.error(f"run screen: {err!r}")
        if isinstance(e, ev.Notice):
            self.notify(e.message, severity="warning", timeout=8, markup=False)
        elif isinstance(e, ev.SensorFault):
            self.notify(f"{e.sensor}: {e.message}. Its samples are N/A from now on.",
                        title="Sensor failed", severity="warning", timeout=10, markup=False)
        elif isinstance(e, ev.RunFailed):
            from .screens.dialogs import ErrorDialog

            self.push_screen(ErrorDialog("The run failed", f"{e.message}\n\nEvery finished query is kept in "
                                         f"{self.live.folder or 'the session folder'}; resume it from "
                                         "Sessions (ctrl+o)."))
        elif isinstance(e, ev.RunFinished):
            if e.status == "finished":
                self.notify(f"{self.live.folder}", title="Run finished", timeout=8, markup=False)
            else:
                reason = (e.summary or {}).get("stop_reason")
                errors = self.live.errors
                kept = (f"{self.live.done - errors} of {self.live.total} queries answered"
                        + (f" and {errors} failed" if errors else "") + f", kept in {self.live.folder}")
                self.notify((f"{reason}. " if reason else "") + kept + "; resume it from Sessions (ctrl+o)"
                            + (" (the failed ones are tried again)" if errors else ""),
                            title=f"Run {e.status}", timeout=10, markup=False)

    @on(RunProblem)
    def _run_problem(self, msg: RunProblem) -> None:
        from .screens.dialogs import ErrorDialog

        if msg.handle is not self.handle:
            return
        if self.live is not None:
            self.live.failure = msg.message
        if self.run_screen is not None and self.screen is self.run_screen:
            self.pop_screen()
        title = "Cannot start the run" if msg.stage == "prepare" else "The model did not load"
        self.push_screen(ErrorDialog(title, msg.message))

    @on(RunEnded)
    def _run_ended(self, msg: RunEnded) -> None:
        msg.handle.mark_ended()
        self._export_at_end(msg.handle)  # as the headless command does: the session's exports, next to its files
        if msg.handle is not self.handle:
            return
        if self._shown_run_screen() is not None:
            try:
                self.run_screen.show_run_ended()
            except Exception as err:  # the screen is going away (the app is closing)
                self.log.error(f"run screen: {err!r}")

    def _export_at_end(self, handle) -> None:
        """A run (or duel) has ended: each session's queries.csv, samples.csv, summary.json and report.md
        written into its folder, off the UI thread; a failure is a warning (the session itself is safe).
        ``handle.export_done`` is set when they are written (the app waits for it before the process ends)."""
        if handle.exported:
            return
        handle.exported = True
        # a plain thread, not a worker: the app may be closing (quit mid-run), which cancels its workers
        threading.Thread(target=self._write_exports_at_end, args=(handle, _handle_folders(handle)),
                         name="ipwtui-export-at-end", daemon=False).start()

    def _write_exports_at_end(self, handle, folders: list[str]) -> None:
        try:
            for line, severity in export_sessions_at_end(folders):
                if not self.is_running:  # the app has closed meanwhile: the terminal is told after it
                    if severity != "information":
                        handle.export_problems.append(line)
                    continue
                try:
                    self.call_from_thread(self.notify, line, title="Session exported" if severity == "information"
                                          else "Export failed", severity=severity, timeout=8, markup=False)
                except RuntimeError:  # the app has closed meanwhile: the terminal is told after it
                    if severity != "information":
                        handle.export_problems.append(line)
        finally:
            handle.export_done.set()

    # ---- quitting -------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit; a running session is stopped first, so every finished query stays on disk."""
        h = self.handle
        if h is not None and not h.ended.is_set():
            h.stop()
            self.notify("stopping the run: saving…", timeout=5)
            if h.worker is not None:
                try:
                    await h.worker.wait()
                except Exception:
                    pass
        self.exit()

    def on_unmount(self) -> None:
        h = self.handle
        if h is not None and not h.ended.is_set():
            h.stop()


def run_app(args) -> int:
    """Entry point for ``ipwtui`` with no command."""
    from .. import backends
    from ..core.config import config_settings
    from ..core.settings import SettingError

    try:
        settings = config_settings()
        backend = backends.canonical(getattr(args, "backend", None))
    except (SettingError, backends.BackendError) as e:
        print(f"ipwtui: error: {e}", file=sys.stderr)
        return 1
    app = IpwApp(model=getattr(args, "model", None), queries=getattr(args, "queries", None),
                 autostart=bool(getattr(args, "autostart", False)), theme=getattr(args, "theme", None),
                 backend=backend, settings=settings)
    app.run()
    h = app.handle
    if h is not None and not h.ended.is_set():  # the app closed another way: let the runner close the session
        h.stop()
        h.ended.wait(timeout=30)
    if h is not None:  # every session the app ran is exported, also one it closed on
        if h.exported:
            h.export_done.wait(timeout=120)  # the app's own export, on its worker thread
            problems = list(h.export_problems)
        else:
            problems = [line for line, severity in export_sessions_at_end(_handle_folders(h))
                        if severity != "information"]
        for line in problems:
            print(f"ipwtui: {line}", file=sys.stderr)
    line = after_exit_message(h)
    if line:  # the terminal is the user's again: where the unfinished session is, and how to finish it
        print(line, file=sys.stderr)
    if app.return_code:
        return app.return_code
    return 0


def after_exit_message(handle) -> str | None:
    """One line for the terminal once the app has closed: the last run (or duel) left its session(s)
    unfinished (quit mid-run, or stopped), where they are and the command that finishes them; None when
    there is nothing to say (no run, a run that finished, one that never made a session)."""
    from .controller import DuelHandle

    if handle is None:
        return None
    if isinstance(handle, DuelHandle):
        preps = [(side, p) for side, p in sorted(handle.duel.prepared.items())]
    else:
        preps = [("", handle.prep)] if handle.prep is not None else []
    parts = []
    for side, prep in preps:
        try:
            status = prep.session.meta.get("status")
            if status in ("finished", "failed"):
                continue
            done, total, folder = len(prep.session.done_ids()), len(prep.queries), prep.session.folder
        except Exception:  # a session that cannot be read says nothing rather than a traceback
            continue
        parts.append(f"{'side ' + side + ': ' if side else ''}{done} of {total} queries in {folder}; finish it "
                     f"with: ipwtui run --resume {folder}")
    if not parts:
        return None
    what = "the duel's sessions were" if isinstance(handle, DuelHandle) else "the session was"
    return f"ipwtui: {what} left interrupted: " + "; ".join(parts)


def _handle_folders(handle) -> list[str]:
    """The session folders of a run's or duel's handle (none before they exist)."""
    from .controller import DuelHandle

    try:
        if isinstance(handle, DuelHandle):
            return [str(handle.folders[k]) for k in sorted(handle.folders)]
        return [str(handle.prep.session.folder)] if handle.prep is not None else []
    except Exception:
        return []


def export_sessions_at_end(folders: list[str]) -> list[tuple[str, str]]:
    """Export each session into its own folder, with the Markdown report: (one line, notification
    severity) per session."""
    from ..core.export import export_session
    from ..core.session import SessionError

    out = []
    for folder in folders:
        if not _has_queries(Path(folder)):  # a run that never answered (it failed to load): nothing to export
            continue
        try:
            paths = export_session(folder, None, report=True)
        except (SessionError, OSError, ValueError) as e:
            out.append((f"{folder}: {e} (the session itself is safe; ipwtui export {folder} tries again)",
                        "warning"))
            continue
        out.append((f"{folder}\n" + ", ".join(Path(p).name for p in paths.values()), "information"))
    return out


def _has_queries(folder: Path) -> bool:
    """The session's journal holds at least one query record (answered, failed or skipped)."""
    from ..core.session import JOURNAL_FILE

    try:
        with open(folder / JOURNAL_FILE, "rb") as f:
            return any(b'"type": "query"' in line for line in f)
    except OSError:
        return False
