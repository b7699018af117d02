"""The live screen's redraw interval: the normal rate with cores to spare, a CPU budget otherwise."""

import pytest

from ipwtui.core.backend import BackendTraits

from ipwtui.tui.pacing import Pacer


class FakeCpu:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_cores_to_spare_keep_the_normal_rate_whatever_a_tick_costs():
    cpu = FakeCpu()
    p = Pacer(base=0.5, longest=2.0, budget=0.01, cpu=cpu)
    for _ in range(5):
        cpu.t += 0.05  # 50 ms per tick
        assert p.next_interval(saturated=False) == 0.5


def test_saturated_cores_stretch_the_interval_to_the_budget():
    cpu = FakeCpu()
    p = Pacer(base=0.5, longest=2.0, budget=0.01, cpu=cpu)
    assert p.next_interval(saturated=True) == 0.5  # nothing measured yet
    for _ in range(30):
        cpu.t += 0.008  # 8 ms of UI-thread CPU per tick: 0.8 s keeps it at 1 % of a core
        interval = p.next_interval(saturated=True)
    assert interval == pytest.approx(0.8, rel=1e-3)
    assert p.cost / interval == pytest.approx(0.01, rel=1e-3)


def test_cheap_ticks_stay_at_the_normal_rate_and_costly_ones_stop_at_the_ceiling():
    cpu = FakeCpu()
    p = Pacer(base=0.5, longest=2.0, budget=0.01, cpu=cpu)
    p.next_interval(True)
    for _ in range(30):
        cpu.t += 0.002
        interval = p.next_interval(True)
    assert interval == 0.5
    for _ in range(30):
        cpu.t += 0.1
        interval = p.next_interval(True)
    assert interval == 2.0


def test_a_one_off_costly_tick_does_not_slow_the_screen_down():
    cpu = FakeCpu()
    p = Pacer(base=0.5, longest=5.0, budget=0.01, cpu=cpu)
    cpu.t += 0.3  # everything before the first tick (mounting the screen) is not a tick's cost
    p.next_interval(True)
    for _ in range(30):
        cpu.t += 0.006
        p.next_interval(True)
    steady = p.interval
    assert steady == pytest.approx(0.6)
    cpu.t += 0.040  # one layout pass
    assert p.next_interval(True) == steady
    for _ in range(5):  # a lasting change of cost is followed
        cpu.t += 0.012
        p.next_interval(True)
    assert p.interval == pytest.approx(1.2)


def test_the_run_screen_counts_cores_as_saturated_only_when_the_model_threads_take_them_all():
    from types import SimpleNamespace

    from ipwtui.tui.live import LiveState
    from ipwtui.core.contention import usable_cores
    from ipwtui.tui.screens.run import RunScreen

    live = LiveState(phase="running")
    assert live.running

    from ipwtui.backends.llama_cpp.backend import LlamaCppBackend

    def screen(threads, gpu_layers=0):
        if threads is None:  # a backend that does not run on CPU threads here (the fake one, a server)
            backend = SimpleNamespace(traits=BackendTraits("fake"))
        else:  # llama.cpp's own traits: CPU threads only when nothing is offloaded
            backend = LlamaCppBackend("model.gguf", n_threads=threads, n_gpu_layers=gpu_layers)
        return RunScreen(live, handle=SimpleNamespace(prep=SimpleNamespace(backend=backend)))

    cores = usable_cores()
    assert screen(cores).saturated()
    assert screen(cores + 2).saturated()
    if cores > 1:
        assert not screen(cores - 1).saturated()  # a core to spare
    assert not screen(cores, gpu_layers=-1).saturated()  # the model runs on a GPU
    assert not screen(None).saturated()  # a backend without CPU threads (the fake one)
    assert not RunScreen(live).saturated()  # a canned screen: no run
    live.status = "finished"
    assert not screen(cores).saturated()


class GapHandle:
    """A run handle as the run screen uses it, with the model's threads taking every core."""

    def __init__(self, threads):
        from types import SimpleNamespace

        from ipwtui.tui.gaps import FrameGate
        from ipwtui.tui.live import TokenBuffer

        self.prep = SimpleNamespace(backend=SimpleNamespace(traits=BackendTraits("llama.cpp", uses_cpu_threads=threads)))
        self.buffer = TokenBuffer()
        self.series_origin = None
        self.paused = False
        self.active = True
        self.gate = FrameGate()

    def power_series(self):
        return []


async def test_saturated_frames_wait_for_the_gap_between_queries_or_are_drawn_anyway():
    import asyncio
    import threading

    from textual.app import App

    from ipwtui.tui import gaps
    from ipwtui.tui.live import LiveState
    from ipwtui.core.contention import usable_cores
    from ipwtui.tui.screens import run as run_mod

    live = LiveState(phase="running")
    handle = GapHandle(usable_cores())
    screen = run_mod.RunScreen(live, handle=handle)

    class A(App):
        def on_mount(self):
            self.push_screen(screen)

    app = A()
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause()
        n = screen.redraws
        gate = handle.gate
        screen.tick()  # a frame is due: it asks for a gap and draws nothing yet
        assert gate.wanted.is_set() and screen.redraws == n
        # the runner reaches the gap between two queries (its thread): the screen draws, then lets it go
        runner = threading.Thread(target=gate.between_queries)
        runner.start()
        for _ in range(200):
            if not runner.is_alive():
                break
            await pilot.pause(0.02)
        runner.join()
        for _ in range(200):  # the runner waits at most GAP_MAX_S: on a busy machine the frame may come later
            if gate.drawn.is_set():
                break
            await pilot.pause(0.02)
        assert screen.redraws == n + 1 and gate.gaps == 1 and gate.drawn.is_set()
        assert "redrawn between queries" in str(screen.query_one("#run-status").render())
        # no query ends (a long answer): the frame is drawn anyway after GAP_WAIT_S
        if screen._tick_timer is not None:
            screen._tick_timer.stop()
        screen.tick()
        assert gate.wanted.is_set()
        await asyncio.sleep(gaps.GAP_WAIT_S + 0.3)
        await pilot.pause()
        assert screen.redraws >= n + 2 and not gate.wanted.is_set()
        # a late GapOpen after that draws nothing and lets the runner go on at once
        k = screen.redraws
        gate.drawn.clear()
        gate.gap_open()
        assert screen.redraws == k and gate.drawn.is_set()
