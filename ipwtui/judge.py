"""A language-model judge: scores open answers against a reference, on any backend, measured apart.

Two modes, as the paper "Intelligence per Watt" (Saad-Falcon et al., 2025, Sec. 3) scores its sets:

- **pairwise** (WildChat): the judge compares the model's answer (A) with the reference answer (B) and
  gives one of five labels, ``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``, ``[[B>A]]``, ``[[B>>A]]``. The answer
  is correct when it wins or ties (``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``). With ``swap`` the judge is also
  asked with the two answers the other way round (the reference as A) and the two verdicts must agree: a
  judge that prefers whatever comes first gives a disagreement, which is unscorable, not guessed.
- **rubric** (NaturalReasoning): the judge says whether the answer satisfies the reference (or the query's
  ``rubric``), ``[[TRUE]]`` or ``[[FALSE]]``.

Verdicts are read strictly: exactly one label (the same label written twice counts once); no label, two
different labels or a label that is not one of the mode's is unscorable, with the reason in the note and
the judge's raw reply on the record. A judge that fails (a backend error, its time limit, a reply cut
short with no verdict) leaves the query unscorable (``correct`` None), never wrong, never a crash. An empty
answer is wrong without asking the judge (the rule scorers' convention), a query with no reference is
unscorable without asking it.

The judge runs at temperature 0 with a fixed seed. Its prompts are files with the placeholders
``{question}``, ``{answer_a}`` and ``{answer_b}`` (pairwise: the two answers in the order shown) or
``{question}``, ``{reference}`` and ``{answer}`` (rubric); the bundled ones are in
``ipwtui/workloads/judge_prompts/``. The question is the query's full user message, as the model saw it.

Measuring: a ``Judge`` is a *measured* scorer (``measured = True``). The runner (and ``rescore``) reads
this machine's counters around each judge call, as for a query's window, and puts the judge's time and
energy on the query's record in the ``judge_*`` fields, apart from the query's own figures: the call
happens after the query's window has closed, so its energy is part of the session's unattributed energy
and the bookkeeping (counted + excluded + unattributed = total) still closes. The judge itself adds what
only it knows: its model, raw reply, token counts, a remote judge's server energy (when a source is set)
and the API price of its tokens; ``complete`` adds a local judge's electricity cost once its energy is
known.

``rescore`` scores a finished or interrupted session again with a judge, without running the model: one
"rescore" journal line per query, which ``records_of`` applies to the record it names.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import backends
from .backends.base import REMOTE, BackendError
from .core.settings import RunSettings, SettingError
from .core.settings import spec as setting
from .workloads.base import JUDGE, NONE, Query, Score
from .workloads.scoring import score_answer

PAIRWISE = "pairwise"
RUBRIC = "rubric"
MODES = (PAIRWISE, RUBRIC)
DEFAULT_MAX_TOKENS = 512  # room for a few sentences of reasons before the verdict line
DEFAULT_TIMEOUT_S = 300.0  # one judge call, start to end
PROMPTS_DIR = Path(__file__).resolve().parent / "workloads" / "judge_prompts"
PLACEHOLDERS = {PAIRWISE: ("question", "answer_a", "answer_b"), RUBRIC: ("question", "reference", "answer")}

# pairwise labels, from the answer in position A's side; a win or a tie of the answer is correct
LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
A_WINS_OR_TIES = frozenset({"A>>B", "A>B", "A=B"})
MIRROR = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}
RUBRIC_LABELS = ("TRUE", "FALSE")

_PLACEHOLDER = re.compile(r"\{(question|reference|answer|answer_a|answer_b)\}")
# anything in double brackets that looks like a verdict: two letters around a comparison, or a word
_PAIR_TOKEN = re.compile(r"\[\[\s*([A-Za-z])\s*(>>|<<|>|<|=)\s*([A-Za-z])\s*\]\]")
_RUBRIC_TOKEN = re.compile(r"\[\[\s*(TRUE|FALSE)\s*\]\]", re.IGNORECASE)
_BARE_RUBRIC = re.compile(r"[\s*_`\"'.!]*(TRUE|FALSE)[\s*_`\"'.!]*", re.IGNORECASE)


class JudgeError(Exception):
    """A judge cannot be built, loaded, or a session cannot be rescored. ``str()`` is one line."""


# ---- verdicts ----------------------------------------------------------------------------------


def parse_pairwise(reply: str) -> tuple[str | None, str]:
    """(label, "") for a reply holding exactly one of the five labels (written once or repeated), else
    (None, why). Labels are read inside ``[[...]]`` only; spaces inside the brackets and the letters'
    case do not matter."""
    found: list[str] = []
    for m in _PAIR_TOKEN.finditer(reply or ""):
        label = f"{m.group(1).upper()}{m.group(2)}{m.group(3).upper()}"
        if label not in found:
            found.append(label)
    if not found:
        return None, "no verdict label ([[A>>B]], [[A>B]], [[A=B]], [[B>A]] or [[B>>A]]) in the judge's reply"
    unknown = [x for x in found if x not in LABELS]
    if unknown:
        return None, f"[[{unknown[0]}]] is not a verdict label"
    if len(found) > 1:
        return None, "several verdicts in the judge's reply: " + ", ".join(f"[[{x}]]" for x in found)
    return found[0], ""


def parse_rubric(reply: str) -> tuple[bool | None, str]:
    """(True/False, "") for a reply holding ``[[TRUE]]`` or ``[[FALSE]]`` (or that is only the word TRUE
    or FALSE), else (None, why)."""
    found = {m.group(1).upper() for m in _RUBRIC_TOKEN.finditer(reply or "")}
    if not found:
        m = _BARE_RUBRIC.fullmatch(reply or "")
        if m:
            found = {m.group(1).upper()}
    if not found:
        return None, "no verdict ([[TRUE]] or [[FALSE]]) in the judge's reply"
    if len(found) > 1:
        return None, "both [[TRUE]] and [[FALSE]] in the judge's reply"
    return found.pop() == "TRUE", ""


# ---- prompts -------------------------------------------------------------------------------------


def bundled_prompt(mode: str) -> Path:
    """The bundled prompt file of a mode."""
    return PROMPTS_DIR / f"{mode}.txt"


def load_prompt(mode: str, path: str | Path | None = None) -> str:
    """The prompt template of ``mode`` from ``path`` (default: the bundled one), checked for its
    placeholders. JudgeError (one line naming the file) when it cannot be read or lacks one."""
    if mode not in MODES:
        raise JudgeError(f"judge mode {mode!r} is not one of {', '.join(MODES)}")
    p = Path(path).expanduser() if path else bundled_prompt(mode)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JudgeError(f"{p}: no such judge prompt file") from None
    except IsADirectoryError:
        raise JudgeError(f"{p}: is a folder, not a judge prompt file") from None
    except UnicodeDecodeError:
        raise JudgeError(f"{p}: not UTF-8 text") from None
    except OSError as e:
        raise JudgeError(f"{p}: cannot read the judge prompt ({e.strerror or e})") from None
    if not text.strip():
        raise JudgeError(f"{p}: empty judge prompt")
    missing = [n for n in PLACEHOLDERS[mode] if "{" + n + "}" not in text]
    if missing:
        raise JudgeError(f"{p}: a {mode} judge prompt needs the placeholders "
                         + ", ".join("{" + n + "}" for n in PLACEHOLDERS[mode])
                         + " (missing: " + ", ".join("{" + n + "}" for n in missing) + ")")
    return text


def render(template: str, values: dict[str, str]) -> str:
    """The template with its placeholders filled in one pass (a value holding "{answer}" stays as it is)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


# ---- the judge -----------------------------------------------------------------------------------


class _Failed(Exception):
    """One judge call failed: the message says why (one line)."""


@dataclass
class _Call:
    reply: str
    prompt_tokens: int | None
    output_tokens: int | None
    wall_start: float
    wall_end: float
    truncated: bool


class Judge:
    """An LLM judge on a backend (not loaded until ``load``). Called as the runner's scorer, it judges the
    queries of kind "judge" (every query with a reference when ``all_kinds``) and leaves the others to the
    rule scorers."""

    measured = True  # the runner reads the counters around each call and records them apart

    def __init__(self, backend: Any, *, model: str, backend_name: str | None = None, mode: str = PAIRWISE,
                 template: str | None = None, prompt_file: str | None = None, swap: bool = False,
                 max_tokens: int = DEFAULT_MAX_TOKENS, timeout_s: float = DEFAULT_TIMEOUT_S,
                 seed: int = 0, all_kinds: bool = False, server_energy: Any = None, prices: Any = None,
                 electricity_usd_per_kwh: float | None = None):
        if mode not in MODES:
            raise JudgeError(f"judge mode {mode!r} is not one of {', '.join(MODES)}")
        self.backend = backend
        self.model = model
        traits = getattr(backend, "traits", None)
        self.backend_name = backend_name or getattr(traits, "name", None) or type(backend).__name__
        self.where = getattr(traits, "where", "local")
        self.mode = mode
        self.template = template if template is not None else load_prompt(mode, prompt_file)
        if template is not None:
            missing = [n for n in PLACEHOLDERS[mode] if "{" + n + "}" not in template]
            if missing:
                raise JudgeError(f"the {mode} judge prompt lacks " + ", ".join("{" + n + "}" for n in missing))
        self.prompt_file = prompt_file
        self.swap = swap and mode == PAIRWISE
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.seed = seed
        self.all_kinds = all_kinds
        self.server_energy = server_energy  # a ServerEnergySource for a remote judge, or None (N/A)
        self.prices = prices  # a PriceTable for a remote judge's API price, or None
        self.electricity_usd_per_kwh = electricity_usd_per_kwh
        self.name = f"judge-{mode}"
        self._mono_to_wall = time.time() - time.monotonic()
        self.loaded = False

    # ---- life ----

    def load(self) -> None:
        """Load the judge's model (or check its server). JudgeError (one line) when it cannot."""
        try:
            self.backend.load()
        except Exception as e:
            msg = str(e) if isinstance(e, BackendError) else f"{type(e).__name__}: {e}"
            raise JudgeError(f"the judge ({self.backend_name} {self.model}) did not load: {msg}") from None
        self.loaded = True

    def close(self) -> None:
        try:
            self.backend.close()
        finally:
            if self.server_energy is not None:
                try:
                    self.server_energy.close()
                except Exception:
                    pass

    def describe(self) -> dict:
        """What a session records of its judge (no secret)."""
        src = None
        if self.server_energy is not None:
            try:
                src = self.server_energy.describe()
            except Exception as e:
                src = {"error": f"{type(e).__name__}: {e}"}
        return {
            "backend": self.backend_name, "model": self.model, "where": self.where, "mode": self.mode,
            "swap": self.swap, "prompt": str(self.prompt_file) if self.prompt_file else f"bundled {self.mode}.txt",
            "prompt_sha256": hashlib.sha256(self.template.encode("utf-8")).hexdigest()[:16],
            "temperature": 0.0, "seed": self.seed, "max_tokens": self.max_tokens, "timeout_s": self.timeout_s,
            "all_kinds": self.all_kinds, "server_energy": src,
        }

    # ---- scoring ----

    def wants(self, query: Any) -> bool:
        """Whether this judge scores ``query``: kind "judge", or any query with a reference with
        ``all_kinds``."""
        kind = getattr(query, "kind", None)
        if kind == JUDGE:
            return True
        return self.all_kinds and kind != NONE and getattr(query, "reference", None) is not None

    def __call__(self, query: Query, answer: str) -> Score:
        """The runner's scorer: the judge for the queries it wants, the rule scorers for the others."""
        if not self.wants(query):
            return score_answer(query, answer)
        return self.score(query, answer)

    def score(self, query: Query, answer: str) -> Score:
        """The judge's verdict on one answer; never raises. ``detail`` holds the judge_* record fields
        when the judge was asked (empty when it was not: no reference, an empty answer)."""
        try:
            return self._score(query, answer or "")
        except Exception as e:  # a bug here must not stop a run: unscorable, with why
            return Score(None, None, self.name, f"judge failed: {type(e).__name__}: {e}", failed=True)

    def _reference(self, query: Query) -> str | None:
        meta = getattr(query, "meta", None) or {}
        if self.mode == RUBRIC and isinstance(meta.get("rubric"), str) and meta["rubric"].strip():
            return meta["rubric"]
        return query.reference

    def _score(self, query: Query, answer: str) -> Score:
        reference = self._reference(query)
        if reference is None or not str(reference).strip():
            return Score(None, None, self.name, "no reference answer for the judge to compare with")
        if not answer.strip():
            return Score(False, None, self.name, "empty answer")
        question = query.prompt
        if self.mode == RUBRIC:
            orders = [("", {"question": question, "reference": reference, "answer": answer})]
        else:
            orders = [("answer first", {"question": question, "answer_a": answer, "answer_b": reference})]
            if self.swap:
                orders.append(("reference first", {"question": question, "answer_a": reference,
                                                   "answer_b": answer}))
        calls: list[_Call] = []
        detail: dict[str, Any] = {"judge_model": self.model, "judge_backend": self.backend_name,
                                  "judge_where": self.where, "judge_mode": self.mode}
        verdicts: list[Any] = []
        failure: str | None = None
        for label, values in orders:
            try:
                call = self._ask(render(self.template, values))
            except _Failed as e:
                failure = f"judge failed{' (' + label + ')' if len(orders) > 1 else ''}: {e}"
                break
            calls.append(call)
            verdict, why = parse_rubric(call.reply) if self.mode == RUBRIC else parse_pairwise(call.reply)
            if verdict is None:
                cut = " (the reply was cut at the judge's max tokens)" if call.truncated else ""
                failure = f"unparseable verdict{' (' + label + ')' if len(orders) > 1 else ''}: {why}{cut}"
                break
            verdicts.append(verdict)
        self._figures(detail, calls, query)
        if len(orders) > 1:
            detail["judge_verdict"] = "\n---\n".join(f"[{lab}] {c.reply}" for (lab, _), c in zip(orders, calls))
        else:
            detail["judge_verdict"] = calls[0].reply if calls else None
        if failure is not None:
            return Score(None, None, self.name, failure, detail, failed=True)
        if self.mode == RUBRIC:
            ok = bool(verdicts[0])
            return Score(ok, "TRUE" if ok else "FALSE", self.name,
                         "" if ok else "the judge found the answer does not satisfy the reference", detail)
        # pairwise: every verdict from the answer's side (the reference-first one mirrored)
        labels = [verdicts[0]] + ([MIRROR[verdicts[1]]] if len(verdicts) > 1 else [])
        wins = [x in A_WINS_OR_TIES for x in labels]
        prediction = " / ".join(f"[[{x}]]" for x in labels)
        if len(set(wins)) > 1:
            return Score(None, prediction, self.name,
                         f"the two orders disagree: answer first [[{verdicts[0]}]], reference first "
                         f"[[{verdicts[1]}]] (position bias)", detail)
        ok = wins[0]
        if ok:
            note = "the answer ties with the reference" if labels == ["A=B"] * len(labels) else \
                "the answer wins or ties against the reference"
        else:
            note = "the reference is better"
        return Score(ok, prediction, self.name, note, detail)

    def _ask(self, prompt: str) -> _Call:
        """One judge call at temperature 0, stopped at the judge's time limit."""
        deadline = time.monotonic() + self.timeout_s
        timed_out = False

        def on_token(_text: str, t: float) -> bool:
            nonlocal timed_out
            if time.monotonic() > deadline:
                timed_out = True
                return False
            return True

        try:
            gen = self.backend.generate([{"role": "user", "content": prompt}], max_tokens=self.max_tokens,
                                        on_token=on_token, temperature=0.0, seed=self.seed)
        except BackendError as e:
            raise _Failed(str(e)) from None
        except Exception as e:
            raise _Failed(f"{type(e).__name__}: {e}") from None
        if timed_out or getattr(gen, "aborted", False):
            raise _Failed(f"no verdict within the judge's time limit of {self.timeout_s:g} s")
        text = getattr(gen, "text", None)
        if not isinstance(text, str):
            raise _Failed(f"the judge's backend returned {type(gen).__name__}, not an answer")
        end = gen.t_done if getattr(gen, "t_done", None) is not None else gen.t_last
        return _Call(text.strip(), gen.prompt_tokens, gen.output_tokens, gen.t_sent + self._mono_to_wall,
                     end + self._mono_to_wall, gen.finish_reason == "length")

    def _figures(self, detail: dict, calls: list[_Call], query: Query) -> None:
        """Token counts, a remote judge's server energy and API cost, from the calls made."""
        detail["judge_calls"] = len(calls)
        pt = [c.prompt_tokens for c in calls]
        ot = [c.output_tokens for c in calls]
        detail["judge_prompt_tokens"] = sum(x for x in pt if x is not None) if calls and None not in pt else None
        detail["judge_output_tokens"] = sum(x for x in ot if x is not None) if calls and None not in ot else None
        if self.where != REMOTE:
            return
        if self.server_energy is not None and calls:
            self._server_energy(detail, calls, query)
        if self.prices is not None:
            from .core.cost import query_cost

            detail["judge_cost_usd"], detail["judge_cost_source"] = query_cost(
                self.model, detail["judge_prompt_tokens"], detail["judge_output_tokens"], self.prices)
        else:
            detail["judge_cost_usd"], detail["judge_cost_source"] = None, "N/A: no price table"

    def _server_energy(self, detail: dict, calls: list[_Call], query: Query) -> None:
        from .core.remote import RemoteWindow
        from .core.sensors.base import worst_quality

        src = self.server_energy
        total: float | None = 0.0
        qualities, boundaries = [], []
        for k, c in enumerate(calls, start=1):
            w = RemoteWindow(query_id=f"{query.id}#judge", attempt=k, wall_start=c.wall_start,
                             wall_end=c.wall_end, model=self.model, prompt_tokens=c.prompt_tokens,
                             output_tokens=c.output_tokens)
            try:
                se = src.window_energy(w)
                if se is None:  # the telemetry is not there yet: wait for it now (outside every window)
                    se = src.settle([w])[0]
            except Exception:
                se = None
            if se is None or se.joules is None:
                total = None
            elif total is not None:
                total += se.joules
            if se is not None:
                qualities.append(se.quality)
                if se.boundary not in boundaries:
                    boundaries.append(se.boundary)
        detail["judge_server_energy_j"] = total
        detail["judge_server_energy_source"] = getattr(src, "name", None)
        detail["judge_server_energy_quality"] = worst_quality(qualities) if qualities and total is not None \
            else "unavailable"
        detail["judge_server_energy_boundary"] = "+".join(boundaries) or None

    def complete(self, fields: dict) -> dict:
        """The judge_* fields once this machine's energy of the call is known: a local judge's cost is
        the electricity of that energy (when a price is set)."""
        out = dict(fields)
        if self.where == REMOTE or out.get("judge_cost_usd") is not None:
            return out
        from .core.cost import PriceError, energy_cost

        price = self.electricity_usd_per_kwh
        if price is None:
            out["judge_cost_usd"], out["judge_cost_source"] = None, \
                "N/A: local judge, no electricity price set (--electricity-usd-per-kwh)"
            return out
        try:
            usd = energy_cost(out.get("judge_energy_j"), price)
        except PriceError as e:
            usd, why = None, f"N/A: {e}"
        else:
            why = (f"electricity at {price:g} USD/kWh over the judge's gross energy "
                   f"({out.get('judge_energy_quality')})") if usd is not None else "N/A: no energy for the judge's call"
        out["judge_cost_usd"], out["judge_cost_source"] = usd, why
        return out


# ---- building one from options -------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeSpec:
    """A judge as the command line asks for it."""

    backend: str
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    mode: str = PAIRWISE
    prompt_file: str | None = None
    swap: bool = False
    max_tokens: int = DEFAULT_MAX_TOKENS
    timeout_s: float = DEFAULT_TIMEOUT_S
    server_energy: str = "none"
    all_kinds: bool = False


def judge_settings(spec: JudgeSpec, base: RunSettings | None = None) -> RunSettings:
    """The judge's own RunSettings: the run's (or the defaults) with the judge's target (base URL, model,
    key variable, server energy), its length limit, temperature 0 and seed 0. The run's remote target is
    never inherited: a judge on a server names it. JudgeError (one line) for a bad value."""
    base = base or RunSettings()
    changes: dict[str, Any] = {"temperature": 0.0, "seed": 0, "base_url": None, "remote_model": None,
                               "server_energy": "none"}
    try:
        for name, raw in (("base_url", spec.base_url), ("remote_model", spec.model),
                          ("api_key_env", spec.api_key_env), ("server_energy", spec.server_energy)):
            if raw is not None and str(raw).strip():
                changes[name] = setting(name).parse(str(raw))
        changes["max_tokens"] = setting("max_tokens").check(spec.max_tokens)
        return base.replace(**changes)
    except SettingError as e:
        raise JudgeError(f"judge: {e}") from None


def build_judge(spec: JudgeSpec, base: RunSettings | None = None) -> Judge:
    """A judge from the command line's options, checked (its prompt file, its engine, its model, its
    server answering), not loaded yet. JudgeError (one line) otherwise."""
    if spec.mode not in MODES:
        raise JudgeError(f"--judge-mode {spec.mode!r} is not one of {', '.join(MODES)}")
    if not (spec.timeout_s > 0):
        raise JudgeError(f"--judge-timeout must be more than 0 s (got {spec.timeout_s:g})")
    template = load_prompt(spec.mode, spec.prompt_file)
    settings = judge_settings(spec, base)
    try:
        eng = backends.engine(spec.backend)
        model = eng.resolve_model(spec.model, settings)
    except BackendError as e:
        raise JudgeError(f"judge: {e}") from None
    problem = eng.check(settings, model.name)
    if problem:
        raise JudgeError(f"judge: {problem}")
    remote = eng.where == REMOTE
    source = prices = None
    if remote:
        source = _server_energy_source(settings, model.name)
        from .core.config import ConfigError, config_path, load_config
        from .core.cost import PriceError, price_table

        try:
            prices = price_table(load_config().get("prices"), where=str(config_path()))
        except (PriceError, ConfigError) as e:
            raise JudgeError(f"judge: {e}") from None
    try:
        backend = eng.create(model, settings)
    except BackendError as e:
        raise JudgeError(f"judge: {e}") from None
    return Judge(backend, model=model.name, backend_name=eng.name, mode=spec.mode, template=template,
                 prompt_file=spec.prompt_file, swap=spec.swap, max_tokens=settings.max_tokens,
                 timeout_s=spec.timeout_s, seed=settings.seed, all_kinds=spec.all_kinds,
                 server_energy=source, prices=prices, electricity_usd_per_kwh=settings.electricity_usd_per_kwh)


def _server_energy_source(settings: RunSettings, model: str):
    """A remote judge's server-energy source (None: N/A), checked once."""
    from .core.remote.estimate import EstimateError, make_source

    def prometheus():
        from .core.remote.prometheus import PrometheusEnergy

        if not settings.prometheus_url or not settings.prometheus_query:
            raise JudgeError("judge: server energy 'prometheus' needs --prometheus-url and --prometheus-query "
                             "in the config file's settings")
        try:
            return PrometheusEnergy(settings.prometheus_url, settings.prometheus_query)
        except ValueError as e:
            raise JudgeError(f"judge: prometheus: {e}") from None

    try:
        source = make_source(settings.server_energy, base_url=settings.base_url, model=model,
                             prometheus=prometheus)
    except (EstimateError, ValueError) as e:
        raise JudgeError(f"judge: {e}") from None
    problem = getattr(source, "check", lambda: None)() if source is not None else None
    if problem:
        raise JudgeError(f"judge: server energy ({settings.server_energy}): {problem}")
    return source


# ---- rescoring a session -------------------------------------------------------------------------


@dataclass
class Rescored:
    """One query judged again: its record (with the new verdict applied) and what it was before."""

    record: Any  # QueryRecord
    before: bool | None
    score: Score


@dataclass
class RescoreOutcome:
    folder: Path
    judged: list[Rescored] = field(default_factory=list)
    not_selected: int = 0  # final answered queries this rescore left alone (another kind, no --all)
    energy_j: float | None = None  # this machine's energy over every judge call (None if any is N/A)
    energy_quality: str = "unavailable"
    energy_source: str | None = None
    paths: dict = field(default_factory=dict)  # the re-exported files

    @property
    def changed(self) -> int:
        return sum(1 for r in self.judged if not r.score.failed and r.before != r.score.correct)

    @property
    def unscorable(self) -> int:
        return sum(1 for r in self.judged if not r.score.failed and r.score.correct is None)

    @property
    def failed(self) -> int:
        """Queries the judge failed on: each keeps the verdict it had."""
        return sum(1 for r in self.judged if r.score.failed)


def _session_queries(meta: dict) -> dict[str, Query]:
    """The session's own queries from its query file, when the file is still there and unchanged."""
    from .workloads.base import QueryFileError, query_digest
    from .workloads.loaders import load_queries

    path, digests = meta.get("queries_file"), meta.get("query_digests") or {}
    if not path:
        return {}
    try:
        qs = load_queries(path)
    except (QueryFileError, OSError):
        return {}
    return {q.id: q for q in qs if digests.get(q.id) == query_digest(q)}


def _as_query(rec: Any, known: dict[str, Query]) -> Query:
    q = known.get(rec.query_id)
    if q is not None and q.prompt == rec.prompt:
        return q
    return Query(id=rec.query_id, prompt=rec.prompt, reference=rec.reference, kind=rec.kind,
                 domain=rec.domain, dataset=rec.dataset)


def open_for_rescore(folder: str | Path, force: bool = False) -> Any:
    """The session in ``folder``, if it can be rescored. JudgeError (one line) for a folder that is not a
    session, and for a session a run holds: where the session module has a lock (``lock_holder``), a
    holder of the lock; otherwise a status that says "running", the only sign of a run there is (``force``
    overrides it, for a run that was killed)."""
    from .core import session as sessions
    from .core.session import JOURNAL_FILE, SESSION_FILE, Session, SessionError

    folder = Path(folder)
    if not folder.is_dir():
        raise JudgeError(f"{folder}: not a session folder (no such folder)")
    if not (folder / SESSION_FILE).is_file():
        raise JudgeError(f"{folder}: not a session folder (no {SESSION_FILE})")
    try:
        session = Session.open(folder)
    except SessionError as e:
        raise JudgeError(str(e)) from None
    holder = getattr(sessions, "lock_holder", None)
    if holder is not None:
        who = holder(folder)
        if who:
            raise JudgeError(f"{folder}: a run holds this session now ({who}); wait for it to end")
    elif session.meta.get("status") == "running" and not force:
        raise JudgeError(f"{folder}: its status says a run is in progress; wait for it to end (if that run "
                         f"was killed, pass --force)")
    if not (folder / JOURNAL_FILE).is_file():
        raise JudgeError(f"{folder}: the session has no journal: nothing to rescore")
    return session


def rescore(folder: str | Path, judge: Judge, *, sensor_set: Any = None, force: bool = False,
            listener: Callable[[Rescored], None] | None = None, export: bool = True) -> RescoreOutcome:
    """Judge a session's answers again, without running the model: each query's final ok attempt of kind
    "judge" (every one with a reference when the judge has ``all_kinds``). Each verdict is appended as a
    "rescore" journal line naming its record (query, attempt, segment), with the judge's figures, measured
    on this machine with a sampler of the rescore's own; the session's files are then exported again.

    ``sensor_set``: sensors already probed (the caller keeps them); probed here from the session's
    settings when None. The judge must be built; it is loaded here if it is not, and left open.
    Refuses (JudgeError, one line) a folder that is not a session, and a session whose status says a run is
    in progress (``force`` overrides that, for a run that was killed)."""
    from .core.energy import EdgeReader, window_energy
    from .core.record import JUDGE_FIELDS, OK
    from .core.sampler import Sampler
    from .core.sensors.base import BOUNDARY_WHOLE_MACHINE, worst_quality
    from .core.session import SESSION_FILE, SessionError
    from .core.record import final_attempts

    folder = Path(folder)
    session = open_for_rescore(folder, force)
    status = session.meta.get("status")
    try:
        settings = RunSettings.from_dict(session.meta.get("settings"), where=str(folder / SESSION_FILE))
    except SettingError as e:
        raise JudgeError(str(e)) from None

    finals = [r for r in final_attempts(session.query_records()) if r.status == OK]
    chosen = [r for r in finals if judge.wants(r)]
    if not chosen:
        hint = "" if judge.all_kinds else " (--all judges every query with a reference)"
        raise JudgeError(f"{folder}: no answered query for the judge to score{hint}")
    known = _session_queries(session.meta)

    own_sensors = sensor_set is None
    if own_sensors:
        from .core.sensors import probe_all

        sensor_set = probe_all(cpu_watts_per_core=settings.cpu_watts_per_core, cpu_scope=settings.cpu_scope)
    out = RescoreOutcome(folder)
    out.not_selected = len(finals) - len(chosen)
    sampler = Sampler(sensor_set.sensors, hz=settings.sample_hz)
    opened = False
    energies: list[float | None] = []
    qualities: list[str] = []
    sources: list[str] = []
    try:
        if not judge.loaded:
            judge.load()
        try:
            session.begin_segment()  # opens the journal for appending (and holds the lock, where there is one)
        except SessionError as e:
            raise JudgeError(str(e)) from None
        opened = True
        session.set_status(status or "finished")  # rescoring is not a run: the status stays as it was
        sampler.start()
        series = sampler.series_list()
        if settings.energy_domains == "all":
            counted = [s for s in series if s.domain.boundary != BOUNDARY_WHOLE_MACHINE
                       or s.domain.accelerator == settings.accelerator]
        else:
            counted = [s for s in series if s.domain.accelerator == settings.accelerator]
        edges = EdgeReader(sensor_set.sensors, [s.domain for s in counted])
        for rec in chosen:
            q = _as_query(rec, known)
            before = rec.correct
            j0 = edges.mark()
            score = judge.score(q, rec.answer or "")
            j1 = edges.mark()
            fields: dict[str, Any] = {k: None for k in JUDGE_FIELDS}
            if score.detail:
                sampler.wait_past(j1.t)
                je = window_energy(counted, j0.t, j1.t, sample_period_s=sampler.period, edges=(j0, j1))
                fields.update(score.detail)
                fields.update(judge_seconds=je.seconds, judge_energy_j=je.gross_j,
                              judge_energy_source=je.source or None, judge_energy_quality=je.quality,
                              judge_energy_boundary=je.boundary or None)
                fields = judge.complete(fields)
                energies.append(je.gross_j)
                qualities.append(je.quality)
                for s in (je.source or "").split("+"):
                    if s and s not in sources:
                        sources.append(s)
            if score.failed:  # no verdict: the earlier one stands; the failed call is kept apart
                session.append({
                    "type": "rescore-failed", "query_id": rec.query_id, "attempt": rec.attempt,
                    "segment": rec.segment, "scorer": score.scorer, "error": score.note,
                    **{k: fields.get(k) for k in JUDGE_FIELDS},
                    "wall_start": session.wall(j0.t), "wall_end": session.wall(j1.t),
                })
            else:
                session.append({
                    "type": "rescore", "query_id": rec.query_id, "attempt": rec.attempt, "segment": rec.segment,
                    "correct": score.correct, "prediction": score.prediction, "scorer": score.scorer,
                    "score_note": score.note or None, **{k: fields.get(k) for k in JUDGE_FIELDS},
                    "previous": {"correct": before, "scorer": rec.scorer, "prediction": rec.prediction},
                    "wall_start": session.wall(j0.t), "wall_end": session.wall(j1.t),
                })
                rec.correct, rec.prediction, rec.scorer, rec.score_note = (score.correct, score.prediction,
                                                                            score.scorer, score.note or None)
                for k in JUDGE_FIELDS:
                    setattr(rec, k, fields.get(k))
            item = Rescored(rec, before, score)
            out.judged.append(item)
            if listener is not None:
                try:
                    listener(item)
                except Exception:
                    pass
    finally:
        sampler.stop()
        if opened:
            session.close()
            done = {"at": time.time(), "judge": judge.describe(), "queries": len(out.judged),
                    "changed": out.changed, "unscorable": out.unscorable, "failed": out.failed}
            rescores = list(session.meta.get("rescores") or []) + [done]
            session.set_status(status or "finished", rescores=rescores)
        if own_sensors:
            try:
                sensor_set.close()
            except Exception:
                pass
    if energies:
        out.energy_j = sum(energies) if None not in energies else None  # type: ignore[arg-type]
        out.energy_quality = worst_quality(qualities) if qualities else "unavailable"
        out.energy_source = "+".join(sources) or None
    if export:
        from .core.export import export_session

        try:
            out.paths = export_session(folder, report=(folder / "report.md").exists())
        except SessionError as e:
            raise JudgeError(f"{e} (the new verdicts are safe in the journal of {folder})") from None
    return out
