"""Rule-based scorers: turn a model's free-form answer into a verdict against the query's reference.

Decisions shared by every scorer here:

- ``correct=None`` (unscorable) only when the query has no reference (kind ``none`` or reference ``None``),
  when no scorer is registered for the query's kind, or when the scorer itself failed (for example a future LLM
  judge that timed out). These queries are kept out of the accuracy denominator.
- An answer from which nothing can be extracted (empty text, no option letter, no number) is *wrong*:
  ``correct=False`` with ``prediction=None`` and a note saying what was missing. A model that does not give an
  answer did not answer correctly.
- An answer that names two or more distinct candidates as its final answer ("B or C", "either 41 or 42",
  "between 3 and 5", "Paris or Lyon") is *wrong* whatever the reference: ``correct=False``, the candidates as
  prediction ("B|C") and the note "ambiguous". A hedge must never score as a right answer.
- An explicit final answer ("Answer:", "the answer is", "Final answer", "####", ``\\boxed{}``) outranks letters
  and numbers in the working, and a later explicit answer or self-correction ("No wait, it's D.") outranks an
  earlier one.
- Scorers are looked up by kind in a registry; :func:`register_scorer` plugs in another one (a judge, a
  domain-specific rule) under a new kind or in place of a built-in one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from fractions import Fraction
from functools import lru_cache

from .base import EXACT, MC, NONE, NUMERIC, REGEX, Query, Score, Scorer

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_REL_TOL = 1e-6
DEFAULT_ABS_TOL = 1e-9
EXACT_CONTAINMENT_MAX_WORDS = 12  # a whole answer this short may contain the reference among other words
EXACT_SENTENCE_MAX_WORDS = 30  # so may a first sentence this short

# ---------------------------------------------------------------------------------------------------------------
# shared: cleaning, hedges, self-corrections
# ---------------------------------------------------------------------------------------------------------------

AMBIGUOUS = "ambiguous"  # the note of an answer that names two or more candidates as its final answer


class _Hedge(tuple):
    """Two or more distinct candidates named together as one final answer ("B or C", "either 41 or 42")."""


_MD = re.compile(r"\*\*|__|`")
_HEADER = re.compile(r"(?m)^[ \t]{0,3}(?:#{1,3}|#{5,6})[ \t]+")  # "####" stays: it is the GSM8K answer marker
_CALC = re.compile(r"<<[^<>\n]*>>")  # GSM8K calculator annotations: "48/2 = <<48/2=24>>24"
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_WRAP = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_PAREN_FRAC = re.compile(r"\((-?[\d.,]+)\)/\((-?[\d.,]+)\)")
_LATEX_THIN = re.compile(r"(?<=\d)\\[,;:! ](?=\d)")  # "1\,234"
_LATEX_SUBS = (("\\$", "$"), ("\\%", "%"), ("\\left", ""), ("\\right", ""), ("\\times", " * "), ("\\cdot", " * "),
               ("\\div", " / "), ("\\(", " "), ("\\)", " "), ("\\[", " "), ("\\]", " "), ("\\,", " "), ("\\;", " "),
               ("\\!", ""), ("\u2019", "'"), ("\u2212", "-"))


def _clean(text: str) -> str:
    """The answer without markdown emphasis, headers, GSM8K calculator notes and LaTeX wrappers.

    ``\\boxed{`` is kept (it marks a final answer); ``\\frac{a}{b}`` becomes ``a/b``; ``\\text{x}`` becomes ``x``.
    """
    text = _HEADER.sub("", _MD.sub("", text))
    if "<<" in text:
        text = _CALC.sub("", text)
    if "\\" in text:
        text = _LATEX_THIN.sub("", text)
        for _ in range(2):  # \text{\frac{1}{2}}, \frac{\text{3}}{4}
            text = _LATEX_WRAP.sub(r"\1", _LATEX_FRAC.sub(r"(\1)/(\2)", text))
        text = _PAREN_FRAC.sub(r"\1/\2", text)  # (3)/(4) -> 3/4
    for a, b in _LATEX_SUBS:
        if a in text:
            text = text.replace(a, b)
    return text


# a self-correction: "No wait, it's D", "Actually, 14", "12, make that 14", "Sorry, the answer is C"
_CUE_WORD = r"(?:no|nope|wait|actually|oops|sorry)"
_FILLER = (r"(?:it'?s|it\s+is|it\s+(?:should|must|would|has\s+to)\s+be|that'?s|that\s+is|the\s+(?:correct\s+|right\s+"
           r"|real\s+|final\s+)?answer\s+is|should\s+be|make\s+(?:that|it))")
_CORRECTION = re.compile(
    rf"""(?ix)
    (?:
        \b(?:no\s*,?\s*wait|wait\s*,?\s*no|scratch\s+that|make\s+(?:that|it)|I\s+mean[t]?|on\s+second\s+thought
            |correction|I\s+was\s+wrong|my\s+mistake)\b
      | \b{_CUE_WORD}\b(?=\s*[,.!:;\u2014-]|\s+{_FILLER}\b)
    )
    (?:[\s,.!:;\u2014-]*\b{_CUE_WORD}\b)*
    [\s,.!:;\u2014-]*
    (?:{_FILLER}\b\s*[:,]?\s*)?
    """
)
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)")
_END_OR_LINE = re.compile(r"[.!?;](?=\s|$)|\n")
_QUESTION_NEXT = re.compile(r"\s*\?")


def _sentence_end(text: str, pos: int) -> int:
    """Where the sentence (or line) going on at ``pos`` ends."""
    m = _END_OR_LINE.search(text, pos)
    return m.start() if m else len(text)


def _sentence_start(text: str, pos: int) -> int:
    """Where the sentence (or line) going on at ``pos`` began."""
    i = pos - 1
    while i >= 0:
        c = text[i]
        if c == "\n" or (c in ".!?;" and i + 1 < pos and text[i + 1].isspace()):
            return i + 1
        i -= 1
    return 0


# ---------------------------------------------------------------------------------------------------------------
# multiple choice
# ---------------------------------------------------------------------------------------------------------------

# explicit final answers: "the answer is", "Answer:", "correct option is", "I choose", "Final answer", "####",
# "\boxed{" (the letter list after them is read by _letter_list)
_STRONG_LEAD = re.compile(
    r"""(?ix)
    \banswers?(?:\s+(?:choice|option|letter)s?)?
        \s*(?:is|are|would\s+be|should\s+be|will\s+be|must\s+be|=|:|-|\u2014)?
        (?:\s*(?:option|choice|letter))?
  | \b(?:correct|right|best|final)\s+(?:option|choice|letter|one)s?
        \s*(?:is|are|would\s+be|should\s+be|will\s+be|=|:|-|\u2014)?
        (?:\s*(?:option|choice|letter))?
  | \bI\s*(?:would\s+|will\s+|'ll\s+|'d\s+)?(?:choose|pick|select|go\s+with)(?:\s+(?:option|choice))?
  | \#\#\#\#
  | (?=\\boxed\{)
    """
)
# weaker statements, read only when no explicit one is found: "it's D", "so C", "I think B", "which is B"
_MEDIUM_LEAD = re.compile(
    r"""(?ix)
    \b(?:it'?s|it\s+is|it\s+(?:must|should|would|could|might|has\s+to)\s+be|that'?s|that\s+is|which\s+is
        |this\s+is|must\s+be|should\s+be|could\s+be|might\s+be|probably|likely|maybe|perhaps
        |I\s+(?:think|believe|guess|say)|I'd\s+say|so|thus|therefore|hence)\b
    (?:\s*(?:option|choice)\b)?
    """
)
# "B is correct", "B is the right one"
_LETTER_IS_RIGHT = re.compile(r"(?<![\w'])[(\[]?(?P<letter>[A-Z])[)\]]?[ \t]+is[ \t]+(?:the[ \t]+)?"
                              r"(?:correct|right|best|true)\b(?![ \t]*\?)")
_LIST_OPEN = re.compile(r"(?i)\s*[:,\-\u2014]?\s*(?:(?P<opener>either|both|between)\s+)?")
_ITEM = re.compile(
    r"""(?x)
    (?P<open>(?:\\boxed\{\s*)?[(\[{"'*]*)[ \t]*
    (?P<letter>[A-Za-z])
    (?P<close>[)\]}"'*]*)
    (?![A-Za-z0-9]|'[A-Za-z])
    (?=(?P<after>\s*[A-Za-z]{1,12})?)
    """
)
_LETTER_SEP = re.compile(r"(?i)[ \t]*(?:,[ \t]*)?(?:\b(?:and/or|or|and)\b|&|/|,)[ \t]*"
                         r"(?:(?:maybe|perhaps|possibly|probably|even|also)\b[ \t]*)?")
_NEGATED = re.compile(r"(?i)\s*(?P<verb>is|are|is\s*n[o']t|are\s*n[o']t)\s+(?:(?:both|all|also|clearly|definitely|"
                      r"obviously|certainly)\s+)?(?:wrong|incorrect|false|not\b|out\b|eliminated|ruled|excluded)")
_ECHO_NEXT = re.compile(r"[^\n]*\n\s*(?:[-*]\s+)?[(\[]?([A-Z])[).\]:]")  # the next line starts with another label
_NOT_ALTERNATIVE = re.compile(r"(?i)\b(?:because|since|as|which|that|not|than|rather|instead|unlike|while)\b")
_OR_LATER = re.compile(r"(?i)\bor\b[ \t]+(?:(?:maybe|perhaps|possibly|even|option|choice)\b[ \t]*)?")
# a hedge between letters anywhere: "B or C", "either A or D", "both B and C", "B and C are both correct"
_OR_PAIR = re.compile(
    r"""(?x)
    (?<![\w'])(?P<opener>(?i:either|both|between)\s+)?
    [(\[]?[A-Z][)\]]?
    (?P<sep>[ \t]*,?[ \t]*(?i:or|and)[ \t]+)
    [(\[]?[A-Z][)\]]?(?![\w'])
    """
)
_INLINE_MATH = re.compile(r"\$\s*([^$\n]{1,40}?)\s*\$")
_ONLY_PUNCT = re.compile(r"[\s.!)\]*]*")
_BOTH_RIGHT = re.compile(r"(?i)\s*(?:are|were)\s+(?:both\s+|all\s+)?(?:correct|right|true|possible|plausible|valid)")
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
                     "so", "this", "that", "it", "the", "in", "on", "option", "choice", "are", "nor"}


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


def _accept_letter(m: re.Match) -> str | None:
    """The option letter an item names, or None when it reads as a word ("A cell", "I think", "a good one")."""
    letter = m.group("letter")
    if m.group("open") or m.group("close"):
        return letter.upper()
    following = (m.group("after") or "").strip().lower()
    if letter.islower():
        # "answer: b" yes; "the answer is a good question" no
        if following and (letter in "ai" or following not in _LETTER_FOLLOWERS):
            return None
        return letter.upper()
    if letter in "AI" and following and following not in _LETTER_FOLLOWERS:
        return None  # "the answer is A cell ..." reads as an article
    return letter


def _is_label(m: re.Match) -> bool:
    """An option label as the options are written: "D)" (a closing bracket without an opening one)."""
    return ")" in m.group("close") and "(" not in m.group("open")


def _letter_list(text: str, pos: int, valid: str, choices: list[str] | None) -> str | _Hedge | None:
    """The letter(s) named at ``text[pos:]``: "B", "(B) or (C)", "either A or B", "A, B, or D", "\\boxed{B}".

    One valid letter: that letter. Two or more distinct letters: a hedge (letters beyond the options count too:
    "B or E" with four options still hedges). A letter followed by "is wrong" is dropped ("B, C is wrong" -> B);
    letters followed by "are wrong" are all dropped. A later "or C" / "or <option text>" in the same sentence
    also hedges ("B (carbon dioxide), or maybe C")."""
    opened = _LIST_OPEN.match(text, pos)
    pos = opened.end() if opened else pos
    named: list[str] = []
    end = first = pos
    label = False
    while True:
        im = _ITEM.match(text, pos)
        if not im:
            break
        if not named:
            first = im.start("letter") - len(im.group("open"))
        letter = _accept_letter(im)
        if letter is None:
            break
        end = im.end()
        neg = _NEGATED.match(text, end)
        if neg:
            if neg.group("verb").lower().startswith("are"):
                named = []
            break
        if named and label and not _is_label(im):
            break  # "D) I, II, and III": after a label "D)" comes the option's text, not more letters
        label = _is_label(im)
        if letter not in named:
            named.append(letter)
        sm = _LETTER_SEP.match(text, end)
        if not sm:
            break
        pos = sm.end()
    good = [x for x in named if x in valid]
    if not good:
        return None
    if len(named) >= 2:
        return _Hedge(named)
    echo = _ECHO_NEXT.match(text, end)
    if echo and echo.group(1) != good[0] and not text[text.rfind("\n", 0, first) + 1: first].strip():
        return None  # "The correct answer is:\n\nA) ...\nB) ...": the options echoed, no choice
    # "The answer is B (carbon dioxide), or maybe C." / "The answer is B or nitrogen."
    stop = _sentence_end(text, end)
    for om in _OR_LATER.finditer(text, end, stop):
        between = text[end: om.start()]
        if len(between.split()) > 4 or _NOT_ALTERNATIVE.search(between):
            break  # "B, because A or C would release it" is an explanation, not a second answer
        im = _ITEM.match(text, om.end())
        other = _accept_letter(im) if im else None
        if other and other != good[0] and other in valid:
            return _Hedge([good[0], other])
        if choices:
            rest = f" {_norm_words(text[om.end():stop])} "
            for i, opt in enumerate(choices[: len(valid)]):
                o = _norm_words(str(opt))
                if o and LETTERS[i] != good[0] and rest.startswith(f" {o} "):
                    return _Hedge([good[0], LETTERS[i]])
    return good[0]


@lru_cache(maxsize=2048)
def _as_written(text: str) -> str:
    return " ".join(text.replace("\u2212", "-").casefold().split()).rstrip(".")


@lru_cache(maxsize=2048)  # option texts come back for every answer to the same question
def _norm_words(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


_NON_WORD = re.compile(r"[^\w\s]")
_OPTION_NEGATIONS = {"not", "neither", "nor", "never", "no", "t"}  # "t": isn't, doesn't


def _option_text_match(answer: str, choices: list[str], valid: str) -> str | _Hedge | None:
    hay = f" {_norm_words(answer)} "
    hits = []
    for i, opt in enumerate(choices[: len(valid)]):
        o = _norm_words(str(opt))
        at = hay.find(f" {o} ") if o else -1
        # "carbon dioxide, not oxygen or nitrogen": an option named after a negation is ruled out, not chosen
        while at >= 0 and _OPTION_NEGATIONS & set(hay[:at].split()[-3:]):
            at = hay.find(f" {o} ", at + 1)
        if at >= 0:
            hits.append((i, o))
    # an option whose text lies inside another matching option's text ("Paris" in "Paris, Texas") drops out
    kept = [(i, o) for i, o in hits if not any(o != o2 and f" {o} " in f" {o2} " for _, o2 in hits)]
    if len(kept) == 1:
        return LETTERS[kept[0][0]]
    # "Oxygen or nitrogen" names two options as alternatives
    for i, o in kept:
        for j, o2 in kept:
            if i != j and f" {o} or {o2} " in hay:
                return _Hedge([LETTERS[i], LETTERS[j]])
    return None


def _pick_choice(answer: str, n_options: int, choices: list[str] | None) -> str | _Hedge | None:
    """The option letter an answer chose, a hedge between letters, or None (see :func:`extract_choice`)."""
    if not answer or not answer.strip():
        return None
    n = max(1, min(n_options, len(LETTERS)))
    valid = LETTERS[:n]
    text = answer.strip()
    plain = _clean(text)
    if "$" in plain:  # "$B$", "$\boxed{B}$"
        plain = _INLINE_MATH.sub(r"\1", plain)

    # 1. explicit final answers and self-corrections: the last one wins
    finals: list[tuple[int, str | _Hedge]] = []
    listed = 0  # "\boxed{B} or \boxed{C}": the second box is part of the first statement's list
    for m in _STRONG_LEAD.finditer(plain):
        if m.start() < listed:
            continue
        pick = _letter_list(plain, m.end(), valid, choices)
        if pick:
            finals.append((m.start(), pick))
            listed = _list_end(plain, m.end())
    for m in _CORRECTION.finditer(plain):
        pick = _letter_list(plain, m.end(), valid, choices)
        if pick:
            finals.append((m.start(), pick))
    if finals:
        return max(finals, key=lambda f: f[0])[1]

    # 2. the whole answer is a letter, or a list of letters ("B or C", "(A) and (C)", "B/C")
    lone = _LONE.fullmatch(plain)
    if lone and lone.group(1).upper() in valid:
        return lone.group(1).upper()
    if choices:  # the answer is exactly one option's text: as written ("-3/2" vs "3/2"), else normalised
        for key in (_as_written, _norm_words):
            norm = key(text)
            same = [i for i, c in enumerate(choices[: len(valid)]) if key(str(c)) == norm]
            if len(same) == 1:
                return LETTERS[same[0]]
    lines = [ln for ln in plain.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    for candidate in (plain, last):
        pick = _letter_list(candidate, 0, valid, choices)
        if isinstance(pick, _Hedge) and _ONLY_PUNCT.fullmatch(candidate, _list_end(candidate)):
            return pick

    # 3. weaker statements: "it's D", "so C", "I think B", "B is correct"; the last one wins
    medium = [(m.start(), p) for m in _MEDIUM_LEAD.finditer(plain)
              if (p := _letter_list(plain, m.end(), valid, choices))]
    medium += [(m.start(), m.group("letter")) for m in _LETTER_IS_RIGHT.finditer(plain) if m.group("letter") in valid]
    if medium:
        return max(medium, key=lambda f: f[0])[1]

    # 4. a hedge anywhere ("Hmm, B or C. Plants need carbon dioxide."); a question "A or B?" is not one
    for m in _OR_PAIR.finditer(plain):
        pick = _letter_list(plain, m.start(), valid, choices)
        if not isinstance(pick, _Hedge) or _QUESTION_NEXT.match(plain, _list_end(plain, m.start())):
            continue
        if "or" in m.group("sep").lower() or m.group("opener") or _BOTH_RIGHT.match(plain, _list_end(plain, m.start())):
            return pick

    # 5. letters leading lines, "Option B" mentions, marked letters: each when they all agree
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
            and (m.group("letter").isupper() or m.group("letter") not in "ai")
            and not _NEGATED.match(plain, m.end())}
    if len(weak) == 1:
        return weak.pop()

    inline = {next(g for g in m.groups() if g).upper() for m in _INLINE.finditer(text)}
    inline &= set(valid)
    if len(inline) == 1:
        return inline.pop()

    # 6. the full text of exactly one option somewhere in the answer
    if choices:
        return _option_text_match(text, choices, valid)
    return None


def _list_end(text: str, pos: int = 0) -> int:
    """Where the letter list starting at ``pos`` ends (see :func:`_letter_list`)."""
    opened = _LIST_OPEN.match(text, pos)
    end = pos = opened.end() if opened else pos
    while (im := _ITEM.match(text, pos)) and _accept_letter(im):
        end = im.end()
        sm = _LETTER_SEP.match(text, end)
        if not sm:
            break
        pos = sm.end()
    return end


def extract_choice(answer: str, n_options: int = 10, choices: list[str] | None = None) -> str | None:
    """The option letter a free-form answer chose, or None (nothing found, or a hedge between letters).

    In order: the last explicit statement or self-correction ("the answer is (B)", "Answer: B", "I choose B",
    ``\\boxed{B}``, "#### B", "C? No wait, it's D"); a lone letter; the exact text of one option; a weaker
    statement ("it's D", "so C", "I think B"); letters leading lines ("B) text", "**B**") when they all agree (three
    or more different ones are a list of options, not a choice); "Option B" mentions when they agree; marked
    letters inside text ("(B)", "**B**") when they agree; finally the full text of exactly one option.
    An answer naming two or more letters as its answer ("B or C", "either A or D", "(A) and (C)") chose none.
    Only letters within the option range count. A capital "A" or "I" starting an ordinary sentence is not a letter.
    Lowercase letters count only where unambiguous ("answer: b", "(b)", "b)", a lone "b").
    """
    pick = _pick_choice(answer, n_options, choices)
    return pick if isinstance(pick, str) else None


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

    An answer that names two or more letters as its answer ("B or C") is wrong whatever the reference:
    ``correct=False``, the letters as prediction ("B|C") and the note "ambiguous".
    An answer that contradicts itself, giving one letter with another option's exact text ("A) Earth" where
    Earth is option B), is wrong whatever the reference: ``correct=False``, ``prediction=None`` and a note.
    """

    name = MC

    def score(self, query: Query, answer: str) -> Score:
        ref = (query.reference or "").strip().upper()
        if len(ref) != 1 or ref not in LETTERS:
            return Score(None, None, self.name, f"reference {query.reference!r} is not an option letter")
        choices = query.meta.get("choices") if query.meta else None
        pred = _pick_choice(answer or "", choice_count(query), choices)
        if isinstance(pred, _Hedge):
            return Score(False, "|".join(pred), self.name, AMBIGUOUS)
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
    (?P<sign>[-+])?(?:\$\s?)?(?P<sign2>-)?
    (?:
        (?P<whole>\d+)[ \t]+(?P<mnum>\d+)[ \t]*/[ \t]*(?P<mden>\d+)(?![\d.,/])   # a mixed number: 2 1/2
      | (?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?!\d)|\d+)?
        (?P<frac>\.\d+)?
        (?(int)|(?(frac)|(?!)))               # at least one of int / frac
        (?P<exp>[eE][-+]?\d+)?
        (?:\s*/\s*(?P<den>\d+(?:\.\d+)?)(?![\d,]))?
    )
    (?P<pct>\s?%)?
    """
)
_NUMBER_NO_MIXED = re.compile(_NUMBER.pattern.replace(
    r"(?P<whole>\d+)[ \t]+(?P<mnum>\d+)[ \t]*/[ \t]*(?P<mden>\d+)(?![\d.,/])", r"(?!)"), re.X)
_NUM_MARKER = re.compile(
    r"(?i)####|\\boxed\{|\bfinal\s+answer\b\s*(?:is\b|:|=)?"
    r"|\banswers?\b\s*(?:is\b|:|=|would\s+be\b|will\s+be\b|should\s+be\b|must\s+be\b)"
    r"|(?m:^[ \t]*(?:final\s+)?answer[ \t]*$)"
)
_GROUPING = re.compile(r"[,\s\u00a0\u202f\u2009]")
# between two numbers of one answer: "41 or 42", "41 km or 42 km", "3, 4, or 5", "3 to 5", "41-42", "between 3 and 5"
_NUM_GAP = re.compile(
    r"""(?ix)^
    (?P<unit>(?:[ \t]*(?!(?:is|are|was|were|be|not|no|so|then|but|because|since|which|that|than|if|and|or|to|of
        |for|in)\b)[^\W\d_]{1,12}\.?){0,2})
    [ \t]*(?P<sep>,?[ \t]*(?:(?:and/or|or|and|to)\b|&)|,|\u2013|\u2014|-)[ \t]*
    (?:(?:maybe|perhaps|possibly|probably|even|else)[ \t]+)?
    $"""
)
_UNIT_AFTER = re.compile(r"[ \t]*([^\W\d_]{1,12})")
_EXPR_AFTER = re.compile(r"[ \t]*(?:[*\u00d7\u00f7+=^/]|[xX][ \t]*\d|-[ \t]*\d)")
_OPENER_BEFORE = re.compile(r"(?i)\b(?P<w>either|both|between|from)[ \t]+(?:\$[ \t]*)?$")
_TERMINAL = re.compile(r"(?:[ \t]*[^\W\d_]{1,12}\.?){0,2}[ \t]*[.!)\]]*[ \t]*$")
_PREFIX_OK = re.compile(
    r"(?i)^[\s:=~\u2248$(\[-]*(?:(?:about|approximately|approx\.?|around|roughly|exactly|only|just|total|a|an|the|"
    r"either|both|between|from|of|is|be|that|it'?s|it\s+is)\b[\s:,~\u2248$(\[]*)*$")
_WORDED_OP = re.compile(r"(?i)(?:[ \t]+[^\W\d_]{1,12})?[ \t]+(?:minus|plus|times|divided|multiplied|less|added|"
                        r"subtracted)\b")
_RESULT_WORD = re.compile(r"(?i)=|\b(?:is|are|equals|makes|gives|leaves)\b")
_STATEMENT_END = re.compile(r"(?i)(?:[ \t]*[^\W\d_]{1,12}\.?){0,3}[ \t]*(?:[.!?;,)]|$)|[ \t]*(?:because|since|as)\b")
_NON_SPACE = re.compile(r"\S")
_CORRECTION_OPENER = re.compile(r"(?i)(?:either|between|about|approximately)[ \t]+")
_BOXED_NUMBER = re.compile(r"\\boxed\{([^{}]*)\}")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;])\s+|\n")
_LEADING_EXPR = re.compile(r"[\s$%()\d.,+\-*/^\u00d7\u00f7xX]*\d[\s$%()\d.,+\-*/^\u00d7\u00f7xX]*=")


_VALUES: dict[tuple[bool, str], Fraction | None] = {}  # the same number text comes back often (working, prompt)


def _to_fraction(m: re.Match) -> Fraction | None:
    key = (m.re is _NUMBER, m.group(0))
    try:
        return _VALUES[key]
    except KeyError:
        pass
    value = _compute_fraction(m)
    if len(_VALUES) < 8192:
        _VALUES[key] = value
    return value


def _compute_fraction(m: re.Match) -> Fraction | None:
    try:
        if m.group("whole"):
            value = int(m.group("whole")) + Fraction(int(m.group("mnum")), int(m.group("mden")))
        else:
            body = _GROUPING.sub("", m.group("int") or "0") + (m.group("frac") or "") + (m.group("exp") or "")
            value = Fraction(body)
            if m.group("den"):
                den = Fraction(m.group("den"))
                if den == 0:
                    return None
                value /= den
    except (ValueError, ZeroDivisionError):
        return None
    if m.group("sign") == "-" or m.group("sign2"):
        value = -value
    return value


def _canonical(m: re.Match) -> str:
    s = "-" if (m.group("sign") == "-" or m.group("sign2")) else ""
    if m.group("whole"):
        return f"{s}{m.group('whole')} {m.group('mnum')}/{m.group('mden')}"
    s += _GROUPING.sub("", m.group("int") or "0") + (m.group("frac") or "") + (m.group("exp") or "")
    if m.group("den"):
        s += "/" + m.group("den")
    return s


def _numbers(text: str, start: int = 0, stop: int | None = None) -> list[re.Match]:
    """Every number in ``text[start:stop]`` with a value (a mixed number needs a proper fraction: "2 1/2")."""
    stop = len(text) if stop is None else stop
    found = []
    pos = start
    while (m := _NUMBER.search(text, pos, stop)) is not None:
        if m.group("whole") and int(m.group("mnum")) >= int(m.group("mden")):
            m = _NUMBER_NO_MIXED.match(text, m.start(), stop) or m
        if _to_fraction(m) is not None:
            found.append(m)
        pos = max(m.end(), m.start() + 1)
    return found


def parse_number(text: str) -> Fraction | None:
    """The value of a string that is one number ("1,234.5", "1 234", "$-3", "42%", "3/4", "2 1/2", "1e3"), else
    None."""
    if not text:
        return None
    text = text.strip().rstrip(".").replace("\u2212", "-")
    m = _NUMBER.fullmatch(text)
    if m and m.group("whole") and int(m.group("mnum")) >= int(m.group("mden")):
        m = None
    m = m or _NUMBER_NO_MIXED.fullmatch(text)
    return _to_fraction(m) if m else None


class _Num(tuple):
    """(canonical text, value) of one number an answer gives."""

    @classmethod
    def of(cls, m: re.Match) -> _Num:
        return cls((_canonical(m), _to_fraction(m)))


def _group(text: str, nums: list[re.Match], i: int, lo: int, explicit: bool) -> list[re.Match] | None:
    """The numbers ``nums[i]`` is listed with as alternatives ("41 or 42", "between 3 and 5", "3-5"), or None.

    ``or`` and the openers "either", "both", "between" always make a list; in an explicit final answer (from ``lo``)
    so do a rising range ("3 to 5", "3-5", "3–5", "from 3 to 5") and "and" or commas when the list ends the
    answer ("Answer: 41 and 42.").
    Numbers that start a calculation ("72, and 8 * 9 = 72") are not alternatives."""
    def link(a: int) -> str | None:  # the separator between nums[a] and nums[a + 1]
        gm = _NUM_GAP.match(text[nums[a].end(): nums[a + 1].start()])
        if not gm or _EXPR_AFTER.match(text, nums[a + 1].end()):
            return None
        unit_a = gm.group("unit").split()
        unit_b = _UNIT_AFTER.match(text, nums[a + 1].end())
        if unit_a and unit_b and unit_a[0].lower().rstrip("s") != unit_b.group(1).lower().rstrip("s"):
            return None  # "2 hours, or 120 minutes" restates one quantity in another unit
        return gm.group("sep").strip(" \t,").lower() or ","

    first = last = i
    while first > 0 and link(first - 1):
        first -= 1
    while last + 1 < len(nums) and link(last):
        last += 1
    if first == last:
        return None
    members = nums[first: last + 1]
    seps = [link(a) for a in range(first, last)]
    values = [v for m in members if (v := _to_fraction(m)) is not None]
    om = _OPENER_BEFORE.search(text, lo, members[0].start())
    opener = om.group("w").lower() if om else ""
    if any(s in ("or", "and/or") for s in seps) or opener in ("either", "both", "between"):
        return members
    if not explicit:  # "It prints the sum of the numbers from 0 to 4." describes, it does not hedge
        return None
    if all(s in ("to", "-", "\u2013", "\u2014") for s in seps) and values == sorted(values) and len(set(values)) > 1:
        return members
    if opener == "from":
        return members
    if members[0].start() >= lo and all(s not in ("to", "-", "\u2013", "\u2014") for s in seps) \
            and _TERMINAL.match(text, members[-1].end(), _sentence_end(text, members[-1].end())):
        return members
    return None


def _result(text: str, nums: list[re.Match], i: int, lo: int, explicit: bool) -> _Num | _Hedge:
    """``nums[i]`` as the answer, or the hedge it is part of (two or more distinct values)."""
    members = _group(text, nums, i, lo, explicit)
    if members:
        distinct: dict[Fraction | None, _Num] = {}
        for m in members:
            distinct.setdefault(_to_fraction(m), _Num.of(m))
        if len(distinct) > 1:
            return _Hedge(distinct.values())
    return _Num.of(nums[i])


def _result_at(text: str, chosen: re.Match, lo: int, explicit: bool) -> _Num | _Hedge:
    """``chosen`` as the answer, or the hedge it is part of within its sentence (from ``lo`` for "and" lists)."""
    start = _sentence_start(text, chosen.start())
    sentence = _numbers(text, start, _sentence_end(text, chosen.start()))
    k = next((j for j, n in enumerate(sentence) if n.span() == chosen.span()), None)
    if k is None:  # read differently from the sentence's start: no list to look for
        return _Num.of(chosen)
    return _result(text, sentence, k, max(lo, start), explicit)


def _marker_pick(text: str, pos: int, question: frozenset[Fraction]) -> _Num | _Hedge | None:
    """The answer after an answer marker: its first number ("Answer: 42 apples"), skipping a leading calculation
    ("Answer: 10 + 5 = 15") or a worded one ("Answer: 12 apples minus 5 is 7"); in a worded answer ("Answer: he has
    12 - 5 = 7 left") the number after its last "=", else its first number that is not one of the question's."""
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if not text[pos:line_end].strip():  # "Answer:\n42"
        nxt = _NON_SPACE.search(text, line_end)
        if not nxt:
            return None
        pos = nxt.start()
    stop = _sentence_end(text, pos)
    start = pos
    while (lm := _LEADING_EXPR.match(text, pos, stop)) is not None:
        pos = lm.end()
    nums = _numbers(text, pos, stop) or _numbers(text, start, stop)  # "Answer: 42 (= forty-two)"
    if not nums:
        return None
    pos = min(pos, nums[0].start())
    chosen = nums[0]
    if _WORDED_OP.match(text, chosen.end()):  # "Answer: 12 apples minus 5 apples is 7 apples" -> 7
        results = list(_RESULT_WORD.finditer(text, chosen.end(), stop))
        after = [n for n in nums if results and n.start() >= results[-1].end()]
        chosen = after[0] if after else chosen
    elif not _PREFIX_OK.match(text[pos: chosen.start()]):
        eq = text.rfind("=", pos, stop)
        after = [n for n in nums if n.start() > eq] if eq >= 0 else []
        fresh = [n for n in nums if _to_fraction(n) not in question]
        chosen = after[0] if after else (fresh[0] if fresh else nums[0])
    return _result_at(text, chosen, pos, explicit=True)


def _correction_pick(text: str, m: re.Match) -> _Num | _Hedge | None:
    """The number a self-correction gives ("No wait, it's 14."): it must end its statement ("14 apples.")."""
    pos = m.end()
    om = _CORRECTION_OPENER.match(text, pos)
    nm = _NUMBER.match(text, om.end() if om else pos)
    if not nm or _to_fraction(nm) is None:
        return None
    pick = _result_at(text, nm, pos, explicit=True)
    if isinstance(pick, _Num) and (_EXPR_AFTER.match(text, nm.end()) or not _STATEMENT_END.match(text, nm.end())):
        return None
    return pick


def _pick_number(answer: str, question: frozenset[Fraction] = frozenset()) -> _Num | _Hedge | None:
    """The number an answer gives, a hedge between numbers, or None (see :func:`extract_number`)."""
    if not answer:
        return None
    text = _clean(answer)
    # blank out \boxed{ and its closing brace, keeping positions: "\boxed{3} or \boxed{4}" reads "3 or 4"
    flat = _BOXED_NUMBER.sub(lambda b: " " * 7 + b.group(1) + " ", text) if "\\boxed" in text else text
    finals: list[tuple[int, _Num | _Hedge]] = []
    for m in _NUM_MARKER.finditer(text):
        pick = _marker_pick(flat, m.end(), question)
        if pick is not None:
            finals.append((m.start(), pick))
    for m in _CORRECTION.finditer(flat):
        pick = _correction_pick(flat, m)
        if pick is not None:
            finals.append((m.start(), pick))
    if finals:
        return max(finals, key=lambda f: f[0])[1]

    # no explicit answer: the last sentence that has a number, unless it only restates two or more of the
    # question's numbers ("He started with 12 and gave 5 away.")
    restated = None
    for lo, hi in reversed(_sentence_spans(flat)):
        nums = _numbers(flat, lo, hi)
        if not nums:
            continue
        eq = flat.rfind("=", lo, hi)
        after = [k for k, n in enumerate(nums) if n.start() > eq] if eq >= 0 else []
        fresh = [k for k, n in enumerate(nums) if _to_fraction(n) not in question]
        if after:  # "she reads 15 * 14 = 210 pages in 2 weeks" -> 210
            k = after[0]
        elif fresh:  # "there are 54 eggs in 9 boxes" (9 is the question's) -> 54
            k = fresh[-1]
        else:
            k = len(nums) - 1
            if len({_to_fraction(n) for n in nums}) >= 2:
                restated = restated or _result(flat, nums, k, lo, explicit=False)
                continue
        return _result(flat, nums, k, lo, explicit=False)
    return restated


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, lo = [], 0
    for m in _SENTENCE_BREAK.finditer(text):
        spans.append((lo, m.start()))
        lo = m.end()
    spans.append((lo, len(text)))
    return spans


@lru_cache(maxsize=512)
def _question_numbers(prompt: str) -> frozenset[Fraction]:
    if not prompt:
        return frozenset()
    return frozenset(v for m in _numbers(prompt.replace("\u2212", "-")) if (v := _to_fraction(m)) is not None)


def extract_number(answer: str, question: str = "") -> tuple[str, Fraction] | None:
    """The number an answer gives, as (canonical text, value), or None (no number, or a hedge between numbers).

    The last explicit answer or self-correction wins: the number after an answer marker ("####", "Answer:",
    "the answer is", "Final answer", ``\\boxed{}``), skipping a leading calculation ("Answer: 10 + 5 = 15"), or a
    corrected one ("The answer is 12. Wait, no, it's 14."). Otherwise, in the last sentence that has a number, the
    number after its last "=", else its last number that is not one of ``question``'s, else its last number;
    a last sentence that only restates two or more of the question's numbers is passed over.
    Two or more distinct numbers given as alternatives ("41 or 42", "between 3 and 5", "3-5") are no answer.
    Handles signs (also "−"), "$", thousands commas and spaces, decimals, percents, exponents, fractions ("3/4",
    ``\\frac{3}{4}``), mixed numbers ("2 1/2"), units, markdown and LaTeX.
    """
    pick = _pick_number(answer, _question_numbers(question))
    return tuple(pick) if isinstance(pick, _Num) else None


class NumericScorer:
    """The reference is a number; the answer's number must be within the query's relative tolerance of it
    (default 1e-6; absolute 1e-9 so that a reference of 0 can match).

    An answer giving two or more distinct numbers as alternatives ("41 or 42", "between 3 and 5") is wrong whatever
    the reference, with the numbers as prediction ("41|42") and the note "ambiguous". The question's own numbers
    help to pick the answer out of a worded last sentence (see :func:`extract_number`)."""

    name = NUMERIC

    def score(self, query: Query, answer: str) -> Score:
        ref = parse_number(query.reference or "")
        if ref is None:
            return Score(None, None, self.name, f"reference {query.reference!r} is not a number")
        got = _pick_number(answer or "", _question_numbers(query.prompt))
        if isinstance(got, _Hedge):
            return Score(False, "|".join(n[0] for n in got), self.name, AMBIGUOUS)
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
_ALTERNATIVES = {"or", "nor", "neither", "either", "but", "however"}  # anywhere in a candidate: it hedges
_OR_WORDS = {"or", "either", "nor"}  # a candidate naming the reference with these names alternatives: "ambiguous"
_NEGATIONS = {"not", "never", "no"}  # before the reference ("it is not Paris"); "Paris, not Lyon" is fine
_TEXT_MARKER = re.compile(r"(?i)\b(?:final\s+answer|answer)\b\s*(?:is\b|:|=|-)")
_SLASH = re.compile(r"(?<=[^\W\d_])\s*/\s*(?=[^\W\d_])")
_EITHER = re.compile(r"(?i)\beither\b")
_ALTERNATIVE_SPLIT = re.compile(r"(?i),?\s*\b(?:either|or|nor)\b\s*|,")
_EXACT_CORRECTION_MAX_WORDS = 4  # a self-correction restates a short answer: "Paris. No wait, Lyon."


def normalize_text(text: str) -> str:
    """Lowercase, strip accents, punctuation and articles, collapse spaces ("The  Milky-Way!" -> "milky way").

    When only articles remain (the answer "A"), they are kept."""
    text = _SLASH.sub(" or ", _MD.sub("", text.replace("&", " and ")))  # "Paris/Lyon" names alternatives
    words = _norm_words(text).split()
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


def _exact_correction(text: str) -> tuple[int, str] | None:
    """The last self-correction giving a short new answer ("Paris. No wait, it's Lyon." -> Lyon), as (position,
    answer). "Actually" and "sorry" are left out here: with free text they start comments more often than answers."""
    found = None
    for m in _CORRECTION.finditer(text):
        if m.group(0).lower().startswith(("actually", "sorry")):
            continue
        tail = text[m.end():]
        cut = _END_OR_LINE.search(tail)
        said = tail[: cut.start()] if cut else tail
        if cut and tail[cut.start()] == "?":
            continue
        words = normalize_text(said).split()
        if 0 < len(words) <= _EXACT_CORRECTION_MAX_WORDS and words[0] not in _NEGATIONS:
            found = (m.start(), said.strip())
    return found


def _exact_candidates(answer: str) -> list[tuple[str, int]]:
    """(candidate, how many words it may have and still pass by containing the reference; 0: must equal it)."""
    text = answer.strip()
    markers = list(_TEXT_MARKER.finditer(text))
    correction = _exact_correction(text)
    if correction and (not markers or correction[0] > markers[-1].start()):
        return [(correction[1], 0), (correction[1], EXACT_SENTENCE_MAX_WORDS)]
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

    An answer also passes when it contains the reference as a whole phrase, does not hedge ("or", "either", "/",
    "but", "however") and does not negate it ("not", "never", "no", "n't" before it; "Paris, not Lyon" passes), in one
    of: the whole answer when it has at most 12 words ("Hmm. It's Paris."), or its first sentence when that has
    at most 30 words ("The capital of France is Paris, a city of art."). A one-letter reference must match
    exactly. With an "Answer:" marker only the text after the last marker is read; a later self-correction
    ("Paris. No wait, it's Lyon.") replaces what came before it.
    A short answer naming the reference among alternatives ("Paris or Lyon", "either Paris or Lyon", "Paris/Lyon")
    is wrong with the note "ambiguous" and the alternatives as prediction ("Paris|Lyon").
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
        for cand, max_words in candidates:  # "Paris or Lyon": the reference among alternatives
            words = normalize_text(cand).split()
            named = [t for t in targets if _phrase_in(t, " ".join(words)) and not _negated_before(words, t.split())]
            if named and set(words) & _OR_WORDS and len(words) <= max(max_words, EXACT_CONTAINMENT_MAX_WORDS):
                return Score(False, _alternatives(cand), self.name, AMBIGUOUS)
        return Score(False, _clip(min((c for c, _ in candidates), key=len)), self.name)


def _alternatives(candidate: str) -> str:
    """"Either Paris or Lyon." -> "Paris|Lyon" (else the candidate itself, clipped)."""
    text = _SLASH.sub(" or ", _clean(candidate))
    either = _EITHER.search(text)
    text = text[either.end():] if either else text
    parts = [p.strip(" \t.,;:!?\"'()") for p in _ALTERNATIVE_SPLIT.split(text)]
    parts = [p for p in parts if p]
    return "|".join(parts) if 2 <= len(parts) <= 6 and all(len(p.split()) <= 6 for p in parts) else _clip(candidate)


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
