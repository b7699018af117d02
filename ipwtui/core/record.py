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
import types
import typing
from contextlib import contextmanager
from typing import Annotated, Any

import msgspec

from .sensors.base import UNAVAILABLE

REMOTE = "remote"

# status of an attempt
OK = "ok"
SKIPPED = "skipped"
ERROR = "error"
STATUSES = (OK, SKIPPED, ERROR)

# a whole number a field holds: one that fits 64 bits (a longer one, from a hand edit, is no count or size)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]


class QueryRecord(msgspec.Struct, tag_field="type", tag="query", forbid_unknown_fields=True, gc=False):
    """One attempt at one query. A msgspec Struct: its fields in slots (632 bytes a record, against 1.6 KB
    and more for a dataclass's dict of 86 entries, in sessions of tens of thousands of records), and a
    journal line in this version's exact shape is read straight into one (``from_line``); any other line is
    read leniently (``from_dict``). (``gc=False``: a record holds no reference back to itself, so it is left
    out of the cycle collector's walks.)"""

    # ---- identity ----
    query_id: str
    index: Int64  # position in the session's query list (0-based); -1 for a warm-up query
    warmup: bool = False
    attempt: Int64 = 1  # 1 for the first try; a retry after a failed attempt is 2, 3, ...
    segment: Int64 = 0  # which process's run (a resumed session has several)
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
    judge_calls: Int64 | None = None
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
    judge_prompt_tokens: Int64 | None = None
    judge_output_tokens: Int64 | None = None
    # ---- text ----
    prompt: str = ""
    reference: str | None = None
    answer: str | None = None
    # ---- tokens and rates (from the engine's own counters where it has them) ----
    prompt_tokens: Int64 | None = None
    output_tokens: Int64 | None = None
    counts_source: str | None = None
    prefill_tps: float | None = None
    decode_tps: float | None = None
    finish_reason: str | None = None
    peak_memory_bytes: Int64 | None = None
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
    # (int | float: a counter's whole joules stay whole, as the lenient reading keeps them)
    energy_by_domain: dict[str, float | Int64 | None] = msgspec.field(default_factory=dict)
    energy_source: str | None = None
    energy_quality: str = UNAVAILABLE
    energy_boundary: str | None = None
    energy_flags: list[str] = msgspec.field(default_factory=list)
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
    server_energy_flags: list[str] = msgspec.field(default_factory=list)
    server_energy_note: str | None = None
    server_report: dict = msgspec.field(default_factory=dict)  # what the server said of itself (timings, usage)
    # ---- cost ----
    cost_usd: float | None = None
    cost_source: str | None = None
    # ---- reference answers recorded elsewhere (e.g. GPT-4o's MMLU-Pro prediction) ----
    cloud_pred: str | None = None
    # ---- keys this version does not know (a newer journal), kept as they were ----
    # (never a key of a line: to_dict writes its items, and a line's own "extra" key is one this version does
    # not know, so the straight reading leaves the line to from_dict, which keeps it here as it keeps any)
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name="(extra: not a key of a line)")

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
        if self.where == REMOTE:  # (self.remote and self.client_energy, written out: called per record a lot)
            return self.server_energy_j if view == "gross" else None
        return self.energy_net_j if view == "net" else self.energy_j

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
        """The journal line. A field that holds nothing (None where its default is None; an empty list
        or dict) is left out, and ``from_dict`` gives it back as it was: a line of a typical query is
        half as long, and a long journal half as slow to read. ``wall_done`` is always written (a line
        without it is read as one from before it existed)."""
        d: dict[str, Any] = {"type": "query"}
        for name, v in zip(_ALL_FIELDS, msgspec.structs.astuple(self)):
            if name == "extra":
                continue
            if v is None:
                if name in _NONE_DEFAULT and name != "wall_done":
                    continue
            elif type(v) is tuple:
                v = list(v)
            elif not v and name in _EMPTY_DEFAULT and type(v) in (list, dict):
                continue
            d[name] = v
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "QueryRecord":
        # What to do with a line depends only on its keys and their value types, the same for nearly every
        # line of a journal: planned once per shape (_Plan), then followed
        shape = (tuple(d), tuple(map(type, d.values())))
        plan = _PLANS.get(shape)
        if plan is None:
            plan = _Plan(*shape)
            if len(_PLANS) < 4096:
                _PLANS[shape] = plan
        kw = dict(d)
        for k in plan.drop:  # "type", keys this version does not know, values of the wrong type
            del kw[k]
        bad = plan.bad
        # nor is a number that is not finite (NaN, Infinity): a value, not a shape, so looked for in every line,
        # at once (the sum of the line's floats is finite only when each one is; summed in C)
        floats = plan.floats
        if floats and not math.isfinite(sum(map(kw.__getitem__, floats))):
            nonfinite = [k for k in floats if not math.isfinite(kw[k])]
            for k in nonfinite:
                del kw[k]
            bad = bad + nonfinite
        for k in plan.ints:  # a whole number too long for 64 bits is no count or size (a value: checked in every line)
            v = kw[k]
            if v < INT64_MIN or v > INT64_MAX:
                del kw[k]
                bad = bad + [k]
                if k == "index":  # (required: as for an index that is not a whole number)
                    kw[k] = -1
        for k in plan.to_float:  # a whole number in a float field, as the typed reading gives it
            try:
                kw[k] = float(kw[k])
            except OverflowError:  # (309 digits or more): no finite float, so not a number the figures use
                del kw[k]
                bad = bad + [k]
        for k, make in plan.fill:  # a field that is absent or null and must hold something
            kw[k] = make(d)
        if plan.wall_done:  # journals before the window ran to the engine's return
            kw["wall_done"] = kw.get("wall_last")
        extra = {k: d[k] for k in plan.others} if plan.others else {}
        if bad:
            extra["invalid_fields"] = sorted(bad)
        return cls(**kw, extra=extra)

    @classmethod
    def from_line(cls, line: bytes) -> "QueryRecord | None":
        """A journal line in this version's exact shape (every key a field, every value of its field's type,
        every number finite, query_id and index present, wall_done present), read straight into a record;
        None for any other line, which ``from_dict`` reads leniently. The two give the same record."""
        if _EXTRA_KEY in line:  # (a line that names the extra field: read leniently, which keeps it in extra)
            return None
        try:
            rec = _decode_query(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):  # (NaN, overflows, deep nesting)
            return None
        if rec.wall_done is None and rec.wall_last is not None:  # maybe a line from before wall_done existed
            return None
        return rec


class _Plan:
    """How to read a journal line of one shape (its keys, and the types of their values) into a record."""

    __slots__ = ("drop", "bad", "floats", "ints", "to_float", "fill", "wall_done", "others")

    def __init__(self, keys: tuple, types: tuple) -> None:
        present = dict(zip(keys, types))
        self.others = tuple(k for k in keys if k not in _FIELD_NAMES and k != "type")  # kept in extra
        # a value of the wrong type (a hand-edited or foreign journal) is not trusted: left out, and named
        self.bad = [k for k, t in present.items() if k in _FIELD_NAMES and t is not type(None)
                    and t not in _FIELD_TYPES[k]]
        self.drop = tuple(k for k in keys if k not in _FIELD_NAMES) + tuple(self.bad)
        kept = {k: t for k, t in present.items() if k in _FIELD_NAMES and k not in self.bad}
        self.floats = tuple(k for k, t in kept.items() if t is float)
        self.to_float = tuple(k for k, t in kept.items() if t is int and float in _FIELD_TYPES[k])
        self.ints = tuple(k for k, t in kept.items() if t is int and _FIELD_TYPES[k] == {int})
        # fields absent (or dropped) that must hold something: (name, what makes it from the line)
        fill: list[tuple[str, Any]] = []
        if "query_id" not in kept:
            fill.append(("query_id", lambda d: str(d.get("query_id", ""))))
        if "index" not in kept:
            fill.append(("index", lambda d: d.get("index") if isinstance(d.get("index"), int) else -1))
        for k in ("energy_flags", "server_energy_flags"):
            if kept.get(k, type(None)) is type(None):
                fill.append((k, lambda d: []))
        for k in ("energy_by_domain", "server_report"):
            if kept.get(k, type(None)) is type(None):
                fill.append((k, lambda d: {}))
        if kept.get("energy_quality", type(None)) is type(None):
            fill.append(("energy_quality", lambda d: UNAVAILABLE))
        self.fill = tuple(fill)
        self.wall_done = "wall_done" not in keys


_FIELDS = msgspec.structs.fields(QueryRecord)
_ALL_FIELDS = tuple(f.name for f in _FIELDS)
_FIELD_NAMES = frozenset(f.name for f in _FIELDS if f.name != "extra")
_NONE_DEFAULT = frozenset(f.name for f in _FIELDS if f.default is None)
# the fields whose default is a new empty list or dict (from_dict gives a line without them a new one)
_EMPTY_DEFAULT = frozenset(f.name for f in _FIELDS if f.default_factory in (list, dict) and f.name != "extra")
_PLANS: dict[tuple, _Plan] = {}  # a journal line's shape -> how to read it
_decode_query = msgspec.json.Decoder(QueryRecord).decode
_EXTRA_KEY = f'"{QueryRecord.__struct_encode_fields__[_ALL_FIELDS.index("extra")]}"'.encode()


def _types_for(annotation) -> frozenset:
    """The JSON value types a field's type accepts (None is handled apart; True is not a number)."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) \
        else (annotation,)
    out: set = set()
    for m in members:
        if typing.get_origin(m) is Annotated:
            m = typing.get_args(m)[0]
        base = typing.get_origin(m) or m
        if base is type(None):
            continue
        if base is float:
            out |= {int, float}
        elif base in (bool, int, str, list, dict):
            out.add(base)
        else:
            return frozenset((str, int, float, bool, list, dict))
    return frozenset(out)


_FIELD_TYPES = {f.name: _types_for(f.type) for f in _FIELDS}
SERVER_FIELDS = ("server_energy_j", "server_energy_low_j", "server_energy_high_j", "server_energy_source",
                 "server_energy_quality", "server_energy_boundary", "server_energy_flags", "server_energy_note")


JUDGE_FIELDS = tuple(f.name for f in _FIELDS if f.name.startswith("judge_"))
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


def records_of(journal: list, include_warmup: bool = True) -> list[QueryRecord]:
    """The query records of a journal (its dicts, or ``Session.read_entries()``), typed, in order. A
    "settle" line (a remote query's server energy, known only after its window) updates the record it
    names; so does a "rescore" line (a new verdict, given after the run by ``ipwtui rescore``: the later
    line wins)."""
    with gc_paused():
        return _records_of(journal, include_warmup)


def _records_of(journal: list, include_warmup: bool) -> list[QueryRecord]:
    out: list[QueryRecord] = []
    by_key: dict[tuple, QueryRecord] = {}
    for d in journal:
        if type(d) is QueryRecord:  # a line read straight into a record (Session.read_entries)
            by_key[(d.query_id, d.attempt, d.segment)] = d
            out.append(d)
            continue
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
