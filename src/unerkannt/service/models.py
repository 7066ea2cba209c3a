"""The detector models of the service: loaded once per process, shared by every request.

A detector is a network (an onnxruntime session, the memory) and a few settings
(threshold, scales). :data:`MODELS` loads each network once, for the whole process, and
each request gets its own light detector objects with its own settings around the
shared session. onnxruntime sessions may be run from several threads at once, and the
detectors keep no state between calls (their settings are only read), so the worker
threads share them. The cache is bounded by construction: one session per name in
:data:`unerkannt.detect.DETECTORS`, whatever the options of the requests.

Every detector a request gets checks the request's cancel event before each network
run, that is between scales, tiles and detectors, so a request that timed out stops
within one run.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..detect import FaceDetector, MultiDetector, load_detector
from ..faces import Face
from ..models import LazyModel
from ..options import ProtectOptions


class Cancelled(BaseException):
    """The request's work was cancelled (it timed out, or the server stops).

    A :class:`BaseException`, like :class:`asyncio.CancelledError`: the detectors turn
    every :class:`Exception` of their runtime into a ``DetectionError``, and a
    cancellation must not look like a failed detector.
    """


def check(cancel: threading.Event) -> None:
    """Raise :class:`Cancelled` when ``cancel`` is set."""
    if cancel.is_set():
        raise Cancelled


class ModelCache:
    """One loaded network per detector name, for the whole process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def clear(self) -> None:
        """Forget every network (they are loaded again on use)."""
        with self._lock:
            self._sessions.clear()

    def detector(
        self, name: str, *, threshold: float, scales: tuple[float, ...], cancel: threading.Event
    ) -> FaceDetector:
        """The detector ``name`` with these settings, on the shared network, stopping at ``cancel``.

        Raises
        ------
        UsageError
            ``name`` is not a detector.
        DetectionError
            Its model cannot be loaded.
        """
        detector = load_detector(name, threshold=threshold, scales=scales)
        if not isinstance(detector, LazyModel):  # pragma: no cover - every registered detector is one
            return Checked(detector, cancel)
        return detector.sharing(_CheckedSession(self._session(name), cancel))

    def _session(self, name: str) -> Any:
        with self._lock:  # one load per name: other threads wait for it rather than load their own
            if name not in self._sessions:
                loader = load_detector(name, threshold=0.5, scales=(1.0,))
                loader.detect(np.zeros((32, 32, 3), np.uint8))  # loads the network
                self._sessions[name] = loader.model  # type: ignore[attr-defined]
            return self._sessions[name]


#: The process's models.
MODELS = ModelCache()


class _CheckedSession:
    """An onnxruntime session that checks a cancel event before each run."""

    def __init__(self, session: Any, cancel: threading.Event) -> None:
        self._session = session
        self._cancel = cancel

    def run(self, *args: Any, **kwargs: Any) -> Any:
        check(self._cancel)
        return self._session.run(*args, **kwargs)


class Checked:
    """Any detector (a test's fake, say) that checks a cancel event before each call."""

    def __init__(self, detector: FaceDetector, cancel: threading.Event) -> None:
        self.detector = detector
        self.name = detector.name
        self._cancel = cancel

    def detect(self, image: np.ndarray) -> list[Face]:
        check(self._cancel)
        return self.detector.detect(image)


def detectors_for(
    options: ProtectOptions, cancel: threading.Event, *, override: FaceDetector | None = None
) -> tuple[FaceDetector, FaceDetector | None]:
    """The detector and the verifier (``None`` without ``options.verify``) for one request.

    ``override`` replaces both when given, as ``detector`` does in :func:`unerkannt.protect`.
    """
    verifier: FaceDetector | None = None
    if options.verify:
        verifier = (
            Checked(override, cancel)
            if override is not None
            else MODELS.detector(options.verifier, threshold=options.verify_threshold, scales=(1.0,), cancel=cancel)
        )
    if not options.detectors:
        return MultiDetector([]), verifier
    if override is not None:
        return Checked(override, cancel), None
    found = [
        MODELS.detector(name, threshold=options.detection_threshold, scales=options.detection_scales, cancel=cancel)
        for name in options.detectors
    ]
    return (found[0] if len(found) == 1 else MultiDetector(found)), verifier


def detector_named(
    names: tuple[str, ...], threshold: float, cancel: threading.Event, *, override: FaceDetector | None = None
) -> FaceDetector:
    """The detectors ``names`` at ``threshold`` and scale 1 (or ``override``), stopping at ``cancel``."""
    if override is not None:
        return Checked(override, cancel)
    found = [MODELS.detector(name, threshold=threshold, scales=(1.0,), cancel=cancel) for name in names]
    return found[0] if len(found) == 1 else MultiDetector(found)
