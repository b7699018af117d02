"""A scriptable, misbehaving OpenAI-compatible server on 127.0.0.1 for the openai backend's tests.

Each POST to ``/v1/chat/completions`` takes the next scripted reply (``push``); with none left it streams a
short normal answer. ``GET /v1/models`` lists ``models`` (or answers ``models_status``). Every request is
kept in ``requests`` (method, path, headers, JSON body) for the tests to look at.

Replies:
- ``Status(code, body, headers)``: an HTTP error (or any status) with a JSON or text body;
- ``Stream(chunks, ...)``: a ``text/event-stream`` answer, chunked; a dict chunk is sent as ``data: JSON``,
  a str as raw text (a comment, a malformed line, an ``error:`` field); options delay the headers or the
  first chunk, pace the chunks, leave out ``[DONE]``, or drop the connection after some chunks;
- ``Whole(obj)``: a non-streamed JSON answer.

The chunk builders give the shapes real servers send: OpenAI's separate usage chunk with empty choices,
llama.cpp's usage and timings on the final chunk, vLLM's cumulative usage on every chunk, and
llama-cpp-python's stream with no usage at all.

Sleeps wait on an event that ``close()`` sets, so closing never waits for a scripted delay.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fault-model"


@dataclass
class Status:
    code: int
    body: Any = None  # dict -> JSON, str -> text
    headers: dict = field(default_factory=dict)


@dataclass
class Stream:
    chunks: list
    done: bool = True  # send "data: [DONE]"
    head_delay: float = 0.0  # before the status line
    first_delay: float = 0.0  # after the headers, before the first chunk
    delay: float = 0.0  # between chunks
    drop_after: int | None = None  # close the connection after this many chunks (no terminator)
    headers: dict = field(default_factory=dict)


@dataclass
class Whole:
    obj: dict
    code: int = 200


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: Any


# ---- chunk builders --------------------------------------------------------------------------------


def chunk(content: str | None = None, finish: str | None = None, model: str = MODEL, **extra: Any) -> dict:
    delta = {} if content is None else {"content": content}
    c = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1, "model": model,
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    c.update(extra)
    return c


def plain(pieces: list[str], finish: str = "stop") -> list[dict]:
    """llama-cpp-python's server: a role chunk, one chunk per piece, a finish chunk, no usage."""
    first = chunk()
    first["choices"][0]["delta"] = {"role": "assistant"}
    return [first] + [chunk(p) for p in pieces] + [chunk(None, finish)]


def openai_shape(pieces: list[str], prompt_tokens: int, completion_tokens: int, finish: str = "stop",
                 fingerprint: str = "fp_fault") -> list[dict]:
    """OpenAI with include_usage: ``usage: null`` on every chunk, then one more chunk with empty choices
    and the usage, before [DONE]."""
    out = [chunk(p, usage=None, system_fingerprint=fingerprint) for p in pieces]
    out.append(chunk(None, finish, usage=None, system_fingerprint=fingerprint))
    last = chunk(None, None, system_fingerprint=fingerprint,
                 usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens})
    last["choices"] = []
    out.append(last)
    return out


def llamacpp_shape(pieces: list[str], timings: dict, usage: dict | None = None, finish: str = "stop"
                   ) -> list[dict]:
    """llama.cpp's llama-server: usage (when given) and timings on the final chunk, which still holds the
    finish_reason in its one choice."""
    out = [chunk(p) for p in pieces]
    final = chunk(None, finish, timings=timings)
    if usage is not None:
        final["usage"] = usage
    out.append(final)
    return out


def vllm_continuous(pieces: list[str], prompt_tokens: int, finish: str = "stop") -> list[dict]:
    """vLLM with continuous usage stats: cumulative usage on every chunk (and on the final usage chunk)."""
    out = []
    for i, p in enumerate(pieces, 1):
        out.append(chunk(p, usage={"prompt_tokens": prompt_tokens, "completion_tokens": i,
                                   "total_tokens": prompt_tokens + i}))
    n = len(pieces)
    out.append(chunk(None, finish, usage={"prompt_tokens": prompt_tokens, "completion_tokens": n,
                                          "total_tokens": prompt_tokens + n}))
    last = chunk(None, None, usage={"prompt_tokens": prompt_tokens, "completion_tokens": n,
                                    "total_tokens": prompt_tokens + n})
    last["choices"] = []
    out.append(last)
    return out


# ---- the server -----------------------------------------------------------------------------------


class FaultServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.models: list[str] | None = [MODEL]
        self.models_status = 200
        self.default_pieces = ["The", " answer", " is", " (A)."]
        self._script: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._httpd = _Quiet(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Any) -> "FaultServer":
        with self._lock:
            self._script.extend(replies)
        return self

    def next_reply(self) -> Any:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return Stream(plain(self.default_pieces))

    def sleep(self, seconds: float) -> bool:
        """Sleeps; False when the server is closing."""
        return not self._stop.wait(seconds) if seconds > 0 else not self._stop.is_set()

    def completions(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FaultServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (as the backend does after a fault or a stop) is not a server fault."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: FaultServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self, body: Any) -> None:
        self.server_owner.requests.append(Request(self.command, self.path, dict(self.headers), body))

    def _send(self, code: int, body: Any, headers: dict | None = None) -> None:
        if isinstance(body, (dict, list)):
            raw, ctype = json.dumps(body).encode(), "application/json"
        else:
            raw, ctype = (body or "").encode(), "text/plain; charset=utf-8"
        self.send_response(code)
        if not any(k.lower() == "content-type" for k in (headers or {})):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def do_GET(self) -> None:
        self._record(None)
        owner = self.server_owner
        if not self.path.rstrip("/").endswith("/models"):
            self._send(404, {"error": {"message": "not found"}})
        elif owner.models_status != 200 or owner.models is None:
            code = owner.models_status if owner.models_status != 200 else 404
            self._send(code, {"error": {"message": f"models: {code}"}})
        else:
            self._send(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "fault"}
                                                        for m in owner.models]})

    def do_POST(self) -> None:
        body = self._read_body()
        self._record(body)
        owner = self.server_owner
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found"}})
            return
        if isinstance(body, dict) and not body.get("stream"):  # the 1-token check
            reply: Any = Whole({"id": "x", "object": "chat.completion", "model": MODEL,
                                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                                             "finish_reason": "length"}],
                                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        else:
            reply = owner.next_reply()
        try:
            if isinstance(reply, Status):
                self._send(reply.code, reply.body, reply.headers)
            elif isinstance(reply, Whole):
                self._send(reply.code, reply.obj)
            else:
                self._stream(reply)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _chunked(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, s: Stream) -> None:
        owner = self.server_owner
        if not owner.sleep(s.head_delay):
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in s.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()
        if not owner.sleep(s.first_delay):
            self.close_connection = True
            return
        for i, c in enumerate(s.chunks):
            if s.drop_after is not None and i >= s.drop_after:
                self._drop()
                return
            if i and s.delay and not owner.sleep(s.delay):
                self.close_connection = True
                return
            text = c if isinstance(c, str) else f"data: {json.dumps(c)}\n\n"
            self._chunked(text.encode())
        if s.drop_after is not None and s.drop_after >= len(s.chunks):
            self._drop()
            return
        if s.done:
            self._chunked(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """The connection ends in the middle of the chunked body, as when the server process dies."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
