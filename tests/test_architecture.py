"""The layers are checked statically by import-linter (contracts in pyproject.toml): the real tree keeps
them, and a deliberate upward import, deferred into a function, breaks them."""

import os
import shutil
import subprocess
import sys
import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
from pathlib import Path

import ipwtui

ROOT = Path(__file__).resolve().parents[1]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_tree_keeps_every_contract():
    p = _lint(ROOT)
    assert p.returncode == 0, p.stdout[-3000:]
    assert "0 broken" in p.stdout


def test_an_upward_import_deferred_into_a_function_breaks_the_layers(tmp_path):
    shutil.copytree(ROOT / "ipwtui", tmp_path / "ipwtui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    energy = tmp_path / "ipwtui" / "core" / "energy.py"
    energy.write_text(energy.read_text() + "\n\ndef _sneaky():\n    from ..backends import engine\n\n"
                      "    return engine\n")
    p = _lint(tmp_path)
    assert p.returncode != 0
    assert "ipwtui.core.energy -> ipwtui.backends" in p.stdout


def test_the_widget_contract_names_every_core_module_but_the_formatting():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in cfg["tool"]["importlinter"]["contracts"] if c["name"].startswith("Widgets"))
    forbidden = set(contract["forbidden_modules"])
    core = {p.stem for p in (Path(ipwtui.__file__).parent / "core").iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    allowed = {"fmt"}
    assert {f"ipwtui.core.{m}" for m in core - allowed} <= forbidden
    assert "ipwtui.core.fmt" not in forbidden
