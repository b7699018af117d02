"""Time from launching `ipwtui` to its first frame, as a user sees it: in a real terminal (tmux).

Each trial starts ``python -m ipwtui.cli`` in a new tmux session of a fixed size (fresh config and data
folders) and polls ``tmux capture-pane`` about every 10 ms from the moment of launch until the setup
screen's settings pane shows (its "idle baseline s" label is part of the first frame), then until the
model list is filled (the default model's name appears), then quits the app with ctrl+q.

For context, the same trials time a bare ``python -c "import textual"`` and the first frame of a
one-widget Textual app in the same terminal (the floor any Textual app pays). Trials are interleaved.
"""

import argparse
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _tmux import Tmux

FIRST_FRAME = "idle baseline s"  # a label of the setup screen's settings pane, drawn in its first frame
FILLED = "SmolLM2"  # the default model's name: shown once models are discovered and the lists filled
HELLO_MARK = "BENCH-HELLO-READY"
HELLO_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Hello(App):\n"
    "    def compose(self):\n"
    f"        yield Static({HELLO_MARK!r})\n"
    "Hello().run()\n"
)


def wait_for_text(tmux: Tmux, name: str, text: str, t0: float, timeout: float, poll: float):
    """Seconds from t0 until ``text`` shows in the pane (None on timeout)."""
    while True:
        t_poll = time.perf_counter()
        if text in tmux.capture(name):
            return time.perf_counter() - t0
        if t_poll - t0 > timeout or not tmux.alive(name):
            return None
        rest = poll - (time.perf_counter() - t_poll)
        if rest > 0:
            time.sleep(rest)


def trial_ipwtui(tmux, k, cfg, data, timeout, poll):
    name = f"ipwtui{k}"
    cmd = (f"env IPWTUI_CONFIG_DIR={cfg} IPWTUI_DATA_DIR={data} "
           f"{sys.executable} -m ipwtui.cli")
    t0 = time.perf_counter()
    tmux.start(name, cmd)
    first = wait_for_text(tmux, name, FIRST_FRAME, t0, timeout, poll)
    filled = wait_for_text(tmux, name, FILLED, t0, timeout, poll) if first is not None else None
    if first is None:
        print(f"  trial {k}: no first frame within {timeout:g} s; the pane shows:\n{tmux.capture(name)}")
    tmux.quit(name)
    return first, filled


def trial_hello(tmux, k, timeout, poll):
    name = f"hello{k}"
    t0 = time.perf_counter()
    tmux.start(name, f"{sys.executable} -c {shlex.quote(HELLO_APP)}")
    t = wait_for_text(tmux, name, HELLO_MARK, t0, timeout, poll)
    tmux.quit(name)
    return t


def trial_import():
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import textual"], check=True)
    return time.perf_counter() - t


def fmt_stats(xs):
    ok = [x for x in xs if x is not None]
    if not ok:
        return "no result"
    return f"median {statistics.median(ok):.3f} s (min {min(ok):.3f}, max {max(ok):.3f}, n={len(ok)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--size", default="160x48", help="terminal size, COLSxROWS (default: 160x48)")
    ap.add_argument("--poll-ms", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed")
    w, h = (int(x) for x in args.size.lower().split("x"))
    poll = args.poll_ms / 1000.0
    tmp = tempfile.mkdtemp(prefix="ipwtui-startup-")
    tmux = Tmux(w, h)
    firsts, filleds, hellos, imports = [], [], [], []
    try:
        # warm the file cache (not counted)
        trial_import()
        trial_ipwtui(tmux, 0, f"{tmp}/cfg", f"{tmp}/data", args.timeout, poll)
        for k in range(1, args.trials + 1):
            first, filled = trial_ipwtui(tmux, k, f"{tmp}/cfg", f"{tmp}/data", args.timeout, poll)
            hello = trial_hello(tmux, k, args.timeout, poll)
            imp = trial_import()
            firsts.append(first)
            filleds.append(filled)
            hellos.append(hello)
            imports.append(imp)
            show = lambda x: "timeout" if x is None else f"{x:.3f} s"  # noqa: E731
            print(f"trial {k}: ipwtui first frame {show(first)}, lists filled {show(filled)}; "
                  f"one-widget Textual app first frame {show(hello)}; python -c 'import textual' {imp:.3f} s")
    finally:
        tmux.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"terminal {w}x{h} (tmux), polled every {args.poll_ms:g} ms, {args.trials} trials")
    print(f"ipwtui first frame ({FIRST_FRAME!r} shown): {fmt_stats(firsts)}")
    print(f"ipwtui lists filled ({FILLED!r} shown):     {fmt_stats(filleds)}")
    print(f"one-widget Textual app first frame:        {fmt_stats(hellos)}")
    print(f"python -c 'import textual' (to exit):       {fmt_stats(imports)}")
    ok = [x for x in firsts if x is not None]
    med = statistics.median(ok) if len(ok) == len(firsts) and ok else None
    verdict = "PASS" if med is not None and med <= 1.0 else "FAIL"
    print(f"first frame median {'n/a' if med is None else f'{med:.3f} s'}; target <= 1.0 s: {verdict}")


if __name__ == "__main__":
    main()
