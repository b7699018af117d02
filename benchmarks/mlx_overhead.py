"""Decode speed under ipwtui's MLX backend against bare ``mlx_lm.stream_generate``: same model, prompts
and settings.

The two sides alternate query by query (bare, profiled, profiled, bare, ...) so that drift on a shared
machine hits both alike. Both read mlx-lm's own decode figures from the last response of each query
(``generation_tokens`` / ``generation_tps``); a round's rate is its tokens over its decode time.
The profiled side is, by default, the full measured loop of ``ipwtui run`` (the runner with this machine's
sensors sampled at 20 Hz, energy windows, scoring, the fsynced journal); ``--loop backend`` times
``MlxBackend.generate`` alone (with a token callback, as the runner passes one).

The backend does all MLX work on one thread of its own (``ipwtui.backends.mlx.worker``); the bare side runs
on that same thread by default (``--bare-on mlx-thread``), so that the ratio holds ipwtui's own costs only.
``--bare-on main`` runs it on the main thread, as a plain script would: on this machine the same bare loop
ran about 3 % faster on a thread other than the main one, which then shows as a gain under ipwtui.

Without ``--model`` it runs on the tiny random-weight model of tests/mlx_model.py, built in a temporary
folder: its tokens are cheap, so a per-token cost of the backend shows. Use ``--max-tokens`` large enough
(200) that decoding dominates each query.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

from mlx_lm import stream_generate
from mlx_lm.sample_utils import make_sampler

from ipwtui.backends.mlx.backend import MlxBackend
from ipwtui.backends.mlx.worker import MLX_THREAD
from ipwtui.core.runner import Runner, messages_for
from ipwtui.core.sensors import probe_all
from ipwtui.core.session import Session
from ipwtui.core.settings import RunSettings
from ipwtui.workloads.loaders import load_queries, sample_queries_dir
from ipwtui.workloads.scoring import score_answer


def bare(backend: MlxBackend, q, max_tokens: int) -> tuple[int, float]:
    """Plain mlx-lm streaming, the way a script without a profiler does it: (tokens, decode seconds)."""
    prompt = backend.tokenizer.apply_chat_template(messages_for(q), add_generation_prompt=True)
    last = None
    for last in stream_generate(backend.model, backend.tokenizer, prompt, max_tokens=max_tokens,
                                sampler=make_sampler(temp=0.0)):
        pass
    return last.generation_tokens, last.generation_tokens / last.generation_tps


def profiled_backend(backend: MlxBackend, q, max_tokens: int) -> tuple[int, float]:
    g = backend.generate(messages_for(q), max_tokens, on_token=lambda piece, t: True)
    return g.output_tokens, g.output_tokens / g.decode_tps


def profiled_runner(backend: MlxBackend, q, max_tokens: int, hz: float, sensors) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as d:
        sess = Session.create(d + "/s", {"id": "bench", "query_ids": [q.id]})
        st = RunSettings(idle_seconds=0, warmup=0, sample_hz=hz, max_tokens=max_tokens)
        Runner(sess, backend, sensors, [q], st, scorer=score_answer).run()
        r = sess.query_records()[0]
    return r.output_tokens, r.output_tokens / r.decode_tps


def bootstrap_median(xs: list[float], rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the median of ``xs``."""
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(rounds))
    return meds[int(0.025 * rounds)], meds[int(0.975 * rounds) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="an MLX model folder (default: the tiny random-weight model, built here)")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--queries", type=int, default=6)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--hz", type=float, default=20.0)
    ap.add_argument("--loop", choices=("runner", "backend"), default="runner",
                    help="profiled side: the full measured loop (runner) or MlxBackend.generate alone")
    ap.add_argument("--bare-on", choices=("mlx-thread", "main"), default="mlx-thread",
                    help="thread of the bare side: the backend's MLX thread, or the main thread")
    args = ap.parse_args()
    tmp = None
    if args.model:
        folder = Path(args.model)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from mlx_model import build_tiny_model

        tmp = tempfile.TemporaryDirectory()
        folder = build_tiny_model(Path(tmp.name) / "tiny-llama")
    qdir = sample_queries_dir()
    queries = load_queries(qdir / "mixed.jsonl")[: args.queries] if qdir else []
    if not queries:
        sys.exit("the bundled sample queries (sample_queries/mixed.jsonl) were not found")
    backend = MlxBackend(str(folder))
    info = backend.load()
    sensors = probe_all().sensors if args.loop == "runner" else []
    def bare_side(q, max_tokens):
        if args.bare_on == "main":
            return bare(backend, q, max_tokens)
        return MLX_THREAD.call(bare, backend, q, max_tokens)

    for q in queries[:2]:  # warm both paths
        bare_side(q, 16)
        profiled_backend(backend, q, 16)

    def profiled(q):
        if args.loop == "runner":
            return profiled_runner(backend, q, args.max_tokens, args.hz, sensors)
        return profiled_backend(backend, q, args.max_tokens)

    a_rates, b_rates, ratios, pairs = [], [], [], []
    flip = False
    for k in range(args.rounds):
        a = [0, 0.0]
        b = [0, 0.0]
        for q in queries:
            got = {}
            for side in (("bare", "ipwtui") if not flip else ("ipwtui", "bare")):
                got[side] = bare_side(q, args.max_tokens) if side == "bare" else profiled(q)
                acc = a if side == "bare" else b
                acc[0] += got[side][0]
                acc[1] += got[side][1]
            pairs.append((got["ipwtui"][0] / got["ipwtui"][1]) / (got["bare"][0] / got["bare"][1]))
            flip = not flip
        a_rates.append(a[0] / a[1])
        b_rates.append(b[0] / b[1])
        ratios.append(b_rates[-1] / a_rates[-1])
        print(f"round {k + 1}: bare {a_rates[-1]:.1f} tok/s, under ipwtui {b_rates[-1]:.1f} tok/s, "
              f"ratio {ratios[-1]:.3f} ({a[0]} / {b[0]} tokens decoded)")
    med = statistics.median(ratios)
    lo, hi = bootstrap_median(ratios)
    print(f"model: {info.name} ({info.extra.get('device')}), {len(queries)} queries x {args.rounds} rounds per "
          f"side (alternating), max_tokens {args.max_tokens}, bare on the {args.bare_on} thread, "
          f"profiled side: {args.loop}"
          + (f", sampler {args.hz:g} Hz" if args.loop == "runner" else ""))
    print(f"decode tok/s median: bare {statistics.median(a_rates):.1f}, under ipwtui "
          f"{statistics.median(b_rates):.1f}; median of per-round ratios {med:.3f} "
          f"(target >= 0.99: {'PASS' if med >= 0.99 else 'FAIL'})")
    print(f"95 % bootstrap interval of that median: {lo:.3f} .. {hi:.3f}"
          + (" (the machine's noise is too large for the run to decide)" if lo < 0.99 <= hi else ""))
    print(f"median of the {len(pairs)} per-query ratios (each pair adjacent in time): "
          f"{statistics.median(pairs):.3f}")
    backend.close()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
