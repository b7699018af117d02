"""The small protocol every inference backend implements (llama.cpp now; MLX and HTTP later).

A backend generates one answer at a time, calling ``on_token(text, t)`` with each streamed piece and its
``time.monotonic()`` timestamp. ``on_token`` returns False to abort (skip or stop); the backend then stops
generating as soon as it can and returns what it has, with ``aborted=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

TokenCallback = Callable[[str, float], bool]


class BackendError(Exception):
    """A backend cannot load or answer. ``str()`` is a one-line message for the user."""


@dataclass
class ModelInfo:
    path: str
    name: str
    backend: str
    quantization: str | None = None
    size_bytes: int | None = None
    context: int | None = None
    chat_template: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class Generation:
    text: str
    t_sent: float  # monotonic time the request was handed to the engine
    t_first: float | None  # first token
    t_last: float  # last token (or the end of the call when no token came)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    prefill_tps: float | None = None
    decode_tps: float | None = None
    counts_source: str = ""  # where token counts and rates come from, e.g. "llama.cpp perf context"
    finish_reason: str | None = None
    aborted: bool = False

    @property
    def ttft_s(self) -> float | None:
        return None if self.t_first is None else self.t_first - self.t_sent

    @property
    def latency_s(self) -> float:
        return self.t_last - self.t_sent


class Backend(Protocol):
    name: str  # "llama.cpp", "mlx", "openai-http", "fake"

    def load(self) -> ModelInfo: ...

    def generate(self, messages: list[dict], max_tokens: int, on_token: TokenCallback | None = None,
                 temperature: float = 0.0, seed: int = 0) -> Generation: ...

    def versions(self) -> dict[str, str]:
        """Versions of the engine and libraries for the session's provenance."""
        ...

    def close(self) -> None: ...
