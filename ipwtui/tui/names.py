"""How the app names things for people (plain Python: no Textual here)."""

from __future__ import annotations

from pathlib import Path

MODEL_FILE_SUFFIXES = (".gguf", ".bin", ".safetensors")


def model_label(name: str | None) -> str:
    """A model as a person reads it: a file's name rather than its whole path (a server that serves a GGUF
    file names its model by that path); anything else (a model id, "org/model") as it is. The full path
    stays where provenance needs it: the session's files."""
    if not name:
        return ""
    if name.startswith(("/", "~", "./", "../")) or name.lower().endswith(MODEL_FILE_SUFFIXES):
        return Path(name).name
    return name
