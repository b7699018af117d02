"""The power graph: watts over time, one line per measured domain, the idle baseline as a line.

Our own small plot on Textual's line API. ``draw()`` lays out the axes, ticks and legend, rasterises
every line into a grid of braille dots (2x4 per cell) with numpy, and keeps the resulting strips;
``render_line`` only hands them out, and only the rows that changed are repainted. It never samples
anything: the caller hands it the series (copied from the sampler's domain series or read from a
session's power.csv) on a timer, a few times a second. Each dot column is drawn from the range of the
line's points in it (no drawing point by point), so long series stay cheap. Colours come from the
theme's variables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.events import Resize
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from ...core import fmt
from .lines import fit, refresh_rows

LINE_VARS = ("primary", "accent", "success", "secondary", "warning", "error")
Y_LABEL = "power (W)"
X_LABEL = "time (s)"
MARKER = "━━"


# A braille cell is U+2800 + the bits of its lit dots; the bit of each dot by its (row, column) in the
# 2x4 cell. A cell without dots is a space.
BRAILLE_BIT = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
BRAILLE = np.where(np.arange(256) > 0, 0x2800 + np.arange(256), 0x20).astype("<u4")


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


def nice_ticks(lo: float, hi: float, most: int = 5) -> np.ndarray:
    """Tick values in [lo, hi] on a 1, 2, 5 x 10^k step: the finest step giving at most ``most``."""
    span = hi - lo
    if not (span > 0) or most < 1:
        return np.array([lo])
    k = math.floor(math.log10(span / most)) - 1
    while True:
        for m in (1, 2, 5):
            step = m * 10.0 ** k
            first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
            if last - first + 1 <= most:
                return np.arange(first, last + 1) * step
        k += 1


def tick_text(v: float, step: float) -> str:
    """A tick value with as many decimals as its step needs."""
    digits = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    return f"{v:.{digits}f}"


@lru_cache(maxsize=8)
def _edges(n: int) -> np.ndarray:
    """-0.5, 0.5, ... n - 0.5: the edges of n dot columns."""
    a = np.arange(n + 1) - 0.5
    a.flags.writeable = False
    return a


@lru_cache(maxsize=8)
def _row_numbers(n: int) -> np.ndarray:
    """0 .. n - 1 as a column (against a row of per-column values, a grid)."""
    a = np.arange(n, dtype=np.int16)[:, None]
    a.flags.writeable = False
    return a


@lru_cache(maxsize=8)
def _cell_index(ph: int, pw: int) -> np.ndarray:
    """The flat index of every cell of a ph x pw grid."""
    a = np.arange(ph * pw).reshape(ph, pw)
    a.flags.writeable = False
    return a


@lru_cache(maxsize=8)
def _dot_bits(ph: int, pw: int) -> np.ndarray:
    """The braille bit of every dot of a ph x pw cell grid."""
    a = np.tile(BRAILLE_BIT, (ph, pw))
    a.flags.writeable = False
    return a


def line_dots(px: np.ndarray, py: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The dots (a rows x cols bool grid) of the line joining the points (px, py), in dot coordinates
    (px increasing). Dot column c covers px in [c - 0.5, c + 0.5]; the line passes through every value
    between its lowest and highest there, which are among the points inside the column and the line's
    values at the column's edges. So each column lights that span: the segments joined, whatever the
    number of points."""
    at_edge = np.interp(_edges(cols), px, py)  # beyond the ends: the end values
    col = np.clip((px + 0.5).astype(np.int64), 0, cols - 1)  # the nearest column
    lo, hi = np.minimum(at_edge[:-1], at_edge[1:]), np.maximum(at_edge[:-1], at_edge[1:])
    np.minimum.at(lo, col, py)
    np.maximum.at(hi, col, py)
    lo[:max(0, math.ceil(px[0] - 0.5))] = rows  # no dot in the columns the line does not reach
    lo[math.floor(px[-1] + 0.5) + 1:] = rows
    # to small integers (compared faster), kept within -1 .. rows
    lo = np.rint(np.maximum(np.minimum(lo, rows, out=lo), -1, out=lo), out=lo).astype(np.int16)
    hi = np.rint(np.maximum(np.minimum(hi, rows, out=hi), -1, out=hi), out=hi).astype(np.int16)
    r = _row_numbers(rows)
    return (r >= lo) & (r <= hi)


class PowerGraph(Widget):
    """Watts against seconds, with the legend naming each line's source and quality."""

    DEFAULT_CSS = """
    PowerGraph {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, window_s: float | None = 120.0) -> None:
        super().__init__(id=id)
        self.can_focus = False  # the keys belong to the run, not to the graph
        self.window_s = window_s
        self.drawn_traces: list[str] = []  # what the last redraw drew (for tests)
        self._data: tuple[list[Trace], dict[str, float] | None, str | None] = ([], None, None)
        self._strips: list[Strip] = []
        self._strips_key = None  # (theme, outer size) the strips were built for
        self._styles: dict | None = None
        self._styles_key = None

    def on_resize(self, event: Resize) -> None:
        self._rebuild()

    # ---- colours --------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None  # the theme or the background may have changed: new styles, new strips

    def _palette(self) -> dict:
        """Rich styles for every part, from the theme's variables (rebuilt when the theme changes)."""
        key = self.app.theme
        if self._styles is not None and self._styles_key == key:
            return self._styles
        base = self.rich_style  # the background the strips are drawn on
        _, bg = self.background_colors  # what a translucent colour is blended over
        vars_ = self.app.theme_variables or self.app.get_css_variables()

        def solid(name: str, alpha: float = 1.0) -> Style:
            try:
                c = Color.parse(vars_[name]).multiply_alpha(alpha)
            except Exception:  # a theme without the variable: the widget's own text colour
                return base
            return base + Style(color=(bg + c).rich_color if c.a < 1 else c.rich_color)

        self._styles = {
            "base": base,
            "lines": [solid(v) for v in LINE_VARS],
            "idle": solid("foreground-muted"),
            "axis": solid("foreground-muted"),
            "label": solid("primary"),
            "legend": solid("primary", 0.5),
            "text": solid("foreground"),
        }
        self._styles_key = key
        return self._styles

    # ---- drawing --------------------------------------------------------------------------------

    def draw(self, traces: list[Trace], idle_w: dict[str, float] | None = None,
             note: str | None = None) -> None:
        """Redraw every line. ``idle_w``: the idle baseline per domain, drawn as flat lines."""
        self._data = (traces, idle_w, note)
        self.drawn_traces = [t.name for t in traces]
        self.drawn_traces += [f"idle:{k}" for k, w in (idle_w or {}).items() if w is not None]
        self._rebuild()

    def _rebuild(self) -> None:
        """New strips from the last draw's data; repaint the rows that changed."""
        if not self.is_mounted:
            return
        old = self._strips
        size = self.size
        self._strips = strips = self._compose_strips(size, *self._data)
        key = (self.app.theme, self.outer_size)  # (outer_size is a plain attribute, size is computed)
        if key != self._strips_key or len(old) != len(strips):
            self._strips_key = key
            self.refresh()
            return
        # unchanged rows keep their strip objects
        refresh_rows(self, [y for y, (a, b) in enumerate(zip(old, strips)) if a is not b], size.width)

    def render_lines(self, crop: Region) -> list[Strip]:
        key = (self.app.theme, self.outer_size)
        if self._styles is None or self._strips_key != key:  # a theme, style or size not drawn yet
            self._strips = self._compose_strips(self.size, *self._data)
            self._strips_key = key
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        strips = self._strips
        return strips[y] if 0 <= y < len(strips) else Strip.blank(self.size.width)

    def _compose_strips(self, size: Size, traces: list[Trace], idle_w: dict[str, float] | None,
                        note: str | None) -> list[Strip]:
        """The rows of the widget (content ``size``) showing the lines."""
        w, h = size
        if w <= 0 or h <= 0:
            return []
        st = self._palette()
        base = st["base"]
        old = self._strips if len(self._strips) == h else [None] * h
        out: list[Strip] = []

        def emit(segs: list[Segment]) -> None:
            """Add a row, reusing the last draw's strip when the row is unchanged (then not repainted)."""
            prev = old[len(out)]
            out.append(prev if prev is not None and prev._segments == segs else Strip(segs, w))

        # -- ranges
        xmax = max((float(t.x[-1]) for t in traces if len(t.x)), default=None)
        if xmax is None:
            x0, x1 = 0.0, 1.0
        elif self.window_s is not None:
            x0, x1 = max(0.0, xmax - self.window_s), xmax
        else:
            x0, x1 = min(float(t.x[0]) for t in traces if len(t.x)), xmax
        if x1 <= x0:
            x1 = x0 + 1.0
        idle = [(k, float(v)) for k, v in (idle_w or {}).items() if v is not None and v == v]  # (not NaN)
        cut = []  # each trace's points inside the window, the one before it moved onto its edge
        for t in traces:
            x, y = np.asarray(t.x, dtype=float), np.asarray(t.y, dtype=float)
            i = max(int(np.searchsorted(x, x0)) - 1, 0)
            x, y = x[i:], y[i:]
            if len(x) > 1 and x[0] < x0 < x[1]:
                xa, xb, ya, yb = float(x[0]), float(x[1]), float(y[0]), float(y[1])
                x, y = x.copy(), y.copy()
                x[0], y[0] = x0, ya + (yb - ya) * (x0 - xa) / (xb - xa)
            cut.append((x, y))
        ytop = max([float(y.max()) for _, y in cut if len(y)] + [v for _, v in idle] + [0.0])
        ytop = max(1.0, 1.5 * ytop)  # headroom for the legend

        # -- layout: rows (y label, plot, x axis, x ticks, x label) and columns (y ticks, axis, plot)
        has_ylabel, has_xlabel, has_xticks, has_axis = h >= 8, h >= 6, h >= 4, h >= 3
        ph = h - has_ylabel - has_axis - has_xticks - has_xlabel  # plot rows
        yticks = nice_ticks(0.0, ytop, min(5, max(2, ph // 2 + 1)))
        ystep = float(yticks[1] - yticks[0]) if len(yticks) > 1 else ytop
        ylabels = [tick_text(v, ystep) for v in yticks]
        lw = max(len(s) for s in ylabels)
        gutter = lw + 2 if w >= lw + 2 + 8 else (1 if w >= 4 else 0)  # tick labels, space, axis
        pw = w - gutter - (1 if w >= 30 else 0)  # a free column on the right when there is room
        if ph < 1 or pw < 1:
            return [Strip.blank(w, base) for _ in range(h)]
        rows, cols = 4 * ph, 2 * pw

        # -- lines: idle baselines first, traces on top (the later line's colour wins in shared cells)
        lines = [(None, np.array([v, v]), st["idle"], f"idle baseline {k} {fmt.num(v, 3, 'W')} (median)")
                 for k, v in idle]
        for k, (t, (x, y)) in enumerate(zip(traces, cut)):
            lines.append((x, y, st["lines"][k % len(LINE_VARS)], legend_label(t.name, t.source, t.quality)))
        owner = np.zeros((rows, cols), dtype=np.int8)  # 0: no dot; k + 1: a dot of line k
        yscale = (rows - 1) / ytop
        for k, (x, y, _style, _label) in enumerate(lines):
            if x is None:  # a baseline: flat across the plot (when it is on it)
                r = (ytop - float(y[0])) * yscale
                if 0 <= r <= rows - 1:
                    owner[int(round(r))] = k + 1
            elif len(x):
                px = (x - x0) * ((cols - 1) / (x1 - x0))
                py = (ytop - y) * yscale  # (y <= ytop; a negative y falls below the plot)
                owner[line_dots(px, py, rows, cols)] = k + 1
        # cells: the sum of the bits of each 2x4 cell's lit dots (the two columns, then the four rows),
        # and the highest line in it (strided slices: numpy reduces over small axes slowly)
        bits = np.where(owner > 0, _dot_bits(ph, pw), 0)
        bits = (bits[:, 0::2] + bits[:, 1::2]).reshape(ph, 4, pw)
        bits = bits[:, 0] + bits[:, 1] + bits[:, 2] + bits[:, 3]
        text = BRAILLE[bits].tobytes().decode("utf-32-le")
        colour = np.maximum(owner[:, 0::2], owner[:, 1::2]).reshape(ph, 4, pw)
        colour = np.maximum(np.maximum(colour[:, 0], colour[:, 1]), np.maximum(colour[:, 2], colour[:, 3]))
        # a blank cell takes the colour of the lit cell before it, so a row splits into few segments
        at = np.where(colour > 0, _cell_index(ph, pw), _cell_index(ph, pw)[:, :1])
        colour = colour.ravel()[np.maximum.accumulate(at, axis=1)]
        cut_r, cut_c = np.nonzero(colour[:, 1:] != colour[:, :-1])
        cuts: list[list[int]] = [[] for _ in range(ph)]  # each row's colour changes
        for r, c in zip(cut_r.tolist(), cut_c.tolist()):
            cuts[r].append(c + 1)
        colour_at = colour.tolist()
        styles = [base] + [s for _x, _y, s, _l in lines]

        # -- legend box in the plot's top-left corner (over the lines): traces, then baselines
        entries = [(s, lab) for _x, _y, s, lab in lines]
        legend = self._legend(entries[len(idle):] + entries[:len(idle)], pw - 1, ph, st)
        lg_w = sum(cell_len(t) for t, _s in legend[0]) if legend else 0

        # -- rows
        tick_row: dict[int, str] = {}
        for v, s in zip(yticks, ylabels):
            tick_row.setdefault(int(round((ytop - v) * yscale)) // 4, s)
        if has_ylabel:
            emit([Segment(set_cell_size(Y_LABEL, w), st["label"])])
        right = [Segment(" " * (w - gutter - pw), base)] if w > gutter + pw else []
        for r in range(ph):
            segs: list[Segment] = []
            if gutter > 1:
                mark = "┤" if r in tick_row else "│"
                segs.append(Segment(f"{tick_row.get(r, ''):>{lw}} {mark}", st["axis"]))
            elif gutter == 1:
                segs.append(Segment("│", st["axis"]))
            a = 0
            if legend and r < len(legend):
                segs.append(Segment(" ", base))
                segs.extend(Segment(t, s) for t, s in legend[r])
                a = 1 + lg_w
            row = text[r * pw:(r + 1) * pw]
            colours = colour_at[r]
            for b in [c for c in cuts[r] if c > a] + [pw]:
                if b > a:
                    segs.append(Segment(row[a:b], styles[colours[a]]))
                a = b
            emit(segs + right)
        if has_axis:
            room = pw // (len(f"{x1:.0f}") + 3)  # tick labels that fit side by side
            xticks = nice_ticks(x0, x1, max(1, min(5, room)))
            if len(xticks) < 3 and room > 5:  # e.g. 30..150 s: 20 s steps rather than only 50 and 100
                xticks = nice_ticks(x0, x1, min(7, room))
            xstep = float(xticks[1] - xticks[0]) if len(xticks) > 1 else x1 - x0
            tcols = [int(round((v - x0) / (x1 - x0) * (cols - 1))) // 2 for v in xticks]
            axis = ["─"] * pw
            for c in tcols:
                axis[c] = "┬"
            corner = " " * (gutter - 1) + "└" if gutter else ""
            emit([Segment((corner + "".join(axis)).ljust(w), st["axis"])])
            if has_xticks:
                labels = [" "] * w
                end = -1  # the last column used by a label (labels never touch)
                for v, c in zip(xticks, tcols):
                    s = tick_text(v, xstep)
                    a = min(max(gutter + c - len(s) // 2, 0), w - len(s))
                    if a > end + 1 and a >= 0:
                        labels[a:a + len(s)] = s
                        end = a + len(s) - 1
                emit([Segment("".join(labels), st["axis"])])
        if has_xlabel:
            label = fit(f"{X_LABEL} — {note}" if note and not traces else X_LABEL, w)
            pad = max(0, gutter + (pw - cell_len(label)) // 2)
            emit([Segment(set_cell_size(" " * pad + label, w), st["label"])])
        return out

    @staticmethod
    def _legend(entries: list[tuple[Style, str]], width: int, height: int, st: dict):
        """Rows of the legend, each a list of (text, style) of one width; [] when it does not fit."""
        if not entries or width < 12 or height < 1:
            return []
        boxed = height >= 3 * (len(entries) + 2)  # a box only when it leaves the lines most of the plot
        # unboxed, it takes at most a third of a small plot's rows (the traces come first, the idle
        # baselines after them: a short plot names its measured lines)
        entries = entries[:len(entries) if boxed else max(1, height // 3)]
        inner = min(max(cell_len(lab) for _s, lab in entries) + len(MARKER) + 3, width - 2 * boxed)
        rows = []
        for style, lab in entries:  # " ━━ label " in inner cells
            text = " " + set_cell_size(fit(lab, inner - 5), inner - 4)
            row = [(" ", st["base"]), (MARKER, style), (text, st["text"])]
            rows.append([("│", st["legend"])] + row + [("│", st["legend"])] if boxed else row)
        if boxed:
            rows.insert(0, [("╭" + "─" * inner + "╮", st["legend"])])
            rows.append([("╰" + "─" * inner + "╯", st["legend"])])
        return rows
