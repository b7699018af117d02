"""What the Prometheus endpoint (``ipwtui run --metrics-port``) costs a run: decode speed with the endpoint
attached and scraped at 1 Hz against the same run without it, side by side in one run.

One Runner (the real measured loop: sampler with this machine's sensors, energy windows, scoring, live
metrics, the fsynced journal) runs a stand-in engine whose every token is a fixed amount of work: with
``--engine c`` (the default) native work that releases the GIL (hashing a buffer) plus a little Python, as
an engine called through Python bindings does; with ``--engine python`` pure Python work that holds the
GIL, the worst case for a scrape served on another thread (a token then waits whenever anything else in
the process runs). The sides alternate query by query in the order bare, exporter,
exporter, bare (switched as a query starts, before its window opens), so that drift on a shared machine
hits both alike and a query's place after another cancels within each group of four: on the "exporter" side every event goes
to the endpoint's listener, and a client scrapes /metrics once a second of wall time over one kept-alive
connection (as Prometheus does), each scrape held
until an exporter-side query runs (so that side takes about two scrapes per second of its own time: a
harder load than 1 Hz); on the "bare" side neither happens (the server stays bound, idle).

Figures printed: decode tok/s per side (each query's own rate over its decode; median per side) and their
ratio (target >= 0.99); the median over the groups of four of the exporter pair's rate over the bare
pair's, with a 95 % bootstrap interval (whether the machine's noise lets the run decide); the listener's own time per query (all of its events,
tokens included) beside the query's window; the time to render the page and to serve a scrape.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import http.client
import statistics
import tempfile
import threading
import time
import timeit

from ipwtui.backends.fake.backend import FakeBackend
from ipwtui.core import events as ev
from ipwtui.core.exporter import serve
from ipwtui.core.runner import Runner
from ipwtui.core.sensors import probe_all
from ipwtui.core.session import Session
from ipwtui.core.settings import RunSettings
from ipwtui.core.summary import session_metrics
from ipwtui.workloads.loaders import load_queries, resolve_queries
from ipwtui.workloads.scoring import score_answer


def _python_work(n: int) -> None:
    for _ in range(n):
        pass


def _native_work(buf: bytes) -> None:
    hashlib.sha256(buf).digest()  # releases the GIL for buffers this size


def token_work(kind: str, token_s: float):
    """A function doing about ``token_s`` of work per call: native (GIL released, plus 1/20 of it in
    Python) or pure Python (GIL held), calibrated on this machine now."""
    def calibrate(fn, make, size: int) -> int:
        while True:
            arg = make(size)
            t = time.perf_counter()
            for _ in range(5):
                fn(arg)
            dt = (time.perf_counter() - t) / 5
            if dt > 0.01:
                return max(1, int(size * token_s / dt))
            size *= 2

    if kind == "python":
        n = calibrate(_python_work, int, 10_000)
        return lambda _s: _python_work(n)
    size = calibrate(_native_work, bytes, 1 << 16)
    buf = bytes(int(size * 0.95))
    n = calibrate(_python_work, int, 10_000) // 20

    def work(_s: float) -> None:
        _native_work(buf)
        _python_work(n)

    return work


class Sides:
    """The run's listener and the switch: which side each query ran on, the listener's time."""

    def __init__(self, state):
        self.state = state
        self.on = False  # first query: bare
        self.side_of: dict[int, bool] = {}  # query index -> exporter on
        self.listener_ns: dict[int, int] = {}  # query index -> ns spent in the exporter's listener
        self._current = -1

    def __call__(self, e) -> None:
        if isinstance(e, ev.QueryStarted):
            self._current = e.index
            self.on = not e.warmup and (e.index + 1) // 2 % 2 == 1  # bare, exporter, exporter, bare, ...
            if not e.warmup:
                self.side_of[e.index] = self.on
        if self.on:
            t = time.perf_counter_ns()
            self.state(e)
            dt = time.perf_counter_ns() - t
            self.listener_ns[self._current] = self.listener_ns.get(self._current, 0) + dt


def scraper(port: int, sides: Sides, stop: threading.Event, scrape_s: list[float]) -> None:
    """GET /metrics once a second over one kept-alive connection (what a Prometheus at 1 s does), each time
    once the exporter side runs."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    nxt = time.monotonic()
    while not stop.is_set():
        nxt += 1.0
        while not sides.on and not stop.is_set():
            time.sleep(0.002)
        if stop.is_set():
            break
        t = time.perf_counter()
        conn.request("GET", "/metrics")
        conn.getresponse().read()
        scrape_s.append(time.perf_counter() - t)
        stop.wait(max(0.0, nxt - time.monotonic()))
    conn.close()


def interval(ratios: list[float], rounds: int = 2000) -> tuple[float, float]:
    """95 % bootstrap interval of the median of ``ratios``."""
    import random

    rng = random.Random(0)
    meds = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(rounds))
    return meds[int(0.025 * rounds)], meds[int(0.975 * rounds) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the run (default 60)")
    ap.add_argument("--tokens", type=int, default=120, help="tokens per answer (default 120)")
    ap.add_argument("--token-ms", type=float, default=0.5, help="work per token, ms (default 0.5)")
    ap.add_argument("--hz", type=float, default=20.0, help="sampler rate (default 20)")
    ap.add_argument("--engine", choices=("c", "python"), default="c",
                    help="a token's work: native with the GIL released (c), or Python holding it (default c)")
    args = ap.parse_args()

    work = token_work(args.engine, args.token_ms / 1000.0)

    answer = " ".join(["word"] * (args.tokens - 1) + ["(A)."])
    backend = FakeBackend(default=answer, prefill_s=0.0, sleep=work)
    base = load_queries(resolve_queries("mixed"))
    per_query_s = args.tokens * args.token_ms / 1000.0 + 0.03
    n = int(args.seconds / per_query_s) + 1
    queries = [dataclasses.replace(base[k % len(base)], id=f"{base[k % len(base)].id}-{k}") for k in range(n)]

    server = serve("127.0.0.1", 0)
    sides = Sides(server.state)
    stop = threading.Event()
    scrape_s: list[float] = []
    scrape_thread = threading.Thread(target=scraper, args=(server.port, sides, stop, scrape_s), daemon=True)
    sensor_set = probe_all()
    sensors = sensor_set.sensors
    try:
        with tempfile.TemporaryDirectory() as d:
            sess = Session.create(d + "/s", {"id": "bench", "query_ids": [q.id for q in queries],
                                             "model": {"name": "stand-in"}, "backend": "fake"})
            server.state.session(sess.meta)
            st = RunSettings(idle_seconds=0, warmup=1, sample_hz=args.hz, max_tokens=args.tokens + 8)
            runner = Runner(sess, backend, sensors, queries, st, scorer=score_answer, listener=sides,
                            model_name="stand-in")
            scrape_thread.start()
            t0 = time.monotonic()
            runner.run()
            wall = time.monotonic() - t0
            recs = [r for r in sess.query_records() if r.decode_tps]
            render_s = []
            for _ in range(200):  # the page of the final figures, rendered alone
                t = time.perf_counter()
                server.state.render()
                render_s.append(time.perf_counter() - t)
            # the listener alone, without this script's timing around it (the run is over: its figures
            # no longer matter)
            token = ev.Token("word ", time.monotonic(), 1)
            finished = ev.QueryFinished(recs[-1], session_metrics(recs[-50:], ci=False))
            token_s = min(timeit.repeat(lambda: server.state(token), number=20_000, repeat=5)) / 20_000
            finished_s = min(timeit.repeat(lambda: server.state(finished), number=2_000, repeat=5)) / 2_000
    finally:
        stop.set()
        scrape_thread.join(5)
        server.close()
        sensor_set.close()

    by_side: dict[bool, list[float]] = {True: [], False: []}
    rate = {r.index: r.decode_tps for r in recs}
    for i, tps in rate.items():
        by_side[sides.side_of[i]].append(tps)  # type: ignore[arg-type]
    group_ratios = []  # each group of four (bare, exporter, exporter, bare): exporter pair over bare pair
    for g in range(0, max(rate, default=-1) + 1, 4):
        if all(i in rate for i in range(g, g + 4)):
            group_ratios.append((rate[g + 1] + rate[g + 2]) / (rate[g] + rate[g + 3]))  # type: ignore[operator]
    bare, exp = statistics.median(by_side[False]), statistics.median(by_side[True])
    ratio = exp / bare
    lat = statistics.median(r.latency_s for r in recs if r.latency_s)
    cost = [ns / 1e9 for i, ns in sides.listener_ns.items() if i >= 0]
    what = "native work (GIL released)" if args.engine == "c" else "Python work (GIL held)"
    print(f"run: {len(recs)} queries in {wall:.1f} s, {args.tokens} tokens each at {args.token_ms:g} ms of "
          f"{what} per token, sampler {args.hz:g} Hz, sides alternating query by query (bare, exporter, exporter, bare)")
    print(f"decode tok/s median: without the endpoint {bare:.1f} ({len(by_side[False])} queries), with it "
          f"scraped at 1 Hz {exp:.1f} ({len(by_side[True])} queries); ratio {ratio:.4f} "
          f"(target >= 0.99: {'PASS' if ratio >= 0.99 else 'FAIL'})")
    if len(group_ratios) >= 2:
        lo, hi = interval(group_ratios)
        print(f"groups of four: median ratio {statistics.median(group_ratios):.4f} over {len(group_ratios)} "
              f"groups, 95 % interval {lo:.4f}-{hi:.4f}")
    per_query = args.tokens * token_s + finished_s + 2 * token_s  # its tokens, its end, its start and phase
    print(f"listener alone: {token_s * 1e6:.2f} us per token event, {finished_s * 1e6:.1f} us per finished "
          f"query: {per_query * 1e6:.1f} us per query of {args.tokens} tokens, {per_query / lat:.1e} of the "
          f"median window ({lat * 1000:.1f} ms): window ratio {1 - per_query / lat:.5f}")
    if cost:
        med = statistics.median(cost)
        print(f"listener time per query in the run (all its events, this script's timing around each "
              f"included): median {med * 1e6:.1f} us, max {max(cost) * 1e6:.1f} us; "
              f"{med / lat:.2e} of the median window ({lat * 1000:.1f} ms): window ratio {1 - med / lat:.5f}")
    print(f"rendering the final page: {statistics.median(render_s) * 1e6:.0f} us median; scrapes served: "
          f"{len(scrape_s)}, {statistics.median(scrape_s) * 1e3:.2f} ms median round trip each, as the scraper saw "
          "them" if scrape_s else "no scrape served")


if __name__ == "__main__":
    main()
