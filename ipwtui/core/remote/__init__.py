"""The server side of a remote query: its energy, measured on the server or estimated, never added to this
machine's.

A ``ServerEnergySource`` turns one remote query's window (wall-clock edges, token counts, latency, the
served model) into a ``ServerEnergy``: a figure with its source, quality, boundary and range, or N/A.
- measured-remote: the server's own telemetry read from Prometheus (``prometheus``);
- estimated: EcoLogits' per-request range, or a cited published figure (``estimate``);
- unavailable: N/A, never 0.

A measured source may not have the telemetry for a window yet when the query ends (the next scrape has
not happened): ``window_energy`` then returns None and the run settles it later with ``settle``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from ..sensors.base import MEASURED_REMOTE  # noqa: F401  (the quality label of server telemetry)

# what a server-side figure covers (boundary)
SERVER_ACCELERATOR = "server-accelerator"  # the server's GPUs/accelerators only (DCGM, NVML, ML.ENERGY)
SERVER_CPU = "server-cpu"  # the server's CPU packages (and DRAM) as RAPL reports them: no accelerator
SERVER = "server"  # the whole server node: accelerators, host CPU and DRAM, idle share
SERVER_DATACENTRE = "server+datacentre"  # the node with data-centre overhead (PUE)
UNSTATED = "unstated"  # the source does not say


@dataclass(frozen=True)
class RemoteWindow:
    """One remote query's window, as a server-side source needs it."""

    query_id: str
    attempt: int
    wall_start: float  # unix seconds: the request left this machine
    wall_end: float  # the stream closed
    model: str  # the served model's name
    prompt_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def seconds(self) -> float:
        return self.wall_end - self.wall_start


@dataclass
class ServerEnergy:
    """The server's energy for one window. ``joules`` None: N/A (with ``note`` saying why)."""

    joules: float | None
    source: str  # "prometheus", "ecologits", "cited:<id>"
    quality: str  # MEASURED_REMOTE, "estimated", "unavailable"
    boundary: str  # one of the boundaries above
    low_j: float | None = None  # range, where the source gives one
    high_j: float | None = None
    flags: list[str] = field(default_factory=list)  # e.g. "short-window" (shorter than two scrape intervals)
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class ServerEnergySource(Protocol):
    name: str  # "prometheus", "ecologits", "cited:<id>"

    def describe(self) -> dict:
        """What the session records about this source (no secret): name, quality, boundary, settings,
        data version, scrape interval..."""
        ...

    def window_energy(self, window: RemoteWindow) -> ServerEnergy | None:
        """The window's server energy, or None when it cannot be known yet (settle it later)."""
        ...

    def settle(self, windows: list[RemoteWindow], timeout_s: float = 30.0) -> list[ServerEnergy]:
        """The energy of windows left pending, once the telemetry after them exists (or N/A with the
        reason once ``timeout_s`` has passed). Same order as ``windows``."""
        ...

    def close(self) -> None: ...
