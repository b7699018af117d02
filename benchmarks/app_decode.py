"""Decode speed with the app running live in a terminal against headless `ipwtui run`: same model,
queries and settings.

Rounds alternate (headless, app, app, headless, ...) so drift on a shared machine hits both sides.
- headless: ``python -m ipwtui.cli run --queries mixed --max-queries K ... --out DIR --quiet`` as a
  subprocess, its output to a file;
- app: ``python -m ipwtui.cli --model M --queries FILE --autostart`` in a tmux session of a fixed size
  (a real terminal the app draws to all along: power graph, streaming answer, table), FILE holding the
  first K queries of the bundled "mixed" set; the session folder is found under its IPWTUI_DATA_DIR and
  the app is quit with ctrl+q once the session's status is "finished".
The app takes no run settings on its command line (max tokens, warm-up, idle baseline, sample rate,
threads come from its setup form, whose defaults are RunSettings()'s), so the headless side is given
those same defaults; the settings each session recorded are printed and compared.

Both sides read llama.cpp's own decode rate of each non-warm-up query from the session's journal:
tokens/time = sum(n_eval) / sum(n_eval / decode_tps), n_eval = output_tokens - 1 when the answer hit
max tokens (the last token is sampled but not evaluated). Each run's wall time and process CPU time
(and, for the app, the tmux server's CPU time) are printed beside its rate.
"""

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _tmux import Tmux

TARGET = 0.98
SETTINGS_SHOWN = ("n_threads", "max_tokens", "warmup", "idle_seconds", "sample_hz", "temperature", "seed",
                  "accelerator", "n_gpu_layers", "cpu_scope")


def cpu_seconds(pid) -> float | None:
    """User + system CPU time of a process (or "pid/task/tid": a thread) so far (Linux /proc)."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int | None) -> float | None:
    """CPU time of a process's main thread (the app's UI thread), None when unknown."""
    return None if pid is None else cpu_seconds(f"{pid}/task/{pid}")


def journal_queries(folder: Path):
    """The session's query records, typed (a session still being written reads as far as it goes)."""
    from ipwtui.core.session import Session

    try:
        return Session.open(folder).query_records(include_warmup=True)
    except Exception:
        return []


def decode_rate(folder: Path) -> tuple[float, int]:
    """(aggregate decode tok/s, tokens evaluated) over the session's non-warm-up queries."""
    n = secs = 0.0
    for r in journal_queries(folder):
        if r.warmup or not r.decode_tps or not r.output_tokens:
            continue
        k = r.output_tokens - (1 if r.finish_reason == "length" else 0)
        if k <= 0:
            continue
        n += k
        secs += k / r.decode_tps
    if secs <= 0:
        raise SystemExit(f"{folder}: no decode rate in the journal")
    return n / secs, int(n)


def observer_line(folder: Path) -> tuple[str, float | None]:
    """What the app recorded about its own UI thread (the segment record's "observer"): a text for the
    round's line, and the share of a core it took outside the gaps between queries."""
    p = folder / "journal.jsonl"
    segs = [r for r in (json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip())
            if isinstance(r, dict) and r.get("type") == "segment"]
    obs = (segs[-1].get("observer") if segs else None) or {}
    cpu, gap_cpu, secs = obs.get("ui_thread_cpu_s"), obs.get("ui_cpu_in_gaps_s"), segs[-1].get("seconds") if segs else None
    if cpu is None or gap_cpu is None or not secs:
        return "", None
    out_share = 100 * (cpu - gap_cpu) / secs
    return (f"; recorded by the app: UI thread {100 * cpu / secs:.2f} % of a core over the segment, "
            f"{out_share:.2f} % outside the gaps between queries; the runner waited {obs.get('gap_wait_s', 0):.2f} s "
            f"in {obs.get('gaps', 0)} gaps"), out_share


def session_meta(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def run_headless(k: int, tmp: Path, model: str, qfile: Path, st, env: dict, timeout: float):
    out = tmp / f"headless{k}"
    cmd = [sys.executable, "-m", "ipwtui.cli", "run", "--model", model, "--queries", str(qfile),
           "--idle-seconds", f"{st.idle_seconds:g}", "--warmup", str(st.warmup),
           "--max-tokens", str(st.max_tokens), "--sample-hz", f"{st.sample_hz:g}", "--out", str(out), "--quiet"]
    if st.n_threads is not None:
        cmd += ["--threads", str(st.n_threads)]
    t = time.perf_counter()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(tmp / f"headless{k}.log", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout).returncode
    wall = time.perf_counter() - t
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru2.ru_utime - ru.ru_utime) + (ru2.ru_stime - ru.ru_stime)
    if rc != 0:
        raise SystemExit(f"headless run failed ({rc}); see {tmp / f'headless{k}.log'}:\n"
                         + (tmp / f"headless{k}.log").read_text()[-2000:])
    return out, wall, cpu, None, None


def run_app(k: int, tmp: Path, model: str, qfile: Path, tmux: Tmux, timeout: float):
    data = tmp / f"app{k}"
    cmd = (f"exec env IPWTUI_CONFIG_DIR={tmp / 'config'} IPWTUI_DATA_DIR={data} "
           f"{sys.executable} -m ipwtui.cli --model {model} --queries {qfile} --autostart")
    name = f"app{k}"
    server0 = cpu_seconds(tmux.server_pid())
    t = time.perf_counter()
    tmux.start(name, cmd)
    pid = tmux.pane_pid(name)  # env execs python: the app's own process
    folder = None
    ui0 = t_ui0 = None
    try:
        while True:
            if time.perf_counter() - t > timeout or not tmux.alive(name):
                raise SystemExit(f"the app's run did not finish within {timeout:g} s; its screen:\n"
                                 + tmux.capture(name))
            if folder is None:
                found = sorted((data / "sessions").glob("*/session.json")) if (data / "sessions").is_dir() else []
                folder = found[0].parent if found else None
            if folder is not None and ui0 is None and journal_queries(folder):
                ui0, t_ui0 = thread_cpu_seconds(pid), time.perf_counter()  # the first query is done
            if folder is not None:
                try:
                    if session_meta(folder).get("status") == "finished":
                        break
                except (OSError, ValueError):  # being rewritten
                    pass
            time.sleep(0.25)
        wall = time.perf_counter() - t
        cpu = cpu_seconds(pid)
        ui1, t_ui1 = thread_cpu_seconds(pid), time.perf_counter()
        server1 = cpu_seconds(tmux.server_pid())
    finally:
        tmux.quit(name, timeout=30.0)
    term = None if server0 is None or server1 is None else server1 - server0
    ui = None if ui0 is None or ui1 is None or t_ui1 <= t_ui0 else (ui1 - ui0) / (t_ui1 - t_ui0)
    return folder, wall, cpu, term, ui


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4, help="rounds per side")
    ap.add_argument("--queries", type=int, default=20, help="K: the first K arithmetic and unit queries of the mixed set")
    ap.add_argument("--model", help="GGUF model (default: the bundled default model)")
    ap.add_argument("--size", default="160x48", help="the app's terminal size, COLSxROWS (default: 160x48)")
    ap.add_argument("--timeout", type=float, default=600.0, help="per run, seconds")
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed")
    from ipwtui.backends.llama_cpp.gguf import default_model_path
    from ipwtui.core.settings import RunSettings
    from ipwtui.workloads.loaders import resolve_queries

    model = str(Path(args.model or default_model_path()).resolve())
    st = RunSettings()  # the app's setup form starts from these
    w, h = (int(x) for x in args.size.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="ipwtui-decode-"))
    src = Path(resolve_queries("mixed"))
    # the arithmetic and unit questions: answers of tens of tokens, so that a decode rate means something
    lines = [ln for ln in src.read_text(encoding="utf-8").splitlines()
             if '"domain": "arithmetic"' in ln or '"domain": "units"' in ln]
    if src.suffix != ".jsonl" or len(lines) < args.queries:
        sys.exit(f"{src}: expected a JSONL query file with at least {args.queries} queries")
    qfile = tmp / f"mixed-arith-units-{args.queries}.jsonl"
    qfile.write_text("\n".join(lines[: args.queries]) + "\n", encoding="utf-8")
    env = dict(os.environ, IPWTUI_CONFIG_DIR=str(tmp / "config"), IPWTUI_DATA_DIR=str(tmp / "headless-data"))
    tmux = Tmux(w, h)
    rates = {"headless": [], "app": []}
    metas = {"headless": [], "app": []}
    ui_shares = []
    observer_outside = []
    try:
        for k in range(args.rounds):
            order = ("headless", "app") if k % 2 == 0 else ("app", "headless")
            line = []
            for side in order:
                if side == "headless":
                    folder, wall, cpu, term, ui = run_headless(k, tmp, model, qfile, st, env, args.timeout)
                else:
                    folder, wall, cpu, term, ui = run_app(k, tmp, model, qfile, tmux, args.timeout)
                    if ui is not None:
                        ui_shares.append(ui)
                rate, toks = decode_rate(folder)
                rates[side].append(rate)
                metas[side].append(session_meta(folder))
                cpu_s = "" if cpu is None else f", process CPU {cpu:.1f} s"
                term_s = "" if term is None else f", tmux server CPU {term:.1f} s"
                ui_s = "" if ui is None else f", UI thread {100 * ui:.2f} % of a core during the queries"
                if side == "app":
                    text, outside = observer_line(folder)
                    ui_s += text
                    if outside is not None:
                        observer_outside.append(outside)
                line.append(f"{side} {rate:.1f} tok/s ({toks} tokens, run {wall:.1f} s{cpu_s}{term_s}{ui_s})")
            print(f"round {k + 1}: " + ", ".join(line)
                  + f"; app/headless {rates['app'][-1] / rates['headless'][-1]:.3f}", flush=True)
    finally:
        tmux.close()
    # same model, queries and settings on both sides?
    ref = metas["headless"][0]
    problems = []
    for side in ("headless", "app"):
        for m in metas[side]:
            if (m.get("model") or {}).get("path") != (ref.get("model") or {}).get("path"):
                problems.append(f"{side}: model {(m.get('model') or {}).get('path')}")
            if m.get("query_ids") != ref.get("query_ids"):
                problems.append(f"{side}: other queries")
            for key in SETTINGS_SHOWN:
                if (m.get("settings") or {}).get(key) != (ref.get("settings") or {}).get(key):
                    problems.append(f"{side}: {key} = {(m.get('settings') or {}).get(key)!r}")
    for side in ("headless", "app"):
        s = metas[side][0].get("settings") or {}
        print(f"{side} settings: " + ", ".join(f"{key} {s.get(key)!r}" for key in SETTINGS_SHOWN))
    print(f"model: {Path(model).name}; queries: {args.queries} arithmetic/unit queries of mixed (+{ref['settings'].get('warmup')} "
          f"warm-up), {args.rounds} rounds per side; app in tmux {w}x{h}")
    if ref["settings"].get("n_threads") is None:
        print("n_threads None: the backend's default thread count, the same on both sides")
    if problems:
        print("SETTINGS DIFFER: " + "; ".join(sorted(set(problems))))
    if ui_shares:
        print(f"app UI thread (the main thread: Textual, the run screen) from the first finished query to the "
              f"end: median {100 * statistics.median(ui_shares):.2f} % of one core")
    if observer_outside:
        print(f"app UI thread outside the gaps between queries (what can take from decode), as the app recorded it: "
              f"median {statistics.median(observer_outside):.2f} % of one core")
    a, b = statistics.median(rates["headless"]), statistics.median(rates["app"])
    # the two runs of a round are next to each other in time: their ratio cancels slow drift of the
    # machine's load; the spread of these ratios says how precise the verdict is
    pair = [x / y for x, y in zip(rates["app"], rates["headless"])]
    rng = random.Random(0)
    boot = sorted(statistics.median(rng.choices(pair, k=len(pair))) for _ in range(2000))
    lo, hi = boot[int(0.025 * len(boot))], boot[int(0.975 * len(boot)) - 1]
    print(f"per-round ratios: {', '.join(f'{r:.3f}' for r in pair)}; median {statistics.median(pair):.3f}, "
          f"95% bootstrap interval [{lo:.3f}, {hi:.3f}]"
          + (f" (contains {TARGET}: this run cannot tell)" if lo < TARGET <= hi else ""))
    verdict = "PASS" if b / a >= TARGET and not problems else "FAIL"
    print(f"decode tok/s median: headless {a:.1f}, app live {b:.1f}; ratio {b / a:.3f} "
          f"(target >= {TARGET}: {verdict})")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
