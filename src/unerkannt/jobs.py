"""Resumable jobs: a SQLite journal with one row per input file.

A job protects many files into one output folder and records, after each file, whether
it is ``done`` (protected output written), ``failed`` (nothing written, error kept) or
``skipped`` (not a photo or video; nothing written). After a crash, ``kill -9`` or a
reboot, :func:`run_job` with ``resume=True`` protects only the files still ``pending``:
every input ends with exactly one protected output or one recorded outcome.

A file whose row is still ``pending`` but whose output exists was written by the run that
died between writing and recording it: outputs are written atomically (temporary file,
then link or rename), so an existing output is a complete, verified one. It is recorded
as ``done`` and not protected again, unless the output already existed when the job was
created (then it is not ours and the file is tried normally, which fails closed without
``overwrite``). Temporary ``.unerkannt-*.part`` files left by a killed run are removed.
The workers of a killed run die with it and write nothing after it (see
:mod:`unerkannt.engines.worker`), so nothing appears in the output folder under a resume.

The job file appears whole or not at all: it is built complete (options and a pending row
per file) under a temporary name next to it and then linked into place, which fails if
another run made it first. A run holds an exclusive lock on the job file (``flock``)
while it works, so that a second run on it stops with a :class:`UsageError` naming the
first; ``unerkannt job status`` reads without the lock.

Job files of version 0 (``PRAGMA user_version``) had no ``skipped`` state; a run that
resumes one brings it to this version. A version-0 file could also be left holding no
options and no files, by a run killed between creating it and writing its options:
such a file recorded no work, and ``--resume`` starts the job in it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import socket
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .batch import FrameProgress, Job, plan, run
from .detect import FaceDetector
from .engines import check_engine
from .errors import UsageError
from .options import ProtectOptions
from .pipeline import options_json
from .results import FileResult, Report

log = logging.getLogger(__name__)

STATES = ("pending", "done", "failed", "skipped")

#: The journal's format (``PRAGMA user_version``); 0 had no ``skipped`` state.
VERSION = 1

_FILES = f"""CREATE TABLE files (
    source TEXT PRIMARY KEY,
    relpath TEXT NOT NULL,
    output TEXT,
    state TEXT NOT NULL CHECK (state IN ({", ".join(f"'{s}'" for s in STATES)})),
    preexisting INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
)"""
_META = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
#: The signature of a job: a resume must name the same.
_SIGNATURE = ("inputs", "output", "options")
#: Name ending of a job file being built (``.<job file name>.<random><ending>``).
_DRAFT = ".new"


class Journal:
    """The state of one job, kept in a SQLite file (WAL mode, one commit per file).

    ``Journal(path)`` opens an existing job file to read it; with ``lock`` it also takes
    the run's lock, brings a version-0 file to this version and records this process as
    the run working on it. A new job's file is made by :meth:`create`.

    Raises
    ------
    UsageError
        No job file at ``path``, a file that is not a job file (or of a newer version),
        or (with ``lock``) one that another run holds.
    """

    def __init__(self, path: str | Path, *, lock: bool = False) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise UsageError(f"no job file at {self.path}")
        self._lock = _take_lock(self.path) if lock else None
        self._connect()

    @classmethod
    def create(cls, path: str | Path, signature: dict[str, Any], jobs: list[Job], out_dir: Path) -> Journal:
        """Make the job file of a new job, complete, and hold its lock.

        It is built under a temporary name next to ``path`` (the ``signature`` and one
        pending row per job), flushed to disk and linked into place: the job file
        appears whole or not at all. Temporary files of runs killed while building one
        are removed.

        Raises
        ------
        UsageError
            ``path`` exists (another run made it meanwhile), or the folder is not writable.
        """
        path = Path(path)
        _remove_stale_drafts(path)
        try:
            fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_DRAFT)
        except OSError as exc:
            raise UsageError(f"cannot create the job file {path}: {exc.strerror or exc}") from exc
        try:
            # Held from the start: the draft is being built, and the job file (the same
            # file under its final name) is this run's from the moment it appears.
            fcntl.flock(fd, fcntl.LOCK_EX)
            _build(Path(draft), {**signature, "run": _this_run()}, jobs, out_dir)
            os.fsync(fd)
            _link_new(Path(draft), path)
            _fsync_folder(path.parent)
        except BaseException:
            os.close(fd)
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(draft)
        journal = cls.__new__(cls)
        journal.path, journal._lock = path, fd
        journal._connect()
        return journal

    def _connect(self) -> None:
        uri = "file:" + urllib.parse.quote(os.fsencode(os.path.abspath(self.path))) + "?mode=rw"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            self._release()
            raise UsageError(f"cannot open the job file {self.path}: {exc}") from exc
        try:
            tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "files"} <= tables:
                raise UsageError(f"{self.path} is not a job file")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > VERSION:
                raise UsageError(f"the job file {self.path} was made by a newer version of unerkannt")
            if self._lock is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                # FULL: a committed row survives a power cut, not only a killed process.
                self._db.execute("PRAGMA synchronous=FULL")
                if version < VERSION:
                    self._upgrade()
                self._set_meta({"run": _this_run()})
        except sqlite3.Error as exc:
            self.close()
            raise UsageError(f"cannot open the job file {self.path}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def _upgrade(self) -> None:
        # SQLite cannot change a CHECK constraint: copy the rows into a table with the new one.
        log.info("bringing the job file %s to version %d", self.path, VERSION)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(_FILES.replace("CREATE TABLE files", "CREATE TABLE files_new", 1))
            self._db.execute("INSERT INTO files_new SELECT * FROM files")
            self._db.execute("DROP TABLE files")
            self._db.execute("ALTER TABLE files_new RENAME TO files")
            self._db.execute(f"PRAGMA user_version = {VERSION}")

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def close(self) -> None:
        """Close the journal and let go of its lock."""
        # The database first: closing any descriptor of the file drops this process's
        # POSIX locks on it, SQLite's included, so the lock's descriptor goes last.
        self._db.close()
        self._release()

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}

    def _set_meta(self, items: dict[str, Any]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in items.items()]
        )

    def start(self, signature: dict[str, Any], jobs: Iterable[Job], out_dir: Path) -> None:
        """Write the signature and a pending row per job in one transaction (a job file that has neither)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._set_meta(signature)
            _insert_rows(self._db, jobs, out_dir)

    def add(self, jobs: Iterable[Job], out_dir: Path) -> int:
        """Add rows for jobs not yet in the journal; returns how many were new."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._count()
            _insert_rows(self._db, jobs, out_dir)
            return self._count() - before

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0])

    def record(self, source: str | Path, state: str, error: dict[str, str] | None = None) -> None:
        """Set the state of one file (one of :data:`STATES`) and commit."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        with self._db:
            self._db.execute(
                "UPDATE files SET state = ?, error = ?, updated = ? WHERE source = ?",
                (state, json.dumps(error) if error else None, time.time(), _key(source)),
            )

    def rows(self, state: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT source, relpath, output, state, preexisting, error, created, updated FROM files"
        args: tuple[str, ...] = ()
        if state is not None:
            query, args = query + " WHERE state = ?", (state,)
        names = ("source", "relpath", "output", "state", "preexisting", "error", "created", "updated")
        out = []
        for row in self._db.execute(query + " ORDER BY relpath", args):
            item = dict(zip(names, row, strict=True))
            item["error"] = json.loads(item["error"]) if item["error"] else None
            out.append(item)
        return out

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for state, n in self._db.execute("SELECT state, COUNT(*) FROM files GROUP BY state"):
            counts[state] = n
        counts["files"] = sum(counts[s] for s in STATES)
        return counts


def _insert_rows(db: sqlite3.Connection, jobs: Iterable[Job], out_dir: Path) -> None:
    now = time.time()
    rows = []
    for job in jobs:
        rel = os.path.relpath(job.output, out_dir) if job.output is not None else job.source.name
        output = str(job.output) if job.output is not None else None
        exists = job.output is not None and (job.output.exists() or job.output.is_symlink())
        rows.append((_key(job.source), rel, output, int(exists), now, now))
    db.executemany(
        "INSERT OR IGNORE INTO files (source, relpath, output, state, preexisting, created, updated) "
        "VALUES (?, ?, ?, 'pending', ?, ?, ?)",
        rows,
    )


def _build(draft: Path, signature: dict[str, Any], jobs: list[Job], out_dir: Path) -> None:
    db = sqlite3.connect(draft, isolation_level=None)
    try:
        # A draft that is not finished is thrown away: it needs no rollback journal;
        # the caller flushes it to disk before it is linked into place.
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        db.execute(_META)
        db.execute(_FILES)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in signature.items()])
        _insert_rows(db, jobs, out_dir)
        db.execute(f"PRAGMA user_version = {VERSION}")
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise UsageError(f"cannot write the job file: {exc}") from exc
    finally:
        db.close()


def _link_new(draft: Path, path: Path) -> None:
    try:
        os.link(draft, path)
    except FileExistsError:
        raise UsageError(f"another run{_holder(path)} created the job file {path} meanwhile; {_WAIT}") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise UsageError(f"cannot create the job file {path}: {exc.strerror or exc}") from exc
        # A file system without hard links: a checked rename (a race with another run
        # starting at the same moment is then possible).
        if path.exists() or path.is_symlink():
            raise UsageError(f"another run{_holder(path)} created the job file {path} meanwhile; {_WAIT}") from exc
        os.replace(draft, path)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the file itself was synced
    finally:
        os.close(fd)


def _remove_stale_drafts(path: Path) -> None:
    """Remove job files that runs killed while building them left behind (not locked)."""
    folder = path.parent
    prefix = f".{path.name}."
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(_DRAFT)]
    except OSError:
        return
    for name in names:
        try:
            fd = os.open(folder / name, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # another run is building it right now
        finally:
            # Closing drops a lock taken above with it.
            os.close(fd)
        log.info("removing %s, left by an interrupted run", folder / name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / name)


def _take_lock(path: Path) -> int:
    """An open descriptor of ``path`` holding its exclusive lock; released by closing it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise UsageError(f"cannot open the job file {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(f"the job file {path} is in use by another run{_holder(path)}; {_WAIT}") from None
    return fd


def _in_use(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _this_run() -> dict[str, Any]:
    since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": since}


_WAIT = "wait for it to end, or stop it and resume the job"


def _holder(path: Path) -> str:
    """`` (process PID on HOST, since TIME)`` as the run holding ``path`` recorded itself, or ``""``."""
    uri = "file:" + urllib.parse.quote(os.fsencode(os.path.abspath(path))) + "?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=2)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
        finally:
            db.close()
        holder = json.loads(row[0]) if row else None
    except (sqlite3.Error, ValueError):
        holder = None
    if not isinstance(holder, dict):
        return ""
    return f" (process {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')})"


def _key(path: str | Path) -> str:
    return os.path.abspath(path)


def _signature(inputs: list[str | Path], out_dir: Path, options: ProtectOptions) -> dict[str, Any]:
    return {
        "inputs": [os.path.realpath(p) for p in inputs],
        "output": os.path.realpath(out_dir),
        "options": options_json(options),
    }


def _state(result: FileResult) -> str:
    if result.ok:
        return "done"
    return "skipped" if result.status == "skipped" else "failed"


def _remove_stale_parts(out_dir: Path) -> None:
    # Only write_atomic makes these names; a killed run may leave one behind.
    if out_dir.is_dir():
        for part in out_dir.rglob(".unerkannt-*.part*"):
            log.info("removing %s, left by an interrupted run", part)
            part.unlink(missing_ok=True)


def _existing_job_error(job_file: Path, signature: dict[str, Any]) -> UsageError:
    """Why a new run cannot use ``job_file``, which exists."""
    if _in_use(job_file):
        return UsageError(f"the job file {job_file} is in use by another run{_holder(job_file)}; {_WAIT}")
    journal = Journal(job_file)
    try:
        meta = journal.meta()
        empty = journal.counts()["files"] == 0
    finally:
        journal.close()
    if "options" not in meta and empty:
        return UsageError(
            f"the job file {job_file} was left empty by a run stopped while creating it; "
            "use --resume to start the job in it"
        )
    if {k: meta.get(k) for k in _SIGNATURE} == signature:
        return UsageError(f"the job file {job_file} exists for these inputs; use --resume to continue it")
    return UsageError(f"the job file {job_file} belongs to another job; choose another file")


def run_job(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    job_file: str | Path,
    *,
    resume: bool = False,
    options: ProtectOptions | None = None,
    workers: int = 0,
    overwrite: bool = False,
    allow_inside_input: bool = False,
    detector: FaceDetector | None = None,
    progress: Callable[[FileResult], None] | None = None,
    planned: Callable[[int], None] | None = None,
    frame_progress: FrameProgress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> Report:
    """Protect files like :func:`unerkannt.protect_files`, recording each file in ``job_file``.

    With ``resume``, only files still pending in the journal are protected. The report
    covers the files protected by this call; :class:`Journal` holds the whole job.
    ``planned(n)`` is called with the number of files this call will work on;
    ``progress``, ``frame_progress``, ``engine`` and ``ray_address`` are those of
    :func:`unerkannt.batch.run`. The engine is not part of the job: a job started on
    one engine can be resumed on the other. The job file is locked for the whole call.

    Raises
    ------
    UsageError
        ``job_file`` exists and ``resume`` is false; ``resume`` with no ``job_file`` or a
        journal of other inputs, output folder or options; another run works on
        ``job_file`` (the message names it); the errors of :func:`plan`.
    """
    check_engine(engine, ray_address)
    options = options or ProtectOptions()
    inputs = list(inputs)
    out_dir = Path(out_dir)
    job_file = Path(job_file)
    signature = _signature(inputs, out_dir, options)
    journal: Journal | None = None
    if resume:
        if not job_file.is_file():
            raise UsageError(f"no job file at {job_file} to resume")
        journal = Journal(job_file, lock=True)
    elif job_file.exists() or job_file.is_symlink():
        raise _existing_job_error(job_file, signature)
    try:
        jobs = plan(inputs, out_dir, options=options, allow_inside_input=allow_inside_input)
        if journal is None:
            journal = Journal.create(job_file, signature, jobs, out_dir)
        else:
            _resume(journal, signature, jobs, out_dir)
        todo = _pending(journal, jobs, overwrite)
        if planned is not None:
            planned(len(todo))
        recording = journal

        def record(result: FileResult) -> None:
            recording.record(result.input, _state(result), result.error)
            if progress is not None:
                progress(result)

        if not todo:
            return Report(files=[], options=options_json(options))
        return run(
            todo,
            options=options,
            workers=workers,
            overwrite=overwrite,
            detector=detector,
            progress=record,
            frame_progress=frame_progress,
            engine=engine,
            ray_address=ray_address,
        )
    finally:
        if journal is not None:
            journal.close()


def _resume(journal: Journal, signature: dict[str, Any], jobs: list[Job], out_dir: Path) -> None:
    meta = journal.meta()
    if "options" not in meta:
        if journal.counts()["files"]:
            raise UsageError(f"the job file {journal.path} lists files but no options; it cannot be resumed")
        # Left by a run killed between creating the file and writing its options: no
        # file was protected under it, so the job starts here.
        log.info("the job file %s holds no job yet; starting it", journal.path)
        journal.start(signature, jobs, out_dir)
        return
    for key, what in (("inputs", "inputs"), ("output", "output folder"), ("options", "options")):
        if meta.get(key) != signature[key]:
            raise UsageError(f"the job file {journal.path} was made with other {what}; resume it with the same")
    _remove_stale_parts(out_dir)
    journal.add(jobs, out_dir)


def _pending(journal: Journal, jobs: list[Job], overwrite: bool) -> list[Job]:
    """The jobs still to run; settles pending rows that an interrupted run finished or lost."""
    by_key = {_key(job.source): job for job in jobs}
    todo = []
    for row in journal.rows("pending"):
        job = by_key.get(row["source"])
        if job is None:
            journal.record(row["source"], "failed", {"type": "input", "message": "the input is gone"})
            continue
        output = job.output
        if output is not None and not overwrite and not row["preexisting"] and output.is_file():
            log.info("%s was written before the interruption; recorded as done", output)
            journal.record(row["source"], "done")
            continue
        todo.append(job)
    return todo


def status(job_file: str | Path) -> dict[str, Any]:
    """Counts and failures of a job, as JSON-ready data (read without the run's lock).

    Raises
    ------
    UsageError
        There is no job file at ``job_file``, or it is not one.
    """
    job_file = Path(job_file)
    journal = Journal(job_file)
    try:
        meta = journal.meta()
        return {
            "job": str(job_file),
            "inputs": meta.get("inputs", []),
            "output": meta.get("output"),
            "counts": journal.counts(),
            "failures": [{"input": r["source"], "error": r["error"]} for r in journal.rows("failed")],
        }
    finally:
        journal.close()
