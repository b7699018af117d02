"""The report's charts, drawn with matplotlib and saved as SVG (text kept as text: small and searchable).

matplotlib is optional (``pip install 'ipwtui[report]'``) and imported only here, when a chart is drawn;
without it a ReportError says how to install it. No pyplot: each chart is a ``Figure`` of its own, so
nothing global is touched and the SVG ids are salted per chart (several charts share one HTML page).

Long series are downsampled for the plot, and the caption says how: the power trace to at most
``MAX_POWER_POINTS`` bins per domain (mean of each bin, with the band from its lowest to its highest
sample), the per-query energies to at most ``MAX_QUERY_POINTS`` points (then the mean of each run of
consecutive queries, with its min-max band). N/A values are gaps or left out, never drawn as 0; an
estimate says so in the chart's title and legend.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..core import fmt
from .data import ReportError, ReportSession, estimate_word, is_estimate

MAX_POWER_POINTS = 1200
MAX_QUERY_POINTS = 600
MAX_WINDOWS_SHADED = 300  # query windows shaded on the power chart up to this many queries
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
VERDICT = {"correct": "#2a9d4b", "wrong": "#c8453a", "unscored": "#8a8a8a"}
INSTALL_HINT = "pip install 'ipwtui[report]'"
STYLE = {
    "svg.fonttype": "none",  # text stays text
    "font.size": 9,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "path.simplify": True,
}


@dataclass
class Chart:
    key: str  # unique in a report; names the SVG file of a Markdown report
    title: str  # above the chart, and the SVG's own <title>
    caption: str  # what is drawn and how (downsampling, what is left out)
    svg: str  # a standalone SVG document


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportError(f"the report's charts need matplotlib, which is not installed: {INSTALL_HINT}") \
            from None
    return matplotlib, Figure


def _mark(quality: str | None) -> str:
    return f" ({estimate_word(quality)})" if is_estimate(quality) else ""


def _paren(*words: str) -> str:
    """" (gross, estimate)": the words that qualify a figure, empty ones left out."""
    kept = [w for w in words if w]
    return f" ({', '.join(kept)})" if kept else ""


def _est(quality: str | None) -> str:
    return estimate_word(quality) if is_estimate(quality) else ""


def _render(key: str, title: str, draw: Callable[[Any], None], size: tuple[float, float]) -> Chart:
    """Draw a chart with ``draw(fig)`` and save it as SVG, its ids salted with ``key``; the caller
    writes the caption."""
    matplotlib, Figure = _matplotlib()
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": f"ipwtui-{key}"}):
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return Chart(key, title, "", _tidy(buf.getvalue(), title))


_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def _tidy(svg: str, title: str) -> str:
    """Drop the RDF metadata block and give the SVG a <title> (what a screen reader and a test read)."""
    from html import escape

    svg = _METADATA.sub("", svg)
    return re.sub(r"(<svg\b[^>]*>)", lambda m: f"{m.group(1)}\n <title>{escape(title)}</title>", svg, count=1)


_ID = re.compile(r'\bid="([^"]+)"')


def _prefix_ids(svg: str, prefix: str) -> str:
    """Every id of one SVG, and every reference to it, prefixed: ids must be unique in an HTML page that
    holds several charts (matplotlib numbers its elements from 1 in each)."""
    ids = set(_ID.findall(svg))
    if not ids:
        return svg

    def ref(m: re.Match) -> str:
        name = m.group(2)
        return f"{m.group(1)}{prefix}{name}{m.group(3)}" if name in ids else m.group(0)

    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'(url\(#)([^)\s]+)(\))', ref, svg)
    return re.sub(r'((?:xlink:)?href="#)([^"]+)(")', ref, svg)


def inline_svg(svg: str, key: str) -> str:
    """An SVG document as an element to put inside HTML: no XML prolog, sized by CSS from its viewBox,
    ids made unique in the page, with an id and role."""
    body = _prefix_ids(svg[svg.index("<svg"):], f"{key}-")
    body = re.sub(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"', r"\1", body, count=1)
    body = re.sub(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"', r"\1", body, count=1)
    return body.replace("<svg ", f'<svg id="svg-{key}" role="img" class="chart-svg" ', 1)


# ---- downsampling ----------------------------------------------------------------------------------


def bin_series(x, y, bins: int):
    """(centres, mean, low, high) of ``y`` over ``bins`` equal spans of ``x``; a span whose samples are
    all N/A (NaN) is NaN, a gap in the line."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x0, x1 = float(x[0]), float(x[-1])
    width = (x1 - x0) / bins or 1.0
    idx = np.clip(((x - x0) / width).astype(np.int64), 0, bins - 1)
    ok = ~np.isnan(y)
    cnt = np.bincount(idx[ok], minlength=bins)
    tot = np.bincount(idx[ok], weights=y[ok], minlength=bins)
    low = np.full(bins, np.inf)
    high = np.full(bins, -np.inf)
    np.minimum.at(low, idx[ok], y[ok])
    np.maximum.at(high, idx[ok], y[ok])
    empty = cnt == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(empty, np.nan, tot / np.maximum(cnt, 1))
    low[empty] = np.nan
    high[empty] = np.nan
    centres = x0 + (np.arange(bins) + 0.5) * width
    return centres, mean, low, high


# ---- power over time ---------------------------------------------------------------------------------


def power_chart(rs: ReportSession) -> Chart:
    """Power per domain over the session, with each segment's idle baseline as a dashed line."""
    import numpy as np

    est = any(is_estimate(t.quality) for t in rs.traces)
    title = f"Power over time per domain{' (estimate)' if est else ''} — {rs.name}"
    notes: list[str] = []
    colors = {t.domain: PALETTE[k % len(PALETTE)] for k, t in enumerate(rs.traces)}

    def draw(fig) -> None:
        ax = fig.add_subplot()
        binned = False
        for tr in rs.traces:
            c = colors[tr.domain]
            label = f"{tr.domain}: {tr.source or '?'}{_mark(tr.quality)}"
            if len(tr.t) > MAX_POWER_POINTS:
                binned = True
                x, mean, lo, hi = bin_series(tr.t, tr.w, MAX_POWER_POINTS)
                ax.fill_between(x, lo, hi, color=c, alpha=0.18, lw=0)
                ax.plot(x, mean, color=c, lw=0.9, label=label)
            else:
                ax.plot(tr.t, tr.w, color=c, lw=0.9, label=label)
        wins = rs.windows()
        if 0 < len(wins) <= MAX_WINDOWS_SHADED:
            for k, (x0, x1) in enumerate(wins):
                ax.axvspan(x0, x1, color="#7f7f7f", alpha=0.09, lw=0, label="query windows" if k == 0 else None)
        seen = set()
        for dom, x0, x1, w in rs.idle_spans:
            lab = None if dom in seen else f"idle {dom}{_mark(_quality_of(rs, dom))}"
            seen.add(dom)
            ax.hlines(w, x0, x1, colors=colors.get(dom, "#555555"), linestyles="--", lw=1.0, label=lab)
        for k, x in enumerate(rs.segment_starts):
            ax.axvline(x, color="#777777", ls=":", lw=1.0, label="resumed run" if k == 0 else None)
        if not rs.traces:
            ax.text(0.5, 0.5, "no power samples (N/A)", transform=ax.transAxes, ha="center", va="center")
        ax.set_xlabel("time since the first sample (s)")
        ax.set_ylabel("power (W)")
        ax.set_ylim(bottom=0)
        if rs.traces or rs.idle_spans:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        if binned:
            width = max((t.t[-1] - t.t[0]) / MAX_POWER_POINTS for t in rs.traces if len(t.t) > 1)
            notes.append(f"Downsampled for the plot: {rs.n_samples:,} samples drawn as the mean of each "
                         f"{fmt.num(width, 2, 's')} span (line) with its lowest-to-highest band.")
        na = sum(int(np.isnan(t.w).sum()) for t in rs.traces)
        if na:
            notes.append(f"{na:,} N/A sample{'s are' if na != 1 else ' is'} left out (a gap, never 0).")

    chart = _render(f"power-{rs.number}", title, draw, (8.0, 2.9))
    base = (f"{rs.n_samples:,} power samples from power.csv; dashed: the idle baseline measured before each "
            "run (median power)"
            + ("; shaded: the counted queries' windows." if 0 < len(rs.windows()) <= MAX_WINDOWS_SHADED else "."))
    if rs.segment_starts:
        base += " The session was resumed: runs are joined end to end, the time between them left out."
    chart.caption = " ".join([base] + notes)
    return chart


def _quality_of(rs: ReportSession, domain: str) -> str | None:
    for t in rs.traces:
        if t.domain == domain:
            return t.quality
    return None


# ---- energy per query --------------------------------------------------------------------------------


def _verdict(r) -> str:
    return "correct" if r.correct is True else "wrong" if r.correct is False else "unscored"


def energy_chart(rs: ReportSession) -> Chart:
    """Each counted query's energy (in the report's view) in run order, coloured by its verdict."""
    import numpy as np

    view, q = rs.view, rs.quality
    title = f"Energy per query{_paren(view, _est(q))} — {rs.name}"
    pts = [(k, r.energy(view), r) for k, r in enumerate(rs.records, 1)]
    have = [(k, e, r) for k, e, r in pts if e is not None]
    missing = len(pts) - len(have)
    notes: list[str] = []

    def draw(fig) -> None:
        ax = fig.add_subplot()
        if not have:
            ax.text(0.5, 0.5, "no query has an energy figure (N/A)", transform=ax.transAxes, ha="center",
                    va="center")
        elif len(have) <= MAX_QUERY_POINTS:
            ranged = [(k, e, r) for k, e, r in have
                      if view == "gross" and r.remote and r.server_energy_low_j is not None
                      and r.server_energy_high_j is not None]
            if ranged:
                xs = [k for k, _, _ in ranged]
                ys = [e for _, e, _ in ranged]
                lo = [max(e - (r.server_energy_low_j or e), 0) for _, e, r in ranged]
                hi = [max((r.server_energy_high_j or e) - e, 0) for _, e, r in ranged]
                ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor="#999999", lw=0.8,
                            label="estimate's range")
            for v in ("correct", "wrong", "unscored"):
                sel = [(k, e) for k, e, r in have if _verdict(r) == v]
                if sel:
                    ax.plot([k for k, _ in sel], [e for _, e in sel], "o", ms=5 if len(have) <= 60 else 3,
                            color=VERDICT[v],
                            label=f"{v} ({len(sel)})")
        else:
            step = math.ceil(len(have) / MAX_QUERY_POINTS)
            ks = np.array([k for k, _, _ in have], dtype=float)
            es = np.array([e for _, e, _ in have], dtype=float)
            m = len(es) // step * step
            centres = ks[:m].reshape(-1, step).mean(axis=1)
            blocks = es[:m].reshape(-1, step)
            if m < len(es):  # the last, shorter run
                centres = np.append(centres, ks[m:].mean())
            means = [b.mean() for b in blocks] + ([es[m:].mean()] if m < len(es) else [])
            lows = [b.min() for b in blocks] + ([es[m:].min()] if m < len(es) else [])
            highs = [b.max() for b in blocks] + ([es[m:].max()] if m < len(es) else [])
            ax.fill_between(centres, lows, highs, color=PALETTE[0], alpha=0.2, lw=0, label="min–max")
            ax.plot(centres, means, color=PALETTE[0], lw=0.9, label=f"mean of {step} queries{_mark(q)}")
            notes.append(f"Downsampled for the plot: {len(have):,} queries drawn as the mean of each "
                         f"{step} consecutive queries, with their min–max band.")
        if have:
            mean = float(np.mean([e for _, e, _ in have]))
            ax.axhline(mean, color="#444444", ls="--", lw=0.9, label=f"mean {fmt.num(mean, 3, 'J')}{_mark(q)}")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_xlabel("query (run order)")
        ax.set_ylabel(f"energy per query{_paren('J', view, _est(q))}")
        ax.set_ylim(bottom=0 if view == "gross" else None)

    chart = _render(f"energy-{rs.number}", title, draw, (8.0, 2.9))
    cap = [f"{len(have):,} answered queries with an energy figure, {view} energy"
           + (" (net of the idle baseline)." if view == "net" else ".")]
    if missing:
        cap.append(f"{missing} answered quer{'y has' if missing == 1 else 'ies have'} no energy (N/A): "
                   "not drawn.")
    chart.caption = " ".join(cap + notes)
    return chart


# ---- per domain ----------------------------------------------------------------------------------------


def domain_chart(rs: ReportSession) -> Chart:
    """Accuracy and mean energy per query, per query domain (horizontal bars; N/A written, not drawn)."""
    doms = rs.per_domain()
    names = list(doms)
    q = rs.quality
    title = f"Accuracy and energy per domain{_mark(q)} — {rs.name}"

    def draw(fig) -> None:
        left, right = fig.subplots(1, 2, sharey=True)
        ys = list(range(len(names)))
        accs = [doms[d].accuracy for d in names]
        ens = [doms[d].mean_energy_j for d in names]
        left.barh([y for y, a in zip(ys, accs) if a is not None], [100 * a for a in accs if a is not None],
                  color=PALETTE[2], height=0.6)
        for y, d, a in zip(ys, names, accs):
            s = doms[d]
            text = f"{s.correct}/{s.scored}" if a is not None else f"N/A ({s.n} unscored)"
            left.text((100 * a if a is not None else 0) + 2, y, text, va="center", fontsize=7.5)
        left.set_xlim(0, 118)
        left.set_xlabel("accuracy (%)")
        right.barh([y for y, e in zip(ys, ens) if e is not None], [e for e in ens if e is not None],
                   color=PALETTE[0], height=0.6, label=f"mean J per query ({rs.view}){_mark(q)}")
        top = max([e for e in ens if e is not None], default=1.0) or 1.0
        for y, e in zip(ys, ens):
            right.text((e if e is not None else 0) + top * 0.02, y, fmt.num(e, 3) if e is not None else "N/A",
                       va="center", fontsize=7.5)
        right.set_xlim(0, top * 1.25)
        right.set_xlabel(f"mean energy per query{_paren('J', rs.view, _est(q))}")
        left.set_yticks(ys, names)
        left.invert_yaxis()
        for ax in (left, right):
            ax.grid(axis="y", visible=False)
        if not names:
            left.text(0.5, 0.5, "no answered query", transform=left.transAxes, ha="center")

    height = max(2.0, 0.32 * len(names) + 1.0)
    chart = _render(f"domains-{rs.number}", title, draw, (8.0, height))
    chart.caption = ("Per query domain: correct/scored answers and the mean energy of its answered queries "
                     "with an energy figure; N/A where none was scored or measured.")
    return chart


# ---- accuracy against power ------------------------------------------------------------------------


def _nice_steps(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round values (1, 2, 5 x 10^k) spanning [lo, hi], at most ``most`` of them."""
    if lo <= 0 or hi <= 0 or not math.isfinite(lo) or not math.isfinite(hi):
        return []
    out = []
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo <= v <= hi:
                out.append(v)
    while len(out) > most:
        out = out[::2]
    return out


def accuracy_power_chart(sessions: list[ReportSession], key: str, label: str) -> Chart:
    """Accuracy against mean power, one point per session (and per domain when there is one session),
    with iso-IPW lines a = k x P. Only sessions of one query set belong on one chart."""
    view = sessions[0].view if sessions else "gross"
    est = any(is_estimate(s.quality) for s in sessions)
    title = f"Accuracy against mean power{_paren(view, 'estimate' if est else '')} — {label}"
    left_out: list[str] = []

    def draw(fig) -> None:
        ax = fig.add_subplot()
        pts = []  # (P, a) of every point drawn, for the iso lines
        for k, s in enumerate(sessions):
            m = s.metrics
            p, acc = m.get("mean_power_w"), m.get("accuracy")
            if p is None or acc is None:
                left_out.append(s.name)
                continue
            a = m["ipw"] * p if m.get("ipw") is not None else acc  # accuracy of the queries with energy
            ci = m.get("accuracy_ci")
            yerr = [[max(a - ci[0], 0)], [max(ci[1] - a, 0)]] if ci else None
            ax.errorbar([p], [a], yerr=yerr, fmt="o", ms=6, color=PALETTE[k % len(PALETTE)], capsize=3,
                        label=f"{s.name if s.model in s.name else f'{s.name}: {s.model}'}{_mark(s.quality)}")
            pts.append((p, a))
            if len(sessions) == 1:
                for d, st in s.per_domain().items():
                    if st.accuracy is None or st.mean_power_w is None:
                        continue
                    ax.plot([st.mean_power_w], [st.accuracy], "o", ms=5, mfc="none",
                            color=PALETTE[(k + 1) % len(PALETTE)])
                    ax.annotate(d, (st.mean_power_w, st.accuracy), xytext=(4, 3), textcoords="offset points",
                                fontsize=7.5, color="#444444")
                    pts.append((st.mean_power_w, st.accuracy))
        if not pts:
            ax.text(0.5, 0.5, "no session has both accuracy and power (N/A)", transform=ax.transAxes,
                    ha="center", va="center")
            ax.set_xlim(0, 1)
        xmax = max([p for p, _ in pts], default=1.0) * 1.3 or 1.0
        ax.set_xlim(0, xmax)
        ax.set_ylim(-0.03, 1.05)  # a domain at 0 % stays visible
        ipws = [a / p for p, a in pts if p > 0 and a > 0]
        if ipws:
            for k_ in _nice_steps(min(ipws) / 2.5, max(ipws) * 2.5):
                xe = min(xmax, 1.05 / k_)
                ax.plot([0, xe], [0, k_ * xe], color="#9a9a9a", lw=0.7, ls="-", zorder=0)
                # the line's label just outside the plot where the line leaves it, clear of the points
                top = xe < xmax
                ax.annotate(f"{fmt.num(k_, 2)}/W", (xe, k_ * xe), xytext=(0, 2) if top else (3, 0),
                            textcoords="offset points", ha="center" if top else "left",
                            va="bottom" if top else "center", fontsize=7, color="#777777",
                            annotation_clip=False)
        ax.set_xlabel(f"mean power per query{_paren('W', view, 'estimate' if est else '')}")
        ax.set_ylabel("accuracy")
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f} %")
        if pts:
            fig.legend(loc="outside lower center", ncols=2)

    chart = _render(key, title, draw, (8.0, 3.4))
    cap = ("Grey lines: equal intelligence per watt (accuracy = IPW x power), labelled with their IPW where "
           "they leave the plot; up and to the left is better. "
           "Error bars: the 95 % interval of accuracy, where there are enough queries.")
    if len(sessions) == 1:
        cap += " Hollow points: the session's query domains."
    if left_out:
        cap += f" Not drawn (accuracy or power N/A): {', '.join(left_out)}."
    chart.caption = cap
    return chart


def session_charts(rs: ReportSession) -> list[Chart]:
    return [power_chart(rs), energy_chart(rs), domain_chart(rs)]
