"""MLX model folders: what one holds, where they are found, and their content hash.

An MLX model is a folder (as ``mlx_lm.load`` reads it): ``config.json`` (with ``model_type``), the weights
as ``*.safetensors``, and the tokenizer's files. Folders are found in the models folders every local engine
searches (``backends.base.models_dirs``) and in the Hugging Face cache, where a downloaded repository lives
as ``models--ORG--NAME/snapshots/REVISION/``. Only JSON files are read here: discovery imports no MLX.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..base import ModelRef, models_dirs

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tiktoken.model", "tokenizer.tiktoken")
MAX_DEPTH = 4  # how deep a models folder is searched for model folders
_DTYPES = {"bfloat16": "bf16", "float16": "f16", "float32": "f32", "float8_e4m3fn": "fp8"}


class ModelError(Exception):
    """A folder is not a loadable MLX model. ``str()`` is one line naming the folder."""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: not found") from None
    except ValueError as e:
        raise ModelError(f"{path}: not valid JSON ({e})") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read ({e.strerror or e})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a JSON object")
    return data


def weight_files(folder: Path) -> list[Path]:
    """The folder's ``*.safetensors`` files, sorted by name."""
    return sorted(p for p in folder.glob("*.safetensors") if p.is_file())


def quantization_label(cfg: dict) -> str | None:
    """"4-bit g64" for MLX quantised weights (``quantization`` in config.json), the mode when it is not
    the default affine one ("mxfp4 4-bit g32"); else the weights' dtype ("bf16"); None when unsaid."""
    q = cfg.get("quantization")
    if isinstance(q, dict) and q.get("bits"):
        label = f"{q['bits']}-bit" + (f" g{q['group_size']}" if q.get("group_size") else "")
        mode = q.get("mode")
        return f"{mode} {label}" if mode and mode != "affine" else label
    hf = cfg.get("quantization_config")
    if isinstance(hf, dict) and hf.get("quant_method"):  # quantised for another engine (gptq, awq, fp8)
        bits = hf.get("bits")
        return f"{hf['quant_method']}" + (f" {bits}-bit" if bits else "")
    for key in ("torch_dtype", "dtype"):
        for d in (cfg, cfg.get("text_config") or {}):
            v = d.get(key) if isinstance(d, dict) else None
            if isinstance(v, str):
                return _DTYPES.get(v, v)
    return None


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    tc = folder / "tokenizer_config.json"
    if not tc.is_file():
        return False
    try:
        return bool(_read_json(tc).get("chat_template"))
    except ModelError:
        return False


def describe(folder: str | os.PathLike, origin: str, name: str | None = None) -> ModelRef:
    """A ModelRef for an MLX model folder, from its JSON files. Raises ModelError (one line) for a folder
    that cannot be loaded: missing, no config, no ``model_type``, no weights, no tokenizer."""
    p = Path(folder).expanduser()
    if not p.exists():
        raise ModelError(f"{p}: model folder not found")
    if not p.is_dir():
        raise ModelError(f"{p}: not a folder (an MLX model is a folder with config.json and *.safetensors)")
    cfg_path = p / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{p}: no config.json, not an MLX model folder")
    cfg = _read_json(cfg_path)
    tc = cfg.get("text_config")
    text_cfg: dict = tc if isinstance(tc, dict) else {}  # multimodal configs nest the text model
    arch = cfg.get("model_type")
    if not isinstance(arch, str) or not arch:
        raise ModelError(f"{cfg_path}: no model_type, not a model mlx-lm can load")
    weights = weight_files(p)
    if not weights:
        if any(p.glob("*.gguf")):
            raise ModelError(f"{p}: GGUF files, no *.safetensors: a model for --backend llama.cpp")
        raise ModelError(f"{p}: no *.safetensors weights (incomplete download, or not an MLX model folder)")
    if not any((p / f).is_file() for f in TOKENIZER_FILES):
        raise ModelError(f"{p}: no tokenizer file ({', '.join(TOKENIZER_FILES[:2])})")
    try:
        size = sum(w.stat().st_size for w in weights)
    except OSError as e:  # a cache symlink whose blob is gone
        raise ModelError(f"{p}: cannot read a weight file ({e.strerror or e})") from None
    ctx = cfg.get("max_position_embeddings") or text_cfg.get("max_position_embeddings")
    return ModelRef(
        name=name or p.name,
        path=str(p.resolve()),
        format="mlx",
        size_bytes=size,
        quantization=quantization_label(cfg),
        architecture=arch,
        origin=origin,
        chat_template=_has_chat_template(p),
        context_length=int(ctx) if isinstance(ctx, int) and ctx > 0 else None,
        title=cfg.get("_name_or_path") if isinstance(cfg.get("_name_or_path"), str) else None,
    )


def fingerprint(folder: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 over the folder's weight files, sorted by name, each read in chunks (never whole)."""
    p = Path(folder)
    files = weight_files(p)
    if not files:
        raise ModelError(f"{p}: no *.safetensors weights to hash")
    h = hashlib.sha256()
    for f in files:
        try:
            with open(f, "rb") as fh:
                while True:
                    b = fh.read(chunk)
                    if not b:
                        break
                    h.update(b)
        except OSError as e:
            raise ModelError(f"{f}: cannot read the weights ({e.strerror or e})") from None
    return h.hexdigest()


# ---- the Hugging Face cache ------------------------------------------------------------------


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as huggingface_hub resolves it: $HF_HUB_CACHE (or the older
    $HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
    ~/.cache/huggingface/hub."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "huggingface" / "hub"


def repo_id(cache_entry: str) -> str | None:
    """"mlx-community/NAME" for a cache folder named "models--mlx-community--NAME" (None for others)."""
    if not cache_entry.startswith("models--"):
        return None
    parts = cache_entry[len("models--"):].split("--", 1)
    return "/".join(parts) if all(parts) else None


def snapshot(repo_dir: Path) -> Path | None:
    """The snapshot a cached repository's ``refs/main`` names; else its newest snapshot; None if none."""
    snaps = repo_dir / "snapshots"
    try:
        ref = (repo_dir / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        ref = ""
    if ref and (snaps / ref).is_dir():
        return snaps / ref
    try:
        found = [s for s in snaps.iterdir() if s.is_dir()]
    except OSError:
        return None
    return max(found, key=lambda s: s.stat().st_mtime) if found else None


def _looks_like_a_language_model(folder: Path) -> bool:
    """The cache is shared with every other tool: keep repositories that hold a generative language
    model (MLX-quantised, or a ...ForCausalLM / ...ForConditionalGeneration architecture)."""
    try:
        cfg = _read_json(folder / "config.json")
    except ModelError:
        return True  # a broken config is worth a problem line
    if isinstance(cfg.get("quantization"), dict):
        return True
    archs = cfg.get("architectures") or []
    return any(isinstance(a, str) and a.endswith(("ForCausalLM", "ForConditionalGeneration")) for a in archs)


def hf_cache_models(cache: Path | None = None) -> tuple[list[ModelRef], list[str]]:
    """Models in the Hugging Face cache (one per repository: the revision ``main`` points to)."""
    cache = cache or hf_cache_dir()
    found: list[ModelRef] = []
    problems: list[str] = []
    try:
        entries = sorted(cache.iterdir())
    except OSError:
        return found, problems  # no cache: nothing downloaded, not a problem
    for entry in entries:
        rid = repo_id(entry.name)
        if rid is None or not entry.is_dir():
            continue
        snap = snapshot(entry)
        if snap is None or not (snap / "config.json").exists():
            continue  # a dataset-like or half-fetched entry with no model config
        if not rid.startswith("mlx-community/") and not _looks_like_a_language_model(snap):
            continue
        try:
            found.append(describe(snap, f"Hugging Face cache {cache}", name=rid))
        except ModelError as e:
            problems.append(f"{rid}: {e}")
    return found, problems


# ---- all of them -----------------------------------------------------------------------------


def _model_folders(root: Path) -> list[Path]:
    """Folders under ``root`` (``root`` included) holding a config.json, not descending into them."""
    out: list[Path] = []
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):  # depth-bounded
        here = Path(dirpath)
        if "config.json" in filenames:
            out.append(here)
            dirnames[:] = []
            continue
        if len(here.parts) - base_depth >= MAX_DEPTH:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(out)


def discover(extra_paths: list[str] | None = None, extra_dirs: list[str] | None = None,
             hf_cache: Path | None = None) -> tuple[list[ModelRef], list[str]]:
    """All MLX models found here, and one-line problems met on the way (a bad folder is listed, never
    fatal): explicit paths, then the models folders, then the Hugging Face cache."""
    found: list[ModelRef] = []
    problems: list[str] = []
    seen: set[str] = set()

    def add(ref: ModelRef) -> None:
        if ref.path not in seen:
            seen.add(ref.path or "")
            found.append(ref)

    for p in extra_paths or []:
        try:
            add(describe(p, "--model"))
        except ModelError as e:
            problems.append(str(e))
    for folder in models_dirs(extra_dirs):
        if not folder.is_dir():
            problems.append(f"{folder}: models folder not found")
            continue
        for m in _model_folders(folder):
            try:
                add(describe(m, f"models dir {folder}"))
            except ModelError as e:
                problems.append(str(e))
    cached, bad = hf_cache_models(hf_cache)
    for ref in cached:
        add(ref)
    problems += bad
    return found, problems


def find_in_cache(spec: str, cache: Path | None = None) -> Path | None:
    """The snapshot folder of a repository id ("mlx-community/NAME") in the Hugging Face cache."""
    if spec.count("/") != 1:
        return None
    entry = (cache or hf_cache_dir()) / ("models--" + spec.replace("/", "--"))
    return snapshot(entry) if entry.is_dir() else None
