"""The labels every sensor shares: the boundary vocabulary, flags on capabilities, SensorSet.close()."""

from __future__ import annotations

import pytest

from ipwtui.core.sensors import base
from ipwtui.core.sensors.base import (
    BOUNDARIES,
    MEASURED,
    UNAVAILABLE,
    Capability,
    Domain,
    SensorSet,
    describe_boundary,
    register_boundary,
)


def test_vocabulary_has_the_documented_names():
    for name in ("accelerator", "cpu-package", "dram", "soc", "whole-machine", "process-cpu-time",
                 "system-cpu-time"):
        assert name in BOUNDARIES and len(describe_boundary(name)) > 20
    assert describe_boundary("no-such-boundary") == "no-such-boundary"


def test_register_boundary_grows_the_vocabulary(monkeypatch):
    monkeypatch.setattr(base, "BOUNDARIES", dict(BOUNDARIES))
    assert register_boundary("server", "a whole remote server") == "server"
    assert base.describe_boundary("server") == "a whole remote server"
    register_boundary("server", "a whole remote server")  # the same text again is fine
    with pytest.raises(ValueError, match="already defined"):
        register_boundary("server", "something else")
    with pytest.raises(ValueError):
        register_boundary("two words", "x")


def test_capability_of_a_domain_and_as_dict():
    d = Domain("gpu0", "gpu", "nvml-counter", MEASURED, "gpu0", True, 0.1, True, "A100 (GPU 0)",
               "accelerator", ("wrap-unknown",))
    c = Capability.of(d, reason="why", fix="how")
    assert (c.domain, c.available, c.boundary, c.flags, c.period_s, c.label) == (
        "gpu0", True, "accelerator", ("wrap-unknown",), 0.1, "A100 (GPU 0)")
    row = c.as_dict()
    assert row["boundary"] == "accelerator" and row["flags"] == ["wrap-unknown"]
    assert (row["reason"], row["fix"], row["source"], row["quality"]) == ("why", "how", "nvml-counter", MEASURED)


def test_defaults_keep_old_call_sites_working():
    d = Domain("x", "cpu", "s", MEASURED, "cpu", False)
    c = Capability("x", "cpu", "s", UNAVAILABLE, "cpu", False)
    assert d.boundary == c.boundary == "unspecified" and d.flags == c.flags == ()


class _Closable:
    def __init__(self, fail: bool = False):
        self.fail, self.closed = fail, 0

    def domains(self):
        return []

    def close(self):
        self.closed += 1
        if self.fail:
            raise RuntimeError("driver gone")


def test_sensor_set_close_closes_every_sensor_even_after_a_failure():
    a, b, c = _Closable(), _Closable(fail=True), _Closable()
    SensorSet(sensors=[a, b, c]).close()
    assert (a.closed, b.closed, c.closed) == (1, 1, 1)


def test_open_files_rereads_a_kept_descriptor_and_reopens_after_a_failure(tmp_path, monkeypatch):
    import errno
    import os

    from ipwtui.core.sensors.base import OpenFiles

    f = tmp_path / "energy_uj"
    f.write_text("100\n")
    files = OpenFiles()
    assert files(str(f)) == "100\n"
    f.write_text("250\n")  # rewritten in place, as the kernel regenerates an attribute
    assert files(str(f)) == "250\n" and len(files) == 1
    real = os.pread
    calls = {"n": 0}

    def failing_once(fd, n, off):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.ENODEV, "No such device")
        return real(fd, n, off)

    monkeypatch.setattr(base.os, "pread", failing_once)
    with pytest.raises(OSError):
        files(str(f))
    assert len(files) == 0  # the failed descriptor is dropped ...
    assert files(str(f)) == "250\n" and len(files) == 1  # ... and the path opened again
    files.close()
    assert len(files) == 0
    with pytest.raises(FileNotFoundError):
        files(str(tmp_path / "missing"))
