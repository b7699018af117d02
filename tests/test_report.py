"""The shareable report: its sections and charts, estimate marks, N/A, nothing fetched, Markdown with SVG
files beside it, sessions of different query sets never ranked together, the extra-sections hook."""

from __future__ import annotations

import json
import math
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ipwtui.cli import main
from ipwtui.report import ReportError, load, write_html, write_markdown
from ipwtui.report import sections
from support import canned_records

WALL0 = 1_750_000_000.0
# the tests that run without matplotlib (the others are skipped with the install hint when it is missing)
WITHOUT_MATPLOTLIB = {"test_missing_matplotlib_is_one_line_with_the_install_hint",
                      "test_importing_the_report_package_is_light"}


@pytest.fixture(autouse=True)
def _matplotlib(request):
    if request.node.originalname not in WITHOUT_MATPLOTLIB:
        pytest.importorskip("matplotlib", reason="the report needs matplotlib: pip install 'ipwtui[report]'")


def write_session(folder: Path, n: int = 14, ids: list[str] | None = None, model: str = "SmolLM2-135M-Instruct",
                  accelerator: str = "cpu", status: str = "finished", quality: str = "estimated",
                  energy: bool = True, samples: int = 400, segments: int = 1, where: str = "local",
                  base_url: str | None = None, queries_file: str = "/data/queries/quick.jsonl",
                  watts_scale: float = 1.0, correct_all: bool | None = None) -> Path:
    """A session folder as the runner writes one (session.json, journal.jsonl, power.csv), from the
    canned records of tests/support.py (query 5 unscored, query 9 skipped). With ``segments=2`` the second
    half of the queries ran in a resumed run an hour later."""
    folder.mkdir(parents=True)
    ids = ids or [f"q{i:03d}" for i in range(n)]
    source, boundary = ("cpu-time-model", "process-cpu-time") if quality != "measured" else ("rapl", "cpu-package")
    meta = {
        "id": folder.name, "model": {"name": model, "quantization": "Q4_1", "sha256": "ab" * 32,
                                     "path": f"/models/{model}.gguf", "size_bytes": 98_362_432},
        "backend": "fake" if where == "local" else "openai", "where": where, "accelerator": accelerator,
        "queries_file": queries_file, "query_ids": ids, "status": status, "created": WALL0,
        "settings": {"energy_view": "gross", "base_url": base_url},
        "domains": [{"domain": "cpu-est", "name": "cpu-est", "source": source, "quality": quality,
                     "boundary": boundary, "accelerator": "cpu"}],
        "capabilities": [
            {"domain": "cpu-est", "source": source, "quality": quality, "boundary": boundary, "available": True,
             "reason": "estimate, not a measurement" if quality != "measured" else ""},
            {"domain": "gpu", "source": "nvml", "quality": "unavailable", "boundary": "accelerator",
             "available": False, "reason": "NVML not found", "fix": "pip install 'ipwtui[nvidia]'"}],
        "provenance": {"ipwtui": "0.1.0", "llama-cpp-python": "0.3.36",
                       "machine": {"platform": "Linux-test", "cpu": "Test CPU", "logical_cpus": 2,
                                   "memory_bytes": 8_000_000_000}},
    }
    (folder / "session.json").write_text(json.dumps(meta), encoding="utf-8")
    recs = canned_records(n)
    half = n // 2 if segments == 2 else n
    lines, spans = [], {}
    for s in range(segments):
        lines.append({"type": "idle", "idle_w": {"cpu-est": 2.1}, "seconds": 3.0, "segment": s})
    for i, r in enumerate(recs):
        d = r.to_dict()
        seg = 0 if i < half else 1
        shift = 3600.0 * seg
        d.update(query_id=ids[i], index=i, segment=seg, energy_quality=quality, energy_source=source,
                 energy_boundary=boundary)
        for k in ("wall_sent", "wall_first", "wall_last", "wall_done"):
            if d.get(k) is not None:
                d[k] += shift
        if correct_all is not None and d.get("correct") is not None:
            d["correct"] = correct_all
        if energy:
            for k in ("energy_j", "energy_net_j", "avg_power_w"):
                d[k] = d[k] * watts_scale
        else:
            d.update(energy_j=None, energy_net_j=None, avg_power_w=None, energy_quality="unavailable",
                     energy_source=None, energy_by_domain={}, prefill_energy_j=None, decode_energy_j=None)
        lines.append(d)
        lo, hi = spans.get(seg, (math.inf, -math.inf))
        spans[seg] = (min(lo, d["wall_sent"] - 1.0), max(hi, d["wall_done"] + 0.5))
    for s, (lo, hi) in spans.items():
        counted = sum(x["energy_j"] or 0 for x in lines if x.get("type") == "query" and x["segment"] == s
                      and x["status"] == "ok")
        lines.append({"type": "segment", "segment": s, "seconds": hi - lo,
                      "total_j": counted * 1.05 if energy else None, "counted_j": counted if energy else None,
                      "excluded_j": 0.0 if energy else None, "unattributed_j": counted * 0.05 if energy else None,
                      "idle_j": 2.1 * (hi - lo) if energy else None, "source": source if energy else "",
                      "quality": quality if energy else "unavailable"})
    with open(folder / "journal.jsonl", "w", encoding="utf-8") as f:
        for d in lines:
            f.write(json.dumps(d) + "\n")
    with open(folder / "power.csv", "w", encoding="utf-8") as f:
        f.write("time,segment,domain,watts\n")
        per = max(samples // len(spans), 2)
        for s, (lo, hi) in sorted(spans.items()):
            for k in range(per):
                t = lo + (hi - lo) * k / (per - 1)
                w = "" if k == 3 else f"{(7.0 + 2.0 * math.sin(k / 9.0)) * watts_scale:.4f}"  # one N/A sample
                f.write(f"{t:.4f},{s},cpu-est,{w}\n")
    return folder


class _Doc(HTMLParser):
    """What the tests read from the HTML: element ids, svg elements and their titles, figures, tables,
    links and sources, script and stylesheet tags, section ids in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.svgs: list[dict] = []
        self.refs: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self.sections: list[str] = []
        self._svg_depth = 0
        self._in_title = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("id"):
            self.ids.append(a["id"])
        for k in ("src", "href", "xlink:href", "action", "data"):
            if k in a:
                self.refs.append((k, a[k] or ""))
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "svg":
            self._svg_depth += 1
            if self._svg_depth == 1:
                self.svgs.append({"id": a.get("id"), "title": None, "text": []})
        elif tag == "title" and self._svg_depth:
            self._in_title = True

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "svg":
            self._svg_depth -= 1

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg_depth -= 1
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._svg_depth and self.svgs:
            if self._in_title and self.svgs[-1]["title"] is None:
                self.svgs[-1]["title"] = data
            else:
                self.svgs[-1]["text"].append(data)
        else:
            self.text.append(data)


def parse(html: str) -> _Doc:
    d = _Doc()
    d.feed(html)
    return d


def _row(html: str, name: str) -> str:
    """The HTML of the headline table's row named ``name``."""
    m = re.search(r"<tr><td>" + re.escape(name) + r"</td>(.*?)</tr>", html, re.S)
    assert m, f"no row {name!r}"
    return m.group(1)


@pytest.fixture
def one(tmp_path) -> Path:
    return write_session(tmp_path / "s1")


def test_html_report_has_every_section_and_chart(one, tmp_path):
    out = write_html([one], tmp_path / "r.html")
    html = out.read_text(encoding="utf-8")
    doc = parse(html)
    assert doc.sections == ["accuracy-power", "session-1"]
    for fig in ("chart-accuracy-power-1", "chart-power-1", "chart-energy-1", "chart-domains-1"):
        assert fig in doc.ids
    assert len(doc.svgs) == 4
    titles = [s["title"] for s in doc.svgs]
    assert all(titles), titles
    assert any(t.startswith("Power over time") for t in titles)
    assert any(t.startswith("Energy per query") for t in titles)
    assert any(t.startswith("Accuracy and energy per domain") for t in titles)
    assert any(t.startswith("Accuracy against mean power") for t in titles)
    for heading in ("Headline figures", "Energy bookkeeping", "Accuracy by domain", "Provenance", "Sensors",
                    "Versions", "Machine"):
        assert f">{heading}<" in html, heading
    # ids are unique across the page although every chart is its own SVG document
    assert len(doc.ids) == len(set(doc.ids)), [i for i in doc.ids if doc.ids.count(i) > 1][:5]


def test_headline_figures_carry_intervals_coverage_quality_and_boundary(one, tmp_path):
    html = write_html([one], tmp_path / "r.html").read_text(encoding="utf-8")
    ipw = _row(html, "IPW (1/W)")
    assert re.search(r'class="ci">\[[0-9.]+, [0-9.]+\]', ipw)  # 13 answered queries: an interval
    assert "13 queries" in ipw  # what the figure covers (14 planned, one skipped)
    acc = _row(html, "accuracy")
    # canned records: 14 queries, #9 skipped, #5 unscored, wrong where i % 3 == 1 (1, 4, 7, 10, 13)
    assert "7/12 scored, 1 unscored" in acc
    assert "process-cpu-time" in html and "cpu-time-model" in html  # boundary and source


def test_estimates_are_marked_as_estimates_and_measurements_are_not(tmp_path):
    est = write_html([write_session(tmp_path / "est")], tmp_path / "e.html").read_text(encoding="utf-8")
    meas = write_html([write_session(tmp_path / "meas", quality="measured")],
                      tmp_path / "m.html").read_text(encoding="utf-8")
    for name in ("IPW (1/W)", "IPJ (1/J)", "mean power", "mean energy per query"):
        assert 'class="est"' in _row(est, name), name
        assert 'class="est"' not in _row(meas, name), name
    assert 'class="est"' not in _row(est, "accuracy")  # accuracy is counted, not estimated
    for doc, marked in ((parse(est), True), (parse(meas), False)):
        for svg in doc.svgs:
            if svg["title"].startswith(("Power", "Energy", "Accuracy and energy")):
                assert ("estimate" in svg["title"]) is marked, svg["title"]
        legend = " ".join(t for s in doc.svgs for t in s["text"])
        assert ("(estimate)" in legend) is marked
    assert "Energy here is an estimate, not a measurement" in est
    assert "not a measurement" not in meas.split("<main>")[1].split('id="session-1"')[1].split("Provenance")[0]


def test_missing_figures_read_na_never_zero(tmp_path):
    folder = write_session(tmp_path / "noenergy", energy=False)
    html = write_html([folder], tmp_path / "r.html").read_text(encoding="utf-8")
    for name in ("IPW (1/W)", "IPJ (1/J)", "mean power", "J per correct answer"):
        row = _row(html, name)
        assert row.count('<span class="na">N/A</span>') == 2, (name, row)
        assert not re.search(r">0(\.0+)?( [WJ])?<", row), row
    doc = parse(html)
    energy = next(s for s in doc.svgs if s["title"].startswith("Energy per query"))
    assert "no query has an energy figure (N/A)" in " ".join(energy["text"])
    assert "No energy figure" in html


def test_no_network_reference_in_the_html(tmp_path):
    folder = write_session(tmp_path / "remote", where="remote", base_url="https://api.example.com/v1")
    html = write_html([folder], tmp_path / "r.html").read_text(encoding="utf-8")
    doc = parse(html)
    for attr, value in doc.refs:  # only links inside the page
        assert value.startswith("#"), (attr, value)
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(doc.tags)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.I)
    assert "@import" not in html and not re.search(r"url\((?!#)", html)  # url(#id): inside the page
    assert "https://api.example.com/v1" in html  # the remote target, as plain text in the provenance
    assert "remote api.example.com" in html


def test_a_session_without_power_samples_says_na(one, tmp_path):
    (one / "power.csv").unlink()
    doc = parse(write_html([one], tmp_path / "r.html").read_text(encoding="utf-8"))
    power = next(s for s in doc.svgs if s["title"].startswith("Power"))
    assert "no power samples (N/A)" in " ".join(power["text"])
    assert len(doc.svgs) == 4


def test_long_power_series_are_downsampled_and_say_so(tmp_path):
    folder = write_session(tmp_path / "long", samples=30_000)
    html = write_html([folder], tmp_path / "r.html").read_text(encoding="utf-8")
    cap = re.search(r'id="chart-power-1".*?<figcaption>(.*?)</figcaption>', html, re.S).group(1)
    assert "Downsampled for the plot: 30,000 samples" in cap
    short = write_html([write_session(tmp_path / "short", samples=300)], tmp_path / "s.html").read_text()
    cap = re.search(r'id="chart-power-1".*?<figcaption>(.*?)</figcaption>', short, re.S).group(1)
    assert "Downsampled" not in cap
    # the drawing is bounded, not one vertex per sample
    assert len(html) < len(short) + 400_000


def test_resumed_session_joins_its_runs_on_the_power_chart(tmp_path):
    folder = write_session(tmp_path / "resumed", segments=2)
    html = write_html([folder], tmp_path / "r.html").read_text(encoding="utf-8")
    doc = parse(html)
    power = next(s for s in doc.svgs if s["title"].startswith("Power"))
    assert "resumed run" in " ".join(power["text"])
    cap = re.search(r'id="chart-power-1".*?<figcaption>(.*?)</figcaption>', html, re.S).group(1)
    assert "resumed" in cap
    # the hour between the two runs is left out of the axis: its ticks stay below a few minutes
    ticks = [float(t.replace("−", "-")) for t in power["text"] if re.fullmatch(r"[−-]?\d+(\.\d+)?", t.strip())]
    assert ticks and max(ticks) < 600


def test_markdown_report_writes_svg_files_beside_it(one, tmp_path):
    paths = write_markdown([one], tmp_path / "out" / "report.md")
    md = paths[0].read_text(encoding="utf-8")
    svgs = paths[1:]
    assert paths[0].name == "report.md"
    assert {p.name for p in svgs} == {"report-accuracy-power-1.svg", "report-power-1.svg", "report-energy-1.svg",
                                      "report-domains-1.svg"}
    for p in svgs:
        assert p.parent == paths[0].parent
        assert f"]({p.name})" in md
        root = ET.fromstring(p.read_text(encoding="utf-8"))
        assert root.tag.endswith("svg")
        assert root.find("{http://www.w3.org/2000/svg}title").text
    assert "| IPW (1/W) |" in md and "(estimate)" in md.split("| IPW (1/W) |")[1].split("\n")[0]
    assert "### Provenance" in md.splitlines() and "### Headline figures" in md.splitlines()


def test_sessions_with_different_query_sets_are_not_comparable(tmp_path):
    a = write_session(tmp_path / "a", ids=[f"a{i}" for i in range(14)])
    b = write_session(tmp_path / "b", ids=[f"b{i}" for i in range(14)], watts_scale=0.5)
    html = write_html([a, b], tmp_path / "r.html").read_text(encoding="utf-8")
    side = html.split('id="side-by-side"')[1].split("</section>")[0]
    assert "Not comparable" in side
    assert side.count("<table") == 2  # one table per query set
    assert side.count("<h3>Query set quick.jsonl") == 2
    doc = parse(html)
    assert sum(1 for i in doc.ids if i.startswith("chart-accuracy-power-")) == 2  # one chart per set
    md = write_markdown([a, b], tmp_path / "md" / "report.md")[0].read_text(encoding="utf-8")
    assert "**Not comparable:**" in md


def test_sessions_of_one_query_set_are_ranked_by_ipw(tmp_path):
    a = write_session(tmp_path / "a")
    b = write_session(tmp_path / "b", watts_scale=0.5)  # half the power: twice the IPW
    html = write_html([a, b], tmp_path / "r.html").read_text(encoding="utf-8")
    side = html.split('id="side-by-side"')[1].split("</section>")[0]
    assert "Not comparable" not in side
    assert side.count("<table") == 1
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\w+)</td>", side)
    assert rows == [("1", "b"), ("2", "a")]


def test_extra_sections_hook(one, tmp_path, monkeypatch):
    def provider(sessions, kind):
        assert [s.name for s in sessions] == ["s1"]
        yield ("Routing what-if", "<p>routing body</p>" if kind == "html" else "routing body")

    monkeypatch.setattr(sections, "PROVIDERS", [provider])
    html = write_html([one], tmp_path / "r.html",
                      extra_sections=[("Comparison", "<table><tr><td>cmp</td></tr></table>")]).read_text()
    doc = parse(html)
    assert doc.sections == ["accuracy-power", "extra-1", "extra-2", "session-1"]
    assert "<h2>Routing what-if</h2>\n<p>routing body</p>" in html
    assert '<a href="#extra-2">Comparison</a>' in html
    md = write_markdown([one], tmp_path / "md" / "report.md", extra_sections=[("Comparison", "cmp")])[0].read_text()
    assert md.index("## Routing what-if") < md.index("## Comparison") < md.index("## Session s1")


def test_a_fresh_summary_json_is_read_a_stale_one_is_not(one, tmp_path):
    import os

    built = load([one])[0].summary
    cached = json.loads(json.dumps(built))
    cached["metrics"]["gross"]["ipw"] = 123.0
    (one / "summary.json").write_text(json.dumps(cached), encoding="utf-8")
    st = (one / "journal.jsonl").stat()
    os.utime(one / "summary.json", (st.st_atime, st.st_mtime + 5))
    assert load([one])[0].summary["metrics"]["gross"]["ipw"] == 123.0
    os.utime(one / "journal.jsonl", (st.st_atime, st.st_mtime + 10))  # journal written after it
    assert load([one])[0].summary["metrics"]["gross"]["ipw"] == built["metrics"]["gross"]["ipw"]


def test_net_view_is_said_everywhere(one, tmp_path):
    html = write_html([one], tmp_path / "r.html", view="net").read_text(encoding="utf-8")
    titles = [s["title"] for s in parse(html).svgs]
    assert any(t.startswith("Energy per query (net") for t in titles)
    assert "energy view: net" in html


def test_torn_and_malformed_power_lines_are_skipped(one, tmp_path):
    with open(one / "power.csv", "a", encoding="utf-8") as f:
        f.write("garbage line without commas\n")
        f.write(f"{WALL0 + 5:.4f},0,cpu-est,not-a-number\n")
        f.write(f"{WALL0 + 6:.4f},0,cpu-e")  # cut short by a kill
    rs = load([one])[0]
    assert [t.domain for t in rs.traces] == ["cpu-est"]
    assert rs.n_samples == 401  # 400 written + the row whose watts are unreadable (N/A)
    assert int(sum(1 for w in rs.traces[0].w if w != w)) == 2  # the N/A sample and the unreadable one


def test_one_line_errors(tmp_path, capsys, one):
    assert main(["report", str(tmp_path / "missing"), "--html", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a session folder" in err
    assert main(["report", str(one)]) == 1
    assert "--html FILE and/or --md FILE" in capsys.readouterr().err
    (tmp_path / "adir").mkdir()
    assert main(["report", str(one), "--html", str(tmp_path / "adir")]) == 1
    assert "is a folder" in capsys.readouterr().err
    with pytest.raises(ReportError):
        load([])


def test_cli_writes_both_reports(one, tmp_path, capsys):
    rc = main(["report", str(one), "--html", str(tmp_path / "r.html"), "--md", str(tmp_path / "md" / "r.md")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "html:" in out and "(+ 4 SVG charts beside it)" in out
    assert (tmp_path / "r.html").stat().st_size > 10_000
    assert sorted(p.name for p in (tmp_path / "md").iterdir())[0] == "r-accuracy-power-1.svg"


def test_missing_matplotlib_is_one_line_with_the_install_hint(one, tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert main(["report", str(one), "--html", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "pip install 'ipwtui[report]'" in err
    assert not (tmp_path / "r.html").exists()


def test_importing_the_report_package_is_light():
    import subprocess

    root = Path(__file__).resolve().parents[1]
    code = "import sys, ipwtui.report; print([m for m in ('matplotlib', 'pandas') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
