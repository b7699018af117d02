"""The server energy read from Prometheus: raw samples, counters differenced at interpolated edges (mJ or J,
resets undone), gauges integrated, series summed, short windows flagged, telemetry that is late or never
comes, broken answers, credentials kept out of sight.

Part 1 feeds canned Prometheus answers through the injectable getter, on a fake clock. Part 2 runs a real
Prometheus (Debian's ``prometheus``) on loopback, scraping a small exporter that serves dcgm-exporter's
names at a known power.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse

import pytest
from servers import LOOPBACK, REQUIRE_ENV, TextServer, assert_loopback, free_port, require_binary, start_prometheus

from ipwtui.core.remote import MEASURED_REMOTE, SERVER_ACCELERATOR, UNSTATED, RemoteWindow, ServerEnergy
from ipwtui.core.remote.prometheus import SERVER_CPU, SHORT_WINDOW, TELEMETRY_GAP, PrometheusEnergy, urllib_get

URL = "http://127.0.0.1:9090"
DCGM_ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
DCGM_POWER = "DCGM_FI_DEV_POWER_USAGE"


def win(t0: float, t1: float, qid: str = "q1") -> RemoteWindow:
    return RemoteWindow(query_id=qid, attempt=1, wall_start=t0, wall_end=t1, model="m")


# ---------------------------------------------------------------- part 1: canned answers, fake clock


class FakePrometheus:
    """Answers /api/v1/query like Prometheus: ``time()`` and instant queries of ``SELECTOR[Nms]`` (raw
    samples in (time - N, time], only those already scraped by ``now``). Its clock runs ``offset`` seconds
    ahead of the client's; ``sleep`` advances both. ``answer``, when set, replaces every range answer
    (status, body); ``down`` makes every request fail to connect."""

    def __init__(self, series: list[tuple[dict, list[tuple[float, float]]]], now: float, offset: float = 0.0):
        self.series = series
        self.now = now
        self.offset = offset
        self.down: Exception | None = None
        self.answer: tuple[int, bytes] | None = None
        self.calls: list[tuple[str, dict]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        assert s > 0
        self.now += s

    def get(self, url: str, timeout: float, headers: dict[str, str]) -> tuple[int, bytes]:
        assert_loopback(url)
        self.calls.append((url, headers))
        if self.down is not None:
            raise self.down
        parts = urllib.parse.urlsplit(url)
        assert parts.path.endswith("/api/v1/query")
        params = dict(urllib.parse.parse_qsl(parts.query))
        server_now = self.now + self.offset
        if params["query"] == "time()":
            return 200, json.dumps({"status": "success", "data": {"resultType": "scalar",
                                                                  "result": [server_now, str(server_now)]}}).encode()
        if self.answer is not None:
            return self.answer
        m = re.fullmatch(r"(.+)\[(\d+)ms\]", params["query"])
        assert m, params["query"]
        at = float(params["time"])
        start = at - int(m.group(2)) / 1000
        result = []
        for labels, samples in self.series:
            values = [[t, repr(v)] for t, v in samples if start < t <= min(at, server_now)]
            if values:
                result.append({"metric": labels, "values": values})
        return 200, json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()

    def range_queries(self) -> list[dict]:
        out = []
        for url, _ in self.calls:
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            if params["query"] != "time()":
                out.append(params)
        return out


def source(fake: FakePrometheus, query: str, url: str = URL, **kw) -> PrometheusEnergy:
    return PrometheusEnergy(url, query, get=fake.get, clock=fake.clock, sleep=fake.sleep, **kw)


def steady(watts: float, t_from: float, t_to: float, step: float = 1.0, scale: float = 1.0,
           base: float = 0.0) -> list[tuple[float, float]]:
    """Counter samples every ``step`` s of a constant power, in units of 1/scale J."""
    n = round((t_to - t_from) / step)
    return [(t_from + i * step, (base + watts * i * step) * scale) for i in range(n + 1)]


# samples 1 s apart of a counter in J whose power rises 10, 20, 30, 40, 50 W
RISING = [(100.2, 0.0), (101.2, 10.0), (102.2, 30.0), (103.2, 60.0), (104.2, 100.0), (105.2, 150.0)]


def test_counter_is_interpolated_at_both_edges_and_bounded_by_the_samples_around_them():
    fake = FakePrometheus([({"__name__": "energy_joules_total"}, RISING)], now=106.0)
    src = source(fake, "energy_joules_total")
    assert src.check() is None
    e = src.window_energy(win(101.7, 104.45))
    # c(101.7) = 10 + 0.5 x 20 = 20; c(104.45) = 100 + 0.25 x 50 = 112.5
    assert e.joules == pytest.approx(92.5)
    # the counter never falls: c(t0) in [10, 30], c(t1) in [100, 150]
    assert (e.low_j, e.high_j) == (pytest.approx(70.0), pytest.approx(140.0))
    assert (e.source, e.quality, e.boundary, e.flags) == ("prometheus", MEASURED_REMOTE, UNSTATED, [])
    assert "scrape interval 1.00 s" in e.note
    # raw samples, not rate()/increase(): an instant query of a range selector, evaluated after the window,
    # reaching two intervals before it
    q = fake.range_queries()[-1]
    assert re.fullmatch(r"energy_joules_total\[\d+ms\]", q["query"])
    rng = int(q["query"].split("[")[1][:-3]) / 1000
    assert float(q["time"]) >= 104.45 + 2 * 1.0
    assert float(q["time"]) - rng <= 101.7 - 2 * 1.0


def test_dcgm_energy_is_millijoules_and_covers_the_accelerators():
    mj = [(t, v * 1000 + 7e9) for t, v in RISING]  # mJ since boot
    fake = FakePrometheus([({"__name__": DCGM_ENERGY, "gpu": "0"}, mj)], now=106.0)
    src = source(fake, f'{DCGM_ENERGY}{{gpu="0",hostname="box"}}')
    e = src.window_energy(win(101.7, 104.45))
    assert e.joules == pytest.approx(92.5)
    assert e.boundary == SERVER_ACCELERATOR
    d = src.describe()
    assert (d["kind"], d["unit"], d["metric"]) == ("counter", "mJ", DCGM_ENERGY)
    # the same samples read as joules give 1000 times more
    as_j = source(fake, f'{DCGM_ENERGY}{{gpu="0"}}', unit="J").window_energy(win(101.7, 104.45))
    assert as_j.joules == pytest.approx(92_500.0)


def test_a_counter_reset_adds_back_the_value_before_it():
    # 10 W, then the counter restarts from 0 between 103 and 104 (a driver reload) and goes on at 10 W
    samples = [(100.0, 500.0), (101.0, 510.0), (102.0, 520.0), (103.0, 530.0), (104.0, 5.0), (105.0, 15.0),
               (106.0, 25.0)]
    fake = FakePrometheus([({"__name__": "x_joules_total"}, samples)], now=107.0)
    e = source(fake, "x_joules_total").window_energy(win(101.5, 105.5))
    # unreset: ..., 530, 535, 545, 555: c(101.5) = 515, c(105.5) = 550
    assert e.joules == pytest.approx(35.0)
    assert e.joules > 0 and e.low_j <= e.joules <= e.high_j


def test_gauge_is_integrated_with_the_trapezoid_rule_edges_interpolated():
    samples = [(100.0, 10.0), (101.0, 20.0), (102.0, 20.0), (103.0, 40.0), (104.0, 40.0)]
    fake = FakePrometheus([({"__name__": DCGM_POWER, "gpu": "0"}, samples)], now=105.0)
    src = source(fake, f'{DCGM_POWER}{{gpu="0"}}')
    e = src.window_energy(win(100.5, 103.5))
    # (15+20)/2 x 0.5 + (20+20)/2 + (20+40)/2 + (40+40)/2 x 0.5
    assert e.joules == pytest.approx(8.75 + 20 + 30 + 20)
    assert (e.quality, e.boundary, e.low_j, e.high_j) == (MEASURED_REMOTE, SERVER_ACCELERATOR, None, None)
    assert src.describe()["kind"] == "gauge"


def test_several_series_are_computed_one_by_one_and_summed():
    gpu0 = steady(50, 100.0, 110.0, scale=1000, base=1e6)
    gpu1 = steady(30, 100.4, 110.4, scale=1000, base=3e6)  # scraped at other instants
    fake = FakePrometheus([({"gpu": "0"}, gpu0), ({"gpu": "1"}, gpu1)], now=111.0)
    src = source(fake, DCGM_ENERGY)
    e = src.window_energy(win(102.3, 105.3))
    assert e.joules == pytest.approx(80 * 3.0)
    assert "2 series summed" in e.note
    assert src.describe()["series"] == 2
    power = FakePrometheus([({"gpu": "0"}, [(100.0 + i, 50.0) for i in range(11)]),
                            ({"gpu": "1"}, [(100.4 + i, 30.0) for i in range(11)])], now=111.0)
    assert source(power, DCGM_POWER).window_energy(win(102.3, 105.3)).joules == pytest.approx(240.0)


def test_a_window_shorter_than_two_scrape_intervals_keeps_its_figure_flagged_coarse():
    fake = FakePrometheus([({"gpu": "0"}, steady(50, 100.0, 110.0, scale=1000))], now=111.0)
    src = source(fake, DCGM_ENERGY)
    short = src.window_energy(win(102.2, 103.7))
    assert short.joules == pytest.approx(75.0)
    assert short.flags == [SHORT_WINDOW] and "coarse" in short.note
    assert src.describe()["scrape_interval_s"] == pytest.approx(1.0)
    long = src.window_energy(win(102.2, 104.2))
    assert long.flags == [] and "coarse" not in long.note


def test_a_gap_in_the_telemetry_around_the_window_is_flagged():
    samples = [s for s in steady(50, 100.0, 115.0) if not 104.0 <= s[0] <= 107.0]
    fake = FakePrometheus([({}, samples)], now=116.0)
    e = source(fake, "e_joules_total").window_energy(win(103.5, 109.5))
    assert e.joules == pytest.approx(300.0)  # constant power: interpolation across the gap is still right
    assert TELEMETRY_GAP in e.flags


def test_window_energy_waits_briefly_for_the_scrape_after_the_window():
    fake = FakePrometheus([({"gpu": "0"}, steady(50, 100.0, 120.0, scale=1000))], now=105.05)
    src = source(fake, DCGM_ENERGY)
    e = src.window_energy(win(102.0, 104.5))  # the sample at 105.0 exists; the next is due at 106.0
    assert e.joules == pytest.approx(125.0)
    fake.now = 107.1
    e = src.window_energy(win(105.0, 107.05))  # ends after the last scrape: the one at 108.0 comes in the wait
    assert e.joules == pytest.approx(102.5)
    assert 108.0 <= fake.now <= 107.1 + 1.5 + 0.3


def test_telemetry_that_stops_gives_none_then_na_with_the_reason_never_zero():
    fake = FakePrometheus([({"gpu": "0"}, steady(50, 100.0, 106.0, scale=1000))], now=106.2)
    src = source(fake, DCGM_ENERGY)
    assert src.check() is None
    waits_from = fake.now
    assert src.window_energy(win(104.0, 106.1)) is None  # the exporter stopped at 106.0
    assert fake.now - waits_from <= 1.5 + 0.3  # bounded by 1.5 scrape intervals
    ok, lost = src.settle([win(102.0, 104.0, "a"), win(104.0, 106.1, "b")], timeout_s=10)
    assert ok.joules == pytest.approx(100.0) and ok.quality == MEASURED_REMOTE
    assert lost.joules is None and lost.quality == "unavailable" and lost.low_j is None
    assert "no sample after the window end within 10 s" in lost.note
    assert fake.now <= 106.2 + 1.8 + 10 + 1.5


def test_settle_computes_windows_whose_telemetry_came_later():
    fake = FakePrometheus([({"gpu": "0"}, steady(50, 100.0, 200.0, step=10.0, scale=1000))], now=141.0)
    src = source(fake, DCGM_ENERGY, max_wait_s=2.0)  # scrapes every 10 s: longer than the wait
    assert src.check() is None
    windows = [win(133.0, 140.5, "a"), win(137.0, 140.9, "b")]  # the last scrape was at 140, the next at 150
    assert [src.window_energy(w) for w in windows] == [None, None]
    results = src.settle(windows, timeout_s=30)
    assert [r.joules for r in results] == [pytest.approx(375.0), pytest.approx(195.0)]
    assert all(SHORT_WINDOW in r.flags for r in results)  # 7.5 s and 3.9 s against 10 s scrapes
    assert fake.now >= 150.0


def test_prometheus_down_gives_a_one_line_problem_then_na():
    fake = FakePrometheus([({}, steady(50, 100.0, 110.0))], now=111.0)
    fake.down = ConnectionRefusedError(111, "Connection refused")
    src = source(fake, "e_joules_total")
    problem = src.check()
    assert problem.startswith("Prometheus at http://127.0.0.1:9090 did not answer") and "\n" not in problem
    assert src.window_energy(win(102.0, 105.0)) is None  # it may come back before the run settles
    (e,) = src.settle([win(102.0, 105.0)], timeout_s=3)
    assert e.joules is None and e.quality == "unavailable" and "did not answer" in e.note
    fake.down = None
    (e,) = src.settle([win(102.0, 105.0)], timeout_s=3)
    assert e.joules == pytest.approx(150.0)


def test_a_real_closed_port_is_reported_not_raised():
    src = PrometheusEnergy(f"http://{LOOPBACK}:{free_port()}", DCGM_ENERGY, timeout_s=2)
    problem = src.check()
    assert problem.startswith(f"Prometheus at http://{LOOPBACK}:") and "did not answer" in problem
    (e,) = src.settle([win(time.time() - 5, time.time() - 2)], timeout_s=0.2)
    assert e.joules is None and "did not answer" in e.note


BAD_ANSWERS = {
    "html page": ((200, b"<html><body>Grafana login</body></html>"), "not a Prometheus API answer"),
    "truncated json": ((200, b'{"status":"success","data":{"resultType":"mat'), "not a Prometheus API answer"),
    "bad query": ((400, json.dumps({"status": "error", "errorType": "bad_data",
                                    "error": "1:10: parse error: unexpected character"}).encode()),
                  "refused the query (HTTP 400): 1:10: parse error"),
    "not found": ((404, b"404 page not found"), "HTTP 404, an error page"),
    "vector": ((200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()),
               "did not return raw samples"),
    "no series": ((200, json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}).encode()),
                  "no series matches"),
    "bad sample": ((200, json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[101.0, "12"], [102.0, None]]}]}}).encode()), "not a number"),
    "no data": ((200, b'{"status":"success"}'), "without data"),
}


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_a_broken_answer_gives_na_with_a_one_line_reason(case):
    answer, expected = BAD_ANSWERS[case]
    fake = FakePrometheus([({}, steady(50, 100.0, 110.0))], now=111.0)
    src = source(fake, "e_joules_total")
    assert src.check() is None
    fake.answer = answer
    e = src.window_energy(win(102.0, 105.0))
    assert isinstance(e, ServerEnergy) and e.joules is None and e.quality == "unavailable"
    assert expected in e.note and "\n" not in e.note and "Traceback" not in e.note
    (settled,) = src.settle([win(102.0, 105.0)], timeout_s=1)
    assert settled.joules is None and expected in settled.note
    fresh = source(fake, "e_joules_total")
    problem = fresh.check()
    assert expected in problem and "\n" not in problem


def test_a_server_error_is_retried_until_settle_gives_up():
    fake = FakePrometheus([({}, steady(50, 100.0, 110.0))], now=111.0)
    src = source(fake, "e_joules_total")
    assert src.check() is None
    fake.answer = (503, json.dumps({"status": "error", "errorType": "timeout", "error": "query timed out"}).encode())
    assert src.window_energy(win(102.0, 105.0)) is None
    (e,) = src.settle([win(102.0, 105.0)], timeout_s=2)
    assert e.joules is None and "query timed out" in e.note


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown():
    fake = FakePrometheus([({}, steady(50, 100.0, 110.0))], now=111.0)
    src = source(fake, "e_joules_total", url="http://alice:s3cr3t-pw@127.0.0.1:9090/prom/")
    assert src.check() is None
    url, headers = fake.calls[0]
    assert url.startswith("http://127.0.0.1:9090/prom/api/v1/query?")
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cr3t-pw").decode()
    described = json.dumps(src.describe())
    assert "s3cr3t" not in described and "alice" not in described
    assert src.describe()["url"] == "http://127.0.0.1:9090/prom"
    # an error whose text echoes the URL with its credentials (as some HTTP stacks do)
    fake.down = OSError("cannot reach http://alice:s3cr3t-pw@127.0.0.1:9090/prom/api/v1/query")
    problem = src.check()
    assert "s3cr3t" not in problem and "did not answer" in problem
    (e,) = src.settle([win(102.0, 105.0)], timeout_s=1)
    assert "s3cr3t" not in json.dumps(e.as_dict())


def test_the_clock_offset_of_prometheus_is_measured_and_applied():
    # Prometheus's clock runs 2.5 s ahead: its samples are stamped 2.5 s later than ours would be
    shifted = [(t + 2.5, v) for t, v in RISING]
    fake = FakePrometheus([({}, shifted)], now=106.0, offset=2.5)
    src = source(fake, "e_joules_total")
    assert src.window_energy(win(101.7, 104.45)).joules == pytest.approx(92.5)
    assert src.describe()["clock_offset_s"] == pytest.approx(2.5)
    uncorrected = source(fake, "e_joules_total", correct_clock=False).window_energy(win(101.7, 104.45))
    assert uncorrected.joules != pytest.approx(92.5)


def test_kind_and_unit_come_from_the_name_or_must_be_given():
    fake = FakePrometheus([], now=0.0)
    with pytest.raises(ValueError, match=r"metric gpu_energy: kind and unit unknown, give them") as err:
        source(fake, 'gpu_energy{host="a"}')
    assert "\n" not in str(err.value)
    assert source(fake, "gpu_energy", kind="counter", unit="mJ").describe()["unit"] == "mJ"
    assert source(fake, "gpu_power", unit="W").describe()["kind"] == "gauge"
    assert source(fake, '{__name__="box_watts",gpu="0"}').describe()["kind"] == "gauge"
    with pytest.raises(ValueError, match="give its unit too"):
        source(fake, DCGM_ENERGY, kind="gauge")
    with pytest.raises(ValueError, match="not a counter's"):
        source(fake, "gpu_energy", kind="counter", unit="W")
    with pytest.raises(ValueError, match="unit 'calories'"):
        source(fake, "gpu_energy", unit="calories")


def test_boundaries_by_name_and_by_choice():
    fake = FakePrometheus([], now=0.0)
    rapl = source(fake, 'node_rapl_package_joules_total{instance="box:9100"}').describe()
    assert (rapl["boundary"], rapl["unit"]) == (SERVER_CPU, "J")
    assert source(fake, "all_smi_energy_consumed_joules_total").describe()["boundary"] == UNSTATED
    assert source(fake, DCGM_POWER, boundary="server").describe()["boundary"] == "server"


@pytest.mark.parametrize("query", ["rate(x_joules_total[5m])", "x_joules_total[5m]", "sum(x_joules_total)",
                                   'x_joules_total{a="b"} or y_joules_total', ""])
def test_only_a_plain_selector_is_accepted(query):
    with pytest.raises(ValueError, match="not a plain selector"):
        PrometheusEnergy(URL, query)


@pytest.mark.parametrize("url", ["127.0.0.1:9090", "ftp://127.0.0.1", "http://"])
def test_a_bad_url_is_one_line(url):
    with pytest.raises(ValueError, match="must be http:// or https:// with a host"):
        PrometheusEnergy(url, DCGM_ENERGY)


def test_a_window_that_ends_before_it_starts_is_na():
    fake = FakePrometheus([({}, steady(50, 100.0, 110.0))], now=111.0)
    e = source(fake, "e_joules_total").window_energy(win(105.0, 104.0))
    assert e.joules is None and "ends before it starts" in e.note


def test_a_series_younger_than_the_window_is_na():
    fake = FakePrometheus([({"gpu": "0"}, steady(50, 100.0, 110.0)), ({"gpu": "1"}, steady(50, 104.0, 110.0))],
                          now=111.0)
    e = source(fake, "e_joules_total").window_energy(win(102.0, 106.0))
    assert e.joules is None and 'gpu="1"' in e.note and "no sample before the window start" in e.note


# ---------------------------------------------------------------- part 2: a real Prometheus on loopback

POWER_W = {"0": 50.0, "1": 30.0}
SCRAPE_S = 1.0


class EnergyExporter:
    """dcgm-exporter's two power metrics for two GPUs at constant powers: the energy counter in mJ since an
    arbitrary 'boot', and the power gauge in W. Text format written by hand: prometheus-client would append
    _total to the counter's name.

    Each sample carries the time it was computed (the text format's optional timestamp, which Prometheus
    keeps): without it Prometheus stamps the scrape's start, a few ms to tens of ms (on a loaded machine)
    before the exporter computes the value, an error of the test rig, not of the code under test."""

    def __init__(self):
        self.t_boot = time.time() - 1000.0
        self.server = TextServer(self.render)

    def render(self) -> str:
        ms = int(time.time() * 1000)
        now = ms / 1000
        lines = [f"# HELP {DCGM_ENERGY} Total energy consumption since boot (in mJ).",
                 f"# TYPE {DCGM_ENERGY} counter"]
        for gpu, w in POWER_W.items():
            lines.append(f'{DCGM_ENERGY}{{gpu="{gpu}",hostname="box"}} {w * (now - self.t_boot) * 1000:.3f} {ms}')
        lines += [f"# HELP {DCGM_POWER} Power draw (in W).", f"# TYPE {DCGM_POWER} gauge"]
        for gpu, w in POWER_W.items():
            lines.append(f'{DCGM_POWER}{{gpu="{gpu}",hostname="box"}} {w:.3f} {ms}')
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    exporter = EnergyExporter()
    server = None
    try:
        server = start_prometheus([exporter.server.target], tmp_path_factory.mktemp("prometheus"), SCRAPE_S)
        assert server.wait_scraped(DCGM_ENERGY, count=2, timeout_s=60), server.process.log_tail()
        yield server
    finally:
        if server is not None:
            server.stop()
        exporter.server.close()


def _first_sample(prom) -> float:
    return min(s[0][0] for s in prom.samples(DCGM_ENERGY))


def _after(t: float) -> None:
    """Sleep until time.time() >= t (no assertion depends on how long it takes)."""
    while (left := t - time.time()) > 0:
        time.sleep(min(left, 0.5))


def _energy(src: PrometheusEnergy, w: RemoteWindow) -> ServerEnergy:
    got = src.window_energy(w)
    if got is None:  # a slow scrape: settle waits for it
        (got,) = src.settle([w], timeout_s=60)
    return got


REAL_CASES = [(DCGM_ENERGY, 3.0), (DCGM_ENERGY, 5.0), (DCGM_POWER, 3.0), (DCGM_POWER, 5.0)]


@pytest.mark.parametrize(("metric", "seconds"), REAL_CASES)
def test_real_prometheus_energy_within_2_percent(prom, metric, seconds):
    t0 = _first_sample(prom) + 0.3  # the first scrape is before the window
    _after(t0 + seconds)
    src = PrometheusEnergy(prom.url, f'{metric}{{gpu="0",hostname="box"}}', get=_loopback_only)
    assert src.check() is None
    e = _energy(src, win(t0, t0 + seconds))
    known = POWER_W["0"] * seconds
    assert (e.quality, e.source, e.boundary) == (MEASURED_REMOTE, "prometheus", SERVER_ACCELERATOR), e.note
    assert abs(e.joules - known) / known < 0.02, (e.joules, known)
    assert SHORT_WINDOW not in e.flags
    d = src.describe()
    assert d["scrape_interval_s"] == pytest.approx(SCRAPE_S, rel=0.25)
    print(f"\n{metric} {seconds:.0f} s window: {e.joules:.3f} J against {known:.1f} J: "
          f"{100 * (e.joules - known) / known:+.3f} %; scrape interval {d['scrape_interval_s']:.3f} s")


def test_real_prometheus_sums_both_gpus_and_settles_a_window_ending_now(prom):
    src = PrometheusEnergy(prom.url, DCGM_ENERGY, get=_loopback_only)
    assert src.check() is None
    t1 = time.time()
    w = win(t1 - 3.0, t1)
    e = _energy(src, w)  # the scrape after t1 has not happened yet: it waits for it
    known = sum(POWER_W.values()) * 3.0
    assert e.quality == MEASURED_REMOTE, e.note
    assert abs(e.joules - known) / known < 0.02, (e.joules, known)
    assert "2 series summed" in e.note and src.describe()["series"] == 2
    print(f"\nboth GPUs, window ending at the call: {e.joules:.3f} J against {known:.1f} J: "
          f"{100 * (e.joules - known) / known:+.3f} %")


def test_real_prometheus_flags_a_window_shorter_than_two_scrapes(prom):
    t0 = _first_sample(prom) + 0.3
    _after(t0 + 0.6)
    src = PrometheusEnergy(prom.url, f'{DCGM_ENERGY}{{gpu="0"}}', get=_loopback_only)
    e = _energy(src, win(t0, t0 + 0.6))
    assert e.joules is not None and e.flags == [SHORT_WINDOW] and "coarse" in e.note
    assert e.low_j <= e.joules <= e.high_j


def test_real_prometheus_reports_a_bad_selector_and_a_missing_series(prom):
    bad = PrometheusEnergy(prom.url, f'{DCGM_ENERGY}{{gpu=~"("}}', get=_loopback_only).check()
    assert bad.startswith(f"Prometheus at {prom.url} refused the query (HTTP 400)") and "\n" not in bad
    missing = PrometheusEnergy(prom.url, f'{DCGM_ENERGY}{{gpu="7"}}', get=_loopback_only).check()
    assert missing.startswith(f'no series matches {DCGM_ENERGY}{{gpu="7"}}')


def _loopback_only(url: str, timeout: float, headers: dict[str, str]) -> tuple[int, bytes]:
    """The real getter, refusing anything but 127.0.0.1."""
    assert_loopback(url)
    return urllib_get(url, timeout, headers)


def test_the_server_helpers_contact_only_loopback():
    with pytest.raises(AssertionError, match="contact only 127.0.0.1"):
        assert_loopback("http://example.org:9090")
    with pytest.raises(AssertionError, match="contact only 127.0.0.1"):
        _loopback_only("http://10.0.0.1:9090/api/v1/query", 1.0, {})


def test_a_missing_server_binary_skips_unless_servers_are_required(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-server-xyz not found on PATH \\(apt-get install -y "
                                                    "no-such-server-xyz\\)"):
        require_binary("no-such-server-xyz", apt="no-such-server-xyz")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"apt-get install -y no-such-server-xyz.*{REQUIRE_ENV}=1"):
        require_binary("no-such-server-xyz", apt="no-such-server-xyz")
