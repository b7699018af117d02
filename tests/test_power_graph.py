"""The power graph: axes, legend, braille lines, N/A, the window, resizing, themes, ticks."""

from __future__ import annotations

from contextlib import asynccontextmanager

import numpy as np
import pytest
from textual.app import App

from ipwtui.tui.widgets.power_graph import PowerGraph, Trace, legend_label, nice_ticks

BRAILLE = range(0x2801, 0x2900)  # a cell with at least one dot


class GraphApp(App):
    CSS = "PowerGraph { width: 100; height: 16; }"

    def __init__(self, window_s: float | None = 120.0) -> None:
        super().__init__()
        self.window_s = window_s

    def compose(self):
        yield PowerGraph(id="power", window_s=self.window_s)


def lines(graph: PowerGraph) -> list[str]:
    return ["".join(seg.text for seg in graph.render_line(y)) for y in range(graph.size.height)]


def dot_rows(graph: PowerGraph) -> list[int]:
    """Rows holding braille dots."""
    return [y for y, text in enumerate(lines(graph)) if any(ord(c) in BRAILLE for c in text)]


def dot_columns(text: str) -> list[int]:
    return [i for i, c in enumerate(text) if ord(c) in BRAILLE]


def tick_rows(graph: PowerGraph) -> dict[str, int]:
    """The y tick labels and their rows ("6 ┤" marks a tick)."""
    out = {}
    for y, text in enumerate(lines(graph)):
        left, sep, _ = text.partition("┤")
        if sep and left.strip():
            out[left.strip()] = y
    return out


@asynccontextmanager
async def drawn(traces, idle=None, note=None, window_s=120.0):
    """A 100x16 graph showing ``traces``: (app, pilot, graph)."""
    app = GraphApp(window_s)
    async with app.run_test(size=(160, 48)) as pilot:
        graph = app.query_one(PowerGraph)
        graph.draw(traces, idle, note=note)
        await pilot.pause()
        yield app, pilot, graph


def cpu(x, y, quality="estimated"):
    return Trace("cpu", np.asarray(x, dtype=float), np.asarray(y, dtype=float), "cpu-time model", quality)


async def test_axes_legend_and_a_constant_line_in_its_row():
    x = np.arange(0, 60, 0.5)
    async with drawn([cpu(x, np.full(len(x), 5.0))]) as (app, pilot, g):
        text = lines(g)
        assert len(text) == 16 and all(len(t) == 100 for t in text)
        assert text[0].startswith("power (W)")
        assert "time (s)" in text[-1]
        # legend: name, source and quality (estimates in capitals), in the plot's top-left corner
        label = legend_label("cpu", "cpu-time model", "estimated")
        assert label == "cpu · cpu-time model · ESTIMATED"
        assert any(label in t and "━━" in t for t in text[1:4])
        # y axis 0..7.5 (5 W x 1.5): nice ticks 0, 2, 4, 6
        ticks = tick_rows(g)
        assert list(ticks) == ["6", "4", "2", "0"]
        # the 5 W line: one row of dots, between the 4 and 6 ticks, across the plot
        rows = dot_rows(g)
        assert len(rows) == 1 and ticks["6"] < rows[0] < ticks["4"]
        cols = dot_columns(text[rows[0]])
        assert len(cols) >= 90 and cols == list(range(cols[0], cols[-1] + 1))  # continuous
        # x axis: ticks in seconds from 0 to 59.5 under the plot
        assert "└" in text[-3] and "┬" in text[-3]
        assert text[-2].split() == ["0", "20", "40"]
        assert g.drawn_traces == ["cpu"]


async def test_lines_are_joined_and_coloured_per_trace():
    x = np.array([0.0, 10.0, 20.0])
    gpu = Trace("gpu", x, np.array([1.0, 9.0, 1.0]), "nvml", "measured")
    async with drawn([cpu(x, [2.0, 2.0, 2.0]), gpu]) as (app, pilot, g):
        # the gpu's steep rise and fall: dots in every row between its low and high points
        rows = dot_rows(g)
        assert rows == list(range(rows[0], rows[-1] + 1)) and len(rows) >= 8
        assert any("gpu · nvml · measured" in t for t in lines(g))
        # one colour per line: the legend markers have two colours, and so do the lines' dots
        dots = {seg.style.color for y in rows for seg in g.render_line(y)
                if any(ord(c) in BRAILLE for c in seg.text)}
        assert len(dots) == 2
        markers = {seg.style.color for y in range(g.size.height) for seg in g.render_line(y)
                   if seg.text == "━━"}
        assert len(markers) == 2


async def test_no_samples_shows_the_note_and_no_line():
    async with drawn([], note="waiting for the first samples") as (app, pilot, g):
        text = lines(g)
        assert "time (s) — waiting for the first samples" in text[-1]
        assert dot_rows(g) == []
        assert g.drawn_traces == []
        assert tick_rows(g)["1.0"] < tick_rows(g)["0.0"]  # 0..1 W when there is nothing to scale to
        assert text[-2].split() == ["0.0", "0.5", "1.0"]  # and 0..1 s


async def test_window_cuts_old_points():
    # a 20 W spike at 10 s, then 2 W up to 300 s: with a 120 s window the spike is gone and the axis
    # starts at 180 s; with the whole history it sets the scale
    x = np.arange(0, 300.5, 0.5)
    y = np.where(np.abs(x - 10) < 1, 20.0, 2.0)
    async with drawn([cpu(x, y)], window_s=120.0) as (app, pilot, g):
        assert max(float(k) for k in tick_rows(g)) < 4  # the axis goes to 3 W, not 30
        ticks_x = [float(v) for v in lines(g)[-2].split()]
        assert min(ticks_x) >= 180 and max(ticks_x) <= 300
        assert len(dot_rows(g)) == 1
        g.window_s = None
        g.draw([cpu(x, y)])
        await pilot.pause()
        assert max(float(k) for k in tick_rows(g)) >= 20
        assert min(float(v) for v in lines(g)[-2].split()) == 0
        assert len(dot_rows(g)) > 1  # the spike


async def test_idle_baseline():
    x = np.arange(0, 30, 1.0)
    async with drawn([cpu(x, np.full(len(x), 8.0))], {"cpu": 4.0, "gpu": None}) as (app, pilot, g):
        text = lines(g)
        assert any("idle baseline cpu 4 W (median)" in t for t in text)
        assert not any("idle baseline gpu" in t for t in text)
        assert g.drawn_traces == ["cpu", "idle:cpu"]
        # the legend lists the trace first, then the baseline
        legend = [y for y, t in enumerate(text) if "━━" in t]
        assert "cpu · cpu-time model" in text[legend[0]] and "idle baseline" in text[legend[1]]
        # two flat lines: the trace (8 W) above the baseline (4 W), each a row of dots
        rows = dot_rows(g)
        assert len(rows) == 2
        idle_style = [seg.style for seg in g.render_line(rows[1]) if any(ord(c) in BRAILLE for c in seg.text)]
        line_style = [seg.style for seg in g.render_line(rows[0]) if any(ord(c) in BRAILLE for c in seg.text)]
        assert idle_style and line_style and idle_style[0].color != line_style[0].color


async def test_redraws_on_resize_and_survives_tiny_sizes():
    x = np.arange(0, 60, 0.5)
    async with drawn([cpu(x, np.full(len(x), 5.0))]) as (app, pilot, g):
        g.styles.width, g.styles.height = 50, 10
        await pilot.pause()
        text = lines(g)
        assert len(text) == 10 and all(len(t) == 50 for t in text)
        assert "power (W)" in text[0] and "time (s)" in text[-1]
        assert len(dot_rows(g)) == 1 and len(dot_columns(text[dot_rows(g)[0]])) >= 40
        for w, h in [(30, 8), (12, 5), (3, 2), (1, 1), (0, 0)]:
            g.styles.width, g.styles.height = w, h
            await pilot.pause()
            assert [len(t) for t in lines(g)] == [w] * h
        g.styles.width, g.styles.height = 100, 16
        await pilot.pause()
        assert any("cpu · cpu-time model · ESTIMATED" in t for t in lines(g))


async def test_follows_the_theme():
    x = np.arange(0, 60, 0.5)
    async with drawn([cpu(x, np.full(len(x), 5.0))]) as (app, pilot, g):
        def marker_colour():
            return next(seg.style.color for y in range(g.size.height) for seg in g.render_line(y)
                        if seg.text == "━━")
        before = marker_colour()
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        await pilot.pause()
        primary = app.get_css_variables()["primary"]
        assert marker_colour() != before
        assert marker_colour().triplet.hex == primary.lower()


@pytest.mark.parametrize("lo,hi", [(0, 7.5), (0, 1), (0, 1234.0), (37.3, 157.3), (0, 0.03)])
def test_nice_ticks(lo, hi):
    ticks = nice_ticks(lo, hi, 5)
    assert 2 <= len(ticks) <= 5 and lo - 1e-9 <= ticks[0] and ticks[-1] <= hi + 1e-9
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** np.floor(np.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-9
