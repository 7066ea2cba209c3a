"""Time to resume a job killed at 50%, against a full run.

Copies one kit image N times, runs ``unerkannt protect --job`` to the end (timed), then
runs it again on a fresh output, kills it with SIGKILL once half the files are done
(polled from the journal) and starts ``--resume`` at once (timed), as a user would.
Wall seconds and the CPU seconds (user+sys) of each command are printed, with what the
killed run left: its processes still alive after the resume, and files the resume
failed (an output that appeared under it would fail as "exists").

``--kill-when starting`` kills the run instead as soon as a pool worker is loading its
libraries (before it can ask the kernel to die with its parent), the moment that used to
leave orphaned workers behind.

    python bench/resume_jobs.py [--copies 400] [--workers 2] [--profile fast] [--engine ray]
                                [--kill-when half|starting]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unerkannt.engines import ENGINES

KIT = Path(__file__).resolve().parents[2] / "shared" / "bench" / "detect" / "images"


def _done(job: Path) -> int:
    try:
        with sqlite3.connect(f"file:{job}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM files WHERE state != 'pending'").fetchone()[0])
    except sqlite3.Error:
        return 0


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            for thread in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{thread}/children") as handle:
                    children = {int(c) for c in handle.read().split()} - found
                found |= children
                todo += children
        except OSError:
            continue
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _importing(pid: int) -> bool:
    """A spawned pool worker that is loading its libraries."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline, open(f"/proc/{pid}/maps", "rb") as maps:
            return b"spawn_main" in cmdline.read() and b"numpy" in maps.read()
    except OSError:
        return False


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user+sys, the command and the processes it waited for) seconds of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--engine", choices=ENGINES, default="local")
    parser.add_argument("--image", default=str(KIT / "maksssksksss0.jpg"))
    parser.add_argument("--kill-when", choices=("half", "starting"), default="half")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="unerkannt-resume-"))
    try:
        src = tmp / "in"
        src.mkdir()
        for i in range(args.copies):
            shutil.copyfile(args.image, src / f"img{i:05d}.jpg")
        exe = [sys.executable, "-m", "unerkannt", "protect", str(src)]
        common = ["--profile", args.profile, "--workers", str(args.workers), "--engine", args.engine, "-q"]

        full, full_cpu = _timed([*exe, "-o", str(tmp / "full"), "--job", str(tmp / "full.db"), *common])

        job = tmp / "killed.db"
        start = time.perf_counter()
        proc = subprocess.Popen([*exe, "-o", str(tmp / "out"), "--job", str(job), *common])
        seen: set[int] = set()
        while proc.poll() is None:
            seen |= _descendants(proc.pid)
            if args.kill_when == "half" and _done(job) >= args.copies // 2:
                break
            if args.kill_when == "starting" and any(_importing(p) for p in seen):
                break
            time.sleep(0.05 if args.kill_when == "half" else 0.005)
        seen |= _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        until_kill = time.perf_counter() - start
        at_kill = _done(job)

        resume, resume_cpu = _timed([*exe, "-o", str(tmp / "out"), "--job", str(job), "--resume", *common])
        left_alive = sorted(p for p in seen if _running(p))
        for pid in left_alive:  # orphans of the killed run (this script started them)
            os.kill(pid, signal.SIGKILL)
        nothing_left, _ = _timed([*exe, "-o", str(tmp / "out"), "--job", str(job), "--resume", *common])

        with sqlite3.connect(job) as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall())
            errors = [row[0] for row in db.execute("SELECT error FROM files WHERE state = 'failed'")]
        outputs = sum(1 for p in (tmp / "out").iterdir() if p.is_file())
        print(
            json.dumps(
                {
                    "copies": args.copies,
                    "workers": args.workers,
                    "engine": args.engine,
                    "profile": args.profile,
                    "kill_when": args.kill_when,
                    "full_run_s": round(full, 2),
                    "full_run_cpu_s": round(full_cpu, 2),
                    "killed_after_s": round(until_kill, 2),
                    "recorded_at_kill": at_kill,
                    "resume_s": round(resume, 2),
                    "resume_cpu_s": round(resume_cpu, 2),
                    "resume_with_nothing_left_s": round(nothing_left, 2),
                    "final_states": states,
                    "failures": errors,
                    "outputs": outputs,
                    "killed_run_processes_alive_after_resume": len(left_alive),
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
