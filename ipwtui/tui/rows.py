"""Rows of the per-query table from typed query records (the table widget itself knows only cells)."""

from __future__ import annotations

from ..core import fmt
from ..core.record import QueryRecord
from .widgets.query_table import Cell, cell


def _num(v, digits: int = 3) -> Cell:
    return cell(fmt.num(v, digits), v if isinstance(v, (int, float)) else None)


def record_cells(rec: QueryRecord, view: str = "gross") -> list[Cell]:
    """The row of one query record, its energy and power in ``view`` (gross, or net of the idle baseline:
    the same energy the figures use, the server's for a remote query). Thread-safe (no widget involved)."""
    correct = rec.correct
    sym = fmt.correct_symbol(correct)
    ok_style = "bold" if correct is not None else "dim"
    quality = rec.energy_quality or "unavailable"
    q_text = fmt.QUALITY_SHORT.get(quality, quality)
    if rec.energy_flags:
        q_text += " !"
    idx = rec.index
    return [
        cell(str(idx + 1) if idx >= 0 else "", idx),
        cell(sym, {True: 0, False: 1}.get(correct, 2), style=ok_style, justify="center"),
        cell(rec.domain, rec.domain, justify="left"),
        _num(rec.energy(view)),
        _num(rec.power(view)),
        cell(q_text, quality, justify="left"),
        _num(rec.latency_s),
        _num(rec.ttft_s),
        _num(rec.decode_tps),
        cell(fmt.NA if rec.output_tokens is None else str(rec.output_tokens), rec.output_tokens),
        cell(rec.status, rec.status, justify="left"),
    ]
