"""Face boxes as detectors report them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Face:
    """One detected face.

    Attributes
    ----------
    box : tuple of 4 float
        ``(x1, y1, x2, y2)`` in pixels of the (orientation-corrected) image.
    score : float
        Detector confidence in ``[0, 1]``.
    detector : str
        Name of the detector that found it (``"manual"`` for boxes given by a user).
    landmarks : tuple of 5 (x, y) pairs or None
        Eyes, nose tip and mouth corners, when the detector gives them.
    """

    box: tuple[float, float, float, float]
    score: float
    detector: str
    landmarks: tuple[tuple[float, float], ...] | None = field(default=None, repr=False)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_json(self) -> dict[str, Any]:
        """Box, score and detector, rounded; never pixels or embeddings."""
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 3),
            "detector": self.detector,
        }


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


#: A face found again (by the verifier) is already handled when this much of its box lies
#: inside one region that was anonymized.
COVERED = 0.5


def covered(box: tuple[float, ...], regions: Iterable[tuple[float, ...]]) -> float:
    """The largest share of ``box`` that lies inside one of ``regions`` (all ``(x1, y1, x2, y2)``)."""
    x1, y1, x2, y2 = box[:4]
    area = max((x2 - x1) * (y2 - y1), 1e-9)
    best = 0.0
    for rx1, ry1, rx2, ry2 in regions:
        inter = max(0.0, min(x2, rx2) - max(x1, rx1)) * max(0.0, min(y2, ry2) - max(y1, ry1))
        best = max(best, inter / area)
    return best


def merge_faces(faces: list[Face], *, iou_threshold: float = 0.3) -> list[Face]:
    """Merge overlapping faces from several scales, tiles or detectors.

    Each group of faces overlapping the best-scoring one by ``iou_threshold`` or
    more becomes that face with the union of the group's boxes: a face cut by a tile
    border, or boxed tighter by one detector than by another, stays fully covered.
    """
    if not faces:
        return []
    boxes = np.array([f.box for f in faces], dtype=np.float64)
    order = np.argsort([-f.score for f in faces], kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    merged: list[Face] = []
    taken = np.zeros(len(faces), dtype=bool)
    for i in order:
        if taken[i]:
            continue
        xx1 = np.maximum(boxes[i, 0], boxes[:, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[:, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[:, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[:, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        overlap = inter / np.maximum(areas[i] + areas - inter, 1e-9)
        group = (overlap >= iou_threshold) & ~taken
        group[i] = True
        taken |= group
        members = boxes[group]
        union = (members[:, 0].min(), members[:, 1].min(), members[:, 2].max(), members[:, 3].max())
        face = faces[i]
        if union != face.box:
            face = replace(face, box=tuple(float(v) for v in union))  # type: ignore[arg-type]
        merged.append(face)
    return merged
