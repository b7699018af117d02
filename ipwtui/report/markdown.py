"""The Markdown report: report.md with its charts as SVG files beside it (report-*.svg), the same
sections and figures as the HTML report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Sequence

from .. import __version__
from ..core import fmt
from ..core.leaderboard import RANK_RULE, Entry, group_entries
from .charts import Chart, accuracy_power_chart, session_charts
from ..core.outfile import MARK, markdown_of_ipwtui
from .data import ReportSession, check_target, estimate_word, headline_rows, interval_note, is_estimate, machine_of, model_of, when, write_text


def _md(v: object) -> str:
    """Text safe in a Markdown table cell."""
    return ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return out + [""]


def _mark(quality: str | None) -> str:
    return f" ({estimate_word(quality)})" if is_estimate(quality) else ""


def _ci(v, ci, pct: bool = False) -> str:
    if v is None:
        return fmt.NA
    show = fmt.pct if pct else (lambda x: fmt.num(x, 3))
    return show(v) + (f" [{show(ci[0])}, {show(ci[1])}]" if ci else "")


def entry_row(e: Entry) -> list[str]:
    mk = _mark(e.quality)

    def m(v: str, x) -> str:
        return v + (mk if x is not None else "")

    return [str(e.rank) if e.rank is not None else "–", e.session, e.model or "?", e.target or "?", e.status,
            f"{e.n} of {e.planned}" if e.planned else str(e.n), _ci(e.accuracy, e.accuracy_ci, True),
            m(_ci(e.ipw, e.ipw_ci), e.ipw), m(_ci(e.ipj, e.ipj_ci), e.ipj),
            m(fmt.num(e.mean_power_w, 3, "W"), e.mean_power_w), m(fmt.num(e.mean_energy_j, 3, "J"), e.mean_energy_j),
            e.quality, e.boundary or fmt.NA]


HEAD = ["rank", "session", "model", "accelerator / target", "status", "answered", "accuracy [95 % CI]",
        "IPW (1/W) [95 % CI]", "IPJ (1/J) [95 % CI]", "mean power", "energy per query", "quality", "boundary"]


class _Charts:
    """Places each chart as ``<stem>-<key>.svg`` beside the report and gives its Markdown; the files are
    written after every destination was checked."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.paths: list[Path] = []
        self.files: list[tuple[Path, str]] = []

    def __call__(self, chart: Chart) -> list[str]:
        p = self.out.with_name(f"{self.out.stem}-{chart.key}.svg")
        i = chart.svg.find("<svg")
        self.files.append((p, chart.svg[:i] + f"<!-- {MARK} -->\n" + chart.svg[i:] if i >= 0 else chart.svg))
        self.paths.append(p)
        return [f"#### {chart.title}", "", f"![{_md(chart.title)}]({p.name})", "", f"*{chart.caption}*", ""]


def session_lines(rs: ReportSession, chart) -> list[str]:
    s, m, q = rs.summary, rs.metrics, rs.quality
    qs = s.get("queries") or {}
    en = s.get("energy") or {}
    out = [f"## Session {rs.heading}{_mark(q)}", "",
           f"{qs.get('ok', 0)} answered, {qs.get('skipped', 0)} skipped, {qs.get('errors', 0)} errors, "
           f"{qs.get('warmup', 0)} warm-up, of {qs.get('planned', 0)} planned · status {s.get('status')} · "
           f"query set {rs.query_set.label} · started {when(rs.meta.get('created'))}", ""]
    if is_estimate(q):
        out += [f"> **Energy here is {'an estimate' if q == 'estimated' else 'model-based'}, not a measurement** "
                f"({s.get('energy_source') or en.get('source') or fmt.NA}): every energy figure, IPW and IPJ "
                f"below is marked ({estimate_word(q)}).", ""]
    out += [f"- energy quality: **{q}**; source: {s.get('energy_source') or fmt.NA}; boundary: "
            f"{s.get('energy_boundary') or fmt.NA}",
            f"- queries with an energy figure: {m.get('n_with_energy', 0)} of {m.get('n', 0)}", ""]
    rows = []
    for r in headline_rows(s):
        rows.append([r.name, r.gross.plain, r.net.plain if r.net is not None else "same"])
    out += ["### Headline figures", ""] + _table(["figure", "gross", "net of idle"], rows)
    note = interval_note(s)
    if note:
        out += [f"*{note[0].upper() + note[1:]}.*", ""]
    mk = _mark(en.get("quality"))
    out += ["### Energy bookkeeping", ""] + _table(["energy (gross)", "J"], [
        ["counted query windows", fmt.num(en.get("counted_j"), 4, "J")],
        ["warm-up and skipped windows", fmt.num(en.get("excluded_j"), 4, "J")],
        ["unattributed (between windows)", fmt.num(en.get("unattributed_j"), 4, "J")],
        [f"session total{mk}", fmt.num(en.get("total_j"), 4, "J")],
        ["source (quality)", f"{en.get('source') or fmt.NA} ({en.get('quality')})"]])
    out += ["### Charts", ""]
    for c in session_charts(rs):
        out += chart(c)
    drows = [[d, str(st.n), str(st.scored), str(st.correct), fmt.pct(st.accuracy),
              fmt.num(st.mean_energy_j, 3, "J") + (_mark(q) if st.mean_energy_j is not None else ""),
              fmt.num(st.mean_power_w, 3, "W") + (_mark(q) if st.mean_power_w is not None else "")]
             for d, st in rs.per_domain().items()]
    out += ["### Accuracy by domain", ""] + _table(
        ["domain", "answered", "scored", "correct", "accuracy", f"mean energy ({rs.view})",
         f"mean power ({rs.view})"], drows)
    out += ["### Provenance", ""] + provenance_lines(rs)
    return out


def provenance_lines(rs: ReportSession) -> list[str]:
    meta, prov = rs.meta, rs.meta.get("provenance") or {}
    model, machine = model_of(meta), machine_of(meta)
    out = [f"- model: {model.get('name') or fmt.NA} ({model.get('quantization') or fmt.NA}), sha256 "
           f"`{model.get('sha256') or fmt.NA}`",
           f"- backend: {meta.get('backend') or fmt.NA}, where: {meta.get('where') or 'local'}, accelerator / "
           f"target: {rs.target}",
           f"- query set: {rs.query_set.label}, digest {rs.query_set.digest} ({meta.get('queries_file') or fmt.NA})",
           "- versions: " + (", ".join(f"{k} {v}" for k, v in prov.items() if not isinstance(v, dict)) or fmt.NA),
           "- machine: " + (", ".join(f"{k} {fmt.size(v) if k == 'memory_bytes' else v}"
                                       for k, v in machine.items()) or fmt.NA), ""]
    counted = {d.get("domain") or d.get("name") for d in meta.get("domains") or []}
    caps = meta.get("capabilities") or []
    if caps:
        out += _table(["sensor domain", "source", "quality", "boundary", "in the figures", "note"], [
            [str(c.get("domain")), str(c.get("source")), str(c.get("quality") if c.get("available") else "unavailable"),
             str(c.get("boundary") or fmt.NA), "yes" if c.get("available") and c.get("domain") in counted else "no",
             str(c.get("reason") or "")] for c in caps])
    return out


def render_markdown(sessions: list[ReportSession], chart, extra_sections: Sequence[tuple[str, str]] = ()
                    ) -> str:
    """The report as Markdown; ``chart(Chart) -> lines`` places each chart (and writes its file)."""
    several = len(sessions) > 1
    view = sessions[0].view
    title = f"ipwtui report: {sessions[0].name}" if not several else f"ipwtui report: {len(sessions)} sessions"
    out = [f"# {title}", "", f"<!-- {MARK} -->", "",
           f"Generated {time.strftime('%Y-%m-%d %H:%M')} by ipwtui {__version__} · energy view: {view}. "
           "IPW = accuracy / mean power per query (1/W); IPJ = accuracy / mean energy per query (1/J); "
           "intervals are 95 % bootstrap intervals over queries. N/A means unavailable, never zero.", ""]
    if any(is_estimate(s.quality) for s in sessions):
        out += ["> Figures marked (estimate) or (model-based) are not measurements: no power sensor covered them.",
                ""]
    groups, _ = group_entries(s.entry for s in sessions)
    if several:
        out += ["## Sessions side by side", "",
                f"{RANK_RULE[0].upper()}{RANK_RULE[1:]}.", ""]
        if len(groups) > 1:
            out += [f"> **Not comparable:** these sessions ran different query sets ({len(groups)} sets). "
                    "They are shown in separate tables and never ranked together.", ""]
        for g in groups:
            out += [f"### Query set {g.query_set.label}", ""]
            out += [f"*Note: {n}.*" for n in g.notes] + ([""] if g.notes else [])
            out += _table(HEAD, [entry_row(e) for e in sorted(g.entries, key=lambda e: (e.rank is None, e.rank or 0))])
    by_folder = {str(s.folder): s for s in sessions}
    out += ["## Accuracy against power", ""]
    for k, g in enumerate(groups, 1):
        members = sorted((by_folder[str(e.folder)] for e in g.entries), key=lambda s: s.number)
        out += chart(accuracy_power_chart(members, f"accuracy-power-{k}", g.query_set.label))
    for t, body in extra_sections:
        out += [f"## {t}", "", body, ""]
    for s in sessions:
        out += session_lines(s, chart)
    return "\n".join(out) + "\n"


def write_markdown_report(sessions: list[ReportSession], out: Path,
                          extra_sections: Sequence[tuple[str, str]] = ()) -> list[Path]:
    """Write ``out`` and its charts beside it; returns the paths, the Markdown file first."""
    if out.is_dir():
        from .data import ReportError

        raise ReportError(f"{out}: is a folder, not a file")
    charts = _Charts(out)
    text = render_markdown(sessions, charts, extra_sections)
    for p, _ in charts.files:  # every file checked before the first is written
        check_target(p, what="a chart")
    check_target(out, markdown_of_ipwtui)
    for p, svg in charts.files:
        write_text(p, svg, what="a chart")
    return [write_text(out, text, markdown_of_ipwtui)] + charts.paths
