"""Query files: the bundled sets, the public benchmark samples, our CSV/JSON variants and every malformed shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ipwtui.workloads.base import EXACT, KINDS, MC, NONE, NUMERIC, REGEX, Query, QueryFileError
from ipwtui.workloads.loaders import (
    INSTRUCTIONS,
    bundled_sets,
    default_queries_path,
    domain_counts,
    load_queries,
    load_set,
    render_prompt,
    resolve_queries,
    sample_queries_dir,
    save_queries,
)
from ipwtui.workloads.scoring import parse_number, register_scorer, score_answer, unregister_scorer

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "benchmarks").resolve()
MMLU_PRO = SHARED / "mmlu_pro_gpt4o_sample.jsonl"
GSM8K = SHARED / "gsm8k_test_sample.jsonl"
needs_mmlu = pytest.mark.skipif(not MMLU_PRO.is_file(), reason=f"MMLU-Pro sample not found at {MMLU_PRO}")
needs_gsm8k = pytest.mark.skipif(not GSM8K.is_file(), reason=f"GSM8K sample not found at {GSM8K}")


# --- bundled sets ------------------------------------------------------------------------------------------------

def test_bundled_sets_found_in_checkout():
    assert sample_queries_dir() == REPO / "sample_queries"
    names = [p.name for p in bundled_sets()]
    assert names == ["mixed.jsonl", "open.jsonl", "quick.jsonl"]
    assert default_queries_path() == REPO / "sample_queries" / "mixed.jsonl"


def test_mixed_set_shape():
    qs = load_queries(default_queries_path())
    assert len(qs) >= 72
    counts = domain_counts(qs)
    assert len(counts) >= 6 and min(counts.values()) >= 8
    # the domains take turns: a short run (the first N queries) covers every domain
    assert len({q.domain for q in qs[:len(counts)]}) == len(counts)
    assert len({q.id for q in qs}) == len(qs)
    assert {q.dataset for q in qs} == {"sample_queries"}
    assert {q.kind for q in qs} <= set(KINDS) and {MC, NUMERIC, EXACT, REGEX} <= {q.kind for q in qs}
    for q in qs:
        assert q.reference, q.id
        assert q.prompt.endswith(q.meta.get("instruction", INSTRUCTIONS[q.kind])), q.id
        if q.kind == MC:
            n = len(q.meta["choices"])
            assert q.reference in "ABCDEFGHIJ"[:n], q.id
            assert f"{'ABCDEFGHIJ'[n - 1]}) {q.meta['choices'][-1]}" in q.prompt
        if q.kind == NUMERIC:
            assert parse_number(q.reference) is not None, q.id
        if q.kind == REGEX:
            assert q.meta.get("example"), q.id


def test_mc_answers_are_spread_over_letters():
    qs = [q for q in load_queries(default_queries_path()) if q.kind == MC]
    share = max(sum(q.reference == letter for q in qs) for letter in "ABCD") / len(qs)
    assert share < 0.4  # a model that always says one letter must not look good


def test_quick_set_is_a_subset_of_mixed():
    quick = load_set("quick")
    mixed = {q.id: q for q in load_set("mixed")}
    assert len(quick) == 8 and len(domain_counts(quick)) >= 2
    for q in quick:
        assert q == mixed[q.id]


def test_sample_references_score_correct_and_wrong_answers_do_not():
    """Every reference, given back as an answer, is scored correct by our own scorer; a wrong one is not."""
    for path in bundled_sets():
        for q in load_queries(path):
            if q.kind == "judge":  # open questions: only a judge can score them (tests/test_judge.py)
                continue
            right = q.meta.get("example", q.reference)
            assert score_answer(q, right).correct is True, (q.id, right)
            if q.kind == NUMERIC:
                assert score_answer(q, f"Answer: {q.reference}").correct is True, q.id
                wrong = f"Answer: {parse_number(q.reference) + 1}"
            elif q.kind == MC:
                text = q.meta["choices"]["ABCDEFGHIJ".index(q.reference)]
                assert score_answer(q, f"The answer is ({q.reference}).").correct is True, q.id
                assert score_answer(q, f"{q.reference}) {text}").correct is True, q.id
                assert score_answer(q, text).correct is True, q.id
                wrong = "B" if q.reference == "A" else "A"
            else:
                wrong = "I do not know."
            s = score_answer(q, wrong)
            assert s.correct is False, (q.id, wrong, s)


def test_resolve_queries():
    assert resolve_queries("quick") == REPO / "sample_queries" / "quick.jsonl"
    assert resolve_queries("mixed.jsonl") == REPO / "sample_queries" / "mixed.jsonl"
    assert resolve_queries("open") == REPO / "sample_queries" / "open.jsonl"
    assert resolve_queries(None) == default_queries_path()
    assert resolve_queries(str(REPO / "sample_queries" / "quick.jsonl")) == REPO / "sample_queries" / "quick.jsonl"
    with pytest.raises(QueryFileError, match="bundled sets: mixed, open, quick"):
        resolve_queries("no-such-set")


def test_domain_counts_sorted():
    qs = [Query(str(i), "p", "1", NUMERIC, d, "t") for i, d in enumerate("bcab")]
    assert domain_counts(qs) == {"a": 1, "b": 2, "c": 1}
    assert list(domain_counts(qs)) == ["a", "b", "c"]


# --- public benchmark samples ------------------------------------------------------------------------------------

@needs_mmlu
def test_mmlu_pro_sample():
    qs = load_queries(MMLU_PRO)
    assert len(qs) == 350
    assert len(domain_counts(qs)) == 14 and set(domain_counts(qs).values()) == {25}
    assert len({q.id for q in qs}) == 350
    for q in qs:
        n = len(q.meta["choices"])
        assert q.kind == MC and q.dataset == "mmlu-pro"
        assert len(q.reference) == 1 and q.reference in "ABCDEFGHIJ"[:n]
        assert "src" in q.meta and "cloud_pred" in q.meta
        assert q.prompt.count("\n") >= n
        assert score_answer(q, f"The answer is ({q.reference})").correct is True
    cloud = [q.meta["cloud_pred"] == q.reference for q in qs]
    assert sum(cloud) / len(cloud) == pytest.approx(0.760, abs=0.001)
    assert sum(q.meta["cloud_pred"] is None for q in qs) == 14


@needs_mmlu
def test_mmlu_pro_option_text_answers():
    """Writing an option's text instead of its letter picks that option in nearly every real question."""
    qs = load_queries(MMLU_PRO)
    total = hits = 0
    for q in qs:
        choices = q.meta["choices"]
        for k, text in enumerate(choices):
            total += 1
            s = score_answer(Query(q.id, q.prompt, "ABCDEFGHIJ"[k], MC, q.domain, q.dataset, meta=q.meta), text)
            hits += bool(s.correct)
    assert hits / total > 0.98


@needs_gsm8k
def test_gsm8k_sample():
    qs = load_queries(GSM8K)
    assert len(qs) == 150
    assert {q.kind for q in qs} == {NUMERIC} and {q.domain for q in qs} == {"math"}
    assert {q.dataset for q in qs} == {"gsm8k"}
    assert len({q.id for q in qs}) == 150
    for q in qs:
        assert "," not in q.reference and parse_number(q.reference) is not None
        assert q.prompt.startswith(q.meta["question"].strip())
        # the worked solution itself, ending in "#### n", is a correct answer
        assert score_answer(q, q.meta["solution"]).correct is True
    assert "5600" in {q.reference for q in qs}  # "#### 5,600" in the file


# --- our schema in other containers ------------------------------------------------------------------------------

def test_csv_round_trip(tmp_path):
    qs = load_set("mixed")
    out = save_queries(qs, tmp_path / "mixed.csv")
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("id,domain,kind,prompt,answer,choices,tolerance")
    again = load_queries(out)
    assert again == qs


def test_jsonl_round_trip(tmp_path):
    qs = load_set("mixed")
    assert load_queries(save_queries(qs, tmp_path / "copy.jsonl")) == qs


@needs_mmlu
def test_mmlu_pro_converts_to_csv(tmp_path):
    qs = load_queries(MMLU_PRO)[:20]
    again = load_queries(save_queries(qs, tmp_path / "mmlu.csv"))
    assert [(q.id, q.prompt, q.reference, q.domain, q.dataset) for q in again] == \
        [(q.id, q.prompt, q.reference, q.domain, q.dataset) for q in qs]


def test_hand_written_csv(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text(
        "id,domain,kind,prompt,answer,choices,tolerance\n"
        "a1,science,mc,Which planet is closest to the Sun?,d,Venus | Earth | Mars | Mercury,\n"
        '"a2",units,numeric,"How many cm in 12 inches, exactly?",30.48,,0.0001\n'
        "\n"
        "a3,geo,exact,\"Capital of\nFrance?\",Paris,,\n",
        encoding="utf-8")
    a1, a2, a3 = load_queries(p)
    assert a1.reference == "D" and a1.meta["choices"][3] == "Mercury" and "D) Mercury" in a1.prompt
    assert a2.tolerance == 0.0001 and a2.kind == NUMERIC and a2.dataset == "mine"
    assert a3.meta["question"] == "Capital of\nFrance?"


def test_json_array_and_defaults(tmp_path):
    p = tmp_path / "arr.json"
    p.write_text(json.dumps([
        {"prompt": "2 + 2?", "answer": 4},
        {"prompt": "Capital of Italy?", "answer": "Rome", "system": "Be brief."},
        {"prompt": "Pick one.", "choices": ["x", "y"], "answer": "b"},
        {"prompt": "Say hello."},
        {"prompt": "Free text", "answer": "ok", "kind": "exact", "instruction": "", "source": "me"},
    ], indent=2), encoding="utf-8")
    qs = load_queries(p)
    assert [q.kind for q in qs] == [NUMERIC, EXACT, MC, NONE, EXACT]
    assert [q.id for q in qs] == ["arr-001", "arr-002", "arr-003", "arr-004", "arr-005"]
    assert qs[0].reference == "4" and qs[0].domain == "general"
    assert qs[1].system == "Be brief."
    assert qs[2].reference == "B"
    assert qs[3].reference is None and score_answer(qs[3], "hello").correct is None
    assert qs[4].prompt == "Free text" and qs[4].meta["source"] == "me"


def test_render_prompt():
    p = render_prompt("Which?", MC, ["x", "y"])
    assert p == "Which?\n\nA) x\nB) y\n\n" + INSTRUCTIONS[MC]
    assert render_prompt("How many?", NUMERIC).endswith('"Answer: <number>".')
    assert render_prompt("Hi", EXACT, instruction="") == "Hi"
    once = render_prompt("Hi", EXACT)
    assert render_prompt(once, EXACT) == once


def test_custom_kind_needs_a_registered_scorer(tmp_path):
    p = tmp_path / "essay.jsonl"
    p.write_text('{"id": "j1", "prompt": "Explain.", "answer": "a good explanation", "kind": "essay"}\n')
    with pytest.raises(QueryFileError, match='unknown kind "essay"'):
        load_queries(p)

    class Essay:
        name = "essay"

        def score(self, query, answer):
            raise NotImplementedError

    register_scorer("essay", Essay())
    try:
        (q,) = load_queries(p)
        assert q.kind == "essay" and q.reference == "a good explanation"
    finally:
        unregister_scorer("essay")


def test_judge_kind_loads_without_a_judge(tmp_path):
    p = tmp_path / "open.jsonl"
    p.write_text('{"id": "j1", "prompt": "Explain.", "answer": "a good explanation", "kind": "judge"}\n')
    (q,) = load_queries(p)
    assert q.kind == "judge" and q.reference == "a good explanation"


# --- malformed files ---------------------------------------------------------------------------------------------

GOOD = '{"id": "a", "domain": "d", "kind": "exact", "prompt": "Q?", "answer": "x"}'
MMLU_GOOD = ('{"question_id": 1, "question": "Q?", "options": ["a", "b", "c"], "answer": "B", "answer_index": 1, '
             '"category": "math", "src": "s", "pred": "B"}')


@pytest.mark.parametrize("name, content, line, message", [
    ("bad.jsonl", GOOD + "\n{not json}\n", 2, "invalid JSON"),
    ("bad.jsonl", GOOD + "\n" + GOOD.replace('"a"', '"b"')[:-1] + "\n", 2, "invalid JSON"),
    ("bad.jsonl", '{"id": "a", "answer": "x"}\n', 1, 'missing field "prompt"'),
    ("bad.jsonl", '{\n  "id": "a",\n  "prompt": "Q",\n  "answer": "x"\n}\n', 1, "one JSON object spread over"),
    ("bad.jsonl", GOOD + '\n\n{"id": "b", "kind": "foo", "prompt": "Q", "answer": "x"}\n', 3, 'unknown kind "foo"'),
    ("bad.jsonl", '{"id": "a", "kind": "mc", "prompt": "Q", "choices": ["x", "y"], "answer": "C"}\n', 1,
     'MC answer "C" is not one of the choice letters A-B'),
    ("bad.jsonl", '{"id": "a", "kind": "mc", "prompt": "Q", "answer": "A"}\n', 1, 'needs "choices"'),
    ("bad.jsonl", '{"id": "a", "kind": "mc", "prompt": "Q", "choices": ["x", ""], "answer": "A"}\n', 1,
     "a choice is empty"),
    ("bad.jsonl", GOOD + "\n" + GOOD + "\n", 2, 'duplicate id "a" (first at line 1)'),
    ("bad.jsonl", '{"id": "a", "kind": "numeric", "prompt": "Q", "answer": "many"}\n', 1,
     'numeric answer "many" is not a number'),
    ("bad.jsonl", '{"id": "a", "kind": "numeric", "prompt": "Q", "answer": "1", "tolerance": -1}\n', 1,
     'field "tolerance" must be a number >= 0'),
    ("bad.jsonl", '{"id": "a", "kind": "exact", "prompt": "Q", "answer": "1", "tolerance": 0.1}\n', 1,
     'field "tolerance" applies only to kind "numeric"'),
    ("bad.jsonl", '{"id": "a", "kind": "exact", "prompt": "Q"}\n', 1, 'missing field "answer"'),
    ("bad.jsonl", '{"id": "a", "kind": "regex", "prompt": "Q", "answer": "(unclosed"}\n', 1,
     "not a valid regular expression"),
    ("bad.jsonl", '{"id": "a", "prompt": "", "answer": "x"}\n', 1, 'field "prompt" must be a non-empty string'),
    ("bad.jsonl", '{"id": "a", "prompt": "Q", "answer": true}\n', 1, 'field "answer" must be a string or a number'),
    ("bad.jsonl", '{"id": "a", "prompt": "Q", "answer": "x", "aliases": [1]}\n', 1,
     'field "aliases" must be a list of strings'),
    ("bad.jsonl", GOOD + "\n[1, 2]\n", 2, "expected a JSON object, got array"),
    ("bad.json", "[" + GOOD + ",\n" + GOOD + "]", 2, 'duplicate id "a"'),
    ("bad.json", "[" + GOOD + ",\n{oops}]", 2, "invalid JSON"),
    ("bad.json", "[" + GOOD + "\n", 2, "not closed"),
    ("bad.jsonl", MMLU_GOOD + "\n" + MMLU_GOOD.replace('"answer": "B", "answer_index": 1', '"answer": "E"')
     .replace('"question_id": 1', '"question_id": 2') + "\n", 2, 'MC answer "E" is not one of the choice letters A-C'),
    ("bad.jsonl", MMLU_GOOD.replace('"answer_index": 1', '"answer_index": 2') + "\n", 1,
     'answer "B" disagrees with answer_index 2'),
    ("bad.jsonl", MMLU_GOOD + "\n" + '{"question_id": 2, "question": "Q?", "answer": "A", "category": "x"}' + "\n",
     2, 'missing field "options" (MMLU-Pro record)'),
    ("bad.jsonl", MMLU_GOOD + "\n" + MMLU_GOOD + "\n", 2, 'duplicate id "mmlu-pro-1"'),
    ("bad.jsonl", '{"question": "Q?", "answer": "It is 4.\\n#### 4"}\n{"question": "Q2?", "answer": "no marker"}\n',
     2, 'no final "#### <number>" line'),
    ("bad.jsonl", '{"question": "Q?", "answer": "#### four"}\n', 1, 'after "####" is not a number'),
    ("bad.csv", "id,domain,kind,question,answer\n1,d,exact,Q,x\n", 1, 'CSV header: unknown column "question"'),
    ("bad.csv", "id,domain,kind,answer\n1,d,exact,x\n", 1, 'CSV header: missing column "prompt"'),
    ("bad.csv", "id,prompt,prompt,answer\n", 1, 'column "prompt" appears twice'),
    ("bad.csv", "id,domain,kind,prompt,answer\n1,d,exact,Q,x\n2,d,exact,Q,x,extra\n", 3,
     "CSV row has 6 fields, the header has 5"),
    ("bad.csv", "id,kind,prompt,answer,tolerance\n1,numeric,Q,3,abc\n", 2, 'field "tolerance" must be a number'),
    ("bad.csv", "id,kind,prompt,answer,choices\n1,mc,Q,Z,x | y\n", 2, 'MC answer "Z"'),
    ("bad.csv", "id,kind,prompt,answer\n1,exact,Q,x\n1,exact,Q,y\n", 3, 'duplicate id "1" (first at line 2)'),
])
def test_malformed_files(tmp_path, name, content, line, message):
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    with pytest.raises(QueryFileError) as info:
        load_queries(p)
    err = info.value
    assert err.line == line
    assert str(err).startswith(f"{p}:{line}: ")
    assert message in str(err)
    assert "\n" not in str(err)


def test_unknown_kind_lists_valid_ones(tmp_path):
    p = tmp_path / "k.jsonl"
    p.write_text('{"prompt": "Q", "answer": "x", "kind": "foo"}\n')
    with pytest.raises(QueryFileError, match=r"valid: mc, numeric, exact, regex, none"):
        load_queries(p)


@pytest.mark.parametrize("content", ["", "\n\n  \n", "id,domain,kind,prompt,answer,choices,tolerance\n"])
def test_empty_files(tmp_path, content):
    p = tmp_path / ("e.csv" if content.startswith("id") else "e.jsonl")
    p.write_text(content)
    with pytest.raises(QueryFileError, match="empty file") as info:
        load_queries(p)
    assert info.value.line is None


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(QueryFileError, match="no such file") as info:
        load_queries(tmp_path / "nope.jsonl")
    assert info.value.line is None and str(info.value) == f"{tmp_path / 'nope.jsonl'}: no such file"
    with pytest.raises(QueryFileError, match="is a directory"):
        load_queries(tmp_path)


def test_unreadable_file(tmp_path):
    import os

    p = tmp_path / "secret.jsonl"
    p.write_text(GOOD + "\n")
    p.chmod(0)
    try:
        if os.access(p, os.R_OK):
            pytest.skip("running with permission to read any file (root)")
        with pytest.raises(QueryFileError, match="permission denied"):
            load_queries(p)
    finally:
        p.chmod(0o644)


def test_undecodable_bytes(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes(GOOD.encode() + b"\n" + '{"id": "b", "prompt": "caf\u00e9", "answer": "x"}'.encode("latin-1") + b"\n")
    with pytest.raises(QueryFileError, match=r"undecodable bytes: not UTF-8 \(byte 0xe9 at column 27\)") as info:
        load_queries(p)
    assert info.value.line == 2


def test_utf8_bom_is_accepted(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\n")
    assert load_queries(p)[0].id == "a"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_its_bom_is_read_and_broken_utf16_is_one_line(tmp_path, encoding):
    p = tmp_path / "sheet.csv"
    text = "id,prompt,answer\nq1,Capital of Spain?,Madrid\n"
    bom = b"\xfe\xff" if encoding == "utf-16-be" else b""
    p.write_bytes(bom + text.encode(encoding))
    (q,) = load_queries(p)
    assert (q.id, q.reference) == ("q1", "Madrid")
    p.write_bytes(b"\xff\xfe" + b"i\x00d\x00\x00\xdc")  # a lone low surrogate
    with pytest.raises(QueryFileError, match="not valid UTF-16; save it as UTF-8"):
        load_queries(p)


def test_csv_detected_without_suffix(tmp_path):
    p = tmp_path / "queries.txt"
    p.write_text("id,prompt,answer\nq1,Capital of Spain?,Madrid\n")
    (q,) = load_queries(p)
    assert q.reference == "Madrid" and q.kind == EXACT
