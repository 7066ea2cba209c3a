"""The protection pipeline for one image: detect, anonymize, verify, encode, write."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .core import Found, FrameCore, FrameResult, check_frame
from .detect import FaceDetector, MultiDetector, load_detector
from .detect.search import Pass, plain, search_faces, searching
from .errors import UnerkanntError, UsageError
from .media import by_name, encode, read_image, write_atomic
from .media.video import is_video
from .options import ProtectOptions
from .results import FaceRecord, FileResult, ProtectedImage

log = logging.getLogger(__name__)


def build_detector(options: ProtectOptions) -> FaceDetector:
    """The detector(s) ``options`` ask for, searching photos as the profile says
    (:mod:`unerkannt.detect.search`); models load on first use."""
    detectors = [
        load_detector(
            name, threshold=options.detection_threshold, scales=options.detection_scales, threads=options.threads
        )
        for name in options.detectors
    ]
    return searching(detectors[0] if len(detectors) == 1 else MultiDetector(detectors), options.profile)


def build_verifier(options: ProtectOptions) -> FaceDetector | None:
    """The detector that re-checks protected pixels, or ``None`` without ``verify``."""
    if not options.verify:
        return None
    return load_detector(options.verifier, threshold=options.verify_threshold, scales=(1.0,), threads=options.threads)


def protect_array(
    image: np.ndarray,
    *,
    options: ProtectOptions,
    detector: FaceDetector,
    verifier: FaceDetector | None = None,
    frame: int = 0,
) -> ProtectedImage:
    """Anonymize every face in one RGB image.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        RGB pixels; not modified.
    options : ProtectOptions
    detector : FaceDetector
    verifier : FaceDetector, optional
        Re-checks the anonymized pixels when ``options.verify``; ``detector`` is
        used when none is given.
    frame : int
        Frame index recorded in the face records.

    Returns
    -------
    ProtectedImage
        A new array, a record per face and the detector passes that ran.

    Raises
    ------
    InputError
        ``image`` is not an ``(H, W, 3)`` uint8 array with at least one pixel.
    DetectionError
        The detector failed.
    AnonymizationError
        A face could not be anonymized (with ``options.audit``: a recognizer still
        matches a face after it was filled).
    RecognitionError, ConsentError
        With ``options.consent`` or ``options.audit``: a recognizer or the registry failed.
    """
    core = FrameCore(options)
    result, passes = _protect_frame(core, image, detector=detector, verifier=verifier, frame=frame)
    return ProtectedImage(image=result.image, faces=result.records, warnings=core.warnings, passes=passes)


def protect_frames(
    frames: list[np.ndarray],
    *,
    options: ProtectOptions,
    detector: FaceDetector,
    verifier: FaceDetector | None = None,
    stop: Callable[[], None] | None = None,
) -> tuple[list[FaceRecord], list[Pass], list[str]]:
    """Protect every frame of a picture in place (``frames[i]`` is replaced).

    One :class:`~unerkannt.core.FrameCore` serves all frames, so that each warning is
    given once per file. ``stop()`` is called before each frame and may raise to end
    the work (the service's timeout).

    Returns
    -------
    records, passes, warnings
        The faces handled, the detector passes that ran (each with its frame) and
        every warning once.
    """
    core = FrameCore(options)
    records: list[FaceRecord] = []
    passes: list[Pass] = []
    for i, frame in enumerate(frames):
        if stop is not None:
            stop()
        result, searched = _protect_frame(core, frame, detector=detector, verifier=verifier, frame=i)
        frames[i] = result.image
        records.extend(result.records)
        passes.extend(searched)
    return records, passes, core.warnings


def _protect_frame(
    core: FrameCore, image: np.ndarray, *, detector: FaceDetector, verifier: FaceDetector | None, frame: int
) -> tuple[FrameResult, list[Pass]]:
    check_frame(image)
    # ``detectors=()``: the caller chose the faces (manual boxes); no detector runs.
    found, passes = search_faces(detector, image) if core.options.detectors else ([], [])
    result = core.protect(
        image, found=[Found(box=f.box, face=f) for f in found], verifier=verifier or detector, frame=frame
    )
    return result, [replace(p, frame=frame) for p in passes] if frame else passes


def protect_file(
    source: str | Path,
    output: str | Path,
    *,
    options: ProtectOptions,
    detector: FaceDetector,
    verifier: FaceDetector | None = None,
    overwrite: bool = False,
    frame_progress: Callable[[Path, int, int], None] | None = None,
) -> FileResult:
    """Protect the image file ``source`` into ``output``.

    Every frame is protected; the output is encoded from pixels in the input's
    format (or ``options.format``), checked for metadata and written atomically.
    ``source`` is only read. Videos (by name ending) go to
    :func:`unerkannt.videopipeline.protect_video`, which ``frame_progress`` follows.

    Returns
    -------
    FileResult
        With ``status="protected"``.

    Raises
    ------
    UnerkanntError
        Any failure; nothing was written.
    """
    start = time.perf_counter()
    source, output = Path(source), Path(output)
    if is_video(source):
        from .videopipeline import protect_video

        def progress(done: int, total: int) -> None:
            if frame_progress is not None:
                frame_progress(source, done, total)

        return protect_video(
            source,
            output,
            options=options,
            detector=plain(detector),
            verifier=verifier,
            overwrite=overwrite,
            progress=progress,
        )
    if os.path.realpath(source) == os.path.realpath(output):
        raise UsageError("the output would replace the input file; originals are never modified")
    picture = read_image(source, max_pixels=options.max_pixels, max_frames=options.max_frames)
    fmt = by_name(options.format) if options.format else picture.format
    if output.suffix.lower() not in fmt.extensions:
        # Content and name agree in every output (batch plans such names; callers of the API may not).
        raise UsageError(
            f"the output would be {fmt.name.upper()} but its name ends in {output.suffix or 'nothing'}; "
            f"name it *{fmt.extensions[0]} or choose another format"
        )
    records, passes, found = protect_frames(picture.frames, options=options, detector=detector, verifier=verifier)
    warnings = [*picture.warnings, *found]
    data, notes = encode(picture, fmt, quality=options.quality, keep_icc=options.keep_icc)
    warnings.extend(notes)
    write_atomic(data, output, overwrite=overwrite)
    log.info("protected %d face(s) in %.2fs", len(records), time.perf_counter() - start)
    return FileResult(
        input=str(source),
        output=str(output),
        status="protected",
        faces=records,
        warnings=warnings,
        seconds=time.perf_counter() - start,
        passes=passes,
    )


def failure(source: str | Path, exc: UnerkanntError, seconds: float = 0.0) -> FileResult:
    """The result recorded for a file that could not be protected."""
    return FileResult(
        input=str(source),
        output=None,
        status="failed",
        error={"type": exc.code, "message": str(exc)},
        seconds=seconds,
    )


def options_json(options: ProtectOptions) -> dict[str, object]:
    """The options as written into reports (manual boxes left out)."""
    data = asdict(options)
    data.pop("manual_boxes", None)
    data["scales"] = list(options.detection_scales)
    data["threshold"] = options.detection_threshold
    data["detectors"] = list(options.detectors)
    return data
