"""The config file: read strictly, never replaced by the defaults behind the user's back, and a broken one
reported as one line by every command that reads it."""

import json

import pytest

from ipwtui.core.config import ConfigError, config_path, config_settings, load_config, save_config
from ipwtui.core.settings import SettingError
from test_cli import ipwtui, one_line_error

QUICK = ["--queries", "quick", "--idle-seconds", "0", "--warmup", "0", "--backend", "fake"]


def _write(env, text: str | bytes):
    p = env / "config" / "config.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def test_no_file_gives_the_defaults(env):
    assert load_config() == {}
    assert config_settings().max_tokens == type(config_settings())().max_tokens


@pytest.mark.parametrize("text, words", [
    ('{"theme": "nord",\n  "settings": {', ":2: not valid JSON"),
    ("[1, 2]", "must be a JSON object (it is a list)"),
    (b"\xff\xfe\x00garbage", "cannot read the config file"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ('{"themes": "nord"}', "unknown key 'themes' (did you mean 'theme'?)"),
])
def test_a_broken_config_is_one_line_naming_the_file(env, text, words):
    p = _write(env, text)
    with pytest.raises(ConfigError) as e:
        load_config()
    assert str(e.value).startswith(str(p)) and words in str(e.value) and "\n" not in str(e.value)


def test_saving_never_replaces_a_config_that_cannot_be_read(env):
    p = _write(env, '{"theme": "nord", "models_dir": "/m",')
    before = p.read_bytes()
    with pytest.raises(ConfigError):
        save_config({"theme": "gruvbox"})
    assert p.read_bytes() == before


def test_saving_merges_into_a_good_config(env):
    _write(env, json.dumps({"models_dir": "/m"}))
    save_config({"theme": "gruvbox"})
    assert load_config() == {"models_dir": "/m", "theme": "gruvbox"}


def test_an_unknown_setting_is_refused_with_the_nearest_name(env):
    _write(env, json.dumps({"settings": {"max_token": 64}}))
    with pytest.raises(SettingError) as e:
        config_settings()
    assert str(e.value) == f"{config_path()}: unknown setting 'max_token' (did you mean 'max_tokens'?)"


def test_a_session_file_from_a_newer_version_may_carry_settings_this_one_does_not_know():
    from ipwtui.core.settings import RunSettings

    assert RunSettings.from_dict({"max_tokens": 64, "from_the_future": 1}).max_tokens == 64


@pytest.mark.parametrize("command", [["run", *QUICK], ["models"], ["sensors"]])
def test_every_command_reports_a_broken_config_in_one_line_and_exits_1(tmp_path, command):
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "config.json").write_text("{not json")
    p = ipwtui(tmp_path, *command)
    assert p.returncode == 1, (p.stdout, p.stderr)
    err = one_line_error(p)
    assert err.startswith(f"ipwtui: error: {cfg / 'config.json'}:1: not valid JSON")
    assert (cfg / "config.json").read_text() == "{not json"
