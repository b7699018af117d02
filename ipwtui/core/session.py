"""The session folder: a journal that survives Ctrl+C and kill -9, and what is read back from it.

Layout of a session folder:
  session.json   settings, model, provenance, sensors (written at start, status updated at the end)
  journal.jsonl  one JSON object a line: "idle", "query" and "segment" records; each query record is
                 flushed and fsynced before the next query starts
  power.csv      every power sample, appended as the sampler produces them (flushed about once a second)

A *segment* is one process's run over the session: a resumed session has several. Monotonic clocks do not
survive a process, so everything on disk carries wall-clock times (unix seconds).
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from .record import QueryRecord, records_of

FORMAT = 1
SESSION_FILE = "session.json"
JOURNAL_FILE = "journal.jsonl"
POWER_FILE = "power.csv"
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

    # ---- creating and opening -------------------------------------------------------------------

    @classmethod
    def create(cls, folder: str | os.PathLike, meta: dict) -> "Session":
        folder = Path(folder)
        check_writable(folder)
        if (folder / JOURNAL_FILE).exists():
            raise SessionError(f"{folder}: already holds a session (use --resume {folder} to finish it)")
        meta = dict(meta)
        meta.setdefault("format", FORMAT)
        meta.setdefault("created", time.time())
        meta["status"] = "running"
        s = cls(folder, meta)
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
            raise SessionError(f"{p}: not a session file")
        return cls(folder, meta)

    # ---- writing ------------------------------------------------------------------------------

    def begin_segment(self) -> int:
        """Open the journal and power files for appending; returns this process's segment number."""
        check_writable(self.folder)
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

    def set_status(self, status: str, **extra) -> None:
        self.meta["status"] = status
        self.meta.update(extra)
        _write_json_atomic(self.folder / SESSION_FILE, self.meta)

    def close(self, status: str | None = None) -> None:
        with self._power_lock:
            if self._power is not None:
                self._write_power()
                os.fsync(self._power.fileno())
                self._power.close()
                self._power = self._power_writer = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if status is not None:
            self.set_status(status, ended=time.time())

    # ---- reading ------------------------------------------------------------------------------

    def read_journal(self) -> list[dict]:
        """Every complete journal record. A last line cut short by a kill is ignored."""
        p = self.folder / JOURNAL_FILE
        if not p.exists():
            return []
        out = []
        with open(p, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # torn write at the moment of a kill
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
        return out

    def query_records(self, include_warmup: bool = False) -> list[QueryRecord]:
        return records_of(self.read_journal(), include_warmup=include_warmup)

    def done_ids(self) -> set[str]:
        """Queries that need no rerun: answered, errored or skipped (not warm-up)."""
        return {r.query_id for r in self.query_records() if r.query_id}

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


def list_sessions(root: str | os.PathLike) -> list[Path]:
    """Session folders under ``root`` (newest first)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / SESSION_FILE).is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def sessions_root() -> Path:
    """Where new session folders go by default (the data dir's ``sessions``)."""
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
