"""Home and End move through the queries in the per-query table."""

from textual.app import App

from ipwtui.tui.widgets.query_table import QueryTable


class TableApp(App):
    def compose(self):
        yield QueryTable(id="queries")


async def test_home_and_end_go_to_first_and_last_query():
    app = TableApp()
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one(QueryTable)
        table.add_column("n")
        table.add_rows([[str(i)] for i in range(200)])
        table.focus()
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == 199
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0
