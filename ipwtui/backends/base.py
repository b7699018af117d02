"""The backend layer's own shapes: an ``Engine`` is what a backend name stands for.

An engine finds and resolves its own models (GGUF files for llama.cpp, model folders for MLX, a served
model id for a remote server) and builds a backend for a run. The core sees only the built backend,
through ``ipwtui.core.backend.Backend``; the run path (``ipwtui.runs``) and the front ends pick an engine
by name from ``ipwtui.backends`` and never import a backend's module themselves.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

from ..core.backend import (  # noqa: F401  (re-exported for backend modules)
    LOCAL,
    REMOTE,
    REPORTS_PEAK_MEMORY,
    REPORTS_SERVER_USAGE,
    REPORTS_TIMINGS,
    REPORTS_TOKEN_COUNTS,
    Backend,
    BackendError,
    BackendTraits,
    Generation,
    ModelInfo,
    ModelRef,
    TokenCallback,
)
from ..core.settings import RunSettings

MODELS_DIR_ENV = "IPWTUI_MODELS_DIR"


class Engine(Protocol):
    """What a backend name stands for: its models and how to build it for a run."""

    name: str  # canonical name: "llama.cpp", "fake"
    aliases: tuple[str, ...]  # other names accepted on the command line: "llama"
    summary: str  # one line for --help and the setup screen
    where: str  # LOCAL or REMOTE

    def find_models(self, extra_paths: list[str] | None = None, extra_dirs: list[str] | None = None,
                    settings: RunSettings | None = None) -> tuple[list[ModelRef], list[str]]:
        """Models this engine can run (found here, or listed by a server), and one-line problems met on the
        way."""
        ...

    def resolve_model(self, spec: str | None, settings: RunSettings | None = None) -> ModelRef:
        """The model a run asks for (None: this engine's default, or the settings' choice). Raises
        BackendError (one line)."""
        ...

    def check(self, settings: RunSettings, model: str | None = None) -> str | None:
        """One cheap check before a run (a remote server answers and serves the model): a one-line
        problem, or None. Local engines have nothing to check."""
        ...

    def fingerprint(self, model: ModelRef) -> str | None:
        """A content hash that says the model is the same one (None when the engine cannot tell)."""
        ...

    def create(self, model: ModelRef, settings: RunSettings) -> Backend:
        """A backend for this model and these settings, not loaded yet."""
        ...


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def models_dirs(extra: list[str] | None = None) -> list[Path]:
    """The models folders every local engine searches, in order and without repeats: ``extra`` (from
    --models-dir), then $IPWTUI_MODELS_DIR (os.pathsep-separated), then ``models_dir`` from the config file.
    Each engine looks there for its own kind of model (GGUF files, MLX model folders)."""
    dirs: list[Path] = [Path(d).expanduser() for d in (extra or [])]
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        dirs += [Path(d).expanduser() for d in env.split(os.pathsep) if d]
    from ..core.config import load_config

    cfg_dir = load_config().get("models_dir")
    if cfg_dir:
        dirs.append(Path(str(cfg_dir)).expanduser())
    seen, out = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out
