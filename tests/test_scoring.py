"""Rule-based scoring: letters, numbers, exact text and regexes pulled out of real answer shapes."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipwtui.workloads.base import EXACT, MC, NONE, NUMERIC, REGEX, Query, Score
from ipwtui.workloads.loaders import render_prompt
from ipwtui.workloads.scoring import (
    AMBIGUOUS,
    ExactScorer,
    MultipleChoiceScorer,
    NumericScorer,
    choice_count,
    extract_choice,
    extract_number,
    get_scorer,
    normalize_text,
    parse_number,
    register_scorer,
    score_answer,
    scorer_kinds,
    unregister_scorer,
)

CHOICES = ["Oxygen", "Carbon dioxide", "Nitrogen", "Helium"]


def mcq(answer: str = "B", choices: list[str] | None = None) -> Query:
    choices = CHOICES if choices is None else choices
    lines = "\n".join(f"{'ABCDEFGHIJ'[i]}) {c}" for i, c in enumerate(choices))
    return Query("q", f"Which gas?\n\n{lines}\n\nAnswer with the letter.", answer, MC, "science", "t",
                 meta={"choices": choices})


def numq(ref: str, tolerance: float | None = None) -> Query:
    return Query("n", "How many?", ref, NUMERIC, "arithmetic", "t", tolerance=tolerance)


def exq(ref: str, aliases: list[str] | None = None) -> Query:
    return Query("e", "Which?", ref, EXACT, "facts", "t", meta={"aliases": aliases} if aliases else {})


# --- multiple choice ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, expected", [
    ("B", "B"),
    ("b", "B"),
    ("B.", "B"),
    ("(B)", "B"),
    ("**B**", "B"),
    ("B) Carbon dioxide", "B"),
    ("B. Carbon dioxide", "B"),
    ("B: Carbon dioxide", "B"),
    ("**B)** Carbon dioxide", "B"),
    ("- B) Carbon dioxide", "B"),
    ("The answer is (B)", "B"),
    ("The answer is B.", "B"),
    ("the answer is b", "B"),
    ("answer: B", "B"),
    ("Answer: b", "B"),
    ("Answer: **B**", "B"),
    ("Final answer: **(B)**", "B"),
    ("The correct answer is B: Carbon dioxide.", "B"),
    ("The correct option is C", "C"),
    ("Option B", "B"),
    ("I choose B.", "B"),
    ("I would go with option D.", "D"),
    ("\\boxed{B}", "B"),
    ("I think it's (b).", "B"),
    ("Carbon dioxide", "B"),
    ("carbon dioxide.", "B"),
    ("Plants take in carbon dioxide to make sugar.", "B"),
    ("The answer is A. Wait, that is wrong. The answer is B.", "B"),
    ("A is wrong because oxygen is released. The answer is (B).", "B"),
    ("Let's think. Option A is oxygen, option C is nitrogen.\nTherefore the answer is B", "B"),
    ("The answer is A because plants release oxygen.", "A"),
    ("The answer is A, oxygen.", "A"),
    ("B) Carbon dioxide\n\nExplanation: plants use CO2 and release oxygen.", "B"),
    ("Photosynthesis uses light.\n\nC", "C"),
])
def test_mc_extracts_letter(answer, expected):
    assert extract_choice(answer, 4, CHOICES) == expected
    s = MultipleChoiceScorer().score(mcq(expected), answer)
    assert s == Score(True, expected, "mc")


@pytest.mark.parametrize("answer", [
    "",
    "   ",
    "A cell is the smallest unit of life.",
    "A plant needs light.",
    "I am not sure.",
    "the answer is a good question",
    "The answer is A cell",
    "The answer is E",  # only four options
    "A) Oxygen\nB) Carbon dioxide\nC) Nitrogen\nD) Helium",  # the options echoed back
    "Which gas? Let me think about it.",
])
def test_mc_finds_no_letter(answer):
    assert extract_choice(answer, 4, CHOICES) is None
    s = MultipleChoiceScorer().score(mcq("B"), answer)
    assert s.correct is False and s.prediction is None and s.note


@pytest.mark.parametrize("answer, other", [
    ("A) Carbon dioxide", "B"),
    ("A) carbon dioxide.", "B"),
    ("The correct answer is A) Helium.", "D"),
    ("D. Oxygen", "A"),
])
def test_mc_letter_contradicting_its_text_is_wrong(answer, other):
    for ref in "ABCD":
        s = score_answer(mcq(ref), answer)
        assert s.correct is False and s.prediction is None
        assert f"option {other}" in s.note


@pytest.mark.parametrize("answer", ["B) Carbon dioxide", "B) Carbon dioxide, which plants absorb.", "B) CO2"])
def test_mc_letter_with_own_or_unknown_text_is_fine(answer):
    assert score_answer(mcq("B"), answer) == Score(True, "B", "mc")


def test_mc_truncated_echo_of_options_is_no_answer():
    answer = "A) Oxygen\nB) Carbon dioxide\nC) Nitrogen\nD) Hel"
    assert score_answer(mcq("B"), answer).prediction is None


def test_mc_wrong_letter_is_false():
    s = score_answer(mcq("B"), "The answer is (C).")
    assert s == Score(False, "C", "mc")


def test_mc_letter_range_follows_options():
    choices = [f"option text {i}" for i in range(10)]
    assert extract_choice("The answer is J", 10, choices) == "J"
    assert extract_choice("The answer is J", 4, choices[:4]) is None
    assert extract_choice("The answer is (E)", 5) == "E"


def test_choice_count_from_meta_or_prompt():
    assert choice_count(mcq()) == 4
    bare = Query("q", "Q?\n\nA) x\nB) y\nC) z\n\nAnswer.", "A", MC, "d", "t")
    assert choice_count(bare) == 3
    assert extract_choice("D", choice_count(bare)) is None


def test_mc_option_text_prefers_the_longer_option():
    choices = ["Paris", "Paris, Texas", "Lyon"]
    assert extract_choice("It is Paris, Texas.", 3, choices) == "B"
    assert extract_choice("Paris", 3, choices) == "A"


def test_mc_exact_option_text_beats_letters_inside_it():
    choices = ["(F ⊃ E) ∨ (C ≡ ~S)", "(E ⊃ F) ∨ (C ≡ S)", "~F", "E"]
    assert extract_choice("(E ⊃ F) ∨ (C ≡ S)", 4, choices) == "B"


MC_TEMPLATES = [
    "{L}", "{l}", "{L}.", "({L})", "({l})", "**{L}**", "{L}) {text}", "({L}) {text}", "{L}. {text}",
    "The answer is {L}.", "The answer is ({L}).", "the answer is {l}", "Answer: {L}", "answer: {l}",
    "Answer: **{L}**", "I choose {L}.", "Option {L}", "The correct answer is {L}: {text}",
    "Let me think step by step. {text} fits best.\nThe answer is ({L})", "Final answer: {L}", "\\boxed{{{L}}}",
    "{text}",
]
WORDS = ["red fox", "blue whale", "green tea", "yellow sun", "grey wolf", "black hole", "white sand", "pink salt",
         "gold ring", "silver spoon"]


@settings(max_examples=300, deadline=None)
@given(n=st.integers(2, 10), data=st.data(), template=st.sampled_from(MC_TEMPLATES))
def test_mc_property_any_letter_any_template(n, data, template):
    k = data.draw(st.integers(0, n - 1))
    letter = "ABCDEFGHIJ"[k]
    choices = WORDS[:n]
    answer = template.format(L=letter, l=letter.lower(), text=choices[k])
    assert extract_choice(answer, n, choices) == letter
    assert score_answer(mcq(letter, choices), answer).correct is True


def test_mc_hedge_is_no_choice():
    """extract_choice gives no letter for a hedge; the scorer says why and lists the letters."""
    assert extract_choice("The answer is B or C.", 4, CHOICES) is None
    assert score_answer(mcq("B"), "The answer is B or C.") == Score(False, "B|C", "mc", AMBIGUOUS)


MC_HEDGES = ["{a} or {b}", "The answer is {a} or {b}.", "Either {a} or {b}.", "({a}) and ({b})", "It's {a}, {b}, or {c}",
             "\\boxed{{{a}}} or \\boxed{{{b}}}", "{a}/{b}", "I think it's {a} or {b}.", "Answer: ({a}) or ({b})",
             "**{a}** or **{b}**", "Both {a} and {b} are correct.", "Final answer: {a}, {b}", "#### {a} or {b}",
             "Let me think.\n\n{a} or {b}", "The answer is between {a} and {b}.", "{a}, or maybe {b}",
             "Answer: {a}) {ta} or {b}) {tb}", "The answer is {a} ({ta}), or maybe {b}."]


@settings(max_examples=300, deadline=None)
@given(n=st.integers(3, 10), data=st.data(), template=st.sampled_from(MC_HEDGES), ref_first=st.booleans())
def test_mc_property_hedge_never_right(n, data, template, ref_first):
    """Whichever of its letters is the reference, a hedge is wrong and says so."""
    a, b, c = data.draw(st.lists(st.sampled_from("ABCDEFGHIJ"[:n]), min_size=3, max_size=3, unique=True))
    choices = WORDS[:n]
    answer = template.format(a=a, b=b, c=c, ta=choices["ABCDEFGHIJ".index(a)], tb=choices["ABCDEFGHIJ".index(b)])
    s = score_answer(mcq(a if ref_first else b, choices), answer)
    assert s.correct is False and s.note == AMBIGUOUS
    assert {a, b} <= set(s.prediction.split("|"))


# --- numbers -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, expected", [
    ("42", "42"),
    ("Answer: 42", "42"),
    ("#### 1,234", "1234"),
    ("She pays 3 * 4 = 12 dollars.\n#### 12", "12"),
    ("The total is $1,234.50.", "1234.50"),
    ("The answer is $8.35.", "8.35"),
    ("About 42% of them.", "42"),
    ("The answer is 3/4", "3/4"),
    ("It was -7 degrees.", "-7"),
    ("Answer: \u22127", "-7"),
    ("-$5", "-5"),
    ("Answer: 10 + 5 = 15", "15"),
    ("Answer: 42 (= forty-two)", "42"),
    ("Answer:\n\n42", "42"),
    ("The answer is 18. To check: 2 * 9 = 18.", "18"),
    ("First 12 - 5 = 7. Then 7 * 2 = 14.", "14"),
    ("The answer is 72, since 8 * 9 = 72 and 72 is right.", "72"),
    ("Step 1: 48/2 = 24\nStep 2: 24 + 48 = 72\n#### 72", "72"),
    ("\\boxed{72}", "72"),
    ("The final answer is 2,450 apples.", "2450"),
    ("It travels 280km.", "280"),
    ("Total: 3,000 loaves.\n\nAnswer: 3,000", "3000"),
    ("0.5", "0.5"),
    (".5 of it", "0.5"),
    ("1e3", "1e3"),
    ("He has 7 apples left.\nAnswer: 7 apples", "7"),
    ("So, she reads 15 * 14 = 210 pages in 2 weeks.", "210"),
    ("A box holds 6 eggs. So, 9 boxes hold 6 * 9 = 54 eggs.", "54"),
    ("First 12 - 5 = 7. Then she buys 3 more, so she has 10.", "10"),
])
def test_numeric_extraction(answer, expected):
    got = extract_number(answer)
    assert got is not None and got[0] == expected
    assert NumericScorer().score(numq(expected.replace("$", "")), answer).correct is True


@pytest.mark.parametrize("answer", ["", "no idea", "Answer: <number>", "H2O"])
def test_numeric_nothing_found_is_wrong(answer):
    s = NumericScorer().score(numq("42"), answer)
    assert s.correct is False and s.prediction is None and s.note


@pytest.mark.parametrize("text, value", [
    ("1,234", Fraction(1234)), ("1 234", Fraction(1234)), ("2 1/2", Fraction(5, 2)), ("\u22125", Fraction(-5)),
    ("12 3/2", None), ("41/42", Fraction(41, 42)), ("$-3", Fraction(-3)), ("42%", Fraction(42)), ("3/4", Fraction(3, 4)),
    ("1e3", Fraction(1000)), ("12.", Fraction(12)), ("-0.25", Fraction(-1, 4)), ("abc", None), ("1 2", None),
    ("", None), ("1/0", None),
])
def test_parse_number(text, value):
    assert parse_number(text) == value


def test_numeric_compare_decimal_and_fraction_forms():
    assert score_answer(numq("0.75"), "the answer is 3/4").correct is True
    assert score_answer(numq("7.5"), "Answer: 7.50").correct is True
    assert score_answer(numq("5600"), "#### 5,600").correct is True
    assert score_answer(numq("0"), "Answer: 0.0").correct is True
    assert score_answer(numq("0"), "Answer: 0.001").correct is False
    assert score_answer(numq("42"), "Answer: 43").correct is False


def test_numeric_hedge_is_no_number():
    assert extract_number("It is either 41 or 42.") is None
    assert score_answer(numq("42"), "It is either 41 or 42.") == Score(False, "41|42", "numeric", AMBIGUOUS)


def test_numeric_question_numbers_help_pick_the_answer():
    """Without the question, the last number of "54 eggs in 9 boxes" is read; with it, the one that is new."""
    answer = "So, there are 54 eggs in 9 boxes."
    assert extract_number(answer)[0] == "9"
    assert extract_number(answer, "A box holds 6 eggs. How many eggs are in 9 boxes?")[0] == "54"


NUM_HEDGES = ["{x} or {y}", "It is either {x} or {y}.", "The answer is between {x} and {y}.", "Answer: {x} or {y}",
              "#### {x} or {y}", "\\boxed{{{x}}} or \\boxed{{{y}}}", "It could be {x} or {y}.",
              "Answer: {x}, or maybe {y}", "The answer is {x}, {y}, or {z}.", "So the total is {x} or {y}.",
              "Answer: {x} and {y}.", "Answer: {x} km or {y} km", "The answer is from {x} to {y}."]


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(1, 10**6), min_size=3, max_size=3, unique=True), commas=st.booleans(),
       template=st.sampled_from(NUM_HEDGES), ref_first=st.booleans())
def test_numeric_property_hedge_never_right(values, commas, template, ref_first):
    """Whichever of its numbers is the reference, a hedge is wrong and says so."""
    if "from" in template:
        values = sorted(values)  # a range rises
    x, y, z = (f"{v:,}" if commas else str(v) for v in values)
    s = score_answer(numq(str(values[0] if ref_first else values[1])), template.format(x=x, y=y, z=z))
    assert s.correct is False and s.note == AMBIGUOUS
    assert {str(values[0]), str(values[1])} <= set(s.prediction.split("|"))


def test_numeric_unparseable_reference_is_unscorable():
    s = score_answer(numq("many"), "Answer: 3")
    assert s.correct is None and "not a number" in s.note


NUM_TEMPLATES = ["{s}", "Answer: {s}", "#### {s}", "The answer is {s}.", "So the total is {s}",
                 "Let me compute: 3 + 4 = 7.\nAnswer: {s}", "The answer is {s}, because 1 + 1 = 2."]


def _fmt_int(n: int, commas: bool, dollar: bool) -> str:
    body = f"{abs(n):,}" if commas else str(abs(n))
    return ("-" if n < 0 else "") + ("$" if dollar else "") + body


@settings(max_examples=300, deadline=None)
@given(n=st.integers(-10**9, 10**9), commas=st.booleans(), dollar=st.booleans(),
       template=st.sampled_from(NUM_TEMPLATES))
def test_numeric_property_integers(n, commas, dollar, template):
    text = template.format(s=_fmt_int(n, commas, dollar))
    got = extract_number(text)
    assert got is not None and got[1] == n
    assert score_answer(numq(str(n)), text).correct is True


@settings(max_examples=300, deadline=None)
@given(d=st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False, allow_infinity=False),
       commas=st.booleans(), template=st.sampled_from(NUM_TEMPLATES))
def test_numeric_property_decimals(d, commas, template):
    s = f"{d:,.2f}" if commas else f"{d:.2f}"
    got = extract_number(template.format(s=s))
    assert got is not None and got[1] == Fraction(Decimal(s.replace(",", "")))


@settings(max_examples=200, deadline=None)
@given(ref=st.integers(1, 10**6), tol=st.sampled_from([1e-3, 1e-2, 0.05]))
def test_numeric_property_tolerance(ref, tol):
    inside, outside = ref * (1 + tol / 2), ref * (1 + tol * 2)
    q = numq(str(ref), tolerance=tol)
    assert score_answer(q, f"Answer: {inside:.6f}").correct is True
    assert score_answer(q, f"Answer: {outside:.6f}").correct is False


def test_numeric_default_tolerance_is_tight():
    assert score_answer(numq("1000"), "Answer: 1000.0000001").correct is True
    assert score_answer(numq("1000"), "Answer: 1000.01").correct is False


# --- exact -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ref, aliases, answer, ok", [
    ("Paris", None, "Paris", True),
    ("Paris", None, "paris.", True),
    ("Paris", None, "  PARIS  ", True),
    ("Paris", None, "**Paris**", True),
    ("Paris", None, "The capital of France is Paris.", True),
    ("Paris", None, "Answer: Paris", True),
    ("Paris", None, "The answer is: Paris.\nIt is a large city.", True),
    ("Paris", None, "The capital of France is Paris. It is known for the Eiffel Tower, museums, food and much more.",
     True),
    ("Paris", None, "London", False),
    ("Paris", None, "It is not Paris.", False),
    ("Paris", None, "Paris or Lyon", False),
    ("Paris", None, "I think that the capital of the country of France, in western Europe, is the city of Paris.",
     True),
    ("Paris", None, "When you think about the many great and old cities of the large country in western Europe "
                    "known to all as France and about where its national government sits and meets today, the "
                    "answer would have to be Paris.", False),
    ("Paris", None, "The capital is Paris, but it's actually Lyon that is the capital.", False),
    ("Paris", None, "Hmm. It's Paris.", True),
    ("Mount Everest", ["Everest"], "The highest mountain is Mount Everest, but it's actually Mauna Kea.", False),
    ("William Shakespeare", ["Shakespeare"],
     'The play "Romeo and Juliet" by William Shakespeare is the story of two young lovers who are doomed.', True),
    ("Paris", None, "Answer: Lyon. Paris is the largest city.", False),
    ("Milky Way", None, "The Milky Way", True),
    ("Milky Way", None, "milky-way", True),
    ("William Shakespeare", ["Shakespeare"], "Shakespeare", True),
    ("William Shakespeare", ["Shakespeare"], "It was written by William Shakespeare.", True),
    ("Leonardo da Vinci", ["da Vinci"], "Da Vinci painted it.", True),
    ("Sao Paulo", None, "São Paulo", True),
    ("6", ["six"], "A hexagon has six sides.", True),
    ("6", ["six"], "A hexagon has 16 sides.", False),
    ("10:35", None, "10:35 am", True),
    ("False", None, "false", True),
    ("False", None, "It prints False, not True.", True),
    ("False", None, "It does not print False.", False),
    ("Paris", None, "Paris, not Lyon.", True),
    ("Paris", None, "The capital isn't Paris.", False),
    ("I", None, "I think it is J.", False),
    ("I", None, "Answer: I", True),
    ("I", None, "i", True),
    ("Jupiter", None, "", False),
])
def test_exact(ref, aliases, answer, ok):
    s = ExactScorer().score(exq(ref, aliases), answer)
    assert s.correct is ok
    if not answer.strip():
        assert s.prediction is None


def test_exact_hedge_is_ambiguous():
    assert score_answer(exq("Paris"), "Either Paris or Lyon.") == Score(False, "Paris|Lyon", "exact", AMBIGUOUS)
    assert score_answer(exq("Paris"), "It is not Paris or Lyon.").note != AMBIGUOUS


def test_normalize_text():
    assert normalize_text("  The  Milky-Way! ") == "milky way"
    assert normalize_text("Tom & Jerry") == "tom and jerry"
    assert normalize_text("A") == "a"
    assert normalize_text("Café") == "cafe"


@settings(max_examples=200, deadline=None)
@given(word=st.sampled_from(["Paris", "Jupiter", "Milky Way", "Leonardo da Vinci", "Au", "carbon dioxide"]),
       shape=st.sampled_from(["{w}", "{u}", "the {w}.", "  {l}  ", "**{w}**", "Answer: {w}", "It is {w}!"]))
def test_exact_property_case_and_punctuation(word, shape):
    answer = shape.format(w=word, u=word.upper(), l=word.lower())
    assert score_answer(exq(word), answer).correct is True


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(list("ABCDabcd0123456789 .,;:!?()[]{}*_`$\\/-\u2212+%=#\n")
                                       + ["or ", "and ", "either ", "between ", "no wait, ", "Answer: ", "\\boxed{",
                                          "\\frac{", "it's ", "Actually, ", "####", " to ", "Carbon dioxide",
                                          "not "]), max_size=40))
def test_rule_scorers_never_fail_on_odd_text(pieces):
    """The rule scorers decide on any text (right or wrong), without raising."""
    text = "".join(pieces)
    for scorer, q in ((MultipleChoiceScorer(), mcq("B")), (NumericScorer(), numq("7")), (ExactScorer(), exq("Paris"))):
        assert scorer.score(q, text).correct in (True, False)


# --- regex, none, registry ---------------------------------------------------------------------------------------

def test_regex():
    q = Query("r", "Write it.", r"^\s*(?:def\s+square\s*\(|square\s*=\s*lambda\b)", REGEX, "code", "t")
    assert score_answer(q, "```python\ndef square(x):\n    return x * x\n```").correct is True
    assert score_answer(q, "square = lambda x: x * x").correct is True
    s = score_answer(q, "x * x")
    assert s.correct is False and s.prediction is None
    assert score_answer(q, "").correct is False
    bad = Query("r", "Write it.", "(", REGEX, "code", "t")
    assert score_answer(bad, "(").correct is None


def test_no_reference_is_unscorable():
    assert score_answer(Query("x", "Hi", None, NONE, "d", "t"), "Hello").correct is None
    assert score_answer(Query("x", "Hi", None, EXACT, "d", "t"), "Hello").correct is None
    s = score_answer(Query("x", "Hi", "y", "nonsense", "d", "t"), "Hello")
    assert s.correct is None and "nonsense" in s.note


def test_registry_plug_in_and_failure():
    class Judge:
        name = "judge"

        def score(self, query, answer):
            return Score("yes" in answer, answer, self.name)

    class Broken:
        name = "broken"

        def score(self, query, answer):
            raise TimeoutError("judge did not answer")

    assert set(scorer_kinds()) >= {MC, NUMERIC, EXACT, REGEX, NONE}
    register_scorer("judge", Judge())
    try:
        with pytest.raises(ValueError):
            register_scorer("judge", Judge())
        q = Query("j", "Is it?", "yes", "judge", "d", "t")
        assert score_answer(q, "yes indeed").correct is True
        assert get_scorer("judge").name == "judge"
        # any query can be routed through a named scorer
        assert score_answer(exq("Paris"), "yes", scorer="judge").correct is True
        no_ref = Query("j2", "Is it?", None, "judge", "d", "t")
        assert score_answer(no_ref, "yes").correct is True  # a judge may work without a reference
        s = score_answer(exq("Paris"), "Paris", scorer=Broken())
        assert s.correct is None and "judge did not answer" in s.note
    finally:
        unregister_scorer("judge")
    with pytest.raises(KeyError, match="judge"):
        get_scorer("judge")
    with pytest.raises(ValueError):
        unregister_scorer(MC)


# --- the answer-shape corpus -------------------------------------------------------------------------------------

CORPUS = Path(__file__).parent / "data" / "answer_shapes.jsonl"
SHAPES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
SHAPE_FIELDS = {"id", "category", "kind", "prompt", "reference", "answer", "correct", "why"}


def test_corpus_shape():
    """The corpus is large enough, its ids are unique and every line says what it expects and why."""
    assert len(SHAPES) >= 150
    assert len({r["id"] for r in SHAPES}) == len(SHAPES)
    for r in SHAPES:
        assert SHAPE_FIELDS <= set(r), r["id"]
        assert r["kind"] in (MC, NUMERIC, EXACT) and isinstance(r["correct"], bool) and r["why"].strip(), r["id"]
        assert r["kind"] != MC or r["choices"], r["id"]
        assert r["kind"] == EXACT or "prediction" in r, r["id"]
        if r.get("note") == AMBIGUOUS:
            assert r["correct"] is False and "|" in r["prediction"], r["id"]
    kinds = {r["kind"] for r in SHAPES}
    categories = {r["category"] for r in SHAPES}
    assert kinds == {MC, NUMERIC, EXACT}
    assert {"hedge", "not-hedge", "self-correction", "option-text", "units", "fractions", "thousands", "percent",
            "negatives", "markdown", "latex", "chain-of-thought", "gsm8k", "refusal", "restates-question"} <= categories
    assert sum(r.get("note") == AMBIGUOUS for r in SHAPES if r["kind"] == MC) >= 10
    assert sum(r.get("note") == AMBIGUOUS for r in SHAPES if r["kind"] == NUMERIC) >= 10


def _shape_query(r: dict) -> Query:
    choices = r.get("choices")
    meta = {"choices": choices} if choices else {}
    if r.get("aliases"):
        meta["aliases"] = r["aliases"]
    return Query(r["id"], render_prompt(r["prompt"], r["kind"], choices), r["reference"], r["kind"], r["category"],
                 "answer_shapes", tolerance=r.get("tolerance"), meta=meta)


@pytest.mark.parametrize("row", SHAPES, ids=[r["id"] for r in SHAPES])
def test_answer_shapes(row):
    s = score_answer(_shape_query(row), row["answer"])
    assert s.scorer == row["kind"]
    assert s.correct is row["correct"], (s, row["why"])
    if "prediction" in row:
        assert s.prediction == row["prediction"], (s, row["why"])
    if "note" in row:
        assert s.note == row["note"], (s, row["why"])
    else:
        assert s.note != AMBIGUOUS, (s, row["why"])
