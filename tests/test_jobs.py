"""Resumable jobs, and proof that a job fails closed under injected faults.

Every test ends with the same invariant: each input has exactly one protected output
(a valid image) or one recorded failure (and no output), and no ``.unerkannt-*.part``
temporary file is left in the output folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import _samples  # noqa: F401  (registers the HEIF/AVIF encoders)
import unerkannt
from conftest import FACE_BOX, textured
from unerkannt import DetectionError, ProtectOptions, UnerkanntError, UsageError
from unerkannt import jobs as jobs_module
from unerkannt.batch import Job
from unerkannt.cli import main
from unerkannt.detect.fake import FakeDetector
from unerkannt.faces import Face
from unerkannt.jobs import Journal, run_job, status
from unerkannt.results import FileResult, Report

ROOT = Path(__file__).resolve().parents[1]


def _inputs(root: Path, n: int, *, bad: int = 0) -> list[Path]:
    files = []
    for i in range(n):
        path = root / f"d{i % 3}" / f"img{i:03d}.{('jpg', 'png', 'webp')[i % 3]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(textured(seed=i)).save(path)
        files.append(path)
    for i in range(bad):
        path = root / f"broken{i}.jpg"
        path.write_bytes(b"\xff\xd8\xff" + bytes(range(50)))
        files.append(path)
    return files


def _check_invariant(in_dir: Path, out_dir: Path, job_file: Path) -> dict[str, int]:
    """Every input: one valid output or one failure; nothing partial; returns the counts."""
    journal = Journal(job_file)
    try:
        rows = journal.rows()
        counts = journal.counts()
    finally:
        journal.close()
    inputs = sorted(p for p in in_dir.rglob("*") if p.is_file())
    assert sorted(r["source"] for r in rows) == [os.path.abspath(p) for p in inputs]
    assert counts["pending"] == 0
    outputs = sorted(p for p in out_dir.rglob("*") if p.is_file()) if out_dir.exists() else []
    assert not [p for p in outputs if p.name.startswith(".unerkannt-")], "a temporary file was left"
    done = sorted(Path(r["output"]) for r in rows if r["state"] == "done")
    assert outputs == done, "outputs and done rows differ"
    for row in rows:
        if row["state"] == "failed":
            assert row["error"] and row["error"]["message"]
            assert row["output"] is None or not Path(row["output"]).exists()
    for path in done:
        with Image.open(path) as image:
            image.load()
    return counts


class PickyDetector(FakeDetector):
    """Raises on images 124 pixels wide."""

    def detect(self, image: np.ndarray) -> list[Face]:
        if image.shape[1] == 124:
            raise DetectionError("injected detector failure")
        return super().detect(image)


# --- the journal ---------------------------------------------------------------------------


def test_job_records_every_file_and_resume_redoes_nothing(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 6, bad=1)
    report = run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    assert report.summary()["protected"] == 6 and report.summary()["failed"] == 1
    assert _check_invariant(in_dir, out_dir, job) == {"pending": 0, "done": 6, "failed": 1, "skipped": 0, "files": 7}
    with sqlite3.connect(job) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = FakeDetector([FACE_BOX])
    assert run_job([in_dir], out_dir, job, resume=True, detector=again).files == []
    assert again.calls == 0


def test_pending_row_with_an_output_from_the_crashed_run_counts_once(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 3)
    run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    # The process died after writing img000 and before committing its row.
    with sqlite3.connect(job) as db:
        db.execute("UPDATE files SET state = 'pending' WHERE relpath LIKE '%img000%'")
    (out_dir / "d0" / ".unerkannt-abc.part").write_bytes(b"half")
    detector = FakeDetector([FACE_BOX])
    run_job([in_dir], out_dir, job, resume=True, detector=detector)
    assert detector.calls == 0, "a finished output was protected twice"
    assert _check_invariant(in_dir, out_dir, job)["done"] == 3


def test_an_output_that_existed_before_the_job_is_not_taken_as_ours(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 2)
    (out_dir / "d0").mkdir(parents=True)
    (out_dir / "d0" / "img000.jpg").write_bytes(b"someone else's file")
    run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    data = status(job)
    assert data["counts"] == {"pending": 0, "done": 1, "failed": 1, "skipped": 0, "files": 2}
    assert data["failures"][0]["error"]["type"] == "exists"
    assert (out_dir / "d0" / "img000.jpg").read_bytes() == b"someone else's file"


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 2)
    with pytest.raises(UsageError, match="no job file"):
        run_job([in_dir], out_dir, job, resume=True, detector=FakeDetector())
    run_job([in_dir], out_dir, job, detector=FakeDetector())
    with pytest.raises(UsageError, match="use --resume"):
        run_job([in_dir], out_dir, job, detector=FakeDetector())
    with pytest.raises(UsageError, match="another job"):
        run_job([in_dir], tmp_path / "elsewhere", job, detector=FakeDetector())
    with pytest.raises(UsageError, match="other output folder"):
        run_job([in_dir], tmp_path / "elsewhere", job, resume=True, detector=FakeDetector())
    with pytest.raises(UsageError, match="other options"):
        run_job([in_dir], out_dir, job, resume=True, options=ProtectOptions(quality=50), detector=FakeDetector())
    capsys.readouterr()
    assert main(["protect", str(in_dir), "-o", str(out_dir), "--job", str(job), "-q"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["protect", str(in_dir), "-o", str(out_dir), "--resume", "-q"]) == 2
    assert main(["job", "status", str(tmp_path / "nope.db")]) == 2


def test_job_status_cli_escapes_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 2)
    (in_dir / "evil\x1b[2Jname.jpg").write_bytes(b"not a jpeg")
    run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    capsys.readouterr()
    assert main(["job", "status", str(job)]) == 1
    out = capsys.readouterr().out
    assert "2 done, 1 failed, 0 pending" in out and "\x1b" not in out and "failed: " in out
    assert main(["job", "status", str(job), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["failed"] == 1 and data["failures"][0]["error"]["type"]


#: The journal's format before version 1: no ``skipped`` state, no ``user_version``.
V0_SCHEMA = """
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


def _v0_journal(path: Path) -> sqlite3.Connection:
    """A job file as version 0 opened it: tables, nothing else yet (the caller adds or closes)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(V0_SCHEMA)
    return db


def test_a_job_file_left_without_options_is_started_by_resume(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 3)
    # Version 0, killed between creating the job file and writing its options.
    _v0_journal(job).close()
    with pytest.raises(UsageError, match="left empty by a run stopped while creating it; use --resume"):
        run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    report = run_job([in_dir], out_dir, job, resume=True, detector=FakeDetector([FACE_BOX]))
    assert report.summary()["protected"] == 3
    assert _check_invariant(in_dir, out_dir, job) == {"pending": 0, "done": 3, "failed": 0, "skipped": 0, "files": 3}
    with pytest.raises(UsageError, match="other output folder"):
        run_job([in_dir], tmp_path / "elsewhere", job, resume=True, detector=FakeDetector())


CREATE_KILL_SCRIPT = """
import json, os, signal, sys
from unerkannt.detect.fake import FakeDetector
from unerkannt.jobs import run_job

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

# The job's options are the first thing written as JSON: the run dies while writing them.
json.dumps = killed
run_job([sys.argv[1]], sys.argv[2], sys.argv[3], detector=FakeDetector())
"""


def test_a_run_killed_while_creating_its_job_file_leaves_none(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 3)
    script = tmp_path / "create_kill.py"
    script.write_text(CREATE_KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, str(script), str(in_dir), str(out_dir), str(job)], env=env, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert not job.exists(), "a job file without its options was left"
    with pytest.raises(UsageError, match="no job file"):
        run_job([in_dir], out_dir, job, resume=True, detector=FakeDetector())
    run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    assert _check_invariant(in_dir, out_dir, job)["done"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["create_kill.py", "in", "job.db", "out"]


def test_a_second_run_on_a_job_file_in_use_is_refused_naming_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 40)
    script = tmp_path / "job_script.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    first = subprocess.Popen([sys.executable, str(script), str(in_dir), str(out_dir), str(job), "0"], env=env)
    try:
        assert _wait_until(functools.partial(_reached, job, 1), first)
        in_use = rf"is in use by another run \(process {first.pid} on .*\); wait for it to end"
        for resume in (True, False):
            with pytest.raises(UsageError, match=in_use):
                run_job([in_dir], out_dir, job, resume=resume, detector=FakeDetector([FACE_BOX]))
        capsys.readouterr()
        assert main(["protect", str(in_dir), "-o", str(out_dir), "--job", str(job), "--resume", "-q"]) == 2
        assert f"process {first.pid}" in capsys.readouterr().err
        assert status(job)["counts"]["files"] == 40, "the journal can be read meanwhile"
        assert first.poll() is None, "the first run went on"
    finally:
        first.kill()
        first.wait()
    run_job([in_dir], out_dir, job, resume=True, detector=FakeDetector([FACE_BOX]))
    assert _check_invariant(in_dir, out_dir, job)["done"] == 40


def test_two_runs_started_at_once_on_one_job_file(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 30)
    script = tmp_path / "job_script.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    argv = [sys.executable, str(script), str(in_dir), str(out_dir), str(job), "0"]
    runs = [subprocess.Popen(argv, env=env, stderr=subprocess.PIPE) for _ in range(2)]
    outcomes = sorted((run.wait(timeout=120), run.communicate()[1].decode()) for run in runs)
    assert [code for code, _ in outcomes] == [0, 1], outcomes
    refused = r"UsageError: (the job file .* is in use by|another run .*created the job file .* meanwhile)"
    assert re.search(refused, outcomes[1][1]), outcomes[1][1]
    assert _check_invariant(in_dir, out_dir, job)["done"] == 30


def _skipping_run(real: Callable[..., Report]) -> Callable[..., Report]:
    """An engine as the planner will drive it: files named skip-* come back ``skipped``."""

    def run(jobs: list[Job], *, progress: Callable[[FileResult], None], **kwargs: object) -> Report:
        skip = [j for j in jobs if j.source.name.startswith("skip-")]
        for j in skip:
            progress(FileResult(input=str(j.source), output=None, status="skipped"))
        report = real([j for j in jobs if j not in skip], progress=progress, **kwargs)
        report.files += [FileResult(input=str(j.source), output=None, status="skipped") for j in skip]
        return report

    return run


def test_skipped_files_are_recorded_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 3)
    Image.fromarray(textured()).save(in_dir / "skip-me.png")
    monkeypatch.setattr(jobs_module, "run", _skipping_run(jobs_module.run))
    run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    assert status(job)["counts"] == {"pending": 0, "done": 3, "failed": 0, "skipped": 1, "files": 4}
    assert not (out_dir / "skip-me.png").exists()
    assert run_job([in_dir], out_dir, job, resume=True, detector=FakeDetector()).files == [], "skipped is final"
    capsys.readouterr()
    assert main(["job", "status", str(job)]) == 0
    assert "3 done, 0 failed, 1 skipped, 0 pending" in capsys.readouterr().out


def test_a_version_0_job_is_resumed_and_can_record_skipped_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 3)
    Image.fromarray(textured()).save(in_dir / "skip-me.png")
    # Version 0 protected img000 and was killed; the rest is pending.
    signature = jobs_module._signature([in_dir], out_dir, ProtectOptions())
    (out_dir / "d0").mkdir(parents=True)
    Image.fromarray(textured()).save(out_dir / "d0" / "img000.jpg")
    db = _v0_journal(job)
    db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in signature.items()])
    now = time.time()
    for path in sorted(in_dir.rglob("*.*")):
        rel = path.relative_to(in_dir)
        state = "done" if path.name == "img000.jpg" else "pending"
        db.execute(
            "INSERT INTO files (source, relpath, output, state, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
            (os.path.abspath(path), str(rel), str(out_dir / rel), state, now, now),
        )
    db.close()
    monkeypatch.setattr(jobs_module, "run", _skipping_run(jobs_module.run))
    detector = FakeDetector([FACE_BOX])
    run_job([in_dir], out_dir, job, resume=True, detector=detector)
    assert detector.calls == 4, "only the two pending pictures were protected (detect and verify)"
    assert status(job)["counts"] == {"pending": 0, "done": 3, "failed": 0, "skipped": 1, "files": 4}
    assert sorted(p.name for p in _files(out_dir)) == ["img000.jpg", "img001.png", "img002.webp"]
    with contextlib.closing(sqlite3.connect(job)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == jobs_module.VERSION


# --- faults --------------------------------------------------------------------------------


def test_a_detector_that_raises_on_some_files(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 6)
    for i in range(3):
        Image.fromarray(textured(width=124, seed=i)).save(in_dir / f"wide{i}.png")
    run_job([in_dir], out_dir, job, detector=PickyDetector([FACE_BOX]))
    counts = _check_invariant(in_dir, out_dir, job)
    assert counts == {"pending": 0, "done": 6, "failed": 3, "skipped": 0, "files": 9}
    assert {f["error"]["type"] for f in status(job)["failures"]} == {"detection"}


@pytest.mark.parametrize("target", ["fsync", "link", "mkstemp"])
def test_disk_full_or_unwritable_output_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 4)
    code = errno.EACCES if target == "mkstemp" else errno.ENOSPC
    module = tempfile if target == "mkstemp" else os
    real = getattr(module, target)

    def in_output(path: object) -> bool:
        if isinstance(path, int):  # a descriptor: where its file is
            path = os.readlink(f"/proc/self/fd/{path}")
        return str(path).startswith(str(out_dir))

    def fail(*args: object, **kwargs: object) -> object:
        # The output folder's disk is full or not writable; the job file lives elsewhere.
        if any(in_output(a) for a in (*args, *kwargs.values()) if isinstance(a, (str, Path, int))):
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, target, fail)
    run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    monkeypatch.undo()
    counts = _check_invariant(in_dir, out_dir, job)
    assert counts == {"pending": 0, "done": 0, "failed": 4, "skipped": 0, "files": 4}
    assert {f["error"]["type"] for f in status(job)["failures"]} == {"output"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_folder_is_recorded(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 3)
    out_dir.mkdir()
    out_dir.chmod(0o500)
    try:
        run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    finally:
        out_dir.chmod(0o700)
    assert _check_invariant(in_dir, out_dir, job)["failed"] == 3


KILL_SCRIPT = """
import sys, time
from unerkannt.detect.fake import FakeDetector
from unerkannt.jobs import run_job

class Slow(FakeDetector):
    def detect(self, image):
        time.sleep(0.03)
        return super().detect(image)

in_dir, out_dir, job, resume = sys.argv[1:5]
run_job([in_dir], out_dir, job, resume=resume == "1", detector=Slow([(40.0, 20.0, 80.0, 60.0)]))
"""


def _settled(job: Path) -> int:
    """Files the journal of ``job`` records as finished, read beside the run that writes it."""
    if not job.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{job}?mode=ro", uri=True, timeout=1)) as db:
            return int(db.execute("SELECT COUNT(*) FROM files WHERE state != 'pending'").fetchone()[0])
    except sqlite3.Error:
        return 0


def _wait_until(condition: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """Poll ``condition`` while ``proc`` runs; false if it ended or ``timeout`` seconds passed first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.005)
    return False


def _reached(job: Path, goal: int) -> bool:
    return _settled(job) >= goal


def test_sigkill_while_working_then_resume(tmp_path: Path) -> None:
    script = tmp_path / "job_script.py"
    script.write_text(KILL_SCRIPT)
    rng = random.Random(6)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for iteration in range(3):
        base = tmp_path / f"run{iteration}"
        in_dir, out_dir, job = base / "in", base / "out", base / "job.db"
        _inputs(in_dir, 30, bad=2)
        kills = 0
        for attempt in range(30):
            resume = "1" if job.exists() else "0"
            goal = _settled(job) + rng.randint(1, 6)
            proc = subprocess.Popen(
                [sys.executable, str(script), str(in_dir), str(out_dir), str(job), resume],
                env=env,
                stderr=subprocess.PIPE,
            )
            # Killed once it is known to work (the journal recorded files of this run), at a
            # random moment of a later file: between writing an output and recording it, too.
            if attempt < 3 and _wait_until(functools.partial(_reached, job, goal), proc):
                time.sleep(rng.uniform(0, 0.06))
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                kills += 1
                continue
            err = proc.communicate(timeout=120)[1]
            assert proc.returncode == 0, err.decode()
            break
        assert kills == 3, "every kill hit a working run"
        counts = _check_invariant(in_dir, out_dir, job)
        assert counts == {"pending": 0, "done": 30, "failed": 2, "skipped": 0, "files": 32}


WORKER_SCRIPT = """
import json, os, sys, time
from unerkannt import batch
from unerkannt.detect.fake import FakeDetector
from unerkannt.media import write

class Killer(FakeDetector):
    def detect(self, image):
        if int(image.max()) == 0:  # the black image kills its worker
            os._exit(3)
        return super().detect(image)

class SlowOs:
    # Writing takes a while, so that the other worker is stopped (SIGTERM) while its
    # temporary file exists: it must remove it all the same.
    def __getattr__(self, name):
        return getattr(os, name)

    def fsync(self, fd):
        time.sleep(0.4)
        os.fsync(fd)

# Module level, so that the spawned workers (which import this file) get it too.
batch.build_detector = lambda options: Killer([(40.0, 20.0, 80.0, 60.0)])
batch.build_verifier = lambda options: None
write.os = SlowOs()

if __name__ == "__main__":
    from unerkannt.jobs import run_job

    report = run_job([sys.argv[1]], sys.argv[2], sys.argv[3], workers=2)
    print(json.dumps(report.to_json()))
"""


def test_a_worker_that_dies_fails_only_its_file(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 6)
    Image.fromarray(np.zeros((80, 120, 3), np.uint8)).save(in_dir / "d1" / "black.png")
    script = tmp_path / "worker_script.py"
    script.write_text(WORKER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(script), str(in_dir), str(out_dir), str(job)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    failed = [f for f in report["files"] if f["status"] == "failed"]
    assert [Path(f["input"]).name for f in failed] == ["black.png"]
    assert "worker process died" in failed[0]["error"]["message"]
    assert _check_invariant(in_dir, out_dir, job) == {"pending": 0, "done": 6, "failed": 1, "skipped": 0, "files": 7}


# --- workers die with their run -------------------------------------------------------------

CLI_SCRIPT = """
import ctypes, os, sys, time
from pathlib import Path
from unerkannt import batch
from unerkannt.detect.fake import FakeDetector

class Lingering(FakeDetector):
    # As on a system without PR_SET_PDEATHSIG: the worker would outlive its run, mid-file.
    def detect(self, image):
        ctypes.CDLL(None).prctl(1, 0)
        Path(os.environ["UNERKANNT_TEST_MARKS"], str(os.getpid())).touch()
        time.sleep(1.0)
        return super().detect(image)

# Module level, so that the spawned workers (which import this file) get it too.
box = [(40.0, 20.0, 80.0, 60.0)]
batch.build_detector = lambda options: (Lingering if os.environ.get("UNERKANNT_TEST_MARKS") else FakeDetector)(box)
batch.build_verifier = lambda options: None

if __name__ == "__main__":
    from unerkannt.cli import main

    sys.exit(main(sys.argv[1:]))
"""


def _descendants(pid: int) -> set[int]:
    """The processes below ``pid`` now (Linux ``/proc``)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            threads = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                children = Path(f"/proc/{parent}/task/{thread}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _worker_importing(pid: int) -> bool:
    """A pool worker that is loading the libraries it needs before it can start working."""
    try:
        return (
            b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and b"numpy" in Path(f"/proc/{pid}/maps").read_bytes()
        )
    except OSError:
        return False


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.skipif(sys.platform != "linux", reason="follows processes in /proc")
@pytest.mark.parametrize("moment", ["workers starting", "working"])
def test_workers_die_with_a_killed_run_and_resume_finds_nothing_moving(tmp_path: Path, moment: str) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 40)
    script = tmp_path / "cli_script.py"
    script.write_text(CLI_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("UNERKANNT_TEST_MARKS", None)
    argv = [sys.executable, str(script), "protect", str(in_dir), "-o", str(out_dir), "--job", str(job), "-q"]
    proc = subprocess.Popen([*argv, "--workers", "2"], env=env, stderr=subprocess.DEVNULL)
    seen: set[int] = set()

    def ready() -> bool:
        seen.update(_descendants(proc.pid))
        if moment == "working":
            return _settled(job) >= 1
        # A worker took its orders and is still importing: it cannot have asked yet to die with its parent.
        return any(_worker_importing(p) for p in seen)

    try:
        assert _wait_until(ready, proc), "the run ended before the moment to kill it"
        seen.update(_descendants(proc.pid))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        at_kill = _files(out_dir)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(p) for p in seen):
            time.sleep(0.05)
        assert not [p for p in seen if _running(p)], "processes of the killed run live on"
        time.sleep(0.5)
        assert _files(out_dir) == at_kill, "outputs appeared after the run was killed"
        resumed = subprocess.run([*argv, "--resume", "--workers", "2"], env=env, capture_output=True, check=False)
        assert resumed.returncode == 0, resumed.stderr.decode()
    finally:
        for pid in seen:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    assert _check_invariant(in_dir, out_dir, job) == {"pending": 0, "done": 40, "failed": 0, "skipped": 0, "files": 40}


@pytest.mark.skipif(sys.platform != "linux", reason="follows processes in /proc")
def test_a_worker_whose_run_died_publishes_nothing(tmp_path: Path) -> None:
    """Without the kernel's parent-death signal, a worker mid-file outlives its run; it must not publish."""
    in_dir, out_dir, job, marks = tmp_path / "in", tmp_path / "out", tmp_path / "job.db", tmp_path / "marks"
    _inputs(in_dir, 4)
    marks.mkdir()
    script = tmp_path / "cli_script.py"
    script.write_text(CLI_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "UNERKANNT_TEST_MARKS": str(marks)}
    argv = [sys.executable, str(script), "protect", str(in_dir), "-o", str(out_dir), "--job", str(job), "-q"]
    argv += ["--workers", "2", "--no-verify"]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        # Both workers are inside a file, their parent-death signal cleared.
        assert _wait_until(lambda: len(list(marks.iterdir())) >= 2, proc, timeout=60)
        workers = {int(p.name) for p in marks.iterdir()}
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(p) for p in workers):
            time.sleep(0.05)
        assert not [p for p in workers if _running(p)], "a worker lives on after its run"
        assert _files(out_dir) == [], "a worker published (or left) a file after its run was killed"
    finally:
        for pid in workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    env.pop("UNERKANNT_TEST_MARKS")
    resumed = subprocess.run([*argv, "--resume"], env=env, capture_output=True, check=False)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert _check_invariant(in_dir, out_dir, job)["done"] == 4


RAY_SCRIPT = """
import sys, time
from unerkannt.detect.fake import FakeDetector
from unerkannt.jobs import run_job

class Slow(FakeDetector):
    def detect(self, image):
        time.sleep(0.2)
        return super().detect(image)

if __name__ == "__main__":
    in_dir, out_dir, job = sys.argv[1:4]
    run_job([in_dir], out_dir, job, workers=2, engine="ray", detector=Slow([(40.0, 20.0, 80.0, 60.0)]))
"""


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.skipif(sys.platform != "linux", reason="follows processes in /proc")
def test_ray_actors_of_a_private_instance_die_with_a_killed_run(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 16)
    script = tmp_path / "ray_script.py"
    script.write_text(RAY_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "RAY_DATA_LOG_LEVEL": "ERROR"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(in_dir), str(out_dir), str(job)], env=env, stderr=subprocess.DEVNULL
    )
    seen: set[int] = set()

    def working() -> bool:
        seen.update(_descendants(proc.pid))
        return _settled(job) >= 1

    try:
        assert _wait_until(working, proc, timeout=240), "the run ended before it was killed"
        seen.update(_descendants(proc.pid))
        # Ray's workers (actors among them) name themselves ray::<what they run>; the raylet
        # starts them. Ray's own two agents stop by themselves, a minute later, and do no work of ours.
        names = {p: _cmdline(p).split(b"\0")[0] for p in seen}
        ours = {p for p, n in names.items() if n.endswith(b"/raylet") or (n.startswith(b"ray::") and b"Agent" not in n)}
        assert len(ours) >= 3, "the actors and the raylet were found"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        at_kill = _files(out_dir)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_running(p) for p in ours):
            time.sleep(0.05)
        left = [_cmdline(p)[:80] for p in ours if _running(p)]
        assert not left, f"Ray workers of the killed run live on: {left}"
        time.sleep(0.5)
        assert _files(out_dir) == at_kill, "outputs appeared after the run was killed"
    finally:
        for pid in seen:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    # Resumed on the local engine: a job is not tied to one.
    run_job([in_dir], out_dir, job, resume=True, detector=FakeDetector([FACE_BOX]))
    assert _check_invariant(in_dir, out_dir, job)["done"] == 16


GUARD_SCRIPT = """
import sys, time
from pathlib import Path
from unerkannt import ProtectOptions
from unerkannt.batch import Job
from unerkannt.detect.fake import FakeDetector
from unerkannt.engines.worker import Owner, protect_for

source, output, owner_pid, mark, wait = sys.argv[1:6]
# Not this process's parent: as for a Ray actor, whose parent is Ray's raylet.
owner = Owner.of(int(owner_pid), parent=False)

class OutlivesItsOwner(FakeDetector):
    def detect(self, image):
        Path(mark).touch()
        while wait == "1" and owner.alive():
            time.sleep(0.01)
        return super().detect(image)

detector = OutlivesItsOwner([(40.0, 20.0, 80.0, 60.0)])
result = protect_for(owner, Job(Path(source), Path(output)), options=ProtectOptions(), detector=detector)
print(result.status, result.output)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="follows processes in /proc")
def test_the_worker_guard_publishes_nothing_once_the_run_is_gone(tmp_path: Path) -> None:
    from unerkannt.engines.worker import EXIT_ORPHANED

    source = tmp_path / "in.png"
    Image.fromarray(textured()).save(source)
    script = tmp_path / "guard.py"
    script.write_text(GUARD_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        # The run lives: the file is published.
        out = tmp_path / "alive" / "in.png"
        args = [str(source), str(out), str(owner.pid), str(tmp_path / "mark0"), "0"]
        done = subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode().split() == ["protected", str(out)] and out.is_file()
        # The run dies while the worker protects the file: nothing is published, the worker stops.
        out, mark = tmp_path / "gone" / "in.png", tmp_path / "mark1"
        args = [str(source), str(out), str(owner.pid), str(mark), "1"]
        worker = subprocess.Popen([sys.executable, str(script), *args], env=env, stdout=subprocess.PIPE)
        assert _wait_until(mark.exists, worker)
    finally:
        owner.kill()
        owner.wait()
    assert worker.wait(timeout=30) == EXIT_ORPHANED
    assert worker.communicate()[0] == b""
    assert _files(tmp_path / "gone") == []


def test_an_owner_is_only_judged_where_its_pid_means_it(tmp_path: Path) -> None:
    from unerkannt.engines.worker import Owner

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    here = Owner.of(gone.pid, parent=False)
    gone.wait()
    assert not here.alive(), "a process that ended"
    assert Owner.of(os.getpid(), parent=False).alive()
    reused = dataclasses.replace(Owner.of(os.getpid(), parent=False), started="1")
    assert not reused.alive(), "another process under the same pid"
    # On another node or in another container of a Ray cluster, a worker cannot see its
    # run: it must keep working (Ray stops the actors of a driver that is gone).
    assert dataclasses.replace(here, where="another machine").alive()
    assert not Owner.of(os.getpid(), parent=True).alive(), "not this process's parent"


# --- fuzzing the decode-to-protect path ----------------------------------------------------

FUZZ_FORMATS = ("jpeg", "png", "webp", "gif", "tiff", "bmp", "heif", "avif")


def _seed_corpus() -> list[tuple[str, bytes]]:
    corpus = []
    for name in FUZZ_FORMATS:
        fmt = unerkannt.media.by_name(name)
        buf = io.BytesIO()
        try:
            image = Image.fromarray(textured(width=64, height=48))
            image.save(buf, format={"heif": "HEIF", "avif": "AVIF"}.get(name, name.upper()))
        except (ImportError, KeyError, OSError, ValueError):
            continue
        corpus.append((fmt.extensions[0], buf.getvalue()))
    return corpus


SEEDS = _seed_corpus()
FUZZ_STATS = {"examples": 0, "protected": 0, "refused": 0}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    ext, data = draw(st.sampled_from(SEEDS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("truncate", "flip", "insert", "overwrite")))
        at = draw(st.integers(0, max(0, len(buf) - 1)))
        if kind == "truncate":
            del buf[at:]
        elif kind == "flip" and buf:
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif buf:
            chunk = draw(st.binary(min_size=1, max_size=16))
            buf[at : at + len(chunk)] = chunk
    return ext, bytes(buf)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(case=mutated())
def test_fuzz_decode_to_protect_fails_closed(case: tuple[str, bytes]) -> None:
    ext, data = case
    FUZZ_STATS["examples"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / f"in{ext}", Path(tmp) / "out" / f"out{ext}"
        src.write_bytes(data)
        options = ProtectOptions(max_pixels=4_000_000)
        try:
            result = unerkannt.protect(src, out, options=options, detector=FakeDetector([FACE_BOX]))
        except UnerkanntError:
            FUZZ_STATS["refused"] += 1
            assert not out.exists()
        else:
            FUZZ_STATS["protected"] += 1
            assert result.ok and out.is_file()
            with Image.open(out) as image:
                image.load()
        leftovers = list((Path(tmp) / "out").glob(".unerkannt-*")) if (Path(tmp) / "out").exists() else []
        assert leftovers == []


def test_fuzz_corpus_covers_the_formats() -> None:
    assert len(SEEDS) >= 6, [ext for ext, _ in SEEDS]
    if os.environ.get("UNERKANNT_FUZZ_STATS"):
        print(json.dumps(FUZZ_STATS) + f" seeds={[e for e, _ in SEEDS]} at {time.strftime('%H:%M:%S')}")
