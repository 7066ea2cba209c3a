"""The local engine (``--engine local``, the default): this process, or a process pool on this machine."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from ..batch import FrameProgress, Job, detectors_for, run_one
from ..detect import FaceDetector
from ..errors import OutputError, UnerkanntError
from ..options import ProtectOptions
from ..pipeline import failure, options_json
from ..results import FileResult, Report
from .worker import Owner, die_with_parent, protect_for

# Each worker process builds its detectors once, at start.
_worker: tuple[ProtectOptions, FaceDetector, FaceDetector | None, Owner] | None = None


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _init_worker(options: ProtectOptions, owner: Owner) -> None:
    global _worker
    die_with_parent(owner)
    # When one worker dies, the pool stops the others with SIGTERM; as an exception it
    # unwinds their work, so that a file being written leaves no temporary file behind.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _worker = (options, *detectors_for(options), owner)


def _run_job(job: Job, overwrite: bool) -> FileResult:
    if _worker is None:
        raise UnerkanntError("worker process was not initialised")
    options, detector, verifier, owner = _worker
    return protect_for(owner, job, options=options, detector=detector, verifier=verifier, overwrite=overwrite)


class LocalEngine:
    """Protects the jobs here: in this process, or on a pool of spawned worker processes.

    With one worker, or a ``detector`` given (tests, fakes), everything runs in this
    process and ``frame_progress`` follows the frames of videos. Otherwise each of
    ``workers`` processes (``0``: one per core, at most 8) builds the detectors once and
    takes one file at a time. A worker that dies (a crash in a native decoder, the OOM
    killer) breaks the pool; the files it took down are protected again one at a time in
    a fresh process, so that only the file that kills its process fails. Workers die
    with this process and publish no output once it is gone (:mod:`.worker`).
    """

    def run(
        self,
        jobs: list[Job],
        *,
        options: ProtectOptions,
        workers: int = 0,
        overwrite: bool = False,
        detector: FaceDetector | None = None,
        progress: Callable[[FileResult], None] | None = None,
        frame_progress: FrameProgress | None = None,
    ) -> Report:
        start = time.perf_counter()
        workers = workers or min(len(os.sched_getaffinity(0)), 8)
        workers = max(1, min(workers, len(jobs)))
        if detector is not None or workers == 1:
            results = _here(jobs, options, detector, overwrite, progress, frame_progress)
        else:
            results = _pool(jobs, options, workers, overwrite, progress)
        report = Report(files=results, options=options_json(options))
        report.seconds = time.perf_counter() - start
        return report


def _here(
    jobs: list[Job],
    options: ProtectOptions,
    detector: FaceDetector | None,
    overwrite: bool,
    progress: Callable[[FileResult], None] | None,
    frame_progress: FrameProgress | None,
) -> list[FileResult]:
    detector, verifier = detectors_for(options, detector)
    results = []
    for job in jobs:
        result = run_one(
            job,
            options=options,
            detector=detector,
            verifier=verifier,
            overwrite=overwrite,
            frame_progress=frame_progress,
        )
        results.append(result)
        if progress:
            progress(result)
    return results


def _pool(
    jobs: list[Job],
    options: ProtectOptions,
    workers: int,
    overwrite: bool,
    progress: Callable[[FileResult], None] | None,
) -> list[FileResult]:
    results: list[FileResult | None] = [None] * len(jobs)
    # One inference thread per process: the processes share the cores.
    worker_options = options.evolve(threads=1) if options.threads == 0 else options
    initargs = (worker_options, Owner.this_process(parent=True))
    # spawn, not fork: a parent that already ran a model holds inference thread
    # pools that a forked child would inherit locked. Scripts calling this need
    # the usual ``if __name__ == "__main__":`` guard.
    ctx = get_context("spawn")
    broken: list[int] = []
    # Outputs present before the run, to tell them from ones a stopped worker finished.
    present = {i for i, job in enumerate(jobs) if job.output is not None and job.output.exists()}
    # The pool starts its processes from this thread (in submit), which lives as long as
    # the run: the kernel's parent-death signal is tied to the thread that started a process.
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=initargs) as pool:
        futures: dict[Future[FileResult], int] = {
            pool.submit(_run_job, job, overwrite): i for i, job in enumerate(jobs)
        }
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except BrokenProcessPool:
                broken.append(i)
                continue
            if progress:
                progress(results[i])  # type: ignore[arg-type]
    # A dead worker breaks the whole pool; rerun what it took down one file at a
    # time, so that only the file that kills its process fails.
    solo: ProcessPoolExecutor | None = None
    try:
        for i in sorted(broken):
            if solo is None:
                solo = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker, initargs=initargs)
            try:
                target = jobs[i].output
                ours = i not in present and target is not None and target.exists()
                results[i] = solo.submit(_run_job, jobs[i], overwrite or ours).result()
            except BrokenProcessPool as exc:
                results[i] = failure(jobs[i].source, OutputError(f"a worker process died on this file ({exc})"))
                solo.shutdown()
                solo = None
            if progress:
                progress(results[i])  # type: ignore[arg-type]
    finally:
        if solo is not None:
            solo.shutdown()
    return [r for r in results if r is not None]
