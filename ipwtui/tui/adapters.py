"""Small bridges to the core that the app needs and the core does not offer yet.

Each function here is a stop-gap with the core function it stands for named in its docstring; it holds
no measurement logic (no energy or metric is computed here) and is meant to move into the core.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path


def unique_session_folder(root: str | Path, model_name: str) -> Path:
    """A new session folder under ``root`` named like the core names it, never an existing one.

    Stands for: ``RunRequest(sessions_root=...)`` in ``core.plan.prepare`` (today the core only knows
    ``sessions_root()`` from the environment, and two runs started in the same second get the same
    folder name, the second failing with "already holds a session").
    """
    from ..core.plan import _slug

    root = Path(root)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(model_name)}"
    cand = root / base
    k = 2
    while cand.exists():
        cand = root / f"{base}-{k}"
        k += 1
    return cand


_PROBE_LOCK = threading.Lock()


def prepare_run(req, sessions_dir: str | Path | None = None, sensor_set=None, backend_factory=None):
    """``core.plan.prepare(req)`` with an injected sensor set and backend.

    Stands for: ``prepare(req, sensor_set: SensorSet | None = None)`` in the core: use the sensors a front
    end already probed (or a test scripted) instead of probing again, for the accelerator check and for
    what session.json records. Until the core takes the argument, ``plan.probe_sensors`` is swapped for
    the duration of the call (under a lock; only when a sensor set is injected).
    """
    from ..core import plan

    if sessions_dir is not None and not req.resume and not req.out:
        name = "fake-model"
        if req.backend != "fake":
            try:
                name = plan.resolve_model(req.model).name
            except plan.PlanError:
                name = "model"  # prepare() reports the problem below
        req.out = str(unique_session_folder(sessions_dir, name))
    if sensor_set is None:
        prep = plan.prepare(req)
    else:
        with _PROBE_LOCK:
            original = plan.probe_sensors
            plan.probe_sensors = lambda _req: sensor_set
            try:
                prep = plan.prepare(req)
            finally:
                plan.probe_sensors = original
    if backend_factory is not None:
        prep.backend = backend_factory(prep)
    return prep


def accelerator_rows(capabilities: list) -> list[dict]:
    """The capability table grouped by accelerator, for a picker: one dict per accelerator.

    Stands for: ``core.sensors.accelerators(sensor_set) -> list[dict]``. Only groups and labels what the
    probe said; nothing is measured here.
    """
    from ..core.sensors.base import UNAVAILABLE, worst_quality

    groups: dict[str, dict] = {}
    for c in capabilities:
        g = groups.setdefault(c.accelerator, {"accelerator": c.accelerator, "available": [], "missing": []})
        (g["available"] if c.available else g["missing"]).append(c)
    rows = []
    for name, g in groups.items():
        used = [c for c in g["available"] if c.in_total]
        g["quality"] = worst_quality([c.quality for c in used]) if used else UNAVAILABLE
        g["usable"] = bool(used)
        rows.append(g)
    # usable accelerators first, then by name (cpu before gpu0 ...)
    rows.sort(key=lambda g: (not g["usable"], g["accelerator"]))
    return rows
