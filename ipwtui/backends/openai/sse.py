"""A small server-sent-events reader: lines in, events out.

The stream of an OpenAI-compatible server is ``text/event-stream``: fields ``name: value`` on their own
lines, an event ends at a blank line. Only what these servers use is kept:

- ``data:`` lines (several in one event are joined with a newline, as the format says);
- ``event:`` names the event (``"message"`` when absent);
- lines starting with ``:`` are comments (keep-alives such as ``: PROCESSING``) and are dropped;
- a field named ``error:`` (llama.cpp's server writes its mid-stream faults that way) becomes an event
  named ``"error"`` carrying that value as its data;
- other fields (``id:``, ``retry:``) are ignored.

An event still open when the lines end is dispatched too: a server that closes the stream right after its
last ``data:`` line without the blank line still gets its last event read.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable, Iterator


@dataclass(frozen=True)
class Event:
    event: str
    data: str


def events(lines: Iterable[str]) -> Iterator[Event]:
    """The events in ``lines`` (text lines without their line endings)."""
    data: list[str] = []
    name = ""
    for line in lines:
        if not line:
            if data:
                yield Event(name or "message", "\n".join(data))
            data, name = [], ""
            continue
        if line[0] == ":":
            continue
        field, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        elif field == "error":
            name = "error"
            data.append(value)
    if data:
        yield Event(name or "message", "\n".join(data))
