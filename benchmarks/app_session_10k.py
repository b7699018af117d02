"""Open a 10,000-query session in the app and scroll it: time to the newest rows, to all rows, and per key.

A synthetic session folder is written the way the runner writes one (Session.create, begin_segment,
append: an idle record, a warm-up query, then per query a query record and a segment record; power
samples through Session.power_sink at the sample rate over the whole simulated run), with answers
scored by the project's scorers on the bundled "mixed" queries. The app (IpwApp, its real model
discovery and sensor probe) is driven with Pilot at 160x48: once the setup screen has loaded, the
session's view screen is pushed and timed until the newest rows are drawn, until all rows are in the
table and until the summary figures are shown. Then the query table is scrolled with the keyboard,
each key timed from the moment it is sent to the last frame the app draws in response.

Times are taken at frames: every screen update the app composes (App._display, called headless too
once the widgets have rendered) is stamped, with the view's state at that frame. Pilot's own
press()/pause() round trip holds fixed idle waits (about 80 ms) and waits for the whole process to go
idle, so it is printed beside the figures but not used for them. Headless, the final write of the
frame to a terminal is skipped (a few ms at this size).

"No visible lag" is taken here as: newest rows on screen within 2 s of opening, and a median
key-to-frame latency of at most 100 ms while scrolling (the worst key is printed too).
"""

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

OPEN_TARGET_S = 2.0
KEY_TARGET_MS = 100.0
SIZE = (160, 48)
# per cycle: top, a page down, Home, bottom, a page up, End (in Textual's DataTable, Home/End move to the
# first/last column and ctrl+home/ctrl+end to the first/last row)
KEYS = ("ctrl+home", "pagedown", "home", "ctrl+end", "pageup", "end")


# ---- the synthetic session ------------------------------------------------------------------------


def synthetic_answer(q, rng: random.Random, right: bool) -> str:
    ref = q.reference or ""
    if q.kind == "mc":
        letters = "ABCD"
        letter = ref if right else rng.choice([c for c in letters if c != ref] or ["A"])
        return f"The answer is ({letter})."
    if q.kind == "numeric":
        val = ref if right else str(rng.randint(0, 999))
        return f"Let me work it out step by step. The result follows.\nAnswer: {val}"
    if q.kind == "exact":
        return f"{ref}." if right else "I am not sure, maybe something else."
    return "ABC" if right else "abc"  # regex kind: the bundled set's code questions


def build_session(folder: Path, n: int, power_hz: float, seed: int = 0) -> dict:
    """Write a finished session of ``n`` queries; returns counts of what was written."""
    from ipwtui.core.settings import RunSettings
    from ipwtui.core.session import Session
    from ipwtui.workloads.loaders import load_queries, resolve_queries
    from ipwtui.workloads.scoring import score_answer

    rng = random.Random(seed)
    qfile = resolve_queries("mixed")
    base = load_queries(qfile)
    queries = [base[i % len(base)] for i in range(n)]
    ids = [f"{q.id}-r{i // len(base)}" for i, q in enumerate(queries)]
    settings = RunSettings(max_queries=n).as_dict()
    domain = {"name": "cpu-est", "kind": "cpu", "source": "cpu-time-model", "quality": "estimated",
              "accelerator": "cpu", "has_counter": True, "period_s": 0.01, "in_total": True,
              "label": "CPU time model (process)", "domain": "cpu-est"}
    meta = {"id": folder.name, "model": {"name": "SmolLM2-135M-Instruct.Q4_1", "path": None, "context": 8192},
            "backend_kind": "llama", "backend": "llama.cpp", "accelerator": "cpu", "queries_file": str(qfile),
            "query_ids": ids, "settings": settings, "domains": [domain], "capabilities": [],
            "provenance": {"benchmark": "synthetic session"}}
    sess = Session.create(folder, meta)
    sess.begin_segment()
    period = 1.0 / power_hz
    idle_w = 2.1
    # a simulated run that ended a few seconds ago: about 1.3 s per query plus a little between queries
    t = time.monotonic() - n * 1.45 - 20.0
    next_sample = t
    n_samples = 0

    def power_until(t_end: float, busy: bool) -> None:
        nonlocal next_sample, n_samples
        batch = []
        while next_sample <= t_end:
            w = idle_w + (4.6 + rng.uniform(-0.8, 0.8) if busy else rng.uniform(0.0, 0.3))
            batch.append((next_sample, "cpu-est", w))
            next_sample += period
        if batch:
            sess.power_sink(batch)
            n_samples += len(batch)

    t_idle0 = t
    t += 3.0
    power_until(t, busy=False)
    sess.append({"type": "idle", "idle_w": {"cpu-est": idle_w}, "seconds": 3.0,
                 "wall_start": sess.wall(t_idle0), "wall_end": sess.wall(t)})
    seg_start = t
    counted = excluded = 0.0
    for i in range(-1, n):  # -1: the warm-up query
        q = queries[max(i, 0)]
        warm = i < 0
        t += rng.uniform(0.02, 0.08)
        power_until(t, busy=False)
        prompt_tokens = 20 + len(q.prompt) // 4
        prefill_tps = rng.uniform(700.0, 1100.0)
        ttft = prompt_tokens / prefill_tps + rng.uniform(0.005, 0.02)
        length = rng.random() < 0.08
        out_tokens = 256 if length else rng.randint(4, 140)
        decode_tps = rng.uniform(95.0, 135.0)
        latency = ttft + (out_tokens - 1) / decode_tps
        t_sent, t_last = t, t + latency
        t = t_last
        power_until(t, busy=True)
        watts = idle_w + 4.6 + rng.uniform(-0.3, 0.3)
        right = rng.random() < 0.45
        answer = synthetic_answer(q, rng, right)
        score = None if warm else score_answer(q, answer)
        energy = watts * latency
        rec = {
            "type": "query", "query_id": ids[max(i, 0)], "index": i, "warmup": warm, "status": "ok",
            "error": None, "dataset": q.dataset, "domain": q.domain, "kind": q.kind,
            "model": meta["model"]["name"], "backend": "llama.cpp", "accelerator": "cpu", "prompt": q.prompt,
            "reference": q.reference, "answer": answer,
            "prediction": score.prediction if score else None, "correct": score.correct if score else None,
            "scorer": score.scorer if score else None, "score_note": score.note if score else None,
            "prompt_tokens": prompt_tokens, "output_tokens": out_tokens,
            "counts_source": "llama.cpp perf context", "ttft_s": ttft, "latency_s": latency,
            "prefill_tps": prefill_tps, "decode_tps": decode_tps, "finish_reason": "length" if length else "stop",
            "energy_j": energy, "energy_net_j": (watts - idle_w) * latency, "avg_power_w": watts,
            "energy_by_domain": {"cpu-est": energy}, "energy_source": "cpu-time-model",
            "energy_quality": "estimated", "energy_flags": [] if latency > 0.2 else ["short-window"],
            "wall_sent": sess.wall(t_sent), "wall_last": sess.wall(t_last),
        }
        sess.append(rec)
        if warm:
            excluded += energy
        else:
            counted += energy
        seconds = t - seg_start
        total = counted + excluded + 0.3 * seconds
        sess.append({"type": "segment", "wall_start": sess.wall(seg_start), "wall_end": sess.wall(t),
                     "seconds": seconds, "total_j": total, "counted_j": counted, "excluded_j": excluded,
                     "unattributed_j": total - counted - excluded, "idle_j": idle_w * seconds,
                     "source": "cpu-time-model", "quality": "estimated", "faults": {}})
    sess.close("finished")
    return {"queries": n, "samples": n_samples,
            "journal_mb": (folder / "journal.jsonl").stat().st_size / 1e6,
            "power_mb": (folder / "power.csv").stat().st_size / 1e6}


# ---- driving the app ------------------------------------------------------------------------------


class FrameClock:
    """Records every frame the app composes (App._display is called once per screen update, headless
    too, after the widgets have rendered), with a snapshot of some state taken at that frame."""

    def __init__(self, app):
        self.frames: list[tuple[float, object]] = []
        self.probe = lambda: None
        inner = app._display

        def display(screen, renderable):
            inner(screen, renderable)
            if renderable is not None:
                try:
                    state = self.probe()
                except Exception:
                    state = None
                self.frames.append((time.perf_counter(), state))

        app._display = display

    def first(self, since: float, cond):
        return next((t - since for t, st in self.frames if t >= since and st is not None and cond(st)), None)

    def after(self, since: float) -> list[float]:
        return [t - since for t, _ in self.frames if t >= since]


async def poll(pilot, cond, timeout: float, what: str, step: float = 0.02) -> None:
    t0 = time.perf_counter()
    while True:
        try:
            if cond():
                return
        except Exception:  # the screen is still being composed
            pass
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(step)


async def measure(folder: Path, sessions_dir: Path, config_dir: Path, n: int, opens: int, cycles: int,
                  timeout: float) -> dict:
    from ipwtui.tui.app import IpwApp
    from ipwtui.tui.screens.sessions import SessionView

    app = IpwApp(sessions_dir=sessions_dir, config_dir=config_dir)
    clock = FrameClock(app)
    out = {"opens": [], "keys": {k: [] for k in KEYS}, "pilot": {k: [] for k in KEYS},
           "rows_after": {k: [] for k in KEYS}}
    async with app.run_test(size=SIZE) as pilot:
        await poll(pilot, lambda: app.setup_screen() is not None and app.setup_screen().loaded, timeout,
                   "the setup screen")
        await pilot.pause(0.3)
        view = None
        for k in range(opens):
            if view is not None:
                app.pop_screen()
                await pilot.pause(0.3)
            view = SessionView(folder)

            def state(view=view):
                # at each frame: is the view on screen, rows in its table, is the newest row highlighted,
                # are the summary figures in
                if app.screen is not view:
                    return None
                tb = view.query_one("#queries")
                newest = tb.row_count > 0 and tb.get_row_at(tb.cursor_row)[0].plain == str(n)
                return (tb.row_count, newest, view.summary is not None)

            clock.probe = state
            t0 = time.perf_counter()
            app.push_screen(view)
            await poll(pilot, lambda: (clock.first(t0, lambda st: st[0] == n) is not None
                                       and clock.first(t0, lambda st: st[2]) is not None),
                       timeout, "all rows and the summary on screen")
            res = (clock.first(t0, lambda st: True), clock.first(t0, lambda st: st[1]),
                   clock.first(t0, lambda st: st[0] == n), clock.first(t0, lambda st: st[2]))
            out["opens"].append(res)
            print(f"open {k + 1}: view's first frame {res[0]:.3f} s, newest rows on screen {res[1]:.3f} s, "
                  f"all {n} rows {res[2]:.3f} s, summary figures {res[3]:.3f} s")
        tb = view.query_one("#queries")
        tb.focus()
        await pilot.pause(0.2)
        for _ in range(cycles):
            for key in KEYS:
                t = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()
                out["pilot"][key].append(time.perf_counter() - t)
                frames = clock.after(t)
                out["keys"][key].append(frames[-1] if frames else None)
                out["rows_after"][key].append(tb.cursor_row)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=10_000, help="queries in the synthetic session")
    ap.add_argument("--opens", type=int, default=5, help="times the session is opened (in one app)")
    ap.add_argument("--cycles", type=int, default=10, help=f"scroll cycles, each pressing {', '.join(KEYS)}")
    ap.add_argument("--power-hz", type=float, default=20.0, help="power samples per second of simulated run")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--dir", help="where to write the synthetic session (default: a temp dir, on /dev/shm "
                                  "when present, as appending 20,000 fsynced records to a disk is slow)")
    args = ap.parse_args()
    base = args.dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    with tempfile.TemporaryDirectory(prefix="ipwtui-10k-", dir=base) as d:
        d = Path(d)
        os.environ["IPWTUI_CONFIG_DIR"] = str(d / "config")
        os.environ["IPWTUI_DATA_DIR"] = str(d / "data")
        sessions = d / "data" / "sessions"
        folder = sessions / "synthetic-10k"
        t = time.perf_counter()
        info = build_session(folder, args.queries, args.power_hz)
        print(f"synthetic session: {info['queries']} queries, {info['samples']} power samples; journal "
              f"{info['journal_mb']:.1f} MB, power.csv {info['power_mb']:.1f} MB (written in "
              f"{time.perf_counter() - t:.1f} s)")
        res = asyncio.run(measure(folder, sessions, d / "config", args.queries, args.opens, args.cycles,
                                  args.timeout))
    opens = res["opens"]
    med = [statistics.median(x[j] for x in opens) for j in range(4)]
    print(f"app {SIZE[0]}x{SIZE[1]} (Pilot), {len(opens)} opens, medians: view's first frame {med[0]:.3f} s, "
          f"newest rows {med[1]:.3f} s, all rows {med[2]:.3f} s, summary figures {med[3]:.3f} s")
    print(f"scrolling, {args.cycles} presses of each key; key sent -> last frame redrawn, ms "
          f"(Pilot's own press+pause round trip, with its fixed idle waits, beside it):")
    allk = []
    for key in KEYS:
        xs = [1000 * x for x in res["keys"][key] if x is not None]
        none = sum(x is None for x in res["keys"][key])
        allk += xs
        rt = statistics.median(1000 * x for x in res["pilot"][key])
        rows = sorted(set(res["rows_after"][key]))
        where = ", ".join(str(r) for r in rows[:3]) + (" ..." if len(rows) > 3 else "")
        lat = f"median {statistics.median(xs):6.1f}  worst {max(xs):6.1f}" if xs else "no frame (nothing moved)  "
        print(f"  {key:<9} {lat}{f'  ({none} presses drew no frame)' if xs and none else ''}"
              f"   [pilot round trip {rt:5.0f}]   cursor row after: {where}")
    if not allk:
        sys.exit("no key drew a frame")
    key_med, key_worst = statistics.median(allk), max(allk)
    print(f"  all keys that redrew: median {key_med:.1f}, worst {key_worst:.1f}")
    print(f"open (newest rows on screen) median {med[1]:.3f} s; target <= {OPEN_TARGET_S:g} s: "
          f"{'PASS' if med[1] <= OPEN_TARGET_S else 'FAIL'}")
    print(f"per-key latency median {key_med:.1f} ms; target <= {KEY_TARGET_MS:g} ms: "
          f"{'PASS' if key_med <= KEY_TARGET_MS else 'FAIL'}")

if __name__ == "__main__":
    sys.exit(main())
