"""The language-model judge: strict verdicts, pairwise and rubric on a scripted backend, failures that leave a
query unscorable, a judge-backed run whose judge energy is kept apart from the queries' (and the session's
bookkeeping still closes), rescoring a finished session, and one real judge over HTTP (llama-cpp-python's
own server on loopback serving the bundled model).

The scripted judge is the fake backend: ``FakeBackend(answers={key: reply})`` replies with the first reply
whose key is in the prompt, so a key such as "[Answer A]\\n<the model's answer>" picks the order too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fault_server import MODEL, FaultServer, Status, Stream, openai_shape
from support import scripted_sensors

from ipwtui.backends.fake.backend import FakeBackend
from ipwtui.backends.openai.backend import OpenAIBackend
from ipwtui.cli import main
from ipwtui.core import session as sessions
from ipwtui.core.backend import BackendError
from ipwtui.core.cost import Price, PriceTable
from ipwtui.core.record import JUDGE_FIELDS, QueryRecord, records_of
from ipwtui.core.remote import ServerEnergy
from ipwtui.core.session import Session
from ipwtui.core.settings import RunSettings
from ipwtui.judge import (
    LABELS,
    PAIRWISE,
    RUBRIC,
    Judge,
    JudgeError,
    JudgeSpec,
    bundled_prompt,
    load_prompt,
    parse_pairwise,
    parse_rubric,
    render,
    rescore,
)
from ipwtui.runs import Run, RunError, RunRequest
from ipwtui.workloads.base import JUDGE, MC, Query
from ipwtui.workloads.loaders import load_set, resolve_queries

REPO = Path(__file__).resolve().parents[1]
REF = "Paris is the capital of France."


def oq(qid="j1", reference=REF, **meta) -> Query:
    return Query(qid, "What is the capital of France?\n\nAnswer concisely.", reference, JUDGE, "geo", "t",
                 meta=meta)


class Recording(FakeBackend):
    """A fake judge that keeps every prompt it was sent."""

    def __init__(self, *a, **kw):
        kw.setdefault("tokens_per_s", 2000.0)
        kw.setdefault("prefill_s", 0.001)
        super().__init__(*a, **kw)
        self.prompts: list[str] = []

    def generate(self, messages, max_tokens, on_token=None, temperature=0.0, seed=0):
        self.prompts.append(messages[-1]["content"])
        assert temperature == 0.0  # the judge is deterministic
        return super().generate(messages, max_tokens, on_token, temperature, seed)


def judge_of(answers: dict | None = None, default: str = "no verdict here", **kw) -> Judge:
    backend = Recording(answers=dict(answers or {}), default=default, fail_on=kw.pop("fail_on", None))
    return Judge(backend, model="fake-judge", **kw)


# ---- verdicts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", LABELS)
def test_every_pairwise_label_is_read(label):
    assert parse_pairwise(f"Both are fine but one is clearer.\n[[{label}]]") == (label, "")
    spaced = f"[[ {label[0].lower()} {label[1:-1]} {label[-1].lower()} ]]"  # e.g. "[[ a >> b ]]"
    assert parse_pairwise(f"Verdict: {spaced}")[0] == label


@pytest.mark.parametrize("reply, why", [
    ("", "no verdict label"),
    ("A is better than B.", "no verdict label"),
    ("A>B", "no verdict label"),  # outside the brackets: not read
    ("[[A>B]] or maybe [[A=B]]", "several verdicts"),
    ("[[A>>B]] ... on reflection [[B>A]]", "several verdicts"),
    ("[[A<B]]", "is not a verdict label"),
    ("[[B=A]]", "is not a verdict label"),
    ("[[A>B]] [[C>D]]", "is not a verdict label"),
])
def test_pairwise_garbage_and_two_labels_are_unscorable(reply, why):
    label, reason = parse_pairwise(reply)
    assert label is None and why in reason


def test_the_same_pairwise_label_twice_is_one_verdict():
    assert parse_pairwise("[[A=B]]\nFinal verdict: [[A=B]]") == ("A=B", "")


@pytest.mark.parametrize("reply, verdict", [
    ("The response matches. [[TRUE]]", True), ("It contradicts the reference.\n[[FALSE]]", False),
    ("[[ true ]]", True), ("TRUE", True), ("**FALSE**.", False), ("false", False),
])
def test_rubric_verdicts(reply, verdict):
    assert parse_rubric(reply) == (verdict, "")


@pytest.mark.parametrize("reply, why", [
    ("", "no verdict"), ("It is true that Paris is the capital.", "no verdict"), ("TRUE or FALSE", "no verdict"),
    ("[[TRUE]] ... actually [[FALSE]]", "both"), ("[[A>B]]", "no verdict"),
])
def test_rubric_garbage_is_unscorable(reply, why):
    v, reason = parse_rubric(reply)
    assert v is None and why in reason


# ---- prompts -------------------------------------------------------------------------------------------------


def test_bundled_prompts_have_their_placeholders_and_render_in_one_pass():
    for mode in (PAIRWISE, RUBRIC):
        assert bundled_prompt(mode).is_file()
        load_prompt(mode)  # checks the placeholders
    out = render("Q: {question}\nA: {answer_a}\nB: {answer_b}",
                 {"question": "q?", "answer_a": "says {answer_b}", "answer_b": "b"})
    assert out == "Q: q?\nA: says {answer_b}\nB: b"  # a value's braces are left alone


def test_a_user_prompt_file_is_checked(tmp_path):
    bad = tmp_path / "judge.txt"
    bad.write_text("Compare {answer_a} with the reference for {question}.", encoding="utf-8")
    with pytest.raises(JudgeError) as ei:
        load_prompt(PAIRWISE, bad)
    msg = str(ei.value)
    assert "\n" not in msg and str(bad) in msg and "missing: {answer_b}" in msg
    good = tmp_path / "rubric.txt"
    good.write_text("Q {question}\nREF {reference}\nANS {answer}\nSay [[TRUE]] or [[FALSE]].", encoding="utf-8")
    assert load_prompt(RUBRIC, good).startswith("Q {question}")
    with pytest.raises(JudgeError, match="no such judge prompt file"):
        load_prompt(RUBRIC, tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes(b"\xff{question}")
    with pytest.raises(JudgeError, match="not UTF-8"):
        load_prompt(RUBRIC, tmp_path / "latin1.txt")


# ---- pairwise and rubric on a scripted judge -----------------------------------------------------------------


@pytest.mark.parametrize("label, correct", [("A>>B", True), ("A>B", True), ("A=B", True), ("B>A", False),
                                            ("B>>A", False)])
def test_pairwise_win_or_tie_is_correct(label, correct):
    j = judge_of({"[Answer A]\nIt is Paris.": f"Short and right. [[{label}]]"})
    s = j(oq(), "It is Paris.")
    assert s.correct is correct and s.prediction == f"[[{label}]]" and s.scorer == "judge-pairwise"
    (prompt,) = j.backend.prompts
    # the answer is A, the reference B, the question as the model saw it
    assert prompt.index("It is Paris.") < prompt.index(REF) and "What is the capital of France?" in prompt
    d = s.detail
    assert d["judge_model"] == "fake-judge" and d["judge_backend"] == "fake" and d["judge_mode"] == PAIRWISE
    assert d["judge_verdict"] == f"Short and right. [[{label}]]" and d["judge_calls"] == 1
    assert d["judge_output_tokens"] == 4 and d["judge_prompt_tokens"] > 0
    assert set(d) <= set(JUDGE_FIELDS)


def test_pairwise_both_orders_must_agree():
    agree = judge_of({"[Answer A]\nIt is Paris.": "[[A>B]]", "[Answer B]\nIt is Paris.": "[[B>A]]"}, swap=True)
    s = agree(oq(), "It is Paris.")
    assert s.correct is True and s.prediction == "[[A>B]] / [[A>B]]"  # both from the answer's side
    p1, p2 = agree.backend.prompts
    assert p1.index("It is Paris.") < p1.index(REF) and p2.index(REF) < p2.index("It is Paris.")
    assert s.detail["judge_calls"] == 2 and "[reference first] [[B>A]]" in s.detail["judge_verdict"]

    lose = judge_of({"[Answer A]\nIt is Lyon.": "[[B>>A]]", "[Answer B]\nIt is Lyon.": "[[A>B]]"}, swap=True)
    s = lose(oq(), "It is Lyon.")
    assert s.correct is False and s.prediction == "[[B>>A]] / [[B>A]]"

    biased = judge_of(default="The first one is better. [[A>B]]", swap=True)  # favours position A
    s = biased(oq(), "It is Paris.")
    assert s.correct is None and "the two orders disagree" in s.note and "position bias" in s.note
    assert s.prediction == "[[A>B]] / [[B>A]]"


def test_pairwise_unparseable_verdicts_are_unscorable_with_the_reason():
    s = judge_of(default="I think A is slightly better overall.")(oq(), "It is Paris.")
    assert s.correct is None and s.note.startswith("unparseable verdict: no verdict label")
    assert s.detail["judge_verdict"] == "I think A is slightly better overall."
    s = judge_of(default="[[A>B]] or [[B>A]], hard to say.")(oq(), "It is Paris.")
    assert s.correct is None and "several verdicts" in s.note
    # the first order unparseable: the second is not asked
    j = judge_of(default="hmm", swap=True)
    s = j(oq(), "It is Paris.")
    assert s.correct is None and "(answer first)" in s.note and len(j.backend.prompts) == 1


def test_rubric_mode_uses_the_rubric_over_the_reference():
    j = judge_of({"Paris is the capital of France.\n\n[Response]\nParis.": "Matches. [[TRUE]]"}, mode=RUBRIC)
    s = j(oq(), "Paris.")
    assert s.correct is True and s.prediction == "TRUE" and s.scorer == "judge-rubric"
    s = judge_of(default="[[FALSE]]", mode=RUBRIC)(oq(), "Lyon.")
    assert s.correct is False and s.prediction == "FALSE"
    j = judge_of(default="[[TRUE]]", mode=RUBRIC)
    j(oq(rubric="Names Paris; says it is the capital."), "Paris.")
    assert "Names Paris; says it is the capital." in j.backend.prompts[0] and REF not in j.backend.prompts[0]
    s = judge_of(default="It does not say. [[true]] [[FALSE]]", mode=RUBRIC)(oq(), "Paris?")
    assert s.correct is None and "both" in s.note


def test_empty_answer_is_wrong_and_no_reference_unscorable_without_asking():
    j = judge_of(default="[[A>>B]]")
    s = j(oq(), "   ")
    assert s.correct is False and s.note == "empty answer" and s.detail == {}
    s = j(oq(reference=None), "Paris")
    assert s.correct is None and "no reference" in s.note and s.detail == {}
    assert j.backend.calls == 0


def test_other_kinds_go_to_the_rule_scorers_unless_all_kinds():
    mc = Query("m1", "Which? A) x B) y", "B", MC, "d", "t", meta={"choices": ["x", "y"]})
    j = judge_of(default="[[A>B]]")
    s = j(mc, "The answer is (B).")
    assert s.correct is True and s.scorer == MC and s.detail == {} and j.backend.calls == 0
    everything = judge_of(default="[[B>A]]", all_kinds=True)
    s = everything(mc, "The answer is (B).")
    assert s.correct is False and s.scorer == "judge-pairwise" and everything.backend.calls == 1


# ---- a judge that fails ----------------------------------------------------------------------------------------


def test_a_failing_judge_leaves_the_query_unscorable_never_a_crash():
    class Down(Recording):
        def generate(self, *a, **kw):
            raise BackendError("cannot reach 127.0.0.1:9: connection refused")

    s = Judge(Down(), model="down")(oq(), "Paris")
    assert s.correct is None and s.note == "judge failed: cannot reach 127.0.0.1:9: connection refused"
    assert s.detail["judge_model"] == "down" and s.detail["judge_calls"] == 0 and s.detail["judge_verdict"] is None

    s = judge_of(fail_on={"Paris"})(oq(), "Paris")  # a plain exception from the backend
    assert s.correct is None and s.note == "judge failed: RuntimeError: scripted backend failure"

    class Broken(Recording):
        def generate(self, *a, **kw):
            return "not a Generation"

    s = Judge(Broken(), model="broken")(oq(), "Paris")
    assert s.correct is None and "not an answer" in s.note


def test_the_judges_time_limit_stops_it():
    j = judge_of(default="[[A>B]] " + "word " * 50, timeout_s=1e-6)
    s = j(oq(), "Paris")
    assert s.correct is None and "no verdict within the judge's time limit" in s.note


@pytest.fixture
def fault():
    with FaultServer() as s:
        yield s


def remote_judge(server, read=0.5, **kw) -> Judge:
    return Judge(OpenAIBackend(server.base_url, MODEL, connect_timeout_s=2.0, read_timeout_s=read),
                 model=MODEL, **kw)


def test_a_remote_judge_that_times_out_or_errs_is_unscorable(fault):
    fault.push(Stream(openai_shape(["late"], 5, 1), head_delay=3.0))
    s = remote_judge(fault)(oq(), "Paris")
    assert s.correct is None and s.note.startswith("judge failed:") and "read timeout" in s.note
    assert "\n" not in s.note and s.detail["judge_where"] == "remote"
    fault.push(Status(500, {"error": {"message": "the judge's GPU is on fire"}}))
    s = remote_judge(fault)(oq(), "Paris")
    assert s.correct is None and s.note.startswith("judge failed:") and "500" in s.note


def test_a_remote_judge_records_its_tokens_price_and_server_energy(fault):
    class Cited:
        name = "cited:test"

        def window_energy(self, w):
            assert w.wall_end >= w.wall_start and w.model == MODEL and w.output_tokens == 7
            return ServerEnergy(2.5, "cited:test", "estimated", "server")

        def close(self):
            pass

    prices = PriceTable([Price(MODEL, input_per_mtok=2.0, output_per_mtok=8.0, source="test")])
    for _ in range(2):
        fault.push(Stream(openai_shape(["Right. ", "[[A=B]]"], prompt_tokens=120, completion_tokens=7)))
    j = remote_judge(fault, read=5.0, swap=True, server_energy=Cited(), prices=prices)
    s = j(oq(), "Paris")
    assert s.correct is True and s.prediction == "[[A=B]] / [[A=B]]"
    d = s.detail
    assert d["judge_prompt_tokens"] == 240 and d["judge_output_tokens"] == 14
    assert d["judge_cost_usd"] == pytest.approx((240 * 2.0 + 14 * 8.0) / 1e6)
    assert MODEL in d["judge_cost_source"]
    assert d["judge_server_energy_j"] == pytest.approx(5.0) and d["judge_server_energy_quality"] == "estimated"
    assert d["judge_server_energy_boundary"] == "server"
    assert [r.body["temperature"] for r in fault.completions()] == [0.0, 0.0]
    # unknown price: N/A with why, never 0
    fault.push(Stream(openai_shape(["[[A>B]]"], prompt_tokens=50, completion_tokens=3)))
    d = remote_judge(fault, read=5.0, prices=PriceTable([]))(oq(), "Paris").detail
    assert d["judge_cost_usd"] is None and d["judge_cost_source"].startswith("N/A")


def test_a_local_judges_cost_is_its_electricity_once_its_energy_is_known():
    j = judge_of(default="[[A>B]]", electricity_usd_per_kwh=0.30)
    f = j.complete({"judge_energy_j": 7200.0, "judge_energy_quality": "estimated"})
    assert f["judge_cost_usd"] == pytest.approx(7200.0 / 3.6e6 * 0.30) and "0.3 USD/kWh" in f["judge_cost_source"]
    f = judge_of().complete({"judge_energy_j": 10.0})
    assert f["judge_cost_usd"] is None and "no electricity price" in f["judge_cost_source"]


# ---- a judge-backed run ------------------------------------------------------------------------------------------

MODEL_ANSWERS = {"sky blue": "Rayleigh scattering spreads blue light across the sky.",
                 "inflation": "Prices go down over time.",
                 "vaccine": "It trains the immune system to know a germ.",
                 "compound interest": "Interest earned on interest too."}
JUDGE_REPLIES = {"[Answer A]\nRayleigh scattering": "A is right. [[A>B]]",
                 "[Answer A]\nPrices go down": "A is wrong. [[B>>A]]",
                 "[Answer A]\nIt trains the immune": "Both are decent answers."}


def model_factory(prep=None):
    return FakeBackend(answers=MODEL_ANSWERS, default="I do not know.", tokens_per_s=400.0)


def open_run(tmp_path, judge=None, n=4, warmup=1, name="sess") -> tuple[Run, object]:
    req = RunRequest(backend="fake", queries="open", out=str(tmp_path / name),
                     settings=RunSettings(max_queries=n, warmup=warmup, idle_seconds=0.2, sample_hz=50,
                                          max_tokens=32),
                     judge=judge)
    run = Run(req, sensor_factory=scripted_sensors(), backend_factory=model_factory)
    return run, run.execute()


def test_a_judge_backed_run_keeps_the_judge_energy_apart_and_the_books_closed(tmp_path):
    judge = judge_of(JUDGE_REPLIES, fail_on={"[Answer A]\nInterest earned"})
    run, out = open_run(tmp_path, judge)
    assert out.status == "finished"
    recs = {r.query_id: r for r in run.prepared.session.query_records(include_warmup=True) if not r.warmup}
    assert list(recs) == ["open-exp-001", "open-exp-002", "open-exp-003", "open-exp-004"]
    r1, r2, r3, r4 = recs.values()
    assert (r1.correct, r1.prediction) == (True, "[[A>B]]")
    assert (r2.correct, r2.prediction) == (False, "[[B>>A]]")
    assert r3.correct is None and r3.score_note.startswith("unparseable verdict")
    assert r4.correct is None and r4.score_note == "judge failed: RuntimeError: scripted backend failure"
    for r in recs.values():
        assert r.judge_model == "fake-judge" and r.judge_backend == "fake" and r.judge_where == "local"
        assert r.judge_seconds is not None and r.judge_seconds >= 0
        assert r.judge_energy_j is not None and r.judge_energy_quality == "estimated"
        assert r.judge_energy_source == "scripted" and r.judge_energy_boundary
        assert r.energy_j is not None and r.energy_j > 0  # the query's own window, apart
        assert r.judge_cost_usd is None and "no electricity price" in r.judge_cost_source
    for r in (r1, r2, r3):
        assert r.judge_energy_j > 0 and r.judge_seconds > 0 and r.judge_calls == 1
    warm = [r for r in run.prepared.session.query_records(include_warmup=True) if r.warmup]
    assert len(warm) == 1 and warm[0].judge_model is None  # a warm-up answer is never judged
    judge_j = sum(r.judge_energy_j for r in recs.values())

    summary = out.summary
    en = summary["energy"]
    assert en["counted_j"] + en["excluded_j"] + en["unattributed_j"] == pytest.approx(en["total_j"])
    assert en["counted_j"] == pytest.approx(sum(r.energy_j for r in recs.values()))
    # the judge ran outside every query window: its energy is part of the unattributed energy
    assert en["unattributed_j"] >= judge_j - 1e-9
    m = summary["metrics"]["gross"]
    assert (m["n_scored"], m["n_correct"], m["n_unscored"]) == (2, 1, 2) and m["accuracy"] == 0.5
    meta = json.loads((run.prepared.session.folder / "session.json").read_text())
    assert meta["judge"]["model"] == "fake-judge" and meta["judge"]["mode"] == PAIRWISE
    assert meta["judge"]["temperature"] == 0.0 and len(meta["judge"]["prompt_sha256"]) == 16


def test_a_run_builds_its_judge_from_a_spec_and_refuses_a_bad_one_before_the_session(tmp_path):
    # the fake engine's stand-in judge says "The answer is (A).": no verdict, so unscorable, with why
    run, _ = open_run(tmp_path, JudgeSpec(backend="fake", mode=RUBRIC), n=2, warmup=0)
    recs = run.prepared.session.query_records()
    assert [r.correct for r in recs] == [None, None]
    assert all(r.score_note.startswith("unparseable verdict: no verdict ([[TRUE]]") for r in recs)
    assert all(r.judge_verdict == "The answer is (A)." and r.judge_mode == RUBRIC for r in recs)
    assert run.prepared.session.meta["judge"]["backend"] == "fake"

    bad = tmp_path / "prompt.txt"
    bad.write_text("{question} {answer}", encoding="utf-8")
    with pytest.raises(RunError) as ei:
        open_run(tmp_path, JudgeSpec(backend="fake", prompt_file=str(bad)), name="never")
    assert ei.value.stage == "prepare" and "{answer_a}" in str(ei.value)
    with pytest.raises(RunError, match="unknown backend"):
        open_run(tmp_path, JudgeSpec(backend="no-such-engine"), name="never")
    assert not (tmp_path / "never").exists()


# ---- rescore -----------------------------------------------------------------------------------------------------


def test_records_of_applies_a_rescore_line_to_the_record_it_names():
    q = QueryRecord("a", 0, correct=None, scorer="none").to_dict()
    journal = [q, {"type": "rescore", "query_id": "a", "attempt": 1, "segment": 0, "correct": True,
                   "prediction": "[[A>B]]", "scorer": "judge-pairwise", "judge_energy_j": 1.5},
               {"type": "rescore", "query_id": "a", "attempt": 2, "segment": 0, "correct": False}]
    (r,) = records_of(journal)
    assert (r.correct, r.prediction, r.scorer, r.judge_energy_j) == (True, "[[A>B]]", "judge-pairwise", 1.5)
    journal.append({"type": "rescore", "query_id": "a", "attempt": 1, "segment": 0, "correct": False})
    assert records_of(journal)[0].correct is False  # the later line wins


def test_rescore_changes_the_verdicts_and_the_exported_summary(tmp_path):
    run, _ = open_run(tmp_path, None, n=3, warmup=0)
    folder = run.prepared.session.folder
    before = json.loads((folder / "summary.json").read_text())  # written at the end of the run
    assert before["metrics"]["gross"]["n_scored"] == 0
    recs = Session.open(folder).query_records()
    assert all(r.correct is None and 'no scorer for kind "judge"' in r.score_note for r in recs)

    seen = []
    judge = judge_of(JUDGE_REPLIES)
    judge.backend.answers["[Answer A]\nIt trains the immune"] = "[[A=B]]"
    out = rescore(folder, judge, sensor_set=scripted_sensors()(), listener=seen.append)
    assert [x.score.correct for x in out.judged] == [True, False, True] and len(seen) == 3
    assert out.changed == 3 and out.unscorable == 0 and out.not_selected == 0
    assert out.energy_j is not None and out.energy_j > 0 and out.energy_quality == "estimated"
    summary = json.loads(out.paths["summary"].read_text())
    m = summary["metrics"]["gross"]
    assert (m["n_scored"], m["n_correct"], m["accuracy"]) == (3, 2, pytest.approx(2 / 3))
    import pandas as pd

    df = pd.read_csv(out.paths["queries"])
    assert df["correct"].tolist() == [True, False, True] and df["scorer"].unique().tolist() == ["judge-pairwise"]
    lines = [json.loads(x) for x in (folder / "journal.jsonl").read_text().splitlines()]
    rescored = [x for x in lines if x["type"] == "rescore"]
    assert len(rescored) == 3 and all(x["segment"] == 0 and x["attempt"] == 1 for x in rescored)
    assert rescored[0]["previous"]["correct"] is None and rescored[0]["judge_energy_j"] > 0
    # the session's own bookkeeping is untouched; its status too
    assert summary["energy"]["segments"] == 1 and summary["status"] == "finished"
    meta = json.loads((folder / "session.json").read_text())
    assert meta["status"] == "finished" and meta["rescores"][0]["changed"] == 3

    # again, with a harsher judge: the later verdicts win
    out = rescore(folder, judge_of(default="[[B>>A]]"), sensor_set=scripted_sensors()())
    assert out.changed == 2
    m = json.loads(out.paths["summary"].read_text())["metrics"]["gross"]
    assert (m["n_scored"], m["n_correct"]) == (3, 0)
    assert len(json.loads((folder / "session.json").read_text())["rescores"]) == 2


def test_a_judge_that_fails_keeps_the_earlier_verdict(tmp_path):
    """A rescore whose judge call fails (an error, an unreadable reply) gives no verdict: the query keeps the
    one it had, and the failure is kept in the journal apart from the verdicts."""
    run, _ = open_run(tmp_path, None, n=3, warmup=0)
    folder = run.prepared.session.folder
    first = rescore(folder, judge_of(default="[[A=B]]"), sensor_set=scripted_sensors()())
    assert [x.score.correct for x in first.judged] == [True, True, True]
    judge = judge_of(default="[[B>>A]]", fail_on={"It trains the immune"})  # the call on one query fails
    judge.backend.answers["[Answer A]\nPrices go down"] = "I cannot decide."  # and one reply has no verdict
    out = rescore(folder, judge, sensor_set=scripted_sensors()())
    kept = [x for x in out.judged if x.score.failed]
    assert len(kept) == 2 and out.failed == 2 and out.changed == 1 and out.unscorable == 0
    by_id = {r.query_id: r for r in Session.open(folder).query_records()}
    for x in kept:
        assert by_id[x.record.query_id].correct is True  # the earlier verdict stands
    changed = next(x for x in out.judged if not x.score.failed)
    assert by_id[changed.record.query_id].correct is False
    lines = [json.loads(x) for x in (folder / "journal.jsonl").read_text().splitlines()]
    failed = [x for x in lines if x["type"] == "rescore-failed"]
    assert len(failed) == 2 and all(x["error"].startswith(("judge failed", "unparseable verdict")) for x in failed)
    m = json.loads(out.paths["summary"].read_text())["metrics"]["gross"]
    assert (m["n_scored"], m["n_correct"]) == (3, 2)
    assert json.loads((folder / "session.json").read_text())["rescores"][-1]["failed"] == 2


def test_rescore_all_judges_other_kinds_and_leaves_them_otherwise(tmp_path):
    req = RunRequest(backend="fake", queries="quick", out=str(tmp_path / "mc"),
                     settings=RunSettings(max_queries=3, warmup=0, idle_seconds=0, sample_hz=50, max_tokens=16))
    Run(req, sensor_factory=scripted_sensors(), backend_factory=model_factory).execute()
    with pytest.raises(JudgeError, match="--all"):
        rescore(tmp_path / "mc", judge_of(), sensor_set=scripted_sensors()())
    out = rescore(tmp_path / "mc", judge_of(default="[[A=B]]", all_kinds=True), sensor_set=scripted_sensors()())
    assert len(out.judged) == 3 and all(x.score.correct is True for x in out.judged)
    assert all(x.record.scorer == "judge-pairwise" for x in out.judged)


def test_rescore_refuses_what_is_not_a_finished_session(tmp_path, capsys, env):
    assert main(["rescore", str(tmp_path / "nothing"), "--judge", "fake"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a session folder" in err and "Traceback" not in err
    (tmp_path / "plain").mkdir()
    assert main(["rescore", str(tmp_path / "plain"), "--judge", "fake"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no session.json" in err

    run, _ = open_run(tmp_path, None, n=2, warmup=0)
    folder = run.prepared.session.folder
    held = Session.open(folder)
    held.set_status("running")  # as a run in progress (or a killed one) leaves it
    if hasattr(sessions, "lock_holder"):  # the session folder has a lock: a holder of it is a run
        held.lock()
        assert main(["rescore", str(folder), "--judge", "fake"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "a run holds this session now" in err
        held.unlock()
        args = ["rescore", str(folder), "--judge", "fake", "--quiet"]  # "running", nobody holds it: killed
    else:  # no lock: the status is the only sign, --force overrides it
        assert main(["rescore", str(folder), "--judge", "fake"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "run is in progress" in err and "--force" in err
        args = ["rescore", str(folder), "--judge", "fake", "--force", "--quiet"]
    assert "rescore" not in (folder / "journal.jsonl").read_text()
    assert main(args) == 0
    assert "judged 2 queries" in capsys.readouterr().out
    assert Session.open(folder).meta["status"] == "running"  # left as it was
    with pytest.raises(SystemExit) as ei:  # --judge is required: a usage error
        main(["rescore", str(folder), "--judge-model", "x"])
    assert ei.value.code == 2 and "--judge" in capsys.readouterr().err


def test_cli_run_with_a_judge_and_bad_judge_options(tmp_path, capsys, env):
    assert main(["run", "--backend", "fake", "--queries", "open", "--max-queries", "2", "--warmup", "0",
                 "--idle-seconds", "0", "--max-tokens", "8", "--judge-model", "x", "--out",
                 str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--judge-model needs --judge BACKEND" in err
    assert main(["run", "--backend", "fake", "--queries", "open", "--judge", "fake", "--judge-mode", "vote",
                 "--out", str(tmp_path / "a")]) == 1
    assert "--judge-mode must be one of pairwise, rubric" in capsys.readouterr().err
    assert main(["run", "--backend", "fake", "--queries", "open", "--judge", "fake", "--judge-timeout", "0",
                 "--out", str(tmp_path / "a")]) == 1
    assert "--judge-timeout must be more than 0" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert main(["run", "--backend", "fake", "--queries", "open", "--max-queries", "2", "--warmup", "0",
                 "--idle-seconds", "0", "--max-tokens", "8", "--judge", "fake", "--quiet", "--json", "--out",
                 str(tmp_path / "b")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["metrics"]["gross"]["n_unscored"] == 2  # the stand-in judge gives no verdict
    meta = json.loads((tmp_path / "b" / "session.json").read_text())
    assert meta["judge"]["backend"] == "fake" and meta["status"] == "finished"


# ---- the open set --------------------------------------------------------------------------------------------------


def test_the_open_set_is_bundled_and_loads_as_judge_queries():
    assert resolve_queries("open") == REPO / "sample_queries" / "open.jsonl"
    qs = load_set("open")
    assert len(qs) >= 40 and {q.kind for q in qs} == {JUDGE}
    domains = {q.domain for q in qs}
    assert len(domains) >= 6
    assert len({q.id for q in qs}) == len(qs)
    for q in qs:
        assert q.reference and 3 <= len(q.reference.split()) <= 80, q.id
        assert q.meta["question"].strip() and q.meta["question"] in q.prompt, q.id


# ---- a real judge over HTTP ----------------------------------------------------------------------------------------


@pytest.mark.model
def test_a_real_judge_over_http(tmp_path, llama, env):
    """SmolLM2-135M as the judge: its verdicts may be unparseable, and then unscorable with the reason is the
    right outcome. The structure is checked, not the judge's quality."""
    from ipwtui.backends.openai import ENGINE

    name = ENGINE.find_models(settings=RunSettings(base_url=llama.base_url))[0][0].name
    spec = JudgeSpec(backend="openai", base_url=llama.base_url, model=name, max_tokens=48, timeout_s=120.0,
                     api_key_env="IPWTUI_TEST_NO_KEY")
    run, out = open_run(tmp_path, spec, n=2, warmup=0)
    assert out.status == "finished"
    recs = run.prepared.session.query_records()
    assert len(recs) == 2
    for r in recs:
        assert r.judge_model == name and r.judge_backend == "openai" and r.judge_where == "remote"
        assert r.judge_calls == 1 and isinstance(r.judge_verdict, str) and r.judge_verdict
        assert r.judge_output_tokens is not None and 0 < r.judge_output_tokens <= 48
        assert r.judge_seconds > 0 and r.judge_energy_j is not None and r.judge_energy_j > 0
        assert r.judge_cost_usd is None and r.judge_cost_source.startswith("N/A")  # no price for a local file
        assert r.judge_server_energy_j is None  # no server-energy source was asked for
        if r.correct is None:
            assert r.score_note.startswith(("unparseable verdict", "judge failed"))
        else:
            assert r.prediction in {f"[[{x}]]" for x in LABELS}
            assert r.correct == (r.prediction in ("[[A>>B]]", "[[A>B]]", "[[A=B]]"))
    en = out.summary["energy"]
    assert math.isclose(en["counted_j"] + en["excluded_j"] + en["unattributed_j"], en["total_j"], rel_tol=1e-9)
    assert en["unattributed_j"] >= sum(r.judge_energy_j for r in recs) - 1e-9
