"""Face detectors, chosen by explicit name.

``DETECTORS`` is the one list of available detectors; each is loaded on demand, so
importing this module loads no model and no inference runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import UsageError
from ..faces import Face

if TYPE_CHECKING:
    from .search import Pass


class FaceDetector(Protocol):
    """Anything with ``detect((H, W, 3) uint8 RGB) -> list[Face]`` and a ``name``."""

    name: str

    def detect(self, image: np.ndarray) -> list[Face]: ...


#: name -> "module:class" of every detector.
DETECTORS: dict[str, str] = {
    "centerface": "unerkannt.detect.centerface:CenterFaceDetector",
    "centerface-int8": "unerkannt.detect.centerface:CenterFaceInt8Detector",
    "yunet": "unerkannt.detect.yunet:YuNetDetector",
}


def load_detector(name: str, *, threshold: float, scales: tuple[float, ...], threads: int = 0) -> FaceDetector:
    """Create the detector registered as ``name`` (its model loads on first use).

    Raises
    ------
    UsageError
        ``name`` is not in :data:`DETECTORS`.
    """
    try:
        target = DETECTORS[name]
    except KeyError:
        raise UsageError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}") from None
    module, cls = target.split(":")
    factory = getattr(importlib.import_module(module), cls)
    detector: FaceDetector = factory(threshold=threshold, scales=scales, threads=threads)
    return detector


class MultiDetector:
    """Runs several detectors on the same image and merges their faces."""

    name = "multi"

    def __init__(self, detectors: list[FaceDetector]) -> None:
        self.detectors = detectors

    def detect(self, image: np.ndarray) -> list[Face]:
        return self.search(image)[0]

    def search(self, image: np.ndarray) -> tuple[list[Face], list[Pass]]:
        """The merged faces of every detector, and the passes of those that record them."""
        from ..faces import merge_faces
        from .search import search_faces

        faces: list[Face] = []
        passes: list[Pass] = []
        for detector in self.detectors:
            found, ran = search_faces(detector, image)
            faces.extend(found)
            passes.extend(ran)
        return merge_faces(faces), passes


__all__ = ["DETECTORS", "FaceDetector", "MultiDetector", "load_detector"]
