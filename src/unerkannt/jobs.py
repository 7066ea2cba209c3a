"""Resumable jobs: a SQLite journal with one row per input file.

A job protects many files into one output folder and records, after each file, whether
it is ``done`` (protected output written) or ``failed`` (nothing written, error kept).
After a crash, ``kill -9`` or a reboot, :func:`run_job` with ``resume=True`` protects only
the files still ``pending``: every input ends with exactly one protected output or one
recorded failure.

A file whose row is still ``pending`` but whose output exists was written by the run that
died between writing and recording it: outputs are written atomically (temporary file,
then link or rename), so an existing output is a complete, verified one. It is recorded
as ``done`` and not protected again, unless the output already existed when the job was
created (then it is not ours and the file is tried normally, which fails closed without
``overwrite``). Temporary ``.unerkannt-*.part`` files left by a killed run are removed.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .batch import FrameProgress, Job, check_engine, plan, run
from .detect import FaceDetector
from .errors import UsageError
from .options import ProtectOptions
from .pipeline import options_json
from .results import FileResult, Report

log = logging.getLogger(__name__)

STATES = ("pending", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,
    relpath TEXT NOT NULL,
    output TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    preexisting INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
"""


class Journal:
    """The state of one job, kept in a SQLite file (WAL mode, one commit per file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed row survives a power cut, not only a killed process.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise UsageError(f"cannot open the job file {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}

    def start(self, signature: dict[str, Any]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in signature.items()]
            )

    def add(self, jobs: Iterable[Job], out_dir: Path) -> int:
        """Add rows for jobs not yet in the journal; returns how many were new."""
        now = time.time()
        rows = []
        for job in jobs:
            rel = os.path.relpath(job.output, out_dir) if job.output is not None else job.source.name
            output = str(job.output) if job.output is not None else None
            exists = job.output is not None and (job.output.exists() or job.output.is_symlink())
            rows.append((_key(job.source), rel, output, int(exists), now, now))
        with self._db:
            self._db.execute("BEGIN")
            before = self._count()
            self._db.executemany(
                "INSERT OR IGNORE INTO files (source, relpath, output, state, preexisting, created, updated) "
                "VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                rows,
            )
            return self._count() - before

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0])

    def record(self, source: str | Path, state: str, error: dict[str, str] | None = None) -> None:
        """Set the state of one file and commit."""
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


def _key(path: str | Path) -> str:
    return os.path.abspath(path)


def _signature(inputs: list[str | Path], out_dir: Path, options: ProtectOptions) -> dict[str, Any]:
    return {
        "inputs": [os.path.realpath(p) for p in inputs],
        "output": os.path.realpath(out_dir),
        "options": options_json(options),
    }


def _remove_stale_parts(out_dir: Path) -> None:
    # Only write_atomic makes these names; a killed run may leave one behind.
    if out_dir.is_dir():
        for part in out_dir.rglob(".unerkannt-*.part*"):
            log.info("removing %s, left by an interrupted run", part)
            part.unlink(missing_ok=True)


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
    one engine can be resumed on the other.

    Raises
    ------
    UsageError
        ``job_file`` exists and ``resume`` is false; ``resume`` with no ``job_file`` or a
        journal of other inputs, output folder or options; the errors of :func:`plan`.
    """
    check_engine(engine, ray_address)
    options = options or ProtectOptions()
    inputs = list(inputs)
    out_dir = Path(out_dir)
    job_file = Path(job_file)
    signature = _signature(inputs, out_dir, options)
    existed = job_file.exists()
    if existed and not resume:
        journal = Journal(job_file)
        try:
            same = journal.meta() == signature
        finally:
            journal.close()
        if same:
            raise UsageError(f"the job file {job_file} exists for these inputs; use --resume to continue it")
        raise UsageError(f"the job file {job_file} belongs to another job; choose another file")
    if resume and not existed:
        raise UsageError(f"no job file at {job_file} to resume")
    jobs = plan(inputs, out_dir, options=options, allow_inside_input=allow_inside_input)
    journal = Journal(job_file)
    try:
        if resume:
            meta = journal.meta()
            for key, what in (("inputs", "inputs"), ("output", "output folder"), ("options", "options")):
                if meta.get(key) != signature[key]:
                    raise UsageError(f"the job file {job_file} was made with other {what}; resume it with the same")
            _remove_stale_parts(out_dir)
        else:
            journal.start(signature)
        journal.add(jobs, out_dir)
        todo = _pending(journal, jobs, overwrite)
        if planned is not None:
            planned(len(todo))

        def record(result: FileResult) -> None:
            journal.record(result.input, "done" if result.ok else "failed", result.error)
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
        journal.close()


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
    """Counts and failures of a job, as JSON-ready data.

    Raises
    ------
    UsageError
        There is no job file at ``job_file``.
    """
    job_file = Path(job_file)
    if not job_file.is_file():
        raise UsageError(f"no job file at {job_file}")
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
