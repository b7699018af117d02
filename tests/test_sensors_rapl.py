"""RAPL reader on fake powercap trees."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ipwtui.core.sensors.base import MEASURED, UNAVAILABLE, SensorError
from ipwtui.core.sensors.rapl import NO_RAPL_REASON, PERMISSION_REASON, RaplSensor

BIG = 262_143_328_850  # a common max_energy_range_uj


def zone(root: Path, zid: str, name: str, energy: int, max_range: int | None = BIG, parent: str | None = None) -> Path:
    """Create one zone folder, flat under class/powercap or nested inside ``parent``."""
    base = root / "class" / "powercap"
    d = (base / parent / zid) if parent else (base / zid)
    d.mkdir(parents=True, exist_ok=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{energy}\n")
    if max_range is not None:
        (d / "max_energy_range_uj").write_text(f"{max_range}\n")
    return d


def set_energy(d: Path, uj: int) -> None:
    (d / "energy_uj").write_text(f"{uj}\n")


def vanish(monkeypatch, *files: Path) -> None:
    """Take files away as sysfs does when a device goes: a kept descriptor then reads ENODEV, and the path
    is gone for a new open."""
    import errno

    from ipwtui.core.sensors import base

    gone = {os.path.realpath(f) for f in files}
    real = getattr(base.os.pread, "real", base.os.pread)
    gone |= getattr(base.os.pread, "gone", set())

    def pread(fd, n, off):
        if os.readlink(f"/proc/self/fd/{fd}").removesuffix(" (deleted)") in gone:
            raise OSError(errno.ENODEV, "No such device")
        return real(fd, n, off)

    pread.real, pread.gone = real, gone
    monkeypatch.setattr(base.os, "pread", pread)
    for f in files:
        f.unlink(missing_ok=True)


@pytest.fixture
def server(tmp_path: Path) -> dict[str, Path]:
    """Two packages with core/uncore/dram subzones and a psys zone."""
    z = {
        "pkg0": zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000),
        "core0": zone(tmp_path, "intel-rapl:0:0", "core", 500_000),
        "uncore0": zone(tmp_path, "intel-rapl:0:1", "uncore", 100_000),
        "dram0": zone(tmp_path, "intel-rapl:0:2", "dram", 2_000_000),
        "pkg1": zone(tmp_path, "intel-rapl:1", "package-1", 3_000_000),
        "dram1": zone(tmp_path, "intel-rapl:1:0", "dram", 0),
        "psys": zone(tmp_path, "intel-rapl:2", "psys", 9_000_000),
    }
    # a MMIO duplicate of the package counter must be ignored
    (tmp_path / "class" / "powercap" / "intel-rapl-mmio:0").mkdir()
    (tmp_path / "class" / "powercap" / "intel-rapl-mmio:0" / "name").write_text("package-0\n")
    return z


def by_name(items):
    return {x.domain if hasattr(x, "domain") else x.name: x for x in items}


def test_domains_names_kinds_and_totals(tmp_path, server):
    s = RaplSensor(tmp_path)
    doms = {d.name: d for d in s.domains()}
    assert list(doms) == ["cpu-package-0", "cpu-core-0", "cpu-uncore-0", "dram-0", "cpu-package-1", "dram-1", "psys"]
    summed = sorted(n for n, d in doms.items() if d.in_total)
    assert summed == ["cpu-package-0", "cpu-package-1", "dram-0", "dram-1"]
    assert doms["dram-0"].kind == "dram" and doms["psys"].kind == "system" and doms["cpu-core-0"].kind == "cpu"
    for d in doms.values():
        assert d.source == "rapl" and d.quality == MEASURED and d.has_counter
        assert d.accelerator == "cpu" and d.period_s == pytest.approx(0.001)
    caps = s.probe()
    assert len(caps) == 7 and all(c.available for c in caps)
    assert "never summed" in by_name(caps)["psys"].reason


def test_read_returns_cumulative_joules_since_probe(tmp_path, server):
    s = RaplSensor(tmp_path)
    before = time.monotonic()
    first = {r.domain: r for r in s.read()}
    after = time.monotonic()
    assert all(r.energy_j == 0.0 and r.watts is None for r in first.values())
    assert all(before <= r.t <= after for r in first.values())
    set_energy(server["pkg0"], 1_000_000 + 12_500_000)  # +12.5 J
    set_energy(server["dram1"], 750_000)  # +0.75 J
    second = {r.domain: r for r in s.read()}
    assert second["cpu-package-0"].energy_j == pytest.approx(12.5)
    assert second["dram-1"].energy_j == pytest.approx(0.75)
    assert second["cpu-package-1"].energy_j == 0.0
    set_energy(server["pkg0"], 1_000_000 + 20_000_000)
    assert by_name(s.read())["cpu-package-0"].energy_j == pytest.approx(20.0)


def test_wraparound_adds_max_energy_range(tmp_path):
    d = zone(tmp_path, "intel-rapl:0", "package-0", 900_000, max_range=1_000_000)
    s = RaplSensor(tmp_path)
    assert s.read()[0].energy_j == 0.0
    set_energy(d, 100_000)  # wrapped: 100_000 to the top, 100_000 after
    assert s.read()[0].energy_j == pytest.approx(0.2)
    set_energy(d, 400_000)
    assert s.read()[0].energy_j == pytest.approx(0.5)
    set_energy(d, 50_000)  # wraps again: +600_000 +50_000
    assert s.read()[0].energy_j == pytest.approx(1.15)


def test_wrap_without_known_range_counts_from_zero(tmp_path):
    d = zone(tmp_path, "intel-rapl:0", "package-0", 900_000, max_range=None)
    s = RaplSensor(tmp_path)
    s.read()
    set_energy(d, 300_000)
    assert s.read()[0].energy_j == pytest.approx(0.3)


def test_nested_subzones_are_found_once(tmp_path):
    zone(tmp_path, "intel-rapl:0", "package-0", 10)
    zone(tmp_path, "intel-rapl:0:0", "core", 5, parent="intel-rapl:0")
    zone(tmp_path, "intel-rapl:0:1", "dram", 7, parent="intel-rapl:0")
    zone(tmp_path, "intel-rapl:0:1", "dram", 7)  # also linked flat, as real sysfs does
    names = [d.name for d in RaplSensor(tmp_path).domains()]
    assert names == ["cpu-package-0", "cpu-core-0", "dram-0"]


def test_multi_die_package_names(tmp_path):
    zone(tmp_path, "intel-rapl:0", "package-0-die-0", 10)
    zone(tmp_path, "intel-rapl:1", "package-0-die-1", 10)
    doms = RaplSensor(tmp_path).domains()
    assert [d.name for d in doms] == ["cpu-package-0-die-0", "cpu-package-0-die-1"]
    assert all(d.in_total for d in doms)


def _deny(path_part: str):
    """An opener that refuses one zone's energy_uj, like a mode 0400 file for a normal user."""

    def opener(path: str) -> str:
        if path_part in path and path.endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", path)
        with open(path) as f:
            return f.read()

    return opener


def test_root_only_energy_gives_reason_and_fix_and_others_work(tmp_path, server):
    s = RaplSensor(tmp_path, opener=_deny("intel-rapl:1" + os.sep))
    caps = by_name(s.probe())
    pkg1 = caps["cpu-package-1"]
    assert not pkg1.available and pkg1.quality == UNAVAILABLE and pkg1.in_total
    assert pkg1.reason == PERMISSION_REASON
    assert pkg1.fix.startswith(f"sudo chmod a+r {tmp_path}/class/powercap/intel-rapl:*/energy_uj")
    assert "udev" in pkg1.fix
    assert caps["cpu-package-0"].available and caps["dram-1"].available  # intel-rapl:1:0 is not refused
    assert "cpu-package-1" not in {d.name for d in s.domains()}
    set_energy(server["pkg0"], 3_000_000)
    assert by_name(s.read())["cpu-package-0"].energy_j == pytest.approx(2.0)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads mode-000 files anyway")
def test_root_only_energy_real_permissions(tmp_path, server):
    f = server["pkg1"] / "energy_uj"
    f.chmod(0)
    try:
        caps = by_name(RaplSensor(tmp_path).probe())
        assert caps["cpu-package-1"].reason == PERMISSION_REASON
        assert caps["cpu-package-0"].available
    finally:
        f.chmod(0o644)


def test_no_powercap_folder(tmp_path):
    caps = RaplSensor(tmp_path).probe()
    assert len(caps) == 1
    c = caps[0]
    assert (c.domain, c.source, c.available, c.quality) == ("cpu-package", "rapl", False, UNAVAILABLE)
    assert c.reason == NO_RAPL_REASON
    assert "IPWTUI_SYSFS_ROOT" in c.fix
    assert RaplSensor(tmp_path).domains() == []
    assert RaplSensor(tmp_path).read() == []


def test_empty_powercap_folder(tmp_path):
    (tmp_path / "class" / "powercap").mkdir(parents=True)
    caps = RaplSensor(tmp_path).probe()
    assert [c.reason for c in caps] == [NO_RAPL_REASON]


def test_env_root_is_honoured(tmp_path, monkeypatch):
    zone(tmp_path, "intel-rapl:0", "package-0", 42)
    monkeypatch.setenv("IPWTUI_SYSFS_ROOT", str(tmp_path))
    s = RaplSensor()
    assert s.root == str(tmp_path)
    assert [d.name for d in s.domains()] == ["cpu-package-0"]
    # an explicit root beats the environment
    assert RaplSensor(tmp_path / "elsewhere").domains() == []


def test_vanished_zone_is_omitted_then_all_gone_raises(tmp_path, server, monkeypatch):
    s = RaplSensor(tmp_path)
    s.read()
    vanish(monkeypatch, server["dram0"] / "energy_uj")
    set_energy(server["pkg0"], 2_000_000)
    got = by_name(s.read())
    assert "dram-0" not in got and got["cpu-package-0"].energy_j == pytest.approx(1.0)
    assert "dram-0" not in by_name(s.read())  # reopening fails too: still left out
    vanish(monkeypatch, *(d / "energy_uj" for d in server.values()))
    with pytest.raises(SensorError):
        s.read()


def test_garbage_counter_is_omitted(tmp_path, server):
    s = RaplSensor(tmp_path)
    s.read()
    (server["pkg1"] / "energy_uj").write_text("not a number\n")
    assert "cpu-package-1" not in by_name(s.read())


# ---- boundary, wrap flag, concurrency --------------------------------------------------------------


def test_boundaries_say_what_each_zone_covers(tmp_path, server):
    doms = {d.name: d for d in RaplSensor(tmp_path).domains()}
    assert {n: d.boundary for n, d in doms.items()} == {
        "cpu-package-0": "cpu-package", "cpu-core-0": "cpu-cores", "cpu-uncore-0": "cpu-uncore",
        "dram-0": "dram", "cpu-package-1": "cpu-package", "dram-1": "dram", "psys": "platform",
    }
    caps = by_name(RaplSensor(tmp_path).probe())
    assert all(caps[n].boundary == d.boundary for n, d in doms.items())
    assert caps["psys"].as_dict()["boundary"] == "platform"


def test_no_powercap_line_has_a_boundary(tmp_path):
    (c,) = RaplSensor(tmp_path).probe()
    assert c.boundary == "cpu-package"


@pytest.mark.parametrize("content", [None, "garbage\n", "0\n"])
def test_unknown_wrap_range_flags_the_domain(tmp_path, content):
    d = zone(tmp_path, "intel-rapl:0", "package-0", 10, max_range=None)
    zone(tmp_path, "intel-rapl:1", "package-1", 10)
    if content is not None:
        (d / "max_energy_range_uj").write_text(content)
    s = RaplSensor(tmp_path)
    doms = {x.name: x for x in s.domains()}
    assert doms["cpu-package-0"].flags == ("wrap-unknown",)
    assert doms["cpu-package-0"].quality == MEASURED  # still a measurement, with a caveat that travels
    assert doms["cpu-package-1"].flags == ()
    caps = by_name(s.probe())
    pkg0 = caps["cpu-package-0"]
    assert pkg0.available and pkg0.flags == ("wrap-unknown",)
    assert "max_energy_range_uj" in pkg0.reason and "wrap" in pkg0.reason
    assert pkg0.as_dict()["flags"] == ["wrap-unknown"]
    assert caps["cpu-package-1"].reason == "" and caps["cpu-package-1"].as_dict()["flags"] == []


def test_unreadable_wrap_range_flags_the_domain(tmp_path):
    zone(tmp_path, "intel-rapl:0", "package-0", 10)

    def opener(path: str) -> str:
        if path.endswith("max_energy_range_uj"):
            raise PermissionError(13, "Permission denied", path)
        with open(path) as f:
            return f.read()

    (d,) = RaplSensor(tmp_path, opener=opener).domains()
    assert d.flags == ("wrap-unknown",)


class _Hardware:
    """An energy_uj that advances by ``step`` each time it is read and wraps at ``top``, with a thread
    switch between the hardware read and the return, so that unlocked bookkeeping would interleave."""

    def __init__(self, top: int, step: int):
        self.top, self.step, self.raw, self.reads = top, step, 0, 0
        self._lock = threading.Lock()

    def opener(self, path: str) -> str:
        if path.endswith("energy_uj") and not path.endswith("max_energy_range_uj"):
            with self._lock:
                self.raw = (self.raw + self.step) % (self.top + 1)
                self.reads += 1
                v = self.raw
            time.sleep(0)  # let the other thread run here
            return f"{v}\n"
        with open(path) as f:
            return f.read()


def test_two_threads_reading_keep_the_counter_monotone_and_exact(tmp_path):
    top, step = 1_000_000, 7_777  # wraps about every 129 reads
    zone(tmp_path, "intel-rapl:0", "package-0", 0, max_range=top)
    hw = _Hardware(top, step)
    s = RaplSensor(tmp_path, opener=hw.opener)
    s.probe()  # one hardware read: the starting point
    per_thread: dict[int, list] = {0: [], 1: []}
    start = threading.Barrier(2)

    def hammer(k: int) -> None:
        start.wait()
        for _ in range(1500):
            per_thread[k].extend(s.read())

    threads = [threading.Thread(target=hammer, args=(k,)) for k in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for rs in per_thread.values():  # each thread sees time and energy only go forward
        assert all(b.t >= a.t and b.energy_j >= a.energy_j for a, b in zip(rs, rs[1:]))
    merged = sorted(per_thread[0] + per_thread[1], key=lambda r: (r.t, r.energy_j))
    assert all(b.energy_j >= a.energy_j for a, b in zip(merged, merged[1:]))
    # every hardware step counted exactly once, across many wraps
    assert hw.reads == 3001
    assert merged[-1].energy_j == pytest.approx((hw.reads - 1) * step / 1e6)
    energies = [r.energy_j for r in merged]
    assert len(set(energies)) == len(energies)  # no two reads saw the same counter state


def test_close_releases_the_kept_files(tmp_path, server):
    s = RaplSensor(tmp_path)
    s.read()
    assert len(s._files) == 7
    s.close()
    assert len(s._files) == 0
