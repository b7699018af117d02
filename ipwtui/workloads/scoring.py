"""Rule-based scorers: turn a model's free-form answer into a verdict against the query's reference.

Decisions shared by every scorer here:

- ``correct=None`` (unscorable) only when the query has no reference (kind ``none`` or reference ``None``),
  when no scorer is registered for the query's kind, or when the scorer itself failed (for example a future LLM
  judge that timed out). These queries are kept out of the accuracy denominator.
- An answer from which nothing can be extracted (empty text, no option letter, no number) is *wrong*:
  ``correct=False`` with ``prediction=None`` and a note saying what was missing. A model that does not give an
  answer did not answer correctly.
- Scorers are looked up by kind in a registry; :func:`register_scorer` plugs in another one (a judge, a
  domain-specific rule) under a new kind or in place of a built-in one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from fractions import Fraction

from .base import EXACT, MC, NONE, NUMERIC, REGEX, Query, Score, Scorer

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_REL_TOL = 1e-6
DEFAULT_ABS_TOL = 1e-9
EXACT_CONTAINMENT_MAX_WORDS = 12  # a whole answer this short may contain the reference among other words
EXACT_SENTENCE_MAX_WORDS = 30  # so may a first sentence this short

# ---------------------------------------------------------------------------------------------------------------
# multiple choice
# ---------------------------------------------------------------------------------------------------------------

_MD = re.compile(r"\*\*|__|`")
# strong statements: "the answer is B", "Answer: (B)", "correct option is B", "I choose B", "\boxed{B}"
_STRONG = re.compile(
    r"""(?ix)
    (?:
        \banswer(?:\s+(?:choice|option|letter))?
            \s*(?:is|would\s+be|should\s+be|will\s+be|must\s+be|=|:|-|\u2014)?
            (?:\s*(?:option|choice|letter))?
      | \b(?:correct|right|best|final)\s+(?:option|choice|letter|one)
            \s*(?:is|would\s+be|should\s+be|will\s+be|=|:|-|\u2014)?
      | \bI\s*(?:would\s+|will\s+|'ll\s+|'d\s+)?(?:choose|pick|select|go\s+with)(?:\s+(?:option|choice))?
    )
    \s*[:\-]?\s*(?P<open>[(\[{"'*]*)\s*
    (?P<letter>[A-Za-z])
    (?P<close>[)\]}"'*]*)
    (?=(?P<after>\s*[A-Za-z]{1,12})?)
    (?![A-Za-z0-9])
    """
)
_BOXED = re.compile(r"\\boxed\{\s*\(?\s*([A-Za-z])\s*\)?\s*\}")
# weak statements: "Option B", "choice (C)"
_WEAK = re.compile(r"(?i)\b(?:option|choice)\s*[:\-]?\s*[(\[]?\s*(?P<letter>[A-Za-z])\s*[)\]]?(?![A-Za-z0-9])")
# a letter leading a line: "B) text", "(B) text", "B. text", "B: text", "**B**", "[B]", "- B)"
_LEADING = re.compile(
    r"""(?x)^\s*(?:[-*>]\s+)?(?:\*\*|__)?
    (?:
        [(\[](?P<p>[A-Za-z])[)\]]            # (B) [B] (b)
      | (?P<r>[A-Za-z])\)                    # B) b)
      | (?P<d>[A-Z])(?:\*\*|__)?[.:](?=\s|$) # B. B: **B**:
      | (?P<b>[A-Z])(?:\*\*|__)(?=\W|$)      # **B**
      | (?P<e>[A-Z])\s*$                     # B alone on its line
    )"""
)
# a letter marked inside a sentence: "(B)", "(b)", "[B]", "**B**", "B)" after a space
_INLINE = re.compile(r"\(([A-Za-z])\)|\[([A-Z])\]|\*\*\(?([A-Z])\)?\*\*|(?<![\w(\[])([A-Z])\)")
_LONE = re.compile(r"""[\s*_(\["'`]*([A-Za-z])[\s*_)\]"'`.:!]*""")
# English words that may follow a bare "A" or "I" after "the answer is" when it is still the option letter
_LETTER_FOLLOWERS = {"because", "since", "as", "and", "which", "for", "with", "from", "is", "here", "or", "but",
                     "so", "this", "that", "it", "the", "in", "on", "option", "choice"}


def choice_count(query: Query) -> int:
    """How many options the query has: from ``meta["choices"]``, else from "X) " lines in the prompt, else 10."""
    choices = query.meta.get("choices") if query.meta else None
    if choices:
        return min(len(choices), len(LETTERS))
    letters = re.findall(r"(?m)^([A-Z])\) ", query.prompt)
    n = 0
    for letter in letters:  # count the run A, B, C, ... as rendered by the loader
        if letter == LETTERS[n]:
            n += 1
    return n if n >= 2 else 10


def _strong_letter(m: re.Match, valid: str) -> str | None:
    letter = m.group("letter")
    if letter.upper() not in valid:
        return None
    bracketed = bool(m.group("open")) or bool(m.group("close"))
    if bracketed:
        return letter.upper()
    following = (m.group("after") or "").strip().lower()
    word_follows = bool(following)
    if letter.islower():
        # "answer: b" yes; "the answer is a good question" no
        if word_follows and (letter in "ai" or following not in _LETTER_FOLLOWERS):
            return None
        return letter.upper()
    if letter in "AI" and word_follows and following not in _LETTER_FOLLOWERS:
        return None  # "the answer is A cell ..." reads as an article
    return letter


def _norm_words(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _option_text_match(answer: str, choices: list[str], valid: str) -> str | None:
    hay = f" {_norm_words(answer)} "
    hits = []
    for i, opt in enumerate(choices[: len(valid)]):
        o = _norm_words(str(opt))
        if o and f" {o} " in hay:
            hits.append((i, o))
    # an option whose text lies inside another matching option's text ("Paris" in "Paris, Texas") drops out
    kept = [(i, o) for i, o in hits if not any(o != o2 and f" {o} " in f" {o2} " for _, o2 in hits)]
    if len(kept) == 1:
        return LETTERS[kept[0][0]]
    return None


def extract_choice(answer: str, n_options: int = 10, choices: list[str] | None = None) -> str | None:
    """The option letter a free-form answer chose, or None.

    In order: the last strong statement ("the answer is (B)", "Answer: B", "I choose B", ``\\boxed{B}``); a lone
    letter; the exact text of one option; letters leading lines ("B) text", "**B**") when they all agree (three or
    more different ones are a list of options, not a choice); "Option B" mentions when they agree;
    marked letters inside text ("(B)", "**B**") when they agree; finally the full text of exactly one option.
    Only letters within the option range count. A capital "A" or "I" starting an ordinary sentence is not a letter.
    Lowercase letters count only where unambiguous ("answer: b", "(b)", "b)", a lone "b").
    """
    if not answer or not answer.strip():
        return None
    n = max(1, min(n_options, len(LETTERS)))
    valid = LETTERS[:n]
    text = answer.strip()
    plain = _MD.sub("", text)

    strong: list[tuple[int, str]] = []
    for m in _STRONG.finditer(plain):
        letter = _strong_letter(m, valid)
        if letter:
            strong.append((m.start(), letter))
    for m in _BOXED.finditer(text):
        if m.group(1).upper() in valid:
            strong.append((m.start() + len(text), m.group(1).upper()))  # boxed wins: it is a final answer
    if strong:
        return max(strong)[1]

    m = _LONE.fullmatch(text)
    if m and m.group(1).upper() in valid:
        return m.group(1).upper()

    if choices:  # the answer is exactly one option's text
        norm = _norm_words(text)
        same = [i for i, c in enumerate(choices[: len(valid)]) if _norm_words(str(c)) == norm]
        if len(same) == 1:
            return LETTERS[same[0]]

    leading = set()
    for line in text.splitlines():
        lm = _LEADING.match(line)
        if lm:
            letter = next(g for g in lm.groups() if g).upper()  # lowercase only in "(b)" and "b)"
            if letter in valid:
                leading.add(letter)
    if len(leading) == 1:
        return leading.pop()
    if len(leading) >= 3:  # a list of options ("A) ...\nB) ...\nC) ..."), not a choice
        return None

    weak = {m.group("letter").upper() for m in _WEAK.finditer(plain)
            if m.group("letter").upper() in valid
            and (m.group("letter").isupper() or m.group("letter") not in "ai")}
    if len(weak) == 1:
        return weak.pop()

    inline = {next(g for g in m.groups() if g).upper() for m in _INLINE.finditer(text)}
    inline &= set(valid)
    if len(inline) == 1:
        return inline.pop()

    if choices:
        return _option_text_match(text, choices, valid)
    return None


_LETTER_THEN_TEXT = re.compile(r"(?<![A-Za-z0-9])\(?([A-Z])[).:]\)?[ \t]*([^\n]+)")


def contradicting_option(answer: str, letter: str, choices: list[str] | None) -> int | None:
    """The index of another option whose exact text follows ``letter`` in the answer ("A) Earth" where Earth is
    option B), or None when the answer is consistent or the text matches no option."""
    if not choices:
        return None
    own = LETTERS.index(letter)
    texts = [_norm_words(str(c)) for c in choices]
    for m in _LETTER_THEN_TEXT.finditer(_MD.sub("", answer)):
        if m.group(1) != letter:
            continue
        said = _norm_words(m.group(2))
        if not said or (own < len(texts) and said == texts[own]):
            continue
        others = [i for i, t in enumerate(texts) if t == said and i != own]
        if len(others) == 1:
            return others[0]
    return None


class MultipleChoiceScorer:
    """The reference is a letter; the answer's chosen letter (see :func:`extract_choice`) must equal it.

    An answer that contradicts itself, giving one letter with another option's exact text ("A) Earth" where
    Earth is option B), is wrong whatever the reference: ``correct=False``, ``prediction=None`` and a note.
    """

    name = MC

    def score(self, query: Query, answer: str) -> Score:
        ref = (query.reference or "").strip().upper()
        if len(ref) != 1 or ref not in LETTERS:
            return Score(None, None, self.name, f"reference {query.reference!r} is not an option letter")
        choices = query.meta.get("choices") if query.meta else None
        pred = extract_choice(answer or "", choice_count(query), choices)
        if pred is None:
            return Score(False, None, self.name, "no option letter found" if (answer or "").strip() else "empty answer")
        other = contradicting_option(answer, pred, choices)
        if other is not None:
            return Score(False, None, self.name, f"contradictory answer: letter {pred} with the text of option "
                                                 f"{LETTERS[other]}")
        return Score(pred == ref, pred, self.name)


# ---------------------------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------------------------

_NUMBER = re.compile(
    r"""(?x)
    (?<![\w.])
    (?P<sign>[-\u2212+])?(?:\$\s?)?(?P<sign2>[-\u2212])?
    (?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)?
    (?P<frac>\.\d+)?
    (?(int)|(?(frac)|(?!)))                   # at least one of int / frac
    (?P<exp>[eE][-+]?\d+)?
    (?:\s*/\s*(?P<den>\d+(?:\.\d+)?)(?![\d,]))?
    (?P<pct>\s?%)?
    """
)
_NUM_MARKER = re.compile(
    r"(?i)####|\\boxed\{|\bfinal\s+answer\b\s*(?:is\b|:|=)?"
    r"|\banswer\b\s*(?:is\b|:|=|would\s+be\b|will\s+be\b|should\s+be\b)"
)
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n")


def _to_fraction(m: re.Match) -> Fraction | None:
    try:
        body = (m.group("int") or "0").replace(",", "") + (m.group("frac") or "") + (m.group("exp") or "")
        value = Fraction(body)
        if m.group("den"):
            den = Fraction(m.group("den"))
            if den == 0:
                return None
            value /= den
    except (ValueError, ZeroDivisionError):
        return None
    if m.group("sign") in ("-", "\u2212") or m.group("sign2"):
        value = -value
    return value


def _canonical(m: re.Match) -> str:
    s = "-" if (m.group("sign") in ("-", "\u2212") or m.group("sign2")) else ""
    s += (m.group("int") or "0").replace(",", "") + (m.group("frac") or "") + (m.group("exp") or "")
    if m.group("den"):
        s += "/" + m.group("den")
    return s


def parse_number(text: str) -> Fraction | None:
    """The value of a string that is one number ("1,234.5", "$-3", "42%", "3/4", "1e3"), else None."""
    m = _NUMBER.fullmatch(text.strip().rstrip(".")) if text else None
    return _to_fraction(m) if m else None


_LEADING_EXPR = re.compile(r"[\s$%()\d.,+\-*/^\u00d7\u00f7\u2212]*\d[\s$%()\d.,+\-*/^\u00d7\u00f7\u2212]*=")


def _first_number(segment: str) -> re.Match | None:
    while (m := _LEADING_EXPR.match(segment)) is not None:  # "Answer: 10 + 5 = 15" -> 15
        segment = segment[m.end():]
    return _NUMBER.search(segment)


def _marker_segment(text: str, m: re.Match) -> str:
    rest = text[m.end():]
    if m.group(0) == "\\boxed{":
        return rest.split("}", 1)[0]
    lines = rest.split("\n")
    seg = lines[0]
    if not seg.strip():  # "Answer:\n42"
        seg = next((ln for ln in lines[1:] if ln.strip()), "")
    cut = _SENTENCE_END.search(seg)
    return seg[: cut.start()] if cut else seg


def extract_number(answer: str) -> tuple[str, Fraction] | None:
    """The number an answer gives, as (canonical text, value), or None.

    The number after the last answer marker ("####", "Answer:", "the answer is", ``\\boxed{}``) that has one,
    skipping a leading calculation ("Answer: 10 + 5 = 15"); otherwise, in the last sentence that has a number,
    the number after its last "=" or else its last number. Handles signs, "$",
    thousands commas, decimals, percents, exponents and simple fractions.
    """
    if not answer:
        return None
    text = _MD.sub("", answer).replace("\u2212", "-")
    for m in reversed(list(_NUM_MARKER.finditer(text))):
        nm = _first_number(_marker_segment(text, m))
        if nm:
            value = _to_fraction(nm)
            if value is not None:
                return _canonical(nm), value
    for sentence in reversed(_SENTENCE_SPLIT.split(text)):  # the last sentence that has a number
        found = [nm for nm in _NUMBER.finditer(sentence) if _to_fraction(nm) is not None]
        if not found:
            continue
        if "=" in sentence:  # "she reads 15 * 14 = 210 pages in 2 weeks" -> 210
            after = _first_number(sentence.rsplit("=", 1)[1])
            if after is not None and _to_fraction(after) is not None:
                return _canonical(after), _to_fraction(after)
        return _canonical(found[-1]), _to_fraction(found[-1])
    return None


class NumericScorer:
    """The reference is a number; the answer's number must be within the query's relative tolerance of it
    (default 1e-6; absolute 1e-9 so that a reference of 0 can match)."""

    name = NUMERIC

    def score(self, query: Query, answer: str) -> Score:
        ref = parse_number(query.reference or "")
        if ref is None:
            return Score(None, None, self.name, f"reference {query.reference!r} is not a number")
        got = extract_number(answer or "")
        if got is None:
            return Score(False, None, self.name, "no number found" if (answer or "").strip() else "empty answer")
        text, value = got
        rel = query.tolerance if query.tolerance is not None else DEFAULT_REL_TOL
        ok = value == ref or math.isclose(float(value), float(ref), rel_tol=rel, abs_tol=DEFAULT_ABS_TOL)
        return Score(ok, text, self.name)


# ---------------------------------------------------------------------------------------------------------------
# exact match
# ---------------------------------------------------------------------------------------------------------------

_ARTICLES = {"a", "an", "the"}
_ALTERNATIVES = {"or", "nor", "neither", "but", "however"}  # anywhere in a candidate: it hedges
_NEGATIONS = {"not", "never", "no"}  # before the reference ("it is not Paris"); "Paris, not Lyon" is fine
_TEXT_MARKER = re.compile(r"(?i)\b(?:final\s+answer|answer)\b\s*(?:is\b|:|=|-)")


def normalize_text(text: str) -> str:
    """Lowercase, strip accents, punctuation and articles, collapse spaces ("The  Milky-Way!" -> "milky way").

    When only articles remain (the answer "A"), they are kept."""
    words = _norm_words(_MD.sub("", text.replace("&", " and "))).split()
    kept = [w for w in words if w not in _ARTICLES]
    return " ".join(kept if kept else words)


def _phrase_in(needle: str, hay: str) -> bool:
    return bool(needle) and f" {needle} " in f" {hay} "


def _hedges(words: list[str]) -> bool:
    return any(w in _ALTERNATIVES for w in words)


def _negated_before(words: list[str], target: list[str]) -> bool:
    """Whether a negation ("not", "never", "no", "isn't") comes before the first occurrence of target."""
    n = len(target)
    first = next((i for i in range(len(words) - n + 1) if words[i: i + n] == target), len(words))
    before = words[:first]
    return any(w in _NEGATIONS or (w == "t" and i > 0 and before[i - 1].endswith("n"))
               for i, w in enumerate(before))


def _contains_plainly(candidate: str, target: str) -> bool:
    """``candidate`` (normalised) names ``target`` (normalised) as a whole phrase, without hedging or negating it.

    A one-character target ("i", "x") must be a digit to be found this way; otherwise it must match exactly."""
    if not _phrase_in(target, candidate) or (len(target) < 2 and not target.isdigit()):
        return False
    words, tw = candidate.split(), target.split()
    if any(w in _ALTERNATIVES or w in _NEGATIONS for w in tw):  # the reference itself hedges: take it as it is
        return True
    return not _hedges(words) and not _negated_before(words, tw)


def _first_sentence(text: str) -> str:
    cut = _SENTENCE_END.search(text)
    return text[: cut.start()] if cut else text


def _exact_candidates(answer: str) -> list[tuple[str, int]]:
    """(candidate, how many words it may have and still pass by containing the reference; 0: must equal it)."""
    text = answer.strip()
    markers = list(_TEXT_MARKER.finditer(text))
    if markers:
        rest = text[markers[-1].end():]
        lines = rest.split("\n")
        seg = lines[0].strip() or next((ln.strip() for ln in lines[1:] if ln.strip()), "")
        # the whole segment may equal the reference ("St. Louis"); its first sentence may contain it
        return [(seg, 0), (_first_sentence(seg), EXACT_SENTENCE_MAX_WORDS)] if seg else []
    first_line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return [(text, EXACT_CONTAINMENT_MAX_WORDS), (first_line, 0),
            (_first_sentence(first_line), EXACT_SENTENCE_MAX_WORDS)]


class ExactScorer:
    """The normalised answer must equal the normalised reference or one of ``meta["aliases"]``.

    An answer also passes when it contains the reference as a whole phrase, does not hedge ("or", "but",
    "however") and does not negate it ("not", "never", "no", "n't" before it; "Paris, not Lyon" passes), in one
    of: the whole answer when it has at most 12 words ("Hmm. It's Paris."), or its first sentence when that has
    at most 30 words ("The capital of France is Paris, a city of art."). A one-letter reference must match
    exactly. With an "Answer:" marker only the text after the last marker is read.
    Long answers that mention the reference somewhere later do not pass; a short one that names it among other
    things ("Lyon. Paris is bigger.") does.
    """

    name = EXACT

    def score(self, query: Query, answer: str) -> Score:
        refs = [query.reference or ""] + [str(a) for a in (query.meta.get("aliases") or [])]
        targets = [t for t in (normalize_text(r) for r in refs) if t]
        if not targets:
            return Score(None, None, self.name, "reference is empty after normalisation")
        if not (answer or "").strip():
            return Score(False, None, self.name, "empty answer")
        candidates = [(c, n) for c, n in _exact_candidates(answer) if c.strip()]
        if not candidates:
            return Score(False, None, self.name, "no answer after the answer marker")
        for cand, max_words in candidates:
            norm = normalize_text(cand)
            for target in targets:
                if norm == target or (len(norm.split()) <= max_words and _contains_plainly(norm, target)):
                    return Score(True, _clip(cand), self.name)
        return Score(False, _clip(min((c for c, _ in candidates), key=len)), self.name)


def _clip(text: str, n: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


# ---------------------------------------------------------------------------------------------------------------
# regex and no reference
# ---------------------------------------------------------------------------------------------------------------


class RegexScorer:
    """The reference is a regular expression searched in the answer (multiline: ``^`` matches at each line)."""

    name = REGEX

    def score(self, query: Query, answer: str) -> Score:
        try:
            pattern = re.compile(query.reference or "", re.MULTILINE)
        except re.error as exc:
            return Score(None, None, self.name, f"invalid reference regex: {exc}")
        if not (answer or "").strip():
            return Score(False, None, self.name, "empty answer")
        m = pattern.search(answer)
        return Score(m is not None, _clip(m.group(0)) if m else None, self.name)


class NoReferenceScorer:
    """Queries without a reference: counted, never scored."""

    name = NONE

    def score(self, query: Query, answer: str) -> Score:
        return Score(None, None, self.name, "no reference")


# ---------------------------------------------------------------------------------------------------------------
# registry and dispatch
# ---------------------------------------------------------------------------------------------------------------

_RULE_KINDS = (MC, NUMERIC, EXACT, REGEX)
_REGISTRY: dict[str, Scorer] = {
    MC: MultipleChoiceScorer(),
    NUMERIC: NumericScorer(),
    EXACT: ExactScorer(),
    REGEX: RegexScorer(),
    NONE: NoReferenceScorer(),
}


def register_scorer(kind: str, scorer: Scorer, *, replace: bool = False) -> None:
    """Use ``scorer`` for queries of ``kind`` (a new kind such as "judge", or a built-in one with replace=True)."""
    if not kind or not isinstance(kind, str):
        raise ValueError("a scorer kind must be a non-empty string")
    if kind in _REGISTRY and not replace:
        raise ValueError(f'a scorer is already registered for kind "{kind}" (pass replace=True)')
    _REGISTRY[kind] = scorer


def unregister_scorer(kind: str) -> None:
    """Remove a scorer added with :func:`register_scorer` (built-in ones cannot be removed)."""
    if kind in (MC, NUMERIC, EXACT, REGEX, NONE):
        raise ValueError(f'the built-in scorer for "{kind}" cannot be removed; replace it instead')
    _REGISTRY.pop(kind, None)


def scorer_kinds() -> tuple[str, ...]:
    """Every kind a scorer is registered for."""
    return tuple(_REGISTRY)


def get_scorer(kind: str) -> Scorer:
    """The scorer registered for ``kind``; KeyError naming the known kinds otherwise."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise KeyError(f'no scorer for kind "{kind}" (known: {", ".join(_REGISTRY)})') from None


def score_answer(query: Query, answer: str | None, *, scorer: str | Scorer | None = None) -> Score:
    """Score one answer. ``scorer`` overrides the choice by ``query.kind`` (a registered kind or a Scorer).

    Never raises: a missing reference (for the rule scorers), an unknown kind or a failing scorer give
    ``correct=None`` with a note. A registered custom scorer (a judge) is called even without a reference.
    """
    if scorer is None or isinstance(scorer, str):
        kind = scorer or query.kind
        if kind == NONE or (query.reference is None and kind in _RULE_KINDS):
            return Score(None, None, NONE, "no reference")
        chosen = _REGISTRY.get(kind)
        if chosen is None:
            return Score(None, None, NONE, f'no scorer for kind "{kind}"')
    else:
        chosen = scorer  # a Scorer object decides for itself, with or without a reference
    try:
        return chosen.score(query, answer or "")
    except Exception as exc:  # a judge that timed out, a plugin bug: unscorable, not wrong
        name = getattr(chosen, "name", type(chosen).__name__)
        return Score(None, None, name, f"scorer failed: {type(exc).__name__}: {exc}")
