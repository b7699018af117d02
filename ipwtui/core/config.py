"""The user's config file (JSON) in the user's config directory: theme, models folder, defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

CONFIG_ENV = "IPWTUI_CONFIG_DIR"


def config_dir() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ipwtui"


def config_path() -> Path:
    return config_dir() / "config.json"


def load_config() -> dict:
    """The config as a dict; an absent or unreadable file gives {} (the defaults)."""
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_config(updates: dict) -> Path:
    """Merge ``updates`` into the config file and write it atomically."""
    data = load_config()
    data.update(updates)
    p = config_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def data_dir() -> Path:
    """Where sessions go by default."""
    env = os.environ.get("IPWTUI_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ipwtui"


def config_settings():
    """The run settings with the config file's ``settings`` section over the defaults.
    Raises SettingError (one line naming the file) for a bad value."""
    from .settings import RunSettings

    section = load_config().get("settings")
    return RunSettings.from_dict(section if section is not None else {}, where=str(config_path()))
