"""Home and End move through the queries in the per-query table."""

from textual.app import App

from ipwtui.core.record import QueryRecord
from ipwtui.tui.rows import record_cells
from ipwtui.tui.widgets.query_table import QueryTable


class TableApp(App):
    def compose(self):
        yield QueryTable(id="queries")


async def test_home_and_end_go_to_first_and_last_query():
    app = TableApp()
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one(QueryTable)
        table.add_records([record_cells(QueryRecord(f"q{i}", i, domain="math")) for i in range(200)])
        assert table.cursor_row == 199  # following the newest row
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0 and not table.follow
        table.focus()
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == 199
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.cursor_row == 199
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert table.cursor_row == 0


def line_text(table, y: int) -> str:
    return "".join(seg.text for seg in table.render_line(y))


def rec(i: int, **kw) -> QueryRecord:
    r = {"index": i, "domain": "math", "correct": True, "energy_j": 100.0 + i, "energy_net_j": 0.5 + i,
         "avg_power_w": 4.0, "energy_quality": "estimated", "latency_s": 0.5, "output_tokens": 10}
    r.update(kw)
    return QueryRecord(query_id=f"q{i}", **r)


async def test_rows_draw_with_the_header_fixed_and_the_newest_row_in_view():
    app = TableApp()
    async with app.run_test(size=(90, 12)) as pilot:
        table = app.query_one(QueryTable)
        table.add_records([record_cells(rec(i)) for i in range(50)])
        await pilot.pause()
        header = line_text(table, 0)
        assert "J gross" in header and "tok/s" in header and "domain" in header
        shown = table.scrollable_content_region.height
        # the last line on screen is the newest query, under the cursor
        last = line_text(table, shown - 1)
        assert last.split()[:4] == ["50", "✓", "math", "149"]  # 100 + 49 J
        assert table.cursor_row == 49
        # a row's cells keep their widths: the J column lines up with the header's
        assert header.index("J gross") <= last.index("149") + 3
        # the user moves up: new rows no longer pull the cursor down
        await pilot.press("up")
        await pilot.pause()
        assert table.cursor_row == 48 and not table.follow
        table.add_records([record_cells(rec(50))])
        await pilot.pause()
        assert table.cursor_row == 48 and table.row_count == 51
        # back on the newest row, it follows again
        await pilot.press("end")
        table.add_records([record_cells(rec(51))])
        await pilot.pause()
        assert table.cursor_row == 51 and table.follow


async def test_sorting_orders_numbers_as_numbers_and_puts_na_last():
    app = TableApp()
    async with app.run_test(size=(90, 12)) as pilot:
        table = app.query_one(QueryTable)
        table.add_records([record_cells(rec(0, energy_j=10.0)), record_cells(rec(1, energy_j=None)),
                           record_cells(rec(2, energy_j=9.0))])
        table.sort_by("j")
        await pilot.pause()
        assert [table.get_row_at(i)[0].plain for i in range(3)] == ["3", "1", "2"]
        assert "J gross ▲" in line_text(table, 0)
        table.sort_by("j", reverse=True)
        assert [table.get_row_at(i)[0].plain for i in range(3)][:2] == ["1", "3"]
        assert str(table.get_row_at(2)[3]) == "N/A"
        # a click on the first header cell goes back to arrival order
        table.sort_by("j")
        await pilot.click(QueryTable, offset=(2, 0))
        await pilot.pause()
        assert table.sort_column is None
        assert [table.get_row_at(i)[0].plain for i in range(3)] == ["1", "2", "3"]
        # a click on the J header sorts by it
        j_at = line_text(table, 0).index("J gross")
        await pilot.click(QueryTable, offset=(j_at, 0))
        await pilot.pause()
        assert table.sort_column == "j"


def three_rows_shown_net(app) -> QueryTable:
    """The app's table with three records, switched to the net view."""
    table = app.query_one(QueryTable)
    records = [rec(i) for i in range(3)]
    table.add_records([record_cells(r) for r in records])
    table.set_view("net", [record_cells(r, "net") for r in records])
    return table


async def test_net_view_rebuilds_the_energy_column():
    app = TableApp()
    async with app.run_test(size=(90, 12)) as pilot:
        table = three_rows_shown_net(app)
        await pilot.pause()
        assert "J net" in line_text(table, 0)
        assert str(table.get_row_at(0)[3]) == "0.5" and str(table.get_row_at(2)[3]) == "2.5"


async def test_progress_and_bar_line_draw_what_they_are_given():
    from textual.app import App as _App

    from ipwtui.tui.widgets.lines import BarLine, LineText
    from ipwtui.tui.widgets.progress import RunProgress

    class A(_App):
        def compose(self):
            yield RunProgress(id="p")
            yield BarLine(id="b")
            yield LineText(id="t")

    app = A()
    async with app.run_test(size=(40, 6)) as pilot:
        p, b, t = app.query_one(RunProgress), app.query_one(BarLine), app.query_one(LineText)
        p.update(40, 10)
        b.update([1.0, None, 2.0, 4.0])
        t.update("streaming now: 97 tok/s")
        await pilot.pause()
        line = "".join(s.text for s in p.render_line(0))
        assert line.endswith(" 25%") and len(line) == 40
        # the bar fills the rest: done (heavy) then to do (light), a quarter of it done
        bar = 40 - len("   25%")
        assert line.startswith("━" * round(bar / 4) + "─" * (bar - round(bar / 4)))
        bars = "".join(s.text for s in b.render_line(0)).rstrip()
        assert bars == "▃▅█"  # 1, 2, 4 against the largest (8 heights); N/A left out, never drawn as 0
        assert "".join(s.text for s in t.render_line(0)).rstrip() == "streaming now: 97 tok/s"
        p.update(None, 0)
        await pilot.pause()
        assert "---" in "".join(s.text for s in p.render_line(0))


async def test_the_verdict_column_sorts_like_a_number_with_unscored_last():
    """✓ ▲ and ✓ ▼ order like a numeric column (✗ = 0 before ✓ = 1 going up, the reverse going down);
    unscored and skipped queries (–) come last either way, as N/A does."""
    app = TableApp()
    async with app.run_test(size=(90, 12)) as pilot:
        table = app.query_one(QueryTable)
        table.add_records([record_cells(rec(0, correct=True)), record_cells(rec(1, correct=None)),
                           record_cells(rec(2, correct=False)), record_cells(rec(3, correct=True, status="skipped"))])
        table.sort_by("ok")
        await pilot.pause()
        up = [table.get_row_at(i)[1].plain for i in range(4)]
        table.sort_by("ok", reverse=True)
        down = [table.get_row_at(i)[1].plain for i in range(4)]
        assert up[0] == "✗" and up[-1] == "–" and down[0] == "✓" and down[-1] == "–", (up, down)


async def test_the_sort_arrow_is_never_cut_off_a_narrow_header():
    app = TableApp()
    async with app.run_test(size=(160, 12)) as pilot:
        table = three_rows_shown_net(app)
        for key, down in (("w", False), ("w", True), ("ttft", False), ("tok", True)):
            table.sort_by(key, reverse=down)
            await pilot.pause()
            header = line_text(table, 0)
            assert ("▼" if down else "▲") in header, (key, header)
            assert "W net…" not in header


async def test_a_rows_flags_and_error_are_said():
    """The "!" of a flagged window says which flags: in a last column when the table is wide, and for the
    selected row on the table's bottom line at any width; a failed attempt says its error."""
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(QueryTable)
        table.set_legend("the key")
        table.add_records([record_cells(rec(0, energy_flags=["contended", "short-window"])),
                           record_cells(rec(1, status="error", error="HTTP 503 from the server",
                                            energy_j=None, latency_s=0.000123))])
        table.focus()
        await pilot.pause()
        assert table.note_width == 0  # narrow: no note column
        assert table.border_subtitle == "#2 error: HTTP 503 from the server"
        await pilot.press("up")
        await pilot.pause()
        assert table.border_subtitle == "#1 flagged: contended, short-window"
        row = line_text(table, 2)
        assert "…" not in row and "0.0001" in row  # a tiny latency: fewer digits, never cut ("0.000…")
        table.blur()
        await pilot.pause()
        assert table.border_subtitle == "the key"
        await pilot.resize_terminal(160, 12)
        await pilot.pause()
        assert table.note_width >= 20
        header = line_text(table, 0)
        assert "why (flags, error)" in header
        assert "flagged: contended, short-window" in line_text(table, 1)
