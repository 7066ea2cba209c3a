"""Resumable jobs, and proof that a job fails closed under injected faults.

Every test ends with the same invariant: each input has exactly one protected output
(a valid image) or one recorded failure (and no output), and no ``.unerkannt-*.part``
temporary file is left in the output folder.
"""

from __future__ import annotations

import errno
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
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
from unerkannt.cli import main
from unerkannt.detect.fake import FakeDetector
from unerkannt.faces import Face
from unerkannt.jobs import Journal, run_job, status

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
    assert _check_invariant(in_dir, out_dir, job) == {"pending": 0, "done": 6, "failed": 1, "files": 7}
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
    assert data["counts"] == {"pending": 0, "done": 1, "failed": 1, "files": 2}
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


# --- faults --------------------------------------------------------------------------------


def test_a_detector_that_raises_on_some_files(tmp_path: Path) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 6)
    for i in range(3):
        Image.fromarray(textured(width=124, seed=i)).save(in_dir / f"wide{i}.png")
    run_job([in_dir], out_dir, job, detector=PickyDetector([FACE_BOX]))
    counts = _check_invariant(in_dir, out_dir, job)
    assert counts == {"pending": 0, "done": 6, "failed": 3, "files": 9}
    assert {f["error"]["type"] for f in status(job)["failures"]} == {"detection"}


@pytest.mark.parametrize("target", ["fsync", "link", "mkstemp"])
def test_disk_full_or_unwritable_output_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    in_dir, out_dir, job = tmp_path / "in", tmp_path / "out", tmp_path / "job.db"
    _inputs(in_dir, 4)
    code = errno.EACCES if target == "mkstemp" else errno.ENOSPC

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile if target == "mkstemp" else os, target, fail)
    run_job([in_dir], out_dir, job, detector=FakeDetector([FACE_BOX]))
    monkeypatch.undo()
    counts = _check_invariant(in_dir, out_dir, job)
    assert counts == {"pending": 0, "done": 0, "failed": 4, "files": 4}
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


def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
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
            proc = subprocess.Popen(
                [sys.executable, str(script), str(in_dir), str(out_dir), str(job), resume],
                env=env,
                stderr=subprocess.PIPE,
            )
            try:
                proc.wait(timeout=rng.uniform(0.3, 1.2) if attempt < 4 else 60)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                kills += 1
                continue
            err = proc.communicate()[1]
            assert proc.returncode == 0, err.decode()
            break
        assert kills >= 1
        counts = _check_invariant(in_dir, out_dir, job)
        assert counts == {"pending": 0, "done": 30, "failed": 2, "files": 32}


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
    assert _check_invariant(in_dir, out_dir, job) == {"pending": 0, "done": 6, "failed": 1, "files": 7}


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
