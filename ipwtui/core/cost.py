"""What a query costs, in US dollars: the API price of its tokens, and the electricity of this machine.

Two costs, never mixed without a label:
- **API cost** (``query_cost``): prompt and output tokens times the model's published price per million
  tokens (``ipwtui/data/prices.json``, overridable from the config file's ``prices`` section). A local model
  has no API charge (0, and it says "local"); an unknown model or a query without token counts is N/A (None,
  with the reason), never 0.
- **Electricity cost** (``energy_cost``): energy in joules times the electricity price the user sets
  (USD per kWh): cost = J / 3.6e6 x price. It is the local machine's cost, labelled as such by the caller.

The session helpers (``cost_per_query``, ``cost_per_correct``, ``accuracy_per_dollar``) are pure functions
over per-query lists, with the same conventions as the energy metrics: a query whose cost is N/A is left out
(the caller counts and shows how many), an unscored query is in no accuracy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .datafile import read_table

J_PER_KWH = 3.6e6
TOKENS_PER_PRICE_UNIT = 1e6  # prices are per million tokens
LOCAL_SOURCE = "local model: no API charge (its electricity is counted separately)"
OVERRIDE_KEYS = ("input_per_mtok", "output_per_mtok")


class PriceError(ValueError):
    """A bad price (data file, config override or argument). ``str()`` is one line saying where and why."""


@dataclass(frozen=True)
class Price:
    """A model's price per million tokens, with where it came from."""

    model: str
    input_per_mtok: float
    output_per_mtok: float
    source: str  # the pricing page URL, or "config" for a user override
    read: str = ""  # the date the price was read
    provider: str = ""
    aliases: tuple[str, ...] = ()
    long_above: int | None = None  # prompts longer than this many tokens are billed at the long-context rates
    long_input_per_mtok: float | None = None
    long_output_per_mtok: float | None = None
    note: str = ""

    def rates(self, prompt_tokens: int) -> tuple[float, float, bool]:
        """(input, output, long-context?) rates for a prompt of this length."""
        if self.long_above is not None and prompt_tokens > self.long_above:
            assert self.long_input_per_mtok is not None and self.long_output_per_mtok is not None
            return self.long_input_per_mtok, self.long_output_per_mtok, True
        return self.input_per_mtok, self.output_per_mtok, False

    def label(self) -> str:
        when = f", read {self.read}" if self.read else ""
        rates = f"${self.input_per_mtok:g} in / ${self.output_per_mtok:g} out per Mtok"
        return f"{self.model} at {rates} ({self.source}{when})"


_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


def bare_name(model: str) -> str:
    """Lower case, without a provider prefix ("openai/gpt-4o" -> "gpt-4o", "models/gemini-2.0-flash" ->
    "gemini-2.0-flash")."""
    return model.strip().lower().rsplit("/", 1)[-1]


def normalise_model(model: str) -> str:
    """``bare_name`` without a trailing date ("gpt-4o-2024-08-06" -> "gpt-4o",
    "claude-3-5-haiku-20241022" -> "claude-3-5-haiku")."""
    return _DATE_SUFFIX.sub("", bare_name(model))


class PriceTable:
    """Prices by model name, looked up exactly, then case-insensitively, then without the provider prefix,
    then without a date suffix. Earlier prices win over later ones at each step (overrides come first)."""

    def __init__(self, prices: Iterable[Price], version: str = "", updated: str = "",
                 overridden: Iterable[str] = ()) -> None:
        self.prices = list(prices)
        self.version = version
        self.updated = updated
        self.overridden = frozenset(overridden)
        self._exact: dict[str, Price] = {}
        self._lower: dict[str, Price] = {}
        self._bare: dict[str, Price] = {}
        self._norm: dict[str, Price] = {}
        for p in self.prices:
            for name in (p.model, *p.aliases):
                self._exact.setdefault(name, p)
                self._lower.setdefault(name.lower(), p)
                self._bare.setdefault(bare_name(name), p)
        # a dated name (its own price, e.g. the first GPT-4o snapshot) must not stand for the undated model
        for p in self.prices:
            for name in (p.model, *p.aliases):
                if normalise_model(name) == bare_name(name):
                    self._norm.setdefault(bare_name(name), p)

    def lookup(self, model: str) -> tuple[Price | None, str]:
        """(price or None, how it matched: "exact", "case-insensitive", "without provider prefix",
        "normalised")."""
        for table, key, how in ((self._exact, model, "exact"), (self._lower, model.lower(), "case-insensitive"),
                                (self._bare, bare_name(model), "without provider prefix"),
                                (self._norm, normalise_model(model), "normalised")):
            if key in table:
                return table[key], how
        return None, ""

    def describe(self) -> dict:
        """What a session records: the table version and which prices the user overrode."""
        return {"version": self.version, "updated": self.updated, "overridden": sorted(self.overridden)}


# ---------------------------------------------------------------- reading prices


def _number(x: Any, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
        raise PriceError(f"{where}: must be a finite number >= 0 (USD per million tokens), got {x!r}")
    return float(x)


def _parse_price(raw: Any, where: str) -> Price:
    if not isinstance(raw, dict):
        raise PriceError(f"{where}: a price must be an object")
    for key in ("model", "input_per_mtok", "output_per_mtok", "source", "read"):
        if key not in raw:
            raise PriceError(f"{where}: missing '{key}'")
    model = raw["model"]
    if not isinstance(model, str) or not model.strip():
        raise PriceError(f"{where}: model must be a name")
    long_ = raw.get("long_context")
    long_above = long_in = long_out = None
    if long_ is not None:
        if not isinstance(long_, dict) or not isinstance(long_.get("above_prompt_tokens"), int) \
                or long_["above_prompt_tokens"] <= 0:
            raise PriceError(f"{where}: long_context needs above_prompt_tokens (a positive integer)")
        long_above = long_["above_prompt_tokens"]
        long_in = _number(long_.get("input_per_mtok"), f"{where}: long_context.input_per_mtok")
        long_out = _number(long_.get("output_per_mtok"), f"{where}: long_context.output_per_mtok")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise PriceError(f"{where}: aliases must be a list of names")
    return Price(model=model, input_per_mtok=_number(raw["input_per_mtok"], f"{where}: input_per_mtok"),
                 output_per_mtok=_number(raw["output_per_mtok"], f"{where}: output_per_mtok"),
                 source=str(raw["source"]), read=str(raw["read"]), provider=str(raw.get("provider", "")),
                 aliases=tuple(aliases), long_above=long_above, long_input_per_mtok=long_in,
                 long_output_per_mtok=long_out, note=str(raw.get("note", "")))


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The packaged price table (``prices.json``), or the file at ``path``; every entry checked."""
    data, name = read_table("prices.json", path, "prices", PriceError)
    if data.get("currency") != "USD":
        raise PriceError(f"{name}: currency must be USD")
    prices = []
    seen: set[str] = set()
    for i, raw in enumerate(data["prices"], 1):
        label = raw.get("model") if isinstance(raw, dict) else None
        p = _parse_price(raw, f"{name}: price {i}" + (f" ({label})" if label else ""))
        for n in (p.model, *p.aliases):
            if n in seen:
                raise PriceError(f"{name}: price {i}: '{n}' is named twice")
            seen.add(n)
        prices.append(p)
    return PriceTable(prices, version=str(data.get("version", "")), updated=str(data.get("updated", "")))


def parse_overrides(section: Any, where: str = "config") -> list[Price]:
    """The config file's ``prices`` section, ``{"model": {"input_per_mtok": x, "output_per_mtok": y}}``,
    checked: both keys, finite numbers >= 0, nothing else. A bad value raises PriceError naming
    ``where`` (the file), the model and the key."""
    if section is None:
        return []
    if not isinstance(section, dict):
        raise PriceError(f"{where}: prices must be an object of model name -> {{input_per_mtok, output_per_mtok}}")
    out = []
    for model, entry in section.items():
        here = f"{where}: prices.{model}"
        if not isinstance(model, str) or not model.strip():
            raise PriceError(f"{where}: prices: a model name must not be empty")
        if not isinstance(entry, dict):
            raise PriceError(f"{here}: must be an object with input_per_mtok and output_per_mtok")
        unknown = sorted(set(entry) - set(OVERRIDE_KEYS))
        if unknown:
            raise PriceError(f"{here}: unknown key '{unknown[0]}' (expected {' and '.join(OVERRIDE_KEYS)})")
        for key in OVERRIDE_KEYS:
            if key not in entry:
                raise PriceError(f"{here}: missing {key}")
        out.append(Price(model=model, input_per_mtok=_number(entry["input_per_mtok"], f"{here}.input_per_mtok"),
                         output_per_mtok=_number(entry["output_per_mtok"], f"{here}.output_per_mtok"),
                         source=f"override in {where}"))
    return out


def price_table(overrides: Any = None, where: str = "config", path: str | Path | None = None) -> PriceTable:
    """The packaged prices with the user's overrides (the config file's ``prices`` section) before them."""
    base = load_prices(path)
    extra = parse_overrides(overrides, where)
    # an override of a listed model also stands for that model's other names (its dated snapshots...)
    for k, p in enumerate(extra):
        listed, how = base.lookup(p.model)
        if listed is not None and how in ("exact", "case-insensitive"):
            names = tuple(n for n in (listed.model, *listed.aliases) if n != p.model)
            extra[k] = replace(p, aliases=names)
    return PriceTable([*extra, *base.prices], version=base.version, updated=base.updated,
                      overridden=[p.model for p in extra])


# ---------------------------------------------------------------- per query


def query_cost(model: str | None, prompt_tokens: int | None, output_tokens: int | None, prices: PriceTable,
               *, local: bool = False) -> tuple[float | None, str]:
    """(USD or None, where it came from or why it is N/A).

    ``local``: the model ran on this machine, so there is no API charge: (0.0, "local model..."). Otherwise
    the model's price (see ``PriceTable.lookup``) times the tokens; a prompt longer than the price's
    long-context threshold is billed at that rate. An unknown model or a missing token count is N/A."""
    if local:
        return 0.0, LOCAL_SOURCE
    if not model:
        return None, "N/A: no model name"
    if prompt_tokens is None or output_tokens is None:
        which = "prompt" if prompt_tokens is None else "output"
        return None, f"N/A: no {which} token count for {model}"
    if prompt_tokens < 0 or output_tokens < 0:
        return None, f"N/A: negative token count for {model}"
    price, how = prices.lookup(model)
    if price is None:
        return None, f"N/A: no price for '{model}' (add it to the config file's prices section)"
    rate_in, rate_out, long_ = price.rates(prompt_tokens)
    usd = (prompt_tokens * rate_in + output_tokens * rate_out) / TOKENS_PER_PRICE_UNIT
    src = price.label()
    if how != "exact":
        src += f", matched {how}"
    if long_:
        src += f", long-context rates ${rate_in:g} / ${rate_out:g} above {price.long_above} prompt tokens"
    return usd, src


def energy_cost(joules: float | None, usd_per_kwh: float | None) -> float | None:
    """Electricity cost in USD of ``joules`` at ``usd_per_kwh``: J / 3.6e6 x price. None when either is
    unknown. Takes gross energy: a negative or non-finite value, or a bad price, raises PriceError."""
    if joules is None or usd_per_kwh is None:
        return None
    if isinstance(usd_per_kwh, bool) or not isinstance(usd_per_kwh, (int, float)) or not math.isfinite(usd_per_kwh) \
            or usd_per_kwh < 0:
        raise PriceError(f"electricity price must be a finite number >= 0 (USD per kWh), got {usd_per_kwh!r}")
    if isinstance(joules, bool) or not isinstance(joules, (int, float)) or not math.isfinite(joules) or joules < 0:
        raise PriceError(f"energy for an electricity cost must be a finite number of joules >= 0, got {joules!r}")
    return joules / J_PER_KWH * usd_per_kwh


# ---------------------------------------------------------------- per session


def _known(costs: Sequence[float | None]) -> list[int]:
    return [i for i, c in enumerate(costs) if c is not None]


def cost_per_query(costs: Sequence[float | None]) -> float | None:
    """Mean cost over the queries whose cost is known; None when none is."""
    idx = _known(costs)
    return sum(costs[i] for i in idx) / len(idx) if idx else None  # type: ignore[misc]


def cost_per_correct(costs: Sequence[float | None], correct: Sequence[bool | None]) -> float | None:
    """Total cost of the queries with a known cost over the correct answers among them (as J per correct
    answer); None when none of them is correct."""
    if len(costs) != len(correct):
        raise ValueError(f"costs and verdicts differ in length ({len(costs)} and {len(correct)})")
    idx = _known(costs)
    n_correct = sum(1 for i in idx if correct[i] is True)
    return sum(costs[i] for i in idx) / n_correct if n_correct else None  # type: ignore[misc]


def accuracy_per_dollar(costs: Sequence[float | None], correct: Sequence[bool | None]) -> float | None:
    """Accuracy over mean cost per query (as IPJ is accuracy over mean energy), both over the queries with a
    known cost; accuracy over the scored ones among them. None when nothing is scored or the mean cost is 0
    (free: accuracy per dollar is not a number)."""
    if len(costs) != len(correct):
        raise ValueError(f"costs and verdicts differ in length ({len(costs)} and {len(correct)})")
    idx = _known(costs)
    scored = [i for i in idx if correct[i] is not None]
    mean = cost_per_query([costs[i] for i in idx])
    if not scored or mean is None or mean <= 0:
        return None
    accuracy = sum(1 for i in scored if correct[i]) / len(scored)
    return accuracy / mean
