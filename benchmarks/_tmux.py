"""A private tmux server for the app benchmarks: its own socket, so no other tmux session is touched."""

import os
import subprocess
import time


class Tmux:
    def __init__(self, width: int, height: int, tag: str = "bench"):
        self.sock = f"ipwtui-{tag}-{os.getpid()}"
        self.width, self.height = width, height
        # a holder session keeps the server up, so no trial pays for starting it
        self.cmd("new-session", "-d", "-s", "holder", "-x", str(width), "-y", str(height), "cat")

    def cmd(self, *args, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.sock, *args], check=check, capture_output=True, text=True)

    def start(self, name: str, command: str) -> None:
        self.cmd("new-session", "-d", "-s", name, "-x", str(self.width), "-y", str(self.height), command)

    def capture(self, name: str) -> str:
        return self.cmd("capture-pane", "-p", "-t", name, check=False).stdout

    def alive(self, name: str) -> bool:
        return self.cmd("has-session", "-t", name, check=False).returncode == 0

    def quit(self, name: str, keys: str = "C-q", timeout: float = 10.0) -> None:
        """Send ``keys`` (the app's quit), wait for the session to end, kill it if it does not."""
        if keys:
            self.cmd("send-keys", "-t", name, keys, check=False)
        t = time.monotonic()
        while self.alive(name) and time.monotonic() - t < timeout:
            time.sleep(0.05)
        if self.alive(name):
            self.cmd("kill-session", "-t", name, check=False)

    def pane_pid(self, name: str) -> int | None:
        out = self.cmd("display-message", "-p", "-t", name, "#{pane_pid}", check=False).stdout.strip()
        return int(out) if out.isdigit() else None

    def server_pid(self) -> int | None:
        out = self.cmd("display-message", "-p", "-t", "holder", "#{pid}", check=False).stdout.strip()
        return int(out) if out.isdigit() else None

    def close(self) -> None:
        self.cmd("kill-server", check=False)
