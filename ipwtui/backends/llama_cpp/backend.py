"""llama.cpp in-process, through llama-cpp-python.

Token counts and prefill/decode rates come from llama.cpp's own perf counters (``llama_perf_context``),
reset before each query; streamed chunks only give the timestamps (TTFT, last token). The prompt cache is
cleared before each query so every query pays for its own prompt. llama.cpp's log output is routed to a
no-op callback: nothing it prints reaches the terminal.
"""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any

from ..base import (
    LOCAL,
    REPORTS_TIMINGS,
    REPORTS_TOKEN_COUNTS,
    BackendError,
    BackendTraits,
    Generation,
    ModelInfo,
    ModelRef,
)
from ...core.backend import CHARS_PER_TOKEN_MAX

_LOG_CALLBACK = None  # kept alive for as long as the process runs: llama.cpp holds the pointer


def output_tokens(n_eval: int, finish: str | None, pieces: int, max_tokens: int, aborted: bool) -> int:
    """Tokens generated, from llama.cpp's eval counter (measured against its own non-streamed usage).

    llama-cpp-python evaluates every yielded token to get the next one's logits, so with k tokens and an
    end-of-sequence n_eval is k; but n_eval is at least 1 even when no token came (the first sample's
    evaluation is counted), and a token sampled at the length limit is yielded without being evaluated.
    So: an end-of-sequence with no visible piece is 0 tokens, one otherwise is n_eval; a length stop is
    n_eval + 1, at most max_tokens (max_tokens 1 gives n_eval 1, one token); a cut stream is the pieces
    seen, at least n_eval.
    """
    if aborted:
        return max(pieces, n_eval if pieces else 0)
    if finish == "length":
        return min(n_eval + 1, max_tokens)
    return n_eval if pieces else 0


def silence_llama_logs() -> None:
    """Install a no-op log callback in llama.cpp (idempotent)."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _noop(level, text, user_data):  # noqa: ARG001
        return None

    llama_cpp.llama_log_set(_noop, ctypes.c_void_p(0))
    _LOG_CALLBACK = _noop


class LlamaCppBackend:
    name = "llama.cpp"

    def __init__(self, model: str | ModelRef, n_threads: int | None = None, n_gpu_layers: int = 0,
                 n_ctx: int = 4096, chat: bool | None = None):
        # a ModelRef the engine resolved (its GGUF header read once); a bare path is described at load()
        self.model = model if isinstance(model, ModelRef) else None
        path = model.path if isinstance(model, ModelRef) else model
        if not path:
            raise BackendError("llama.cpp needs a GGUF model file")
        self.model_path: str = path
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_gpu_layers = n_gpu_layers
        self.n_ctx = n_ctx
        self.chat = chat  # None: use the model's chat template when it has one
        self.llm: Any = None  # llama_cpp.Llama once loaded
        self.info: ModelInfo | None = None
        cpu = self.n_threads if self.n_gpu_layers == 0 else None
        self.traits = BackendTraits(self.name, LOCAL, reports=(REPORTS_TOKEN_COUNTS, REPORTS_TIMINGS),
                                    uses_cpu_threads=cpu)

    def versions(self) -> dict[str, str]:
        try:
            import llama_cpp

            v = {"llama-cpp-python": llama_cpp.__version__}
            try:
                v["llama.cpp system info"] = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
            except Exception:
                pass
            return v
        except ImportError:
            return {}

    def load(self) -> ModelInfo:
        try:
            import llama_cpp
        except ImportError:
            raise BackendError("llama-cpp-python is not installed: pip install 'ipwtui[llama]'") from None
        from .gguf import ModelError, describe

        desc = self.model
        if desc is None:
            try:
                desc = describe(self.model_path, "backend")
            except ModelError as e:
                raise BackendError(str(e)) from None
        silence_llama_logs()
        if self.n_gpu_layers != 0 and not llama_cpp.llama_supports_gpu_offload():
            raise BackendError("this llama-cpp-python build has no GPU support, so --gpu-layers cannot offload; "
                               "reinstall it with GPU support (e.g. CMAKE_ARGS=-DGGML_CUDA=on) or use the CPU")
        try:
            self.llm = llama_cpp.Llama(model_path=self.model_path, n_ctx=min(self.n_ctx, desc.context_length or
                                                                             self.n_ctx),
                                       n_threads=self.n_threads, n_gpu_layers=self.n_gpu_layers,
                                       seed=0, verbose=False)
        except (ValueError, RuntimeError, OSError) as e:
            raise BackendError(f"{self.model_path}: llama.cpp could not load the model ({e})") from None
        if self.chat is None:
            self.chat = desc.chat_template
        self.info = ModelInfo(path=self.model_path, name=desc.name, backend=self.name,
                              quantization=desc.quantization, size_bytes=desc.size_bytes,
                              context=self.llm.n_ctx(), chat_template=desc.chat_template,
                              extra={"n_threads": self.n_threads, "n_gpu_layers": self.n_gpu_layers,
                                     "prompt_format": "chat template" if self.chat else "plain completion"})
        return self.info

    @staticmethod
    def plain_prompt(messages: list[dict]) -> str:
        """For base models with no chat template: a plain question/answer completion prompt."""
        parts = [m["content"] for m in messages if m["role"] == "system"]
        parts += [f"Question: {m['content']}" for m in messages if m["role"] == "user"]
        return "\n\n".join(parts) + "\nAnswer:"

    def generate(self, messages, max_tokens, on_token=None, temperature=0.0, seed=0) -> Generation:
        if self.llm is None:
            raise BackendError("model is not loaded")
        import llama_cpp

        llm = self.llm
        chars = sum(len(m.get("content") or "") for m in messages)
        if chars > CHARS_PER_TOKEN_MAX * llm.n_ctx():
            # tokenising a huge prompt takes a long time only to fail: say so at once
            raise BackendError(f"llama.cpp: the prompt ({chars} characters) is far longer than the model's "
                               f"context ({llm.n_ctx()} tokens)")
        llm.reset()  # no prompt cache across queries: each query's prefill is its own
        ctx = llm._ctx.ctx
        llama_cpp.llama_perf_context_reset(ctx)
        common = dict(max_tokens=max_tokens, temperature=temperature, seed=seed, stream=True)
        t_sent = time.monotonic()
        try:
            if self.chat:
                stream = llm.create_chat_completion(messages=messages, **common)
            else:
                stream = llm.create_completion(prompt=self.plain_prompt(messages), stop=["\nQuestion:"],
                                               **common)
            text: list[str] = []
            t_first = None
            t_last = t_sent
            finish = None
            aborted = False
            pieces = 0
            for chunk in stream:
                ch = chunk["choices"][0]
                piece = ch["delta"].get("content") if self.chat else ch.get("text")
                finish = ch.get("finish_reason") or finish
                if piece:
                    t = time.monotonic()
                    if t_first is None:
                        t_first = t
                    t_last = t
                    pieces += 1
                    text.append(piece)
                    if on_token is not None and on_token(piece, t) is False:
                        aborted = True
                        break
            if aborted:
                stream.close()
        except ValueError as e:  # e.g. prompt longer than the context
            raise BackendError(f"llama.cpp: {e}") from None
        t_done = time.monotonic()  # the engine has returned (it evaluated the last token after yielding it)
        if t_first is None:
            t_last = t_done
        perf = llama_cpp.llama_perf_context(ctx)
        n_p, n_e = int(perf.n_p_eval), int(perf.n_eval)
        out_tokens = output_tokens(n_e, finish, pieces, max_tokens, aborted)
        return Generation(
            text="".join(text), t_sent=t_sent, t_first=t_first, t_last=t_last, t_done=t_done,
            prompt_tokens=n_p, output_tokens=out_tokens,
            prefill_tps=n_p / (perf.t_p_eval_ms / 1000.0) if perf.t_p_eval_ms > 0 else None,
            decode_tps=n_e / (perf.t_eval_ms / 1000.0) if perf.t_eval_ms > 0 and out_tokens > 1 else None,
            counts_source="llama.cpp perf context", finish_reason="abort" if aborted else finish,
            aborted=aborted)

    def close(self) -> None:
        if self.llm is not None:
            try:
                self.llm.close()
            except Exception:
                pass
            self.llm = None
