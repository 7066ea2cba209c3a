"""``natural``: the face region rebuilt from its surroundings alone. Irreversible."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from .base import Bounds, Box, Eyes, Method, Target, face_region

#: The surroundings read around a region, on each side, as a share of its larger side.
RING = 0.3
#: The region is rebuilt with its larger side at most this many pixels, then scaled up:
#: the result is soft anyway, and the cost no longer grows with the face.
WORK_SIZE = 96
#: The soft finish: a Gaussian blur of this share of the region's height.
SOFTNESS = 0.06
#: The grain laid over a rebuilt region is as strong as the ring's fine texture, up to
#: this many grey levels (standard deviation): past it the texture is a pattern, not grain.
GRAIN_MAX = 4.0
#: Side of the grain pattern, which repeats over the image at fixed pixel positions.
_GRAIN_TILE = 256


class Natural(Method):
    """Rebuild the face region from the pixels around it, soft, with matching grain.

    Every face region (the ellipse of :func:`~unerkannt.anonymize.base.face_region`) is
    filled by pushing the colours of the ring around it inwards, smoothed like a
    strong blur, with grain as strong as the ring's. Not one pixel from inside any
    region of the same call feeds the result: two images that differ only inside the
    regions give the same output. The output is a function of the regions' geometry
    and the pixels outside them only, so a face that moves little changes little from
    frame to frame.
    """

    name = "natural"

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
        target = Target(box=box, eyes=eyes, identity=identity, score=score)
        return self.apply_all(image, [target], enlarge=enlarge, source=source)[0]

    def apply_all(
        self, image: np.ndarray, targets: Sequence[Target], *, enlarge: float, source: np.ndarray | None = None
    ) -> list[tuple[int, int, int, int]]:
        """Rebuild every target's region from the pixels outside all of them.

        ``source`` is not read: the surroundings are taken from ``image`` as it is, so
        a region already anonymized by an earlier call is never read as a face.
        """
        height, width = image.shape[:2]
        regions = [face_region(t.box, enlarge, width, height) for t in targets]
        for target, (bounds, mask) in zip(targets, regions, strict=True):
            crop = _grown(bounds, width, height)
            known = ~_hidden(crop, regions)
            x1, y1, x2, y2 = crop
            pixels = np.where(known[:, :, None], image[y1:y2, x1:x2], 0).astype(np.float32)
            rebuilt = self._rebuild(pixels, known, bounds, crop, target)
            rx1, ry1, rx2, ry2 = bounds
            inner = rebuilt[ry1 - y1 : ry2 - y1, rx1 - x1 : rx2 - x1]
            np.copyto(image[ry1:ry2, rx1:rx2], inner, where=mask[:, :, None])
        return [bounds for bounds, _ in regions]

    def _rebuild(
        self, pixels: np.ndarray, known: np.ndarray, region: Bounds, crop: Bounds, target: Target
    ) -> np.ndarray:
        """``(h, w, 3) uint8`` new pixels for ``crop`` from its ``known`` pixels (the others are 0)."""
        return finish(surroundings(pixels, known, region, crop), pixels, known, crop)


def surroundings(pixels: np.ndarray, known: np.ndarray, region: Bounds, crop: Bounds) -> np.ndarray:
    """The unknown pixels of ``crop`` filled smoothly from the known ones.

    Parameters
    ----------
    pixels : (h, w, 3) float32
        The crop, 0 where not ``known``.
    known : (h, w) bool
    region, crop : (x1, y1, x2, y2)
        The face region and the crop around it, in image pixels.

    Returns
    -------
    (h, w, 3) float32
        Colours in 0..255, known pixels softened too (only the region's ellipse is used).
    """
    h, w = known.shape
    scale = min(1.0, WORK_SIZE / max(region[2] - region[0], region[3] - region[1]))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    sums, weight = pixels, known.astype(np.float32)
    if scale < 1.0:
        height, width = size[1], size[0]
        sums = np.asarray(cv2.resize(sums, size, interpolation=cv2.INTER_AREA)).reshape(height, width, 3)
        weight = np.asarray(cv2.resize(weight, size, interpolation=cv2.INTER_AREA), np.float32).reshape(height, width)
    filled = _push_pull(sums, weight)
    sigma = max(0.5, SOFTNESS * (region[3] - region[1]) * scale)
    filled = cv2.GaussianBlur(filled, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
    if scale < 1.0:
        filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.asarray(filled)


def _push_pull(sums: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Fill where ``weight`` (the known share of each pixel, 0..1) is below 1.

    ``sums`` holds ``weight x colour``. Each level takes what it knows and the rest from
    the level half its size, scaled up: colours spread inwards as a smooth membrane.
    """
    h, w = weight.shape
    if weight.min() > 0.999:
        return sums / weight[:, :, None]
    if h <= 1 and w <= 1:
        # Nothing known anywhere: a neutral grey.
        return np.full_like(sums, 128.0) if weight.max() <= 0 else sums / weight[:, :, None]
    half = (max(1, (w + 1) // 2), max(1, (h + 1) // 2))
    coarse = _push_pull(
        cv2.resize(sums, half, interpolation=cv2.INTER_AREA).reshape(half[1], half[0], 3),
        cv2.resize(weight, half, interpolation=cv2.INTER_AREA).reshape(half[1], half[0]),
    )
    up = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, 3)
    return np.asarray(sums + (1.0 - np.clip(weight, 0.0, 1.0))[:, :, None] * up)


def finish(filled: np.ndarray, pixels: np.ndarray, known: np.ndarray, crop: Bounds) -> np.ndarray:
    """``filled`` with grain as strong as the known pixels' texture, as ``uint8``."""
    x1, y1, x2, y2 = crop
    grain = _grain()[np.ix_(np.arange(y1, y2) % _GRAIN_TILE, np.arange(x1, x2) % _GRAIN_TILE)]
    strength = min(GRAIN_MAX, texture_strength(pixels, known))
    return np.asarray(np.clip(filled + strength * grain[:, :, None], 0, 255).round().astype(np.uint8))


def texture_strength(pixels: np.ndarray, known: np.ndarray) -> float:
    """The spread of the known pixels' fine texture, in grey levels.

    The texture is the grey image minus its blur (sigma 1.5 px, over known pixels
    only, so that the unknown zeros do not count); its spread is measured robustly
    (median absolute deviation), so that a few strong edges do not count.
    """
    grey = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    weight = known.astype(np.float32)
    blur = cv2.GaussianBlur(grey, (0, 0), 1.5) / np.maximum(cv2.GaussianBlur(weight, (0, 0), 1.5), 1e-6)
    inner = cv2.erode(known.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    texture = (grey - blur)[inner]
    if texture.size < 16:
        return 0.0
    return 1.4826 * float(np.median(np.abs(texture - np.median(texture)))) / _grain_texture()


@lru_cache(maxsize=1)
def _grain() -> np.ndarray:
    """``(T, T)`` float32 grain, the same in every run, of unit spread.

    Fine noise and a coarser mottle, like the grain and the small unevenness of a photo.
    """
    rng = np.random.default_rng(20261129)
    fine = _wrapped_blur(rng.standard_normal((_GRAIN_TILE, _GRAIN_TILE)).astype(np.float32), 0.6)
    coarse = _wrapped_blur(rng.standard_normal((_GRAIN_TILE, _GRAIN_TILE)).astype(np.float32), 2.0)
    grain = fine / fine.std() + 0.5 * coarse / coarse.std()
    grain /= grain.std()
    grain.flags.writeable = False
    return grain


@lru_cache(maxsize=1)
def _grain_texture() -> float:
    """What :func:`texture_strength` measures on :func:`_grain` itself (per unit)."""
    grain = _grain()
    texture = grain - _wrapped_blur(grain, 1.5)
    return 1.4826 * float(np.median(np.abs(texture - np.median(texture))))


def _wrapped_blur(tile: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a tile that repeats (OpenCV's blur has no wrapping border)."""
    pad = 8
    blurred = cv2.GaussianBlur(np.pad(tile, pad, mode="wrap"), (0, 0), sigma)
    return np.ascontiguousarray(blurred[pad:-pad, pad:-pad])


def _grown(bounds: Bounds, width: int, height: int) -> Bounds:
    """``bounds`` with the ring around it, clipped to the image."""
    x1, y1, x2, y2 = bounds
    ring = max(2, round(RING * max(x2 - x1, y2 - y1)))
    return max(0, x1 - ring), max(0, y1 - ring), min(width, x2 + ring), min(height, y2 + ring)


def _hidden(crop: Bounds, regions: Sequence[tuple[Bounds, np.ndarray]]) -> np.ndarray:
    """``(h, w)`` bool: the pixels of ``crop`` inside the ellipse of any of ``regions``."""
    x1, y1, x2, y2 = crop
    hidden = np.zeros((y2 - y1, x2 - x1), dtype=bool)
    for (bx1, by1, bx2, by2), mask in regions:
        ix1, iy1, ix2, iy2 = max(x1, bx1), max(y1, by1), min(x2, bx2), min(y2, by2)
        if ix1 < ix2 and iy1 < iy2:
            hidden[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1] |= mask[iy1 - by1 : iy2 - by1, ix1 - bx1 : ix2 - bx1]
    return hidden
