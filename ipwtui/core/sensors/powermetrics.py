"""Apple silicon energy from ``sudo powermetrics``: an opt-in alternative to the IOReport reader.

It runs only when asked for (``IPWTUI_POWERMETRICS=1`` or ``probe_all(powermetrics=True)``), since it needs
root: ``powermetrics --samplers cpu_power,gpu_power -i <ms> -f plist`` as root, else through ``sudo -n``
(which fails at once instead of asking for a password). Its output is a stream of plist documents
separated by NUL bytes; in each, ``processor`` holds the energy of the last interval in mJ (``cpu_energy``,
``gpu_energy``, ``ane_energy``; ``gpu_energy`` sits in ``gpu`` on some releases) and the matching powers in
mW (``cpu_power``, ``gpu_power``, ``ane_power``), and ``elapsed_ns`` the interval's length.

A thread reads the stream and adds each interval to running totals, so that ``read()`` returns a cumulative
counter at once (it lags by up to one interval: the period). Domains: ``soc`` (CPU + GPU + ANE; no DRAM
channel here) and each part nested in it, all in the accelerator group ``soc``, quality ``model-based``
(the same energy model IOReport exposes). ``spawn`` is injectable: tests feed a sample stream.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .base import (
    BOUNDARY_ACCELERATOR,
    BOUNDARY_CPU_PACKAGE,
    BOUNDARY_SOC,
    MODEL_BASED,
    UNAVAILABLE,
    Capability,
    Domain,
    Reading,
    SensorError,
)

SOURCE = "powermetrics"
ENV_ENABLE = "IPWTUI_POWERMETRICS"
ACCELERATOR = "soc"
DEFAULT_INTERVAL_MS = 200
OPT_IN_REASON = f"opt-in (needs sudo): set {ENV_ENABLE}=1 to use it; the IOReport reader needs no sudo"
FIX_SUDO = (
    "run `sudo -v` just before starting ipwtui (or run it as root); or unset "
    f"{ENV_ENABLE} to use IOReport, which needs no sudo"
)
PARTS = (("soc-cpu", "cpu", "cpu", BOUNDARY_CPU_PACKAGE, "CPU"),
         ("soc-gpu", "gpu", "gpu", BOUNDARY_ACCELERATOR, "GPU"),
         ("soc-ane", "ane", "ane", BOUNDARY_ACCELERATOR, "Neural Engine"))


def enabled_by_env() -> bool:
    return os.environ.get(ENV_ENABLE, "").strip().lower() in ("1", "true", "yes", "on")


def _energy(proc: dict, top: dict, part: str, elapsed_s: float | None) -> float | None:
    """mJ of one part in one interval: its energy field, else its power (mW) x the interval."""
    nested = top.get(part)
    for holder in (proc, nested if isinstance(nested, dict) else {}):
        v = holder.get(f"{part}_energy")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    w = proc.get(f"{part}_power")
    if isinstance(w, (int, float)) and not isinstance(w, bool) and elapsed_s is not None:
        return float(w) * elapsed_s
    return None


def parse_sample(doc: dict) -> dict[str, float | None]:
    """One powermetrics sample -> {"elapsed_s", "cpu", "gpu", "ane"} (mJ, None when absent)."""
    ns = doc.get("elapsed_ns")
    elapsed = ns / 1e9 if isinstance(ns, (int, float)) and ns > 0 else None
    raw = doc.get("processor")
    proc: dict = raw if isinstance(raw, dict) else {}
    out: dict[str, float | None] = {"elapsed_s": elapsed}
    for part in ("cpu", "gpu", "ane"):
        out[part] = _energy(proc, doc, part, elapsed)
    return out


def parse_stream(buf: bytes) -> tuple[list[dict[str, float | None]], bytes, list[str]]:
    """The complete samples in ``buf``, the unfinished tail to keep, and errors for unparsable documents."""
    import plistlib

    *docs, tail = buf.split(b"\0")
    samples, errors = [], []
    for raw in docs:
        raw = raw.strip()
        if not raw:
            continue
        try:
            doc = plistlib.loads(raw)
        except Exception as e:  # plistlib raises InvalidFileException, ExpatError, ValueError...
            errors.append(f"unreadable powermetrics sample: {type(e).__name__}: {e}")
            continue
        if isinstance(doc, dict):
            samples.append(parse_sample(doc))
    return samples, tail, errors


def _default_spawn(cmd: list[str]) -> Any:
    import subprocess

    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class PowermetricsSensor:
    """``powermetrics`` run as a child process; cumulative mJ per part from its plist stream."""

    name = "powermetrics"

    def __init__(self, enabled: bool | None = None, interval_ms: int = DEFAULT_INTERVAL_MS,
                 spawn: Callable[[list[str]], Any] | None = None, platform: str | None = None,
                 euid: int | None = None, first_sample_timeout_s: float | None = None):
        self.enabled = enabled_by_env() if enabled is None else enabled
        self.interval_ms = int(interval_ms)
        self.period_s = self.interval_ms / 1000.0
        self._spawn = spawn
        self.platform = platform or sys.platform
        self._euid = euid if euid is not None else (os.geteuid() if hasattr(os, "geteuid") else -1)
        self._timeout = first_sample_timeout_s if first_sample_timeout_s is not None else 2.0 + 3 * self.period_s
        self._proc: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._totals = {"cpu": 0.0, "gpu": 0.0, "ane": 0.0}
        self._parts: list[tuple[str, str, str, str, str]] = []
        self._error = ""  # why the stream ended, for read()
        self.errors = 0  # unparsable samples skipped
        self._domains: list[Domain] | None = None
        self._caps: list[Capability] = []

    def command(self) -> list[str]:
        cmd = ["powermetrics", "--samplers", "cpu_power,gpu_power", "-i", str(self.interval_ms), "-f", "plist"]
        return cmd if self._euid == 0 else ["sudo", "-n", *cmd]

    def _missing(self, reason: str, fix: str = "") -> Capability:
        return Capability("soc", "soc", SOURCE, UNAVAILABLE, ACCELERATOR, False, self.period_s, reason, fix,
                          "Apple SoC (powermetrics)", boundary=BOUNDARY_SOC)

    # ---- the stream ------------------------------------------------------------------------------
    def _pump(self, stream: Any) -> None:
        read = getattr(stream, "read1", None) or stream.read
        buf = b""
        while True:
            try:
                chunk = read(65536)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                break
            samples, buf, errors = parse_stream(buf + chunk)
            with self._lock:
                self.errors += len(errors)
                for s in samples:
                    for part in self._totals:
                        v = s[part]
                        if v is not None and v >= 0:
                            self._totals[part] += v
                    if not self._first.is_set():
                        self._parts = [p for p in PARTS if s[p[2]] is not None]
                        self._first.set()
        try:
            self._proc.wait(timeout=1.0)  # its output ended: it is exiting, and stderr says why
        except Exception:
            pass
        why = self._stderr()
        with self._lock:
            self._error = "powermetrics stopped: " + (why or "its output ended")

    def _stderr(self) -> str:
        err = getattr(self._proc, "stderr", None)
        if err is None:
            return ""
        try:
            if self._proc.poll() is None:
                return ""
            text = err.read() or b""
        except (OSError, ValueError):
            return ""
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return " ".join(text.split())[:200]

    def _start(self) -> str:
        """Start powermetrics and wait for its first sample; '' on success, else why not."""
        import shutil

        spawn = self._spawn or _default_spawn
        if self._spawn is None and shutil.which("powermetrics") is None:
            return "powermetrics is not on the PATH"
        try:
            self._proc = spawn(self.command())
        except OSError as e:
            return f"cannot start powermetrics: {e}"
        self._thread = threading.Thread(target=self._pump, args=(self._proc.stdout,), name="ipwtui-powermetrics",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._first.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                break
        if self._first.is_set():
            return ""
        if not self._thread.is_alive():
            with self._lock:
                return self._error.replace("powermetrics stopped: ", "powermetrics exited: ", 1)
        self._stop()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        why = self._stderr()
        return f"no sample from powermetrics within {self._timeout:.1f} s" + (f": {why}" if why else "")

    # ---- discovery -------------------------------------------------------------------------------
    def _probe(self) -> None:
        self._domains, self._caps = [], []
        if not self.enabled:
            self._caps.append(self._missing(OPT_IN_REASON))
            return
        if self.platform != "darwin":
            self._caps.append(self._missing(f"powermetrics is macOS-only (this is {self.platform})"))
            return
        why = self._start()
        if why:
            self._caps.append(self._missing(why, FIX_SUDO))
            return
        with self._lock:
            parts = list(self._parts)
        if not parts:
            self._stop()
            self._caps.append(self._missing("powermetrics reports no CPU, GPU or ANE energy (not Apple silicon?)"))
            return
        what = " + ".join(p[4] for p in parts)
        soc = Domain("soc", "soc", SOURCE, MODEL_BASED, ACCELERATOR, True, self.period_s, True,
                     f"Apple SoC: {what} (powermetrics)", BOUNDARY_SOC)
        self._domains.append(soc)
        self._caps.append(Capability.of(soc, reason=f"Apple's energy model through sudo powermetrics, every "
                                                    f"{self.interval_ms} ms; sum of {what} (no DRAM channel)"))
        for name, kind, _key, boundary, label in parts:
            d = Domain(name, kind, SOURCE, MODEL_BASED, ACCELERATOR, True, self.period_s, False,
                       f"Apple SoC {label} (powermetrics)", boundary)
            self._domains.append(d)
            self._caps.append(Capability.of(d, reason="part of the SoC figure: shown, never summed"))

    def _ensure(self) -> list[Domain]:
        if self._domains is None:
            self._probe()
        assert self._domains is not None
        return self._domains

    # ---- Sensor protocol -------------------------------------------------------------------------
    def probe(self) -> list[Capability]:
        self._ensure()
        return list(self._caps)

    def domains(self) -> list[Domain]:
        return list(self._ensure())

    def read(self) -> list[Reading]:
        """Cumulative joules of the intervals received so far; SensorError once powermetrics has stopped."""
        doms = self._ensure()
        if not doms:
            return []
        with self._lock:
            if self._error:
                raise SensorError(self._error)
            t = time.monotonic()
            out = [Reading("soc", t, energy_j=sum(self._totals[p[2]] for p in self._parts) / 1000.0)]
            out += [Reading(p[0], t, energy_j=self._totals[p[2]] / 1000.0) for p in self._parts]
            return out

    def _stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.terminate()  # sudo passes the signal on to powermetrics
            proc.wait(timeout=2.0)
        except Exception:
            try:
                proc.kill()
            except Exception:
                pass

    def close(self) -> None:
        """Stop powermetrics (once)."""
        self._stop()
        with self._lock:
            self._error = self._error or "powermetrics is closed"
