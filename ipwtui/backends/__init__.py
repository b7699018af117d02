"""Inference backends, one folder per engine, chosen by name.

``engine(name)`` gives the ``Engine`` a name stands for (its models, and how to build its backend); an
engine's module is imported only when it is asked for, so that listing names costs nothing.
"""

from __future__ import annotations

import importlib

from .base import BackendError, Engine

# canonical name -> module holding ENGINE; aliases map to a canonical name
_ENGINES = {
    "llama.cpp": "ipwtui.backends.llama_cpp",
    "fake": "ipwtui.backends.fake",
    "openai": "ipwtui.backends.openai",
    "mlx": "ipwtui.backends.mlx",
}
_ALIASES = {"llama": "llama.cpp", "llama-cpp": "llama.cpp", "llamacpp": "llama.cpp", "mlx-lm": "mlx",
            "openai-compatible": "openai"}
DEFAULT = "llama.cpp"


def names() -> list[str]:
    """Canonical backend names."""
    return list(_ENGINES)


def canonical(name: str | None) -> str:
    """The canonical name of ``name`` (an alias or a canonical name); BackendError for an unknown one."""
    n = (name or DEFAULT).strip()
    n = _ALIASES.get(n.lower(), n)
    if n not in _ENGINES:
        raise BackendError(f"unknown backend {name!r} (choose one of: {', '.join(names())})")
    return n


def engine(name: str | None) -> Engine:
    mod = importlib.import_module(_ENGINES[canonical(name)])
    return mod.ENGINE
