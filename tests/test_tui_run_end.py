"""What the run screen says once a run is over, for a resumed session, and when figures cover fewer
queries or net energy is not positive."""

from __future__ import annotations

import msgspec

from ipwtui.core import events as ev
from ipwtui.core import fmt
from ipwtui.core.summary import session_metrics
from ipwtui.tui.rows import record_cells
from support import CannedHandle, canned_records, make_app, wait_until
from test_tui_layout import loaded, setup_app

SIZE = (120, 36)


def footer_actions(screen) -> set[str]:
    from textual.widgets._footer import FooterKey

    return {k.action for k in screen.query(FooterKey)}


async def test_after_a_stop_the_footer_and_progress_line_say_only_what_applies(env):
    app = make_app(env, n=30, words=40, tps=150.0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.setup_screen().loaded, what="setup")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.live is not None and len(app.live.records) >= 2, what="two queries")
        run = app.run_screen
        await pilot.pause(0.1)
        running_keys = footer_actions(run)
        assert {"toggle_pause", "skip", "stop"} <= running_keys
        assert "ETA" in run.query_one("#progress-label").text
        await pilot.press("x")
        await wait_until(pilot, lambda: not app.handle.active, what="run ended")
        await pilot.pause(0.2)
        assert app.live.status == "stopped"
        keys = footer_actions(run)
        assert not keys & {"toggle_pause", "skip", "stop"}
        assert {"export", "toggle_energy", "cycle_sort", "back"} <= keys
        label = run.query_one("#progress-label").text
        assert label == f"stopped {app.live.done}/30 queries"
        assert app.live.done < 30


async def test_a_resumed_session_shows_its_figures_before_its_first_new_query(env, monkeypatch):
    """The earlier segments' queries are in the table and in the figures from the start (the core's
    metrics of those records, computed once), not N/A until the first new query finishes."""
    import ipwtui.core.summary as summary
    from ipwtui.core.sensors.base import ESTIMATED, Domain
    from ipwtui.tui.live import LiveState, PastRecords
    from ipwtui.tui.screens.run import RunScreen

    calls = []
    real = summary.session_metrics
    monkeypatch.setattr(summary, "session_metrics", lambda *a, **k: calls.append(1) or real(*a, **k))
    past = canned_records(12, 40)
    expected = real(past)["gross"]
    assert expected.ipw is not None and expected.accuracy is not None  # the data has figures to show

    app = setup_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        live = LiveState(energy_view="gross", model_name="m", accelerator="cpu")
        screen = RunScreen(live, CannedHandle(lambda: [], "/tmp/s"))
        app.push_screen(screen)
        await wait_until(pilot, lambda: app.screen is screen, what="run screen")
        dom = Domain("cpu-est", "cpu", "cpu-time-model", ESTIMATED, "cpu", False)
        for e in (ev.SessionStarted("/tmp/s", 1, 40, 12, [dom], ["cpu-est"]), ev.Phase("warmup", "1 warm-up"),
                  PastRecords(past)):
            live.apply(e)  # as the app does with each event
            screen.on_run_event(e)
        await wait_until(pilot, lambda: screen.query_one("#queries").row_count == 12, what="past rows")
        await pilot.pause(1.2)  # a few frames
        assert not live.records  # no new query has finished
        shown = {f: screen.query_one(f"#{f}").text for f in ("fig-ipw", "fig-ipj", "fig-acc", "fig-watts")}
        assert shown == {"fig-ipw": fmt.num(expected.ipw, 3), "fig-ipj": fmt.num(expected.ipj, 3),
                         "fig-acc": f"{100 * expected.accuracy:.1f}", "fig-watts": fmt.num(expected.mean_power_w, 3)}
        assert len(calls) == 1  # once, when the records arrived: not per frame


async def show_canned(app, pilot, records, view="gross"):
    from ipwtui.core.sensors.base import ESTIMATED, Domain
    from ipwtui.tui.live import LiveState
    from ipwtui.tui.screens.run import RunScreen

    live = LiveState(energy_view=view, model_name="m", accelerator="cpu")
    dom = Domain("cpu-est", "cpu", "cpu-time-model", ESTIMATED, "cpu", False)
    live.apply(ev.SessionStarted("/tmp/s", 0, 40, 0, [dom], ["cpu-est"]))
    for k, r in enumerate(records):
        live.apply(ev.QueryFinished(r, session_metrics(records) if k == len(records) - 1 else {}))
    screen = RunScreen(live, CannedHandle(lambda: [], "/tmp/s"))
    app.push_screen(screen)
    await wait_until(pilot, lambda: app.screen is screen and screen.redraws >= 1, what="run screen")
    await pilot.pause(0.1)
    return screen


async def test_a_figure_over_fewer_queries_than_finished_says_so(env):
    records = canned_records(14, 40)
    for r in records[::3]:  # a sensor gave nothing for these: their energy is N/A
        r.energy_j = r.energy_net_j = r.avg_power_w = None
        r.energy_quality = "unavailable"
    m = session_metrics(records)["gross"]
    assert 0 < m.n_with_energy < m.n
    app = setup_app(env)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        screen = await show_canned(app, pilot, records)
        for fid in ("fig-ipw", "fig-ipj", "fig-joules", "fig-watts"):
            assert f"over {m.n_with_energy} of {m.n}" in screen.query_one(f"#{fid}").caption, fid
        assert "over" not in screen.query_one("#fig-acc").caption  # accuracy covers every scored query


async def test_net_view_shows_net_power_and_why_figures_are_na(env):
    records = canned_records(12, 40)
    # the idle baseline above each query's power: net energy negative for every query
    records = [msgspec.structs.replace(r, energy_net_j=-0.5 * r.energy_j) for r in records]
    net = session_metrics(records)["net"]
    assert net.ipw is None and any("not positive" in n for n in net.notes)  # the core's verdict
    r = records[0]
    cells = record_cells(r, "net")
    assert cells[3].plain == fmt.num(r.energy_net_j, 3)
    assert cells[4].plain == fmt.num(r.energy_net_j / r.latency_s, 3)  # W: net power, not the gross
    assert record_cells(r, "gross")[4].plain == fmt.num(r.energy_j / r.latency_s, 3)
    app = setup_app(env)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        screen = await show_canned(app, pilot, records, view="gross")
        table = screen.query_one("#queries")
        assert screen.query_one("#fig-ipw").text is not None
        await pilot.press("g")  # gross -> net
        await pilot.pause(0.1)
        assert table.view == "net" and "W net" in table.render_line(0).text
        ipw = screen.query_one("#fig-ipw")
        assert ipw.text is None  # N/A, never 0
        assert ipw.caption.startswith("net ≤ 0: the idle baseline is at or above")
        assert screen.query_one("#fig-watts").text == fmt.num(net.mean_power_w, 3)


async def test_a_remote_sessions_figures_use_the_servers_energy_and_its_label(env):
    """A remote query's figures use the server's energy: a server's own telemetry (measured-remote) is
    not an estimate, whatever this machine's own (client) energy is."""
    records = canned_records(12, 40)
    records = [msgspec.structs.replace(r, where="remote", server_energy_j=3.0 * r.energy_j, server_energy_source="prometheus",
                                   server_energy_quality="measured-remote", server_energy_boundary="server")
               for r in records]
    m = session_metrics(records)["gross"]
    assert m.ipw is not None
    app = setup_app(env)
    async with app.run_test(size=(160, 48)) as pilot:
        await loaded(pilot)
        screen = await show_canned(app, pilot, records)
        ipw = screen.query_one("#fig-ipw")
        assert ipw.text == fmt.num(m.ipw, 3)
        assert ipw.border_title == "IPW · server" and not ipw.has_class("-estimate")
        assert record_cells(records[0])[3].plain == fmt.num(records[0].server_energy_j, 3)  # J: the server's
        ctx = screen.explain_context()
        assert ctx.remote and ctx.quality == "measured-remote" and ctx.source == "prometheus"
