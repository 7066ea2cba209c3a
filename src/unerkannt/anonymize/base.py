"""What every anonymization method shares: the region of a face and its mask."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np

Box = tuple[float, float, float, float]

_TALLER = 1.2


def enlarge_box(box: Box, factor: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Grow ``box`` about its centre by ``factor`` and clip it to the image.

    Faces are taller than detector boxes suggest (forehead, hair line, chin): the
    height grows by a further :data:`_TALLER`, mostly upwards. Profile faces give
    narrow boxes, so the width is kept at least 0.8 x the height.

    Returns
    -------
    (x1, y1, x2, y2) int
        Pixel bounds, ``x2`` and ``y2`` exclusive, never empty for a box in the image.
    """
    x1, y1, x2, y2 = box
    # Detector boxes end near the eyebrows: the region grows more upwards, where
    # forehead and hair line are, than towards the chin.
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 - 0.08 * (y2 - y1) * factor
    half_h = max(y2 - y1, 1.0) * factor * _TALLER / 2
    half_w = max((x2 - x1) * factor / 2, 0.8 * half_h, 1.0)
    left, top = int(np.floor(max(0.0, cx - half_w))), int(np.floor(max(0.0, cy - half_h)))
    right, bottom = int(np.ceil(min(float(width), cx + half_w))), int(np.ceil(min(float(height), cy + half_h)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


@lru_cache(maxsize=256)
def ellipse_mask(width: int, height: int) -> np.ndarray:
    """``(height, width)`` bool mask of the ellipse inscribed in the rectangle."""
    ys = (np.arange(height) + 0.5 - height / 2) / (height / 2)
    xs = (np.arange(width) + 0.5 - width / 2) / (width / 2)
    mask = np.asarray(ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0)
    mask.flags.writeable = False  # shared between calls through the cache
    return mask


class Method(ABC):
    """An anonymization method, applied to one face region at a time.

    ``weak`` methods leave some information of the face (they can be partly
    reversed or matched); the CLI warns when one is chosen.
    """

    name: str = "method"
    weak: bool = False

    def apply(
        self, image: np.ndarray, box: Box, *, enlarge: float, source: np.ndarray | None = None
    ) -> tuple[int, int, int, int]:
        """Anonymize the face at ``box`` in ``image`` (``(H, W, 3) uint8``) in place.

        ``source`` is the image before any face of it was anonymized, when the caller
        has it: choices that depend on the face (the fill colour) are made on it, so that
        overlapping faces are treated alike instead of reacting to each other's fill.

        Returns the enlarged region that was changed, ``(x1, y1, x2, y2)``.
        """
        height, width = image.shape[:2]
        x1, y1, x2, y2 = enlarge_box(box, enlarge, width, height)
        region = image[y1:y2, x1:x2]
        original = region if source is None else source[y1:y2, x1:x2]
        mask = ellipse_mask(x2 - x1, y2 - y1)
        region[mask] = self._replacement(region, original)[mask]
        return x1, y1, x2, y2

    @abstractmethod
    def _replacement(self, region: np.ndarray, original: np.ndarray) -> np.ndarray:
        """New pixels for the whole ``(h, w, 3)`` region; the ellipse of it is used.

        ``original`` is the same region before any anonymization (or ``region`` itself).
        """
