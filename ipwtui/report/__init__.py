"""Reports people share: one self-contained HTML file, or Markdown with SVG charts beside it.

    write_html(folders, "report.html")          # inline CSS and inline SVG charts, nothing fetched
    write_markdown(folders, "report.md")        # report.md + report-*.svg

Both read each session folder (session.json, journal, power.csv, through the core), draw the charts with
matplotlib (an optional dependency: ``pip install 'ipwtui[report]'``) and write every figure with its
interval, quality and boundary; estimates are marked as estimates, unavailable figures read N/A.

Extra sections (a fuller comparison, a routing what-if) plug in as ``(title, body)`` pairs through the
``extra_sections`` argument, or by adding a provider to ``sections.PROVIDERS``: see ``sections``.
Nothing heavy is imported until a report is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from .data import ReportError

Section = tuple[str, str]  # (title, body): HTML for the HTML report, Markdown for the Markdown one

__all__ = ["ReportError", "Section", "load", "write_html", "write_markdown"]

Sessions = Iterable  # session folders (str or path), or sessions already read by ``load``


def load(folders: Iterable[str | os.PathLike], view: str | None = None) -> list:
    """Read the session folders once (for several reports of the same sessions): ReportSession list.
    ``view``: "gross" or "net" energy for the whole report (default: the sessions' own when they agree,
    else gross)."""
    from .data import load_sessions

    return load_sessions(folders, view)


def _sessions(given: Sessions, view: str | None) -> list:
    from .data import ReportSession, load_sessions

    items = list(given)
    if items and all(isinstance(s, ReportSession) for s in items):
        return items
    return load_sessions(items, view)


def write_html(sessions: Sessions, out: str | os.PathLike, view: str | None = None,
               extra_sections: Sequence[Section] = ()) -> Path:
    """Write one self-contained HTML report of the sessions to ``out``; returns its path.
    Raises ReportError (one line) for an unreadable session, a missing matplotlib or an unwritable file."""
    from .data import write_text
    from .html import render_html
    from .sections import provided_sections

    loaded = _sessions(sessions, view)
    extra = list(provided_sections(loaded, "html")) + list(extra_sections)
    return write_text(Path(out), render_html(loaded, extra))


def write_markdown(sessions: Sessions, out: str | os.PathLike, view: str | None = None,
                   extra_sections: Sequence[Section] = ()) -> list[Path]:
    """Write a Markdown report to ``out`` and its charts as SVG files beside it (``<stem>-*.svg``);
    returns every path written, the Markdown file first."""
    from .markdown import write_markdown_report
    from .sections import provided_sections

    loaded = _sessions(sessions, view)
    extra = list(provided_sections(loaded, "markdown")) + list(extra_sections)
    return write_markdown_report(loaded, Path(out), extra)
