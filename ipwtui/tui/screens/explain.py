"""What IPW and IPJ are, and how the session on screen computes them: a short explainer (key i).

The words come from the session's own labels, handed over as an ``ExplainContext`` by the screen that
was open (the run screen from its LiveState, a past session's view from its summary): the counted
domains with their source, quality and boundary, gross or net, the idle baseline, how many queries the
figures cover, the interval, the core's notes. Nothing is computed here: the numbers are the core's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from ...core import fmt
from ...core.metrics import MIN_QUERIES_FOR_CI
from ...core.sensors.base import describe_boundary
from ..widgets.responsive import Responsive

PAPER = '"Intelligence per Watt" (Saad-Falcon et al., 2025, arXiv 2511.07885)'
QUALITY_WORDS = {
    "measured": "read from a hardware energy counter or power sensor (RAPL, NVML, a battery, …)",
    "model-based": "the chip's own energy model (Apple's IOReport or powermetrics), not a meter",
    "estimated": "no sensor: worked out from CPU time × watts per core, or a published per-query figure for "
                 "a cloud API; compare it only with other estimates",
    "measured-remote": "the server's own telemetry (read from its Prometheus)",
}


@dataclass
class DomainLabel:
    """One counted power domain, as the explainer names it."""

    name: str
    source: str
    quality: str
    boundary: str


@dataclass
class ExplainContext:
    """The session's own labels (from a LiveState or a summary; the metrics are the core's)."""

    view: str = "gross"  # the energy on screen
    metrics: object = None  # the core's Metrics (live) or its as_dict() (a summary), for ``view``
    quality: str = "unavailable"  # of the energy the figures use
    source: str | None = None
    boundary: str | None = None
    domains: list[DomainLabel] = field(default_factory=list)  # counted domains (local sessions)
    idle_w: dict = field(default_factory=dict)  # idle baseline per domain, W
    idle_seconds: float | None = None
    remote: bool = False  # the figures use a server's energy
    status: str = ""  # "running", "stopped", ... (a word for the header)
    na_notes: list[str] = field(default_factory=list)  # why the server's energy is N/A (the source's words)


def _m(m, key, default=None):
    if m is None:
        return default
    v = m.get(key) if isinstance(m, dict) else getattr(m, key, None)
    return default if v is None else v


def context_from_summary(summary: dict, view: str) -> ExplainContext:
    """A past session's labels, from its summary (core.summary.build_summary)."""
    idle = summary.get("idle") or {}
    last = idle[sorted(idle, key=lambda k: int(k) if str(k).isdigit() else 0)[-1]] if idle else {}
    return ExplainContext(
        view=view, metrics=(summary.get("metrics") or {}).get(view),
        quality=summary.get("energy_quality") or "unavailable", source=summary.get("energy_source"),
        boundary=summary.get("energy_boundary"), idle_w=dict(last.get("idle_w") or {}),
        idle_seconds=last.get("seconds"), remote=summary.get("where") == "remote",
        status=summary.get("status") or "")


def sections(ctx: ExplainContext | None) -> list[tuple[str, str]]:
    """(title, text) of each part of the explainer."""
    out = [("IPW and IPJ", (
        "IPW, intelligence per watt  = accuracy ÷ mean power per query (1/W)\n"
        "IPJ, intelligence per joule = accuracy ÷ mean energy per query (1/J)\n"
        "accuracy = correct ÷ scored answers; a query's power = its energy ÷ its latency.\n"
        f"As defined in {PAPER}."))]
    if ctx is None:
        out.append(("This session", "No session on screen: start a run, or open one from Sessions (ctrl+o), then "
                                    "press i again to see how its figures are computed."))
    else:
        out.append(("This session", _session_text(ctx)))
    out.append(("Measured, model-based, estimated", "\n".join(f"{q}: {w}" for q, w in QUALITY_WORDS.items())
                + ("" if ctx is None else f"\nThese figures: {_quality_phrase(ctx.quality)}.")))
    out.append(("How to read it", (
        "Higher is better: more correct answers for each watt, or each joule.\n"
        "Compare models and machines on the same query set: the figure depends on the questions as much as "
        "on the model.\n"
        "Compare like with like: the same boundary (a GPU board is not a whole machine), gross with gross, "
        "an estimate with an estimate.\n"
        "A remote session's IPW and IPJ use the server's energy; this machine's, while it waits, is kept "
        "apart.")))
    return out


def _quality_phrase(quality: str) -> str:
    return {"estimated": "ESTIMATED", "unavailable": "N/A (no energy source)"}.get(quality, quality)


def _session_text(ctx: ExplainContext) -> str:
    m = ctx.metrics
    lines = []
    idle = ", ".join(f"{k} {fmt.num(v, 3, 'W')}" for k, v in ctx.idle_w.items() if v is not None)
    idle_s = f", median over {fmt.num(ctx.idle_seconds, 2)} s before the run" if ctx.idle_seconds else ""
    if ctx.remote:
        lines.append("On screen: the server's energy over each query's window (request sent to the answer's "
                     "end), " + ("net: N/A, as the server's idle power is unknown. g switches to gross."
                                 if ctx.view == "net" else "gross (its net is N/A: the server's idle power is "
                                 "unknown)."))
    elif ctx.view == "net":
        lines.append("On screen: net energy, each query's energy less the idle baseline × its latency "
                     f"(idle: {idle or fmt.NA}{idle_s}). g switches to gross.")
    else:
        lines.append("On screen: gross energy, all the counted domains drew during each query's window (request "
                     "sent to engine done). g switches to net" + (f" (less the idle baseline: {idle}{idle_s})."
                                                                  if idle else "."))
    if ctx.remote:
        lines.append(f"Energy: the server's, {ctx.source or fmt.NA} ({_quality_phrase(ctx.quality)}), "
                     f"boundary {ctx.boundary or fmt.NA}.")
        for note in ctx.na_notes:
            lines.append(f"Why the server's energy is N/A: {note}")
    elif ctx.domains:
        lines.append("Counted: " + "; ".join(
            f"{d.name}: {d.source}, {d.quality}, boundary {d.boundary} ({describe_boundary(d.boundary)})"
            for d in ctx.domains) + ".")
    elif ctx.source or ctx.boundary:
        lines.append(f"Energy: {ctx.source or fmt.NA} ({_quality_phrase(ctx.quality)}), boundary "
                     f"{ctx.boundary or fmt.NA}" + (f" ({describe_boundary(ctx.boundary)})." if ctx.boundary and
                                                    "+" not in ctx.boundary else "."))
    else:
        lines.append("Energy: no domain is counted yet.")
    n, k = _m(m, "n", 0), _m(m, "n_with_energy", 0)
    if not n:
        lines.append("Covers: no finished query yet.")
    else:
        scored, correct, excluded = _m(m, "n_scored", 0), _m(m, "n_correct", 0), _m(m, "n_excluded", 0)
        cover = f"Covers: {n} answered quer{'y' if n == 1 else 'ies'}"
        cover += "" if k == n else f", {k} of them with energy (IPW, IPJ, energy and power are over those)"
        cover += f"; {correct} of {scored} scored are correct"
        if excluded:
            cover += f"; {excluded} skipped or failed are left out"
        lines.append(cover + ".")
        ipw_ci = _m(m, "ipw_ci")
        if ipw_ci:
            lines.append(f"Interval: 95 % bootstrap over queries (resampled together): IPW {fmt.ci(ipw_ci)}.")
        else:
            lines.append(f"Interval: a 95 % bootstrap over queries, shown from {MIN_QUERIES_FOR_CI} queries with "
                         "energy.")
    for note in _m(m, "notes", []) or []:
        lines.append(f"Note: {note}.")
    return "\n".join(lines)


class ExplainScreen(Responsive, ModalScreen[None]):
    """The explainer. Escape, i or Close closes it."""

    BINDINGS = [Binding("escape,i", "close", "Close", id="explain.close")]

    def __init__(self, context: ExplainContext | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.context = context

    def compose(self) -> ComposeResult:
        title = "What the figures mean"
        if self.context is not None and self.context.status:
            title += f" · this session ({self.context.status}, {self.context.view})"
        with Vertical(id="explain-dialog", classes="dialog"):
            yield Label(title, classes="dialog-title")
            with VerticalScroll(id="explain-body"):
                for heading, text in sections(self.context):
                    yield Label(heading, classes="help-section")
                    yield Static(Text(text), classes="explain-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="explain-close", variant="primary")

    @property
    def text(self) -> str:
        """Everything the explainer says, as plain text."""
        return "\n".join(f"{h}\n{t}" for h, t in sections(self.context))

    @on(Button.Pressed, "#explain-close")
    def action_close(self) -> None:
        self.dismiss(None)
