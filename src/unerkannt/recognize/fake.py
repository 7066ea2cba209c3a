"""A recognizer that compares the pixels of the face box, for tests."""

from __future__ import annotations

import cv2
import numpy as np

from ..faces import Face
from .base import Recognizer


class FakeRecognizer(Recognizer):
    """The face box shrunk to 8 x 8 grey levels, centred and normalised.

    Identical crops match (cosine 1), a flat fill gives a zero vector (cosine 0), so
    the logic of audit and consent can be tested in milliseconds.

    Parameters
    ----------
    name : str
        Reported name (two fakes with different names stand in for two families).
    threshold : float
        Cosine match threshold.
    fail : bool
        Raise :class:`RecognitionError` on every call.
    """

    metric = "cosine"

    def __init__(self, name: str = "fake", *, threshold: float = 0.9, fail: bool = False) -> None:
        super().__init__()
        self.name = name
        self.threshold = threshold
        self.fail = fail
        self.calls = 0

    def _embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        from ..errors import RecognitionError

        self.calls += 1
        if self.fail:
            raise RecognitionError("fake recognizer failure")
        height, width = image.shape[:2]
        x1, y1 = max(0, int(face.box[0])), max(0, int(face.box[1]))
        x2, y2 = min(width, max(x1 + 1, int(face.box[2]))), min(height, max(y1 + 1, int(face.box[3])))
        grey = image[y1:y2, x1:x2].astype(np.float32).mean(axis=2)
        small = cv2.resize(grey, (8, 8), interpolation=cv2.INTER_AREA).reshape(-1)
        small -= small.mean()
        norm = float(np.linalg.norm(small))
        return small / norm if norm > 1e-3 else np.zeros_like(small)
