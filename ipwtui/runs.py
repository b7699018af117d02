"""The one run path: a request becomes a running, journalled session, and everything it opened is closed.

    request -> prepare (queries, model, sensors, session folder; checks that fail fast come first)
            -> load the backend -> provenance -> Runner.run() -> close backend, sensors and session

Both front ends call ``Run.execute`` (the headless command on its own thread, the app on a worker
thread); neither builds a Runner. Whatever way the run ends (finished, stopped, failed, interrupted by
Ctrl+C or SIGTERM), every finished query is on disk, the session's status says how it ended, and the
backend and the sensors are closed.

Bad input is found before anything slow happens: queries are loaded and the model is resolved before the
output folder is made, and the folder is checked before the model is loaded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import backends
from .backends.base import BackendError, Engine
from .core import events as ev
from .core.backend import CHARS_PER_TOKEN_MAX, REMOTE, Backend, ModelRef
from .core.runner import Runner
from .core.sensors.base import SensorSet
from .core.session import (JOURNAL_FILE, Session, SessionError, check_writable, new_session_folder,
                           sessions_root)
from .core.settings import RunSettings, SettingError, spec
from .workloads.base import QueryFileError, query_digest

Listener = Callable[[object], None]


class RunError(Exception):
    """A run could not start or went wrong: ``str()`` is one line for the user.

    ``stage``: "prepare" (bad input, found before anything was measured), "load" (the model did not
    load; the session is closed as failed) or "run" (the measurement loop stopped on a fault; every
    finished query is kept).
    """

    def __init__(self, message: str, stage: str = "prepare"):
        super().__init__(message)
        self.stage = stage


@dataclass
class RunRequest:
    """What to run. ``model`` is a path or name for the engine to resolve, or a ModelRef it resolved
    already (the setup screen's pick); ``query_list`` may hold the queries already loaded from
    ``queries`` so the file is parsed once."""

    backend: str = backends.DEFAULT
    model: str | ModelRef | None = None
    queries: str | None = None
    query_list: list | None = None
    out: str | None = None
    resume: str | None = None
    settings: RunSettings = field(default_factory=RunSettings)
    given: frozenset[str] = frozenset()  # settings given explicitly (checked against a resumed session)
    sysfs_root: str | None = None
    sessions_root: str | None = None  # where a new session folder goes when ``out`` is not given
    # a language-model judge for the open ("judge" kind) queries: a JudgeSpec (ipwtui.judge), or a Judge
    # already built; None: the rule scorers only (open queries are then unscorable)
    judge: Any = None


@dataclass
class Prepared:
    session: Session
    queries: list
    model: ModelRef
    engine: Engine
    sensor_set: SensorSet
    backend: Backend  # not loaded yet
    settings: RunSettings
    resumed: bool
    server_energy: Any = None  # a ServerEnergySource for a remote backend's queries, or None (N/A)
    coster: Any = None  # (record) -> (USD, source), or None (no cost)
    warnings: list[str] = field(default_factory=list)  # the query file's (one line each)


@dataclass
class Outcome:
    status: str  # "finished", "stopped", "interrupted"
    folder: Path
    summary: dict
    done: int  # queries finished in the session (all segments)
    planned: int


# ---- prepare -------------------------------------------------------------------------------------


def load_query_list(spec_: str | None, max_queries: int | None) -> tuple[Path, list, list[str]]:
    """The query file's path, its queries (the first ``max_queries``) and the loader's warnings."""
    from .workloads.loaders import load_queries_checked, resolve_queries

    try:
        path = resolve_queries(spec_)
        qs, warnings = load_queries_checked(path)
    except QueryFileError as e:
        raise RunError(str(e)) from None
    if max_queries is not None:
        qs = qs[:max_queries]
    return Path(path), qs, warnings


def check_prompt_lengths(qpath: Path, queries: list, model: ModelRef, cap: int | None = None) -> None:
    """A prompt far longer than the context the run will have (the model's, at most the engine's ``cap``) is
    refused before the run (tokenising it would take long only to fail)."""
    ctx = min(c for c in (model.context_length, cap) if c) if (model.context_length or cap) else None
    if not ctx:
        return
    for q in queries:
        chars = len(q.prompt) + len(q.system or "")
        if chars > CHARS_PER_TOKEN_MAX * ctx:
            raise RunError(f"{qpath}: query {q.id!r}: its prompt ({chars} characters) is far longer than the "
                           f"model's context ({ctx} tokens)")


def probe_sensors(settings: RunSettings, sysfs_root: str | None = None) -> SensorSet:
    from .core.sensors import probe_all

    return probe_all(sysfs_root=sysfs_root, cpu_watts_per_core=settings.cpu_watts_per_core,
                     cpu_scope=settings.cpu_scope)


def _engine(name: str) -> Engine:
    try:
        return backends.engine(name)
    except BackendError as e:
        raise RunError(str(e)) from None


def _resolve(engine: Engine, model: str | ModelRef | None, settings: RunSettings) -> ModelRef:
    if isinstance(model, ModelRef):
        return model
    try:
        return engine.resolve_model(model, settings)
    except BackendError as e:
        raise RunError(str(e)) from None


def server_energy_source(settings: RunSettings, model: ModelRef):
    """The source of a remote query's server energy that the settings name (None: N/A), checked once
    before the run; RunError (one line) when it cannot work."""
    from .core.remote.estimate import EstimateError, make_source

    def prometheus():
        from .core.remote.prometheus import PrometheusEnergy

        if not settings.prometheus_url or not settings.prometheus_query:
            raise RunError(f"--server-energy prometheus needs {spec('prometheus_url').flag} and "
                           f"{spec('prometheus_query').flag}")
        try:
            return PrometheusEnergy(settings.prometheus_url, settings.prometheus_query)
        except ValueError as e:
            raise RunError(f"prometheus: {e}") from None

    try:
        source = make_source(settings.server_energy, base_url=settings.base_url, model=model.name,
                             prometheus=prometheus)
    except (EstimateError, ValueError) as e:
        raise RunError(str(e)) from None
    problem = getattr(source, "check", lambda: None)() if source is not None else None
    if problem:
        raise RunError(f"server energy ({settings.server_energy}): {problem}")
    return source


def server_energy_advice(source, model_name: str | None) -> list[str]:
    """The server-energy source's warnings before a run on ``model_name`` (one line each): a cited figure
    for another model, EcoLogits asked about a server it cannot model."""
    advice = getattr(source, "advice", None) if source is not None else None
    return list(advice(model_name)) if advice is not None else []


def _describe_source(source) -> dict:
    """What the session records of its server-energy source (N/A when none)."""
    if source is None:
        return {"source": "none", "quality": "unavailable",
                "note": f"no server energy source: the server's energy is N/A ({spec('server_energy').flag} "
                        "ecologits, cited:ID or prometheus gives one)"}
    try:
        return source.describe()
    except Exception as e:
        return {"source": getattr(source, "name", "?"), "error": f"{type(e).__name__}: {e}"}


def make_coster(settings: RunSettings, remote: bool):
    """(record) -> (USD, source) for the run's queries, and the price table's description (or None).
    Remote: the API's price for the tokens; local: the electricity of the query's gross energy."""
    from .core.config import ConfigError, config_path, load_config
    from .core.cost import PriceError, energy_cost, price_table, query_cost

    if not remote:
        price = settings.electricity_usd_per_kwh
        if price is None:
            return None, None

        def local(rec):
            usd = energy_cost(rec.energy_j, price)
            return usd, (f"electricity at {price:g} USD/kWh over the query's gross energy "
                         f"({rec.energy_quality})" if usd is not None else "no energy for this query")

        return local, {"electricity_usd_per_kwh": price}
    try:
        table = price_table(load_config().get("prices"), where=str(config_path()))
    except (PriceError, ConfigError) as e:
        raise RunError(str(e)) from None

    def api(rec):
        return query_cost(rec.model, rec.prompt_tokens, rec.output_tokens, table)

    return api, table.describe()


def _default_accelerator(settings: RunSettings, sensor_set: SensorSet, given: bool) -> tuple[RunSettings, str]:
    """The default accelerator (cpu) where it has no power domain and another one has (an Apple SoC): that
    one, said in a note. An accelerator the user gave is kept as given (and checked)."""
    from .core.sensors import accelerators

    if given or any(d.accelerator == settings.accelerator for d in sensor_set.domains()):
        return settings, ""
    usable = [g["accelerator"] for g in accelerators(sensor_set.capabilities) if g["usable"]]
    # a whole-machine figure (a battery) is never picked for a device: it is chosen only by name
    usable = [a for a in usable if a != "machine"]
    if not usable:
        return settings, ""
    chosen = usable[0]
    return settings.replace(accelerator=chosen), (f"accelerator {settings.accelerator!r} has no power domain here: "
                                                  f"{chosen!r} is counted ({spec('accelerator').flag} to choose)")


def _check_accelerator(settings: RunSettings, sensor_set: SensorSet) -> None:
    domains = sensor_set.domains()
    if settings.energy_domains != "all" and not any(d.accelerator == settings.accelerator for d in domains):
        accs = sorted({d.accelerator for d in domains}) or ["none"]
        raise RunError(f"accelerator {settings.accelerator!r} has no power domain here "
                       f"(available: {', '.join(accs)}); see 'ipwtui sensors'")


def prepare(req: RunRequest, sensor_set: SensorSet | None = None,
            backend_factory: Callable[[Prepared], Backend] | None = None) -> Prepared:
    """Everything a Runner needs, checked; raises RunError (stage "prepare") with a one-line message.

    ``sensor_set``: sensors a front end already probed (or a test scripted); probed here when None.
    ``backend_factory``: builds the backend instead of the engine (tests and demos).
    """
    if req.resume:
        return _prepare_resume(req, sensor_set, backend_factory)
    settings = req.settings
    engine = _engine(req.backend)
    warnings: list[str] = []
    if req.query_list is not None and req.queries:
        qpath = Path(req.queries)
        queries = req.query_list[:settings.max_queries] if settings.max_queries else list(req.query_list)
    else:
        qpath, queries, warnings = load_query_list(req.queries, settings.max_queries)
    if not queries:
        raise RunError(f"{qpath}: no queries to run")
    model = _resolve(engine, req.model, settings)
    check_prompt_lengths(qpath, queries, model, getattr(engine, "max_context", None))
    problem = engine.check(settings, model.name)  # a remote server answers and serves the model
    if problem:
        raise RunError(problem)
    remote = engine.where == REMOTE
    source = server_energy_source(settings, model) if remote else None
    warnings = warnings + server_energy_advice(source, model.name)
    coster, prices = make_coster(settings, remote)
    if sensor_set is None:
        sensor_set = probe_sensors(settings, req.sysfs_root)
    settings, note = _default_accelerator(settings, sensor_set, "accelerator" in req.given)
    if note:
        warnings = warnings + [note]
    try:
        _check_accelerator(settings, sensor_set)
    except RunError:
        sensor_set.close()
        raise
    from . import __version__
    from .core.provenance import machine_info

    made = None  # a default folder is made last, once every check passed: a refused run leaves nothing
    try:
        folder = Path(req.out) if req.out else \
            (made := new_session_folder(req.sessions_root or sessions_root(), model.name))
    except SessionError as e:
        sensor_set.close()
        raise RunError(str(e)) from None
    meta = {
        "id": folder.name,
        "model": model.as_dict(),
        "backend": engine.name,
        "where": engine.where,
        "accelerator": settings.accelerator,
        "queries_file": str(qpath.resolve()),
        "query_ids": [q.id for q in queries],
        "query_digests": {q.id: query_digest(q) for q in queries},
        "settings": settings.as_dict(),
        "domains": [d.__dict__ | {"domain": d.name} for d in sensor_set.domains()],
        "capabilities": [c.as_dict() for c in sensor_set.capabilities],
        "provenance": {"ipwtui": __version__, "machine": machine_info()},
        "server_energy": _describe_source(source) if remote else None,
        "prices": prices,
    }
    try:
        session = Session.create(folder, meta)
    except SessionError as e:
        sensor_set.close()
        if made is not None:
            _quietly(made.rmdir)
        raise RunError(str(e)) from None
    prep = Prepared(session, queries, model, engine, sensor_set, None, settings, False,  # type: ignore[arg-type]
                    server_energy=source, coster=coster, warnings=warnings)
    try:
        prep.backend = backend_factory(prep) if backend_factory else engine.create(model, settings)
    except BackendError as e:
        session.close("failed")
        sensor_set.close()
        raise RunError(str(e)) from None
    return prep


def _prepare_resume(req: RunRequest, sensor_set: SensorSet | None,
                    backend_factory: Callable[[Prepared], Backend] | None) -> Prepared:
    assert req.resume is not None
    try:
        session = Session.open(req.resume)
        session.lock()  # a run that holds it now is named, and nothing is touched
    except SessionError as e:
        raise RunError(str(e)) from None
    try:
        return _resume_locked(req, session, sensor_set, backend_factory)
    except BaseException:
        session.unlock()
        raise


def _resume_locked(req: RunRequest, session: Session, sensor_set: SensorSet | None,
                   backend_factory: Callable[[Prepared], Backend] | None) -> Prepared:
    from .workloads.loaders import load_queries

    meta = session.meta
    where = str(session.folder / "session.json")
    try:
        settings = RunSettings.from_dict(meta.get("settings"), where=where)
    except SettingError as e:
        raise RunError(f"cannot resume: {e}") from None
    conflicts = []
    for name in sorted(req.given):
        sp = spec(name)
        mine, theirs = getattr(req.settings, name), getattr(settings, name)
        if sp.on_resume == "free":
            settings = settings.replace(**{name: mine})
        elif mine != theirs:
            conflicts.append(f"{sp.flag} {sp.show(mine) or 'blank'} (the session has "
                             f"{sp.show(theirs) or 'blank'})")
    if conflicts:
        raise RunError(f"cannot resume {session.folder}: a resumed session keeps its own settings; "
                       f"drop {', '.join(conflicts)}")
    backend_name = meta.get("backend_kind") or meta.get("backend") or backends.DEFAULT
    engine = _engine("llama.cpp" if backend_name == "llama" else backend_name)
    qpath = meta.get("queries_file")
    if not qpath:
        raise RunError(f"cannot resume: {where} names no query file")
    try:
        allq = load_queries(qpath)
    except QueryFileError as e:
        raise RunError(f"cannot resume: {e}") from None
    by_id = {q.id: q for q in allq}
    ids = meta.get("query_ids") or []
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise RunError(f"cannot resume: {qpath} no longer holds query {missing[0]!r}")
    digests = meta.get("query_digests") or {}
    changed = [i for i in ids if i in digests and digests[i] != query_digest(by_id[i])]
    if changed:
        raise RunError(f"cannot resume: query {changed[0]!r} in {qpath} changed since the session began "
                       f"({len(changed)} changed); start a new session for the new queries")
    queries = [by_id[i] for i in ids]
    saved = ModelRef.from_dict(meta.get("model"))
    model = _resolve(engine, saved.path or (saved.name if engine.where == REMOTE else None), settings)
    if saved.sha256:
        try:
            now = engine.fingerprint(model)
        except BackendError as e:
            raise RunError(f"cannot resume: {e}") from None
        if now is not None and now != saved.sha256:
            raise RunError(f"cannot resume: the model file {model.path} changed since the session began "
                           f"(sha256 {now[:12]}… is not {saved.sha256[:12]}…)")
        model.sha256 = saved.sha256
    try:
        check_writable(session.folder)
    except SessionError as e:
        raise RunError(str(e)) from None
    remote = engine.where == REMOTE
    if remote:
        problem = engine.check(settings, model.name)
        if problem:
            raise RunError(f"cannot resume: {problem}")
    source = server_energy_source(settings, model) if remote else None
    coster, _ = make_coster(settings, remote)
    if sensor_set is None:
        sensor_set = probe_sensors(settings, req.sysfs_root)
    prep = Prepared(session, queries, model, engine, sensor_set, None, settings, True,  # type: ignore[arg-type]
                    server_energy=source, coster=coster, warnings=server_energy_advice(source, model.name))
    prep.backend = backend_factory(prep) if backend_factory else engine.create(model, settings)
    return prep


def finish_provenance(prep: Prepared, info: Any) -> None:
    """Record what was loaded (versions, model hash, context) once the backend is up."""
    meta = prep.session.meta
    prov = dict(meta.get("provenance") or {})
    try:
        prov.update(prep.backend.versions())
    except Exception:
        pass
    for s in prep.sensor_set.sensors:
        v = getattr(s, "driver_version", None)
        if v:
            prov[f"{s.name}-driver"] = v
    model = dict(meta.get("model") or {})
    if not model.get("sha256"):
        try:
            model["sha256"] = prep.model.sha256 or prep.engine.fingerprint(prep.model)
        except BackendError:
            model["sha256"] = None
    if info is not None:
        model["context"] = getattr(info, "context", None)
    meta["model"] = model
    meta["backend_traits"] = prep.backend.traits.as_dict()
    meta["provenance"] = prov
    prep.session.set_status(meta.get("status", "running"))


# ---- the run -------------------------------------------------------------------------------------


class Run:
    """One run, start to end. Its controls (stop, pause, resume, skip) may be called from any thread at
    any time, also before the runner exists: they are remembered and applied when it starts."""

    def __init__(self, request: RunRequest, listener: Listener | None = None,
                 sensor_factory: Callable[[], SensorSet] | None = None,
                 backend_factory: Callable[[Prepared], Backend] | None = None,
                 between_queries: Callable[[], None] | None = None,
                 observer: Callable[[], dict] | None = None,
                 on_prepared: Callable[[Prepared], None] | None = None):
        self.request = request
        self.listener = listener or (lambda e: None)
        self.sensor_factory = sensor_factory
        self.backend_factory = backend_factory
        self.between_queries = between_queries
        self.observer = observer
        self.on_prepared = on_prepared
        self.prepared: Prepared | None = None
        self.runner: Runner | None = None
        self._lock = threading.Lock()
        self._stop = False
        self._paused = False

    # ---- controls (any thread) ------------------------------------------------------------------

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._paused = False
            r = self.runner
        if r is not None:
            r.stop()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            r = self.runner
        if r is not None:
            r.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            r = self.runner
        if r is not None:
            r.resume()

    def skip(self) -> None:
        r = self.runner
        if r is not None:
            r.skip()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stop_requested(self) -> bool:
        return self._stop

    # ---- running (the caller's thread) ----------------------------------------------------------

    def execute(self) -> Outcome:
        """Prepare, load and run to the end. Raises RunError (one line) when the run cannot start or the
        loop fails, and lets KeyboardInterrupt through; in every case everything opened is closed and
        every finished query is on disk."""
        from .workloads.scoring import score_answer

        judge = self._judge()  # a bad judge is found before the session is made
        sensor_set = self.sensor_factory() if self.sensor_factory is not None else None
        try:
            prep = prepare(self.request, sensor_set=sensor_set, backend_factory=self.backend_factory)
        except BaseException:
            if judge is not None:
                _quietly(judge.close)
            raise
        self.prepared = prep
        try:
            if self.on_prepared is not None:
                self.on_prepared(prep)
            name = prep.model.name
            self.listener(ev.Phase("loading", f"loading {name or 'the model'}"))
            try:
                info = prep.backend.load()
            except Exception as e:
                msg = str(e) if isinstance(e, BackendError) else f"{type(e).__name__}: {e}"
                _quietly(prep.session.close, "failed")
                raise RunError(msg, "load") from None
            if judge is not None:
                self.listener(ev.Phase("loading", f"loading the judge {judge.model}"))
                try:
                    judge.load()
                except Exception as e:
                    _quietly(prep.session.close, "failed")
                    raise RunError(str(e), "load") from None
                prep.session.meta["judge"] = judge.describe()
            finish_provenance(prep, info)
            scorer = judge if judge is not None else score_answer
            runner = Runner(prep.session, prep.backend, prep.sensor_set.sensors, prep.queries, prep.settings,
                            scorer=scorer, listener=self.listener, model_name=name,
                            server_energy=prep.server_energy, coster=prep.coster)
            runner.between_queries = self.between_queries
            runner.observer = self.observer
            with self._lock:
                self.runner = runner
                if self._stop:
                    runner.stop()
                elif self._paused:
                    runner.ctl.running.clear()
            try:
                summary = runner.run()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as e:  # the runner sent RunFailed and closed the session as interrupted
                if isinstance(e, OSError) and str(e.filename or "").startswith(str(prep.session.folder)):
                    # the session's own files (a folder made read-only, a full disk): said plainly
                    raise RunError(f"cannot write the session's files ({e.filename}: {e.strerror or e}); the "
                                   f"queries finished before it are in {prep.session.folder / JOURNAL_FILE}: once "
                                   f"the folder can be written, ipwtui run --resume {prep.session.folder} finishes "
                                   "the session", "run") from None
                raise RunError(f"the run stopped on a fault: {type(e).__name__}: {e}; every finished "
                               f"query is kept in {prep.session.folder}", "run") from None
            done = len(prep.session.done_ids())
            return Outcome(runner.status, prep.session.folder, summary, done, len(prep.queries))
        finally:
            _quietly(prep.backend.close)
            if judge is not None:
                _quietly(judge.close)
            _quietly(prep.sensor_set.close)
            if prep.server_energy is not None:
                _quietly(prep.server_energy.close)
            if self.runner is None and prep.session.meta.get("status") == "running":
                _quietly(prep.session.close, "interrupted")  # stopped before the loop began

    def _judge(self):
        """The request's judge, built and checked (not loaded); None when it asks for none."""
        from .judge import Judge, JudgeError, build_judge

        spec_ = self.request.judge
        if spec_ is None or isinstance(spec_, Judge):
            return spec_
        try:
            return build_judge(spec_, self.request.settings)
        except JudgeError as e:
            raise RunError(str(e)) from None


def _quietly(fn: Callable, *args: Any) -> Any:
    """``fn(*args)``, or None when it raises (clean-up that must not hide the error being reported)."""
    try:
        return fn(*args)
    except Exception:
        return None


# ---- a duel: each query to two targets -----------------------------------------------------------


@dataclass
class DuelOutcome:
    status: str  # "finished", "stopped", "interrupted"
    sides: dict[str, Outcome]  # "A", "B"


class Duel:
    """A duel run, start to end: two requests over the same queries (one per side), one sensor set, two
    sessions that name each other. Controls act on both sides, at any time."""

    def __init__(self, a: RunRequest, b: RunRequest, listener: Callable[[str, object], None] | None = None,
                 sensor_factory: Callable[[], SensorSet] | None = None,
                 backend_factory: Callable[[Prepared], Backend] | None = None,
                 between_queries: Callable[[], None] | None = None):
        self.requests = {"A": a, "B": b}
        self.listener = listener or (lambda side, e: None)
        self.sensor_factory = sensor_factory
        self.backend_factory = backend_factory
        self.between_queries = between_queries
        self.prepared: dict[str, Prepared] = {}
        self.duel: Any = None  # the DuelRunner once both sides are loaded
        self._lock = threading.Lock()
        self._stop = False

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            d = self.duel
        if d is not None:
            d.stop()

    def pause(self) -> None:
        if self.duel is not None:
            self.duel.pause()

    def resume(self) -> None:
        if self.duel is not None:
            self.duel.resume()

    def skip(self) -> None:
        if self.duel is not None:
            self.duel.skip()

    def execute(self) -> DuelOutcome:
        """Prepare both sides, load both, run the duel, close everything. RunError (one line) as Run."""
        from .core.duel import DuelRunner
        from .workloads.scoring import score_answer

        a_req, b_req = self.requests["A"], self.requests["B"]
        if a_req.resume or b_req.resume:
            raise RunError("a duel starts new sessions: resume each side's session on its own with --resume")
        sensor_set = self.sensor_factory() if self.sensor_factory is not None else \
            probe_sensors(a_req.settings, a_req.sysfs_root)
        # both sides read the same queries: parsed once
        qpath, queries, warnings = load_query_list(a_req.queries, a_req.settings.max_queries) \
            if a_req.query_list is None else (Path(a_req.queries or ""), a_req.query_list, [])
        try:
            for side, req in (("A", a_req), ("B", b_req)):
                req = RunRequest(**{**req.__dict__, "queries": str(qpath), "query_list": queries})
                self.prepared[side] = prepare(req, sensor_set=sensor_set, backend_factory=self.backend_factory)
                self.prepared[side].warnings = warnings + self.prepared[side].warnings
        except BaseException:
            for p in self.prepared.values():  # nothing ran: a side already made leaves no empty session
                if p.backend is not None:
                    _quietly(p.backend.close)
                if not _quietly(p.session.discard):
                    _quietly(p.session.close, "failed")
            sensor_set.close()
            raise
        preps = self.prepared
        runners = {}
        try:
            for side, other in (("A", "B"), ("B", "A")):
                meta = preps[side].session.meta
                meta["duel"] = {"side": side, "partner": str(preps[other].session.folder),
                                "order": "alternating: side A first on even queries, side B on odd ones"}
                preps[side].session.set_status("running")
            for side in ("A", "B"):
                prep = preps[side]
                self.listener(side, ev.Phase("loading", f"loading {prep.model.name or 'the model'}"))
                try:
                    info = prep.backend.load()
                except Exception as e:
                    msg = str(e) if isinstance(e, BackendError) else f"{type(e).__name__}: {e}"
                    for p in preps.values():
                        _quietly(p.session.close, "failed")
                    raise RunError(f"side {side}: {msg}", "load") from None
                finish_provenance(prep, info)
                r = Runner(prep.session, prep.backend, sensor_set.sensors, prep.queries, prep.settings,
                           scorer=score_answer, model_name=prep.model.name, server_energy=prep.server_energy,
                           coster=prep.coster)
                r.between_queries = self.between_queries
                runners[side] = r
            duel = DuelRunner(runners["A"], runners["B"], listener=self.listener)
            with self._lock:
                self.duel = duel
                if self._stop:
                    duel.stop()
            try:
                sa, sb = duel.run()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as e:
                raise RunError(f"the duel stopped on a fault: {type(e).__name__}: {e}; every finished query is "
                               f"kept in both sessions", "run") from None
            sides = {}
            for side, summary in (("A", sa), ("B", sb)):
                prep = preps[side]
                sides[side] = Outcome(runners[side].status, prep.session.folder, summary,
                                      len(prep.session.done_ids()), len(prep.queries))
            return DuelOutcome(duel.status, sides)
        finally:
            for prep in preps.values():
                _quietly(prep.backend.close)
                if prep.server_energy is not None:
                    _quietly(prep.server_energy.close)
                if prep.session.meta.get("status") == "running" and not runners:
                    _quietly(prep.session.close, "interrupted")
            sensor_set.close()
