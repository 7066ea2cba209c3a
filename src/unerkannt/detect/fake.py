"""A detector with scripted answers, for tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DetectionError
from ..faces import Face


class FakeDetector:
    """Returns the same boxes for every image (clipped to it), or raises.

    Parameters
    ----------
    boxes : sequence of (x1, y1, x2, y2)
        Faces to report.
    fail : bool
        Raise :class:`DetectionError` instead, to test fail-closed paths.
    """

    name = "fake"

    def __init__(
        self, boxes: Sequence[tuple[float, float, float, float]] = (), *, score: float = 0.9, fail: bool = False
    ) -> None:
        self.boxes = [tuple(float(v) for v in b) for b in boxes]
        self.score = score
        self.fail = fail
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        self.calls += 1
        if self.fail:
            raise DetectionError("fake detector failure")
        height, width = image.shape[:2]
        faces = []
        for x1, y1, x2, y2 in self.boxes:
            box = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
            if box[2] > box[0] and box[3] > box[1]:
                faces.append(Face(box=box, score=self.score, detector=self.name))
        return faces
