"""The user's config file (JSON) in the user's config directory: theme, models folder, defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .settings import SettingError

CONFIG_ENV = "IPWTUI_CONFIG_DIR"


def config_dir() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ipwtui"


def config_path() -> Path:
    return config_dir() / "config.json"


# the config file's keys: a key this version does not know is a typo or a newer file (said, not ignored)
KEYS = ("theme", "models_dir", "settings", "prices")


class ConfigError(SettingError):
    """The config file cannot be read as a config: ``str()`` is one line naming the file. A kind of
    SettingError: every place that reports a bad setting reports a bad config file the same way."""


def load_config() -> dict:
    """The config as a dict; no file gives {} (the defaults). A file that exists but is not a JSON object
    (a syntax error, a list, binary bytes) raises ConfigError: it is never silently replaced by the
    defaults, nor overwritten."""
    p = config_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read the config file ({getattr(e, 'strerror', None) or e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{p}:{e.lineno}: not valid JSON ({e.msg}); fix it or remove the file") from None
    except RecursionError:
        raise ConfigError(f"{p}: not a config file (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the config must be a JSON object (it is a {type(data).__name__})")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        import difflib

        near = difflib.get_close_matches(unknown[0], KEYS, n=1)
        raise ConfigError(f"{p}: unknown key {unknown[0]!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                          + f"; the keys are {', '.join(KEYS)}")
    return data


def save_config(updates: dict) -> Path:
    """Merge ``updates`` into the config file and write it atomically. A config file that cannot be read
    raises ConfigError and is left as it is (never replaced by the updates alone)."""
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
    """The run settings with the config file's ``settings`` section over the defaults. Raises SettingError
    (one line naming the file) for a bad value or an unknown setting, ConfigError for a config file that
    cannot be read."""
    from .settings import RunSettings

    section = load_config().get("settings")
    return RunSettings.from_dict(section if section is not None else {}, where=str(config_path()),
                                 strict=True)
