"""One finished query, typed: what the runner emits, the journal stores, the metrics read, the export
writes and the app shows.

A record is one attempt at one query. A query that failed and was tried again has one record per attempt
(``attempt`` 1, 2, ...); only its last attempt can be ``ok``. The journal line is the record's fields as
one flat JSON object plus ``"type": "query"``; ``from_dict`` reads that line back, including journals
written before a field existed (missing fields take their defaults, unknown keys are kept in ``extra``).

Energy has two sides, never added together:
- the **client** side (``energy_*``): this machine's counted domains over the query's window, gross and
  net of the idle baseline, with its source, quality, boundary and flags; for a local backend this is the
  query's energy;
- the **server** side (``server_energy_*``): for a remote backend, the server's energy over the same
  window, measured-remote (the server's own telemetry), estimated (with a range), or N/A.
"""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .sensors.base import UNAVAILABLE

REMOTE = "remote"

# status of an attempt
OK = "ok"
SKIPPED = "skipped"
ERROR = "error"
STATUSES = (OK, SKIPPED, ERROR)


@dataclass
class QueryRecord:
    # ---- identity ----
    query_id: str
    index: int  # position in the session's query list (0-based); -1 for a warm-up query
    warmup: bool = False
    attempt: int = 1  # 1 for the first try; a retry after a failed attempt is 2, 3, ...
    segment: int = 0  # which process's run (a resumed session has several)
    dataset: str = ""
    domain: str = ""
    kind: str = ""
    # ---- what answered ----
    model: str = ""
    backend: str = ""
    where: str = "local"  # "local" or "remote" (BackendTraits.where)
    accelerator: str = ""
    # ---- outcome ----
    status: str = OK  # ok | skipped | error
    error: str | None = None
    # ---- verdict ----
    correct: bool | None = None  # None: unscorable (no reference, judge failed) or not scored
    prediction: str | None = None
    scorer: str | None = None
    score_note: str | None = None
    # ---- the judge that gave the verdict (an LLM judge; None for the rule scorers) ----
    # Its call is measured apart, outside the query's window: its energy is part of the session's
    # unattributed energy, never of the query's. "Client" figures are this machine's; a remote judge's
    # server energy is kept apart, as for a remote query.
    judge_model: str | None = None
    judge_backend: str | None = None
    judge_where: str | None = None  # "local" or "remote"
    judge_mode: str | None = None  # "pairwise" or "rubric"
    judge_verdict: str | None = None  # the judge's raw reply (both replies when it judged both orders)
    judge_calls: int | None = None
    judge_seconds: float | None = None
    judge_energy_j: float | None = None  # this machine's counted domains over the judge's call (gross)
    judge_energy_source: str | None = None
    judge_energy_quality: str | None = None
    judge_energy_boundary: str | None = None
    judge_server_energy_j: float | None = None  # a remote judge's server energy, when a source is set
    judge_server_energy_source: str | None = None
    judge_server_energy_quality: str | None = None
    judge_server_energy_boundary: str | None = None
    judge_cost_usd: float | None = None
    judge_cost_source: str | None = None
    judge_prompt_tokens: int | None = None
    judge_output_tokens: int | None = None
    # ---- text ----
    prompt: str = ""
    reference: str | None = None
    answer: str | None = None
    # ---- tokens and rates (from the engine's own counters where it has them) ----
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    counts_source: str | None = None
    prefill_tps: float | None = None
    decode_tps: float | None = None
    finish_reason: str | None = None
    peak_memory_bytes: int | None = None
    # ---- times (unix seconds on disk; durations in seconds) ----
    wall_sent: float | None = None  # window start
    wall_first: float | None = None  # first visible piece
    wall_last: float | None = None  # last visible piece
    wall_done: float | None = None  # engine returned: window end
    ttft_s: float | None = None
    latency_s: float | None = None  # the window's length
    # ---- client energy: this machine's counted domains over the window ----
    energy_j: float | None = None  # gross
    energy_net_j: float | None = None  # gross - idle power x latency
    avg_power_w: float | None = None  # gross / latency
    energy_by_domain: dict[str, float | None] = field(default_factory=dict)
    energy_source: str | None = None
    energy_quality: str = UNAVAILABLE
    energy_boundary: str | None = None
    energy_flags: list[str] = field(default_factory=list)
    prefill_energy_j: float | None = None  # [sent, first piece]
    decode_energy_j: float | None = None  # [first piece, done]
    others_cpu_share: float | None = None  # share of the machine's CPU time other processes took
    # ---- server energy (remote backends) ----
    server_energy_j: float | None = None
    server_energy_low_j: float | None = None
    server_energy_high_j: float | None = None
    server_energy_source: str | None = None
    server_energy_quality: str | None = None
    server_energy_boundary: str | None = None
    server_energy_flags: list[str] = field(default_factory=list)
    server_energy_note: str | None = None
    server_report: dict = field(default_factory=dict)  # what the server said of itself (timings, usage)
    # ---- cost ----
    cost_usd: float | None = None
    cost_source: str | None = None
    # ---- reference answers recorded elsewhere (e.g. GPT-4o's MMLU-Pro prediction) ----
    cloud_pred: str | None = None
    # ---- keys this version does not know (a newer journal), kept as they were ----
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- derived ----

    @property
    def counted(self) -> bool:
        """In the session's figures: an answered, non-warm-up query."""
        return self.status == OK and not self.warmup

    @property
    def scored(self) -> bool:
        return self.correct is not None

    @property
    def last_token_s(self) -> float | None:
        """Sent to last visible piece (the window itself runs on to ``wall_done``)."""
        if self.wall_sent is None or self.wall_last is None:
            return None
        return self.wall_last - self.wall_sent

    @property
    def remote(self) -> bool:
        return self.where == REMOTE

    def energy(self, view: str = "gross") -> float | None:
        """The query's energy in ``view`` ("gross" or "net"), the one its IPW and IPJ use: a remote
        query's is the server's (gross only: the server's idle baseline is unknown, so its net is N/A),
        a local query's is this machine's."""
        if self.remote:
            return self.server_energy_j if view == "gross" else None
        return self.client_energy(view)

    def client_energy(self, view: str = "gross") -> float | None:
        """This machine's energy over the window (for a remote query: what the client spent waiting)."""
        return self.energy_net_j if view == "net" else self.energy_j

    @property
    def energy_label(self) -> tuple[str | None, str, str | None]:
        """(source, quality, boundary) of ``energy()``."""
        if self.remote:
            return self.server_energy_source, self.server_energy_quality or UNAVAILABLE, self.server_energy_boundary
        return self.energy_source, self.energy_quality, self.energy_boundary

    def power(self, view: str = "gross") -> float | None:
        """Mean power over the window in ``view`` (of ``energy()``): gross, or net of the idle baseline."""
        e = self.energy(view)
        if e is None or not self.latency_s or self.latency_s <= 0:
            return None
        return e / self.latency_s

    # ---- journal line ----

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"type": "query"}
        for f in fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "QueryRecord":
        names = _FIELD_NAMES
        keys = d.keys()
        others = keys - names
        if others and not others <= _TYPE_ONLY:
            kw = {k: d[k] for k in keys if k in names}
        else:  # every key a field's (but "type"): one copy in C
            kw = dict(d)
            kw.pop("type", None)
        # a value of the wrong type (a hand-edited or foreign journal) is not trusted. Which fields are of the
        # wrong type depends only on the keys and their value types, the same for nearly every line of a
        # journal: found once per shape, then looked up
        shape = (tuple(kw), tuple(map(type, kw.values())))
        known = _BAD_BY_SHAPE.get(shape)
        if known is None:
            types = _FIELD_TYPES
            known = ([k for k, v in kw.items() if v is not None and type(v) not in types[k]],
                     [k for k, t in zip(*shape) if t is float])
            if len(_BAD_BY_SHAPE) < 4096:
                _BAD_BY_SHAPE[shape] = known
        bad, floats = known
        # nor is a number that is not finite (NaN, Infinity): their sum is not finite either (checked in C)
        if floats and not math.isfinite(sum(map(kw.__getitem__, floats))):
            bad = bad + [k for k in floats if not math.isfinite(kw[k])]
        for k in bad:
            del kw[k]
        kw.setdefault("query_id", str(d.get("query_id", "")))
        kw.setdefault("index", d.get("index") if isinstance(d.get("index"), int) else -1)
        extra = {k: d[k] for k in others if k != "type"} if len(others) > ("type" in others) else {}
        if "wall_done" not in d:  # journals before the window ran to the engine's return
            kw["wall_done"] = d.get("wall_last")
        for k in ("energy_flags", "server_energy_flags"):
            if kw.get(k) is None:
                kw[k] = []
        for k in ("energy_by_domain", "server_report"):
            if not isinstance(kw.get(k), dict):
                kw[k] = {}
        if kw.get("energy_quality") is None:
            kw["energy_quality"] = UNAVAILABLE
        if bad:
            extra["invalid_fields"] = sorted(bad)
        if cls is not QueryRecord:
            return cls(**kw, extra=extra)
        # what __init__ would do, without its 77 keyword arguments (a third of a 10,000-line journal's
        # reading time): the plain defaults, then the line's values; every field with a default factory
        # (the flags, the two dicts, extra) is set above with an object of its own
        rec = object.__new__(cls)
        state = rec.__dict__
        state.update(_PLAIN_DEFAULTS)
        state.update(kw)
        state["extra"] = extra
        return rec


_FIELD_NAMES = frozenset(f.name for f in fields(QueryRecord) if f.name != "extra")
_TYPE_ONLY = frozenset({"type"})
_PLAIN_DEFAULTS = {f.name: f.default for f in fields(QueryRecord) if f.default is not MISSING}
_BAD_BY_SHAPE: dict[tuple, tuple[list[str], list[str]]] = {}  # shape -> (wrong type, float fields)


def _types_for(annotation: str) -> frozenset:
    """The JSON value types a field's annotation accepts (None is handled apart; True is not a number)."""
    a = str(annotation)
    for prefix, types in (("list", (list,)), ("dict", (dict,)), ("bool", (bool,)), ("float", (int, float)),
                          ("int", (int,)), ("str", (str,))):
        if a.startswith(prefix):
            return frozenset(types)
    return frozenset((str, int, float, bool, list, dict))


_FIELD_TYPES = {f.name: _types_for(str(f.type)) for f in fields(QueryRecord)}
SERVER_FIELDS = ("server_energy_j", "server_energy_low_j", "server_energy_high_j", "server_energy_source",
                 "server_energy_quality", "server_energy_boundary", "server_energy_flags", "server_energy_note")


JUDGE_FIELDS = tuple(f.name for f in fields(QueryRecord) if f.name.startswith("judge_"))
# what a "rescore" line carries and replaces: the verdict and the judge's figures
RESCORE_FIELDS = ("correct", "prediction", "scorer", "score_note") + JUDGE_FIELDS


def apply_server_energy(rec: QueryRecord, se: Any) -> None:
    """Put a ServerEnergy (core.remote) on a record."""
    rec.server_energy_j = se.joules
    rec.server_energy_low_j = se.low_j
    rec.server_energy_high_j = se.high_j
    rec.server_energy_source = se.source
    rec.server_energy_quality = se.quality
    rec.server_energy_boundary = se.boundary
    rec.server_energy_flags = list(se.flags)
    rec.server_energy_note = se.note or None


def server_fields(rec: QueryRecord) -> dict:
    """A record's server-energy fields, as a "settle" journal line carries them."""
    return {k: getattr(rec, k) for k in SERVER_FIELDS}


def final_attempts(records: list[QueryRecord]) -> list[QueryRecord]:
    """Each query's last attempt (a query tried again after a failure has one record per attempt)."""
    last: dict[str, QueryRecord] = {}
    for r in records:
        last[r.query_id] = r  # journal order: a later attempt or segment comes later
    return list(last.values())


@contextmanager
def gc_paused():
    """The cyclic garbage collector held off while a journal's lines become objects: tens of thousands of
    new dicts and records (none in a reference cycle) would otherwise set off collections that walk every
    object again and again, a third of the time a 10,000-line journal takes to read. Restored after,
    as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if not gc.get_freeze_count():  # (a run's frozen heap is left as it is)
                # the new objects handed to the oldest generation with the young count reset, so that
                # enabling does not start a collection that walks them all at once; a full collection
                # still reaches them in its time
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def records_of(journal: list[dict], include_warmup: bool = True) -> list[QueryRecord]:
    """The query records of a journal, typed, in order. A "settle" line (a remote query's server energy,
    known only after its window) updates the record it names; so does a "rescore" line (a new verdict,
    given after the run by ``ipwtui rescore``: the later line wins)."""
    with gc_paused():
        return _records_of(journal, include_warmup)


def _records_of(journal: list[dict], include_warmup: bool) -> list[QueryRecord]:
    out: list[QueryRecord] = []
    by_key: dict[tuple, QueryRecord] = {}
    for d in journal:
        kind = d.get("type")
        if kind == "query":
            r = QueryRecord.from_dict(d)
            by_key[(r.query_id, r.attempt, r.segment)] = r
            out.append(r)
        elif kind == "rescore":
            named = by_key.get((d.get("query_id"), d.get("attempt", 1), d.get("segment", 0)))
            if named is not None:
                for k in RESCORE_FIELDS:
                    if k in d:
                        setattr(named, k, d[k])
        elif kind == "settle":
            hit = by_key.get((d.get("query_id"), d.get("attempt", 1), d.get("segment", 0)))
            if hit is not None:
                for k in SERVER_FIELDS:
                    if k in d:
                        setattr(hit, k, d[k] if k != "server_energy_flags" else list(d[k] or []))
    return out if include_warmup else [r for r in out if not r.warmup]
