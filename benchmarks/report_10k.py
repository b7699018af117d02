"""HTML report of a 10,000-query session: target ≤ 5 s to write and ≤ 5 MB.

A synthetic finished session of 10,000 queries is written the way the runner writes one (``Session``;
see app_session_10k.py): about 1.45 s a query with 20 Hz power samples, so power.csv holds ~290,000
samples over ~4 hours. Then ``ipwtui report DIR --html FILE`` is timed in a fresh process each round
(interpreter start, imports of pandas, numpy and matplotlib, reading the journal and power.csv, the
summary with its bootstrap intervals, four charts, writing the file), and the file's size is printed.
The session is timed as a finished run leaves it (with its summary.json, which the report reads when it
is not older than the journal), and again without summary.json (an interrupted session: the summary and
its bootstrap intervals built from the journal). The Markdown report (report.md + SVG files) is timed
once for context.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
TARGET_S = 5.0
TARGET_MB = 5.0


def run(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ipwtui.cli", *args], cwd=HERE.parent, check=True,
                   capture_output=True, text=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--hz", type=float, default=20.0, help="power samples per second (default 20)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", metavar="DIR", help="build the session in DIR and keep it")
    args = ap.parse_args()
    from app_session_10k import build_session

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ipwtui-report-"))
    try:
        folder = tmp / "session"
        if not folder.exists():
            t = time.perf_counter()
            info = build_session(folder, args.queries, args.hz)
            print(f"built: {info['queries']:,} queries, {info['samples']:,} power samples "
                  f"(journal {info['journal_mb']:.1f} MB, power.csv {info['power_mb']:.1f} MB) in "
                  f"{time.perf_counter() - t:.1f} s")
        from ipwtui.core.export import export_session

        summary = folder / "summary.json"
        if not summary.exists():
            export_session(folder)  # what every finished run leaves in its folder
        out = tmp / "report.html"
        times = [run(["report", str(folder), "--html", str(out)]) for _ in range(args.repeat)]
        med = statistics.median(times)
        mb = out.stat().st_size / 1e6
        ok = med <= TARGET_S and mb <= TARGET_MB
        print(f"HTML report of {args.queries:,} queries: median {med:.2f} s (runs: "
              f"{', '.join(f'{t:.2f}' for t in times)}), {mb:.2f} MB — targets ≤ {TARGET_S:.0f} s and "
              f"≤ {TARGET_MB:.0f} MB: {'met' if ok else 'NOT met'}")
        kept = summary.read_bytes()
        summary.unlink()  # an interrupted session: the summary built from the journal, with its bootstrap
        try:
            cold = [run(["report", str(folder), "--html", str(out)]) for _ in range(max(1, args.repeat // 2))]
        finally:
            summary.write_bytes(kept)
        print(f"without summary.json (built from the journal): median {statistics.median(cold):.2f} s")
        t_md = run(["report", str(folder), "--md", str(tmp / "md" / "report.md")])
        md_mb = sum(p.stat().st_size for p in (tmp / "md").iterdir()) / 1e6
        print(f"Markdown report (report.md + SVG files): {t_md:.2f} s, {md_mb:.2f} MB")
        t_py = run(["--version"])
        print(f"for context, `ipwtui --version` (interpreter start): {t_py:.2f} s")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
