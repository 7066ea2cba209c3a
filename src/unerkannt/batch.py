"""Many files: planning outputs, a process pool, and the run report."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

from .detect import FaceDetector
from .errors import InputError, OutputError, UnerkanntError, UsageError
from .media import Format, by_extension, by_name, identify, written_as
from .options import ProtectOptions
from .pipeline import build_detector, build_verifier, failure, options_json, protect_file
from .results import FileResult, Report

log = logging.getLogger(__name__)

#: ``frame_progress(path, frames_done, frames_total)`` for videos (total ``0`` when unknown).
FrameProgress = Callable[[Path, int, int], None]


@dataclass(frozen=True)
class Job:
    """One input file and where its protected copy goes.

    ``output`` is ``None`` for a file that is not protected: refused up front
    (``problem`` says why; it fails) or, with ``skipped``, left alone because it is
    not a photo or video, or hidden (``problem`` says which).
    """

    source: Path
    output: Path | None
    problem: str | None = None
    skipped: bool = False


def plan(
    inputs: Iterable[str | Path], out_dir: str | Path, *, options: ProtectOptions, allow_inside_input: bool = False
) -> list[Job]:
    """Pair every input file with its output path.

    Folders are searched recursively and their tree is mirrored below ``out_dir``.
    Every file in them is accounted for, by its content first:

    - content in an image format or video container is a photo or video, whatever
      its name (a JPEG named ``.txt`` or without an ending is protected, not skipped);
    - otherwise a photo or video name ending makes it one, and it is tried (a text
      named ``.jpg`` fails with the reason); so does an image format unerkannt does
      not read (Photoshop, JPEG 2000, ...): such a file may show faces, so it fails
      with the reason rather than being passed over;
    - otherwise it is skipped as not a photo or video, and so are hidden files and
      folders (names starting with ``.``; hidden folders are not searched), symbolic
      links to folders and anything but regular files;
    - a symbolic link to a file outside the input folder is refused (it fails).

    Files named directly are always tried. The name of an output always ends as the
    format written (``options.format``, else the content's; camera raw becomes JPEG):
    ``IMG_1.CR2`` becomes ``IMG_1.jpg``, a BigTIFF ``scan.btf`` becomes ``scan.tif``.
    Where two files would become one name that way (``IMG_1.CR2`` beside
    ``IMG_1.JPG``), the renamed one keeps its whole name: ``IMG_1.CR2.jpg``.

    Raises
    ------
    UsageError
        An input does not exist, or ``out_dir`` lies inside an input folder and
        ``allow_inside_input`` is false.
    """
    out_dir = Path(out_dir)
    out_real = Path(os.path.realpath(out_dir))
    fmt = by_name(options.format) if options.format else None
    planned: list[tuple[Job, Path | None]] = []
    for raw in inputs:
        src = Path(raw)
        if not (src.exists() or src.is_symlink()):
            raise UsageError(f"input not found: {src}")
        if not src.is_dir():
            planned.append(_planned(src, out_dir / src.name, fmt, named=True))
            continue
        root = Path(os.path.realpath(src))
        if (out_real == root or root in out_real.parents) and not allow_inside_input:
            raise UsageError(
                "the output folder is inside the input folder; choose another or pass --allow-inside-input"
            )
        for path, reason, skipped in _walk(src, out_real):
            if reason is not None:
                planned.append((Job(path, None, reason, skipped=skipped), None))
                continue
            real = Path(os.path.realpath(path))
            if out_real == real or out_real in real.parents:
                continue  # an output of ours, inside the input folder on request
            if path.is_symlink() and root not in real.parents:
                planned.append((Job(path, None, "a symbolic link pointing outside the input folder"), None))
                continue
            planned.append(_planned(path, out_dir / path.relative_to(src), fmt, named=False))
    return _unique(planned)


def _walk(src: Path, out_real: Path) -> list[tuple[Path, str | None, bool]]:
    """Every file below ``src`` in path order: ``(path, reason, skipped)``.

    ``reason`` is ``None`` for a file to look at, else why it is not: skipped unread
    (``skipped``), or failed (a folder that cannot be read, whose files are unknown).
    """
    found: list[tuple[Path, str | None, bool]] = []

    def unreadable(exc: OSError) -> None:
        found.append((Path(exc.filename), f"a folder that cannot be read ({exc.strerror or exc})", False))

    for top, dirs, files in os.walk(src, onerror=unreadable):
        base = Path(top)
        for name in list(dirs):
            path = base / name
            if Path(os.path.realpath(path)) == out_real:
                dirs.remove(name)
            elif name.startswith("."):
                found.append((path, "a hidden folder (not searched)", True))
                dirs.remove(name)
            elif path.is_symlink():
                found.append((path, "a symbolic link to a folder (not followed)", True))
        for name in files:
            found.append((base / name, "a hidden file" if name.startswith(".") else None, True))
    return sorted(found, key=lambda item: item[0])


def _planned(path: Path, target: Path, fmt: Format | None, *, named: bool) -> tuple[Job, Path | None]:
    """The job for one file, and the name it takes when its natural one is taken."""
    from .media.formats import HEAD, foreign
    from .media.video import container, is_video

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            if named:
                return Job(path, target), None
            return Job(path, None, "not a regular file", skipped=True), None
        image = identify(path)
        with open(path, "rb") as handle:
            head = handle.read(HEAD)
    except OSError as exc:
        return Job(path, None, f"the file cannot be read ({exc.strerror or exc})"), None
    if image is not None:
        if is_video(path):
            return Job(path, None, f"a {image.name} image named like a video ({path.suffix})"), None
        return _renamed(path, target, fmt or written_as(image))
    video = container(head)
    if video is not None:
        if not is_video(path):
            return Job(path, None, f"a video ({video[1:]}) whose name does not end like one; name it *{video}"), None
        return Job(path, target), None
    named_as = by_extension(path)
    if named_as is not None:
        return _renamed(path, target, fmt or written_as(named_as))
    if is_video(path) or named or foreign(head, path.suffix) is not None:
        return Job(path, target), None  # tried: it fails with the reason (another image format, ...)
    return Job(path, None, "not a photo or video", skipped=True), None


def _renamed(path: Path, target: Path, written: Format) -> tuple[Job, Path | None]:
    """``target`` with the name ending of the format written, and the name to fall back to."""
    if target.name.lower().endswith(written.extensions):
        return Job(path, target), None
    ending = written.extensions[0]
    whole = target.with_name(target.name + ending)
    if by_extension(target) is None:
        return Job(path, whole), None  # "notes.txt" holding a JPEG: notes.txt.jpg
    return Job(path, target.with_suffix(ending)), whole


def _unique(planned: list[tuple[Job, Path | None]]) -> list[Job]:
    """Refuse outputs that would replace an input or another output; renamed files step aside first.

    Names that differ only in case count as one there: they are one file on the file
    systems of memory cards, macOS and Windows.
    """

    def folded(path: Path) -> str:
        return os.path.realpath(path).casefold()

    taken = Counter(folded(job.output) for job, _ in planned if job.output is not None)
    jobs = [
        replace(job, output=whole)
        if job.output is not None and whole is not None and taken[folded(job.output)] > 1
        else job
        for job, whole in planned
    ]
    seen: dict[str, Path] = {}
    sources = {os.path.realpath(j.source) for j in jobs}
    checked = []
    for job in jobs:
        if job.output is None:
            checked.append(job)
            continue
        key = os.path.realpath(job.output)
        if key in sources:
            checked.append(Job(job.source, None, "the output would replace an input file"))
        elif key in seen:
            checked.append(Job(job.source, None, f"another input is also written to {job.output}"))
        else:
            seen[key] = job.source
            checked.append(job)
    return checked


#: Where the files of a run are protected: this machine's process pool, or Ray (``unerkannt[ray]``).
ENGINES = ("local", "ray")


def check_engine(engine: str, ray_address: str | None = None) -> None:
    """Raise :class:`UsageError` for an unknown engine or a Ray address without the Ray engine."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if ray_address is not None and engine != "ray":
        raise UsageError("--ray-address needs --engine ray")


# Each worker process builds its detectors once, at start.
_worker: tuple[ProtectOptions, FaceDetector, FaceDetector | None] | None = None


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux; elsewhere nothing).

    A worker orphaned by ``kill -9`` of its run could otherwise still write its file
    while a resumed run protects the same one.
    """
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _init_worker(options: ProtectOptions) -> None:
    global _worker
    die_with_parent()
    # When one worker dies, the pool stops the others with SIGTERM; as an exception it
    # unwinds their work, so that a file being written leaves no temporary file behind.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _worker = (options, build_detector(options), build_verifier(options))


def _run_job(job: Job, overwrite: bool) -> FileResult:
    if _worker is None:
        raise UnerkanntError("worker process was not initialised")
    options, detector, verifier = _worker
    return run_one(job, options=options, detector=detector, verifier=verifier, overwrite=overwrite)


def run_one(
    job: Job,
    *,
    options: ProtectOptions,
    detector: FaceDetector,
    verifier: FaceDetector | None = None,
    overwrite: bool = False,
    frame_progress: FrameProgress | None = None,
) -> FileResult:
    """Protect one planned file; every failure becomes a failed result, never an exception.

    ``frame_progress(path, frames_done, frames_total)`` follows the frames of a video.
    """
    start = time.perf_counter()
    if job.skipped:
        return FileResult.skip(job.source, job.problem or "not a photo or video")
    if job.output is None:
        return failure(job.source, UsageError(job.problem or "refused"))
    try:
        return protect_file(
            job.source,
            job.output,
            options=options,
            detector=detector,
            verifier=verifier,
            overwrite=overwrite,
            frame_progress=frame_progress,
        )
    except UnerkanntError as exc:
        return failure(job.source, exc, time.perf_counter() - start)
    except MemoryError:
        return failure(job.source, InputError("not enough memory to protect this file"), time.perf_counter() - start)
    except Exception as exc:  # fail closed on anything unforeseen, and say what it was
        log.exception("unexpected error")
        err = UnerkanntError(f"internal error ({type(exc).__name__}: {exc})")
        err.code = "internal"
        return failure(job.source, err, time.perf_counter() - start)


def run(
    jobs: list[Job],
    *,
    options: ProtectOptions,
    workers: int = 0,
    overwrite: bool = False,
    detector: FaceDetector | None = None,
    progress: Callable[[FileResult], None] | None = None,
    frame_progress: FrameProgress | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> Report:
    """Protect every job, on ``workers`` processes (``0``: one per core).

    With one worker, or a ``detector`` given (tests, fakes), everything runs in
    this process. Results come back in the order of ``jobs``. ``frame_progress``
    follows the frames of videos protected in this process.

    ``engine="ray"`` runs the same per-file pipeline on a Ray actor pool instead
    (:func:`unerkannt.rayengine.run`): ``workers`` actors on a private local Ray
    instance, or on the cluster at ``ray_address``; a given ``detector`` is shipped
    to the actors, and ``frame_progress`` is not called.

    Raises
    ------
    UsageError
        An unknown ``engine``, ``ray_address`` without ``engine="ray"``, or a failure of
        the Ray engine as a whole (see :func:`unerkannt.rayengine.run`).
    """
    check_engine(engine, ray_address)
    if engine == "ray":
        from . import rayengine

        return rayengine.run(
            jobs,
            options=options,
            workers=workers,
            overwrite=overwrite,
            progress=progress,
            address=ray_address,
            detector=detector,
        )
    start = time.perf_counter()
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    workers = max(1, min(workers, len(jobs)))
    results: list[FileResult | None] = [None] * len(jobs)
    if detector is not None or workers == 1:
        verifier = None  # a given detector also verifies
        if detector is None:
            detector, verifier = build_detector(options), build_verifier(options)
        for i, job in enumerate(jobs):
            results[i] = run_one(
                job,
                options=options,
                detector=detector,
                verifier=verifier,
                overwrite=overwrite,
                frame_progress=frame_progress,
            )
            if progress:
                progress(results[i])  # type: ignore[arg-type]
    else:
        # One inference thread per process: the processes share the cores.
        worker_options = options.evolve(threads=1) if options.threads == 0 else options
        # spawn, not fork: a parent that already ran a model holds inference thread
        # pools that a forked child would inherit locked. Scripts calling this need
        # the usual ``if __name__ == "__main__":`` guard.
        ctx = get_context("spawn")
        broken: list[int] = []
        # Outputs present before the run, to tell them from ones a stopped worker finished.
        present = {i for i, job in enumerate(jobs) if job.output is not None and job.output.exists()}
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(worker_options,)) as pool:
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
                    solo = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_worker, initargs=(worker_options,))
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
    report = Report(files=[r for r in results if r is not None], options=options_json(options))
    report.seconds = time.perf_counter() - start
    return report
