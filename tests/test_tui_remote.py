"""A remote target from the app, on a scriptable OpenAI-compatible server on 127.0.0.1 (tests/fault_server.py):
what the screen says of the server's energy when it is N/A, a model the server names by its file's path, and
a duel whose remote side fails mid-run."""

from __future__ import annotations

from pathlib import Path

from fault_server import FaultServer, Status, Stream, openai_shape
from ipwtui.core.settings import RunSettings
from ipwtui.runs import RunRequest
from support import make_app, wait_until

SIZE = (160, 48)
SERVED = "/srv/models/llm/SmolLM2-135M-Instruct.Q4_1.gguf"  # a server serving a GGUF file names it by its path


def remote_settings(**kw) -> RunSettings:
    return RunSettings(idle_seconds=0.2, warmup=0, sample_hz=50, max_tokens=32, **kw)


async def setup_remote(pilot, app, server: FaultServer, energy: str):
    from textual.widgets import Input, Select

    setup = app.setup_screen()
    await wait_until(pilot, lambda: setup.loaded, what="setup")
    setup.query_one("#run-mode", Select).value = "remote"
    await pilot.pause()
    setup.query_one("#set-base_url", Input).value = server.base_url
    setup.query_one("#set-remote_model", Input).value = SERVED
    setup.query_one("#set-server_energy", Select).value = energy
    await pilot.pause()
    return setup


async def checked(pilot, app, server: FaultServer, energy: str) -> str:
    """The remote target set up with this server-energy source, and what Check says once it passes."""
    setup = await setup_remote(pilot, app, server, energy)
    await pilot.click("#remote-check")
    status = setup.query_one("#remote-status")
    await wait_until(pilot, lambda: "✓" in str(status.render()), what="check")
    return str(status.render())


async def test_ecologits_on_a_loopback_server_says_why_its_energy_is_na(env):
    """EcoLogits models cloud providers' fleets: on 127.0.0.1 every figure is N/A. Check says so before
    the run; during it the status line names the server's source (not this machine's sensors), a notice,
    the explainer (i), the tiles and each row say why; a row's energy quality is N/A with its N/A energy."""
    from ipwtui.tui.rows import record_cells
    from ipwtui.tui.screens.explain import ExplainScreen
    from ipwtui.tui.screens.run import RunScreen

    with FaultServer() as server:
        server.models = [SERVED]
        app = make_app(env, n=3, backend="fake", settings=remote_settings(), backend_factory=None)
        async with app.run_test(size=SIZE) as pilot:
            said = await checked(pilot, app, server, "ecologits")
            assert "ecologits will be N/A for every query" in said and "127.0.0.1 is a local or self-hosted server" in said
            assert said.startswith("✓ SmolLM2-135M-Instruct.Q4_1.gguf at") and "/srv/models" not in said
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), what="run screen")
            await wait_until(pilot, lambda: not app.handle.active, what="run ended")
            await pilot.pause(0.3)
            screen = app.run_screen
            recs = screen.live.all_records
            assert len(recs) == 3 and all(r.remote and r.energy() is None for r in recs)
            line = str(screen.query_one("#run-status").render())
            assert "server energy: ecologits (unavailable)" in line and "cpu-time-model" not in line
            assert any("127.0.0.1 is a local or self-hosted server" in n.message for n in app._notifications)
            assert screen.query_one("#fig-ipw").text is None  # N/A, never 0
            assert screen.query_one("#fig-ipw").caption.startswith("server energy N/A (i: why)")
            for r in recs:
                cells = record_cells(r)
                assert cells[3].plain == "N/A" and cells[5].plain == "N/A"  # J and its quality agree
                assert "127.0.0.1 is a local or self-hosted server" in cells[-1].plain
            await pilot.press("i")
            await wait_until(pilot, lambda: isinstance(app.screen, ExplainScreen), what="explainer")
            assert "Why the server's energy is N/A: EcoLogits: N/A: 127.0.0.1 is a local" in app.screen.text
            await pilot.press("escape")
            # a model the server names by its path: the file's name in the title and the session's folder
            assert screen.sub_title.startswith("SmolLM2-135M-Instruct.Q4_1.gguf")
            folder = Path(app.live.folder).name
            assert folder.endswith("-SmolLM2-135M-Instruct.Q4_1") and "srv" not in folder


async def test_a_duel_whose_server_fails_mid_run_counts_queries_and_says_why(env):
    """The remote side's server answers two queries, then fails (each failed query tried twice): the
    counter counts queries, not attempts ("B: 4/4 (2 errors)"), B keeps its session's energy label, the
    error rows say why, and the end of the duel says that side B had errors."""
    from ipwtui.tui.screens.duel import DuelScreen

    with FaultServer() as server:
        ok = openai_shape(["The", " answer", " is", " (A)."], prompt_tokens=12, completion_tokens=5)
        fail = Status(503, {"error": {"message": "the server is going down"}}, {"Retry-After": "0"})
        server.push(Stream(ok), Stream(ok), fail, fail, fail, fail)
        app = make_app(env, n=4, backend_factory=None)  # side A: the fake engine itself
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.setup_screen().loaded, what="setup")
            q = str(env / "q.jsonl")
            s = remote_settings(retries=1)
            b = s.replace(base_url=server.base_url, remote_model="fault-model",
                          server_energy="cited:gemini-apps-median")
            app.start_duel(RunRequest(backend="fake", queries=q, settings=s),
                           RunRequest(backend="openai", model="fault-model", queries=q, settings=b))
            await wait_until(pilot, lambda: isinstance(app.screen, DuelScreen), what="duel screen")
            screen = app.screen
            await wait_until(pilot, lambda: screen.ended, what="duel ended")
            await pilot.pause(0.3)
            live = screen.lives["B"]
            assert len(live.records) == 6  # two answers and four failed attempts
            progress = screen.query_one("#duel-progress").text
            assert "B: 4/4 (2 errors)" in progress and "A: 4/4" in progress
            figs = screen.query_one("#figs-B").text.splitlines()
            assert figs[2].startswith("ESTIMATE: server cited:gemini-apps-median"), figs  # not "N/A: server N/A"
            assert "going down" in screen.query_one("#answer-B").text
            table = screen.query_one("#duel-table")
            notes = [table.get_row_at(i)[-1].plain for i in range(table.row_count)]
            assert sum("error: " in n and "going down" in n for n in notes) == 4
            status = screen.query_one("#duel-status").text
            assert "side B had 2 errors" in status and "side A" not in status
            keys = {k.action for k in screen.query("FooterKey")}
            assert not keys & {"toggle_pause", "skip", "stop"} and {"compare", "export"} <= keys
            # the duel's end exports both sessions, as the duel command does
            for folder in app.handle.folders.values():
                await wait_until(pilot, lambda f=folder: (Path(f) / "report.md").exists(), what="exports")
                assert (Path(folder) / "queries.csv").exists() and (Path(folder) / "summary.json").exists()


async def test_check_warns_of_a_cited_figure_for_another_model(env):
    """A cited figure published for Gemini, used for a server serving SmolLM2: Check says, before the run,
    that its figures describe another model (the run's own warning, in the same words)."""
    from ipwtui.core.remote.estimate import CitedEstimate

    with FaultServer() as server:
        server.models = [SERVED]
        app = make_app(env, n=3, backend="fake", settings=remote_settings(), backend_factory=None)
        async with app.run_test(size=SIZE) as pilot:
            said = await checked(pilot, app, server, "cited:gemini-apps-median")
            [warning] = CitedEstimate("gemini-apps-median").advice(SERVED)
            assert f"⚠ {warning}" in said and "describe another model" in warning
