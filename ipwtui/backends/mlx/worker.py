"""One thread for all of this process's MLX work.

MLX gives each thread its own streams. A thread that used MLX and ends without destroying them
(``mx.clear_streams()``) makes the process abort when it exits ("terminate called without an active
exception"), and a thread that has destroyed them cannot use MLX again (ml-explore/mlx#3126, #3395:
the maintainers' remedy is ``clear_streams`` at the end of every thread that used MLX). The front ends
run each session on a thread of their own, so the MLX backend does its work (load, warm-up, generate)
on this one long-lived thread instead, and destroys its streams once, when the process exits.

A call from another thread waits for the result; the token callback then runs on the MLX thread.
"""

from __future__ import annotations

import atexit
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

_STOP = object()


class MlxThread:
    def __init__(self, name: str = "mlx") -> None:
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            fut, fn, args, kwargs = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as e:  # handed to the caller, who raises it
                fut.set_exception(e)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on the MLX thread; its result, or its exception raised here."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # a daemon thread: the interpreter does not wait for it at exit; shutdown() ends it
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
        fut: Future = Future()
        self._jobs.put((fut, fn, args, kwargs))
        return fut.result()

    def shutdown(self) -> None:
        """Destroy the thread's MLX streams and end it (at process exit)."""
        t = self._thread
        if t is None or not t.is_alive():
            return

        def clear() -> None:
            import sys

            if "mlx.core" in sys.modules:
                sys.modules["mlx.core"].clear_streams()

        try:
            self.call(clear)
        except Exception:
            pass
        self._jobs.put(_STOP)
        t.join(timeout=10)


MLX_THREAD = MlxThread()
atexit.register(MLX_THREAD.shutdown)
