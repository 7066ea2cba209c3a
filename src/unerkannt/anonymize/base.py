"""What every anonymization method shares: the region of a face and its mask."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..faces import Face

Box = tuple[float, float, float, float]
#: Pixel bounds ``(x1, y1, x2, y2)``, ``x2`` and ``y2`` exclusive.
Bounds = tuple[int, int, int, int]

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
    return _clipped(grown_region(box, factor), width, height)


def face_region(box: Box, factor: float, width: int, height: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The region of :func:`enlarge_box` and the ellipse mask to fill in it.

    The ellipse is the one of the whole grown box, cut where the image ends: a face
    cut by the picture's edge is covered right up to the edge, not by a smaller
    ellipse squeezed into its visible part.
    """
    left, top, right, bottom = grown = grown_region(box, factor)
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


def grown_region(box: Box, factor: float) -> tuple[int, int, int, int]:
    """The grown box of :func:`enlarge_box` before clipping, in whole pixels: the
    rectangle of the whole ellipse of :func:`face_region`."""
    x1, y1, x2, y2 = box
    # Detector boxes end near the eyebrows: the region grows more upwards, where
    # forehead and hair line are, than towards the chin.
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 - 0.08 * (y2 - y1) * factor
    half_h = max(y2 - y1, 1.0) * factor * _TALLER / 2
    half_w = max((x2 - x1) * factor / 2, 0.8 * half_h, 1.0)
    return (
        math.floor(cx - half_w),
        math.floor(cy - half_h),
        math.ceil(cx + half_w),
        math.ceil(cy + half_h),
    )


@lru_cache(maxsize=4096)
def ellipse_radius(width: int, height: int) -> np.ndarray:
    """``(height, width)`` float32: each pixel centre's distance from the centre of the
    ellipse inscribed in the rectangle, in units of its radii (1 on the ellipse)."""
    ys = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / (height / 2)
    xs = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / (width / 2)
    radius = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    radius.flags.writeable = False  # shared between calls through the cache
    return radius


@lru_cache(maxsize=4096)
def ellipse_mask(width: int, height: int) -> np.ndarray:
    """``(height, width)`` bool mask of the ellipse inscribed in the rectangle."""
    ys = (np.arange(height) + 0.5 - height / 2) / (height / 2)
    xs = (np.arange(width) + 0.5 - width / 2) / (width / 2)
    mask = np.asarray(ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0)
    mask.flags.writeable = False  # shared between calls through the cache
    return mask


#: Centres of the left and right eye, ``((x, y), (x, y))`` in pixels.
Eyes = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True, kw_only=True)
class Target:
    """One face to anonymize, for :meth:`Method.apply_all`.

    Attributes
    ----------
    box : (x1, y1, x2, y2) float
        The detected face, in pixels.
    eyes : Eyes or None
        The detector's eye centres, when it gives them: methods that draw a face turn
        it along the eye line (nothing else of the face's geometry is used).
    identity : int or None
        Which face of no one a drawing method draws (any int; a video passes its
        track id so that a face keeps its stand-in from frame to frame).
    score : float or None
        The detector's confidence: a drawing method draws a face only where a face
        is likely (it does not put faces on hands and patterns).
    """

    box: Box
    eyes: Eyes | None = None
    identity: int | None = None
    score: float | None = None

    @classmethod
    def of(cls, face: Face, identity: int | None = None) -> Target:
        """The target of a detected face: its box, score and eyes (the first two landmarks)."""
        eyes = (face.landmarks[0], face.landmarks[1]) if face.landmarks and len(face.landmarks) >= 2 else None
        return cls(box=face.box, eyes=eyes, identity=identity, score=face.score)


class Method(ABC):
    """An anonymization method.

    ``weak`` methods leave some information of the face (they can be partly
    reversed or matched); the CLI warns when one is chosen. ``summary`` says in a few
    words what the method does (``unerkannt info`` lists it).
    """

    name: str = "method"
    weak: bool = False
    summary: str = ""

    @abstractmethod
    def apply(
        self,
        image: np.ndarray,
        box: Box,
        *,
        enlarge: float,
        source: np.ndarray | None = None,
        eyes: Eyes | None = None,
        identity: int | None = None,
        score: float | None = None,
    ) -> tuple[int, int, int, int]:
        """Anonymize the face at ``box`` in ``image`` (``(H, W, 3) uint8``) in place.

        ``source`` is the image before any face of it was anonymized, when the caller
        has it: choices that depend on the face (the fill colour) are made on it, so that
        overlapping faces are treated alike instead of reacting to each other's fill.
        ``eyes``, ``identity`` and ``score`` are those of :class:`Target`; methods
        that draw no face ignore them.

        Returns the enlarged region that was changed, ``(x1, y1, x2, y2)``.
        """

    def apply_all(
        self, image: np.ndarray, targets: Sequence[Target], *, enlarge: float, source: np.ndarray | None = None
    ) -> list[tuple[int, int, int, int]]:
        """Anonymize every face of ``targets`` in ``image`` in place, in their order.

        Give a frame's faces together where you can: a method that rebuilds a face from
        its surroundings then takes none of them from another face's region.

        Returns the region changed for each target, as :meth:`apply` does.
        """
        return [
            self.apply(image, t.box, enlarge=enlarge, source=source, eyes=t.eyes, identity=t.identity, score=t.score)
            for t in targets
        ]


class RegionMethod(Method):
    """A method that computes new pixels for the region from the region alone."""

    def apply(
        self,
        image: np.ndarray,
        box: Box,
        *,
        enlarge: float,
        source: np.ndarray | None = None,
        eyes: Eyes | None = None,
        identity: int | None = None,
        score: float | None = None,
    ) -> tuple[int, int, int, int]:
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
