"""Server energy of a remote query from an estimate, never a measurement: a cited published figure
(``cited:<id>``, from ``ipwtui/data/cloud_energy.json``) or EcoLogits' per-request model (``ecologits``).

An estimate is known as soon as the query ends, so ``window_energy`` never returns None here and
``settle`` gives the same figures again. Every figure is labelled quality ``estimated`` with its source,
boundary and range; what cannot be estimated is N/A (``joules`` None) with the reason, never 0.

How a cited figure is applied:
- per output token (``J/output-token``): scaled by the query's output tokens, range too;
- per query (``Wh/query``): a constant for the source's typical prompt, NOT scaled by this query's tokens.

How the EcoLogits provider is chosen (``resolve_provider``): an explicit provider wins; otherwise the base
URL's host (see ``PROVIDER_HOSTS``). Hosts that EcoLogits does not model (Groq, Together, a local or
self-hosted server...) give N/A with the reason: an explicit provider opts in knowingly.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import logging
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import (
    SERVER,
    SERVER_ACCELERATOR,
    SERVER_DATACENTRE,
    UNSTATED,
    RemoteWindow,
    ServerEnergy,
    ServerEnergySource,
)
from ..datafile import read_table

ESTIMATED = "estimated"
UNAVAILABLE = "unavailable"
BOUNDARIES = (SERVER_ACCELERATOR, SERVER, SERVER_DATACENTRE, UNSTATED)
UNITS = {"Wh/query": False, "J/output-token": True}  # unit -> per_token
J_PER_WH = 3600.0
J_PER_KWH = 3.6e6
CLOUD_INSTALL_HINT = "pip install 'ipwtui[cloud]'"


class EstimateError(ValueError):
    """A bad estimate setting or data file. ``str()`` is one line saying what and where."""


# ---------------------------------------------------------------- the cited table


@dataclass(frozen=True)
class CitedEntry:
    """One published figure, as ``cloud_energy.json`` holds it."""

    id: str
    what: str
    value: float
    unit: str  # "Wh/query" or "J/output-token"
    per_token: bool
    boundary: str
    source: dict
    method: str
    statistic: str = ""  # median, mean, point estimate, fit
    low: float | None = None  # the range, in the entry's unit
    high: float | None = None
    range_what: str = ""  # what the range is (IQR, shape spread, boundary spread...)
    boundary_detail: str = ""
    published: str = ""  # the figures as the source gives them
    derived: str = ""  # how the value was derived from them, when it was
    models: tuple[str, ...] = ()  # served-model names the figure describes (globs); empty: a class of models

    def applies_to(self, model: str | None) -> bool | None:
        """Whether the figure describes the served ``model`` (case-insensitive globs, tried on the whole
        name and on the part after a vendor prefix such as ``openai/``); None when the entry names no
        models (a figure for a class of models, or a mix)."""
        if not self.models:
            return None
        name = (model or "").strip().lower()
        names = {name, name.rsplit("/", 1)[-1]}
        return any(fnmatch.fnmatchcase(n, g.lower()) for n in names for g in self.models)

    @property
    def citation(self) -> str:
        """Short citation: organisation (or first author) and year, with the arXiv id or URL."""
        s = self.source
        authors = str(s.get("authors", "")).split(" (")[0].strip()
        many = authors.endswith(" et al.") or "," in authors
        first = authors.removesuffix(" et al.").split(",")[0].strip()
        who = (first.split()[-1] + (" et al." if many else "")) if first else ""
        org = s.get("organisation", "")
        if org and who:
            who = f"{who} ({org})"
        where = f"arXiv {s['arxiv']}" if s.get("arxiv") else s.get("url", "")
        return f"{who or org} {s.get('year', '')}, {where}"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CitedTable:
    version: str
    updated: str
    entries: dict[str, CitedEntry]
    path: str = ""

    def get(self, entry_id: str) -> CitedEntry:
        try:
            return self.entries[entry_id]
        except KeyError:
            raise EstimateError(f"unknown cited estimate '{entry_id}' (table {self.version}); known ids: "
                                + ", ".join(sorted(self.entries))) from None


def _finite_positive(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _parse_entry(raw: Any, where: str) -> CitedEntry:
    if not isinstance(raw, dict):
        raise EstimateError(f"{where}: an entry must be an object")
    for key in ("id", "what", "value", "unit", "per_token", "boundary", "source", "method"):
        if key not in raw:
            raise EstimateError(f"{where}: missing '{key}'")
    eid, unit, value = raw["id"], raw["unit"], raw["value"]
    if not isinstance(eid, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", eid):
        raise EstimateError(f"{where}: id must be letters, digits, '.', '_' or '-', got {eid!r}")
    if unit not in UNITS:
        raise EstimateError(f"{where}: unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if raw["per_token"] is not UNITS[unit]:
        raise EstimateError(f"{where}: per_token must be {str(UNITS[unit]).lower()} for unit {unit}")
    if not _finite_positive(value):
        raise EstimateError(f"{where}: value must be a finite number > 0, got {value!r}")
    if raw["boundary"] not in BOUNDARIES:
        raise EstimateError(f"{where}: boundary must be one of {', '.join(BOUNDARIES)}, got {raw['boundary']!r}")
    src = raw["source"]
    if not isinstance(src, dict) or not src.get("title") or not (src.get("url") or src.get("arxiv")) \
            or not (src.get("authors") or src.get("organisation")) or not isinstance(src.get("year"), int):
        raise EstimateError(f"{where}: source needs a title, authors or organisation, a year, and a url or arxiv id")
    low = high = None
    what = ""
    rng = raw.get("range")
    if rng is not None:
        if not isinstance(rng, dict) or not _finite_positive(rng.get("low")) or not _finite_positive(rng.get("high")):
            raise EstimateError(f"{where}: range needs finite low and high > 0")
        low, high, what = float(rng["low"]), float(rng["high"]), str(rng.get("what", ""))
        if not low <= value <= high:
            raise EstimateError(f"{where}: range must hold the value: {low} <= {value} <= {high} is false")
        if not what:
            raise EstimateError(f"{where}: range needs 'what' (IQR, shape spread...)")
    models = raw.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) and m.strip() for m in models):
        raise EstimateError(f"{where}: models must be a list of model names (globs such as 'gpt-4o-2*')")
    return CitedEntry(id=eid, what=str(raw["what"]), value=float(value), unit=unit, per_token=UNITS[unit],
                      boundary=raw["boundary"], source=dict(src), method=str(raw["method"]),
                      statistic=str(raw.get("statistic", "")), low=low, high=high, range_what=what,
                      boundary_detail=str(raw.get("boundary_detail", "")), published=str(raw.get("published", "")),
                      derived=str(raw.get("derived", "")), models=tuple(models))


def load_cited_table(path: str | Path | None = None) -> CitedTable:
    """The table of cited figures (the packaged ``cloud_energy.json`` by default), every entry checked.
    A bad file raises EstimateError naming the file, the entry and the rule."""
    data, name = read_table("cloud_energy.json", path, "entries", EstimateError)
    for key in ("version", "updated"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise EstimateError(f"{name}: missing '{key}'")
    entries: dict[str, CitedEntry] = {}
    for i, raw in enumerate(data["entries"], 1):
        label = raw.get("id") if isinstance(raw, dict) else None
        entry = _parse_entry(raw, f"{name}: entry {i}" + (f" ({label})" if label else ""))
        if entry.id in entries:
            raise EstimateError(f"{name}: entry {i}: duplicate id '{entry.id}'")
        entries[entry.id] = entry
    return CitedTable(version=data["version"], updated=data["updated"], entries=entries, path=name)


_TABLE: CitedTable | None = None


def cited_table() -> CitedTable:
    """The packaged table, read once."""
    global _TABLE
    if _TABLE is None:
        _TABLE = load_cited_table()
    return _TABLE


def _na(source: str, boundary: str, note: str) -> ServerEnergy:
    return ServerEnergy(joules=None, source=source, quality=UNAVAILABLE, boundary=boundary, note=note)


class CitedEstimate:
    """A published figure applied to each remote query (``cited:<id>``)."""

    def __init__(self, entry_id: str, table: CitedTable | None = None) -> None:
        self.table = table or cited_table()
        self.entry = self.table.get(entry_id)
        self.name = f"cited:{self.entry.id}"

    def describe(self) -> dict:
        e = self.entry
        return {"name": self.name, "quality": ESTIMATED, "boundary": e.boundary,
                "scaling": "per output token" if e.per_token else "per query (constant, not scaled by tokens)",
                "data_version": self.table.version, "data_updated": self.table.updated,
                "citation": e.citation, "entry": e.as_dict()}

    def advice(self, model: str | None) -> list[str]:
        """Warnings before a run on ``model`` (one line each): a figure published for another model."""
        e = self.entry
        if e.applies_to(model) is False:
            return [f"server energy {self.name} is a figure for {e.what}; the served model {model!r} is not "
                    f"one it describes ({', '.join(e.models)}): its energy figures describe another model"]
        return []

    def window_energy(self, window: RemoteWindow) -> ServerEnergy:
        se = self._window_energy(window)
        if se.joules is not None and self.entry.applies_to(window.model) is False:
            se.flags = list(se.flags) + ["other-model"]
            se.note = (f"{se.note}. The served model {window.model!r} is not one this figure describes "
                       f"({', '.join(self.entry.models)})")
        return se

    def _window_energy(self, window: RemoteWindow) -> ServerEnergy:
        e = self.entry
        rng = f", range {e.low:g}-{e.high:g} {e.unit} ({e.range_what})" if e.low is not None else ""
        head = f"cited estimate: {e.what}, {e.value:g} {e.unit}{rng}; {e.citation}; boundary {e.boundary}"
        if not e.per_token:
            j = e.value * J_PER_WH
            low = e.low * J_PER_WH if e.low is not None else None
            high = e.high * J_PER_WH if e.high is not None else None
            stat = e.statistic or "figure"
            note = (f"{head}. A per-query {stat} for the source's typical prompt, the same for every query: "
                    f"not scaled by this query's tokens")
            return ServerEnergy(joules=j, source=self.name, quality=ESTIMATED, boundary=e.boundary, low_j=low,
                                high_j=high, flags=["per-query-constant"], note=note)
        n = window.output_tokens
        if n is None:
            return _na(self.name, e.boundary, f"{head}. N/A: the server reported no output token count, and "
                                              f"this figure is per output token")
        if n <= 0:
            return _na(self.name, e.boundary, f"{head}. N/A: the query produced {n} output tokens; a per-output-"
                                              f"token figure says nothing about a query without output")
        note = (f"{head}. Scaled by this query's {n} output tokens (prompt tokens not counted separately)")
        return ServerEnergy(joules=e.value * n, source=self.name, quality=ESTIMATED, boundary=e.boundary,
                            low_j=e.low * n if e.low is not None else None,
                            high_j=e.high * n if e.high is not None else None, flags=["token-scaled"], note=note)

    def settle(self, windows: list[RemoteWindow], timeout_s: float = 30.0) -> list[ServerEnergy]:
        return [self.window_energy(w) for w in windows]

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- EcoLogits

ECOLOGITS_PROVIDERS = ("anthropic", "cohere", "google_genai", "huggingface_hub", "mistralai", "openai")

# base URL host -> EcoLogits provider
PROVIDER_HOSTS = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "api.mistral.ai": "mistralai",
    "generativelanguage.googleapis.com": "google_genai",
    "api.cohere.com": "cohere",
    "api.cohere.ai": "cohere",
    "router.huggingface.co": "huggingface_hub",
    "api-inference.huggingface.co": "huggingface_hub",
}
PROVIDER_HOST_SUFFIXES = {".openai.azure.com": "openai"}  # Azure OpenAI: deployment names must be model names
# aggregators serving "vendor/model" names: the vendor prefix -> EcoLogits provider (the estimate then
# assumes the vendor's own data centres)
AGGREGATOR_HOSTS = {"openrouter.ai": {"openai": "openai", "anthropic": "anthropic", "google": "google_genai",
                                      "mistralai": "mistralai", "cohere": "cohere"}}
# hosts known to serve on hardware EcoLogits does not model
UNMODELLED_HOSTS = {"api.groq.com": "Groq (LPU hardware)", "api.together.xyz": "Together AI",
                    "api.fireworks.ai": "Fireworks AI", "api.deepseek.com": "DeepSeek", "api.x.ai": "xAI"}
_LOCAL_HOST = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|0\.0\.0\.0|10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|"
                         r"172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|[^.]+|.*\.local)$")


def resolve_provider(base_url: str | None, provider: str | None = None) -> tuple[str | None, str]:
    """(EcoLogits provider or None, how it was found or why not). An explicit provider wins (it must be one
    EcoLogits knows: EstimateError otherwise); then the base URL's host."""
    if provider:
        if provider not in ECOLOGITS_PROVIDERS:
            raise EstimateError(f"EcoLogits provider '{provider}' is not one of {', '.join(ECOLOGITS_PROVIDERS)}")
        return provider, "set explicitly"
    if not base_url:
        return None, "no base URL and no explicit provider: EcoLogits needs to know the provider"
    host = (urlparse(base_url).hostname or "").lower()
    if host in PROVIDER_HOSTS:
        return PROVIDER_HOSTS[host], f"from the base URL host {host}"
    for suffix, prov in PROVIDER_HOST_SUFFIXES.items():
        if host.endswith(suffix):
            return prov, f"from the base URL host {host}"
    if host in AGGREGATOR_HOSTS:
        return None, f"aggregator host {host}: the provider is read from each model's vendor prefix"
    if host in UNMODELLED_HOSTS:
        return None, (f"{UNMODELLED_HOSTS[host]} ({host}) is not an EcoLogits provider: its serving hardware is "
                      f"not modelled; set the provider explicitly only if its model applies")
    if _LOCAL_HOST.match(host):
        return None, (f"{host} is a local or self-hosted server: EcoLogits models cloud providers' fleets; "
                      f"measure the server (prometheus) instead")
    return None, (f"no EcoLogits provider for host {host}; set one explicitly (one of "
                  f"{', '.join(ECOLOGITS_PROVIDERS)})")


def ecologits_version() -> str | None:
    """The installed EcoLogits version, without importing it (None: not installed)."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version("ecologits")
    except PackageNotFoundError:
        return None


_LLM_IMPACTS: Callable[..., Any] | None = None


def _llm_impacts() -> Callable[..., Any]:
    """EcoLogits' ``llm_impacts``, imported on first use (the import takes about a tenth of a second).
    Its logger gets a null handler so that its warnings, which go into each figure's note, are not
    printed over the terminal UI."""
    global _LLM_IMPACTS
    if _LLM_IMPACTS is None:
        try:
            from ecologits.tracers.utils import llm_impacts
        except ImportError as e:
            raise EstimateError(f"ecologits is not importable ({e}): {CLOUD_INSTALL_HINT}") from None
        log = logging.getLogger("ecologits")
        if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
            log.addHandler(logging.NullHandler())
        _LLM_IMPACTS = llm_impacts
    return _LLM_IMPACTS


def _messages(items: Any) -> list[str]:
    return [str(getattr(x, "message", x)) for x in (items or [])]


ECOLOGITS_METHOD = ("EcoLogits per-request model: GPU energy from a regression on the model's active parameters "
                    "times the GPUs needed to hold it, plus the server's non-GPU share over the generation time "
                    "(capped by the measured request latency), times the provider's data-centre PUE; "
                    "excludes idle capacity, networking, training and end-user devices")


class EcoLogitsEstimate:
    """EcoLogits' per-request energy range for each remote query (``ecologits``).

    ``model``: the model name to look up (default: each window's served model). ``electricity_mix_zone``
    only changes EcoLogits' emissions, not its energy, and is recorded for completeness.
    """

    name = "ecologits"
    boundary = SERVER_DATACENTRE

    def __init__(self, provider: str | None = None, model: str | None = None, *, base_url: str | None = None,
                 electricity_mix_zone: str | None = None) -> None:
        self.version = ecologits_version()
        if self.version is None or importlib.util.find_spec("ecologits") is None:
            raise EstimateError(f"server energy 'ecologits' needs the ecologits package: {CLOUD_INSTALL_HINT}")
        self.provider, self.provider_how = resolve_provider(base_url, provider)
        self.explicit = bool(provider)
        self.model = model
        self.zone = electricity_mix_zone
        host = (urlparse(base_url).hostname or "").lower() if base_url else ""
        self.aggregator = AGGREGATOR_HOSTS.get(host) if not self.explicit else None

    def describe(self) -> dict:
        return {"name": self.name, "quality": ESTIMATED, "boundary": self.boundary,
                "ecologits_version": self.version, "provider": self.provider, "provider_how": self.provider_how,
                "model": self.model, "electricity_mix_zone": self.zone, "method": ECOLOGITS_METHOD,
                "range": "EcoLogits' min-max (model size range for undisclosed architectures, PUE range)"}

    def _target(self, served: str) -> tuple[str | None, str, str]:
        """(provider, model name, reason when the provider is None)."""
        model = (self.model or served or "").strip()
        if self.aggregator is not None and "/" in model:
            vendor, _, rest = model.partition("/")
            prov = self.aggregator.get(vendor.lower())
            if prov is None:
                return None, model, (f"vendor '{vendor}' of '{model}' is not an EcoLogits provider (known vendors: "
                                     f"{', '.join(sorted(self.aggregator))})")
            return prov, rest, ""
        if self.provider is None:
            return None, model, self.provider_how
        if self.provider == "google_genai" and model.startswith("models/"):
            model = model[len("models/"):]
        return self.provider, model, ""

    def advice(self, model: str | None) -> list[str]:
        """Warnings before a run on ``model`` (one line each): a target EcoLogits cannot model, so that
        every query's server energy will be N/A."""
        provider, name, why = self._target(model or "")
        if provider is None:
            return [f"server energy ecologits will be N/A for every query: {why}"]
        if not name:
            return ["server energy ecologits will be N/A for every query: no model name"]
        return []

    def window_energy(self, window: RemoteWindow) -> ServerEnergy:
        provider, model, why = self._target(window.model)
        if provider is None:
            return _na(self.name, self.boundary, f"EcoLogits: N/A: {why}")
        if not model:
            return _na(self.name, self.boundary, "EcoLogits: N/A: no model name")
        n = window.output_tokens
        if n is None or n < 0:
            return _na(self.name, self.boundary, "EcoLogits: N/A: the server reported no output token count")
        latency = window.seconds
        if not (math.isfinite(latency) and latency > 0):
            return _na(self.name, self.boundary, f"EcoLogits: N/A: the query's latency ({latency:g} s) is not positive")
        try:
            out = _llm_impacts()(provider, model, int(n), float(latency), electricity_mix_zone=self.zone)
        except EstimateError:
            raise
        except Exception as e:  # noqa: BLE001  (a library failure must not stop a run: that query is N/A, with why)
            return _na(self.name, self.boundary, f"EcoLogits {self.version}: N/A: {type(e).__name__}: {e}")
        errors = _messages(getattr(out, "errors", None))
        energy = getattr(out, "energy", None)
        if errors or energy is None:
            reason = "; ".join(errors) or "no energy in its result"
            return _na(self.name, self.boundary, f"EcoLogits {self.version}: N/A for {provider}/{model}: {reason}")
        value = energy.value
        unit = getattr(energy, "unit", "kWh")
        if unit != "kWh":
            return _na(self.name, self.boundary, f"EcoLogits {self.version}: N/A: unexpected energy unit {unit!r}")
        lo, hi = (float(value.min), float(value.max)) if hasattr(value, "min") else (float(value), float(value))
        low_j, high_j = lo * J_PER_KWH, hi * J_PER_KWH
        warnings = _messages(getattr(out, "warnings", None))
        how = self.provider_how if self.aggregator is None else "from the model's vendor prefix"
        note = (f"EcoLogits {self.version} estimate for {provider}/{model} (provider {how}): "
                f"{n} output tokens, {latency:.3g} s; {low_j:.4g}-{high_j:.4g} J, central = midpoint; "
                f"boundary {self.boundary} (GPU + server share, times the provider's PUE)")
        if warnings:
            note += "; warnings: " + "; ".join(warnings)
        return ServerEnergy(joules=(low_j + high_j) / 2, source=self.name, quality=ESTIMATED, boundary=self.boundary,
                            low_j=low_j, high_j=high_j, note=note)

    def settle(self, windows: list[RemoteWindow], timeout_s: float = 30.0) -> list[ServerEnergy]:
        return [self.window_energy(w) for w in windows]

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- from the setting

SOURCE_SPECS = "none, ecologits, prometheus or cited:ID"


def make_source(spec: str, *, base_url: str | None = None, provider: str | None = None, model: str | None = None,
                table: CitedTable | None = None,
                prometheus: Callable[[], ServerEnergySource] | None = None) -> ServerEnergySource | None:
    """The server-energy source named by the ``server_energy`` setting.

    - ``none``: None (server energy N/A for every query);
    - ``ecologits``: EcoLogitsEstimate (provider explicit or from ``base_url``; ``model`` overrides the
      served model's name);
    - ``cited:ID``: CitedEstimate for that entry of the cited table;
    - ``prometheus``: built by the Prometheus module, which this one does not import; pass its factory as
      ``prometheus`` (called with no argument), otherwise EstimateError says so.
    Anything else: EstimateError (one line).
    """
    s = (spec or "").strip()
    if s == "none":
        return None
    if s == "ecologits":
        return EcoLogitsEstimate(provider, model, base_url=base_url)
    if s.startswith("cited:"):
        return CitedEstimate(s[len("cited:"):], table=table)
    if s == "prometheus":
        if prometheus is None:
            raise EstimateError("server energy 'prometheus' is built by the Prometheus module, not by "
                                "make_source: pass its factory as prometheus=")
        return prometheus()
    raise EstimateError(f"server energy '{spec}' is not one of {SOURCE_SPECS}")
