"""Many files: planning outputs, protecting one planned file, and running them on an engine."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .detect import FaceDetector
from .engines import get_engine
from .errors import InputError, UnerkanntError, UsageError
from .media import by_name, is_candidate
from .options import ProtectOptions
from .pipeline import build_detector, build_verifier, failure, protect_file
from .results import FileResult, Report

log = logging.getLogger(__name__)

#: ``frame_progress(path, frames_done, frames_total)`` for videos (total ``0`` when unknown).
FrameProgress = Callable[[Path, int, int], None]


@dataclass(frozen=True)
class Job:
    """One input file and where its protected copy goes (``None``: refused up front)."""

    source: Path
    output: Path | None
    problem: str | None = None


def plan(
    inputs: Iterable[str | Path], out_dir: str | Path, *, options: ProtectOptions, allow_inside_input: bool = False
) -> list[Job]:
    """Pair every input file with its output path.

    Folders are searched recursively for files with image name endings and their
    tree is mirrored below ``out_dir``; files named directly are always tried.

    Raises
    ------
    UsageError
        An input does not exist, or ``out_dir`` lies inside an input folder and
        ``allow_inside_input`` is false.
    """
    out_dir = Path(out_dir)
    out_real = Path(os.path.realpath(out_dir))
    fmt = by_name(options.format) if options.format else None
    jobs: list[Job] = []
    for raw in inputs:
        src = Path(raw)
        if not (src.exists() or src.is_symlink()):
            raise UsageError(f"input not found: {src}")
        if src.is_dir():
            root = Path(os.path.realpath(src))
            if (out_real == root or root in out_real.parents) and not allow_inside_input:
                raise UsageError(
                    "the output folder is inside the input folder; choose another or pass --allow-inside-input"
                )
            for path in sorted(src.rglob("*")):
                if path.is_dir() or not is_candidate(path):
                    continue
                real = Path(os.path.realpath(path))
                if out_real == real or out_real in real.parents:
                    continue
                if path.is_symlink() and root not in real.parents:
                    jobs.append(Job(path, None, "a symbolic link pointing outside the input folder"))
                    continue
                jobs.append(Job(path, _target(out_dir / path.relative_to(src), fmt)))
        else:
            jobs.append(Job(src, _target(out_dir / src.name, fmt)))
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


def _target(path: Path, fmt) -> Path:  # type: ignore[no-untyped-def]
    from .media.video import is_video

    # --format names image formats; a video keeps its container.
    return path.with_suffix(fmt.extensions[0]) if fmt is not None and not is_video(path) else path


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
