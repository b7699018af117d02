"""Loopback servers for tests: a binary that may be missing, free ports, a process group to stop, a small
HTTP server serving text, a real Prometheus. Nothing here contacts anything but 127.0.0.1.

A test that needs a server binary calls ``require_binary(name, apt=...)``: when the binary is missing the
test is skipped with the install hint, unless ``IPWTUI_REQUIRE_SERVERS=1`` (CI) makes it fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REQUIRE_ENV = "IPWTUI_REQUIRE_SERVERS"
LOOPBACK = "127.0.0.1"


def unavailable(message: str) -> None:
    """Skip the test for a missing program or package (fail it when IPWTUI_REQUIRE_SERVERS=1: CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}; {REQUIRE_ENV}=1 requires it", pytrace=False)
    pytest.skip(message)


def require_binary(name: str, apt: str | None = None, hint: str | None = None) -> str:
    """The path of an executable, or skip the test (fail it when IPWTUI_REQUIRE_SERVERS=1) with how to
    install it."""
    path = shutil.which(name)
    if path:
        return path
    how = hint or (f"apt-get install -y {apt}" if apt else f"install {name}")
    message = f"{name} not found on PATH ({how})"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}; {REQUIRE_ENV}=1 requires it", pytrace=False)
    pytest.skip(message)
    raise AssertionError("unreachable")  # pytest.skip raises


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now (another process may take it before use: retry on failure)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(cond: Callable[[], bool], timeout_s: float, step_s: float = 0.1) -> bool:
    """Poll ``cond`` until it holds (True) or ``timeout_s`` passes (False). Exceptions count as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if cond():
                return True
        except Exception:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(step_s)


def assert_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname
    assert host == LOOPBACK, f"a test tried to contact {host!r}; tests contact only {LOOPBACK}"


def loopback_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET a loopback URL without any proxy: (status, body)."""
    assert_loopback(url)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


@dataclass
class Process:
    """A server process in its own process group, its output in a log file."""

    popen: subprocess.Popen
    log: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM the whole group, SIGKILL it after ``grace_s``."""
        if not self.alive:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(grace_s)
        except ProcessLookupError:
            pass


def start_process(argv: list[str], log: Path, cwd: Path | None = None) -> Process:
    """Start ``argv`` in a new session (its own process group), stdout and stderr to ``log``."""
    with open(log, "wb") as out:
        popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=cwd, start_new_session=True)
    return Process(popen, log)


class TextServer:
    """An HTTP server on 127.0.0.1 (free port, daemon thread) answering GET ``path`` with ``render()``,
    computed at request time (an exporter's /metrics). ``hits`` counts the requests served."""

    def __init__(self, render: Callable[[], str], path: str = "/metrics",
                 content_type: str = "text/plain; version=0.0.4; charset=utf-8"):
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != path:
                    self.send_error(404)
                    return
                body = render().encode()
                outer.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{LOOPBACK}:{self.port}{path}"
        self.target = f"{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@dataclass
class Prometheus:
    """A real Prometheus on loopback with its own config and data folder."""

    url: str
    process: Process
    folder: Path
    scrape_interval_s: float
    targets: list[str] = field(default_factory=list)

    def query(self, promql: str, at: float | None = None) -> dict:
        params = {"query": promql} | ({"time": f"{at:.3f}"} if at is not None else {})
        status, body = loopback_get(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}")
        doc = json.loads(body)
        assert status == 200 and doc.get("status") == "success", doc
        return doc["data"]

    def samples(self, selector: str, lookback_s: int = 300) -> list[list[tuple[float, float]]]:
        """The raw samples of each series matching ``selector`` in the last ``lookback_s`` seconds."""
        data = self.query(f"{selector}[{lookback_s}s]")
        return [[(float(t), float(v)) for t, v in s["values"]] for s in data["result"]]

    def wait_scraped(self, selector: str, count: int = 2, timeout_s: float = 60.0) -> bool:
        """Wait until every series of ``selector`` has ``count`` samples or more (and there is a series)."""
        def enough() -> bool:
            series = self.samples(selector)
            return bool(series) and all(len(s) >= count for s in series)

        return wait_until(enough, timeout_s, step_s=min(0.25, self.scrape_interval_s / 2))

    def stop(self) -> None:
        self.process.stop()


def start_prometheus(targets: list[str], folder: Path, scrape_interval_s: float = 1.0,
                     binary: str = "prometheus", attempts: int = 3, ready_timeout_s: float = 60.0) -> Prometheus:
    """Start Prometheus on a free loopback port, scraping ``targets`` (host:port on loopback) every
    ``scrape_interval_s``, storing in ``folder``; wait until it is ready. Skips (or fails under
    IPWTUI_REQUIRE_SERVERS=1) when the binary is missing."""
    exe = require_binary(binary, apt="prometheus")
    for t in targets:
        assert_loopback(f"http://{t}")
    folder.mkdir(parents=True, exist_ok=True)
    interval = f"{round(scrape_interval_s * 1000)}ms"
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  scrape_timeout: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        "  - job_name: exporter\n"
        "    static_configs:\n"
        f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
    last = ""
    for attempt in range(attempts):
        port = free_port()
        url = f"http://{LOOPBACK}:{port}"
        proc = start_process([exe, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
                              f"--web.listen-address={LOOPBACK}:{port}", "--log.level=warn"],
                             folder / f"prometheus-{attempt}.log", cwd=folder)
        ready = wait_until(lambda p=proc, u=url: not p.alive or loopback_get(f"{u}/-/ready", 2.0)[0] == 200,
                           ready_timeout_s, step_s=0.1)
        if ready and proc.alive:
            return Prometheus(url, proc, folder, scrape_interval_s, list(targets))
        last = proc.log_tail(600)
        proc.stop()  # the port was taken, or it failed: try another port
    raise RuntimeError(f"Prometheus did not start after {attempts} attempts: {last}")
