"""Typed events the runner sends to a front end (the rich progress bar, or the Textual app).

The runner calls the listener from its own thread; a front end must hand them over to its UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Phase:
    name: str  # "loading", "idle", "warmup", "running", "paused", "stopping", "finished", "interrupted"
    detail: str = ""


@dataclass
class SessionStarted:
    folder: str
    segment: int
    total: int  # queries planned in the session (not warm-up)
    done: int  # already finished (resume)
    domains: list = field(default_factory=list)  # [Domain]
    counted_domains: list = field(default_factory=list)  # names summed into query energy


@dataclass
class IdleMeasured:
    idle_w: dict  # domain -> median watts
    seconds: float


@dataclass
class QueryStarted:
    index: int  # position in the session (0-based), -1 for warm-up
    total: int
    query: object  # workloads.base.Query
    warmup: bool = False


@dataclass
class Token:
    text: str
    t: float  # monotonic
    n: int  # pieces received so far in this query


@dataclass
class QueryFinished:
    record: Any  # the QueryRecord (core.record)
    metrics: dict  # {"gross": Metrics, "net": Metrics}, running, after this query


@dataclass
class SensorFault:
    sensor: str
    message: str


@dataclass
class Notice:
    """Something the user should know that stops nothing (a file not written, a figure not available)."""

    message: str


@dataclass
class RunFinished:
    summary: dict
    status: str  # "finished", "stopped", "interrupted"


@dataclass
class RunFailed:
    message: str
