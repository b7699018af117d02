"""Nothing lost, nothing mixed: foreign folders, two runs at once, kill -9 in the middle of a write, resumes
that do not match, broken session files, settings that are the same in every front end."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ipwtui.core.session import JOURNAL_FILE, Session, SessionError, lock_holder, session_overview, shown_status
from ipwtui.core.settings import RunSettings, SettingError, spec
from test_cli import REPO, ipwtui, one_line_error

QUICK = ["--queries", "quick", "--idle-seconds", "0", "--warmup", "0", "--backend", "fake"]


# ---- where a session may go -------------------------------------------------------------------------


def test_out_into_a_foreign_non_empty_folder_is_refused_and_nothing_is_touched(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "session.csv").write_text("not ours\n")
    (folder / "power.csv").write_text("a,b\n1,2\n")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    err = one_line_error(ipwtui(tmp_path, "run", *QUICK, "--out", str(folder)))
    assert "not empty and not an ipwtui session" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no probe file, no lock, nothing


def test_out_into_an_existing_session_names_the_resume_command(tmp_path):
    out = tmp_path / "s"
    p = ipwtui(tmp_path, "run", *QUICK, "--max-queries", "2", "--out", str(out))
    assert p.returncode == 0, p.stderr
    meta = json.loads((out / "session.json").read_text())
    (out / "session.json").write_text(json.dumps(dict(meta, status="interrupted")))  # as a stop leaves it
    journal = (out / JOURNAL_FILE).read_bytes()
    err = one_line_error(ipwtui(tmp_path, "run", *QUICK, "--out", str(out)))
    assert f"ipwtui run --resume {out}" in err
    assert (out / JOURNAL_FILE).read_bytes() == journal


# ---- two runs at once ---------------------------------------------------------------------------------


HOLDER = textwrap.dedent("""
    import sys, time
    from ipwtui.core.session import Session
    s = Session.open(sys.argv[1])
    s.lock()
    print("locked", flush=True)
    time.sleep(60)
""")


def _holder(folder: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_session_held_by_a_run_is_refused_with_the_holders_pid_and_a_killed_one_is_resumable(tmp_path):
    out = tmp_path / "s"
    p = ipwtui(tmp_path, "run", *QUICK, "--max-queries", "2", "--out", str(out))
    assert p.returncode == 0, p.stderr
    meta = json.loads((out / "session.json").read_text())
    meta["status"] = "running"  # as a run that is going leaves it
    (out / "session.json").write_text(json.dumps(meta))
    holder = _holder(out)
    try:
        assert lock_holder(out) == f"pid {holder.pid} on {os.uname().nodename}"
        assert shown_status(meta, out) == "running"
        err = one_line_error(ipwtui(tmp_path, "run", "--resume", str(out)))
        assert f"pid {holder.pid}" in err and "holds this session" in err
        with pytest.raises(SessionError, match=f"pid {holder.pid}"):
            Session.open(out).lock()
    finally:
        holder.send_signal(signal.SIGKILL)  # kill -9: the system releases the lock
        holder.wait()
    assert lock_holder(out) is None
    o = session_overview(out)
    assert o["status"] == "interrupted" and o["resumable"]
    listing = ipwtui(tmp_path, "sessions", "--dir", str(tmp_path))
    assert "interrupted (resumable" in listing.stdout


# ---- kill -9 in the middle of a journal write ---------------------------------------------------------------


TORN_WRITER = textwrap.dedent("""
    import json, os, signal, sys
    path = sys.argv[1]
    with open(path, "a") as f:
        for i in range(3):
            f.write(json.dumps({"type": "idle", "segment": 0, "n": i}) + "\\n")
        f.write('{"type": "query", "query_id": "half-writ')  # the write is cut here
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_torn_last_line_is_cut_off_on_resume_and_its_bytes_kept_aside(tmp_path):
    s = Session.create(tmp_path / "s", {"id": "s", "query_ids": ["a"]})
    s.close("interrupted")
    journal = s.folder / JOURNAL_FILE
    p = subprocess.run([sys.executable, "-c", TORN_WRITER, str(journal)])
    assert p.returncode == -signal.SIGKILL
    assert not journal.read_bytes().endswith(b"\n")
    assert len(Session.open(s.folder).read_journal()) == 3  # the torn line is never read
    s2 = Session.open(s.folder)
    s2.begin_segment()
    s2.append({"type": "idle", "n": 3})
    s2.close("interrupted")
    lines = journal.read_text().splitlines()
    assert [json.loads(x)["n"] for x in lines] == [0, 1, 2, 3]  # the new record is whole, not glued on
    kept = list(s.folder.glob("journal.torn-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b'{"type": "query", "query_id": "half-writ'


# ---- resume checks ------------------------------------------------------------------------------------


def _interrupted_session(tmp_path, queries: Path) -> Path:
    out = tmp_path / "s"
    p = ipwtui(tmp_path, "run", "--backend", "fake", "--queries", str(queries), "--idle-seconds", "0",
               "--warmup", "0", "--max-queries", "3", "--out", str(out))
    assert p.returncode == 0, p.stderr
    meta = json.loads((out / "session.json").read_text())
    meta["status"] = "interrupted"
    meta["query_ids"] = meta["query_ids"] + ["q3"]  # one query left to do
    meta["query_digests"]["q3"] = "0" * 16
    (out / "session.json").write_text(json.dumps(meta))
    return out


def _queries(path: Path, n: int = 4, prompt: str = "Question {i}: which letter comes first?") -> Path:
    path.write_text("".join(json.dumps({"id": f"q{i}", "kind": "mc", "prompt": prompt.format(i=i),
                                        "choices": ["first", "second"], "answer": "A"}) + "\n"
                            for i in range(n)))
    return path


def test_resume_refuses_changed_queries_and_conflicting_options(tmp_path):
    qfile = _queries(tmp_path / "q.jsonl")
    out = _interrupted_session(tmp_path, qfile)
    err = one_line_error(ipwtui(tmp_path, "run", "--resume", str(out), "--max-tokens", "7"))
    assert "--max-tokens 7" in err and "(the session has 256)" in err
    _queries(qfile, prompt="Question {i}: a different question?")
    err = one_line_error(ipwtui(tmp_path, "run", "--resume", str(out)))
    assert "changed since the session began" in err and "q0" in err


def test_resume_refuses_a_changed_model_file(tmp_path):
    from ipwtui.runs import RunError, RunRequest, prepare
    from test_tui_setup import gguf

    model = gguf(tmp_path / "m.gguf", "m")
    folder = tmp_path / "s"
    q = _queries(tmp_path / "q.jsonl")
    s = Session.create(folder, {"id": "s", "backend": "llama.cpp", "queries_file": str(q), "query_ids": ["q0"],
                                "model": {"name": "m", "path": str(model), "sha256": "a" * 64},
                                "settings": RunSettings().as_dict()})
    s.close("interrupted")
    with pytest.raises(RunError, match="changed since the session began"):
        prepare(RunRequest(resume=str(folder)))


# ---- broken session files -----------------------------------------------------------------------------


def test_a_broken_session_is_listed_as_unreadable_and_the_others_still_are(tmp_path):
    root = tmp_path / "sessions"
    good = root / "good"
    p = ipwtui(tmp_path, "run", *QUICK, "--max-queries", "1", "--out", str(good))
    assert p.returncode == 0, p.stderr
    for name, text in (("bad-json", "{not json"), ("bad-shape", '{"model": "a string", "query_ids": 3}'),
                       ("bad-array", "[1, 2]")):
        (root / name).mkdir()
        (root / name / "session.json").write_text(text)
    (root / "bad-journal").mkdir()
    meta = json.loads((good / "session.json").read_text())
    (root / "bad-journal" / "session.json").write_text(json.dumps(meta))
    (root / "bad-journal" / JOURNAL_FILE).write_text('{"type": "query", "query_id": 5, "index": "x"}\n[1]\n')
    out = ipwtui(tmp_path, "sessions", "--dir", str(root))
    assert out.returncode == 0 and "Traceback" not in out.stderr
    for name in ("good", "bad-json", "bad-shape", "bad-array", "bad-journal"):
        assert name in out.stdout
    assert out.stdout.count("unreadable") == 3
    for name in ("bad-json", "bad-shape"):
        err = one_line_error(ipwtui(tmp_path, "export", str(root / name)))
        assert "session.json" in err
        err = one_line_error(ipwtui(tmp_path, "run", "--resume", str(root / name)))
        assert "session.json" in err


# ---- one rule, one message, everywhere ------------------------------------------------------------------


@pytest.mark.parametrize("name, bad", [("sample_hz", "0"), ("max_tokens", "nan"), ("idle_seconds", "inf"),
                                       ("contended_share", "1.5"), ("energy_view", "both")])
def test_a_bad_setting_gets_the_same_line_from_the_cli_the_config_file_and_the_model(tmp_path, name, bad):
    sp = spec(name)
    with pytest.raises(SettingError) as model_err:
        sp.parse(bad)
    cli = one_line_error(ipwtui(tmp_path, "run", *QUICK, sp.flag, bad))
    assert cli == f"ipwtui: error: {model_err.value}"
    cfg = tmp_path / "config"
    cfg.mkdir(exist_ok=True)
    value = bad if sp.kind is str else float(bad)
    (cfg / "config.json").write_text(json.dumps({"settings": {name: value}}, allow_nan=True))
    err = one_line_error(ipwtui(tmp_path, "run", *QUICK))
    assert err == f"ipwtui: error: {cfg / 'config.json'}: {model_err.value}"


def test_infinite_and_nan_numbers_are_refused_by_the_settings_model():
    for name in ("idle_seconds", "sample_hz", "temperature", "cpu_watts_per_core", "read_timeout_s"):
        for v in (float("inf"), float("-inf"), float("nan")):
            with pytest.raises(SettingError):
                RunSettings(**{name: v})


# ---- names, empty sessions, journals that are not what they seem -----------------------------------------


def test_two_runs_in_the_same_second_never_share_a_default_folder(tmp_path, monkeypatch):
    from ipwtui.core import session as sess

    monkeypatch.setattr(sess.time, "strftime", lambda fmt: "20260101-000000")  # the same second for all
    made = [sess.new_session_folder(tmp_path / "root", "m") for _ in range(5)]
    assert len(set(made)) == 5 and all(p.is_dir() and not any(p.iterdir()) for p in made)
    assert [p.name for p in made] == ["20260101-000000-m"] + [f"20260101-000000-m-{k}" for k in range(2, 6)]


@pytest.mark.parametrize("served, folder", [
    ("/srv/models/llm/SmolLM2-135M-Instruct.Q4_1.gguf", "20260101-000000-SmolLM2-135M-Instruct.Q4_1"),
    ("gpt-4o-mini", "20260101-000000-gpt-4o-mini"),
    ("meta-llama/Llama-3.1-8B-Instruct", "20260101-000000-meta-llama-Llama-3.1-8B-Instruct"),
])
def test_a_session_folder_is_named_after_the_model_file_not_its_path(tmp_path, monkeypatch, served, folder):
    """A server that serves a GGUF file names its model by the file's whole path: the folder (headless, duel
    and app alike) takes the file's name; a model id keeps its own name."""
    from ipwtui.core import session as sess
    from ipwtui.core.fmt import model_label

    monkeypatch.setattr(sess.time, "strftime", lambda fmt: "20260101-000000")
    assert sess.new_session_folder(tmp_path, served).name == folder
    assert model_label(served) == (served.rsplit("/", 1)[-1] if served.startswith("/") else served)
    assert model_label(None) == "" and model_label("./m.gguf") == "m.gguf" and model_label("x.GGUF") == "x.GGUF"


def test_a_run_refused_by_its_checks_leaves_no_folder(tmp_path):
    data = tmp_path / "data"
    err = one_line_error(ipwtui(tmp_path, "run", *QUICK, "--accelerator", "gpu:7"))
    assert "gpu:7" in err
    assert not (data / "sessions").exists() or list((data / "sessions").iterdir()) == []


def test_discard_removes_an_empty_session_and_keeps_one_with_records(tmp_path):
    empty = Session.create(tmp_path / "e", {"id": "e"})
    assert empty.discard() and not (tmp_path / "e").exists()
    kept = Session.create(tmp_path / "k", {"id": "k"})
    kept.begin_segment()
    kept.append({"type": "query", "query_id": "q1", "index": 0, "status": "ok"})
    assert not kept.discard() and (tmp_path / "k" / JOURNAL_FILE).exists()
    mine = Session.create(tmp_path / "u", {"id": "u"})
    (tmp_path / "u" / "notes.txt").write_text("a user's file")  # never removed, nor its folder
    assert mine.discard() and (tmp_path / "u" / "notes.txt").read_text() == "a user's file"


def test_a_journal_that_is_a_folder_is_one_line(tmp_path):
    out = tmp_path / "s"
    assert ipwtui(tmp_path, "run", *QUICK, "--max-queries", "1", "--out", str(out)).returncode == 0
    (out / JOURNAL_FILE).unlink()
    (out / JOURNAL_FILE).mkdir()
    err = one_line_error(ipwtui(tmp_path, "export", str(out), "--out", str(tmp_path / "x")))
    assert f"{out / JOURNAL_FILE}: cannot read the journal" in err


def test_nan_and_infinity_in_a_journal_are_not_numbers_the_figures_use(tmp_path):
    from ipwtui.core.record import QueryRecord

    r = QueryRecord.from_dict({"query_id": "q", "index": 0, "status": "ok", "energy_j": float("nan"),
                               "latency_s": float("inf"), "ttft_s": 0.5})
    assert r.energy_j is None and r.latency_s is None and r.ttft_s == 0.5
    assert r.extra["invalid_fields"] == ["energy_j", "latency_s"]


@pytest.mark.parametrize("line", [
    {"query_id": "q"},  # the least a line can be
    {"type": "query", "query_id": "q", "index": 3, "status": "ok", "energy_j": 2.5, "energy_flags": ["contended"],
     "energy_by_domain": {"cpu": 2.5}, "server_report": {"timings": {"n": 1}}, "from_the_future": 1},
    {"query_id": 7, "index": "x", "energy_j": "lots", "energy_flags": None, "server_report": [1], "wall_last": 5.0},
])
def test_a_record_read_from_a_line_is_the_one_its_constructor_would_build(line):
    """from_dict reads any line leniently; no two records share a mutable default; a record written and
    read back, straight (from_line) or leniently, is the same record."""
    from ipwtui.core.record import QueryRecord

    rec = QueryRecord.from_dict(dict(line))
    other = QueryRecord.from_dict({"query_id": "r"})
    for name in ("energy_flags", "server_energy_flags", "energy_by_domain", "server_report", "extra"):
        assert getattr(rec, name) is not getattr(other, name), name
    assert QueryRecord.from_dict(rec.to_dict()) == rec
    written = json.dumps(rec.to_dict()).encode()
    straight = QueryRecord.from_line(written)
    # a line with keys this version does not know, or values of the wrong type, is only read leniently
    assert straight == (None if rec.extra else rec)


def test_a_line_read_straight_is_the_line_read_leniently():
    """The two readings of a query line give the same record, its types included (a whole number in a float
    field is a float either way); a line the straight reading cannot take exactly is left to the other."""
    from ipwtui.core.record import QueryRecord

    full = QueryRecord("q1", 4, status="ok", correct=True, energy_j=3.5, energy_flags=["contended"],
                       energy_by_domain={"cpu": 3.5}, latency_s=1.25, wall_sent=10.0, wall_last=11.0,
                       wall_done=11.5, server_report={"timings": {"n": 1}}, prompt_tokens=12, prompt="é\n∑")
    line = json.dumps(full.to_dict())
    assert QueryRecord.from_line(line.encode()) == QueryRecord.from_dict(json.loads(line)) == full
    whole = json.loads(line) | {"latency_s": 2}  # written by another writer as an int
    a, b = QueryRecord.from_line(json.dumps(whole).encode()), QueryRecord.from_dict(whole)
    assert a == b and type(a.latency_s) is float and type(b.latency_s) is float
    not_exact = [
        json.loads(line) | {"energy_j": float("nan")},  # NaN
        json.loads(line) | {"correct": 1},  # a wrong type (read leniently: dropped and named)
        json.loads(line) | {"from_the_future": 1},  # an unknown key (kept in extra)
        json.loads(line) | {"extra": {"a": 1}},  # "extra" is not a key of a line either (kept in extra as it is)
        {k: v for k, v in json.loads(line).items() if k != "wall_done"},  # a journal from before wall_done
        {k: v for k, v in json.loads(line).items() if k != "index"},  # no index
        json.loads(line) | {"energy_flags": None},  # null where a list belongs
    ]
    for d in not_exact:
        assert QueryRecord.from_line(json.dumps(d).encode()) is None, d
    assert QueryRecord.from_line(line.replace('"latency_s": 1.25', '"latency_s": 1e999').encode()) is None
    # whole numbers too long for any float, or for 64 bits in a count: no number the figures use, named
    for key, value in (("decode_tps", 10**400), ("output_tokens", 10**400), ("index", -(10**30))):
        d = json.loads(line) | {key: value}
        assert QueryRecord.from_line(json.dumps(d).encode()) is None, key
        rec = QueryRecord.from_dict(d)
        assert key in rec.extra["invalid_fields"] and getattr(rec, key) == (-1 if key == "index" else None)
    # a counter's whole joules stay whole either way
    d = json.loads(line) | {"energy_by_domain": {"cpu": 2**53 + 1, "gpu": 1.5}}
    a, b = QueryRecord.from_line(json.dumps(d).encode()), QueryRecord.from_dict(d)
    assert a == b and a.energy_by_domain["cpu"] == 2**53 + 1
    # the key the extra field would take in a line is read leniently, kept in extra as any unknown key
    d = json.loads(line) | {"(extra: not a key of a line)": {}}
    assert QueryRecord.from_line(json.dumps(d).encode()) is None
    assert QueryRecord.from_dict(d).extra == {"(extra: not a key of a line)": {}}
    assert QueryRecord.from_dict({k: v for k, v in json.loads(line).items() if k != "wall_done"}).wall_done == 11.0


def test_a_journal_of_another_shape_reads_the_same_and_is_not_parsed_twice_a_line(tmp_path, monkeypatch):
    """Query lines a newer version wrote (a key this one does not know) are read leniently; after a few, the
    straight reading is no longer tried for the rest of the journal. The records are the same either way."""
    from ipwtui.core.record import QueryRecord, records_of
    from ipwtui.core.session import Session

    s = Session.create(tmp_path / "s", {"id": "s"})
    s.begin_segment()
    for i in range(200):
        s.append(QueryRecord(f"q{i}", i, energy_j=1.5, wall_done=2.0, extra={"from_the_future": i}).to_dict())
    s.close("finished")
    tried = []
    real = QueryRecord.from_line
    monkeypatch.setattr(QueryRecord, "from_line", staticmethod(lambda line: tried.append(1) or real(line)))
    entries = s.read_entries()
    assert records_of(entries) == records_of(s.read_journal())
    assert all(e.extra == {"from_the_future": k} for k, e in enumerate(records_of(entries)))
    assert 0 < len(tried) < 50


def test_a_journal_line_leaves_out_what_holds_nothing_and_reads_back_whole():
    from ipwtui.core.record import QueryRecord

    full = QueryRecord("q1", 4, status="ok", correct=True, energy_j=3.5, energy_flags=["contended"],
                       energy_by_domain={"cpu": 3.5}, latency_s=1.25, wall_sent=10.0, wall_last=11.0,
                       extra={"from_the_future": [1, 2]})
    bare = QueryRecord("q2", 5, status="error", error="timeout", wall_sent=10.0, wall_last=11.0)
    for rec in (full, bare):
        line = rec.to_dict()
        assert QueryRecord.from_dict(json.loads(json.dumps(line))) == rec
        assert "wall_done" in line and line["wall_done"] is None  # kept: its absence means an old journal
        assert not any(v is None for k, v in line.items() if k != "wall_done")
    line = bare.to_dict()
    for absent in ("correct", "energy_j", "judge_model", "energy_flags", "server_report", "energy_by_domain"):
        assert absent not in line
    assert full.to_dict()["energy_flags"] == ["contended"] and full.to_dict()["from_the_future"] == [1, 2]
    # a line from before wall_done existed still reads its window's end from the last piece
    old = dict(line)
    del old["wall_done"]
    assert QueryRecord.from_dict(old).wall_done == 11.0


@pytest.mark.parametrize("damage", ["none", "nan", "bad-utf8", "blank-line", "broken-line", "torn-end", "crlf", "cr",
                                    "crlf-u2028", "two-on-a-line", "white-line-and-two-on-a-line",
                                    "blank-line-and-two-on-a-line", "a-line-broken-in-two", "deep-query-line",
                                    "deep-other-line"])
def test_a_damaged_journal_reads_as_the_standard_library_reads_it_a_line_at_a_time(tmp_path, damage):
    """Query lines are read straight into records, the others by msgspec; what those refuse (a NaN, bytes
    that are not UTF-8) is read by the standard library, and a damaged line (broken, two values, torn) is
    skipped: the records are those of the standard library reading the journal a line at a time."""
    from ipwtui.core.record import QueryRecord, records_of
    from ipwtui.core.session import JOURNAL_FILE, Session

    folder = tmp_path / "s"
    s = Session.create(folder, {"id": "s"})
    s.begin_segment()
    for i in range(5):
        s.append({"type": "query", "query_id": f"q{i}", "index": i, "energy_j": 1.5 * i, "answer": "é ∑ \n ok"})
    s.close("finished")
    p = folder / JOURNAL_FILE
    lines = p.read_bytes().split(b"\n")
    at = {q: next(k for k, x in enumerate(lines) if f'"query_id": "{q}"'.encode() in x) for q in ("q1", "q2", "q3")}
    if damage == "nan":
        lines[at["q1"]] = lines[at["q1"]].replace(b'"energy_j": 1.5', b'"energy_j": NaN')
    elif damage == "bad-utf8":
        lines[at["q2"]] = lines[at["q2"]].replace(b' ok"', b' ok\xff\xfe"')  # (the writer escapes all else)
    elif damage == "blank-line":
        lines.insert(at["q2"], b"")
    elif damage == "broken-line":
        lines[at["q3"]] = lines[at["q3"]][: len(lines[at["q3"]]) // 2]
    elif damage == "torn-end":
        lines[-1] = b'{"type": "query", "query_id": "q9", "ind'
    elif "two-on-a-line" in damage:  # a line of two values is skipped, as the standard library's reading skips it
        lines[at["q3"]] = lines[at["q3"]] + b" " + lines[at["q3"]]
        if damage == "white-line-and-two-on-a-line":
            lines.insert(at["q2"], b" \t ")
        elif damage == "blank-line-and-two-on-a-line":  # (a line fewer with a value, a value more: no balance)
            lines.insert(at["q2"], b"")
    elif damage == "deep-query-line":  # nested deeper than any reader goes: skipped, never a traceback
        lines[at["q3"]] = lines[at["q3"]][:-1] + b', "server_report": {"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}"
    elif damage == "deep-other-line":
        lines.insert(at["q3"], b'{"type": "idle", "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    elif damage == "a-line-broken-in-two":  # the careful way skips both halves; msgspec must not join them
        cut = len(lines[at["q3"]]) // 2
        lines[at["q3"]:at["q3"] + 1] = [lines[at["q3"]][:cut], lines[at["q3"]][cut:]]
    elif damage == "crlf-u2028":  # a foreign writer: CRLF line ends and a raw U+2028 inside a string
        lines[at["q2"]] = lines[at["q2"]].replace(b' ok"', " ok\u2028 too\"".encode())
    sep = {"crlf": b"\r\n", "crlf-u2028": b"\r\n", "cr": b"\r"}.get(damage, b"\n")
    p.write_bytes(sep.join(lines))

    # the reference: the standard library alone, a line at a time, a damaged line skipped
    reference = []
    for raw in p.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")[:-1]:
        try:
            v = json.loads(raw.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            continue
        if isinstance(v, dict):
            reference.append(v)
    slow = records_of(reference)
    session = Session(folder, {})
    entries = session.read_entries()
    fast = records_of(entries)
    assert fast == slow and records_of(session.read_journal()) == slow
    if damage == "none":  # every query line read straight into a record
        assert sum(isinstance(e, QueryRecord) for e in entries) == 5
    ids = [r.query_id for r in fast]
    assert ids == (["q0", "q1", "q2", "q4"] if "broken" in damage or "two-on-a-line" in damage or damage == "deep-query-line"
                   else ["q0", "q1", "q2", "q3", "q4"])
    if damage == "nan":
        assert fast[1].energy_j is None and fast[1].extra["invalid_fields"] == ["energy_j"]
    if damage == "bad-utf8":
        assert "\ufffd" in fast[2].answer
    if damage == "crlf-u2028":
        assert fast[2].answer.endswith(" ok\u2028 too")  # the string whole, not cut at U+2028


def test_a_line_shaped_like_a_good_one_is_still_checked_for_nan():
    """Lines of one shape are read by one plan, made once; a NaN is a value, not a shape, and is caught
    in every line."""
    from ipwtui.core.record import QueryRecord

    good = QueryRecord.from_dict({"query_id": "a", "index": 0, "energy_j": 2.0, "latency_s": 1.0})
    bad = QueryRecord.from_dict({"query_id": "b", "index": 1, "energy_j": float("nan"), "latency_s": 1.0})
    again = QueryRecord.from_dict({"query_id": "c", "index": 2, "energy_j": 3.0, "latency_s": 1.0})
    assert good.energy_j == 2.0 and "invalid_fields" not in good.extra
    assert bad.energy_j is None and bad.latency_s == 1.0 and bad.extra["invalid_fields"] == ["energy_j"]
    assert again.energy_j == 3.0 and again.extra == {}
    wrong = QueryRecord.from_dict({"query_id": "d", "index": 3, "energy_j": "2.0", "latency_s": 1.0})
    assert wrong.energy_j is None and wrong.extra["invalid_fields"] == ["energy_j"]


@pytest.mark.parametrize("url, words", [
    ("http://[::1:8801/v1", "is not a valid URL"), ("http://127.0.0.1:99999/v1", "is not a valid URL"),
    ("http://:8801/v1", "has no host name"), ("ftp://host/v1", "http:// or https://"),
])
def test_a_url_that_cannot_work_is_one_line(tmp_path, url, words):
    err = one_line_error(ipwtui(tmp_path, "run", *QUICK, "--base-url", url))
    assert err.startswith("ipwtui: error: base URL (--base-url) ") and words in err


@pytest.mark.parametrize("flag", ["--base-url", "--prometheus-url"])
def test_a_password_in_a_url_is_refused_and_never_shown(tmp_path, flag):
    p = ipwtui(tmp_path, "run", *QUICK, flag, "http://alice:hunter2@127.0.0.1:1/v1", "--out", str(tmp_path / "s"))
    err = one_line_error(p)
    assert "must not hold a user name or password" in err and "http://***@127.0.0.1:1/v1" in err
    assert "hunter2" not in p.stdout + p.stderr and not (tmp_path / "s").exists()


def test_numbers_in_other_scripts_are_not_read_as_numbers():
    with pytest.raises(SettingError):
        spec("max_tokens").parse("١٢٨")  # Arabic-Indic digits: int() would read 128
    assert spec("max_tokens").parse("128") == 128


@pytest.mark.parametrize("extra", [["--model", "x.gguf"], ["--queries", "quick"], ["--backend", "fake"],
                                   ["--out", "elsewhere"]])
def test_resume_refuses_options_that_would_name_another_run(tmp_path, extra):
    err = one_line_error(ipwtui(tmp_path, "run", "--resume", str(tmp_path / "s"), *extra))
    assert err == (f"ipwtui: error: --resume uses the session's own model, queries, backend and folder: "
                   f"leave out {extra[0]}")


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "4000"])
def test_metrics_linger_must_be_a_sane_number_of_seconds(tmp_path, value):
    err = one_line_error(ipwtui(tmp_path, "run", *QUICK, "--metrics-port", "0", "--metrics-linger", value))
    assert "--metrics-linger" in err and "from 0 to 3600 seconds" in err


@pytest.mark.parametrize("value", ["inf", "nan", "-0.1"])
def test_compare_electricity_must_be_a_finite_price(tmp_path, value):
    err = one_line_error(ipwtui(tmp_path, "compare", str(tmp_path), str(tmp_path), "--electricity", value))
    assert "--electricity must be a finite number >= 0" in err


def test_out_into_a_finished_session_says_so_not_resume(tmp_path):
    out = tmp_path / "s"
    assert ipwtui(tmp_path, "run", *QUICK, "--max-queries", "1", "--out", str(out)).returncode == 0
    err = one_line_error(ipwtui(tmp_path, "run", *QUICK, "--out", str(out)))
    assert err == f"ipwtui: error: {out}: holds a finished session; give a new or empty folder"


def test_the_export_of_a_killed_session_says_interrupted(tmp_path):
    out = tmp_path / "s"
    assert ipwtui(tmp_path, "run", *QUICK, "--max-queries", "1", "--out", str(out)).returncode == 0
    meta = json.loads((out / "session.json").read_text())
    meta["status"] = "running"  # as a kill -9 leaves it: nobody holds the lock
    (out / "session.json").write_text(json.dumps(meta))
    p = ipwtui(tmp_path, "export", str(out), "--out", str(tmp_path / "x"))
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "x" / "summary.json").read_text())["status"] == "interrupted"


def test_a_remote_sessions_listed_quality_is_that_of_the_server_energy_its_figures_use():
    """The sessions list names the energy IPW uses: a remote session whose server energy was N/A for every
    query is "unavailable", not the client's CPU estimate; one with cited figures is "estimated"."""
    from ipwtui.core.record import QueryRecord
    from ipwtui.core.session import energy_qualities

    meta = {"where": "remote", "server_energy": {"source": "ecologits", "quality": "estimated"},
            "domains": [{"name": "cpu", "quality": "estimated"}]}

    def rec(j):
        return QueryRecord(query_id="q", index=0, where="remote", status="ok", server_energy_j=j,
                           server_energy_quality="estimated" if j is not None else None)

    assert energy_qualities(meta, [rec(None), rec(None)]) == ["unavailable"]
    assert energy_qualities(meta, [rec(5.0), rec(None)]) == ["estimated"]
    assert energy_qualities(meta, []) == ["estimated"]  # no query yet: what the source promised
    local = {"where": "local", "domains": [{"name": "package-0", "quality": "measured"}]}
    assert energy_qualities(local, []) == ["measured"]


def test_a_session_folder_that_cannot_be_written_at_the_end_says_so_and_how_to_finish(tmp_path, monkeypatch):
    """The folder stops taking new files mid-run (made immutable, a full disk): the run's error says the
    session's files cannot be written, where the finished queries are, and the command that finishes it."""
    from ipwtui.core import session as sess
    from ipwtui.core.settings import RunSettings
    from ipwtui.runs import Run, RunError, RunRequest
    from support import fake_backend_factory, scripted_sensors, write_queries

    real = sess._write_json_atomic
    out = tmp_path / "s"

    def refusing(path, data):
        if path.name == sess.SESSION_FILE and data.get("status") not in (None, "running"):
            raise PermissionError(1, "Operation not permitted", str(path) + ".tmp")
        return real(path, data)

    monkeypatch.setattr(sess, "_write_json_atomic", refusing)
    req = RunRequest(backend="fake", queries=str(write_queries(tmp_path / "q.jsonl", n=3)), out=str(out),
                     settings=RunSettings(idle_seconds=0.1, warmup=0, sample_hz=50, max_tokens=20))
    run = Run(req, sensor_factory=scripted_sensors(), backend_factory=fake_backend_factory(words=5))
    with pytest.raises(RunError) as err:
        run.execute()
    msg = str(err.value)
    assert "\n" not in msg and err.value.stage == "run"
    assert msg.startswith(f"cannot write the session's files ({out / sess.SESSION_FILE}.tmp: Operation not permitted)")
    assert f"ipwtui run --resume {out}" in msg and str(out / sess.JOURNAL_FILE) in msg
    assert len(sess.Session.open(out).done_ids()) == 3  # every answer is in the journal
    assert sess.lock_holder(out) is None  # and the folder is free for the resume


def test_reading_records_leaves_the_garbage_collector_as_it_found_it():
    """records_of holds the collector off while it builds records, then gives it back as it was: enabled
    or not, and a run's frozen heap still frozen."""
    import gc

    from ipwtui.core.record import gc_paused, records_of

    lines = [{"type": "query", "query_id": f"q{i}", "index": i} for i in range(50)]
    assert gc.isenabled()
    assert len(records_of(lines)) == 50 and gc.isenabled()
    gc.disable()
    try:
        records_of(lines)
        assert not gc.isenabled()
    finally:
        gc.enable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() == frozen > 0
    finally:
        gc.unfreeze()
