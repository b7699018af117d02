"""A scatter chart: labelled points with their intervals, and lines through the origin y = k x labelled with k.

Drawn for the compare screen as the Intelligence per Watt paper draws it: accuracy on y, mean power on x
(linear or log), and iso-IPW lines a / P = k. Lines and intervals are rasterised into braille dots (2x4
per cell) with the power graph's helpers (``line_dots``, the braille table, the 1-2-5 ticks); markers,
point labels and line labels are then written over the dots as text. The rows are built once per size,
theme and data (``CachedLines``), so the chart costs nothing between changes. Colours come from the
theme through component classes.

It shows what it is given (plain numbers): it computes nothing about the sessions. Text is drawn as
text, never read as markup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from ...core import fmt
from .lines import CachedLines, fit
from .power_graph import BRAILLE, BRAILLE_BIT, line_dots, nice_ticks, tick_text

N_POINT_STYLES = 6
MEASURED_MARK = "●"
ESTIMATE_MARK = "○"  # a point whose x (energy) is not measured
# on a log x axis the lines y = k x crowd together towards y = 0: each is drawn from y = LOG_FLOOR up
LOG_FLOOR = 0.1


@dataclass
class ScatterPoint:
    label: str
    x: float
    y: float
    y_ci: tuple[float, float] | None = None  # drawn as a vertical bar
    x_range: tuple[float, float] | None = None  # drawn as a horizontal bar (an estimate's range)
    estimate: bool = False  # hollow marker
    flag: str = ""  # appended to the label on the chart (e.g. " ✗" for a point not comparable)


@dataclass
class Placed:
    """Something the last build wrote on the chart (for tests and for people reading the code)."""

    text: str
    row: int
    col: int


class Scatter(CachedLines):
    """Points (x, y) with intervals, and lines y = k x labelled "<line_prefix><k>"."""

    COMPONENT_CLASSES = {"scatter--axis", "scatter--label", "scatter--text", "scatter--line",
                         *(f"scatter--point-{i}" for i in range(N_POINT_STYLES))}
    DEFAULT_CSS = """
    Scatter {
        height: 1fr;
        & > .scatter--axis { color: $foreground-muted; }
        & > .scatter--label { color: $primary; text-style: bold; }
        & > .scatter--text { color: $foreground; }
        & > .scatter--line { color: $foreground-muted; }
        & > .scatter--point-0 { color: $primary; text-style: bold; }
        & > .scatter--point-1 { color: $accent; text-style: bold; }
        & > .scatter--point-2 { color: $success; text-style: bold; }
        & > .scatter--point-3 { color: $warning; text-style: bold; }
        & > .scatter--point-4 { color: $error; text-style: bold; }
        & > .scatter--point-5 { color: $foreground; text-style: bold; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.points: list[ScatterPoint] = []
        self.lines: list[float] = []
        self.x_range: tuple[float, float] | None = None
        self.log_x = False
        self.x_label = "x"
        self.y_label = "y"
        self.line_prefix = ""
        self.legend = ""
        self.note = ""
        self.placed: list[Placed] = []  # the labels the last build wrote (points and lines)
        self._styles: dict[str, Style] = {}

    def show(self, points: list[ScatterPoint], lines: list[float], x_range: tuple[float, float] | None,
             log_x: bool = False, x_label: str = "x", y_label: str = "y", line_prefix: str = "",
             legend: str = "", note: str = "") -> None:
        """New data. ``lines``: the k of each line y = k x. ``legend``: one line under the x label;
        ``note``: said in the plot when there is no point."""
        self.points, self.lines = list(points), [k for k in lines if k and k > 0]
        self.x_range, self.log_x = x_range, log_x
        self.x_label, self.y_label, self.line_prefix = x_label, y_label, line_prefix
        self.legend, self.note = legend, note
        self.content_changed()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def _style(self, part: str) -> Style:
        st = self._styles.get(part)
        if st is None:
            st = self._styles[part] = self.get_component_rich_style(f"scatter--{part}")
        return st

    # ---- scales ---------------------------------------------------------------------------------

    def _x_to(self, x0: float, x1: float, cols: int):
        if self.log_x:
            a, b = math.log10(x0), math.log10(x1)
            return lambda x: (np.log10(np.maximum(np.asarray(x, dtype=float), 1e-300)) - a) / (b - a) * (cols - 1)
        return lambda x: (np.asarray(x, dtype=float) - x0) / (x1 - x0) * (cols - 1)

    def _x_ticks(self, x0: float, x1: float, most: int) -> list[float]:
        if not self.log_x:
            return [float(v) for v in nice_ticks(x0, x1, most)]
        out = []
        e = math.floor(math.log10(x0))
        while 10 ** e <= x1 * 1.0000001:
            for m in (1, 2, 5):
                v = m * 10.0 ** e
                if x0 <= v <= x1:
                    out.append(v)
            e += 1
        while len(out) > most:  # decades only, then every other decade
            decades = [v for v in out if math.isclose(math.log10(v), round(math.log10(v)))]
            out = decades if len(decades) < len(out) else out[::2]
        return out

    # ---- drawing --------------------------------------------------------------------------------

    def build_lines(self, width: int, height: int) -> list[Strip]:
        base = self.rich_style
        w, h = width, height
        self.placed = []
        if w < 12 or h < 4:
            return [Strip.blank(w, base) for _ in range(h)]
        has_ylabel, has_legend = h >= 9, h >= 7 and bool(self.legend)
        ph = h - has_ylabel - 1 - 1 - 1 - has_legend  # plot rows; axis, ticks, x label
        yticks = nice_ticks(0.0, 1.0, min(5, max(2, ph // 2 + 1)))
        ylabels = [f"{100 * v:.0f}%" for v in yticks]
        lw = max(len(s) for s in ylabels)
        gutter = lw + 2
        pw = w - gutter - 1
        if ph < 2 or pw < 8:
            return [Strip.blank(w, base) for _ in range(h)]
        rows, cols = 4 * ph, 2 * pw
        x0, x1 = self.x_range or (0.0, 1.0)
        if self.log_x and x0 <= 0:
            x0 = x1 / 1000 if x1 > 0 else 1e-3
        if not x1 > x0:
            x1 = x0 + 1.0
        px_of = self._x_to(x0, x1, cols)

        def py_of(y):
            return (1.0 - np.asarray(y, dtype=float)) * (rows - 1)

        # -- dots: the iso lines (owner 1), then each point's intervals (owner 2 + its index)
        owner = np.zeros((rows, cols), dtype=np.int16)
        line_pts: list[tuple[float, np.ndarray, np.ndarray]] = []  # (k, px, py) of each line drawn
        for k in self.lines:
            xe = min(x1, 1.0 / k)
            if xe <= x0:
                continue
            c0 = 0  # every line starts at the plot's left edge
            ce = math.floor(float(px_of(xe)))
            if ce <= c0:
                continue
            px = np.arange(c0, ce + 1, dtype=float)
            if self.log_x:
                xs = 10 ** (math.log10(x0) + px / (cols - 1) * (math.log10(x1) - math.log10(x0)))
            else:
                xs = x0 + px / (cols - 1) * (x1 - x0)
            keep = k * xs >= (LOG_FLOOR if self.log_x else 0.0)
            if keep.sum() < 2:
                continue
            px, xs = px[keep], xs[keep]
            py = py_of(np.minimum(k * xs, 1.0))
            owner[line_dots(px, py, rows, cols)] = 1
            line_pts.append((k, px, py))
        marks: list[tuple[int, int, int, ScatterPoint]] = []  # (cell row, cell col, index, point)
        for i, p in enumerate(self.points):
            if p.x is None or p.y is None or (self.log_x and p.x <= 0):
                continue
            pid = 2 + i
            px, py = float(px_of(p.x)), float(py_of(min(max(p.y, 0.0), 1.0)))
            c, r = round(min(max(px, 0), cols - 1)), round(min(max(py, 0), rows - 1))
            if p.y_ci:
                lo, hi = sorted(float(v) for v in p.y_ci)
                ra, rb = round(float(py_of(min(hi, 1.0)))), round(float(py_of(max(lo, 0.0))))
                owner[max(ra, 0):min(rb, rows - 1) + 1, c] = pid
            if p.x_range:
                lo, hi = sorted(float(v) for v in p.x_range)
                if not self.log_x or lo > 0:
                    ca = round(min(max(float(px_of(lo)), 0), cols - 1))
                    cb = round(min(max(float(px_of(hi)), 0), cols - 1))
                    owner[r, ca:cb + 1] = pid
            marks.append((r // 4, c // 2, i, p))

        # -- cells: the braille character of each 2x4 block, coloured by its highest owner
        bits = np.where(owner > 0, np.tile(BRAILLE_BIT, (ph, pw)), 0).astype(np.int32)
        bits = bits.reshape(ph, 4, pw, 2).sum(axis=(1, 3))
        text = BRAILLE[bits].tobytes().decode("utf-32-le")
        chars = [list(text[r * pw:(r + 1) * pw]) for r in range(ph)]
        colour = owner.reshape(ph, 4, pw, 2).max(axis=(1, 3)).tolist()
        # cells holding text, or a point's interval: a label goes elsewhere when it can
        taken = [[v >= 2 for v in row] for row in colour]
        texts = [[False] * pw for _ in range(ph)]  # cells holding text: never covered but by force

        markers: set[tuple[int, int]] = set()  # cells of the markers: no text ever covers one

        def put(text: str, r: int, c: int, part: int, force: bool = False, over_dots: bool = False) -> bool:
            """Write ``text`` at cell (r, c) if it fits and covers nothing it must not: no text, no
            interval (``over_dots``: intervals may be covered; ``force``: anything but a marker)."""
            n = cell_len(text)
            if r < 0 or r >= ph or c < 0 or c + n > pw:
                return False
            if not force and any((texts if over_dots else taken)[r][c:c + n]):
                return False
            for j, ch in enumerate(text):
                if (r, c + j) in markers:
                    continue
                chars[r][c + j] = ch
                colour[r][c + j] = part
                taken[r][c + j] = texts[r][c + j] = True
            self.placed.append(Placed(text, r, c))
            return True

        def near(r: int, c: int, n: int):
            """Where a label of n cells may go: right of its marker, left of it, then the rows above and
            below, further and further."""
            yield r, c + 2
            yield r, c - 1 - n
            for d in (1, 2, 3):
                for rr in (r - d, r + d):
                    yield rr, c + 1
                    yield rr, c - n
                    yield rr, min(max(c - n // 2, 0), max(pw - n, 0))

        # markers first (they must show), then point labels, then line labels where room is left
        for r, c, i, p in marks:
            put(ESTIMATE_MARK if p.estimate else MEASURED_MARK, r, c, 2 + i, force=True)
            markers.add((r, c))
        for r, c, i, p in marks:
            text = fit(p.label + p.flag, max(6, pw // 2))
            n = cell_len(text)
            if not any(put(text, rr, cc, 2 + i) for rr, cc in near(r, c, n)):
                # no free room: over the dots beside the marker (markers and other labels are kept)
                put(text, r, min(max(c + 2, 0), max(pw - n, 0)), 2 + i, force=True)
        for k, px, py in line_pts:
            # where the line leaves the plot, else further back along it, beside the line
            text = f"{self.line_prefix}{fmt.num(k, 2)}"
            n = cell_len(text)
            for at in range(len(px) - 1, -1, -4):
                r, c = int(py[at]) // 4, int(px[at]) // 2
                spots = [(r, c + 1), (r, c - n)] + ([(r + 1, c - n), (r + 1, c - n - 2)] if at == len(px) - 1 else [])
                if any(put(text, rr, cc, 1) for rr, cc in spots if 0 <= cc):
                    break
            else:  # no free room beside it: over an interval's dots at its end (never over text)
                r, c = int(py[-1]) // 4, int(px[-1]) // 2
                any(put(text, r, cc, 1, over_dots=True) for cc in (c + 1, c - n, max(0, min(c - n // 2, pw - n))))
        if not marks and self.note:
            t = fit(self.note, pw - 2)
            put(t, ph // 2, max(0, (pw - cell_len(t)) // 2), 0, force=True)

        # -- rows
        styles = {0: self._style("text"), 1: self._style("line")}
        for i in range(len(self.points)):
            styles[2 + i] = self._style(f"point-{i % N_POINT_STYLES}")
        axis, label = self._style("axis"), self._style("label")
        out: list[Strip] = []

        def emit(segs: list[Segment]) -> None:
            out.append(Strip(segs).crop(0, w).extend_cell_length(w, base).apply_style(base))

        if has_ylabel:
            emit([Segment(fit(self.y_label, w), label)])
        tick_row: dict[int, str] = {}
        for v, s in zip(yticks, ylabels):
            tick_row.setdefault(round(float(py_of(v))) // 4, s)
        for r in range(ph):
            mark = "┤" if r in tick_row else "│"
            segs = [Segment(f"{tick_row.get(r, ''):>{lw}} {mark}", axis)]
            a = 0
            row_c = colour[r]
            for b in range(1, pw + 1):
                if b == pw or row_c[b] != row_c[a]:
                    segs.append(Segment("".join(chars[r][a:b]), styles.get(row_c[a], base)))
                    a = b
            emit(segs)
        # x axis, ticks and label
        room = max(1, pw // 7)
        xt = self._x_ticks(x0, x1, max(2, min(6, room)))
        step = (xt[1] - xt[0]) if len(xt) > 1 else (x1 - x0)
        tcols = [round(float(px_of(v))) // 2 for v in xt]
        line = ["─"] * pw
        for c in tcols:
            if 0 <= c < pw:
                line[c] = "┬"
        emit([Segment(" " * (gutter - 1) + "└" + "".join(line), axis)])
        labels = [" "] * w
        end = -1
        for v, c in zip(xt, tcols):
            s = fmt.num(v, 3) if self.log_x else tick_text(v, step)
            a = min(max(gutter + c - len(s) // 2, 0), w - len(s))
            if a > end + 1:
                labels[a:a + len(s)] = s
                end = a + len(s) - 1
        emit([Segment("".join(labels), axis)])
        xl = fit(self.x_label + (" · log scale" if self.log_x else ""), w)
        emit([Segment(" " * max(0, gutter + (pw - cell_len(xl)) // 2) + xl, label)])
        if has_legend:
            emit([Segment(fit(self.legend, w), self._style("text"))])
        return out
