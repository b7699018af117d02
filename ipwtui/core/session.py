"""The session folder: a journal that survives Ctrl+C and kill -9, and what is read back from it.

Layout of a session folder:
  session.json   settings, model, provenance, sensors (written at start, status updated at the end)
  journal.jsonl  one JSON object a line: "idle", "query" and "segment" records; each query record is
                 flushed and fsynced before the next query starts
  power.csv      every power sample, appended as the sampler produces them (flushed about once a second)

A *segment* is one process's run over the session: a resumed session has several. Monotonic clocks do not
survive a process, so everything on disk carries wall-clock times (unix seconds).

Nothing measured is lost or mixed:
- a new session goes only into a new or empty folder (never over another program's files or another
  session: that one is finished with --resume);
- a run holds the folder's lock (``.lock``, an advisory lock the system releases when the process dies,
  even by kill -9) for as long as it writes: a second run or resume into it is refused with the holder's
  pid, and a "running" session whose lock nobody holds was interrupted;
- a journal line cut short by a kill is cut off before the next segment appends, its bytes kept aside in
  ``journal.torn-<time>``; reading ignores it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import msgspec

from .record import ERROR, QueryRecord, final_attempts, gc_paused, records_of
from .sensors.base import UNAVAILABLE

FORMAT = 1
SESSION_FILE = "session.json"
JOURNAL_FILE = "journal.jsonl"
POWER_FILE = "power.csv"
LOCK_FILE = ".lock"
SUMMARY_FILE = "summary.json"
# session.json fields a reader relies on, with the JSON type each must have when present
_META_TYPES: dict[str, tuple[type, ...]] = {
    "model": (dict,), "query_ids": (list,), "settings": (dict,), "status": (str,), "domains": (list,),
    "capabilities": (list,), "provenance": (dict,), "queries_file": (str,), "created": (int, float),
    "query_digests": (dict,),
}
POWER_HEADER = ["time", "segment", "domain", "watts"]


class SessionError(Exception):
    """A session folder cannot be created, written or read. ``str()`` is one line."""


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_writable(folder: Path) -> None:
    """Raise SessionError unless ``folder`` can be created and written to."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".ipwtui-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise SessionError(f"{folder}: output folder is not writable ({e.strerror or e})") from None


class Session:
    def __init__(self, folder: Path, meta: dict):
        self.folder = Path(folder)
        self.meta = meta
        self.segment = 0
        self._journal: TextIO | None = None
        self._power: TextIO | None = None
        self._power_writer: Any = None  # a csv writer on _power
        self._power_lock = threading.Lock()
        self._power_buf: list[tuple[float, str, float | None]] = []
        self._last_flush = 0.0
        self._mono_to_wall = 0.0
        self._lock_fd: int | None = None

    # ---- creating and opening -------------------------------------------------------------------

    @classmethod
    def create(cls, folder: str | os.PathLike, meta: dict) -> "Session":
        """A new session in ``folder`` (made if missing, else it must be empty). The session is locked."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise SessionError(f"{folder}: is a file, not a folder")
        if folder.is_dir():
            try:
                entries = [p.name for p in folder.iterdir()]
            except OSError as e:
                raise SessionError(f"{folder}: cannot read the folder ({e.strerror or e})") from None
            if SESSION_FILE in entries or JOURNAL_FILE in entries:
                holder = lock_holder(folder)
                if holder is not None:
                    raise SessionError(f"{folder}: holds a session that is running now ({holder}); give a new "
                                       "or empty folder")
                try:
                    status = shown_status(json.loads((folder / SESSION_FILE).read_text(encoding="utf-8")),
                                          folder)
                except (OSError, ValueError, AttributeError):
                    status = "?"
                if status == "finished":
                    raise SessionError(f"{folder}: holds a finished session; give a new or empty folder")
                raise SessionError(f"{folder}: already holds a session; finish it with: "
                                   f"ipwtui run --resume {folder}")
            if entries:
                raise SessionError(f"{folder}: not empty and not an ipwtui session ({len(entries)} "
                                   f"entr{'y' if len(entries) == 1 else 'ies'}, e.g. {sorted(entries)[0]}): "
                                   "nothing was written; give a new or empty folder")
        check_writable(folder)
        meta = dict(meta)
        meta.setdefault("format", FORMAT)
        meta.setdefault("created", time.time())
        meta["status"] = "running"
        s = cls(folder, meta)
        s.lock()
        _write_json_atomic(folder / SESSION_FILE, meta)
        return s

    @classmethod
    def open(cls, folder: str | os.PathLike) -> "Session":
        folder = Path(folder)
        p = folder / SESSION_FILE
        try:
            meta = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SessionError(f"{folder}: not a session folder (no {SESSION_FILE})") from None
        except (OSError, ValueError) as e:
            raise SessionError(f"{p}: cannot read session ({e})") from None
        if not isinstance(meta, dict):
            raise SessionError(f"{p}: not a session file (not a JSON object)")
        for key, types in _META_TYPES.items():
            if meta.get(key) is not None and not isinstance(meta[key], types):
                raise SessionError(f"{p}: field {key!r} is a {type(meta[key]).__name__}, not a "
                                   f"{' or '.join(t.__name__ for t in types)}")
        return cls(folder, meta)

    # ---- the lock -------------------------------------------------------------------------------

    def lock(self) -> None:
        """Hold the folder's lock for as long as this process writes the session. SessionError (with the
        holder's pid) when another process holds it."""
        if self._lock_fd is not None:
            return
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform: nothing to hold
            return
        path = self.folder / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise SessionError(f"{self.folder}: cannot lock the session ({e.strerror or e})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise SessionError(f"{self.folder}: a run holds this session now ({holder}); wait for it to "
                               "end or stop it, then resume") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            try:
                os.close(self._lock_fd)  # closing releases the lock
            finally:
                self._lock_fd = None

    def held_elsewhere(self) -> str | None:
        """The holder ("pid N on HOST") when another process holds the lock now, else None."""
        return lock_holder(self.folder)

    # ---- writing ------------------------------------------------------------------------------

    def begin_segment(self) -> int:
        """Lock the session, cut off a torn last journal line, open the journal and power files for
        appending; returns this process's segment number."""
        self.lock()
        check_writable(self.folder)
        self._cut_torn_tail()
        self.segment = max((r.get("segment", 0) for r in self.read_journal()), default=-1) + 1
        self._mono_to_wall = time.time() - time.monotonic()
        self._journal = open(self.folder / JOURNAL_FILE, "a", encoding="utf-8")
        new = not (self.folder / POWER_FILE).exists()
        power = open(self.folder / POWER_FILE, "a", encoding="utf-8", newline="")
        self._power = power
        self._power_writer = csv.writer(power)
        if new:
            self._power_writer.writerow(POWER_HEADER)
        if self.meta.get("status") != "running":
            self.set_status("running")
        return self.segment

    def wall(self, t_mono: float | None) -> float | None:
        """Wall-clock time of a monotonic timestamp taken in this process."""
        return None if t_mono is None else t_mono + self._mono_to_wall

    def append(self, record: dict) -> None:
        """Append one journal record and make sure it is on disk before returning."""
        if self._journal is None:
            raise SessionError(f"{self.folder}: session is not open for writing")
        rec = dict(record)
        rec.setdefault("segment", self.segment)
        line = json.dumps(rec, default=str, allow_nan=False)
        self._journal.write(line + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def power_sink(self, samples: list[tuple[float, str, float | None]]) -> None:
        """Sampler sink: buffer samples and append them to power.csv about once a second."""
        if self._power_writer is None:
            return
        with self._power_lock:
            self._power_buf.extend(samples)
            now = time.monotonic()
            if now - self._last_flush > 1.0:
                self._write_power()
                self._last_flush = now

    def _write_power(self) -> None:
        off, seg = self._mono_to_wall, self.segment
        self._power_writer.writerows(
            (f"{t + off:.4f}", seg, dom, "" if watts is None else f"{watts:.4f}")
            for t, dom, watts in self._power_buf)
        self._power_buf.clear()
        if self._power is not None:
            self._power.flush()

    def write_summary(self, summary: dict) -> None:
        """summary.json beside the journal (what a list of many sessions reads instead of the journal)."""
        _write_json_atomic(self.folder / SUMMARY_FILE, summary)

    def set_status(self, status: str, **extra) -> None:
        self.meta["status"] = status
        self.meta.update(extra)
        _write_json_atomic(self.folder / SESSION_FILE, self.meta)

    def close(self, status: str | None = None, **extra: Any) -> None:
        """Flush and close the files; with ``status``, record how the session ended (and ``extra`` fields,
        e.g. why it stopped); release the lock."""
        with self._power_lock:
            if self._power is not None:
                self._write_power()
                os.fsync(self._power.fileno())
                self._power.close()
                self._power = self._power_writer = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        try:
            if status is not None:
                self.set_status(status, ended=time.time(), **extra)
        finally:  # a status that cannot be written still frees the session for a --resume
            self.unlock()

    def discard(self) -> bool:
        """Remove a session that never recorded a query (a run that failed before its first one): its own
        files, then its folder when that is left empty. A session with any record is kept. True when it
        was removed."""
        self.close()
        try:
            if self.read_journal():
                return False
        except SessionError:
            return False
        for name in (JOURNAL_FILE, POWER_FILE, SUMMARY_FILE, SESSION_FILE, LOCK_FILE):
            try:
                (self.folder / name).unlink()
            except FileNotFoundError:
                pass
            except OSError:
                return False
        try:
            self.folder.rmdir()
        except OSError:
            pass  # something else is in it (a user's file): the folder stays
        return True

    def _cut_torn_tail(self) -> None:
        """A journal whose last line was cut short (a kill during a write): keep the torn bytes aside in
        journal.torn-<time> and cut them off, so the next record starts on a line of its own."""
        p = self.folder / JOURNAL_FILE
        try:
            with open(p, "rb+") as f:
                size = f.seek(0, os.SEEK_END)
                if size == 0:
                    return
                f.seek(size - 1)
                if f.read(1) == b"\n":
                    return
                back = min(size, 1 << 22)
                f.seek(size - back)
                tail = f.read(back)
                nl = tail.rfind(b"\n")
                cut = size - back + nl + 1 if nl >= 0 else 0
                f.seek(cut)
                torn = f.read()
                aside = self.folder / f"journal.torn-{time.strftime('%Y%m%d-%H%M%S')}"
                aside.write_bytes(torn)
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
        except FileNotFoundError:
            return
        except OSError as e:
            raise SessionError(f"{p}: cannot repair the journal's last line ({e.strerror or e})") from None

    # ---- reading ------------------------------------------------------------------------------

    def read_journal(self) -> list[dict]:
        """Every complete journal record, as the dicts its lines hold. A last line cut short by a kill is
        ignored, and so is a damaged line (the others are read)."""
        with gc_paused():
            values = list(map(_line_value, self._journal_lines()))
        return [v for v in values if isinstance(v, dict)]

    def read_entries(self) -> list:
        """The journal as ``records_of`` reads it fastest: each query line in this version's exact shape
        already a QueryRecord (read straight into one), every other line a dict (a query line of another
        shape too: ``records_of`` reads it leniently). Damaged lines are skipped, as by ``read_journal``."""
        out: list = []
        add = out.append
        from_line = QueryRecord.from_line
        straight = True
        hits = misses = 0
        with gc_paused():
            for line in self._journal_lines():
                if straight and line.startswith(_QUERY_LINE):
                    rec = from_line(line)
                    if rec is not None:
                        add(rec)
                        hits += 1
                        continue
                    misses += 1
                    # a journal of another shape (another version's, edited): each line would be parsed
                    # twice; read leniently from here on (the records are the same either way)
                    straight = misses < 32 or misses <= hits
                v = _line_value(line)
                if isinstance(v, dict):
                    add(v)
        return out

    def _journal_lines(self) -> list[bytes]:
        """The journal's whole lines (a last line with no newline is a torn write at the moment of a kill).
        Split at the newlines only: a newline is never inside a JSON string (it is written \\n there), and
        splitlines() would also cut at U+2028 inside one."""
        p = self.folder / JOURNAL_FILE
        try:
            with open(p, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        except OSError as e:
            raise SessionError(f"{p}: cannot read the journal ({e.strerror or e})") from None
        if b"\r" in data:  # line ends written elsewhere (CRLF, CR): read as the text mode would read them
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = data.rfind(b"\n")
        return data[:end].split(b"\n") if end >= 0 else []

    def query_records(self, include_warmup: bool = False) -> list[QueryRecord]:
        return records_of(self.read_entries(), include_warmup=include_warmup)

    def done_ids(self) -> set[str]:
        """Queries that need no rerun: their last attempt was answered or skipped (not warm-up). A query whose
        last attempt failed (a server down, a timeout) is tried again by --resume."""
        return done_of(self.query_records())

    def read_power(self) -> list[tuple[float, int, str, float | None]]:
        """Every complete power sample: (unix time, segment, domain, watts or None)."""
        p = self.folder / POWER_FILE
        if not p.exists():
            return []
        out = []
        data = p.read_text(encoding="utf-8", errors="replace")
        if data and not data.endswith("\n"):
            data = data[: data.rfind("\n") + 1]
        for row in csv.reader(io.StringIO(data)):
            if not row or row[0] == "time" or len(row) != 4:
                continue
            try:
                out.append((float(row[0]), int(row[1]), row[2], float(row[3]) if row[3] else None))
            except ValueError:
                continue
        return out


_QUERY_LINE = b'{"type": "query",'  # how Session.append begins a query record's line
_decode_line = msgspec.json.Decoder().decode


def _line_value(line: bytes):
    """The JSON value a journal line holds, or None (a blank or damaged line). msgspec reads it; what
    msgspec refuses (a NaN, bytes that are not UTF-8, a lone surrogate) is read as the standard library reads
    it, the bytes decoded with U+FFFD for what is not UTF-8."""
    if not line.strip():
        return None
    try:
        return _decode_line(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):  # (a value nested too deep)
        pass
    try:
        return json.loads(line.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None


def _lock_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        parts = os.read(fd, 200).decode(errors="replace").split()
    except OSError:
        parts = []
    if len(parts) >= 2:
        return f"pid {parts[0]} on {parts[1]}"
    return "another process"


def lock_holder(folder: str | os.PathLike) -> str | None:
    """Who holds a session folder's lock now ("pid N on HOST"), or None when nobody does."""
    try:
        import fcntl
    except ImportError:
        return None
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _lock_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def shown_status(meta: dict, folder: str | os.PathLike) -> str:
    """A session's status as a reader should see it: "running" only while a process holds its lock;
    a "running" session nobody holds was killed: "interrupted"."""
    status = str(meta.get("status") or "?")
    if status == "running" and lock_holder(folder) is None:
        return "interrupted"
    return status


def list_sessions(root: str | os.PathLike) -> list[Path]:
    """Session folders under ``root`` (newest first)."""
    root = Path(root)

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    try:
        found = [p for p in root.iterdir() if (p / SESSION_FILE).is_file()]
    except OSError:  # missing or unreadable: no sessions to list
        return []
    return sorted(found, key=mtime, reverse=True)


def sessions_root() -> Path:
    """Where new session folders go by default (the data dir's ``sessions``)."""
    from .config import data_dir

    return data_dir() / "sessions"


def _slug(s: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in s)
    return keep.strip("-")[:40] or "session"


def new_session_folder(root: str | os.PathLike, model_name: str) -> Path:
    """A fresh, empty folder made under ``root``: time stamp and model, with a suffix when it is taken.
    Made here with one mkdir that fails when the name exists, so two runs started in the same second
    never share a folder. SessionError (one line) when ``root`` cannot hold it."""
    from .fmt import MODEL_FILE_SUFFIXES, model_label

    root = Path(root)
    # a model a server names by its file's path: the folder is named after the file (as a local model's
    # is, without its suffix), not the path's first directories; the full name stays in session.json
    label = model_label(model_name) or model_name
    for suffix in MODEL_FILE_SUFFIXES:
        if label.lower().endswith(suffix) and len(label) > len(suffix):
            label = label[: -len(suffix)]
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(label)}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SessionError(f"{root}: cannot make the sessions folder ({e.strerror or e})") from None
    for k in range(1, 10_000):
        cand = root / (base if k == 1 else f"{base}-{k}")
        try:
            cand.mkdir()
            return cand
        except FileExistsError:
            continue
        except OSError as e:
            raise SessionError(f"{cand}: cannot make the session folder ({e.strerror or e})") from None
    raise SessionError(f"{root}: no free session folder name for {base}")


def done_of(records: list[QueryRecord]) -> set[str]:
    """The ids of the queries whose last attempt was answered or skipped (see Session.done_ids)."""
    return {r.query_id for r in final_attempts(records) if r.query_id and r.status != ERROR}


def energy_qualities(meta: dict, records: list[QueryRecord]) -> list[str]:
    """The qualities of the energy a session's figures use: a local session's counted domains; a remote
    session's server energy, as its answered queries have it (unavailable when none has any, whatever
    the source promised), the configured source's before any query."""
    if meta.get("where") != "remote" and not any(r.remote for r in records):
        return sorted({str(d.get("quality")) for d in meta.get("domains") or []
                       if isinstance(d, dict) and d.get("quality")})
    answered = [r for r in records if r.remote and r.status == "ok"]
    if not answered:
        q = (meta.get("server_energy") or {}).get("quality")
        return [str(q)] if q else [UNAVAILABLE]
    return sorted({r.server_energy_quality or UNAVAILABLE for r in answered if r.server_energy_j is not None}) \
        or [UNAVAILABLE]


def session_overview(folder: str | os.PathLike) -> dict:
    """One line about a session folder for a list: never raises. An unreadable folder says why."""
    folder = Path(folder)
    out: dict = {"folder": str(folder), "name": folder.name, "status": "unreadable", "resumable": False,
                 "model": "", "backend": "", "accelerator": "", "done": None, "planned": None,
                 "qualities": [], "created": None, "error": None}
    try:
        s = Session.open(folder)
        planned_ids = [str(i) for i in s.meta.get("query_ids") or []]
        records = s.query_records()
        done_ids = done_of(records)
        done = len(done_ids & set(planned_ids)) if planned_ids else len(done_ids)
    except SessionError as e:
        out["error"] = str(e)
        return out
    except Exception as e:  # a journal this version cannot read: listed as such, the others still are
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    meta = s.meta
    status = shown_status(meta, folder)
    model = meta.get("model") or {}
    out.update(status=status, resumable=status not in ("finished", "running", "failed"),
               model=str(model.get("name") or "?"), backend=str(meta.get("backend") or "?"),
               accelerator=str(meta.get("accelerator") or "?"), done=done, planned=len(planned_ids),
               qualities=energy_qualities(meta, records),
               created=meta.get("created") if isinstance(meta.get("created"), (int, float)) else None)
    return out
