"""What the OpenAI-compatible backend needs around HTTP: the key kept out of every message, one-line
error messages, faults mapped to ``BackendError`` with ``retryable``/``retry_after``/``status``, and the
server's model list.

httpx is imported only inside functions that talk to a server, so that naming the engine costs nothing.
"""

from __future__ import annotations

import json
import re
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..base import BackendError

HIDDEN = "[key hidden]"
ERROR_BODY_LIMIT = 64 * 1024  # bytes of an error body read at most
MESSAGE_LIMIT = 240  # characters of a server's message kept in a one-line error


def need_httpx():
    try:
        import httpx
    except ImportError:
        raise BackendError("the openai backend needs httpx: pip install 'ipwtui[remote]' (or pip install "
                           "httpx)") from None
    return httpx


class Scrubber:
    """Removes an API key from text and data: the key itself, a word holding a recognisable part of it
    (servers that refuse a key often echo it half masked: ``sk-proj-****abcd``) and any bearer token."""

    _BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")

    def __init__(self, key: str | None):
        self._key = key or None
        # parts of a long key that would identify it: its head and its tail
        self._parts: tuple[str, ...] = ()
        if self._key and len(self._key) >= 16:
            self._parts = (self._key[:8], self._key[-4:])

    @property
    def key(self) -> str | None:
        return self._key

    def text(self, s: str) -> str:
        """``s`` with the key, any word holding a part of it and any bearer token replaced."""
        if not s:
            return s
        if self._key:
            if self._key in s:
                s = s.replace(self._key, HIDDEN)
            if self._parts and any(p in s for p in self._parts):
                s = " ".join(HIDDEN if any(p in w for p in self._parts) else w for w in s.split(" "))
        return self._BEARER.sub(r"\1 " + HIDDEN, s)

    def data(self, obj: Any) -> Any:
        """A copy of JSON-like data with every string scrubbed (keys included)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {self.text(str(k)): self.data(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.data(v) for v in obj]
        return obj


def display_url(url: str) -> str:
    """A URL fit to show: no user name or password, no query string, no fragment."""
    try:
        p = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    host = p.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = p.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((p.scheme, netloc, p.path.rstrip("/"), "", ""))


def host_of(url: str) -> str:
    try:
        p = urlsplit(url)
        return p.hostname + (f":{p.port}" if p.port else "") if p.hostname else display_url(url)
    except ValueError:
        return display_url(url)


def one_line(s: str, limit: int = MESSAGE_LIMIT) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def retry_after_s(headers: Any, now: float | None = None) -> float | None:
    """Seconds a server asked to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            v = float(ms) / 1000.0
            if v >= 0:
                return v
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    ra = ra.strip()
    try:
        v = float(ra)
        return v if v >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(ra)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def body_message(body: bytes) -> str | None:
    """The message in an error body: OpenAI's ``{"error": {"message"}}``, ``{"error": "..."}``,
    FastAPI's ``{"detail": ...}``, ``{"message"}``, or the text itself."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return text
    return message_of(obj) or text


def message_of(obj: Any) -> str | None:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, list):
        parts = [message_of(x) for x in obj[:3]]
        return "; ".join(p for p in parts if p) or None
    if not isinstance(obj, dict):
        return None
    for k in ("error", "detail", "message", "msg"):
        v = obj.get(k)
        if v:
            m = message_of(v)
            if m:
                return m
    return None


RETRYABLE_STATUS = frozenset({408, 409, 429})


def status_retryable(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def status_error(status: int, reason: str, body: bytes, headers: Any, scrub: Scrubber, host: str,
                 key_env: str | None = None, key_set: bool = True) -> BackendError:
    """One HTTP error answer as a BackendError (one line, the key scrubbed)."""
    msg = body_message(body)
    head = f"{host} answered {status}" + (f" {reason}" if reason else "")
    if status in (401, 403) and key_env:
        head += (f" (the key in ${key_env} was refused)" if key_set else
                 f" (no key was sent: ${key_env} is not set)")
    line = head + (f": {msg}" if msg else "")
    if status == 404 and not msg:
        line += " (check the base URL: most end in /v1)"
    retry = retry_after_s(headers) if status in (429, 503) else None
    if retry is not None:
        line += f" (retry after {retry:g} s)"
    return BackendError(scrub.text(one_line(line, MESSAGE_LIMIT + len(head))), retryable=status_retryable(status),
                        retry_after=retry, status=status)


def read_error_body(resp) -> bytes:
    """Up to ERROR_BODY_LIMIT bytes of a streamed response's body (errors while reading give what came)."""
    import httpx

    out = bytearray()
    try:
        for b in resp.iter_bytes():
            out += b
            if len(out) >= ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass  # the status says enough
    return bytes(out[:ERROR_BODY_LIMIT])


def transport_error(exc: Exception, scrub: Scrubber, host: str, connect_s: float, read_s: float,
                    pieces: int | None) -> BackendError:
    """An httpx transport fault as a BackendError. ``pieces``: None before the answer's headers came,
    else the number of visible pieces received so far."""
    import httpx

    why = one_line(scrub.text(str(exc) or type(exc).__name__), 120)
    if isinstance(exc, httpx.ConnectTimeout):
        return BackendError(f"no connection to {host} within {connect_s:g} s (connect timeout)", retryable=True)
    if isinstance(exc, httpx.ConnectError):
        return BackendError(f"cannot connect to {host}: {why}", retryable=True)
    if isinstance(exc, httpx.ReadTimeout):
        if pieces is None:
            return BackendError(f"{host} did not answer within {read_s:g} s (read timeout)", retryable=True)
        if pieces == 0:
            return BackendError(f"{host} sent no piece of the answer within {read_s:g} s (read timeout)",
                                retryable=True)
        return BackendError(f"the stream from {host} stalled: nothing for {read_s:g} s after {pieces} "
                            f"piece{'s' if pieces != 1 else ''} (read timeout)", retryable=True)
    if isinstance(exc, (httpx.WriteTimeout, httpx.PoolTimeout, httpx.WriteError)):
        return BackendError(f"cannot send the request to {host}: {why}", retryable=True)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        if pieces is None:
            return BackendError(f"{host} closed the connection before answering ({why})", retryable=True)
        return BackendError(f"the connection to {host} dropped mid-stream after {pieces} "
                            f"piece{'s' if pieces != 1 else ''} ({why}); the partial answer is lost",
                            retryable=True)
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return BackendError(f"bad base URL for {host}: {why}")
    if isinstance(exc, httpx.DecodingError):
        return BackendError(f"cannot decode the answer of {host}: {why}")
    if isinstance(exc, httpx.TooManyRedirects):
        return BackendError(f"{host}: too many redirects")
    return BackendError(f"{host}: {type(exc).__name__}: {why}", retryable=isinstance(exc, httpx.TransportError))


def model_entries(payload: Any) -> list[dict] | None:
    """The model entries of a /models answer (``{"data": [...]}``, ``{"models": [...]}`` or a list),
    None when it is not such a list."""
    items = payload
    if isinstance(payload, dict):
        items = payload.get("data", payload.get("models"))
    if not isinstance(items, list):
        return None
    out = []
    for it in items:
        if isinstance(it, dict) and isinstance(it.get("id") or it.get("name") or it.get("model"), str):
            out.append(it)
        elif isinstance(it, str):
            out.append({"id": it})
    return out


def entry_id(entry: dict) -> str:
    return str(entry.get("id") or entry.get("name") or entry.get("model"))


def entry_context(entry: dict) -> int | None:
    """The context length a /models entry gives, when it gives one (vLLM ``max_model_len``, OpenRouter
    ``context_length``, llama.cpp's server ``meta.n_ctx_train``, LM Studio ``max_context_length``)."""
    for k in ("max_model_len", "context_length", "max_context_length", "context_window"):
        v = entry.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    meta = entry.get("meta")
    if isinstance(meta, dict):
        v = meta.get("n_ctx_train") or meta.get("n_ctx")
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def served(name: str, ids: list[str]) -> bool:
    """Whether ``name`` is among the listed ids (Ollama lists ``llama3:latest`` and serves ``llama3``)."""
    return name in ids or f"{name}:latest" in ids
