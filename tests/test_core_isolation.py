"""The core never imports Textual (or other front-end libraries), and the CLI starts light."""

import subprocess
import sys

CORE_MODULES = [
    "ipwtui.core.energy", "ipwtui.core.sampler", "ipwtui.core.metrics", "ipwtui.core.session",
    "ipwtui.core.runner", "ipwtui.core.plan", "ipwtui.core.export", "ipwtui.core.summary",
    "ipwtui.core.models", "ipwtui.core.sensors", "ipwtui.core.sensors.rapl", "ipwtui.core.sensors.nvml",
    "ipwtui.core.sensors.cpu_model", "ipwtui.backends.llama_cpp", "ipwtui.workloads.loaders",
    "ipwtui.workloads.scoring", "ipwtui.headless",
]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_does_not_import_textual():
    mods = _loaded_after("\n".join(f"import {m}" for m in CORE_MODULES))
    assert not any(m == "textual" or m.startswith("textual.") for m in mods)


def test_cli_help_imports_no_heavy_library():
    mods = _loaded_after("import ipwtui.cli\nipwtui.cli.build_parser().format_help()")
    heavy = {"textual", "rich", "pandas", "numpy", "llama_cpp", "pynvml", "psutil"}
    assert not heavy & mods
