"""A deterministic backend for tests and demos without a model: answers from a script, at a set pace.

It is never chosen silently: it must be asked for (``--backend fake``) and it labels itself "fake" in every
record, so its figures cannot pass for a real model's.
"""

from __future__ import annotations

import time

from ..base import LOCAL, REPORTS_TOKEN_COUNTS, BackendTraits, Generation, ModelInfo


class FakeBackend:
    name = "fake"
    traits = BackendTraits("fake", LOCAL, reports=(REPORTS_TOKEN_COUNTS,))

    def __init__(self, answers: dict[str, str] | None = None, default: str = "The answer is (A).",
                 tokens_per_s: float = 200.0, prefill_s: float = 0.01, fail_on: set[str] | None = None,
                 sleep=time.sleep):
        self.answers = answers or {}
        self.default = default
        self.tokens_per_s = tokens_per_s
        self.prefill_s = prefill_s
        self.fail_on = fail_on or set()
        self.sleep = sleep
        self.calls = 0

    def load(self) -> ModelInfo:
        return ModelInfo(path="(fake)", name="fake-model", backend=self.name, quantization=None)

    def versions(self) -> dict[str, str]:
        return {"fake-backend": "1"}

    def answer_for(self, messages: list[dict]) -> str:
        text = messages[-1]["content"]
        for key, ans in self.answers.items():
            if key in text:
                return ans
        return self.default

    def generate(self, messages, max_tokens, on_token=None, temperature=0.0, seed=0) -> Generation:
        self.calls += 1
        text = self.answer_for(messages)
        if any(k in messages[-1]["content"] for k in self.fail_on):
            raise RuntimeError("scripted backend failure")
        words = [w + " " for w in text.split(" ")]
        pieces = words[:max_tokens]
        t_sent = time.monotonic()
        self.sleep(self.prefill_s)
        t_first = None
        out = []
        aborted = False
        for p in pieces:
            self.sleep(1.0 / self.tokens_per_s)
            t = time.monotonic()
            if t_first is None:
                t_first = t
            out.append(p)
            if on_token is not None and on_token(p, t) is False:
                aborted = True
                break
        t_last = time.monotonic()
        n_prompt = sum(len(m["content"].split()) for m in messages)
        decode_s = (t_last - t_first) if t_first else 0.0
        return Generation(
            text="".join(out).strip(), t_sent=t_sent, t_first=t_first, t_last=t_last,
            prompt_tokens=n_prompt, output_tokens=len(out),
            prefill_tps=n_prompt / self.prefill_s if self.prefill_s else None,
            decode_tps=(len(out) - 1) / decode_s if decode_s > 0 and len(out) > 1 else None,
            counts_source="fake backend (words)", finish_reason="abort" if aborted else "length" if len(words) > max_tokens else "stop",
            aborted=aborted)

    def close(self) -> None:
        pass
