"""The leaderboard: sessions grouped by query set, ranked only within one, sortable by any column; an
unreadable folder is a row, never a crash; summary.json used only when it is not older than the journal;
nothing written into session folders. The CLI command and the app's screen."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ipwtui.cli import main
from ipwtui.core.leaderboard import COLUMNS, leaderboard, load_entry, query_set_of, row_text
from support import make_app, wait_until
from test_report import write_session

SET_A = [f"a{i}" for i in range(14)]
SET_B = [f"b{i}" for i in range(14)]


@pytest.fixture
def root(tmp_path) -> Path:
    r = tmp_path / "sessions"
    write_session(r / "m1-a", ids=SET_A, model="m1")  # IPW x1
    write_session(r / "m2-a", ids=SET_A, model="m2", watts_scale=0.5)  # half the power: IPW x2
    write_session(r / "m3-a", n=10, ids=SET_A, model="m3", watts_scale=0.25, status="interrupted")  # IPW x4, partial
    write_session(r / "m4-b", ids=SET_B, model="m4", watts_scale=0.7)  # IPW x1/0.7: between m1 and m2
    return r


def _names(entries) -> list[str]:
    return [e.session for e in entries]


def test_query_set_is_the_file_name_and_a_digest_of_the_ids():
    a = query_set_of({"queries_file": "/x/quick.jsonl", "query_ids": ["q1", "q2"]})
    b = query_set_of({"queries_file": "/elsewhere/quick.jsonl", "query_ids": ["q2", "q1"]})
    c = query_set_of({"queries_file": "/x/quick.jsonl", "query_ids": ["q1", "q3"]})
    assert a == b  # the same queries in another order, from a copy of the file elsewhere
    assert a != c and a.name == c.name == "quick.jsonl"
    assert a.size == 2


def test_sessions_are_grouped_by_query_set_and_never_ranked_across(root):
    board = leaderboard(root)
    assert [(g.query_set.name, len(g.entries)) for g in board.groups] == [("quick.jsonl", 3), ("quick.jsonl", 1)]
    a, b = board.groups
    assert {e.query_set for e in a.entries} == {query_set_of({"queries_file": "q/quick.jsonl", "query_ids": SET_A})}
    ranks = {e.session: e.rank for e in board.entries}
    # by IPW within set A, the partial session (10 of 14 queries) unranked though its IPW is the highest
    assert ranks == {"m2-a": 1, "m1-a": 2, "m3-a": None, "m4-b": 1}
    assert "10 of 14 queries" in next(e for e in a.entries if e.session == "m3-a").rank_note
    # sorted by IPW, m4-b (between m1 and m2) is never placed among set A's rows
    assert _names(board.entries) == ["m3-a", "m2-a", "m1-a", "m4-b"]
    assert all(e.key[2] == a.query_set.digest for e in a.entries)


@pytest.mark.parametrize("col", list(COLUMNS))
def test_every_column_sorts_within_each_group_with_na_last(root, col):
    write_session(root / "none-a", ids=SET_A, model="m5", energy=False)  # IPW, IPJ N/A
    board = leaderboard(root)
    for desc in (True, False):
        s = board.sorted(col, desc)
        for g in s.groups:
            vals = [e.value(col) for e in g.entries]
            have = [v for v in vals if v is not None]
            assert vals[: len(have)] == have  # N/A last in both directions
            assert have == sorted(have, reverse=desc)
        assert [g.query_set for g in s.groups] == [g.query_set for g in board.groups]


def test_sort_direction_defaults_and_reverse(root):
    board = leaderboard(root, sort="model")
    assert _names(board.groups[0].entries) == ["m1-a", "m2-a", "m3-a"]  # names: A to Z
    assert _names(leaderboard(root, sort="model", descending=True).groups[0].entries) == ["m3-a", "m2-a", "m1-a"]
    assert _names(leaderboard(root, sort="ipj").groups[0].entries)[0] == "m3-a"  # figures: highest first
    with pytest.raises(ValueError):
        board.sorted("nope")


def test_unreadable_folders_are_listed_never_raised(root):
    bad = root / "bad-json"
    bad.mkdir()
    (bad / "session.json").write_text("{not json", encoding="utf-8")
    dirj = write_session(root / "journal-is-a-folder", ids=SET_A)
    (dirj / "journal.jsonl").unlink()
    (dirj / "journal.jsonl").mkdir()
    lost = root / "lost-meta"
    lost.mkdir()
    (lost / "journal.jsonl").write_text('{"type": "query"}\n', encoding="utf-8")
    (root / "not-a-session").mkdir()  # an unrelated folder is not a row
    board = leaderboard(root)
    bad_rows = {e.session: e for e in board.unreadable}
    assert set(bad_rows) == {"bad-json", "journal-is-a-folder", "lost-meta"}
    assert "cannot read session" in bad_rows["bad-json"].error
    assert "cannot read the journal (Is a directory)" in bad_rows["journal-is-a-folder"].error
    assert "not a session folder" in bad_rows["lost-meta"].error
    assert all(e.status == "unreadable" and e.rank is None for e in bad_rows.values())
    assert row_text(bad_rows["bad-json"])["status"] == "unreadable"
    assert sum(len(g.entries) for g in board.groups) == 4  # the readable ones are all there


def test_summary_json_is_used_only_when_not_older_than_the_journal(tmp_path):
    folder = write_session(tmp_path / "s", ids=SET_A)
    built = load_entry(folder)
    assert built.figures_from == "journal"
    summary = {"metrics": {"gross": {"n": 13, "ipw": 123.0, "n_with_energy": 13}, "net": {"n": 13}},
               "queries": {"finished": 14}, "energy_quality": "estimated"}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    j = folder / "journal.jsonl"
    st = j.stat()
    os.utime(folder / "summary.json", (st.st_atime, st.st_mtime + 10))
    cached = load_entry(folder)
    assert cached.figures_from == "summary.json" and cached.ipw == 123.0
    os.utime(j, (st.st_atime, st.st_mtime + 20))  # queries journalled after the summary: stale
    stale = load_entry(folder)
    assert stale.figures_from == "journal" and stale.ipw == pytest.approx(built.ipw)
    (folder / "summary.json").write_text("{broken", encoding="utf-8")
    os.utime(folder / "summary.json", (st.st_atime, st.st_mtime + 30))
    assert load_entry(folder).figures_from == "journal"


def test_a_journal_that_grew_is_read_again(tmp_path):
    folder = write_session(tmp_path / "s", ids=SET_A, status="interrupted")
    first = load_entry(folder)
    lines = (folder / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    q = json.loads(next(x for x in lines if '"type": "query"' in x and '"status": "ok"' in x))
    q.update(query_id="extra", index=99)
    with open(folder / "journal.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(q) + "\n")
    assert load_entry(folder).n == first.n + 1


def test_a_session_killed_after_its_last_query_is_ranked(tmp_path):
    r = tmp_path / "sessions"
    write_session(r / "done", ids=SET_A)
    write_session(r / "killed", ids=SET_A, status="running", watts_scale=0.5)  # all 14 queries journalled
    (g,) = leaderboard(r).groups
    assert {e.session: e.rank for e in g.entries} == {"killed": 1, "done": 2}
    assert row_text(g.entries[0])["status"] == "running"


def test_nothing_is_written_into_session_folders(root):
    def state():
        return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))

    before = state()
    leaderboard(root)
    assert state() == before


def test_mixed_boundaries_are_ranked_only_with_a_note(tmp_path):
    r = tmp_path / "sessions"
    write_session(r / "est", ids=SET_A)
    write_session(r / "meas", ids=SET_A, quality="measured")
    (g,) = leaderboard(r).groups
    assert sorted(e.rank for e in g.entries) == [1, 2]
    assert any("different energy boundaries" in n for n in g.notes)
    assert any("mix energy qualities" in n for n in g.notes)


def test_cli_json_and_table(root, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "220")  # rich's width when not on a terminal
    (root / "bad").mkdir()
    (root / "bad" / "session.json").write_text("[]", encoding="utf-8")
    assert main(["leaderboard", "--dir", str(root), "--json", "--sort", "model"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sort"] == "model" and data["descending"] is False
    assert [[e["session"] for e in g["entries"]] for g in data["groups"]] == [["m1-a", "m2-a", "m3-a"], ["m4-b"]]
    assert [e["session"] for e in data["unreadable"]] == ["bad"]
    assert main(["leaderboard", "--dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.count("query set quick.jsonl") == 2
    assert "unreadable sessions" in out and "never ranked together" in out
    assert "(estimate)" in out
    assert main(["leaderboard", "--dir", str(root / "nowhere")]) == 1
    assert "not a folder" in capsys.readouterr().err


async def test_app_screen_loads_sorts_and_opens(tmp_path, env):
    from textual.widgets import DataTable

    from ipwtui.tui.screens.leaderboard import LeaderboardScreen
    from ipwtui.tui.screens.sessions import SessionView

    r = tmp_path / "sessions"
    write_session(r / "m1-a", ids=SET_A, model="m1")
    write_session(r / "m2-a", ids=SET_A, model="m2", watts_scale=0.5)
    write_session(r / "m4-b", ids=SET_B, model="m4", watts_scale=0.7)
    write_session(r / "m3-a", n=10, ids=SET_A, model="m3", watts_scale=0.25, status="interrupted")
    (r / "bad").mkdir()
    (r / "bad" / "session.json").write_text("{", encoding="utf-8")
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, LeaderboardScreen)
                         and app.screen.query_one(DataTable).row_count == 5, what="leaderboard rows")
        scr = app.screen
        table = scr.query_one(DataTable)

        def column(key: str) -> list[str]:
            return [str(table.get_cell(rk, key)) for rk in [r.key for r in table.ordered_rows]]

        # IPW, within set A first; the unfinished m3-a (best IPW) is listed unranked, and the notes say why
        assert column("session") == ["m3-a", "m2-a", "m1-a", "m4-b", "bad"]
        assert column("rank")[:3] == ["–", "1", "2"]
        from ipwtui.core.leaderboard import RANK_RULE

        notes = str(scr.query_one("#leaderboard-notes").render())
        assert f"Rank: {RANK_RULE}." in notes and "m3-a: not ranked: 10 of 14 queries done" in notes
        assert column("status")[-1] == "unreadable"
        # a click on the "model" header sorts by model, A to Z; a second click reverses
        x = sum(c.get_render_width(table) for c in table.ordered_columns[: table.get_column_index("model")]) + 2
        await pilot.click(DataTable, offset=(x, 0))
        await wait_until(pilot, lambda: scr.sort == "model", what="sort by model")
        assert column("session")[:2] == ["m1-a", "m2-a"]
        await pilot.click(DataTable, offset=(x, 0))
        await wait_until(pilot, lambda: scr.descending, what="reversed")
        assert column("session")[:3] == ["m3-a", "m2-a", "m1-a"]
        assert column("set")[3] != column("set")[0]  # set B's row stays after set A's
        await pilot.press("s")  # the next column
        assert scr.sort != "model"
        await pilot.press("r")
        table.move_cursor(row=0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionView), what="session view")
        assert app.screen.folder.name == column("session")[0]


def test_a_session_whose_queries_failed_is_listed_not_ranked(tmp_path):
    """Errors leave the hard queries out of a session's figures: it is not the same work as a session that
    answered them all, so it gets no rank, with why and how to finish it."""
    r = tmp_path / "sessions"
    write_session(r / "all", ids=SET_A)
    write_session(r / "failing", ids=SET_A, watts_scale=0.25)  # would rank first on IPW
    lines = (r / "failing" / "journal.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    for d in recs:
        if d.get("type") == "query" and d.get("query_id") in ("a0", "a1"):
            d.update(status="error", error="server error 500", correct=None, answer=None)
    (r / "failing" / "journal.jsonl").write_text("".join(json.dumps(d) + "\n" for d in recs))
    (g,) = leaderboard(r).groups
    by = {e.session: e for e in g.entries}
    assert by["all"].rank == 1 and by["failing"].rank is None
    assert by["failing"].errors == 2
    assert by["failing"].rank_note == "not ranked: 2 of 14 queries failed (no answer); ipwtui run --resume tries them again"
