"""The run's settings: each default, range and help text written once.

``RunSettings`` is the one settings model. The command line builds its options from it, the setup screen
its fields and labels, the config file's ``settings`` section and a resumed session's ``session.json``
are read through it, and every value is checked by the same rule with the same one-line message,
wherever it comes from: a ``RunSettings`` cannot hold a bad value (``__post_init__`` checks them all).

Numbers must be finite (inf and nan are refused) and inside their range.
"""

from __future__ import annotations

import math
import re
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any


class SettingError(ValueError):
    """A setting has a bad value. ``str()`` is one line naming the setting, its flag and the rule."""


@dataclass(frozen=True)
class Spec:
    """How one setting is named, checked, parsed and explained."""

    name: str
    kind: type  # int, float or str
    default: Any
    label: str  # short words for a form field
    help: str  # one sentence for --help and the form's tooltip
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the low end itself is not allowed (a rate must be > 0)
    choices: tuple[str, ...] | None = None
    pattern: str | None = None  # text settings: a regular expression the whole value must match
    pattern_words: str = ""  # the pattern in words, for the message
    optional: bool = False  # None is allowed
    blank: str = ""  # what None means, in a word or two ("all", "all cores"): a form's placeholder
    group: str = "measurement"  # "measurement", "engine", "remote": where it goes in --help and the form
    flag_name: str | None = None  # the command-line flag, when it is not --name-with-dashes
    on_resume: str = "fixed"  # "fixed": a resumed session keeps its own value; "free": may differ
    url: bool = False  # text settings: an http(s) URL with a host, a valid port and no user name or password

    @property
    def flag(self) -> str:
        return self.flag_name or "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return f"{self.label} ({self.flag})"

    def rule(self) -> str:
        """The rule in words: "between 1 and 131072", "one of gross, net", ..."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.pattern_words:
            return self.pattern_words
        lo, hi = self.low, self.high
        if self.low_open and lo is not None:
            return f"more than {_g(lo)}" + (f" and at most {_g(hi)}" if hi is not None else "")
        if lo is not None and hi is not None:
            return f"between {_g(lo)} and {_g(hi)}"
        if lo is not None:
            return f"at least {_g(lo)}"
        if hi is not None:
            return f"at most {_g(hi)}"
        return "a " + ("whole number" if self.kind is int else "number" if self.kind is float else "text")

    def _bad(self, got: Any) -> SettingError:
        shown = "blank" if got is None or got == "" else repr(got) if isinstance(got, str) else got
        return SettingError(f"{self.title} must be {self.rule()}"
                            + (" (or blank)" if self.optional and not self.choices else "") + f" (got {shown})")

    def check(self, value: Any) -> Any:
        """The value if it obeys the rule (ints accepted for floats), else SettingError."""
        if value is None:
            if self.optional:
                return None
            raise self._bad(value)
        if self.kind is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise self._bad(value)
            if self.pattern and not re.fullmatch(self.pattern, value):
                raise self._bad(_redact_url(value) if self.url else value)
            if self.url:
                problem = url_problem(value)
                if problem:
                    raise SettingError(f"{self.title} {problem} (got {_redact_url(value)!r})")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(value)
        if self.kind is int and (isinstance(value, float) and not value.is_integer()):
            raise self._bad(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise self._bad(value)
        v = int(value) if self.kind is int else float(value)
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            raise self._bad(value)
        if self.high is not None and v > self.high:
            raise self._bad(value)
        return v

    def parse(self, text: str | None) -> Any:
        """A value from text (a form field, a command-line word); blank is None for optional settings
        and the default otherwise."""
        raw = "" if text is None else str(text).strip()
        if raw == "":
            return None if self.optional else self.default
        if self.kind is str:
            return self.check(raw)
        if not raw.isascii():  # int() and float() read other scripts' digits: a number here is plain ASCII
            raise self._bad(raw)
        try:
            num: Any = int(raw) if self.kind is int else float(raw)
        except ValueError:
            try:  # "1e3" for an int, "2.0"
                f = float(raw)
            except ValueError:
                raise self._bad(raw) from None
            num = f
        return self.check(num)

    def show(self, value: Any) -> str:
        """A value as text for a form field (blank for None)."""
        if value is None:
            return ""
        return f"{value:g}" if isinstance(value, float) else str(value)


def _redact_url(value: str) -> str:
    """A URL as a message may show it: a user name and password replaced by ***."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1***@", value)


def url_problem(value: str) -> str | None:
    """Why ``value`` is not a usable http(s) URL, in words after the setting's name; None when it is."""
    from urllib.parse import urlsplit

    try:
        u = urlsplit(value)
        port = u.port  # raises for a port that is not a number in 0..65535
    except ValueError as e:
        return f"is not a valid URL ({e})"
    if u.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if u.username is not None or u.password is not None:
        return "must not hold a user name or password (a key goes in the API key variable, never in a URL)"
    if not u.hostname:
        return "has no host name"
    if port == 0:
        return "has port 0"
    return None


def _g(x: float) -> str:
    """A bound in words: whole numbers in full (2147483647, not 2.14748e+09)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e18 else f"{x:g}"


def _setting(default: Any, kind: type, label: str, help: str, **kw: Any) -> Any:
    """A dataclass field carrying its Spec (its name is filled in below)."""
    spec_kw = dict(kind=kind, default=default, label=label, help=help, **kw)
    return field(default=default, metadata={"spec": spec_kw})


@dataclass
class RunSettings:
    """Every setting of a run. Constructing one checks every value."""

    max_queries: int | None = _setting(None, int, "queries", "run only the first N queries (blank: all)",
                                       low=1, high=10_000_000, optional=True, blank="all", group="what")
    warmup: int = _setting(1, int, "warm-up", "warm-up queries before the measured ones, excluded from every "
                                              "figure", low=0, high=1000)
    idle_seconds: float = _setting(3.0, float, "idle baseline s", "idle period measured before the run for the "
                                                                  "baseline power; 0 skips it", low=0, high=3600)
    sample_hz: float = _setting(20.0, float, "sample rate Hz", "power sampler rate", low=0, high=1000,
                                low_open=True)
    energy_domains: str = _setting("accelerator", str, "energy domains",
                                   "count only the chosen accelerator's domains, or every measured domain",
                                   choices=("accelerator", "all"))
    accelerator: str = _setting("cpu", str, "accelerator", "accelerator whose energy is counted: cpu, gpu0, ...")
    contended_share: float = _setting(0.25, float, "contended share", "flag a window 'contended' when other "
                                                                      "processes took more than this share of "
                                                                      "the machine's CPU during it", low=0, high=1)
    electricity_usd_per_kwh: float | None = _setting(None, float, "electricity USD/kWh",
                                                     "local electricity price, for the cost of local queries "
                                                     "(blank: no local cost)", low=0, high=100, optional=True,
                                                     blank="none")
    energy_view: str = _setting("gross", str, "energy on screen", "which energy the live display shows first; "
                                                                  "both are saved", choices=("gross", "net"),
                                flag_name="--energy", on_resume="free")
    cpu_watts_per_core: float | None = _setting(None, float, "W per busy core",
                                                "watts per busy core for the CPU-time estimate on machines "
                                                "with no power sensor (blank: from the CPU table or 4 W)",
                                                low=0, high=1000, low_open=True, optional=True,
                                                blank="CPU table")
    cpu_scope: str = _setting("process", str, "CPU-time scope", "CPU-time estimate from this process's CPU time "
                                                                "or the whole machine's",
                              choices=("process", "system"))
    max_tokens: int = _setting(256, int, "max tokens", "answer length limit in tokens", low=1, high=131072,
                               group="engine")
    temperature: float = _setting(0.0, float, "temperature", "sampling temperature (0: greedy)", low=0, high=5,
                                  group="engine")
    seed: int = _setting(0, int, "seed", "sampling seed", low=0, high=2**31 - 1, group="engine")
    n_threads: int | None = _setting(None, int, "threads", "CPU threads for in-process engines (blank: all "
                                                           "cores)", low=1, high=4096, optional=True, blank="all cores",
                                     group="engine", flag_name="--threads")
    n_gpu_layers: int = _setting(0, int, "GPU layers", "layers offloaded to the GPU, -1 for all", low=-1,
                                 high=100_000, group="engine", flag_name="--gpu-layers")

    # ---- remote backends (OpenAI-compatible servers and cloud APIs) ----
    base_url: str | None = _setting(None, str, "base URL", "OpenAI-compatible endpoint, e.g. "
                                                          "http://127.0.0.1:8080/v1", optional=True, blank="none",
                                    pattern=r"https?://\S+", pattern_words="an http:// or https:// URL",
                                    url=True, group="remote")
    remote_model: str | None = _setting(None, str, "remote model", "the model name the server serves",
                                        optional=True, blank="none", group="remote")
    api_key_env: str = _setting("OPENAI_API_KEY", str, "API key variable",
                                "environment variable that holds the API key (the key itself is never "
                                "written anywhere)", pattern=r"[A-Za-z_][A-Za-z0-9_]*",
                                pattern_words="an environment variable name", group="remote")
    connect_timeout_s: float = _setting(10.0, float, "connect timeout s", "seconds to wait for a connection",
                                        low=0, high=600, low_open=True, group="remote")
    read_timeout_s: float = _setting(120.0, float, "read timeout s", "seconds to wait for the first byte and "
                                                                     "between two pieces of the stream",
                                     low=0, high=3600, low_open=True, group="remote")
    retries: int = _setting(2, int, "retries", "extra attempts after a failed one (429, 5xx, a dropped "
                                               "connection); each attempt is its own window", low=0, high=20,
                            group="remote")
    max_failures: int = _setting(5, int, "failures before stop", "consecutive failed queries after which the "
                                                                 "run stops", low=1, high=1000, group="remote")
    server_energy: str = _setting("none", str, "server energy", "where a remote query's server energy comes "
                                                               "from: none, ecologits, cited:ID or prometheus",
                                  pattern=r"none|ecologits|prometheus|cited:[A-Za-z0-9._-]+",
                                  pattern_words="none, ecologits, prometheus or cited:ID", group="remote")
    prometheus_url: str | None = _setting(None, str, "Prometheus URL", "Prometheus server holding the "
                                                                       "server's energy telemetry",
                                          optional=True, blank="none", pattern=r"https?://\S+",
                                          pattern_words="an http:// or https:// URL", url=True, group="remote")
    prometheus_query: str | None = _setting(None, str, "Prometheus query", "PromQL selector of an energy "
                                                                           "counter (J or mJ) or a power gauge (W)",
                                            optional=True, blank="none", group="remote")

    def __post_init__(self) -> None:
        for s in specs():
            object.__setattr__(self, s.name, s.check(getattr(self, s.name)))

    def as_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes: Any) -> "RunSettings":
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict | None, where: str = "", strict: bool = False) -> "RunSettings":
        """Settings from a mapping (config file, session.json): missing ones take their defaults, bad values
        raise SettingError prefixed with ``where``. Unknown keys are ignored in a session's own file (a
        newer version's) and, with ``strict`` (the config file a user writes), refused with the nearest
        name."""
        d = d or {}
        if not isinstance(d, dict):
            raise SettingError(f"{where}: settings must be a JSON object" if where else
                               "settings must be a JSON object")
        unknown = [k for k in d if k not in _NAMES]
        if strict and unknown:
            import difflib

            near = difflib.get_close_matches(str(unknown[0]), sorted(_NAMES), n=1)
            raise SettingError(f"{where + ': ' if where else ''}unknown setting {unknown[0]!r}"
                               + (f" (did you mean {near[0]!r}?)" if near else ""))
        known = {k: v for k, v in d.items() if k in _NAMES}
        try:
            return cls(**known)
        except SettingError as e:
            raise SettingError(f"{where}: {e}" if where else str(e)) from None


def _build_specs() -> tuple[Spec, ...]:
    out = []
    for f in fields(RunSettings):
        kw = dict(f.metadata["spec"])
        assert f.default is not MISSING
        out.append(Spec(name=f.name, **kw))
    return tuple(out)


_SPECS: tuple[Spec, ...] = ()
_NAMES: frozenset[str] = frozenset()


def specs() -> tuple[Spec, ...]:
    """Every setting's Spec, in the order of the model."""
    return _SPECS


def spec(name: str) -> Spec:
    for s in _SPECS:
        if s.name == name:
            return s
    raise KeyError(name)


_SPECS = _build_specs()
_NAMES = frozenset(s.name for s in _SPECS)
