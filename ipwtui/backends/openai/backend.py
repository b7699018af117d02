"""Any OpenAI-compatible chat-completions server: llama.cpp's llama-server, vLLM, Ollama (/v1), LM Studio,
mlx_lm.server, llama-cpp-python's server, and cloud APIs (OpenAI, OpenRouter, Groq, Together, ...).

One ``generate`` is one attempt: one streamed POST to ``{base_url}/chat/completions``, read with httpx and
a small SSE reader, never retried here (the runner retries, each attempt in its own measured window).

Times: ``t_sent`` just before the request goes out, ``t_first``/``t_last`` at the first/last visible piece
of content, ``t_done`` once the stream has closed: the usage chunk and the server's timings come after the
last piece, and the window covers them.

Counts (``Generation.counts_source`` says which):
- ``"server usage"``: the ``usage`` object, taken from any chunk, the last non-null one kept; servers that
  send cumulative usage on every chunk (vLLM's continuous usage) are therefore never summed;
- ``"llama.cpp server timings"``: llama.cpp's ``timings`` (prompt_n + cache_n, predicted_n) when no usage
  came; its ``prompt_per_second``/``predicted_per_second`` give the prefill and decode rates whenever
  they come (``"server usage; rates: llama.cpp server timings"``);
- ``"server usage; rate: vLLM per-request metrics"``: vLLM's ``metrics.tokens_per_second`` as the decode
  rate;
- ``"stream chunks (no usage from the server)"``: the server sent neither (llama-cpp-python's own server
  while streaming): the output count is the number of content chunks received, the prompt count N/A;
- ``"stream chunks (stopped before the server's usage)"``: the answer was stopped (skip/stop).
Rates come only from the server's own figures; with none they are N/A, never wall time.

The API key is read from the environment variable the settings name; it is sent only as the
``Authorization`` header and scrubbed from every message, figure and repr this module produces.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..base import (
    REMOTE,
    REPORTS_SERVER_USAGE,
    BackendError,
    BackendTraits,
    Generation,
    ModelInfo,
)
from . import sse
from .client import (
    Scrubber,
    display_url,
    entry_context,
    entry_id,
    host_of,
    message_of,
    model_entries,
    need_httpx,
    one_line,
    read_error_body,
    served,
    status_error,
    transport_error,
)

TRAITS = BackendTraits(
    "openai", REMOTE, reports=(REPORTS_SERVER_USAGE,),
    cannot=("this machine's energy is only the client's: the server's energy needs a server energy source",
            "exact token counts when the server sends no usage (then output chunks are counted)",
            "prefill/decode rates unless the server reports its own timings (llama.cpp's server does)",
            "peak memory of the model"))

PROBE_READ_S = 10.0  # read timeout of the small requests made before a run (GET /models, a 1-token answer)
SOURCE_USAGE = "server usage"
SOURCE_TIMINGS = "llama.cpp server timings"
SOURCE_VLLM = "vLLM per-request metrics"
SOURCE_CHUNKS = "stream chunks (no usage from the server)"
SOURCE_CHUNKS_ABORTED = "stream chunks (stopped before the server's usage)"
_KEPT_HEADERS = ("server", "x-request-id", "openai-processing-ms", "openai-version")


class _Stall(Exception):
    """Only keep-alive comments came for longer than the read timeout."""


class _Answer:
    """What one stream has said so far."""

    __slots__ = ("text", "pieces", "reasoning", "t_first", "t_last", "usage", "timings", "metrics", "model",
                 "fingerprint", "finish", "done")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.pieces = 0  # chunks carrying visible content
        self.reasoning = 0  # chunks carrying reasoning text only (not part of the answer)
        self.t_first: float | None = None
        self.t_last: float | None = None
        self.usage: dict | None = None
        self.timings: dict | None = None
        self.metrics: dict | None = None
        self.model: str | None = None
        self.fingerprint: str | None = None
        self.finish: str | None = None
        self.done = False  # "[DONE]" came


def _num(d: dict | None, k: str) -> float | None:
    if not d:
        return None
    v = d.get(k)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _int(d: dict | None, k: str) -> int | None:
    v = _num(d, k)
    return None if v is None else int(v)


def counts(ans: _Answer, aborted: bool = False) -> dict[str, Any]:
    """prompt_tokens, output_tokens, prefill_tps, decode_tps and counts_source from what the server sent."""
    u, tm, mx = ans.usage, ans.timings, ans.metrics
    out: dict[str, Any] = dict(prompt_tokens=None, output_tokens=None, prefill_tps=None, decode_tps=None)
    if u and (_int(u, "completion_tokens") is not None or _int(u, "prompt_tokens") is not None):
        out["prompt_tokens"] = _int(u, "prompt_tokens")
        out["output_tokens"] = _int(u, "completion_tokens")
        source = SOURCE_USAGE
    elif tm and _int(tm, "predicted_n") is not None:
        pn, cn = _int(tm, "prompt_n"), _int(tm, "cache_n")
        out["prompt_tokens"] = None if pn is None else pn + (cn or 0)
        out["output_tokens"] = _int(tm, "predicted_n")
        source = SOURCE_TIMINGS
    else:
        out["output_tokens"] = ans.pieces + ans.reasoning
        source = SOURCE_CHUNKS_ABORTED if aborted else SOURCE_CHUNKS
    rates = None
    if tm:
        pre, dec = _rate(tm, "prompt"), _rate(tm, "predicted")
        if pre is not None or dec is not None:
            out["prefill_tps"], out["decode_tps"] = pre, dec
            rates = SOURCE_TIMINGS
    if rates is None and mx:
        dec = _num(mx, "tokens_per_second")
        if dec is not None and dec > 0:
            out["decode_tps"] = dec
            rates = SOURCE_VLLM
    if rates and rates != source:
        source += f"; rates: {rates}"
    out["counts_source"] = source
    return out


def _rate(tm: dict, what: str) -> float | None:
    """llama.cpp's own rate for "prompt" or "predicted": its per_second figure, else n / ms."""
    ps = _num(tm, f"{what}_per_second")
    if ps is not None and ps > 0:
        return ps
    n, ms = _num(tm, f"{what}_n"), _num(tm, f"{what}_ms")
    if n and ms and ms > 0:
        return n / (ms / 1000.0)
    return None


class OpenAIBackend:
    """A chat-completions endpoint. Nothing is sent until ``load`` (which checks the server) or
    ``generate``."""

    name = "openai"
    traits = TRAITS

    def __init__(self, base_url: str, model: str, api_key: str | None = None, key_env: str | None = None,
                 connect_timeout_s: float = 10.0, read_timeout_s: float = 120.0, transport: Any = None):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.key_env = key_env
        self._scrub = Scrubber(api_key)
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._transport = transport  # tests: an httpx transport instead of the network
        self._client_obj = None
        self.host = host_of(self.base_url)
        self.listed: list[str] | None = None  # the models the server listed at load
        self.info: ModelInfo | None = None
        self._server_seen: dict[str, str] = {}  # model / system_fingerprint / server header last reported

    def __repr__(self) -> str:
        key = "set" if self._scrub.key else "none"
        return f"OpenAIBackend(base_url={display_url(self.base_url)!r}, model={self.model!r}, key={key})"

    # ---- plumbing ----------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        h = {"Accept": "text/event-stream"}
        if self._scrub.key:
            h["Authorization"] = f"Bearer {self._scrub.key}"
        return h

    def _client(self):
        if self._client_obj is None:
            httpx = need_httpx()
            timeout = httpx.Timeout(connect=self.connect_timeout_s, read=self.read_timeout_s,
                                    write=self.read_timeout_s, pool=self.connect_timeout_s)
            kw: dict[str, Any] = {"timeout": timeout, "headers": self._headers()}
            if self._transport is not None:
                kw["transport"] = self._transport
            self._client_obj = httpx.Client(**kw)
        return self._client_obj

    def _error(self, message: str, **kw: Any) -> BackendError:
        return BackendError(self._scrub.text(one_line(message, 400)), **kw)

    # ---- Backend -------------------------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        v: dict[str, str] = {}
        try:
            import httpx

            v["httpx"] = httpx.__version__
        except ImportError:
            pass
        v["openai-compatible endpoint"] = display_url(self.base_url)
        for k, label in (("server", "server software"), ("model", "server's model"),
                         ("system_fingerprint", "server system_fingerprint")):
            if self._server_seen.get(k):
                v[label] = self._scrub.text(self._server_seen[k])
        return v

    def load(self) -> ModelInfo:
        """Checks the server (its model list, else a 1-token answer) and says what it serves."""
        entries = probe(self._client(), self.base_url, self.model, self._scrub, self.key_env,
                        self.connect_timeout_s, min(self.read_timeout_s, PROBE_READ_S))
        context = None
        if entries is not None:
            self.listed = [entry_id(e) for e in entries]
            for e in entries:
                if entry_id(e) == self.model or entry_id(e) == f"{self.model}:latest":
                    context = entry_context(e)
                    if e.get("owned_by"):
                        self._server_seen.setdefault("owned_by", str(e["owned_by"]))
        extra: dict[str, Any] = {"base_url": display_url(self.base_url), "key": "set" if self._scrub.key else
                                 "none", "listed_models": len(self.listed) if self.listed is not None else None}
        self.info = ModelInfo(name=self.model, backend=self.name, path=None, context=context, extra=extra)
        return self.info

    def generate(self, messages, max_tokens, on_token=None, temperature=0.0, seed=0) -> Generation:
        httpx = need_httpx()
        client = self._client()
        payload = json.dumps({
            "model": self.model, "messages": messages, "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens, "temperature": temperature, "seed": seed,
        })
        url = self.base_url + "/chat/completions"
        ans = _Answer()
        aborted = False
        headers_seen: dict[str, str] = {}
        answered = False  # the answer's status line and headers came
        t_sent = time.monotonic()
        t_done: float | None = None
        try:
            with client.stream("POST", url, content=payload,
                               headers={"Content-Type": "application/json"}) as resp:
                answered = True
                for k in _KEPT_HEADERS:
                    if k in resp.headers:
                        headers_seen[k] = resp.headers[k]
                if resp.status_code >= 400:
                    raise status_error(resp.status_code, resp.reason_phrase, read_error_body(resp), resp.headers,
                                       self._scrub, self.host, self.key_env, bool(self._scrub.key))
                ctype = resp.headers.get("content-type", "")
                if "html" in ctype:
                    raise self._error(f"{self.host} answered with a web page ({one_line(ctype, 40)}), not an event "
                                      f"stream: check the base URL (most end in /v1)")
                if "event-stream" not in ctype and "json" in ctype:
                    self._whole(resp, ans, on_token)
                else:
                    evs = sse.events(self._lines(resp))
                    aborted = self._stream(evs, ans, on_token)
                    if ans.done and not aborted:
                        t_done = time.monotonic()
                        try:  # read to the end of the body so that the connection can be reused
                            for _ in evs:
                                pass
                        except (httpx.HTTPError, _Stall):
                            pass  # the answer is whole; a fault after [DONE] does not undo it
                        else:
                            t_done = None
        except BackendError:
            raise
        except _Stall:
            raise self._error(f"the stream from {self.host} stalled: only keep-alive comments for "
                              f"{self.read_timeout_s:g} s after {_n(ans.pieces)} (read timeout)",
                              retryable=True) from None
        except httpx.HTTPError as e:
            raise transport_error(e, self._scrub, self.host, self.connect_timeout_s, self.read_timeout_s,
                                  ans.pieces if answered else None) from None
        if t_done is None:
            t_done = time.monotonic()
        if not aborted and not ans.done and ans.finish is None:
            raise self._error(f"the stream from {self.host} ended before the answer did (no finish_reason, no "
                              f"[DONE]) after {_n(ans.pieces)}; the partial answer is lost", retryable=True)
        return self._generation(ans, t_sent, t_done, aborted, headers_seen)

    def _stream(self, evs, ans: _Answer, on_token) -> bool:
        """Reads events into ``ans`` up to ``[DONE]`` or their end; True when ``on_token`` asked to stop."""
        for ev in evs:
            data = ev.data
            if ev.event == "error":
                raise self._mid_stream_error(data)
            if data == "[DONE]":
                ans.done = True
                return False
            try:
                chunks = [json.loads(data)]
            except ValueError:
                several = _split_lines(data)
                if several is None:
                    raise self._error(f"malformed stream from {self.host}: a data line is not JSON: "
                                      f"{one_line(data, 80)}") from None
                chunks = several
            for c in chunks:
                if self._chunk(c, ans, on_token):
                    return True
        return False

    def _lines(self, resp):
        """The response's lines. Comments and blank lines alone for longer than the read timeout are a stall
        (a server sending keep-alives and nothing else)."""
        last = time.monotonic()
        limit = self.read_timeout_s
        for line in resp.iter_lines():
            if line and line[0] != ":":
                last = time.monotonic()
            elif time.monotonic() - last > limit:
                raise _Stall()
            yield line

    def _chunk(self, chunk: Any, ans: _Answer, on_token) -> bool:
        """One chunk into ``ans``; True when ``on_token`` asked to stop."""
        if not isinstance(chunk, dict):
            raise self._error(f"malformed stream from {self.host}: a chunk is not a JSON object")
        if chunk.get("error"):
            raise self._mid_stream_error(chunk)
        u = chunk.get("usage")
        if u:
            ans.usage = u
        tm = chunk.get("timings")
        if tm:
            ans.timings = tm
        mx = chunk.get("metrics")
        if mx and isinstance(mx, dict):
            ans.metrics = mx
        m = chunk.get("model")
        if m:
            ans.model = m
        fp = chunk.get("system_fingerprint")
        if fp:
            ans.fingerprint = fp
        choices = chunk.get("choices")
        if not choices:
            if choices is None and not (u or tm or mx):
                raise self._error(f"malformed stream from {self.host}: a chunk has no choices "
                                  f"({one_line(json.dumps(chunk), 80)})")
            return False
        if not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise self._error(f"malformed stream from {self.host}: choices is not a list of objects")
        ch = choices[0]
        fr = ch.get("finish_reason")
        if fr:
            ans.finish = fr
        delta = ch.get("delta") or ch.get("message")
        if not delta:
            return False
        piece = delta.get("content")
        if not piece:
            if delta.get("reasoning_content") or delta.get("reasoning"):
                ans.reasoning += 1
            return False
        t = time.monotonic()
        if ans.t_first is None:
            ans.t_first = t
        ans.t_last = t
        ans.pieces += 1
        key = self._scrub.key
        if key and key in piece:  # a server that echoes the key: not even the screen shows it
            piece = self._scrub.text(piece)
        ans.text.append(piece)
        return on_token is not None and on_token(piece, t) is False

    def _whole(self, resp, ans: _Answer, on_token) -> None:
        """A server that answered with one JSON body instead of a stream."""
        try:
            obj = json.loads(resp.read())
        except ValueError:
            raise self._error(f"malformed answer from {self.host}: not JSON") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list) or not obj["choices"]:
            raise self._error(f"malformed answer from {self.host}: no choices")
        self._chunk(obj, ans, None)
        ans.done = True
        if ans.t_first is not None and on_token is not None:
            on_token("".join(ans.text), ans.t_first)

    def _mid_stream_error(self, payload: Any) -> BackendError:
        obj = payload
        if isinstance(payload, str):
            try:
                obj = json.loads(payload)
            except ValueError:
                obj = payload
        err = obj.get("error", obj) if isinstance(obj, dict) else obj
        msg = message_of(err) or (one_line(json.dumps(err), 120) if not isinstance(err, str) else err)
        code = None
        retry = False
        if isinstance(err, dict):
            c = err.get("code")
            if isinstance(c, int) and not isinstance(c, bool):
                code = c
            words = " ".join(str(err.get(k, "")) for k in ("type", "code")).lower()
            retry = any(w in words for w in ("server_error", "overloaded", "rate_limit", "timeout",
                                              "unavailable"))
        if code is not None and (code >= 500 or code in (408, 429)):
            retry = True
        return self._error(f"{self.host} reported an error mid-stream: {msg}", retryable=retry, status=code)

    def _generation(self, ans: _Answer, t_sent: float, t_done: float, aborted: bool,
                    headers: dict[str, str]) -> Generation:
        c = counts(ans, aborted)
        server: dict[str, Any] = {}
        if ans.model:
            server["model"] = ans.model
        if ans.fingerprint:
            server["system_fingerprint"] = ans.fingerprint
        if ans.usage:
            server["usage"] = ans.usage
        if ans.timings:
            server["timings"] = ans.timings
        if ans.metrics:
            server["metrics"] = ans.metrics
        server["content_chunks"] = ans.pieces
        if ans.reasoning:
            server["reasoning_chunks"] = ans.reasoning
        server["done_marker"] = ans.done
        if headers:
            server["headers"] = headers
        server = self._scrub.data(server)
        for k in ("model", "system_fingerprint"):
            if server.get(k):
                self._server_seen[k] = str(server[k])
        if headers.get("server"):
            self._server_seen["server"] = headers["server"]
        text = "".join(ans.text)
        key = self._scrub.key
        if key and key in text:
            text = self._scrub.text(text)
        return Generation(
            text=text, t_sent=t_sent, t_first=ans.t_first,
            t_last=ans.t_last if ans.t_last is not None else t_done, t_done=t_done,
            finish_reason="abort" if aborted else ans.finish, aborted=aborted, server=server, **c)

    def close(self) -> None:
        if self._client_obj is not None:
            try:
                self._client_obj.close()
            except Exception:
                pass
            self._client_obj = None


def _n(pieces: int) -> str:
    return f"{pieces} piece" + ("" if pieces == 1 else "s")


def _split_lines(data: str) -> list | None:
    """Several JSON objects joined by newlines in one event (servers that skip the blank line), or None."""
    if "\n" not in data:
        return None
    try:
        return [json.loads(x) for x in data.split("\n") if x.strip()]
    except ValueError:
        return None


# ---- the checks before a run ---------------------------------------------------------------------------


def probe(client, base_url: str, model: str | None, scrub: Scrubber, key_env: str | None,
          connect_s: float, read_s: float, require_model: bool = True) -> list[dict] | None:
    """One small request that says the server is there and serves ``model``: GET /models, or, when the
    server lists no models, a 1-token answer. Returns the listed entries (None: not listed); raises
    BackendError (one line) for a problem."""
    httpx = need_httpx()
    host = host_of(base_url)
    timeout = httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s)
    try:
        r = client.get(base_url + "/models", timeout=timeout)
    except httpx.HTTPError as e:
        raise transport_error(e, scrub, host, connect_s, read_s, None) from None
    entries = None
    if r.status_code < 400:
        try:
            entries = model_entries(r.json())
        except ValueError:
            entries = None
    elif r.status_code not in (404, 405, 501):  # these say only that no list is served
        raise status_error(r.status_code, r.reason_phrase, r.content[:65536], r.headers, scrub, host, key_env,
                           bool(scrub.key))
    if entries is not None:
        ids = [entry_id(e) for e in entries]
        if model is None:
            if require_model:
                raise BackendError(scrub.text(one_line(
                    f"no model chosen: {host} serves {_names(ids)}; pass --remote-model NAME", 400)))
        elif not served(model, ids):
            raise BackendError(scrub.text(one_line(
                f"{host} does not list model {model!r} (it lists {_names(ids)})", 400)))
        return entries
    if model is None:
        if require_model:
            raise BackendError(f"{host} lists no models at /models: pass --remote-model NAME")
        return None
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1, "stream": False}
    try:
        r = client.post(base_url + "/chat/completions", json=body, timeout=timeout)
    except httpx.HTTPError as e:
        raise transport_error(e, scrub, host, connect_s, read_s, None) from None
    if r.status_code >= 400:
        raise status_error(r.status_code, r.reason_phrase, r.content[:65536], r.headers, scrub, host, key_env,
                           bool(scrub.key))
    return None


def _names(ids: list[str], most: int = 6) -> str:
    if not ids:
        return "no model"
    shown = ", ".join(ids[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")
