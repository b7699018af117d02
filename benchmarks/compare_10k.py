"""Compare two 10,000-query sessions and run the routing what-if: how long it takes.

Two synthetic finished sessions are written through ``Session`` (a local one: RAPL-like measured CPU-package
energy; a remote one: the cited Gemini median, 0.24 Wh a query with its 0.10-0.24 Wh range, an API cost a
query), on the same 10,000 query ids, about 70 % right locally and 90 % on the cloud. Their journal lines
carry what a real run's do (prompt, answer, times, counts, the server's report), so the reading is timed
on journals of a real session's size. Then, in a process of its own, each of these once a round, the rounds
interleaved (the order turned each round) and the medians kept:

- ``compare()``: reading both folders and every figure (the core's metrics with their 2,000-round
  bootstrap intervals) with no summary.json in the folders (cold), and with the summary.json that
  ``ipwtui export`` writes (the core's metrics already computed: warm), and the reading alone;
- ``route()``: the routing what-if (oracle, alpha 0.6 and 0.8, cascade; 2,000 joint bootstrap rounds), the
  local queries priced at 0.15 USD/kWh;
- ``compare_and_route()``: the two in one call, as the command and the app run them (their bootstraps draw
  once where they resample as many queries: the figures are the same);
- the command ``ipwtui compare A B --json`` in that process (``cli.main``) and as a subprocess: what a user
  types, with the interpreter's start-up and every import. (The subprocess runs with its bytecode cached,
  as an installed package has it: one untimed run first writes it, under the benchmark's own folder.)

Target: the command ``ipwtui compare A B --json`` as a fresh process (compare + what-if, start-up included)
<= 1 s, cold and warm. Wall and CPU time are both printed (on a shared machine the CPU time is the steadier
figure). The figures of the what-if are printed too.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

TARGET_S = 1.0
WH = 3600.0
ELECTRICITY = 0.15  # USD per kWh for the local queries' cost in the what-if


WORDS = ("the", "energy", "of", "a", "query", "which", "option", "is", "correct", "answer", "step", "so", "we",
         "have", "total", "number", "because", "therefore", "first", "then", "value", "each", "model", "and")


def text(rng: random.Random, chars: int) -> str:
    """Words and line breaks, about ``chars`` long (a prompt or an answer)."""
    out: list[str] = []
    size = 0
    while size < chars:
        w = rng.choice(WORDS) + ("\n" if rng.random() < 0.08 else " ")
        out.append(w)
        size += len(w)
    return "".join(out)


def build(folder: Path, n: int, remote: bool, seed: int) -> None:
    """A finished session whose journal lines are what a real run writes: every field a run fills, with a
    prompt of an MMLU-Pro-like length (question, ten options and the instruction: 250 to 1,250 characters)
    and an answer of about four characters an output token."""
    from ipwtui.core.record import QueryRecord
    from ipwtui.core.session import Session

    rng = random.Random(seed)
    ids = [f"q{i:05d}" for i in range(n)]
    meta = {"id": folder.name, "model": {"name": "cloud-model" if remote else "local-model"},
            "backend": "openai" if remote else "llama.cpp", "where": "remote" if remote else "local",
            "accelerator": "cpu", "queries_file": "/data/mixed.jsonl", "query_ids": ids,
            "query_digests": {i: f"d{i}" for i in ids}}
    s = Session.create(folder, meta)
    s.begin_segment()
    wall = 1.8e9
    for k, q in enumerate(ids):
        lat = rng.uniform(0.5, 4.0)
        out = rng.randint(5, 200)
        ttft = lat * 0.1
        right = rng.random() < (0.9 if remote else 0.7)
        ref = "ABCDEFGHIJ"[k % 10]
        d = dict(query_id=q, index=k, status="ok", correct=right, dataset="mixed", domain=f"dom{k % 7}", kind="mc",
                 prediction=ref if right else "ABCDEFGHIJ"[(k + 3) % 10], scorer="mc", score_note="",
                 prompt=text(rng, rng.randint(250, 1250)), reference=ref, answer=text(rng, 4 * out),
                 latency_s=lat, ttft_s=ttft, output_tokens=out, prompt_tokens=rng.randint(80, 330),
                 finish_reason="stop", wall_sent=wall, wall_first=wall + ttft, wall_last=wall + lat - 0.01,
                 wall_done=wall + lat, where="remote" if remote else "local", model="m", backend=meta["backend"],
                 accelerator="cpu", decode_tps=out / (lat - ttft), prefill_tps=100.0 / ttft)
        wall += lat + 0.05
        if remote:
            d.update(energy_j=lat * 3.0, energy_net_j=lat * 0.5, avg_power_w=3.0, energy_by_domain={"cpu-est": lat * 3.0},
                     energy_quality="estimated", energy_source="cpu-time-model", energy_boundary="process-cpu-time",
                     counts_source="server usage", server_energy_j=0.24 * WH, server_energy_low_j=0.10 * WH,
                     server_energy_high_j=0.24 * WH, server_energy_source="cited:gemini-apps-median",
                     server_energy_quality="estimated", server_energy_boundary="server+datacentre",
                     server_report={"model": "cloud-model", "usage": {"prompt_tokens": d["prompt_tokens"],
                                                                      "completion_tokens": out},
                                    "content_chunks": out, "done_marker": True},
                     cost_usd=(60 * 2.5 + out * 10.0) / 1e6, cost_source="prices:cloud-model")
        else:
            w = rng.uniform(15.0, 35.0)
            d.update(energy_j=w * lat, energy_net_j=(w - 5.0) * lat, avg_power_w=w, energy_by_domain={"package-0": w * lat},
                     energy_quality="measured", energy_source="rapl", energy_boundary="cpu-package",
                     counts_source="llama.cpp perf context", prefill_energy_j=w * ttft,
                     decode_energy_j=w * (lat - ttft), peak_memory_bytes=180_000_000)
        s.append(QueryRecord(**d).to_dict())
    s.close("finished")


def one(fn, sub: bool = False) -> tuple[float, float, object]:
    """(wall s, CPU s, result) of one call. CPU time says what the work costs when other processes share the
    machine: this process's, or with ``sub`` its children's (a subprocess)."""
    if sub:
        t = os.times()
        c0 = t.children_user + t.children_system
    else:
        c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    if sub:
        t = os.times()
        cpu = t.children_user + t.children_system - c0
    else:
        cpu = time.process_time() - c0
    return wall, cpu, out


def interleaved(configs: dict, repeat: int) -> dict:
    """Each configuration once a round, ``repeat`` rounds, the order turned a step each round: a machine that
    slows down weighs on them all alike. {name: (median wall, median CPU)}."""
    names = list(configs)
    walls: dict = {k: [] for k in names}
    cpus: dict = {k: [] for k in names}
    for r in range(repeat):
        for k in names[r % len(names):] + names[:r % len(names)]:
            fn, sub = configs[k]
            w, c, _ = one(fn, sub)  # (the result let go at once: a user's process holds one comparison)
            walls[k].append(w)
            cpus[k].append(c)
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in names}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="queries per session (default 10000)")
    ap.add_argument("--repeat", type=int, default=5, help="rounds of the timings; the medians are printed")
    ap.add_argument("--measure", metavar="DIR", help=argparse.SUPPRESS)  # (the timing process, on DIR's sessions)
    args = ap.parse_args()
    if args.measure:
        return measure(Path(args.measure), args.n, args.repeat)
    with tempfile.TemporaryDirectory(prefix="ipwtui-compare-") as tmp:
        a, b = Path(tmp) / "local", Path(tmp) / "cloud"
        t0 = time.perf_counter()
        build(a, args.n, remote=False, seed=1)
        build(b, args.n, remote=True, seed=2)
        sizes = ", ".join(f"{f.name} {(f / 'journal.jsonl').stat().st_size / 1e6:.1f} MB" for f in (a, b))
        print(f"wrote two sessions of {args.n} queries in {time.perf_counter() - t0:.1f} s (journals: {sizes})",
              flush=True)
        # timed in a process of its own, as a user's compare runs: not in this one, whose heap still holds
        # what it wrote
        return subprocess.run([sys.executable, __file__, "--measure", tmp, "--n", str(args.n),
                               "--repeat", str(args.repeat)]).returncode


def measure(root: Path, n: int, repeat: int) -> int:
    from ipwtui.cli import main as cli_main
    from ipwtui.core.compare import compare, compare_and_route, load_sessions, route
    from ipwtui.core.export import export_session

    cold = [root / "local", root / "cloud"]  # no summary.json: every figure computed
    warm = [root / "warm" / "local", root / "warm" / "cloud"]  # a copy with the summary.json export writes
    for src, dst in zip(cold, warm):
        shutil.copytree(src, dst)
        export_session(dst)

    def command(folders) -> None:
        buf = io.StringIO()
        with redirect_stdout(buf):
            code = cli_main(["compare", *map(str, folders), "--json"])
        assert code == 0
        json.loads(buf.getvalue())

    # bytecode cached as an installed package has it, written under this benchmark's temporary folder
    # (never into the package)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")

    def sub(folders) -> None:
        subprocess.run([sys.executable, "-m", "ipwtui.cli", "compare", *map(str, folders), "--json"], check=True,
                       capture_output=True, env=env)

    command(cold)  # (the command's imports, once, before any timing)
    sub(cold)  # (its bytecode written, as an installed package has it)
    configs = {
        "compare(), cold (metrics computed)": (lambda: compare(cold), False),
        "compare(), warm (summary.json metrics)": (lambda: compare(warm), False),
        "  of which reading the two sessions": (lambda: load_sessions(warm), False),
        "route(): the what-if": (lambda: route(held[0], local_electricity_usd_per_kwh=ELECTRICITY), False),
        "compare_and_route(), cold": (lambda: compare_and_route(cold, local_electricity_usd_per_kwh=ELECTRICITY),
                                      False),
        "compare_and_route(), warm": (lambda: compare_and_route(warm, local_electricity_usd_per_kwh=ELECTRICITY),
                                      False),
        "ipwtui compare --json, in process, cold": (lambda: command(cold), False),
        "ipwtui compare --json, in process, warm": (lambda: command(warm), False),
        "ipwtui compare --json, subprocess, cold": (lambda: sub(cold), True),
        "ipwtui compare --json, subprocess, warm": (lambda: sub(warm), True),
    }
    held = [compare(cold)]  # the one comparison route() reads
    t = interleaved(configs, repeat)
    held.clear()
    t_cold, t_warm = t["ipwtui compare --json, subprocess, cold"], t["ipwtui compare --json, subprocess, warm"]
    c, r = compare_and_route(cold, local_electricity_usd_per_kwh=ELECTRICITY)  # the figures printed below

    print(f"\ntimes (median of {repeat}), {n} queries a session; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:")
    print(f"  {'':<44} {'wall':>8} {'CPU':>8}")
    rows = list(t.items())
    for name, (wall, cpu) in rows:
        print(f"  {name:<44} {wall:7.3f}s {cpu:7.3f}s")
    for name, (wall, cpu) in (("cold", t_cold), ("warm", t_warm)):
        print(f"target: ipwtui compare --json as a fresh process <= {TARGET_S:g} s ({name}): wall {wall:.3f} s, "
              f"CPU {cpu:.3f} s: "
              f"{'met' if wall <= TARGET_S else 'NOT met'} (judged on the wall time a user waits)")

    print("\nthe figures:")
    for f in c.figures:
        print(f"  {f['label']}: accuracy {f['accuracy']:.3f}, IPW {f['ipw']:.4g} {f['ipw_ci']}, IPJ {f['ipj']:.4g} "
              f"{f['ipj_ci']}, {f['j_per_query']:.1f} J a query ({f['energy']['quality']}, {f['energy']['boundary']})")
    an = r["analyses"][0]
    print(f"  joined {an['joined']}, local coverage {an['coverage']}, cloud accuracy {an['cloud_accuracy']:.3f}")
    for s in an["strategies"]:
        name = s["name"] + (f" alpha={s['alpha']}" if "alpha" in s else "")
        ci = s["energy_savings_ci"]
        print(f"  {name:<16} accuracy {s['accuracy']:.3f}  energy saved {100 * s['energy_savings']:+.1f} % "
              f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]  cost saved "
              + (f"{100 * s['cost_savings']:+.1f} %" if s["cost_savings"] is not None else "N/A")
              + f"  latency saved {100 * s['latency_savings']:+.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
