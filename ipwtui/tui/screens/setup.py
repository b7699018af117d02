"""The setup screen: a model, an accelerator, a query set and the run's settings.

Nothing slow happens before the first frame: models are discovered, sensors probed and query sets
counted in a thread worker after mount, and the lists fill in when it reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    Header,
    Input,
    Label,
    LoadingIndicator,
    OptionList,
    RadioButton,
    RadioSet,
    Select,
    Static,
)
from textual.validation import ValidationResult, Validator
from textual.widgets.option_list import Option

from ...core import fmt
from ...core.settings import SettingError, spec
from ...core.fmt import model_label
from ..widgets.footer import KeyFooter
from ..widgets.responsive import Responsive

FILTER_AFTER = 6  # show the model filter box when more models than this are found
OTHER_FILE = "__file__"
# the settings the form shows, from the settings model (label, help, default, rule); energy_view is a switch
FORM_SETTINGS = ("max_queries", "warmup", "max_tokens", "idle_seconds", "sample_hz")
# the remote target's fields (the openai backend), from the settings model
REMOTE_SETTINGS = ("base_url", "remote_model", "api_key_env", "prometheus_url", "prometheus_query")
# what the run is: a model on this machine, a remote server, or a duel of the two
MODE_LOCAL, MODE_REMOTE, MODE_DUEL = "local", "remote", "duel"
MODES = ((MODE_LOCAL, "local model"), (MODE_REMOTE, "remote server"), (MODE_DUEL, "duel: local vs remote"))


def server_energy_choices() -> list[tuple[str, str]]:
    """The server-energy sources a remote run can use: none, EcoLogits, Prometheus, each cited figure."""
    out = [("none: the server's energy is N/A", "none"), ("ecologits: an estimate with a range", "ecologits"),
           ("prometheus: the server's own telemetry", "prometheus")]
    try:
        from ...core.remote.estimate import cited_table

        for e in cited_table().entries.values():
            out.append((f"cited:{e.id}: {e.what} (estimate, {e.boundary})", f"cited:{e.id}"))
    except Exception:  # the cited table is part of the package: if it cannot load, the others still work
        pass
    return out


@dataclass
class QuerySetInfo:
    path: str
    count: int | None = None
    domains: dict = field(default_factory=dict)
    error: str | None = None
    queries: list | None = None  # the parsed queries, handed to the run so the file is parsed once
    warnings: list = field(default_factory=list)  # the loader's, one line each

    @property
    def name(self) -> str:
        return Path(self.path).stem


def query_set_info(path: str) -> QuerySetInfo:
    """Load a query file and count it by domain (worker thread)."""
    from ...workloads.base import QueryFileError
    from ...workloads.loaders import domain_counts, load_queries_checked, resolve_queries

    try:
        p = resolve_queries(path)
        qs, warnings = load_queries_checked(p)
    except QueryFileError as e:
        return QuerySetInfo(path, error=str(e))
    except Exception as e:
        return QuerySetInfo(path, error=f"{path}: {type(e).__name__}: {e}")
    return QuerySetInfo(str(p), len(qs), domain_counts(qs), queries=qs, warnings=warnings)


def describe_counts(info: QuerySetInfo | None):
    from rich.console import Group
    from rich.table import Table

    if info is None:
        return Text("")
    if info.error:
        return Text(info.error, style="bold")
    head = Text()
    head.append(f"{info.count} queries", style="bold")
    head.append(f" in {Path(info.path).name}")
    t = Table(show_header=True, box=None, padding=(0, 2, 0, 0), header_style="bold")
    t.add_column("domain")
    t.add_column("queries", justify="right")
    for d, n in info.domains.items():
        t.add_row(d, str(n))
    parts = [head, Text(""), t]
    for w in info.warnings:
        parts.append(Text(f"warning: {w}", style="bold"))
    return Group(*parts)


def model_prompt(m) -> Text:
    t = Text()
    t.append(m.name, style="bold")
    if m.format == "fake":
        t.append("  scripted answers (fake backend)\n  not a real model: for demos and tests", style="dim")
        return t
    quant = m.quantization or fmt.NA
    # a file named after its quantisation ("….Q4_1") does not say it twice
    said = bool(m.quantization) and m.quantization.lower() in m.name.lower()
    t.append(f"  {fmt.size(m.size_bytes)}" if said else f"  {quant}  {fmt.size(m.size_bytes)}")
    t.append(f"\n  {m.architecture or '?'} · {m.origin}", style="dim")
    return t


def accelerator_prompt(g: dict) -> Text:
    t = Text()
    t.append(g["accelerator"], style="bold")
    if g["usable"]:
        t.append(f"  energy {g['quality']}")
    else:
        t.append("  unavailable")
    for c in g["available"]:
        period = f", every {fmt.num(c.period_s, 2, 's')}" if c.period_s else ""
        t.append(f"\n  ✓ {c.domain}: {c.source}, {c.quality}, {c.boundary}{period}")
        if not c.in_total:
            t.append(" (nested, not summed)")
        if c.reason:
            t.append(f"\n    {c.reason}", style="dim")
    for c in g["missing"]:
        t.append(f"\n  ✗ {c.domain or c.kind}: {c.source} — {c.reason or 'not found'}")
        if c.fix:
            t.append(f"\n    fix: {c.fix}", style="dim")
    return t


def setting_label(name: str) -> str:
    """A settings field's label: the setting's name, and for an optional one what blank means on a second
    line (the stylesheet gives labels two lines, and wraps a long name there)."""
    sp = spec(name)
    return f"{sp.label}\nblank: {sp.blank}" if sp.optional else sp.label


class SettingValidator(Validator):
    """A settings field's text checked by the settings model (the same one-line message as --help's rule)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def validate(self, value: str) -> ValidationResult:
        try:
            spec(self.name).parse(value)
        except SettingError as e:
            return self.failure(str(e))
        return self.success()


class SetupLoaded(Message):
    def __init__(self, models, problems, capabilities, sets, chosen_info) -> None:
        super().__init__()
        self.models = models
        self.problems = problems
        self.capabilities = capabilities
        self.sets = sets
        self.chosen_info = chosen_info


class QueryInfoReady(Message):
    def __init__(self, info: QuerySetInfo, typed: str | None = None, then_start: bool = False) -> None:
        super().__init__()
        self.info = info
        self.typed = typed  # the text of the query-file field it was read from
        self.then_start = then_start  # start the run once it is read (and good)


class SetupScreen(Responsive, Screen):
    BINDINGS = [
        Binding("ctrl+r", "start", "Start", id="setup.run", tooltip="Start the run (or the duel)"),
        Binding("ctrl+f", "focus_filter", "Filter models", id="setup.filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.models: list = []
        self.accelerators: list[dict] = []
        self.sets: list[QuerySetInfo] = []
        self.picked_model = None  # a ModelRef from the list, or None before loading
        self.picked_accelerator: str | None = None
        self.query_info: QuerySetInfo | None = None
        self.loaded = False
        self.field_problems: dict[str, str] = {}  # a settings field's text that its rule refuses
        self.info_typed: str | None = None  # the query-file field's text the query info was read from

    def compose(self) -> ComposeResult:
        app = self.app
        s = app.initial_settings
        yield Header()
        with Horizontal(id="setup-top"):
            with Vertical(id="models-pane", classes="pane"):
                yield Select([(label, mode) for mode, label in MODES], value=MODE_LOCAL, allow_blank=False,
                             id="run-mode")
                yield Input(placeholder="filter models…", id="model-filter")
                yield OptionList(id="models")
                yield LoadingIndicator(id="models-loading")
                yield Static("", id="model-problems", markup=False)
                with VerticalScroll(id="remote-target") as remote:
                    remote.can_focus = False  # Tab goes from the mode straight to the first field
                    for name in REMOTE_SETTINGS:
                        sp = spec(name)
                        yield Label(sp.label, classes="remote-label")
                        field_in = Input(sp.show(getattr(s, name)), id=f"set-{name}", classes="remote-field",
                                         placeholder=sp.blank if sp.optional else sp.show(sp.default))
                        field_in.tooltip = f"{sp.help} ({sp.flag})"
                        yield field_in
                    yield Label(spec("server_energy").label, classes="remote-label")
                    choices = server_energy_choices()
                    yield Select(choices, value=s.server_energy if s.server_energy in {v for _, v in choices}
                                 else "none", allow_blank=False, id="set-server_energy")
                    yield Button("Check", id="remote-check")
                    yield Static("", id="remote-status", markup=False)
            with Vertical(id="accel-pane", classes="pane"):
                yield OptionList(id="accelerators")
                yield LoadingIndicator(id="accel-loading")
            with Vertical(id="queries-pane", classes="pane"):
                yield Select([], prompt="query set", id="query-set", allow_blank=True)
                yield Input(placeholder="or a query file: JSONL, JSON or CSV (ours, MMLU-Pro, GSM8K)",
                            id="query-path")
                yield Static("", id="query-counts", markup=False)
        with Horizontal(id="settings", classes="pane"):
            for name in FORM_SETTINGS:
                sp = spec(name)
                with Vertical(classes="field"):
                    yield Label(setting_label(name), id=f"label-{name}", classes="setting-label")
                    # free text, checked by the settings model's own rule: a letter, inf or nan typed is
                    # said to be wrong (a number-only field would drop it without a word), blank is valid
                    # where it means something ("all")
                    field_in = Input(sp.show(getattr(s, name)), id=f"set-{name}", placeholder=sp.blank or
                                     sp.show(sp.default), validators=[SettingValidator(name)],
                                     valid_empty=True, classes="setting-field")
                    field_in.tooltip = f"{sp.help}; {sp.rule()} ({sp.flag})"
                    yield field_in
            with Vertical(classes="field", id="energy-field"):
                yield Label("energy on screen", classes="setting-label")
                with RadioSet(id="set-energy"):
                    yield RadioButton("gross", value=s.energy_view != "net", id="energy-gross")
                    yield RadioButton("net", value=s.energy_view == "net", id="energy-net")
        with Horizontal(id="setup-actions"):
            yield Static("", id="setup-summary", markup=False)
            yield Button("Sessions", id="open-sessions")
            yield Button("Run", id="start", variant="primary", disabled=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = "ipwtui"
        self.sub_title = "setup"
        self.query_one("#models-pane").border_title = "model"
        self.query_one("#accel-pane").border_title = "accelerator"
        self.query_one("#queries-pane").border_title = "queries"
        self.query_one("#settings").border_title = "settings"
        self.query_one("#model-filter").display = False
        self.query_one("#models").display = False
        self.query_one("#accelerators").display = False
        self.mode = MODE_REMOTE if self.app.backend_kind == "openai" else MODE_LOCAL
        self.remote_ok: tuple | None = None  # the remote target last checked and found ready
        self.query_one("#run-mode", Select).value = self.mode
        self._show_mode()
        self._load()

    # ---- the remote target (openai) -------------------------------------------------------------

    @on(Select.Changed, "#run-mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        if event.value in (MODE_LOCAL, MODE_REMOTE, MODE_DUEL) and event.value != self.mode:
            self.mode = str(event.value)
            self._show_mode()
            self._update_summary()

    def _show_mode(self) -> None:
        local = self.mode != MODE_REMOTE
        self.query_one("#remote-target").display = self.mode != MODE_LOCAL
        # the problems with local model files: not shown (nor a blank line) for a remote target alone
        problems = self.query_one("#model-problems", Static)
        problems.display = local and bool(str(problems.render()).strip())
        self.query_one("#models").display = local and self.loaded
        self.query_one("#model-filter").display = local and self.loaded and len(self.models) > FILTER_AFTER
        self.query_one("#models-pane").border_title = {MODE_LOCAL: "model", MODE_REMOTE: "remote target",
                                                       MODE_DUEL: "duel: model (A) · remote (B)"}[self.mode]

    def _remote_settings(self, base):
        """The form's remote target over ``base`` settings (SettingError with the model's message)."""
        values = {name: spec(name).parse(self.query_one(f"#set-{name}", Input).value) for name in REMOTE_SETTINGS}
        values["server_energy"] = str(self.query_one("#set-server_energy", Select).value)
        return base.replace(**values)

    @on(Input.Changed, ".remote-field")
    @on(Select.Changed, "#set-server_energy")
    def _remote_changed(self, event) -> None:
        self.remote_ok = None
        self._update_summary()

    @on(Button.Pressed, "#remote-check")
    def action_check_remote(self) -> None:
        settings, bad = self._read_settings()
        if bad:
            self._remote_status(f"✗ {bad}")
            return
        self._remote_status("checking…")
        self._check_remote(settings, then_start=False)

    def _remote_status(self, text: str) -> None:
        status = self.query_one("#remote-status", Static)
        status.update(text)
        # the box of remote fields takes no focus (it was an invisible stop for Tab): the answer is brought
        # into view, on a small screen below the button
        self.call_after_refresh(status.scroll_visible, animate=False)

    @work(thread=True, exclusive=True, group="remote-check", exit_on_error=False)
    def _check_remote(self, settings, then_start: bool) -> None:
        """One request to the server (it answers and serves the model), and the server-energy source's own
        check (a Prometheus query that returns samples): never on the UI thread."""
        from ... import backends

        problem = warning = None
        try:
            problem = backends.engine("openai").check(settings, settings.remote_model)
            if problem is None and settings.server_energy != "none":
                from ...runs import RunError, server_energy_advice, server_energy_source
                from ...core.backend import ModelRef

                try:
                    src = server_energy_source(settings, ModelRef(name=settings.remote_model or "", format="remote"))
                    if src is not None:  # what the run would warn of (a cited figure for another model, ...)
                        warning = "\n".join(server_energy_advice(src, settings.remote_model)) or None
                        src.close()
                except RunError as e:
                    problem = str(e)
        except Exception as e:  # a check never crashes the screen
            problem = f"{type(e).__name__}: {e}"
        self.app.call_from_thread(self._checked, settings, problem, then_start, warning)

    def _checked(self, settings, problem: str | None, then_start: bool, warning: str | None = None) -> None:
        if problem:
            self.remote_ok = None
            self._remote_status(f"✗ {problem}")
            if then_start:
                self.notify(problem, title="The remote target is not ready", severity="error", timeout=8,
                            markup=False)
            return
        self.remote_ok = self._remote_key(settings)
        status = f"✓ {model_label(settings.remote_model)} at {settings.base_url} answers"
        if warning:  # the run may go, but its server energy will be N/A: said before it starts
            status += "".join(f"\n⚠ {line}" for line in warning.splitlines())
            if then_start:
                self.notify(warning, title="Server energy", severity="warning", timeout=10, markup=False)
        self._remote_status(status)
        self._update_summary()
        if then_start:
            self.action_start()

    @staticmethod
    def _remote_key(settings) -> tuple:
        return tuple(getattr(settings, n) for n in REMOTE_SETTINGS + ("server_energy",))

    # ---- loading (worker) -----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="setup-load", exit_on_error=False)
    def _load(self) -> None:
        app = self.app
        try:
            models, problems = app.find_models()
        except Exception as e:
            models, problems = [], [f"model discovery failed: {type(e).__name__}: {e}"]
        try:
            ss = app.probe_sensors()
            caps = list(ss.capabilities)
            ss.close()
        except Exception as e:
            from ...core.sensors.base import Capability

            caps = [Capability("?", "cpu", "probe", "unavailable", "cpu", False,
                               reason=f"sensor probe failed: {type(e).__name__}: {e}")]
        sets: list[QuerySetInfo] = []
        try:
            for p in app.find_query_sets():
                sets.append(query_set_info(str(p)))
        except Exception as e:
            problems.append(f"bundled query sets: {type(e).__name__}: {e}")
        chosen = None
        if app.initial_queries:
            known = {s.path: s for s in sets}
            chosen = query_set_info(app.initial_queries)
            chosen = known.get(chosen.path, chosen)
        self.post_message(SetupLoaded(models, problems, caps, sets, chosen))

    @on(SetupLoaded)
    def _loaded(self, msg: SetupLoaded) -> None:
        from ...core.sensors import accelerators as accelerator_rows

        app = self.app
        self.models = msg.models
        self.sets = msg.sets
        for w in self.query(LoadingIndicator):
            w.remove()  # a hidden indicator still animates; this screen stays under the run screen
        # models
        self.query_one("#models").display = True
        self.query_one("#model-filter").display = len(self.models) > FILTER_AFTER
        if not self.query_one("#model-filter").display and self.focused is self.query_one("#model-filter"):
            self.query_one("#models").focus()  # a hidden filter box keeps no focus (it took the keys typed)
        self._fill_models("")
        problems = list(msg.problems)
        if not self.models:
            problems.insert(0, "no model found: pip install 'ipwtui[demo]' for the default model, "
                               "or set IPWTUI_MODELS_DIR to a folder of GGUF files")
        self.query_one("#model-problems", Static).update("\n".join(problems))
        self.query_one("#model-problems").display = self.mode != MODE_REMOTE and bool(problems)
        # accelerators
        self.accelerators = accelerator_rows(msg.capabilities)
        ol = self.query_one("#accelerators", OptionList)
        ol.display = True
        ol.clear_options()
        for g in self.accelerators:
            ol.add_option(Option(accelerator_prompt(g), id=g["accelerator"], disabled=not g["usable"]))
        usable = [g["accelerator"] for g in self.accelerators if g["usable"]]
        want = app.initial_settings.accelerator
        first = want if want in usable else (usable[0] if usable else None)
        if first is not None:
            ol.highlighted = ol.get_option_index(first)
            self.picked_accelerator = first
        # query sets
        sel = self.query_one("#query-set", Select)
        options = [(f"{s.name} ({s.count if s.count is not None else '!'})", s.path) for s in self.sets]
        options.append(("other file…", OTHER_FILE))
        chosen = msg.chosen_info
        # set here, with what it shows: no Changed message, which would arrive later and could clear a path
        # typed in the meantime
        with sel.prevent(Select.Changed):
            sel.set_options(options)
            if chosen is not None and chosen.path in {s.path for s in self.sets}:
                sel.value = chosen.path
            elif chosen is not None:
                sel.value = OTHER_FILE
                self.query_one("#query-path", Input).value = app.initial_queries or ""
                self.info_typed = (app.initial_queries or "").strip()  # read already
            elif self.sets:
                default = next((s for s in self.sets if s.name == "mixed"), self.sets[0])
                sel.value = default.path
                chosen = default
        self._set_query_info(chosen)
        self.loaded = True
        self._show_mode()
        self._update_summary()
        missing = self._missing_initial_model(msg.problems)
        if missing:
            # the model asked for is not there: never measure another one in its place
            self.picked_model = None
            self.query_one("#models", OptionList).highlighted = None
            self._update_summary()
            if app.autostart:
                app.exit(return_code=1, message=f"ipwtui: error: {missing}")
                return
            self.notify(missing, title="Model not found", severity="error", timeout=10, markup=False)
        if app.autostart:
            app.autostart = False
            self.action_start()

    def _missing_initial_model(self, problems: list[str]) -> str | None:
        """The one-line problem with the model given on the command line, when it is not in the list."""
        want = self.app.initial_model_path()
        if want is None or any(m.path == want for m in self.models):
            return None
        about = [p for p in problems if want in p or str(self.app.initial_model) in p]
        return about[0] if about else f"{want}: model not found"

    # ---- models ---------------------------------------------------------------------------------

    def _fill_models(self, flt: str) -> None:
        app = self.app
        ol = self.query_one("#models", OptionList)
        ol.clear_options()
        flt = flt.lower().strip()
        shown = [(i, m) for i, m in enumerate(self.models)
                 if not flt or flt in f"{m.name} {m.quantization} {m.path}".lower()]
        for i, m in shown:
            ol.add_option(Option(model_prompt(m), id=str(i)))
        want = self.picked_model.path if self.picked_model is not None else app.initial_model_path()
        paths = [m.path for _, m in shown]
        if want is not None and want in paths:
            k = paths.index(want)
        elif shown:
            k = 0
        else:
            return
        ol.highlighted = k
        self.picked_model = shown[k][1]

    @on(Input.Changed, "#model-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill_models(event.value)
        self._update_summary()

    def action_focus_filter(self) -> None:
        f = self.query_one("#model-filter", Input)
        if f.display:
            f.focus()

    @on(OptionList.OptionHighlighted, "#models")
    @on(OptionList.OptionSelected, "#models")
    def _model_picked(self, event) -> None:
        if event.option.id is not None:
            self.picked_model = self.models[int(event.option.id)]
            self._update_summary()

    @on(OptionList.OptionHighlighted, "#accelerators")
    @on(OptionList.OptionSelected, "#accelerators")
    def _accel_picked(self, event) -> None:
        if event.option.id and not event.option.disabled:
            self.picked_accelerator = event.option.id
            self._update_summary()

    # ---- query sets -----------------------------------------------------------------------------

    @on(Select.Changed, "#query-set")
    def _set_changed(self, event: Select.Changed) -> None:
        path_in = self.query_one("#query-path", Input)
        typed = path_in.value.strip()
        if event.value == OTHER_FILE:
            if self.info_typed != typed or not typed:  # not read yet (picked from the list)
                path_in.focus()
                if typed:
                    self._count_file(typed)
                else:
                    self._set_query_info(None)
            return
        if event.value is Select.NULL or event.value is None:
            return
        info = next((s for s in self.sets if s.path == event.value), None)
        if typed:  # a bundled set picked: the file typed before is not what runs
            self.info_typed = None
            path_in.value = ""
        self._set_query_info(info)

    @on(Input.Submitted, "#query-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self._count_file(value)

    def _typed_path(self) -> str:
        return self.query_one("#query-path", Input).value.strip()

    @work(thread=True, exclusive=True, group="query-count", exit_on_error=False)
    def _count_file(self, path: str, then_start: bool = False) -> None:
        self.post_message(QueryInfoReady(query_set_info(path), typed=path, then_start=then_start))

    @on(QueryInfoReady)
    def _info_ready(self, msg: QueryInfoReady) -> None:
        if msg.typed is not None and msg.typed != self._typed_path():
            return  # the field has changed since: this reading is of an older text
        self.info_typed = msg.typed
        sel = self.query_one("#query-set", Select)
        if sel.value != OTHER_FILE:
            sel.value = OTHER_FILE
        self._set_query_info(msg.info)
        if msg.then_start:
            if msg.info.error:  # one line, as Enter in the field gives it (and kept beside the field)
                self.notify(msg.info.error, title="Cannot start", severity="error", timeout=8, markup=False)
            else:
                self.action_start()

    def _set_query_info(self, info: QuerySetInfo | None) -> None:
        self.query_info = info
        w = self.query_one("#query-counts", Static)
        w.update(describe_counts(info))
        w.set_class(bool(info and info.error), "-error")
        self._update_summary()

    # ---- start ----------------------------------------------------------------------------------

    @on(Input.Changed, ".setting-field")
    def _setting_changed(self, event: Input.Changed) -> None:
        """A settings field that its rule refuses says why at once (in the line above the Run button)."""
        name = (event.input.id or "").removeprefix("set-")
        result = event.validation_result
        if result is not None and not result.is_valid:
            self.field_problems[name] = result.failure_descriptions[0]
        else:
            self.field_problems.pop(name, None)
        self._update_summary()

    def _update_summary(self) -> None:
        local_ok = self.mode == MODE_REMOTE or self.picked_model is not None
        ok = self.loaded and local_ok and self.picked_accelerator is not None \
            and self.query_info is not None and not self.query_info.error
        self.query_one("#start", Button).disabled = not ok
        self.query_one("#start", Button).label = "Duel" if self.mode == MODE_DUEL else "Run"
        parts = []
        if self.mode != MODE_REMOTE and self.picked_model is not None:
            parts.append(self.picked_model.name)
        if self.mode != MODE_LOCAL:
            remote = model_label(self.query_one("#set-remote_model", Input).value.strip()) or "?"
            parts.append(("vs " if self.mode == MODE_DUEL else "") + f"{remote} (remote"
                         + (", checked)" if self.remote_ok else ")"))
        parts.append(self.picked_accelerator or "no accelerator")
        if self.query_info and not self.query_info.error:
            parts.append(f"{self.query_info.name} ({self.query_info.count})")
        summary = self.query_one("#setup-summary", Static)
        problem = next(iter(self.field_problems.values()), None)
        summary.update(Text(f"✗ {problem}") if problem else " · ".join(parts))
        summary.set_class(problem is not None, "-error")

    def _read_settings(self):
        """RunSettings from the form, or a one-line problem (the settings model's own message)."""
        try:
            values = {name: spec(name).parse(self.query_one(f"#set-{name}", Input).value)
                      for name in FORM_SETTINGS}
            view = "net" if self.query_one("#energy-net", RadioButton).value else "gross"
            s = self.app.initial_settings.replace(accelerator=self.picked_accelerator or "cpu",
                                                  energy_view=view, **values)
            if self.mode != MODE_LOCAL:
                s = self._remote_settings(s)
                if not s.base_url or not s.remote_model:
                    return None, (f"the remote target needs {spec('base_url').label} ({spec('base_url').flag}) and "
                                  f"{spec('remote_model').label} ({spec('remote_model').flag})")
        except SettingError as e:
            return None, str(e)
        return s, None

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if not self.loaded:
            self.notify("still looking for models and sensors…", timeout=3)
            return
        typed = self._typed_path()
        if typed and typed != self.info_typed:
            # a query file typed but not read yet (no Enter): it is what the run uses, read (and checked)
            # first; a bad one stops the start with its one-line message
            self.query_one("#query-counts", Static).update(Text(f"reading {typed}…"))
            self._count_file(typed, then_start=True)
            return
        problem = None
        if self.picked_model is None and self.mode != MODE_REMOTE:
            problem = "pick a model"
        elif self.picked_accelerator is None:
            problem = "no accelerator with a power domain: see the accelerator list for why"
        elif self.query_info is None:
            problem = "pick a query set or give a query file"
        elif self.query_info.error:
            problem = self.query_info.error
        settings, bad = self._read_settings()
        problem = problem or bad
        if problem:
            self.notify(problem, title="Cannot start", severity="error", timeout=6, markup=False)
            return
        if self.mode != MODE_LOCAL and self.remote_ok != self._remote_key(settings):
            # the remote target is checked with one request before the run starts
            self._remote_status("checking…")
            self._check_remote(settings, then_start=True)
            return
        from ...runs import RunRequest

        query = dict(queries=self.query_info.path, query_list=self.query_info.queries, settings=settings)
        local = RunRequest(model=self.picked_model, backend=self.app.backend_kind, **query)
        remote = RunRequest(model=settings.remote_model, backend="openai", **query)
        if self.mode == MODE_LOCAL:
            self.app.start_run(local)
        elif self.mode == MODE_REMOTE:
            self.app.start_run(remote)
        else:
            self.app.start_duel(local, remote)

    @on(Button.Pressed, "#open-sessions")
    def _sessions(self) -> None:
        self.app.action_sessions()
