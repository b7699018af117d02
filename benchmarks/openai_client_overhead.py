"""Tokens per second received through the openai backend against a bare streaming client.

Both sides talk to the same server, llama-cpp-python's own OpenAI-compatible server on 127.0.0.1 serving
the bundled default model, with the same prompts, max_tokens, temperature and seed. They alternate query
by query (bare, backend, backend, bare, ...) so that drift on a shared machine hits both alike.

- bare: plain httpx, one streamed POST, each ``data:`` line parsed with json, the content taken out;
- backend: ``OpenAIBackend.generate`` with an ``on_token`` callback, as the runner calls it.

The receive rate of one answer is (content pieces after the first) / (last piece - first piece): the
decode rate as the client sees it (the prefill, which the server's prompt cache may shorten for a
repeated prompt, is left out). Printed: each round's rates (pieces and seconds summed over its queries),
the median of the per-query paired ratios backend/bare with a 95 % bootstrap interval (which says whether
the machine's noise lets the run decide), and the client's own CPU time per piece (thread CPU time of the
request), which shows the client's cost without the server's noise.

Target: backend rate >= 0.98 x bare rate (median of the paired ratios).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from llama_server import start_llama_server

from ipwtui.backends.openai.backend import OpenAIBackend
from ipwtui.workloads.loaders import load_queries, resolve_queries


def bare(client: httpx.Client, base_url: str, model: str, prompt: str, max_tokens: int):
    """One streamed answer with nothing but httpx and json: (pieces, t_first, t_last, cpu_s)."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": max_tokens, "temperature": 0.0, "seed": 0}
    c0 = time.thread_time()
    n, t_first, t_last = 0, None, None
    with client.stream("POST", base_url + "/chat/completions", json=body) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            ch = json.loads(line[6:])
            choices = ch.get("choices") or []
            piece = choices[0].get("delta", {}).get("content") if choices else None
            if piece:
                t = time.monotonic()
                t_first = t if t_first is None else t_first
                t_last = t
                n += 1
    return n, t_first, t_last, time.thread_time() - c0


def through_backend(backend: OpenAIBackend, prompt: str, max_tokens: int):
    got = []
    c0 = time.thread_time()
    g = backend.generate([{"role": "user", "content": prompt}], max_tokens,
                         on_token=lambda p, t: got.append(t) is None, temperature=0.0, seed=0)
    return len(got), g.t_first, g.t_last, time.thread_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    queries = [q for q in load_queries(resolve_queries("mixed"))
               if q.domain in ("arithmetic", "units")][: args.queries]
    srv = start_llama_server()
    try:
        model = httpx.get(srv.base_url + "/models", timeout=5).json()["data"][0]["id"]
        backend = OpenAIBackend(srv.base_url, model, connect_timeout_s=5, read_timeout_s=120)
        backend.load()
        client = httpx.Client(timeout=httpx.Timeout(120, connect=5))
        bare(client, srv.base_url, model, queries[0].prompt, 8)  # warm both paths and the server
        through_backend(backend, queries[0].prompt, 8)
        ratios: list[float] = []
        pairs: list[float] = []
        a_cpu, b_cpu, a_n, b_n = 0.0, 0.0, 0, 0
        flip = False
        for k in range(args.rounds):
            sides = {"bare": [0, 0.0], "backend": [0, 0.0]}
            for q in queries:
                rate = {}
                for side in (("bare", "backend") if not flip else ("backend", "bare")):
                    if side == "bare":
                        n, t0, t1, cpu = bare(client, srv.base_url, model, q.prompt, args.max_tokens)
                        a_cpu, a_n = a_cpu + cpu, a_n + n
                    else:
                        n, t0, t1, cpu = through_backend(backend, q.prompt, args.max_tokens)
                        b_cpu, b_n = b_cpu + cpu, b_n + n
                    if n > 1 and t1 > t0:
                        sides[side][0] += n - 1
                        sides[side][1] += t1 - t0
                        rate[side] = (n - 1) / (t1 - t0)
                if len(rate) == 2:
                    pairs.append(rate["backend"] / rate["bare"])
                flip = not flip
            a = sides["bare"][0] / sides["bare"][1]
            b = sides["backend"][0] / sides["backend"][1]
            ratios.append(b / a)
            print(f"round {k + 1}: bare {a:.1f} pieces/s, backend {b:.1f} pieces/s, ratio {b / a:.3f} "
                  f"({sides['bare'][0]} / {sides['backend'][0]} pieces after the first)")
        client.close()
        backend.close()
    finally:
        srv.stop()
    med = statistics.median(pairs)
    lo, hi = bootstrap_median(pairs)
    print(f"server: llama_cpp.server on 127.0.0.1, model {Path(model).name}; {len(queries)} queries x "
          f"{args.rounds} rounds per side (alternating), max_tokens {args.max_tokens}")
    print(f"client CPU per piece: bare {1e6 * a_cpu / max(a_n, 1):.0f} us, backend {1e6 * b_cpu / max(b_n, 1):.0f} us")
    print(f"per-round ratios: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
    print(f"per-query paired ratio backend/bare: median {med:.3f}, 95 % bootstrap interval [{lo:.3f}, {hi:.3f}] "
          f"over {len(pairs)} pairs (target >= 0.98: {'PASS' if med >= 0.98 else 'FAIL'})")


def bootstrap_median(xs: list[float], rounds: int = 2000, seed: int = 1) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the median."""
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(rounds))
    return meds[int(0.025 * rounds)], meds[int(0.975 * rounds) - 1]

if __name__ == "__main__":
    main()
