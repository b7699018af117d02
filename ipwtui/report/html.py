"""The HTML report: one self-contained file (inline CSS, inline SVG charts; no script, no font, no image
fetched from anywhere), readable offline and by a screen reader.

Order: what the report covers; the sessions side by side (grouped by query set, never ranked across
sets); accuracy against power per query set; the extra sections (the hook: ``sections``); then each
session: headline figures with intervals, quality and boundary, its energy bookkeeping, its charts, its
accuracy per domain and its provenance.
"""

from __future__ import annotations

import time
from html import escape
from typing import Iterable, Sequence

from .. import __version__
from ..core import fmt
from ..core.leaderboard import RANK_RULE, Entry, Group, group_entries
from ..core.outfile import MARK
from .charts import Chart, accuracy_power_chart, inline_svg, session_charts
from .data import Cell, ReportSession, estimate_word, headline_rows, interval_note, is_estimate, machine_of, model_of, when

CSS = """
:root { --fg: #1d2329; --muted: #5b6570; --line: #d9dee3; --bg: #ffffff; --soft: #f4f6f8;
        --est: #8a4b00; --est-bg: #fff1dc; --na: #8a8f96; --accent: #1f5f99; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-top: .6rem; border-top: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p { margin: .4rem 0; }
.muted, figcaption, .note { color: var(--muted); }
.note { font-size: .9rem; }
nav ul { margin: .3rem 0; padding-left: 1.2rem; columns: 2; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .88rem; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; }
.wrap { overflow-x: auto; }
.est { display: inline-block; font-size: .72rem; font-weight: 600; color: var(--est); background: var(--est-bg);
       border-radius: 3px; padding: 0 .3rem; margin-left: .2rem; white-space: nowrap; }
.na { color: var(--na); }
.ci { color: var(--muted); white-space: nowrap; }
.cov { color: var(--muted); font-size: .8rem; }
.banner { background: var(--est-bg); border-left: 4px solid var(--est); padding: .5rem .8rem; margin: .8rem 0; }
.warn { background: #fde8e8; border-left: 4px solid #b3261e; padding: .5rem .8rem; margin: .8rem 0; }
figure.chart { margin: 1rem 0 1.4rem; }
figure.chart h4 { margin: 0 0 .3rem; font-size: .95rem; }
svg.chart-svg { width: 100%; height: auto; display: block; }
figcaption { font-size: .85rem; margin-top: .2rem; }
details { margin: .6rem 0; }
summary { cursor: pointer; font-weight: 600; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .4rem 0; font-size: .88rem; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
code { font-size: .85em; overflow-wrap: anywhere; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
"""


def _e(v: object) -> str:
    return escape("" if v is None else str(v))


def badge(quality: str | None) -> str:
    """The estimate mark of a figure ("" for a measured one)."""
    w = estimate_word(quality) if is_estimate(quality) else ""
    return f'<span class="est" title="not a measurement">{_e(w)}</span>' if w else ""


def na_or(text: str) -> str:
    return f'<span class="na">{fmt.NA}</span>' if text == fmt.NA else _e(text)


def cell_html(c: Cell) -> str:
    if c.value == fmt.NA:
        return f'<span class="na">{fmt.NA}</span>'
    parts = [_e(c.value)]
    if c.interval:
        parts.append(f'<span class="ci">{_e(c.interval)}</span>')
    if c.coverage:
        parts.append(f'<br><span class="cov">{_e(c.coverage)}</span>')
    if c.estimate:
        parts.append(f'<span class="est" title="not a measurement">{_e(c.estimate)}</span>')
    return " ".join(parts)


def figure_block(chart: Chart) -> str:
    return (f'<figure class="chart" id="chart-{_e(chart.key)}">\n<h4>{_e(chart.title)}</h4>\n'
            f"{inline_svg(chart.svg, chart.key)}\n<figcaption>{_e(chart.caption)}</figcaption>\n</figure>")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table; cells are HTML already."""
    h = "".join(f"<th>{x}</th>" for x in head)
    body = "\n".join("<tr>" + "".join(f"<td>{x}</td>" for x in r) + "</tr>" for r in rows)
    return f'<div class="wrap"><table{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}><thead><tr>{h}</tr>' \
           f"</thead>\n<tbody>\n{body}\n</tbody></table></div>"


def _kv(pairs: Iterable[tuple[str, object]]) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{na_or(fmt.NA if v in (None, '') else str(v))}</dd>" for k, v in pairs)
    return f'<dl class="kv">{items}</dl>'


# ---- side by side ----------------------------------------------------------------------------------


def _with_ci(v: float | None, ci: tuple | None, pct: bool = False) -> str:
    if v is None:
        return f'<span class="na">{fmt.NA}</span>'
    show = fmt.pct if pct else (lambda x: fmt.num(x, 3))
    out = _e(show(v))
    if ci:
        out += f' <span class="ci">[{_e(show(ci[0]))}, {_e(show(ci[1]))}]</span>'
    return out


def entry_cells(e: Entry) -> list[str]:
    mk = badge(e.quality)
    rank = str(e.rank) if e.rank is not None else f'<span class="na" title="{_e(e.rank_note)}">–</span>'
    partial = 0 < e.n_with_energy < e.n  # an energy figure over part of the queries says so

    def energy(text: str, v: float | None) -> str:
        if v is None:
            return f'<span class="na">{fmt.NA}</span>'
        cov = f' <span class="cov">over {e.n_with_energy} of {e.n}</span>' if partial else ""
        return text + mk + cov

    queries = f"{e.n} of {e.planned} answered" if e.planned else f"{e.n} answered"
    return [
        rank, _e(e.session), f"{_e(e.model)}<br><span class=\"cov\">on {_e(e.target)}</span>",
        f"{queries}<br><span class=\"cov\">{_e(e.status)}</span>",
        _with_ci(e.accuracy, e.accuracy_ci, pct=True),
        energy(_with_ci(e.ipw, e.ipw_ci), e.ipw), energy(_with_ci(e.ipj, e.ipj_ci), e.ipj),
        energy(_e(fmt.num(e.mean_power_w, 3, "W")), e.mean_power_w),
        energy(_e(fmt.num(e.mean_energy_j, 3, "J")), e.mean_energy_j),
        f"{_e(e.quality)}<br><span class=\"cov\">{_e(e.boundary or fmt.NA)}</span>",
    ]


ENTRY_HEAD = ["rank", "session", "model", "queries", "accuracy [95 % CI]", "IPW (1/W) [95 % CI]",
              "IPJ (1/J) [95 % CI]", "mean power", "energy per query", "quality, boundary"]


def comparison(sessions: list[ReportSession]) -> tuple[str, list[Group]]:
    """The side-by-side tables: one per query set; ranks only inside a set. Returns (html, groups)."""
    by_folder = {str(s.folder): s for s in sessions}
    groups, _ = group_entries(s.entry for s in sessions)
    view = sessions[0].view
    out = [f"<p>Headline figures of every session ({_e(view)} energy). {_e(RANK_RULE[0].upper() + RANK_RULE[1:])}."
           "</p>"]
    if len(groups) > 1:
        out.append('<p class="warn"><strong>Not comparable:</strong> these sessions ran different query sets '
                   f"({len(groups)} sets). Sessions of different sets are shown in separate tables and never "
                   "ranked together: their accuracy and IPW measure different questions.</p>")
    for g in groups:
        out.append(f"<h3>Query set {_e(g.query_set.label)}</h3>")
        if len(g.entries) == 1:
            out.append('<p class="note">The only session of this query set in the report: not comparable with '
                       "the others, not ranked against them.</p>" if len(groups) > 1 else "")
        for note in g.notes:
            out.append(f'<p class="note">Note: {_e(note)}.</p>')
        rows = sorted(g.entries, key=lambda e: (e.rank is None, e.rank or 0, by_folder[str(e.folder)].number))
        out.append(_table(ENTRY_HEAD, [entry_cells(e) for e in rows]))
    return "\n".join(x for x in out if x), groups


def accuracy_power_section(sessions: list[ReportSession], groups: list[Group]) -> str:
    by_folder = {str(s.folder): s for s in sessions}
    out = []
    for k, g in enumerate(groups, 1):
        members = sorted((by_folder[str(e.folder)] for e in g.entries), key=lambda s: s.number)
        out.append(figure_block(accuracy_power_chart(members, f"accuracy-power-{k}", g.query_set.label)))
    return "\n".join(out)


# ---- one session -------------------------------------------------------------------------------------


def headline_table(rs: ReportSession) -> str:
    rows = []
    for r in headline_rows(rs.summary):
        gross = cell_html(r.gross)
        net = cell_html(r.net) if r.net is not None else '<span class="muted">same</span>'
        if r.net is None and r.name == "accuracy":
            net = '<span class="muted">same (accuracy does not depend on energy)</span>'
        rows.append([_e(r.name), gross, net])
    head = ["figure", "gross" + (" (the report's view)" if rs.view == "gross" else ""),
            "net of idle" + (" (the report's view)" if rs.view == "net" else "")]
    return _table(head, rows)


def bookkeeping(rs: ReportSession) -> str:
    en = rs.summary.get("energy") or {}
    mk = badge(en.get("quality"))
    rows = [["counted query windows", na_or(fmt.num(en.get("counted_j"), 4, "J"))],
            ["warm-up and skipped windows", na_or(fmt.num(en.get("excluded_j"), 4, "J"))],
            ["unattributed (between windows)", na_or(fmt.num(en.get("unattributed_j"), 4, "J"))],
            [f"session total{mk}", na_or(fmt.num(en.get("total_j"), 4, "J"))],
            ["over", na_or(fmt.num(en.get("seconds"), 4, "s"))],
            ["source (quality)", f"{_e(en.get('source') or fmt.NA)} ({_e(en.get('quality'))})"]]
    ce = rs.summary.get("client_energy")
    if ce:
        rows.append([f"this machine while waiting (client){badge(ce.get('quality'))}",
                     na_or(fmt.num(ce.get("total_j"), 4, "J")) + f' <span class="cov">{ce.get("queries")} queries, '
                     f'{_e(ce.get("source") or fmt.NA)}, {_e(ce.get("boundary") or fmt.NA)}</span>'])
    return _table(["energy (gross)", "J"], rows)


def domain_table(rs: ReportSession) -> str:
    q = rs.quality
    rows = []
    for d, s in rs.per_domain().items():
        rows.append([_e(d), str(s.n), str(s.scored), str(s.correct), na_or(fmt.pct(s.accuracy)),
                     na_or(fmt.num(s.mean_energy_j, 3, "J")) + (badge(q) if s.mean_energy_j is not None else ""),
                     na_or(fmt.num(s.mean_power_w, 3, "W")) + (badge(q) if s.mean_power_w is not None else "")])
    return _table(["domain", "answered", "scored", "correct", "accuracy", f"mean energy ({rs.view})",
                   f"mean power ({rs.view})"], rows)


def sensors_table(rs: ReportSession) -> str:
    counted = {d.get("domain") or d.get("name") for d in rs.meta.get("domains") or []}
    rows = []
    for c in rs.meta.get("capabilities") or []:
        avail = c.get("available")
        note = c.get("reason") or ""
        if c.get("fix") and not avail:
            note += f" — fix: {c['fix']}"
        rows.append([_e(c.get("domain")), _e(c.get("source")), _e(c.get("quality") if avail else "unavailable"),
                     _e(c.get("boundary") or fmt.NA),
                     "yes" if avail and c.get("domain") in counted else "no", _e(note)])
    if not rows:
        return '<p class="note">No sensor list was recorded with this session.</p>'
    return _table(["domain", "source", "quality", "boundary", "in the figures", "note"], rows)


def provenance(rs: ReportSession) -> str:
    meta, prov = rs.meta, rs.meta.get("provenance") or {}
    model, machine = model_of(meta), machine_of(meta)
    qs = rs.query_set
    out = ["<h4>Model</h4>", _kv([("name", model.get("name")), ("quantization", model.get("quantization")),
                                 ("architecture", model.get("architecture")),
                                 ("size", fmt.size(model.get("size_bytes")) if model.get("size_bytes") else None),
                                 ("sha256", model.get("sha256")), ("file", model.get("path")),
                                 ("origin", model.get("origin")), ("context", model.get("context"))])]
    out += ["<h4>Run</h4>", _kv([("backend", meta.get("backend")), ("where", meta.get("where") or "local"),
                                ("accelerator / target", rs.target), ("status", meta.get("status")),
                                ("stop reason", meta.get("stop_reason")), ("started", when(meta.get("created"))),
                                ("ended", when(meta.get("ended"))),
                                ("query file", meta.get("queries_file")),
                                ("query set", f"{qs.label}, digest {qs.digest}"), ("folder", str(rs.folder))])]
    versions = [(k, v) for k, v in prov.items() if not isinstance(v, dict)]
    out += ["<h4>Versions</h4>", _kv(versions) if versions else '<p class="note">none recorded</p>']
    out += ["<h4>Machine</h4>", _kv([(k, fmt.size(v) if k == "memory_bytes" else v) for k, v in machine.items()])
            if machine else '<p class="note">none recorded</p>']
    out += ["<h4>Sensors</h4>", sensors_table(rs)]
    se = meta.get("server_energy")
    if se:
        out += ["<h4>Server energy</h4>", _kv(se.items() if isinstance(se, dict) else [("source", se)])]
    pr = meta.get("prices")
    if pr:
        out += ["<h4>Prices</h4>", _kv(pr.items() if isinstance(pr, dict) else [("prices", pr)])]
    settings = meta.get("settings") or {}
    if settings:
        out += ["<details><summary>Settings</summary>", _kv(settings.items()), "</details>"]
    return "\n".join(out)


def session_section(rs: ReportSession) -> str:
    s, m = rs.summary, rs.metrics
    q = rs.quality
    qs = s.get("queries") or {}
    en = s.get("energy") or {}
    est = is_estimate(q)
    title = f"Session {rs.heading}" + (f" ({estimate_word(q)})" if est else "")
    out = [f'<section class="session" id="session-{rs.number}">', f"<h2>{_e(title)}</h2>",
           f'<p class="muted">{_e(qs.get("ok", 0))} answered, {_e(qs.get("skipped", 0))} skipped, '
           f'{_e(qs.get("errors", 0))} errors, {_e(qs.get("warmup", 0))} warm-up, of {_e(qs.get("planned", 0))} '
           f"planned · status {_e(s.get('status'))} · query set {_e(rs.query_set.label)} · "
           f"started {_e(when(rs.meta.get('created')))}</p>"]
    if est:
        out.append(f'<p class="banner"><strong>Energy here is {"an estimate" if q == "estimated" else "model-based"}'
                   f", not a measurement</strong> ({_e(s.get('energy_source') or en.get('source') or fmt.NA)}): "
                   "every energy figure, IPW and IPJ below carries the mark "
                   f'{badge(q)}.</p>')
    elif q == "unavailable":
        out.append('<p class="banner"><strong>No energy figure:</strong> no power domain was available, so '
                   "energy, IPW and IPJ are N/A.</p>")
    out.append(_kv([("energy quality", q), ("energy source", s.get("energy_source") or en.get("source")),
                    ("boundary (what the energy covers)", s.get("energy_boundary")),
                    ("queries with an energy figure", f"{m.get('n_with_energy', 0)} of {m.get('n', 0)}"),
                    ("contended windows", f"{qs.get('contended', 0)} (other processes took a large share of the "
                                          "CPU)" if qs.get("contended") else 0)]))
    out.append("<h3>Headline figures</h3>")
    out.append(headline_table(rs))
    note = interval_note(s)
    notes = [note] if note else []
    notes += [n for n in m.get("notes") or [] if "confidence intervals" not in n]
    for n in notes:
        out.append(f'<p class="note">{_e(n[0].upper() + n[1:])}.</p>')
    out.append("<h3>Energy bookkeeping</h3>")
    out.append(bookkeeping(rs))
    out.append("<h3>Charts</h3>")
    out += [figure_block(c) for c in session_charts(rs)]
    out.append("<h3>Accuracy by domain</h3>")
    out.append(domain_table(rs))
    out.append(f"<h3>Provenance</h3>\n{provenance(rs)}")
    out.append("</section>")
    return "\n".join(out)


# ---- the page ------------------------------------------------------------------------------------------


def render_html(sessions: list[ReportSession], extra_sections: Sequence[tuple[str, str]] = ()) -> str:
    """The whole report as one HTML document. ``extra_sections``: (title, HTML fragment) pairs placed
    after the comparison and before the per-session details (see ``sections``)."""
    several = len(sessions) > 1
    view = sessions[0].view if sessions else "gross"
    any_est = any(is_estimate(s.quality) for s in sessions)
    title = (f"ipwtui report: {sessions[0].name}" if not several else f"ipwtui report: {len(sessions)} sessions")
    toc, body = [], []
    if several:
        html_cmp, groups = comparison(sessions)
        body.append(f'<section id="side-by-side"><h2>Sessions side by side</h2>\n{html_cmp}</section>')
        toc.append(("side-by-side", "Sessions side by side"))
    else:
        groups, _ = group_entries(s.entry for s in sessions)
    body.append('<section id="accuracy-power"><h2>Accuracy against power</h2>\n'
                + accuracy_power_section(sessions, groups) + "</section>")
    toc.append(("accuracy-power", "Accuracy against power"))
    for k, (t, frag) in enumerate(extra_sections, 1):
        body.append(f'<section class="extra" id="extra-{k}"><h2>{_e(t)}</h2>\n{frag}\n</section>')
        toc.append((f"extra-{k}", t))
    for s in sessions:
        body.append(session_section(s))
        toc.append((f"session-{s.number}", f"Session {s.name}"))
    intro = [f"<h1>{_e(title)}</h1>",
             f'<p class="muted">Generated {_e(time.strftime("%Y-%m-%d %H:%M"))} by ipwtui {_e(__version__)} · '
             f"{len(sessions)} session{'s' if several else ''} · energy view: {_e(view)} "
             f"({'gross: all energy of the counted domains' if view == 'gross' else 'net of the idle baseline'})"
             "</p>",
             "<p>IPW = accuracy / mean power per query (1/W); IPJ = accuracy / mean energy per query (1/J); "
             "intervals are 95 % bootstrap intervals over queries. N/A means unavailable, never zero.</p>"]
    if any_est:
        intro.append('<p class="banner">Figures marked <span class="est">estimate</span> or '
                     '<span class="est">model-based</span> are not measurements: no power sensor covered '
                     "them.</p>")
    nav = "<nav><strong>Contents</strong><ul>" + "".join(
        f'<li><a href="#{_e(a)}">{_e(t)}</a></li>' for a, t in toc) + "</ul></nav>"
    foot = ("<footer>Each session's own files hold every query and sample: queries.csv, samples.csv and "
            "summary.json (<code>ipwtui export DIR</code>).</footer>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<!-- {MARK} {__version__} -->\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(intro) + "\n" + nav + "\n" + "\n".join(body) + "\n" + foot + "\n</main>\n</body>\n</html>\n")
