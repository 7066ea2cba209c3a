"""The bounded worker pool and the two jobs it runs: protect and detect.

A request takes a slot before its body is read; when every worker is busy and
the queue is full it is answered 503 at once, so load cannot pile uploads up in
memory or on disk. The slot is given back, and the request's temporary folder
deleted, when the job ends, also when the client stopped waiting (timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..detect import FaceDetector, MultiDetector
from ..errors import UsageError
from ..media import by_name, encode, read_image
from ..options import ProtectOptions
from ..pipeline import build_detector, build_verifier, protect_frames
from .errors import ServiceError

log = logging.getLogger("unerkannt.service")

T = TypeVar("T")

#: Media types of the formats, for ``Content-Type``.
MEDIA_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "gif": "image/gif",
    "heif": "image/heif",
    "avif": "image/avif",
}

Box = tuple[float, float, float, float]


@dataclass(kw_only=True)
class Protected:
    """What a protect job returns: the new file and what was done."""

    data: bytes
    format: str
    size: tuple[int, int]
    faces: int
    verify_found: int
    warnings: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Detected:
    """What a detect job returns."""

    size: tuple[int, int]
    frames: int
    format: str
    faces: list[dict[str, Any]]


class Pool:
    """``workers`` threads and room for ``queue`` waiting requests.

    Parameters
    ----------
    detector : FaceDetector or None
        Used for every request (and for verification) when given, as in
        :func:`unerkannt.protect`; otherwise each worker thread builds and keeps the
        detectors the request's options name (OpenCV models are not shared between threads).
    """

    def __init__(
        self, *, workers: int, queue: int, timeout: float, retry_after: int, detector: FaceDetector | None
    ) -> None:
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._capacity = workers + queue
        self._busy = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.timeout = timeout
        self.retry_after = retry_after
        self.detector = detector

    @property
    def busy(self) -> int:
        return self._busy

    def acquire(self) -> None:
        """Take a slot, or raise the 503 that tells the client to come back."""
        with self._lock:
            if self._busy >= self._capacity:
                raise ServiceError(
                    503,
                    "busy",
                    "every worker is busy; try again shortly",
                    headers={"Retry-After": str(self.retry_after)},
                )
            self._busy += 1

    def release(self) -> None:
        with self._lock:
            self._busy -= 1

    async def run(self, job: Callable[..., T], *args: Any, cleanup: Callable[[], None]) -> T:
        """Run ``job(*args)`` on a worker; ``cleanup`` runs when it ends or never starts.

        The slot taken by :meth:`acquire` is released after ``cleanup``.
        """

        def done(_: Future[T] | None) -> None:
            try:
                cleanup()
            finally:
                self.release()

        try:
            with self._lock:
                if self._executor is None:  # started on first use, again after a shutdown
                    self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="unerkannt-worker")
                future = self._executor.submit(job, *args)
        except BaseException:
            done(None)
            raise
        # Registered before asyncio's own callback, so the temporary folder is gone
        # before the request handler resumes and answers.
        future.add_done_callback(done)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            log.warning("request timed out after %.0f s", self.timeout)
            raise ServiceError(
                503,
                "timeout",
                f"the image took longer than {self.timeout:g} s",
                headers={"Retry-After": str(self.retry_after)},
            ) from None

    def shutdown(self) -> None:
        """Stop the worker threads (queued jobs are cancelled, and cleaned up)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def detectors(self, options: ProtectOptions) -> tuple[FaceDetector, FaceDetector | None]:
        """The detector and verifier for ``options``, built once per worker thread."""
        if not options.detectors:
            verifier = (self.detector or self._cached(options, build_verifier)) if options.verify else None
            return MultiDetector([]), verifier
        if self.detector is not None:
            return self.detector, None
        detector = self._cached(options, build_detector)
        return detector, self._cached(options, build_verifier) if options.verify else None

    def cached_detector(self, names: tuple[str, ...], threshold: float) -> FaceDetector:
        """The detectors ``names`` at ``threshold`` (default scales), built once per worker thread."""
        detector: FaceDetector = self._cached(
            ProtectOptions(detectors=names, threshold=threshold, verify=False), build_detector
        )
        return detector

    def _cached(self, options: ProtectOptions, build: Callable[[ProtectOptions], Any]) -> Any:
        cache: dict[tuple[Any, ...], Any] = self._local.__dict__.setdefault("cache", {})
        if build is build_verifier:
            key: tuple[Any, ...] = ("verify", options.verifier, options.verify_threshold)
        else:
            key = ("detect", options.detectors, options.detection_threshold, options.detection_scales)
        if key not in cache:
            if len(cache) >= 8:  # a few option sets per thread; the models are small
                cache.clear()
            cache[key] = build(options)
        return cache[key]


def new_workdir(parent: str | None) -> Path:
    """A private temporary folder for one request."""
    return Path(tempfile.mkdtemp(prefix="unerkannt-", dir=parent))


def remove_workdir(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


def protect_job(pool: Pool, path: Path, options: ProtectOptions, boxes: tuple[Box, ...]) -> Protected:
    """Protect the image file at ``path``; the result stays in memory.

    ``boxes`` are faces named by the client: clipped to the image, refused (422)
    when one lies wholly outside it.
    """
    start = time.perf_counter()
    picture = read_image(path, max_pixels=options.max_pixels)
    width, height = picture.size
    options = options.evolve(manual_boxes=clip_boxes(boxes, width, height))
    fmt = by_name(options.format) if options.format else picture.format
    detector, verifier = pool.detectors(options)
    records, found = protect_frames(picture.frames, options=options, detector=detector, verifier=verifier)
    faces = sum(r.action != "visible" for r in records)
    verify_found = sum(r.stage == "verify" for r in records)
    warnings = [*picture.warnings, *found]
    data, notes = encode(picture, fmt, quality=options.quality, keep_icc=options.keep_icc)
    warnings.extend(notes)
    log.info(
        "protect: %dx%d px, %d frame(s), %d face(s) (%d by verification), %s, %d bytes out, %.3f s",
        width,
        height,
        len(picture.frames),
        faces,
        verify_found,
        options.method,
        len(data),
        time.perf_counter() - start,
    )
    return Protected(
        data=data, format=fmt.name, size=(width, height), faces=faces, verify_found=verify_found, warnings=warnings
    )


def detect_job(pool: Pool, path: Path, options: ProtectOptions) -> Detected:
    """The faces in every frame of the image file at ``path``."""
    start = time.perf_counter()
    picture = read_image(path, max_pixels=options.max_pixels)
    detector, _ = pool.detectors(options)
    faces: list[dict[str, Any]] = []
    for i, frame in enumerate(picture.frames):
        faces.extend(dict(face.to_json(), frame=i) for face in detector.detect(frame))
    width, height = picture.size
    log.info(
        "detect: %dx%d px, %d frame(s), %d face(s), %.3f s",
        width,
        height,
        len(picture.frames),
        len(faces),
        time.perf_counter() - start,
    )
    return Detected(size=(width, height), frames=len(picture.frames), format=picture.format.name, faces=faces)


#: Recognizer models are shared by the process and not known to be thread-safe: one audit at a time.
_AUDIT_LOCK = threading.Lock()


def audit_job(pool: Pool, path: Path, options: ProtectOptions, boxes: tuple[Box, ...]) -> dict[str, Any]:
    """Protect the image at ``path`` as :func:`protect_job` does, then audit the result.

    The protected file is decoded again (what would be published, compression
    included) and compared with the original's first frame by
    :func:`unerkannt.auditing.audit_images`. Returns its JSON without file names, and
    ``hidden``: the faces the protection hid.
    """
    from ..auditing import AuditOptions, audit_images
    from ..recognize import shared_recognizer

    protected = protect_job(pool, path, options, boxes)
    decoded = path.with_name("protected")
    decoded.write_bytes(protected.data)
    original = read_image(path, max_pixels=options.max_pixels).frames[0]
    result_pixels = read_image(decoded, max_pixels=options.max_pixels).frames[0]
    audit = AuditOptions(max_pixels=options.max_pixels)
    if pool.detector is not None:
        detector = checker = pool.detector
    else:
        detector = pool.cached_detector(audit.detectors, audit.threshold)
        checker = pool.cached_detector(audit.check_detectors, audit.check_threshold)
    start = time.perf_counter()
    with _AUDIT_LOCK:
        recognizers = [shared_recognizer(name) for name in audit.recognizers]
        result = audit_images(original, result_pixels, detector=detector, checker=checker, recognizers=recognizers)
    data = result.to_json()
    data.pop("original", None)
    data.pop("protected", None)
    data["hidden"] = protected.faces
    log.info(
        "audit: %d face(s), %d re-identifiable, %.3f s",
        len(result.faces),
        sum(f.reidentifiable for f in result.faces),
        time.perf_counter() - start,
    )
    return data


def clip_boxes(boxes: tuple[Box, ...], width: int, height: int) -> tuple[Box, ...]:
    """``boxes`` clipped to a ``width`` x ``height`` image.

    Raises
    ------
    UsageError
        A box lies wholly outside the image.
    """
    clipped = []
    for x1, y1, x2, y2 in boxes:
        box = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
        if box[2] <= box[0] or box[3] <= box[1]:
            raise UsageError(f"the box {x1:g},{y1:g},{x2:g},{y2:g} lies outside the {width}x{height} image")
        clipped.append(box)
    return tuple(clipped)
