"""Many files: planning outputs, protecting one planned file, and running them on an engine."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from .detect import FaceDetector
from .engines import get_engine
from .errors import InputError, UnerkanntError, UsageError
from .media import Format, by_extension, by_name, identify, written_as
from .options import ProtectOptions
from .pipeline import build_detector, build_verifier, failure, protect_file
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


def detectors_for(
    options: ProtectOptions, detector: FaceDetector | None = None
) -> tuple[FaceDetector, FaceDetector | None]:
    """The detector and verifier to protect with: ``detector`` (it then also verifies) or those of ``options``."""
    if detector is not None:
        return detector, None
    return build_detector(options), build_verifier(options)


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
    """Protect every job on the engine called ``engine``; results in the order of ``jobs``.

    ``"local"`` (:class:`unerkannt.engines.local.LocalEngine`) uses ``workers`` processes
    (``0``: one per core); with one worker, or a ``detector`` given (tests, fakes),
    everything runs in this process and ``frame_progress`` follows the frames of videos.
    ``"ray"`` (:class:`unerkannt.engines.ray.RayEngine`) uses ``workers`` Ray actors on a
    private local Ray instance, or on the cluster at ``ray_address``; a given ``detector``
    is shipped to the actors. See :class:`unerkannt.engines.Engine` for the contract.

    Raises
    ------
    UsageError
        An unknown ``engine``, ``ray_address`` without ``engine="ray"``, or a failure of
        the engine as a whole (see :meth:`unerkannt.engines.ray.RayEngine.run`).
    """
    return get_engine(engine, ray_address=ray_address).run(
        jobs,
        options=options,
        workers=workers,
        overwrite=overwrite,
        detector=detector,
        progress=progress,
        frame_progress=frame_progress,
    )
