"""Decode speed under the profiler against bare llama-cpp-python: same model, prompts and settings.

The two sides alternate query by query (bare, profiled, profiled, bare, ...) so that drift on a shared
machine hits both sides alike; the queries are the bundled arithmetic and unit questions, whose answers
are long enough (tens of tokens) for a decode rate to mean something.
Both sides read llama.cpp's own decode rate (perf context: n_eval / t_eval) for each query; the profiled
side is the full measured loop of ``ipwtui run``: sampler thread at 20 Hz with this machine's sensors,
energy windows, scoring and the fsynced journal.
"""

import argparse
import statistics
import tempfile

import llama_cpp

from ipwtui.backends.llama_cpp.backend import LlamaCppBackend
from ipwtui.backends.llama_cpp.gguf import default_model_path
from ipwtui.core.runner import Runner
from ipwtui.core.settings import RunSettings
from ipwtui.core.sensors import probe_all
from ipwtui.core.session import Session
from ipwtui.workloads.loaders import load_queries, resolve_queries
from ipwtui.workloads.scoring import score_answer


def bare(llm, queries, max_tokens):
    """Plain llama-cpp-python streaming, the way a script without a profiler would do it."""
    rates = []
    for q in queries:
        llm.reset()
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
        for _ in llm.create_chat_completion(messages=[{"role": "user", "content": q.prompt}],
                                            max_tokens=max_tokens, temperature=0.0, seed=0, stream=True):
            pass
        p = llama_cpp.llama_perf_context(llm._ctx.ctx)
        if p.n_eval > 0 and p.t_eval_ms > 0:
            rates.append((p.n_eval, p.t_eval_ms))
    return rates


def profiled(backend, queries, max_tokens, hz, sensors):
    with tempfile.TemporaryDirectory() as d:
        sess = Session.create(d + "/s", {"id": "bench", "query_ids": [q.id for q in queries]})
        st = RunSettings(idle_seconds=0, warmup=0, sample_hz=hz, max_tokens=max_tokens)
        Runner(sess, backend, sensors, queries, st, scorer=score_answer).run()
        recs = sess.query_records()
    return [(evaluated(r), 1000.0 * evaluated(r) / r.decode_tps) for r in recs if r.decode_tps]


def evaluated(r) -> int:
    """Tokens llama.cpp evaluated (the one sampled when the length limit hits is emitted, not evaluated)."""
    return r.output_tokens - (1 if r.finish_reason == "length" else 0)


def rate(pairs):
    n = sum(p[0] for p in pairs)
    ms = sum(p[1] for p in pairs)
    return n / (ms / 1000.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6, help="rounds per side")
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--hz", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    model = default_model_path()
    queries = [q for q in load_queries(resolve_queries("mixed"))
               if q.domain in ("arithmetic", "units")][: args.queries]
    backend = LlamaCppBackend(str(model), n_threads=args.threads)
    backend.load()
    sensors = probe_all().sensors
    bare(backend.llm, queries[:2], 16)  # warm both paths
    a_rates, b_rates = [], []
    flip = False
    for k in range(args.rounds):
        a_pairs, b_pairs = [], []
        for q in queries:
            for side in (("bare", "ipwtui") if not flip else ("ipwtui", "bare")):
                if side == "bare":
                    a_pairs += bare(backend.llm, [q], args.max_tokens)
                else:
                    b_pairs += profiled(backend, [q], args.max_tokens, args.hz, sensors)
            flip = not flip
        a_rates.append(rate(a_pairs))
        b_rates.append(rate(b_pairs))
        print(f"round {k + 1}: bare {a_rates[-1]:.1f} tok/s, under ipwtui {b_rates[-1]:.1f} tok/s "
              f"({sum(p[0] for p in a_pairs)} / {sum(p[0] for p in b_pairs)} tokens decoded)")
    a, b = statistics.median(a_rates), statistics.median(b_rates)
    print(f"model: {model.name}, {len(queries)} queries x {args.rounds} rounds per side (alternating), "
          f"max_tokens {args.max_tokens}, threads {backend.n_threads}, sampler {args.hz:g} Hz")
    print(f"decode tok/s median: bare {a:.1f}, under ipwtui {b:.1f}; ratio {b / a:.3f} "
          f"(target >= 0.99: {'PASS' if b / a >= 0.99 else 'FAIL'})")
    backend.close()


if __name__ == "__main__":
    main()
