"""The leaderboard over 200 sessions: target ≤ 1 s.

200 finished session folders are written the way the runner writes them (``Session``: idle record,
warm-up, per query a query record and a segment record, 20 Hz power samples; see app_session_10k.py),
40 queries each, over 4 models x 2 query sets (about 1.3 s a query, so ~1,000 power samples per session).
Each session then gets its summary.json through ``export_session`` (what every finished run writes), as
the run path does at the end of a run.

Timed, in a fresh process each time (nothing cached by the OS or Python counts for more than it would
for a person opening the board once): ``leaderboard(root)`` with every summary.json in place (the target),
and with the summaries removed from a copy (every session built from its journal: the slow path, a
bootstrap per session), for context. The median of ``--repeat`` runs is printed for each.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
TARGET_S = 1.0


def build(root: Path, sessions: int, queries: int) -> None:
    from app_session_10k import build_session

    from ipwtui.core.export import export_session

    for k in range(sessions):
        folder = root / f"s{k:03d}"
        build_session(folder, queries, power_hz=20.0, seed=k)
        meta = json.loads((folder / "session.json").read_text())
        meta["model"]["name"] = f"model-{k % 4}"
        if k % 2:  # the other query set: other ids
            meta["query_ids"] = [f"{q}-other" for q in meta["query_ids"]]
        (folder / "session.json").write_text(json.dumps(meta))
        export_session(folder)  # summary.json (and the two CSV files), as at the end of a run


TIMED = """
import sys, time
t0 = time.perf_counter()
from ipwtui.core.leaderboard import leaderboard
board = leaderboard(sys.argv[1])
dt = time.perf_counter() - t0
rows = sum(len(g.entries) for g in board.groups)
src = {e.figures_from for g in board.groups for e in g.entries}
print(f"{dt:.4f} {rows} {len(board.groups)} {len(board.unreadable)} {','.join(sorted(map(str, src)))}")
"""


def timed(root: Path) -> tuple[float, str]:
    out = subprocess.run([sys.executable, "-c", TIMED, str(root)], capture_output=True, text=True,
                         cwd=HERE.parent, check=True).stdout.split()
    return float(out[0]), " ".join(out[1:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", metavar="DIR", help="build the sessions in DIR and keep them")
    args = ap.parse_args()
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ipwtui-lb-"))
    try:
        root = tmp / "sessions"
        t = time.perf_counter()
        if root.exists():
            print(f"reusing the sessions in {root}")
        else:
            build(root, args.sessions, args.queries)
            print(f"built {args.sessions} sessions of {args.queries} queries in {time.perf_counter() - t:.1f} s")
        fast = [timed(root) for _ in range(args.repeat)]
        cold = tmp / "no-summaries"
        if not cold.exists():
            shutil.copytree(root, cold)
            for p in cold.glob("*/summary.json"):
                p.unlink()
        slow = [timed(cold) for _ in range(max(1, args.repeat // 2))]
        med = statistics.median(t for t, _ in fast)
        print(f"rows, query sets, unreadable, figures from: {fast[0][1]}")
        print(f"leaderboard of {args.sessions} sessions with summary.json: median {med:.3f} s "
              f"(runs: {', '.join(f'{t:.3f}' for t, _ in fast)}) — target ≤ {TARGET_S:.1f} s: "
              f"{'met' if med <= TARGET_S else 'NOT met'}")
        smed = statistics.median(t for t, _ in slow)
        print(f"without summary.json (built from each journal): median {smed:.3f} s ({slow[0][1]})")
        return 0 if med <= TARGET_S else 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
