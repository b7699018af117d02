"""The power graph: watts over time, one line per measured domain, the idle baseline as a line.

A thin layer over textual-plot's PlotWidget. It never samples anything: the caller hands it the series
(copied from the sampler's domain series or read from a session's power.csv) on a timer, a few times a
second. Long series are reduced to about two points per character column before drawing, so a redraw
costs the same for a minute or a day of samples. Line colours come from the theme's variables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.color import Color
from textual_plot import HiResMode, LegendLocation, PlotWidget

from ...core import fmt

LINE_VARS = ("primary", "accent", "success", "secondary", "warning", "error")


@dataclass
class Trace:
    name: str  # domain name
    x: np.ndarray  # seconds from the graph's origin
    y: np.ndarray  # watts (no missing values: N/A samples are left out, never drawn as 0)
    source: str = ""
    quality: str = ""


def legend_label(name: str, source: str, quality: str) -> str:
    """A domain's legend entry: name, source and quality, estimates said in words."""
    q = quality or "unavailable"
    return f"{name} · {source or fmt.NA} · {q.upper() if q != 'measured' else q}"


def reduce_points(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``2 * buckets`` points: each bucket of time keeps its min and max (peaks stay visible)."""
    n = len(x)
    if n <= 2 * buckets or buckets < 1:
        return x, y
    edges = np.linspace(x[0], x[-1], buckets + 1)
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, buckets - 1)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    ends = np.r_[starts[1:], n]
    xs, ys = [], []
    for a, b in zip(starts, ends):
        seg = y[a:b]
        i, j = a + int(np.argmin(seg)), a + int(np.argmax(seg))
        for k in sorted({i, j}):
            xs.append(x[k])
            ys.append(y[k])
    return np.asarray(xs), np.asarray(ys)


class PowerGraph(PlotWidget):
    """Watts against seconds, with the legend naming each line's source and quality."""

    def __init__(self, *, id: str | None = None, window_s: float | None = 120.0) -> None:
        super().__init__(id=id, allow_pan_and_zoom=False)
        self.can_focus = False  # the keys belong to the run, not to zooming the graph
        self.window_s = window_s
        self._colors: dict[str, str] = {}
        self._theme_key = None
        self.drawn_traces: list[str] = []  # what the last redraw drew (for tests)
        self._batch = False
        self._legend_key = None

    def on_mount(self) -> None:
        # (PlotWidget's own on_mount runs too: Textual calls the handler of every class in the MRO)
        self.set_xlabel("time (s)")
        self.set_ylabel("power (W)")
        self.margin_left = 8
        self.show_legend(LegendLocation.TOPLEFT)

    def _palette(self) -> list[str]:
        theme = self.app.theme
        if self._theme_key != theme or not self._colors:
            vars_ = self.app.theme_variables or self.app.get_css_variables()
            bg = Color.parse(vars_.get("background", "black"))

            def solid(name: str, fallback: str) -> str:
                try:
                    c = Color.parse(vars_.get(name, fallback))
                    return (bg + c).hex6 if c.a < 1 else c.hex6
                except Exception:
                    return fallback

            self._colors = {v: solid(v, "white") for v in LINE_VARS}
            self._colors["idle"] = solid("foreground-muted", "grey50")
            self._theme_key = theme
        return [self._colors[v] for v in LINE_VARS]

    def _render_plot(self) -> None:
        """One refresh per canvas per redraw, instead of one per pixel drawn (the canvas's batch mode)."""
        from contextlib import ExitStack

        try:
            from textual_hires_canvas import Canvas
        except ImportError:  # pragma: no cover - textual-plot depends on it
            super()._render_plot()
            return
        with ExitStack() as stack:
            for c in self.query(Canvas):
                if hasattr(c, "batch_refresh"):
                    stack.enter_context(c.batch_refresh())
            super()._render_plot()

    def _update_legend(self) -> None:
        """The legend is rebuilt only when its entries change: rebuilding it costs a layout pass."""
        if self._batch:
            return
        key = (tuple(self._labels), tuple(getattr(d, "line_style", "") for d in self._datasets))
        if key == self._legend_key:
            return
        self._legend_key = key
        super()._update_legend()

    def draw(self, traces: list[Trace], idle_w: dict[str, float] | None = None,
             note: str | None = None) -> None:
        """Redraw every line. ``idle_w``: the idle baseline per domain, drawn as flat lines."""
        self._batch = True
        try:
            self._draw(traces, idle_w, note)
        finally:
            self._batch = False
        self._update_legend()
        # PlotWidget draws into its canvases when it is rendered, which dirties the canvases again and
        # costs a second frame; drawing now puts the whole redraw in the frame of this update.
        if self.is_mounted and self.size.area:
            self.render()

    def _draw(self, traces: list[Trace], idle_w: dict[str, float] | None, note: str | None) -> None:
        palette = self._palette()
        width = max(self.size.width - self.margin_left - 2, 10)
        self.clear()
        xmax = max((t.x[-1] for t in traces if len(t.x)), default=None)
        xmin = None
        if xmax is not None and self.window_s is not None:
            xmin = max(0.0, xmax - self.window_s)
        self.drawn_traces = []
        ytop = 0.0
        for k, t in enumerate(traces):
            x, y = t.x, t.y
            if xmin is not None and len(x):
                i = int(np.searchsorted(x, xmin))
                x, y = x[max(i - 1, 0):], y[max(i - 1, 0):]
            x, y = reduce_points(x, y, width)
            if len(y):
                ytop = max(ytop, float(np.max(y)))
            self.plot(x, y, line_style=palette[k % len(palette)], hires_mode=HiResMode.BRAILLE,
                      label=legend_label(t.name, t.source, t.quality))
            self.drawn_traces.append(t.name)
        for name, w in (idle_w or {}).items():
            if w is None:
                continue
            x0 = xmin if xmin is not None else 0.0
            x1 = xmax if xmax is not None else 1.0
            self.plot([x0, x1], [w, w], line_style=self._colors["idle"], hires_mode=HiResMode.BRAILLE,
                      label=f"idle baseline {name} {fmt.num(w, 3, 'W')} (median)")
            ytop = max(ytop, float(w))
            self.drawn_traces.append(f"idle:{name}")
        if not traces and note:
            self.set_xlabel(f"time (s) — {note}")
        else:
            self.set_xlabel("time (s)")
        if xmax is None:
            self.set_xlimits(0.0, 1.0)
        else:
            self.set_xlimits(xmin, xmax if xmax > (xmin or 0.0) else None)
        self.set_ylimits(0.0, max(1.0, ytop * 1.5))  # headroom for the legend
