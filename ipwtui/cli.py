"""Command line: ``ipwtui`` opens the app; ``ipwtui run`` profiles headless; ``sensors``, ``models``,
``export`` and ``sessions`` inspect. Heavy libraries are imported only by the command that needs them."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to run")
    g.add_argument("--model", metavar="PATH", help="GGUF model file (default: the bundled SmolLM2-135M-Instruct)")
    g.add_argument("--queries", metavar="FILE|NAME",
                   help="query file (our JSONL/CSV, MMLU-Pro or GSM8K JSONL) or a bundled set: mixed, quick "
                        "(default: mixed)")
    g.add_argument("--max-queries", type=int, metavar="N", help="run only the first N queries")
    g.add_argument("--backend", choices=["llama", "fake"], default="llama",
                   help="inference backend; 'fake' is a scripted stand-in for demos and tests (default: llama)")
    m = p.add_argument_group("measurement")
    m.add_argument("--warmup", type=int, default=1, metavar="N",
                   help="warm-up queries, excluded from every figure (default: 1)")
    m.add_argument("--idle-seconds", type=float, default=3.0, metavar="S",
                   help="idle baseline measured before the run; 0 skips it (default: 3)")
    m.add_argument("--sample-hz", type=float, default=20.0, metavar="HZ", help="sampler rate (default: 20)")
    m.add_argument("--accelerator", default="cpu", metavar="NAME",
                   help="accelerator whose energy is counted: cpu, gpu0, ... (default: cpu)")
    m.add_argument("--energy-domains", choices=["accelerator", "all"], default="accelerator",
                   help="count only the accelerator's domains, or every measured domain (default: accelerator)")
    m.add_argument("--cpu-watts-per-core", type=float, metavar="W",
                   help="watts per busy core for the CPU-time estimate (no-sensor machines)")
    m.add_argument("--cpu-scope", choices=["process", "system"], default="process",
                   help="CPU-time estimate from this process's CPU time or the whole machine's "
                        "(default: process)")
    m.add_argument("--energy", choices=["gross", "net"], default="gross",
                   help="which energy the progress display shows; both are saved (default: gross)")
    e = p.add_argument_group("engine")
    e.add_argument("--max-tokens", type=int, default=256, metavar="N", help="answer length limit (default: 256)")
    e.add_argument("--threads", type=int, metavar="N", help="CPU threads for llama.cpp (default: all cores)")
    e.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                   help="layers offloaded to the GPU, -1 for all (default: 0)")
    e.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default: 0, greedy)")
    e.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")


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
    p.add_argument("--backend", choices=["llama", "fake"], default="llama", help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("run", help="profile headless and print the results",
                       description="Measure a model on a query set without the app; prints a live progress "
                                   "line and a final summary, and saves the session folder.")
    _add_run_options(r)
    o = r.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="session folder (default: a new folder under the data dir)")
    o.add_argument("--csv", metavar="FILE", help="also write the per-query table to FILE")
    o.add_argument("--resume", metavar="DIR", help="finish an interrupted session (its own settings are used)")
    o.add_argument("--json", action="store_true", help="print the summary as JSON instead of tables")
    o.add_argument("--quiet", action="store_true", help="no line per finished query")

    s = sub.add_parser("sensors", help="show what this machine can measure, and how well")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--cpu-watts-per-core", type=float, metavar="W", help="override the CPU-time model's W/core")
    s.add_argument("--cpu-scope", choices=["process", "system"], default="process",
                   help="CPU-time model scope (default: process)")

    mo = sub.add_parser("models", help="list the local GGUF models found")
    mo.add_argument("--models-dir", action="append", metavar="DIR", help="also search DIR (repeatable)")
    mo.add_argument("--json", action="store_true", help="machine-readable output")

    ex = sub.add_parser("export", help="write queries.csv, samples.csv and summary.json for a session")
    ex.add_argument("session", metavar="DIR", help="session folder")
    ex.add_argument("--out", metavar="DIR", help="destination folder (default: the session folder)")
    ex.add_argument("--report", action="store_true", help="also write a Markdown report (report.md)")

    se = sub.add_parser("sessions", help="list past sessions")
    se.add_argument("--dir", metavar="DIR", help="sessions folder (default: the data dir)")
    return p


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
        from .tui.app import run_app

        return run_app(args)
    except KeyboardInterrupt:
        print("ipwtui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
