"""The MLX engine: discovery of model folders (models folders and the Hugging Face cache), the content
hash, and real runs through the runner on a tiny random-weight model built here (tests/mlx_model.py).

The model's weights are random, so its answers are gibberish: these tests check what comes back (counts,
their source, timestamps in order, memory, skip), never the text, and never a speed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ipwtui import backends
from ipwtui.backends.base import BackendError
from ipwtui.backends.mlx.models import describe, discover, quantization_label

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from mlx_model import CHAT_TEMPLATE, build_tiny_model  # noqa: E402  (tests/ is not a package)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("mlx_lm")
    pytest.importorskip("tokenizers")
    return build_tiny_model(tmp_path_factory.mktemp("mlx") / "tiny-llama")


@pytest.fixture(scope="module")
def loaded(tiny_model):
    from ipwtui.backends.mlx.backend import MlxBackend

    b = MlxBackend(str(tiny_model))
    b.load()
    yield b
    b.close()


@pytest.fixture
def no_search(tmp_path, monkeypatch):
    """No models folder and an empty Hugging Face cache, whatever this machine has."""
    monkeypatch.setenv("IPWTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("IPWTUI_MODELS_DIR", raising=False)
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    return tmp_path


def fake_folder(path: Path, config: dict | str | None, weights: bool = True, tokenizer: bool = True,
                template: bool = False) -> Path:
    """A model folder with placeholder files: enough for discovery, which reads JSON only."""
    path.mkdir(parents=True)
    if config is not None:
        (path / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if weights:
        (path / "model-00001-of-00002.safetensors").write_bytes(b"\0" * 1000)
        (path / "model-00002-of-00002.safetensors").write_bytes(b"\1" * 234)
    if tokenizer:
        (path / "tokenizer.json").write_text("{}")
        (path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ x }}"} if template else {}))
    return path


# ---- discovery (JSON only) -------------------------------------------------------------------


def test_discovery_in_a_models_dir(tiny_model, no_search):
    models_dir = no_search / "models"
    shutil.copytree(tiny_model, models_dir / "family" / "tiny-llama")
    found, problems = backends.engine("mlx").find_models(extra_dirs=[str(models_dir)])
    assert problems == []
    assert [m.name for m in found] == ["tiny-llama"]
    m = found[0]
    weights = sorted((models_dir / "family" / "tiny-llama").glob("*.safetensors"))
    assert m.format == "mlx" and m.architecture == "llama" and m.chat_template
    assert m.size_bytes == sum(w.stat().st_size for w in weights)
    assert m.quantization == "f32"  # the builder's torch_dtype
    assert m.context_length == 2048 and m.origin == f"models dir {models_dir}"


def test_discovery_reads_the_models_dir_from_the_environment_and_follows_a_linked_folder(tiny_model, no_search,
                                                                                          monkeypatch):
    models_dir = no_search / "linked"
    models_dir.mkdir()
    (models_dir / "tiny").symlink_to(tiny_model, target_is_directory=True)
    monkeypatch.setenv("IPWTUI_MODELS_DIR", str(models_dir))
    found, problems = discover()
    assert [m.name for m in found] == ["tiny"] and problems == []


@pytest.mark.parametrize("config,label", [
    ({"model_type": "qwen2", "quantization": {"group_size": 64, "bits": 4}, "torch_dtype": "bfloat16"},
     "4-bit g64"),
    ({"model_type": "llama", "quantization": {"group_size": 32, "bits": 4, "mode": "mxfp4"}}, "mxfp4 4-bit g32"),
    ({"model_type": "llama", "torch_dtype": "bfloat16"}, "bf16"),
    ({"model_type": "gemma3", "text_config": {"dtype": "float16"}}, "f16"),
    ({"model_type": "llama"}, None),
])
def test_quantisation_label(config, label):
    assert quantization_label(config) == label


def test_fake_folder_fields(tmp_path):
    f = fake_folder(tmp_path / "Qwen3-0.6B-4bit", {"model_type": "qwen3", "max_position_embeddings": 40960,
                                                   "quantization": {"group_size": 64, "bits": 4}}, template=True)
    m = describe(f, "test")
    assert (m.name, m.architecture, m.quantization, m.context_length) == ("Qwen3-0.6B-4bit", "qwen3",
                                                                            "4-bit g64", 40960)
    assert m.size_bytes == 1234 and m.chat_template and m.format == "mlx"


@pytest.mark.parametrize("kind,expect", [
    ("bad-json", "not valid JSON"),
    ("no-type", "no model_type"),
    ("no-weights", "no *.safetensors"),
    ("gguf", "--backend llama.cpp"),
    ("no-tokenizer", "no tokenizer file"),
])
def test_a_broken_folder_is_a_problem_line(no_search, kind, expect):
    models_dir = no_search / "models"
    good = fake_folder(models_dir / "good", {"model_type": "llama"})
    bad = models_dir / kind
    if kind == "bad-json":
        fake_folder(bad, '{"model_type": "llama",')
    elif kind == "no-type":
        fake_folder(bad, {"hidden_size": 64})
    elif kind == "no-weights":
        fake_folder(bad, {"model_type": "llama"}, weights=False)
    elif kind == "gguf":
        fake_folder(bad, {"model_type": "llama"}, weights=False)
        (bad / "model-Q4_K_M.gguf").write_bytes(b"GGUF")
    else:
        fake_folder(bad, {"model_type": "llama"}, tokenizer=False)
    (models_dir / "notes").mkdir()  # a folder with no config.json at all is not a model: no line
    (models_dir / "notes" / "README.md").write_text("x")
    found, problems = discover(extra_dirs=[str(models_dir)])
    assert [m.path for m in found] == [str(good.resolve())]
    assert len(problems) == 1 and str(bad) in problems[0] and expect in problems[0]
    assert "\n" not in problems[0]


def test_a_missing_models_folder_is_a_problem_line(no_search):
    found, problems = discover(extra_dirs=[str(no_search / "nowhere")])
    assert found == [] and problems == [f"{no_search / 'nowhere'}: models folder not found"]


def _cache_repo(cache: Path, repo: str, source: Path | None, config: dict | None = None, rev: str = "0123abcd",
                main: bool = True) -> Path:
    """A repository as huggingface_hub stores it: blobs, a snapshot of links to them, refs/main."""
    entry = cache / ("models--" + repo.replace("/", "--"))
    snap = entry / "snapshots" / rev
    snap.mkdir(parents=True)
    (entry / "blobs").mkdir(exist_ok=True)
    files = {p.name: p.read_bytes() for p in source.iterdir()} if source else {}
    if config is not None:
        files["config.json"] = json.dumps(config).encode()
    for name, data in files.items():
        blob = entry / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snap / name).symlink_to(os.path.relpath(blob, snap))
    if main:
        (entry / "refs").mkdir(exist_ok=True)
        (entry / "refs" / "main").write_text(rev)
    return snap


def test_discovery_in_the_hugging_face_cache(tiny_model, no_search, monkeypatch):
    cache = no_search / "hf" / "hub"
    snap = _cache_repo(cache, "mlx-community/tiny-llama-4bit", tiny_model)
    _cache_repo(cache, "mlx-community/tiny-llama-4bit", tiny_model, rev="old00000", main=False)
    bert = no_search / "bert-src"
    fake_folder(bert, {"model_type": "bert", "architectures": ["BertModel"]})
    _cache_repo(cache, "google/bert-tiny", bert)  # not a generative model: left out, no line
    _cache_repo(cache, "mlx-community/broken", None, config={"model_type": "llama"})  # no weights
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(no_search / "hf"))
    found, problems = backends.engine("mlx").find_models()
    assert [(m.name, m.path) for m in found] == [("mlx-community/tiny-llama-4bit", str(snap.resolve()))]
    m = found[0]
    assert m.architecture == "llama" and m.chat_template and "Hugging Face cache" in m.origin
    assert m.size_bytes == (tiny_model / "model.safetensors").stat().st_size
    assert len(problems) == 1 and problems[0].startswith("mlx-community/broken: ")
    # a repository id resolves to its snapshot in the cache; no download is ever tried
    eng = backends.engine("mlx")
    assert eng.resolve_model("mlx-community/tiny-llama-4bit").path == str(snap.resolve())
    with pytest.raises(BackendError, match="never downloads"):
        eng.resolve_model("mlx-community/not-here")
    # the backend keeps the repository id as the model's name (the snapshot folder is named by a hash)
    from ipwtui.core.settings import RunSettings

    b = eng.create(m, RunSettings())
    assert b.load().name == "mlx-community/tiny-llama-4bit"
    b.close()


def test_resolve_model_default_and_errors(tiny_model, no_search):
    eng = backends.engine("mlx")
    with pytest.raises(BackendError, match="no MLX model found"):
        eng.resolve_model(None)
    with pytest.raises(BackendError, match="no config.json"):
        eng.resolve_model(str(no_search))
    m = eng.resolve_model(str(tiny_model))
    assert m.origin == "--model" and m.path == str(tiny_model.resolve())


def test_discovery_imports_no_mlx(tiny_model, tmp_path):
    code = ("import sys; from ipwtui import backends; e = backends.engine('mlx'); "
            f"found, _ = e.find_models(extra_dirs=[{str(tiny_model.parent)!r}]); "
            "assert found, 'nothing found'; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlx', 'mlx_lm', 'transformers')))")
    env = dict(os.environ, IPWTUI_CONFIG_DIR=str(tmp_path), HF_HUB_CACHE=str(tmp_path / "hf"))
    env.pop("IPWTUI_MODELS_DIR", None)
    p = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_fingerprint_is_the_hash_of_the_weights(tiny_model, tmp_path):
    eng = backends.engine("mlx")
    m = eng.resolve_model(str(tiny_model))
    assert eng.fingerprint(m) == hashlib.sha256((tiny_model / "model.safetensors").read_bytes()).hexdigest()
    f = fake_folder(tmp_path / "two", {"model_type": "llama"})
    expect = hashlib.sha256(b"\0" * 1000 + b"\1" * 234).hexdigest()  # shards in name order
    assert eng.fingerprint(describe(f, "t")) == expect


# ---- the backend -----------------------------------------------------------------------------


def test_engine_is_registered():
    assert "mlx" in backends.names()
    eng = backends.engine("mlx")
    assert eng.name == "mlx" and eng.where == "local"


def test_mlx_missing_is_a_one_line_error(tmp_path, monkeypatch):
    from ipwtui.backends.mlx.backend import MlxBackend

    folder = fake_folder(tmp_path / "m", {"model_type": "llama"})
    for mod in ("mlx", "mlx.core", "mlx_lm"):
        monkeypatch.setitem(sys.modules, mod, None)  # import fails as when not installed
    with pytest.raises(BackendError) as e:
        MlxBackend(str(folder)).load()
    msg = str(e.value)
    assert "\n" not in msg and "pip install 'ipwtui[mlx]'" in msg


def test_a_folder_mlx_lm_cannot_load_is_a_one_line_error(tiny_model, tmp_path):
    from ipwtui.backends.mlx.backend import MlxBackend

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(BackendError) as e:
        MlxBackend(str(broken)).load()
    assert str(broken) in str(e.value) and "mlx-lm could not load" in str(e.value) and "\n" not in str(e.value)


def test_load_reports_the_model_and_the_device(loaded, tiny_model):
    info = loaded.info
    assert info.backend == "mlx" and info.chat_template and info.extra["prompt_format"] == "chat template"
    assert info.size_bytes == (tiny_model / "model.safetensors").stat().st_size
    v = loaded.versions()
    assert set(v) >= {"mlx", "mlx-lm", "mlx device"}
    t = loaded.traits
    assert t.name == "mlx" and not t.remote
    assert set(t.reports) == {"token-counts", "timings", "peak-memory"}
    import mlx.core as mx

    on_cpu = mx.default_device().type == mx.cpu
    assert (t.uses_cpu_threads == os.cpu_count()) if on_cpu else t.uses_cpu_threads is None


def _rendered_prompt_tokens(model_dir: Path, messages: list[dict]) -> int:
    """The prompt's token count, from the template and the tokenizer file directly (not through mlx-lm)."""
    import jinja2
    from tokenizers import Tokenizer

    text = jinja2.Template(CHAT_TEMPLATE).render(messages=messages, add_generation_prompt=True)
    return len(Tokenizer.from_file(str(model_dir / "tokenizer.json")).encode(text, add_special_tokens=False).ids)


def test_a_run_through_the_runner(loaded, tiny_model, tmp_path):
    from ipwtui.core import events as ev
    from ipwtui.core.runner import Runner, messages_for
    from ipwtui.core.sensors.scripted import ScriptedSensor
    from ipwtui.core.session import Session
    from ipwtui.core.settings import RunSettings
    from ipwtui.workloads.base import Query, Score

    qs = [Query(id=f"q{i}", prompt=f"What is {i} plus {i}?", reference="A", kind="mc", domain="d", dataset="t")
          for i in range(3)]
    session = Session.create(tmp_path / "sess", {"id": "sess", "query_ids": [q.id for q in qs],
                                                 "domains": [{"domain": "cpu-scripted", "source": "scripted",
                                                              "quality": "estimated"}]})
    t0 = time.monotonic()
    runner = None
    tokens_seen = {}

    def listener(e):
        if isinstance(e, ev.QueryStarted):
            tokens_seen[e.query.id] = 0
            current[0] = e.query.id if not e.warmup else None
        if isinstance(e, ev.Token) and current[0]:
            tokens_seen[current[0]] += 1
            if current[0] == "q1" and e.n == 3:
                runner.skip()

    current = [None]
    settings = RunSettings(idle_seconds=0, warmup=1, sample_hz=50, max_tokens=24)
    runner = Runner(session, loaded, [ScriptedSensor(lambda t: 10.0 + math.sin(t - t0))], qs, settings,
                    scorer=lambda q, a: Score(correct=False, prediction=None, scorer="test"),
                    listener=listener, model_name="tiny-llama")
    runner.run()
    recs = {r.query_id: r for r in session.query_records()}
    assert len(session.query_records(include_warmup=True)) == 4  # the warm-up query is journaled apart
    assert recs["q0"].status == "ok" and recs["q2"].status == "ok"
    assert recs["q1"].status == "skipped" and recs["q1"].finish_reason == "abort" and tokens_seen["q1"] == 3
    for qid, r in recs.items():
        assert r.backend == "mlx" and r.counts_source == "mlx-lm responses"
        assert r.prompt_tokens == _rendered_prompt_tokens(tiny_model, messages_for(qs[int(qid[1])]))
        assert 0 < r.output_tokens <= settings.max_tokens
        assert r.decode_tps > 0 and r.prefill_tps > 0
        assert r.peak_memory_bytes > 0
        assert r.wall_sent <= r.wall_first <= r.wall_last <= r.wall_done
        assert r.energy_j is not None and r.energy_source == "scripted"
    for qid in ("q0", "q2"):
        assert recs[qid].finish_reason in ("stop", "length")
        if recs[qid].finish_reason == "length":
            assert recs[qid].output_tokens == settings.max_tokens
    # mlx-lm's count up to the cut (at least the three pieces shown), not a full answer's
    assert 3 <= recs["q1"].output_tokens < settings.max_tokens


def test_seeded_sampling_repeats_and_greedy_ignores_the_seed(loaded):
    msgs = [{"role": "user", "content": "Name a colour."}]
    a = loaded.generate(msgs, 16, temperature=1.0, seed=7)
    b = loaded.generate(msgs, 16, temperature=1.0, seed=7)
    assert a.text == b.text and a.output_tokens == b.output_tokens
    g1 = loaded.generate(msgs, 16, temperature=0.0, seed=1)
    g2 = loaded.generate(msgs, 16, temperature=0.0, seed=2)
    assert g1.text == g2.text


def test_a_model_without_a_chat_template_gets_the_plain_prompt(tiny_model, tmp_path):
    from tokenizers import Tokenizer

    from ipwtui.backends.mlx.backend import MlxBackend, plain_prompt

    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    cfg = json.loads((base / "tokenizer_config.json").read_text())
    del cfg["chat_template"]
    (base / "tokenizer_config.json").write_text(json.dumps(cfg))
    assert describe(base, "t").chat_template is False
    b = MlxBackend(str(base))
    info = b.load()
    assert info.extra["prompt_format"] == "plain completion"
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
    g = b.generate(msgs, 8)
    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    assert g.prompt_tokens == len(tok.encode(plain_prompt(msgs), add_special_tokens=False).ids)
    assert plain_prompt(msgs) == "Be brief.\n\nQuestion: What is 2+2?\nAnswer:"
    assert "\nQuestion:" not in g.text
    b.close()


def test_generate_before_load_is_an_error(tiny_model):
    from ipwtui.backends.mlx.backend import MlxBackend

    with pytest.raises(BackendError, match="not loaded"):
        MlxBackend(str(tiny_model)).generate([{"role": "user", "content": "x"}], 4)


def test_load_warms_up_with_a_tiny_generation(tiny_model, monkeypatch):
    import mlx_lm

    from ipwtui.backends.mlx.backend import MlxBackend

    calls = []
    real = mlx_lm.stream_generate

    def counting(model, tokenizer, prompt, max_tokens=256, **kw):
        calls.append(max_tokens)
        return real(model, tokenizer, prompt, max_tokens=max_tokens, **kw)

    monkeypatch.setattr(mlx_lm, "stream_generate", counting)
    b = MlxBackend(str(tiny_model), warmup_tokens=3)
    b.load()
    assert calls == [3]  # before any query: first-use costs stay out of the measured windows
    b.close()


def test_a_cancelled_generation_stops_and_says_aborted(loaded):
    import threading

    from ipwtui.backends.mlx.worker import MLX_THREAD

    cancel = threading.Event()
    cancel.set()
    g = MLX_THREAD.call(loaded._generate, [{"role": "user", "content": "hi"}], 50, None, 0.0, 0, cancel)
    assert g.aborted and g.finish_reason == "abort" and g.text == ""


def test_sessions_on_threads_of_their_own_exit_cleanly(tiny_model, tmp_path):
    """As the app runs each session on a thread of its own: MLX used from threads that end must not make
    the process abort at exit (MLX keeps streams per thread; the backend keeps MLX on one thread)."""
    code = f"""
import threading
from ipwtui.backends.mlx.backend import MlxBackend

def session():
    b = MlxBackend({str(tiny_model)!r})
    b.load()
    g = b.generate([{{"role": "user", "content": "hi"}}], 8)
    assert g.output_tokens
    b.close()

for _ in range(3):
    t = threading.Thread(target=session)
    t.start()
    t.join()
print("done")
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, capture_output=True, text=True)
    assert (p.returncode, p.stdout.strip()) == (0, "done"), p.stderr[-2000:]
    assert "terminate called" not in p.stderr
