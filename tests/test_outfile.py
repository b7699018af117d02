"""Exports and reports never overwrite a file ipwtui did not write, and are written whole or not at all."""

import os
import signal
import subprocess
import sys

import pytest

from ipwtui.core.export import QUERY_COLUMNS, export_session
from ipwtui.core.outfile import OutputError, check_replaceable, csv_header_is, has_mark, write_atomic
from ipwtui.core.session import SessionError
from test_cli import ipwtui, one_line_error

QUICK = ["--queries", "quick", "--idle-seconds", "0", "--warmup", "0", "--backend", "fake", "--max-queries", "2"]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s")
    p = ipwtui(tmp, "run", *QUICK, "--out", str(tmp / "s"))
    assert p.returncode == 0, p.stderr
    return tmp / "s"


def test_a_foreign_file_is_never_replaced_and_nothing_else_is_written(session, tmp_path):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "samples.csv").write_text("time,temperature\n1,20\n")
    with pytest.raises(SessionError) as e:
        export_session(session, out)
    assert "samples.csv: exists and is not a sample table ipwtui wrote" in str(e.value)
    assert sorted(p.name for p in out.iterdir()) == ["samples.csv"]  # queries.csv not written either
    assert (out / "samples.csv").read_text() == "time,temperature\n1,20\n"


def test_its_own_files_are_replaced(session, tmp_path):
    out = tmp_path / "exp"
    first = export_session(session, out, tmp_path / "q.csv", report=True)
    again = export_session(session, out, tmp_path / "q.csv", report=True)
    assert first == again
    assert (tmp_path / "q.csv").read_text().splitlines()[0] == ",".join(QUERY_COLUMNS)
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


def test_csv_flag_refuses_a_foreign_file_before_the_run(tmp_path):
    mine = tmp_path / "results.csv"
    mine.write_text("name,score\nalice,3\n")
    err = one_line_error(ipwtui(tmp_path, "run", *QUICK, "--out", str(tmp_path / "s"), "--csv", str(mine)))
    assert err == f"ipwtui: error: --csv {mine}: exists and is not a query table ipwtui wrote; choose another name or remove it"
    assert mine.read_text() == "name,score\nalice,3\n"
    assert not (tmp_path / "s").exists()  # refused before anything ran


@pytest.mark.parametrize("flag, name", [("--html", "notes.html"), ("--md", "notes.md")])
def test_report_refuses_a_foreign_file_and_replaces_its_own(session, tmp_path, flag, name):
    target = tmp_path / name
    target.write_text("my own notes\n")
    err = one_line_error(ipwtui(tmp_path, "report", str(session), flag, str(target)))
    assert f"{target}: exists and is not a report ipwtui wrote" in err
    assert target.read_text() == "my own notes\n"
    target.unlink()
    for _ in range(2):  # written, then replaced
        p = ipwtui(tmp_path, "report", str(session), flag, str(target))
        assert p.returncode == 0, p.stderr
        assert has_mark(target.read_bytes()[:4096])


def test_markdown_report_refuses_when_a_chart_name_is_taken(session, tmp_path):
    target = tmp_path / "r.md"
    p = ipwtui(tmp_path, "report", str(session), "--md", str(target))
    assert p.returncode == 0, p.stderr
    chart = sorted(tmp_path.glob("r-*.svg"))[0]
    chart.write_text("<svg>my drawing</svg>")
    target.unlink()
    err = one_line_error(ipwtui(tmp_path, "report", str(session), "--md", str(target)))
    assert f"{chart}: exists and is not a chart ipwtui wrote" in err
    assert not target.exists() and chart.read_text() == "<svg>my drawing</svg>"


def test_an_empty_file_and_a_missing_one_may_be_written(tmp_path):
    test = csv_header_is(["a", "b"])
    check_replaceable(tmp_path / "absent.csv", test, "x")
    (tmp_path / "empty.csv").write_text("")
    check_replaceable(tmp_path / "empty.csv", test, "x")
    (tmp_path / "ours.csv").write_text("a,b\r\n1,2\n")
    check_replaceable(tmp_path / "ours.csv", test, "x")
    (tmp_path / "theirs.csv").write_text("a,b,c\n")
    with pytest.raises(OutputError):
        check_replaceable(tmp_path / "theirs.csv", test, "x")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        check_replaceable(tmp_path / "dir.csv", test, "x")


def test_write_atomic_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("old")
    os.chmod(p, 0o640)
    write_atomic(p, "new")
    assert p.read_text() == "new" and (p.stat().st_mode & 0o777) == 0o640


def test_kill_9_in_the_middle_of_a_write_leaves_the_old_file_whole(tmp_path):
    """A writer killed while its data is going out: the destination holds the old bytes, never part of the
    new ones (the data goes to a temporary file that takes the name only when complete)."""
    p = tmp_path / "big.csv"
    p.write_text("old,file\n")
    code = (
        "import sys, os\n"
        "from pathlib import Path\n"
        "import ipwtui.core.outfile as o\n"
        "real = os.fsync\n"
        "def stop(fd):\n"
        "    print('writing', flush=True)\n"
        "    sys.stdin.read()\n"
        "o.os.fsync = stop\n"
        f"o.write_atomic(Path({str(p)!r}), 'x' * 10_000_000)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert p.read_text() == "old,file\n"
