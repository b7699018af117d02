"""The hook for extra report sections: a fuller comparison of sessions, a routing what-if, ...

A section is a ``(title, body)`` pair: ``body`` is HTML for the HTML report (a fragment, placed inside
its own ``<section>`` under an ``<h2>`` with the title; inline only, nothing fetched) and Markdown for the
Markdown report (placed under a ``##`` heading). Sections come from two places, in this order:

- the providers in ``PROVIDERS``: functions ``(sessions, kind) -> iterable of (title, body)``, called with
  the loaded ``ReportSession`` list and ``kind`` "html" or "markdown"; a provider that has nothing to say
  for these sessions (one session, no query scored on both sides, ...) yields nothing;
- the ``extra_sections`` argument of ``write_html`` / ``write_markdown`` / ``render_html``.

They are placed after the side-by-side table and the accuracy-against-power charts, before the
per-session details. To plug a module in, append its provider here, e.g.::

    def _compare(sessions, kind):
        from ..core.compare import ...
        yield ("Comparison", body)

    PROVIDERS.append(_compare)
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

Provider = Callable[[list, str], Iterable[tuple[str, str]]]
PROVIDERS: list[Provider] = []


def provided_sections(sessions: list[Any], kind: str) -> Iterator[tuple[str, str]]:
    """The sections every provider gives for these sessions, in provider order."""
    for provider in PROVIDERS:
        for title, body in provider(sessions, kind):
            yield str(title), str(body)
