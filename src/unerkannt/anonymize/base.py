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
    return _clipped(_grown(box, factor), width, height)


def face_region(box: Box, factor: float, width: int, height: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The region of :func:`enlarge_box` and the ellipse mask to fill in it.

    The ellipse is the one of the whole grown box, cut where the image ends: a face
    cut by the picture's edge is covered right up to the edge, not by a smaller
    ellipse squeezed into its visible part.
    """
    left, top, right, bottom = grown = _grown(box, factor)
    x1, y1, x2, y2 = _clipped(grown, width, height)
    mask = ellipse_mask(right - left, bottom - top)[y1 - top : y2 - top, x1 - left : x2 - left]
    if mask.shape != (y2 - y1, x2 - x1) or not mask.any():  # a box (almost) outside the image
        mask = ellipse_mask(x2 - x1, y2 - y1)
    return (x1, y1, x2, y2), mask


def _clipped(grown: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = grown
    left, top = max(0, left), max(0, top)
    right, bottom = min(width, right), min(height, bottom)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def _grown(box: Box, factor: float) -> tuple[int, int, int, int]:
    """The grown box of :func:`enlarge_box` before clipping, in whole pixels."""
    x1, y1, x2, y2 = box
    # Detector boxes end near the eyebrows: the region grows more upwards, where
    # forehead and hair line are, than towards the chin.
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 - 0.08 * (y2 - y1) * factor
    half_h = max(y2 - y1, 1.0) * factor * _TALLER / 2
    half_w = max((x2 - x1) * factor / 2, 0.8 * half_h, 1.0)
    return (
        int(np.floor(cx - half_w)),
        int(np.floor(cy - half_h)),
        int(np.ceil(cx + half_w)),
        int(np.ceil(cy + half_h)),
    )


@lru_cache(maxsize=4096)
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
        (x1, y1, x2, y2), mask = face_region(box, enlarge, width, height)
        region = image[y1:y2, x1:x2]
        original = region if source is None else source[y1:y2, x1:x2]
        # copyto with a mask: the same pixels as region[mask] = ..., without gathering them.
        np.copyto(region, self._replacement(region, original), where=mask[:, :, None])
        return x1, y1, x2, y2

    @abstractmethod
    def _replacement(self, region: np.ndarray, original: np.ndarray) -> np.ndarray:
        """New pixels for the whole ``(h, w, 3)`` region; the ellipse of it is used.

        ``original`` is the same region before any anonymization (or ``region`` itself).
        """
