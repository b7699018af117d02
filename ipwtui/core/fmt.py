"""How figures are written for people: one place, so the app and the CLI say the same thing.

Unavailable is "N/A", never 0. A figure whose energy is not measured carries a mark saying so.
"""

from __future__ import annotations

from .sensors.base import ESTIMATED, MEASURED, MEASURED_REMOTE, MODEL_BASED

NA = "N/A"
QUALITY_MARK = {MEASURED: "", MEASURED_REMOTE: " (measured on the server)", MODEL_BASED: " (model-based)",
                ESTIMATED: " (estimate)"}
QUALITY_SHORT = {MEASURED: "meas", MEASURED_REMOTE: "server", MODEL_BASED: "model", ESTIMATED: "est",
                 "unavailable": "N/A"}


MODEL_FILE_SUFFIXES = (".gguf", ".bin", ".safetensors")


def model_label(name: str | None) -> str:
    """A model as a person reads it: a file's name rather than its whole path (a server that serves a GGUF
    file names its model by that path); anything else (a model id, "org/model") as it is. The full path
    stays where provenance needs it: the session's files."""
    if not name:
        return ""
    if name.startswith(("/", "~", "./", "../")) or name.lower().endswith(MODEL_FILE_SUFFIXES):
        return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or name
    return name


def num(v, digits: int = 3, unit: str = "") -> str:
    """A number with ``digits`` significant digits (N/A for None or NaN)."""
    if v is None or v != v:
        return NA
    if isinstance(v, bool):
        return str(v)
    av = abs(v)
    if av == 0:
        s = "0"
    elif av >= 10 ** digits:
        s = f"{v:.0f}"
    elif av < 1e-4:
        s = f"{v:.{max(digits - 1, 0)}e}"
    else:
        s = f"{v:.{digits}g}"
    return f"{s} {unit}" if unit else s


def ci(interval, digits: int = 3) -> str:
    if not interval:
        return ""
    lo, hi = interval
    return f"[{num(lo, digits)}, {num(hi, digits)}]"


def pct(v) -> str:
    return NA if v is None else f"{100 * v:.1f} %"


def mark(quality: str | None) -> str:
    return QUALITY_MARK.get(quality or "", " (N/A)" if quality == "unavailable" else "")


def correct_symbol(c) -> str:
    return "✓" if c is True else "✗" if c is False else "–"


def size(n: int | None) -> str:
    """A byte count for people: 98.2 MB (N/A when unknown)."""
    if n is None:
        return NA
    x = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if x < 1000 or unit == "TB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1000.0
    return NA


def usd(v) -> str:
    """A cost in US dollars (N/A for None): small costs keep their significant digits."""
    if v is None or v != v:
        return NA
    if v == 0:
        return "$0"
    return f"${num(v, 3)}"
