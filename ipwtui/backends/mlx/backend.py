"""MLX in-process, through mlx-lm: Apple silicon's GPU (Metal) on macOS, the CPU on Linux (``mlx[cpu]``).

Token counts and rates are mlx-lm's own, read from the responses ``stream_generate`` yields (the last one
holds the totals): ``prompt_tokens``/``prompt_tps`` for the prompt, ``generation_tokens``/``generation_tps``
for decoding, ``finish_reason``. mlx-lm counts a generated end-of-sequence token in ``generation_tokens``
and times ``generation_tps`` from the first generated token on; both are reported as it gives them.
Peak memory is mlx's process-wide peak, reset before each query, read from the last response.

Each query starts from an empty KV cache (``stream_generate`` makes one per call), so every query pays
for its own prompt. Warm-up: besides the runner's warm-up queries, ``load()`` runs a tiny generation, so
that the first-use costs (kernel compilation, the first allocations) fall outside every measured window,
as the IPW paper's harness does for MLX.

All MLX work runs on one thread of the process (``worker.MLX_THREAD``), whichever thread calls: MLX keeps
streams per thread, and a thread ending with live streams makes the process abort at exit.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import replace
from importlib import metadata
from typing import Any

from ..base import (
    LOCAL,
    REPORTS_PEAK_MEMORY,
    REPORTS_TIMINGS,
    REPORTS_TOKEN_COUNTS,
    BackendError,
    BackendTraits,
    Generation,
    ModelInfo,
)
from .worker import MLX_THREAD

INSTALL_HINT = "pip install 'ipwtui[mlx]'"
PLAIN_STOP = "\nQuestion:"  # a base model going on to write the next question


def _cpu_threads_guess() -> int | None:
    """Before load: MLX runs on the GPU (Metal) on macOS and on the CPU elsewhere (``mlx[cpu]``)."""
    return None if sys.platform == "darwin" else (os.cpu_count() or 1)


def import_mlx():
    """(mlx.core, mlx_lm), or BackendError with the install hint when either cannot be imported."""
    try:
        import mlx.core as mx
        import mlx_lm
    except (ImportError, OSError) as e:  # OSError: the mlx package without its native backend library
        why = f" ({e})" if not isinstance(e, ModuleNotFoundError) else ""
        raise BackendError(f"mlx-lm is not installed or cannot start here{why}: {INSTALL_HINT}") from None
    return mx, mlx_lm


def one_line(e: BaseException) -> str:
    """An exception's message on one line (its first), or its type when it has none."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def plain_prompt(messages: list[dict]) -> str:
    """For base models with no chat template: a plain question/answer completion prompt."""
    parts = [m["content"] for m in messages if m["role"] == "system"]
    parts += [f"Question: {m['content']}" for m in messages if m["role"] == "user"]
    return "\n\n".join(parts) + "\nAnswer:"


class MlxBackend:
    name = "mlx"

    def __init__(self, model_path: str, chat: bool | None = None, warmup_tokens: int = 4,
                 model_name: str | None = None):
        self.model_path = model_path
        self.model_name = model_name  # e.g. the repository id of a Hugging Face cache snapshot
        self.chat = chat  # None: the model's chat template when it has one
        self.warmup_tokens = warmup_tokens
        self.model: Any = None  # mlx_lm's nn.Module and TokenizerWrapper, once loaded
        self.tokenizer: Any = None
        self.device: str | None = None
        self.info: ModelInfo | None = None
        self.traits = BackendTraits(self.name, LOCAL,
                                    reports=(REPORTS_TOKEN_COUNTS, REPORTS_TIMINGS, REPORTS_PEAK_MEMORY),
                                    uses_cpu_threads=_cpu_threads_guess())

    def versions(self) -> dict[str, str]:
        v: dict[str, str] = {}
        for pkg in ("mlx", "mlx-lm"):
            try:
                v[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                pass
        if v:
            try:
                v["mlx device"] = self._device_name()
            except Exception:
                pass
        return v

    def _device_name(self) -> str:
        mx, _ = import_mlx()
        dev = mx.default_device()
        kind = "gpu (Metal)" if dev.type == mx.gpu and sys.platform == "darwin" else str(dev.type).split(".")[-1]
        try:
            info = mx.device_info()
            name = info.get("device_name") or info.get("architecture")
        except Exception:
            name = None
        return f"{kind}, {name}" if name else kind

    def load(self) -> ModelInfo:
        return MLX_THREAD.call(self._load)

    def _load(self) -> ModelInfo:
        mx, mlx_lm = import_mlx()
        from .models import ModelError, describe

        try:
            # check the folder before mlx-lm sees it (given a path that does not exist, it would download)
            desc = describe(self.model_path, "backend", name=self.model_name)
        except ModelError as e:
            raise BackendError(str(e)) from None
        try:
            model, tokenizer = mlx_lm.load(desc.path)
        except Exception as e:  # mlx-lm raises ValueError, FileNotFoundError, KeyError... for a bad folder
            raise BackendError(f"{self.model_path}: mlx-lm could not load the model ({one_line(e)})"
                               ) from None
        self.model, self.tokenizer = model, tokenizer
        if self.chat is None:
            self.chat = bool(getattr(tokenizer, "has_chat_template", False))
        self.device = self._device_name()
        on_cpu = mx.default_device().type == mx.cpu
        self.traits = replace(self.traits, uses_cpu_threads=(os.cpu_count() or 1) if on_cpu else None)
        self._warm_up()
        self.info = ModelInfo(
            name=desc.name, backend=self.name, path=desc.path, quantization=desc.quantization,
            size_bytes=desc.size_bytes, context=desc.context_length, chat_template=desc.chat_template,
            extra={"device": self.device, "architecture": desc.architecture,
                   "prompt_format": "chat template" if self.chat else "plain completion",
                   "warm-up at load": f"{self.warmup_tokens} tokens"})
        return self.info

    def _warm_up(self) -> None:
        """A tiny generation outside every window: compiles the kernels and makes the first allocations."""
        if self.warmup_tokens <= 0:
            return
        from mlx_lm import stream_generate

        prompt = self._prompt([{"role": "user", "content": "Hello"}])
        try:
            for _ in stream_generate(self.model, self.tokenizer, prompt, max_tokens=self.warmup_tokens):
                pass
        except Exception as e:
            raise BackendError(f"{self.model_path}: mlx-lm failed on a warm-up generation "
                               f"({one_line(e)})") from None

    def _prompt(self, messages: list[dict]):
        """Token ids from the model's chat template, or the plain question/answer text."""
        if not self.chat:
            return plain_prompt(messages)
        tok = self.tokenizer
        try:
            return tok.apply_chat_template(messages, add_generation_prompt=True)
        except Exception:
            if not any(m["role"] == "system" for m in messages):
                raise
        # some templates refuse a system turn: fold it into the user's message
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        rest = [dict(m) for m in messages if m["role"] != "system"]
        if rest and rest[0]["role"] == "user":
            rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        return tok.apply_chat_template(rest, add_generation_prompt=True)

    def generate(self, messages, max_tokens, on_token=None, temperature=0.0, seed=0) -> Generation:
        if self.model is None:
            raise BackendError("model is not loaded")
        cancel = threading.Event()
        try:
            return MLX_THREAD.call(self._generate, messages, max_tokens, on_token, temperature, seed, cancel)
        except BaseException:
            cancel.set()  # e.g. Ctrl-C while waiting: the MLX thread stops at its next token
            raise

    def _generate(self, messages, max_tokens, on_token, temperature, seed, cancel: threading.Event
                  ) -> Generation:
        import mlx.core as mx
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        sampler = make_sampler(temp=float(temperature))  # temp 0: argmax (greedy)
        mx.random.seed(int(seed))
        mx.reset_peak_memory()
        t_sent = time.monotonic()
        try:
            prompt = self._prompt(messages)
            stream = stream_generate(self.model, self.tokenizer, prompt, max_tokens=max_tokens, sampler=sampler)
            text: list[str] = []
            t_first = None
            t_last = t_sent
            last = None
            aborted = stopped = False
            for r in stream:
                last = r
                if cancel.is_set():
                    aborted = True
                    break
                if not r.text:
                    continue
                t = time.monotonic()
                if t_first is None:
                    t_first = t
                t_last = t
                text.append(r.text)
                if on_token is not None and on_token(r.text, t) is False:
                    aborted = True
                    break
                if not self.chat and PLAIN_STOP in "".join(text[-8:]):
                    stopped = True  # a base model going on to the next question: the answer is over
                    break
            if aborted or stopped:
                stream.close()
        except BackendError:
            raise
        except Exception as e:  # a template error, a prompt mlx-lm refuses
            raise BackendError(f"mlx-lm: {one_line(e)}") from None
        t_done = time.monotonic()
        answer = "".join(text)
        if not self.chat:
            answer = answer.split(PLAIN_STOP, 1)[0]
        finish = "abort" if aborted else "stop" if stopped else (last.finish_reason if last else None)
        return Generation(
            text=answer, t_sent=t_sent, t_first=t_first, t_last=t_last, t_done=t_done,
            prompt_tokens=last.prompt_tokens if last else None,
            output_tokens=last.generation_tokens if last else None,
            prefill_tps=last.prompt_tps if last and last.prompt_tps > 0 else None,
            decode_tps=last.generation_tps if last and last.generation_tps > 0 else None,
            counts_source="mlx-lm responses", finish_reason=finish, aborted=aborted,
            peak_memory_bytes=round(last.peak_memory * 1e9) if last and last.peak_memory > 0 else None)

    def close(self) -> None:
        """Free the model and MLX's buffer cache. The MLX thread and its streams live on until the process
        exits (see ``worker``)."""
        self.model = None
        self.tokenizer = None
        if "mlx.core" in sys.modules:
            try:
                MLX_THREAD.call(sys.modules["mlx.core"].clear_cache)
            except Exception:
                pass
