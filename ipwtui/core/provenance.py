"""What a session records about the machine it ran on."""

from __future__ import annotations

import os
import platform


def machine_info() -> dict:
    info: dict = {"platform": platform.platform(), "python": platform.python_version(),
                  "machine": platform.machine(), "logical_cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import psutil

        info["memory_bytes"] = psutil.virtual_memory().total
    except Exception:
        pass
    return info
