"""The shapes shared by loaders, scorers and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# scoring kinds
MC = "mc"  # multiple choice: the answer is a letter
NUMERIC = "numeric"  # a number, compared with a tolerance
EXACT = "exact"  # normalised exact match (case, spaces, punctuation, articles)
REGEX = "regex"  # the reference is a regular expression the answer must match
NONE = "none"  # no reference: the answer is counted but cannot be scored
JUDGE = "judge"  # open question: a language-model judge compares the answer with the reference (unscorable
#                  without one: ``ipwtui run --judge`` or ``ipwtui rescore`` gives one)
KINDS = (MC, NUMERIC, EXACT, REGEX, NONE, JUDGE)


@dataclass(frozen=True)
class Query:
    id: str
    prompt: str  # the full user message sent to the model (choices included for MC)
    reference: str | None  # the known answer (a letter for MC); None when unknown
    kind: str  # one of KINDS
    domain: str  # "science", "arithmetic", ... (MMLU-Pro category, "math" for GSM8K)
    dataset: str  # "sample_queries", "mmlu-pro", "gsm8k", or the file stem
    system: str | None = None  # optional system message
    tolerance: float | None = None  # numeric: relative tolerance (default in the scorer)
    meta: dict = field(default_factory=dict)  # extra fields kept from the source (e.g. a cloud prediction)


@dataclass(frozen=True)
class Score:
    """The verdict on one answer. ``correct`` is None when the answer could not be scored."""

    correct: bool | None
    prediction: str | None  # what the scorer extracted from the answer (None: nothing found)
    scorer: str  # which scorer decided
    note: str = ""  # why it is unscored, when it is
    # what a measured scorer (an LLM judge) reports of its call: the judge_* fields of the query record
    detail: dict = field(default_factory=dict)
    # the scorer gave no verdict because it failed (its call failed, its reply could not be read), not
    # because the answer cannot be scored: a rescore keeps the earlier verdict
    failed: bool = False


class Scorer(Protocol):
    """Anything that can score an answer: the built-in rules, or later an LLM judge."""

    name: str

    def score(self, query: Query, answer: str) -> Score: ...


class QueryFileError(Exception):
    """A query file is malformed. ``str()`` is one line naming file:line and what is wrong."""

    def __init__(self, path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def query_digest(q: Query) -> str:
    """A short hash of what a query asks and expects: a resumed session checks it is the same query."""
    import hashlib
    import json

    body = json.dumps([q.prompt, q.reference, q.kind, q.system, q.tolerance,
                       q.meta.get("choices"), q.meta.get("aliases")], default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
