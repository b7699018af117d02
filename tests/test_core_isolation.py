"""The core never imports Textual (or other front-end libraries) at run time, and the CLI starts light.

The static rules (layers, forbidden imports, deferred imports included) are import-linter contracts in
pyproject.toml, checked by tests/test_architecture.py; this checks what is actually loaded."""

import pkgutil
import subprocess
import sys

import ipwtui


def _modules(prefixes: tuple[str, ...]) -> list[str]:
    out = []
    for m in pkgutil.walk_packages(ipwtui.__path__, "ipwtui."):
        if m.name.startswith(prefixes):
            out.append(m.name)
    return out


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_headless_path_does_not_import_textual():
    mods = _modules(("ipwtui.core", "ipwtui.workloads", "ipwtui.backends", "ipwtui.runs", "ipwtui.headless"))
    assert "ipwtui.core.runner" in mods and "ipwtui.backends.llama_cpp.gguf" in mods
    loaded = _loaded_after("\n".join(f"import {m}" for m in mods))
    assert not any(m == "textual" or m.startswith("textual.") for m in loaded)


def test_core_loads_no_front_end_library():
    loaded = _loaded_after("\n".join(f"import {m}" for m in _modules(("ipwtui.core",))))
    assert not {"textual", "rich"} & loaded
    assert not any(m.startswith(("ipwtui.backends", "ipwtui.tui", "ipwtui.headless", "ipwtui.runs"))
                   for m in loaded)


def test_cli_help_imports_no_heavy_library():
    mods = _loaded_after("import ipwtui.cli\nipwtui.cli.build_parser().format_help()")
    heavy = {"textual", "rich", "pandas", "numpy", "llama_cpp", "pynvml", "psutil"}
    assert not heavy & mods
