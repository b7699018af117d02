"""Energy windows against scripted traces whose integrals are known exactly."""

import math
import time

import pytest

from ipwtui.core.energy import DomainSeries, idle_baseline, window_energy
from ipwtui.core.sampler import Sampler
from ipwtui.core.sensors.base import ESTIMATED, MEASURED, Domain, Reading
from ipwtui.core.sensors.scripted import ScriptedSensor


def dom(name="d", counter=False, in_total=True, period=None, quality=MEASURED, source="test"):
    return Domain(name=name, kind="cpu", source=source, quality=quality, accelerator="cpu",
                  has_counter=counter, period_s=period, in_total=in_total)


def power(t):  # smooth, non-linear trace: 20 W mean, 8 W swing, period 3 s
    return 20.0 + 8.0 * math.sin(2 * math.pi * t / 3.0)


def energy(a, b):  # exact integral of power() over [a, b]
    k = 3.0 / (2 * math.pi)
    return 20.0 * (b - a) - 8.0 * k * (math.cos(2 * math.pi * b / 3.0) - math.cos(2 * math.pi * a / 3.0))


def fill(series, f, t0=0.0, t1=30.0, hz=20.0, counter=False, jitter=0.0):
    n = int((t1 - t0) * hz) + 1
    for i in range(n):
        t = t0 + i / hz + (jitter * math.sin(i * 7.3) if 0 < i < n - 1 else 0.0)
        series.add(Reading(series.domain.name, t, energy_j=f(t) if counter else None,
                           watts=None if counter else f(t)))


@pytest.mark.parametrize("a,b", [(1.013, 2.977), (0.5, 29.5), (3.3333, 3.61), (10.01, 10.49)])
def test_sampled_power_window_within_0_1_percent(a, b):
    s = DomainSeries(dom())
    fill(s, power, jitter=0.004)
    we = window_energy([s], a, b, sample_period_s=0.05)
    assert we.gross_j == pytest.approx(energy(a, b), rel=1e-3)
    assert we.quality == MEASURED


@pytest.mark.parametrize("a,b", [(1.013, 2.977), (0.5, 29.5), (3.3333, 3.61)])
def test_counter_window_within_0_1_percent(a, b):
    s = DomainSeries(dom(counter=True))
    fill(s, lambda t: 1000.0 + energy(0.0, t), counter=True, jitter=0.004)
    we = window_energy([s], a, b, sample_period_s=0.05)
    assert we.gross_j == pytest.approx(energy(a, b), rel=1e-3)


def test_piecewise_linear_power_is_exact_with_interpolated_edges():
    s = DomainSeries(dom())
    for t, w in [(0.0, 10.0), (1.0, 30.0), (2.0, 30.0), (4.0, 0.0)]:
        s.add(Reading("d", t, watts=w))
    # over [0.5, 3.0]: 0.5..1: avg (20+30)/2*0.5 = 12.5; 1..2: 30; 2..3: (30+15)/2 = 22.5
    we = window_energy([s], 0.5, 3.0)
    assert we.gross_j == pytest.approx(65.0, abs=1e-12)
    assert we.avg_power_w == pytest.approx(26.0)


def test_window_outside_readings_is_na_not_zero():
    s = DomainSeries(dom())
    fill(s, power, 0.0, 5.0)
    we = window_energy([s], 4.0, 6.0)
    assert we.gross_j is None and we.avg_power_w is None
    assert "domain-missing" in we.flags


def test_nested_domains_are_not_summed():
    pkg = DomainSeries(dom("pkg"))
    core = DomainSeries(dom("core", in_total=False))
    dram = DomainSeries(dom("dram"))
    for s, w in ((pkg, 30.0), (core, 20.0), (dram, 5.0)):
        s.add(Reading(s.domain.name, 0.0, watts=w))
        s.add(Reading(s.domain.name, 10.0, watts=w))
    we = window_energy([pkg, core, dram], 2.0, 4.0)
    assert we.gross_j == pytest.approx(70.0)  # (30 + 5) W x 2 s
    assert set(we.per_domain) == {"pkg", "dram"}


def test_idle_baseline_median_and_net_energy():
    s = DomainSeries(dom())
    for i, w in enumerate([5, 6, 100, 5.5, 6.5]):  # one spike: the median ignores it
        s.add(Reading("d", float(i), watts=float(w)))
    for i in range(5, 11):
        s.add(Reading("d", float(i), watts=20.0))
    idle = idle_baseline([s], 0.0, 4.0)
    assert idle == {"d": 6.0}
    we = window_energy([s], 6.0, 10.0, idle_w=idle)
    assert we.gross_j == pytest.approx(80.0)
    assert we.net_j == pytest.approx(80.0 - 6.0 * 4.0)


def test_short_window_and_worst_quality_flagged():
    a = DomainSeries(dom("a", period=0.1))
    b = DomainSeries(dom("b", quality=ESTIMATED))
    for s in (a, b):
        fill(s, power, 0, 2)
    we = window_energy([a, b], 1.0, 1.1, sample_period_s=0.05)
    assert "short-window" in we.flags
    assert we.quality == ESTIMATED


def test_counter_derives_power_and_rejects_going_backwards():
    s = DomainSeries(dom(counter=True))
    s.add(Reading("d", 0.0, energy_j=500.0))
    s.add(Reading("d", 1.0, energy_j=510.0))
    assert s.add(Reading("d", 2.0, energy_j=505.0)) is None  # never accepted: counters only grow
    s.add(Reading("d", 3.0, energy_j=530.0))
    assert s.watts[1] == pytest.approx(10.0)
    assert s.watts[2] == pytest.approx(10.0)
    assert s.faults == 1


def test_long_windows_are_not_truncated():
    s = DomainSeries(dom())
    fill(s, power, 0.0, 3600.0, hz=2.0)  # an hour of samples
    we = window_energy([s], 1.0, 3599.0)
    assert we.gross_j == pytest.approx(energy(1.0, 3599.0), rel=1e-3)


def test_real_sampler_thread_window_matches_integral():
    t_origin = time.monotonic()
    sensor = ScriptedSensor(lambda t: power(t - t_origin))
    smp = Sampler([sensor], hz=50)
    smp.start()
    try:
        time.sleep(0.2)
        a = time.monotonic()
        time.sleep(1.3)
        b = time.monotonic()
        assert smp.wait_past(b)
    finally:
        smp.stop()
    we = window_energy(smp.series_list(), a, b, sample_period_s=smp.period)
    assert we.gross_j == pytest.approx(energy(a - t_origin, b - t_origin), rel=1e-3)
    assert we.quality == ESTIMATED and we.source == "scripted"


def test_sampler_survives_failing_sensor_and_marks_na():
    good = ScriptedSensor(lambda t: 10.0, domain="good")
    bad = ScriptedSensor(lambda t: 10.0, domain="bad", fail_after=3)
    seen = []
    faults = []
    smp = Sampler([good, bad], hz=100, sinks=[seen.extend], on_fault=lambda n, m: faults.append(n))
    smp.start()
    time.sleep(0.2)
    smp.stop()
    assert len(smp.series["good"]) > 10
    assert len(smp.series["bad"]) == 3
    assert faults == ["scripted"]
    assert any(d == "bad" and w is None for _, d, w in seen)  # N/A rows, not zeros
    assert not any(d == "bad" and w == 0 for _, d, w in seen)


def test_tail_is_a_consistent_copy():
    s = DomainSeries(dom())
    fill(s, power, 0.0, 2.0, hz=10)
    t, w = s.tail(1.0)
    assert t[0] == pytest.approx(1.0) and len(t) == len(w) == 11
    t.append(99.0)
    assert s.t[-1] == pytest.approx(2.0)  # a copy: the caller cannot disturb the series
