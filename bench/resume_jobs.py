"""Time to resume a job killed at 50%, against a full run.

Copies one kit image N times, runs ``unerkannt protect --job`` to the end (timed), then
runs it again on a fresh output, kills it with SIGKILL once half the files are done
(polled from the journal) and times ``--resume``.

    python bench/resume_jobs.py [--copies 400] [--workers 2] [--profile fast] [--engine ray]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parents[2] / "shared" / "bench" / "detect" / "images"


def _done(job: Path) -> int:
    try:
        with sqlite3.connect(f"file:{job}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM files WHERE state != 'pending'").fetchone()[0])
    except sqlite3.Error:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument("--image", default=str(KIT / "maksssksksss0.jpg"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="unerkannt-resume-"))
    try:
        src = tmp / "in"
        src.mkdir()
        for i in range(args.copies):
            shutil.copyfile(args.image, src / f"img{i:05d}.jpg")
        exe = [sys.executable, "-m", "unerkannt", "protect", str(src)]
        common = ["--profile", args.profile, "--workers", str(args.workers), "--engine", args.engine, "-q"]

        start = time.perf_counter()
        subprocess.run([*exe, "-o", str(tmp / "full"), "--job", str(tmp / "full.db"), *common], check=False)
        full = time.perf_counter() - start

        job = tmp / "killed.db"
        start = time.perf_counter()
        proc = subprocess.Popen([*exe, "-o", str(tmp / "out"), "--job", str(job), *common])
        while proc.poll() is None and _done(job) < args.copies // 2:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        until_kill = time.perf_counter() - start
        at_kill = _done(job)

        start = time.perf_counter()
        subprocess.run([*exe, "-o", str(tmp / "out"), "--job", str(job), "--resume", *common], check=False)
        resume = time.perf_counter() - start

        start = time.perf_counter()
        subprocess.run([*exe, "-o", str(tmp / "out"), "--job", str(job), "--resume", *common], check=False)
        nothing_left = time.perf_counter() - start

        with sqlite3.connect(job) as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall())
        outputs = sum(1 for p in (tmp / "out").iterdir() if p.is_file())
        print(
            json.dumps(
                {
                    "copies": args.copies,
                    "workers": args.workers,
                    "engine": args.engine,
                    "profile": args.profile,
                    "full_run_s": round(full, 2),
                    "killed_after_s": round(until_kill, 2),
                    "recorded_at_kill": at_kill,
                    "resume_s": round(resume, 2),
                    "resume_with_nothing_left_s": round(nothing_left, 2),
                    "final_states": states,
                    "outputs": outputs,
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
