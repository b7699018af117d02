"""MLX in this process (mlx-lm) on MLX model folders: Metal on Apple silicon, the CPU on Linux."""

from __future__ import annotations

from pathlib import Path

from ..base import LOCAL, BackendError, ModelRef
from ...core.settings import RunSettings


class MlxEngine:
    name = "mlx"
    aliases: tuple[str, ...] = ("mlx-lm",)
    summary = "MLX in this process (mlx-lm), MLX model folders: Apple silicon GPU, or the CPU on Linux"
    where = LOCAL

    def find_models(self, extra_paths=None, extra_dirs=None, settings=None):
        from .models import discover

        return discover(extra_paths=extra_paths, extra_dirs=extra_dirs)

    def resolve_model(self, spec: str | None, settings: RunSettings | None = None) -> ModelRef:
        """A model folder, a repository id in the Hugging Face cache ("mlx-community/NAME"), or the name
        of a model discovery finds. None: the first model discovery finds (models folders first)."""
        from .models import ModelError, describe, discover, find_in_cache

        if spec is None:
            found, _ = discover()
            if not found:
                raise BackendError("no MLX model found: pass --model FOLDER (config.json + *.safetensors), "
                                   "set IPWTUI_MODELS_DIR, or download one into the Hugging Face cache "
                                   "(hf download mlx-community/NAME)")
            m = found[0]
            m.origin = f"default (first found: {m.origin})"
            return m
        p = Path(spec).expanduser()
        try:
            if p.exists():
                return describe(p, "--model")
            snap = find_in_cache(spec)
            if snap is not None:
                return describe(snap, "--model (Hugging Face cache)", name=spec)
        except ModelError as e:
            raise BackendError(str(e)) from None
        found, _ = discover()
        named = [m for m in found if spec in (m.name, Path(m.path or "").name)]
        if named:
            return named[0]
        raise BackendError(f"{spec}: no such MLX model folder, and not a model in the Hugging Face cache "
                           "(ipwtui never downloads: hf download REPO first)")

    def check(self, settings: RunSettings, model: str | None = None) -> str | None:
        return None

    def fingerprint(self, model: ModelRef) -> str | None:
        if not model.path:
            return None
        from .models import ModelError, fingerprint

        try:
            return fingerprint(model.path)
        except ModelError as e:
            raise BackendError(str(e)) from None

    def create(self, model: ModelRef, settings: RunSettings):
        """MLX picks its device itself (the GPU on Apple silicon); thread and GPU-layer settings are for
        llama.cpp and do not apply."""
        from .backend import MlxBackend

        if not model.path:
            raise BackendError(f"{model.name}: an MLX model needs a local folder")
        return MlxBackend(model.path, model_name=model.name)


ENGINE = MlxEngine()
