"""Custom themes as files: JSON objects with the fields of ``textual.theme.Theme``.

Themes are looked up in, in order: $IPWTUI_THEMES_DIR, the project's ``themes/`` folder (next to the
package in a checkout), ``<prefix>/share/ipwtui/themes`` (an installed copy) and ``<config dir>/themes``
(the user's own). A later file with the same theme name replaces an earlier one. A broken file is
reported as a one-line problem and skipped: it never stops the app.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import fields
from pathlib import Path

THEMES_ENV = "IPWTUI_THEMES_DIR"
DEFAULT_THEME = "ipw-ember"
FALLBACK_THEME = "textual-dark"


class ThemeFileError(Exception):
    """A theme file cannot be read or is not a theme. ``str()`` is one line."""


def theme_dirs() -> list[Path]:
    out: list[Path] = []
    env = os.environ.get(THEMES_ENV)
    if env:
        out += [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    out.append(Path(__file__).resolve().parents[2] / "themes")
    out.append(Path(sys.prefix) / "share" / "ipwtui" / "themes")
    try:
        from ..core.config import config_dir

        out.append(config_dir() / "themes")
    except Exception:
        pass
    seen: set[Path] = set()
    uniq = []
    for p in out:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    return uniq


def load_theme_file(path: str | os.PathLike):
    """A ``Theme`` from a JSON file. Raises ThemeFileError with a one-line message."""
    from textual.theme import Theme

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ThemeFileError(f"{p}: cannot read theme ({e.strerror or e})") from None
    except ValueError as e:
        raise ThemeFileError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ThemeFileError(f"{p}: a theme file holds one JSON object")
    known = {f.name for f in fields(Theme)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeFileError(f"{p}: unknown theme field(s): {', '.join(unknown)}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise ThemeFileError(f"{p}: the theme needs a \"name\"")
    if not isinstance(data.get("primary"), str):
        raise ThemeFileError(f"{p}: the theme needs a \"primary\" colour")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError(f"{p}: \"variables\" must map names to strings")
    try:
        theme = Theme(**data)
        theme.to_color_system()  # parses every colour: a bad one fails here, not when applied
    except Exception as e:
        raise ThemeFileError(f"{p}: {e}") from None
    return theme


def discover_themes(dirs: list[Path] | None = None):
    """(themes by name, one-line problems) from every theme folder."""
    themes: dict = {}
    problems: list[str] = []
    for d in dirs if dirs is not None else theme_dirs():
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.json")):
            try:
                t = load_theme_file(f)
            except ThemeFileError as e:
                problems.append(str(e))
                continue
            themes[t.name] = t
    return themes, problems
