"""Command line: ``ipwtui`` opens the app; ``ipwtui run`` profiles headless; ``sensors``, ``models``,
``export``, ``sessions`` and ``compare`` inspect; ``rescore`` judges a session's answers again. Heavy
libraries are imported only by the command that needs them."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _backend_names() -> list[str]:
    from . import backends  # cheap: engines are imported only when one is used

    return backends.names()


def _add_setting(g, sp) -> None:
    """One option of the settings model: checked later by the model itself (one-line errors)."""
    metavar = "{" + ",".join(sp.choices) + "}" if sp.choices else \
        ("N" if sp.kind is int else "X" if sp.kind is float else "NAME")
    shown = "" if sp.optional else f" (default: {sp.show(sp.default)})"  # optional: the help says what blank means
    g.add_argument(sp.flag, dest=sp.name, metavar=metavar, default=None, help=sp.help + shown)


MODEL_HELP = ("a GGUF file (llama.cpp; default: the bundled SmolLM2-135M-Instruct), an MLX model folder or a "
              "repository id in the Hugging Face cache (mlx), or the model a server serves (openai; or "
              "--remote-model)")


def _add_run_options(p: argparse.ArgumentParser, one_target: bool = True) -> None:
    from .core.settings import specs

    g = p.add_argument_group("what to run")
    if one_target:
        g.add_argument("--model", metavar="PATH|NAME", help=f"model to run: {MODEL_HELP}")
    g.add_argument("--queries", metavar="FILE|NAME",
                   help="query file (our JSONL/CSV, MMLU-Pro or GSM8K JSONL) or a bundled set: mixed, quick, "
                        "open (open questions, for --judge) (default: mixed)")
    if one_target:
        g.add_argument("--backend", metavar="NAME",
                       help=f"inference backend: {', '.join(_backend_names())} (fake: a scripted stand-in for "
                            "demos and tests) (default: llama.cpp)")
    groups = {"what": g, "measurement": p.add_argument_group("measurement"),
              "engine": p.add_argument_group("engine"),
              "remote": p.add_argument_group("remote backends (openai)")}
    for sp in specs():
        _add_setting(groups.get(sp.group) or groups["measurement"], sp)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(
        prog="ipwtui",
        description="Terminal profiler of intelligence per watt: accuracy per watt and per joule of a "
                    "language model on this machine. With no command, opens the app.")
    p.add_argument("--version", action="version", version=f"ipwtui {__version__}")
    p.add_argument("--model", metavar="PATH", help="app: preselect this GGUF model")
    p.add_argument("--queries", metavar="FILE|NAME", help="app: preselect this query set")
    p.add_argument("--autostart", action="store_true", help="app: start the run at once")
    p.add_argument("--theme", metavar="NAME", help="app: theme to use")
    p.add_argument("--backend", default="llama.cpp", help=argparse.SUPPRESS)
    sub: _Subcommands = p.add_subparsers(  # type: ignore[assignment]
        dest="command", metavar="COMMAND", action=_Subcommands)
    # each command's options are added only when that command is the one given (parsing or --help): a
    # short command (compare, sessions) does not pay for building the run options of every other one
    sub.add("run", _fill_run, help="profile headless and print the results",
            description="Measure a model on a query set without the app; prints a live progress "
                        "line and a final summary, and saves the session folder.")
    sub.add("sensors", _fill_sensors, help="show what this machine can measure, and how well")
    sub.add("models", _fill_models, help="list the models a backend finds here")
    sub.add("export", _fill_export, help="write queries.csv, samples.csv and summary.json for a session")
    sub.add("sessions", _fill_sessions, help="list past sessions")
    sub.add("rescore", _fill_rescore, help="score a session's answers again with a language-model judge",
            description="Judge the answers of a finished or interrupted session again, without "
                        "running the model: each open (\"judge\" kind) query's final answer, or "
                        "every answer with a reference with --all. The new verdicts and the "
                        "judge's time, energy and cost are added to the session's journal, and "
                        "its files are exported again.")
    sub.add("compare", _fill_compare, help="compare sessions side by side, with the local/cloud routing what-if",
            description="Figures of two or more sessions side by side (ranked only when they ran "
                        "the same queries), what their energies cover, and the routing what-if of "
                        "the local sessions against the cloud side.")
    sub.add("duel", _fill_duel, help="each query to two targets (local and cloud, or any two), side by side",
            description="Send every query to two targets, one after the other, the first side "
                        "alternating from query to query so that a drift of the machine favours "
                        "neither; each side goes into its own session (the two name each other), "
                        "then both are compared, with the routing what-if when one side is remote. "
                        "The settings below apply to both sides; --a-base-url / --b-base-url give "
                        "a side its own server.")
    sub.add("report", _fill_report, help="write a shareable report of one or more sessions (HTML, Markdown)",
            description="One self-contained HTML file (charts inline, nothing fetched) and/or a "
                        "Markdown file with SVG charts beside it. Needs matplotlib: "
                        "pip install 'ipwtui[report]'.")
    sub.add("leaderboard", _fill_leaderboard,
            help="every past session side by side, ranked within each query set")
    return p


class _Subcommands(argparse._SubParsersAction):
    """The subcommands, each with a function that adds its options, called once, when the command is the
    one being parsed (its --help included)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._fillers: dict = {}

    def add(self, name: str, fill, **kwargs) -> argparse.ArgumentParser:
        parser = self.add_parser(name, **kwargs)
        self._fillers[name] = (parser, fill)
        return parser

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        pending = self._fillers.pop(values[0], None) if values else None
        if pending is not None:
            pending[1](pending[0])
        super().__call__(parser, namespace, values, option_string)


def _fill_run(r: argparse.ArgumentParser) -> None:
    _add_run_options(r)
    o = r.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="session folder (default: a new folder under the data dir)")
    o.add_argument("--csv", metavar="FILE", help="also write the per-query table to FILE")
    o.add_argument("--resume", metavar="DIR", help="finish an interrupted session (its own settings are used)")
    o.add_argument("--json", action="store_true", help="print the summary as JSON instead of tables")
    o.add_argument("--quiet", action="store_true", help="no line per finished query")
    _add_judge_options(r, required=False)
    pm = r.add_argument_group("Prometheus endpoint")
    pm.add_argument("--metrics-port", type=int, metavar="PORT",
                    help="serve the running figures at http://HOST:PORT/metrics (Prometheus text format) "
                         "while the run goes on (default: not served)")
    pm.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                    help="address to serve them on; 0.0.0.0 opens it to the network (default: 127.0.0.1)")
    pm.add_argument("--metrics-linger", type=float, default=15.0, metavar="S",
                    help="after the run, keep serving until a scrape has read the final figures, at most S "
                         "seconds (default: 15)")


def _fill_sensors(s: argparse.ArgumentParser) -> None:
    from .core.settings import spec

    s.add_argument("--json", action="store_true", help="machine-readable output")
    for name in ("cpu_watts_per_core", "cpu_scope"):
        _add_setting(s, spec(name))


def _fill_models(mo: argparse.ArgumentParser) -> None:
    from .core.settings import spec

    mo.add_argument("--backend", default="llama.cpp", metavar="NAME",
                    help=f"whose models: {', '.join(_backend_names())} (default: llama.cpp)")
    for name in ("base_url", "api_key_env"):
        _add_setting(mo, spec(name))
    mo.add_argument("--models-dir", action="append", metavar="DIR", help="also search DIR (repeatable)")
    mo.add_argument("--json", action="store_true", help="machine-readable output")


def _fill_export(ex: argparse.ArgumentParser) -> None:
    ex.add_argument("session", metavar="DIR", help="session folder")
    ex.add_argument("--out", metavar="DIR", help="destination folder (default: the session folder)")
    ex.add_argument("--report", action="store_true", help="also write a Markdown report (report.md)")


def _fill_sessions(se: argparse.ArgumentParser) -> None:
    se.add_argument("--dir", metavar="DIR", help="sessions folder (default: the data dir)")


def _fill_rescore(rs: argparse.ArgumentParser) -> None:
    rs.add_argument("session", metavar="DIR", help="session folder")
    _add_judge_options(rs, required=True)
    rs.add_argument("--all", action="store_true", help="judge every answered query with a reference, not only "
                                                        "the open ones")
    rs.add_argument("--force", action="store_true", help="rescore a session whose status still says running "
                                                          "(a run that was killed) where the session has no lock "
                                                          "to tell")
    rs.add_argument("--json", action="store_true", help="print the new summary as JSON")
    rs.add_argument("--quiet", action="store_true", help="no line per judged query")


def _fill_report(rp: argparse.ArgumentParser) -> None:
    rp.add_argument("sessions", nargs="+", metavar="DIR", help="session folder(s)")
    rp.add_argument("--html", metavar="FILE", help="write the HTML report to FILE")
    rp.add_argument("--md", metavar="FILE", help="write the Markdown report to FILE (charts: FILE's name-*.svg)")
    rp.add_argument("--energy", choices=("gross", "net"), default=None,
                    help="energy view of the report (default: the sessions' own)")


def _fill_leaderboard(lb: argparse.ArgumentParser) -> None:
    from .core.leaderboard import COLUMNS, DEFAULT_SORT

    lb.add_argument("--dir", metavar="DIR", help="sessions folder (default: the data dir)")
    lb.add_argument("--json", action="store_true", help="machine-readable output")
    lb.add_argument("--sort", choices=list(COLUMNS), default=DEFAULT_SORT, metavar="COL",
                    help=f"sort column: {', '.join(COLUMNS)} (default: {DEFAULT_SORT})")
    lb.add_argument("--reverse", action="store_true", help="sort the other way round")
    lb.add_argument("--energy", choices=("gross", "net"), default="gross", help="energy view (default: gross)")


def _add_judge_options(p: argparse.ArgumentParser, required: bool) -> None:
    """The --judge options of ``run`` and ``rescore``: a language-model judge on any backend."""
    g = p.add_argument_group("judge (open questions scored by a language model)")
    g.add_argument("--judge", metavar="BACKEND", required=required,
                   help=f"score the open (\"judge\" kind) queries with a model on this backend: "
                        f"{', '.join(_backend_names())}")
    g.add_argument("--judge-model", metavar="NAME", help="the judge's model: a GGUF file for llama.cpp (default: "
                                                         "the bundled one), the served name for openai")
    g.add_argument("--judge-base-url", metavar="URL", help="the judge's OpenAI-compatible endpoint")
    g.add_argument("--judge-api-key-env", metavar="VAR", help="environment variable holding the judge's API key "
                                                              "(default: OPENAI_API_KEY)")
    g.add_argument("--judge-mode", metavar="{pairwise,rubric}",
                   help="pairwise: the answer against the reference, correct when it wins or ties; rubric: "
                        "TRUE/FALSE, does the answer satisfy the reference (default: pairwise)")
    g.add_argument("--judge-prompt", metavar="FILE", help="the judge's prompt template instead of the bundled one")
    g.add_argument("--judge-swap", action="store_true", help="pairwise: also judge with the two answers swapped "
                                                             "and require both verdicts to agree")
    g.add_argument("--judge-max-tokens", metavar="N", help="length limit of the judge's reply (default: 512)")
    g.add_argument("--judge-timeout", metavar="S", help="seconds one judge call may take (default: 300)")
    g.add_argument("--judge-server-energy", metavar="NAME",
                   help="a remote judge's server energy: none, ecologits, cited:ID or prometheus (default: none)")


def _fill_duel(d: argparse.ArgumentParser) -> None:
    for side, default in (("a", "llama.cpp"), ("b", "openai")):
        g = d.add_argument_group(f"side {side.upper()}")
        g.add_argument(f"--{side}", metavar="BACKEND", default=default,
                       help=f"side {side.upper()}'s backend: {', '.join(_backend_names())} (default: {default})")
        g.add_argument(f"--{side}-model", metavar="PATH|NAME", help=f"side {side.upper()}'s model: {MODEL_HELP}")
        g.add_argument(f"--{side}-base-url", metavar="URL",
                       help=f"side {side.upper()}'s OpenAI-compatible server (default: --base-url)")
    _add_run_options(d, one_target=False)
    o = d.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="folder for the two sessions (default: the data dir's sessions)")
    o.add_argument("--json", action="store_true", help="print the two summaries and the comparison as JSON")
    o.add_argument("--quiet", action="store_true", help="no line per finished query")


def _fill_compare(c: argparse.ArgumentParser) -> None:
    from .core.routing import DEFAULT_ALPHAS, DEFAULT_FPR, DEFAULT_TPR

    c.add_argument("sessions", nargs="+", metavar="DIR", help="session folders")
    c.add_argument("--json", action="store_true", help="print one JSON object (compare and routing)")
    c.add_argument("--cloud", action="append", metavar="DIR",
                   help="the cloud side of the routing what-if (repeatable; default: the remote sessions)")
    alphas = ",".join(f"{a:g}" for a in DEFAULT_ALPHAS)
    c.add_argument("--alpha", default=alphas, metavar="A,B",
                   help=f"router accuracies for the what-if, from 0 to 1 (default: {alphas})")
    c.add_argument("--tpr", default=str(DEFAULT_TPR), metavar="X",
                   help=f"cascade: share of correct local answers the verifier accepts (default: {DEFAULT_TPR:g})")
    c.add_argument("--fpr", default=str(DEFAULT_FPR), metavar="X",
                   help=f"cascade: share of wrong local answers the verifier accepts (default: {DEFAULT_FPR:g})")
    c.add_argument("--electricity", metavar="USD_PER_KWH",
                   help="price local queries' energy at this electricity price in the what-if (0: local is "
                        "free, as the paper counts it; default: each query's recorded cost)")
    c.add_argument("--like-for-like", action="store_true",
                   help="restate a cited cloud figure with its accelerator-only counterpart where the cited "
                        "table has one")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            from .headless import run_command

            return run_command(args)
        if args.command == "sensors":
            from .headless import sensors_command

            return sensors_command(args)
        if args.command == "models":
            from .headless import models_command

            return models_command(args)
        if args.command == "export":
            from .headless import export_command

            return export_command(args)
        if args.command == "sessions":
            from .headless import sessions_command

            return sessions_command(args)
        if args.command == "rescore":
            from .headless import rescore_command

            return rescore_command(args)
        if args.command == "duel":
            from .headless import duel_command

            return duel_command(args)
        if args.command == "compare":
            from .headless import compare_command

            return compare_command(args)
        if args.command == "report":
            from .headless import report_command

            return report_command(args)
        if args.command == "leaderboard":
            from .headless import leaderboard_command

            return leaderboard_command(args)
        from .tui.app import run_app

        return run_app(args)
    except KeyboardInterrupt:
        print("ipwtui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as e:
        # a command that reads the config file without a handler of its own: one line. (Its module is looked
        # up, not imported: a command that never read the config, as compare, does not load the settings.)
        config = sys.modules.get(f"{__package__}.core.config")
        if config is None or not isinstance(e, config.ConfigError):
            raise
        print(f"ipwtui: error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
