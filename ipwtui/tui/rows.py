"""Rows of the per-query table from typed query records (the table widget itself knows only cells)."""

from __future__ import annotations

from ..core import fmt
from ..core.record import QueryRecord
from .widgets.query_table import Cell, cell


def _num(v, digits: int = 3) -> Cell:
    """A number cell; its shorter forms (fewer digits) are used where the column is too narrow, so a value
    is never cut into one that reads as another ("0.000…")."""
    c = cell(fmt.num(v, digits), v if isinstance(v, (int, float)) else None)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v != 0:
        c.alts = tuple(dict.fromkeys([fmt.num(v, d) for d in range(digits - 1, 0, -1)] + [f"{v:.0e}"]))
    return c


def record_note(rec: QueryRecord, view: str = "gross") -> str:
    """Why a row looks as it does, in words: a failed attempt's error, the flags of the energy shown (which
    ones the "!" stands for), and why a remote query's server energy is N/A."""
    parts = []
    if (rec.attempt or 1) > 1:  # a query tried again: its rows are told apart by their attempt
        parts.append(f"attempt {rec.attempt}")
    if rec.status == "error":
        parts.append(f"error: {rec.error or 'no reason given'}")
    flags = rec.server_energy_flags if rec.remote else rec.energy_flags
    if flags and rec.energy(view) is not None:
        parts.append("flagged: " + ", ".join(flags))
    if rec.remote and rec.energy(view) is None and rec.status == "ok":
        if view != "gross" and rec.server_energy_j is not None:
            parts.append("net N/A: the server's idle power is unknown")
        elif rec.server_energy_note:
            parts.append(rec.server_energy_note)
        elif not rec.server_energy_source or rec.server_energy_source == "none":
            parts.append("no server-energy source")
    return " · ".join(parts)


def record_cells(rec: QueryRecord, view: str = "gross") -> list[Cell]:
    """The row of one query record, its energy and power in ``view`` (gross, or net of the idle baseline:
    the same energy the figures use, the server's for a remote query), the quality and flags of that
    energy (N/A when the energy is), and a note saying why. Thread-safe (no widget involved)."""
    correct = rec.correct
    sym = fmt.correct_symbol(correct)
    ok_style = "bold" if correct is not None else "dim"
    energy = rec.energy(view)
    _source, quality, _boundary = rec.energy_label
    flags = rec.server_energy_flags if rec.remote else rec.energy_flags
    if energy is None:
        quality = "unavailable"
    q_text = fmt.QUALITY_SHORT.get(quality, quality)
    if flags and energy is not None:
        q_text += " !"
    idx = rec.index
    return [
        cell(str(idx + 1) if idx >= 0 else "", idx),
        # sorted as a number: ✗ (0) before ✓ (1) going up, as a numeric column; unscored last either way
        cell(sym, {True: 1, False: 0}.get(correct), style=ok_style, justify="center"),
        cell(rec.domain, rec.domain, justify="left"),
        _num(energy),
        _num(rec.power(view)),
        cell(q_text, quality, justify="left"),
        _num(rec.latency_s),
        _num(rec.ttft_s),
        _num(rec.decode_tps),
        cell(fmt.NA if rec.output_tokens is None else str(rec.output_tokens), rec.output_tokens),
        cell(rec.status, rec.status, justify="left"),
        cell(record_note(rec, view), None, justify="left"),
    ]
