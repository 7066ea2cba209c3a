"""The protection pipeline for one image: detect, anonymize, verify, encode, write."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .anonymize import get_method
from .auditing.guard import reprotect_matching
from .consent.rule import consented_faces
from .detect import FaceDetector, MultiDetector, load_detector
from .detect.search import Pass, plain, search_faces, searching
from .errors import AnonymizationError, InputError, UnerkanntError, UsageError
from .faces import COVERED, Face, covered
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
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError("expected an (H, W, 3) uint8 RGB array")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError("the image has no pixels")
    method = get_method(options.method)
    out = np.array(image, copy=True)
    records: list[FaceRecord] = []
    detected, passes = search_faces(detector, image)
    visible = consented_faces(image, detected, options.consent) if options.consent else {}
    faces = detected + [Face(box=b, score=1.0, detector="manual") for b in options.manual_boxes]
    for i, face in enumerate(faces):
        if i in visible:
            x1, y1, x2, y2 = (round(v) for v in face.box)
            region = (x1, y1, x2, y2)
            records.append(FaceRecord(face=face, action="visible", region=region, frame=frame, person=visible[i]))
            continue
        records.append(_apply(method, out, face, options, frame, "detect", source=image))
    warnings: list[str] = []
    if not options.detectors:
        # A deliberate choice (the web page after its user left faces visible), never silent.
        warnings.append(f"no detector ran: only the {len(options.manual_boxes)} given box(es) were anonymized")
    if options.verify:
        for face in (verifier or detector).detect(out):
            if covered(face.box, (r.region for r in records)) >= COVERED:
                if method.weak:
                    warnings.append(f"a face is still detectable after {method.name} at {face.to_json()['box']}")
                continue
            records.append(_apply(method, out, face, options, frame, "verify", source=image))
    if options.audit:
        records = reprotect_matching(image, out, records, enlarge=options.enlarge, warnings=warnings)
    passes = [replace(p, frame=frame) for p in passes] if frame else passes
    return ProtectedImage(image=out, faces=records, warnings=warnings, passes=passes)


def _apply(  # type: ignore[no-untyped-def]
    method, out: np.ndarray, face: Face, options: ProtectOptions, frame: int, stage: str, *, source: np.ndarray
) -> FaceRecord:
    try:
        region = method.apply(out, face.box, enlarge=options.enlarge, source=source)
    except Exception as exc:
        raise AnonymizationError(f"cannot apply {method.name} to the face at {face.box}: {exc}") from exc
    return FaceRecord(face=face, action=method.name, region=region, frame=frame, stage=stage)


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
    picture = read_image(source, max_pixels=options.max_pixels)
    fmt = by_name(options.format) if options.format else picture.format
    records: list[FaceRecord] = []
    passes: list[Pass] = []
    warnings = list(picture.warnings)
    for i, frame in enumerate(picture.frames):
        result = protect_array(frame, options=options, detector=detector, verifier=verifier, frame=i)
        picture.frames[i] = result.image
        records.extend(result.faces)
        passes.extend(result.passes)
        warnings.extend(result.warnings)
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
