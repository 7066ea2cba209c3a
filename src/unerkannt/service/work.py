"""The bounded worker pool and the jobs it runs: protect, detect and audit.

A request takes a work slot only once its body is received (:mod:`.upload`); when
every worker is busy and the queue is full it is answered 503 at once. A job that
runs longer than the timeout is cancelled: it stops at its next check, between
frames or network runs, and its slot and upload are freed then. The upload is
closed (and so gone) when the job ends, also when the client stopped waiting.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..detect import FaceDetector
from ..errors import UsageError
from ..media import by_name, encode, read_image
from ..media.formats import available, writable
from ..options import ProtectOptions
from ..pipeline import protect_frames
from .errors import ServiceError
from .models import Cancelled, check, detector_named, detectors_for
from .spool import Spool, path_of

log = logging.getLogger("unerkannt.service")

T = TypeVar("T")

#: Media types of the formats the service can write here (``Content-Type``, ``format=`` choices).
MEDIA_TYPES = {name: fmt.media_type for name, fmt in writable().items() if available(fmt)}

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

    Every job gets a cancel event as its first argument: set when its request timed
    out or the server stops, checked by the job between frames and by the detectors
    between network runs (:mod:`.models`).
    """

    def __init__(self, *, workers: int, queue: int, timeout: float, retry_after: int) -> None:
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._capacity = workers + queue
        self._busy = 0
        self._lock = threading.Lock()
        self._running: set[threading.Event] = set()
        self.timeout = timeout
        self.retry_after = retry_after

    @property
    def busy(self) -> int:
        return self._busy

    def _acquire(self, cancel: threading.Event) -> None:
        with self._lock:
            if self._busy >= self._capacity:
                raise ServiceError(
                    503,
                    "busy",
                    "every worker is busy; try again shortly",
                    headers={"Retry-After": str(self.retry_after)},
                )
            self._busy += 1
            self._running.add(cancel)

    def _release(self, cancel: threading.Event) -> None:
        with self._lock:
            self._busy -= 1
            self._running.discard(cancel)

    async def run(self, job: Callable[..., T], *args: Any, cleanup: Callable[[], None]) -> T:
        """Run ``job(cancel, *args)`` on a worker; ``cleanup`` runs when it ends or never starts.

        Raises
        ------
        ServiceError
            503 when every worker is busy and the queue full, when the job took longer
            than ``timeout`` (it is cancelled) or the server stops.
        """
        cancel = threading.Event()
        try:
            self._acquire(cancel)
        except BaseException:
            cleanup()
            raise

        def done(_: Future[T] | None) -> None:
            try:
                cleanup()
            finally:
                self._release(cancel)

        try:
            with self._lock:
                if self._executor is None:  # started on first use, again after a shutdown
                    self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="unerkannt-worker")
                future = self._executor.submit(job, cancel, *args)
        except BaseException:
            done(None)
            raise
        # Registered before asyncio's own callback, so the upload is gone before the
        # request handler resumes and answers.
        future.add_done_callback(done)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            cancel.set()
            log.warning("request timed out after %.0f s; its work stops", self.timeout)
            raise ServiceError(
                503,
                "timeout",
                f"the image took longer than {self.timeout:g} s",
                headers={"Retry-After": str(self.retry_after)},
            ) from None
        except Cancelled:
            raise ServiceError(503, "stopping", "the server is stopping", headers={"Retry-After": "5"}) from None
        except asyncio.CancelledError:  # the server cancels the request
            cancel.set()
            raise

    def stop(self) -> None:
        """Cancel every job; they end at their next check."""
        with self._lock:
            running = list(self._running)
        for cancel in running:
            cancel.set()

    def shutdown(self) -> None:
        """Cancel every job and stop the worker threads (queued jobs are cancelled, and cleaned up)."""
        self.stop()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def protect_job(
    cancel: threading.Event,
    path: Path,
    options: ProtectOptions,
    boxes: tuple[Box, ...],
    override: FaceDetector | None,
) -> Protected:
    """Protect the image file at ``path``; the result stays in memory.

    ``boxes`` are faces named by the client: clipped to the image, refused (422)
    when one lies wholly outside it. ``override`` replaces the detectors of ``options``.

    Raises
    ------
    Cancelled
        ``cancel`` was set; checked between frames and by the detectors.
    """
    start = time.perf_counter()
    picture = read_image(path, max_pixels=options.max_pixels, max_frames=options.max_frames)
    width, height = picture.size
    options = options.evolve(manual_boxes=clip_boxes(boxes, width, height))
    fmt = by_name(options.format) if options.format else picture.format
    detector, verifier = detectors_for(options, cancel, override=override)
    records, _, found = protect_frames(
        picture.frames, options=options, detector=detector, verifier=verifier, stop=lambda: check(cancel)
    )
    check(cancel)
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


def detect_job(cancel: threading.Event, path: Path, options: ProtectOptions, override: FaceDetector | None) -> Detected:
    """The faces in every frame of the image file at ``path``."""
    start = time.perf_counter()
    picture = read_image(path, max_pixels=options.max_pixels, max_frames=options.max_frames)
    detector, _ = detectors_for(options.evolve(verify=False), cancel, override=override)
    faces: list[dict[str, Any]] = []
    for i, frame in enumerate(picture.frames):
        check(cancel)
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


def audit_job(
    cancel: threading.Event,
    path: Path,
    options: ProtectOptions,
    boxes: tuple[Box, ...],
    override: FaceDetector | None,
    spool: Spool,
) -> dict[str, Any]:
    """Protect the image at ``path`` as :func:`protect_job` does, then audit the result.

    The protected file is decoded again (what would be published, compression
    included; from an anonymous file of ``spool``) and compared with the original's
    first frame by :func:`unerkannt.auditing.audit_images`. Returns its JSON without
    file names, and ``hidden``: the faces the protection hid.
    """
    from ..auditing import AuditOptions, audit_images
    from ..recognize import shared_recognizer

    protected = protect_job(cancel, path, options, boxes, override)
    original = read_image(path, max_pixels=options.max_pixels, max_frames=options.max_frames).frames[0]
    with spool.new_file() as decoded:
        decoded.write(protected.data)
        decoded.flush()
        result_pixels = read_image(path_of(decoded), max_pixels=options.max_pixels, max_frames=options.max_frames)
    audit = AuditOptions(max_pixels=options.max_pixels)
    detector = detector_named(audit.detectors, audit.threshold, cancel, override=override)
    checker = detector_named(audit.check_detectors, audit.check_threshold, cancel, override=override)
    start = time.perf_counter()
    check(cancel)
    with _AUDIT_LOCK:
        recognizers = [shared_recognizer(name) for name in audit.recognizers]
        result = audit_images(
            original, result_pixels.frames[0], detector=detector, checker=checker, recognizers=recognizers
        )
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
