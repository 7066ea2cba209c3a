"""``natural``: the face region rebuilt from its surroundings alone. Irreversible."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from .base import Bounds, Box, Eyes, Method, Target, face_region
from .faces_of_no_one import LUMA, placed, shading

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
#: The soft shading of a face laid over the rebuilt region, in grey levels (its standard
#: deviation): the mean face of no one, blurred (``faces_of_no_one.shading``).
SHADING = 10.0
#: Inside the face (the ellipse of the detected box) the region is one flat colour; from
#: the box's ellipse outwards it turns into the colours continued from the surroundings,
#: reached at this many times the ellipse's radii (at or inside the region's edge for the
#: usual ``enlarge``), so the region joins its surroundings without a seam. A recognizer's
#: crop of the face then sees the flat colour only. The continued colours of hair, neck
#: and background over the whole region, which two photos of one person at one event
#: share, re-identified people (bench/RESULTS.md, "Faces of no one").
FLAT_UNTIL, CONTINUED_FROM = 1.0, 1.3
#: The flat colour keeps of the surroundings only their brightness, in steps of this many
#: grey levels, in one fixed warm grey (:data:`NEUTRAL_TINT`): their mean colour still
#: re-identified some people (the skin, hair and clothes of one day), its coarse
#: brightness alone far fewer (bench/RESULTS.md).
BRIGHTNESS_STEP = 48.0
NEUTRAL_TINT = (1.04, 1.0, 0.94)
#: Side of the grain pattern, which repeats over the image at fixed pixel positions.
_GRAIN_TILE = 256


class Natural(Method):
    """Rebuild the face region from the pixels around it, soft, with matching grain.

    Every face region (the ellipse of :func:`~unerkannt.anonymize.base.face_region`) is
    filled by pushing the colours of the ring around it inwards, smoothed like a
    strong blur; over the face itself (:func:`quieted`) they give way to one warm grey
    of the ring's brightness (:func:`neutral`), with the soft shading of a face and
    grain as strong as the ring's. Not one pixel from inside any
    region of the same call feeds the result: two images that differ only inside the
    regions give the same output. The output is a function of the regions' geometry
    and the pixels outside them only, so a face that moves little changes little from
    frame to frame.
    """

    name = "natural"
    summary = "rebuilt from the surroundings, no face pixel kept"

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
        corners = np.array([bounds for bounds, _ in regions], dtype=np.int64).reshape(-1, 4)
        for target, (bounds, mask) in zip(targets, regions, strict=True):
            crop = _grown(bounds, width, height)
            known = ~_hidden(crop, regions, corners)
            x1, y1, x2, y2 = crop
            # From here on nothing inside any region exists: its pixels are zeros.
            pixels = image[y1:y2, x1:x2] * known[:, :, None]
            rx1, ry1, rx2, ry2 = bounds
            np.copyto(
                image[ry1:ry2, rx1:rx2], self._rebuild(pixels, known, bounds, crop, target), where=mask[:, :, None]
            )
        return [bounds for bounds, _ in regions]

    def _rebuild(
        self, pixels: np.ndarray, known: np.ndarray, region: Bounds, crop: Bounds, target: Target
    ) -> np.ndarray:
        """``(h, w, 3) uint8`` new pixels for ``region`` from the ``known`` pixels of ``crop``.

        ``pixels`` is the ``(H, W, 3) uint8`` crop, 0 where not ``known`` (``(H, W)`` bool).
        """
        base, colour = surroundings(pixels, known, region, crop)
        base = quieted(base, neutral(colour), target.box, region)
        shade = placed(shading(), target.box, target.eyes, region, border=cv2.BORDER_CONSTANT)
        base += SHADING * shade[:, :, None]
        return finish(base, texture_strength(pixels, known), region)


def surroundings(pixels: np.ndarray, known: np.ndarray, region: Bounds, crop: Bounds) -> tuple[np.ndarray, np.ndarray]:
    """The region filled smoothly from the known pixels around it, and their mean colour.

    Parameters
    ----------
    pixels : (H, W, 3) uint8
        The crop, 0 where not ``known``.
    known : (H, W) bool
    region, crop : (x1, y1, x2, y2)
        The face region and the crop around it, in image pixels.

    Returns
    -------
    (h, w, 3) float32
        Colours in 0..255 for the region's bounds.
    (3,) float32
        The mean colour of the known pixels (grey 128 without any).
    """
    h, w = known.shape
    rx1, ry1, rx2, ry2 = region
    scale = min(1.0, WORK_SIZE / max(rx2 - rx1, ry2 - ry1))
    # Colour sums and the known share in one array: one resize per pyramid level.
    stack = np.empty((h, w, 4), np.float32)
    stack[:, :, :3], stack[:, :, 3] = pixels, known
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        stack = np.asarray(cv2.resize(stack, size, interpolation=cv2.INTER_AREA), np.float32).reshape(
            size[1], size[0], 4
        )
    sums = cv2.sumElems(stack)
    colour = np.array(sums[:3]) / sums[3] if sums[3] > 0 else np.full(3, 128.0)
    filled = _push_pull(stack)
    sigma = max(0.5, SOFTNESS * (ry2 - ry1) * stack.shape[0] / h)
    filled = cv2.GaussianBlur(filled, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
    fx, fy = filled.shape[1] / w, filled.shape[0] / h
    # Back to full resolution for the region's bounds only: pixel i of the region is at
    # (i + offset + 0.5) x f - 0.5 in the small image.
    matrix = np.array([[fx, 0, fx * (rx1 - crop[0] + 0.5) - 0.5], [0, fy, fy * (ry1 - crop[1] + 0.5) - 0.5]])
    base = cv2.warpAffine(
        filled,
        matrix,
        (rx2 - rx1, ry2 - ry1),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(base).reshape(ry2 - ry1, rx2 - rx1, 3), np.asarray(colour, np.float32)


def neutral(colour: np.ndarray) -> np.ndarray:
    """The flat colour over a face: the brightness of ``colour`` (RGB, 0..255) in steps of
    :data:`BRIGHTNESS_STEP`, the middle of its step, in :data:`NEUTRAL_TINT`."""
    grey = float(np.asarray(colour, np.float32) @ LUMA)
    level = (min(np.floor(grey / BRIGHTNESS_STEP), np.ceil(255 / BRIGHTNESS_STEP) - 1) + 0.5) * BRIGHTNESS_STEP
    return np.clip(level * np.array(NEUTRAL_TINT, np.float32), 0, 255).astype(np.float32)


def quieted(base: np.ndarray, colour: np.ndarray, box: Box, region: Bounds) -> np.ndarray:
    """``base`` (the region's ``(h, w, 3)`` float32 colours) flat ``colour`` over the face.

    The weight of ``base`` grows from 0 on the ellipse inscribed in ``box`` (times
    :data:`FLAT_UNTIL`) to 1 at :data:`CONTINUED_FROM` times its radii, smoothly.
    """
    x1, y1, x2, y2 = box
    rx1, ry1, rx2, ry2 = region
    cx, cy = (x1 + x2) / 2 - rx1, (y1 + y2) / 2 - ry1
    half_w, half_h = max((x2 - x1) / 2, 0.5), max((y2 - y1) / 2, 0.5)
    xs = (np.arange(rx2 - rx1, dtype=np.float32) + 0.5 - cx) / half_w
    ys = (np.arange(ry2 - ry1, dtype=np.float32) + 0.5 - cy) / half_h
    radius = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    t = np.clip((radius - FLAT_UNTIL) / (CONTINUED_FROM - FLAT_UNTIL), 0.0, 1.0)
    weight = (t * t * (3 - 2 * t))[:, :, None]
    return np.asarray(colour + weight * (base - colour), np.float32)


def _push_pull(stack: np.ndarray) -> np.ndarray:
    """Colours where the known share (channel 3 of ``stack``, 0..1) is below 1.

    Channels 0-2 hold the known share x the colour. Each level takes what it knows and the
    rest from the level a quarter its size, scaled up: colours spread inwards as a smooth
    membrane (the soft finish hides the steps).
    """
    h, w = stack.shape[:2]
    weight = stack[:, :, 3:]
    if weight.min() > 0.999:
        return np.asarray(stack[:, :, :3] / weight)
    if h <= 4 and w <= 4:
        # The coarsest level: the mean of what is known, or a neutral grey if nothing is.
        total = float(weight.sum())
        mean = stack[:, :, :3].sum(axis=(0, 1)) / total if total > 0 else np.full(3, 128.0, np.float32)
        return np.asarray(stack[:, :, :3] + (1.0 - np.minimum(weight, 1.0)) * mean, np.float32)
    small = (max(1, (w + 3) // 4), max(1, (h + 3) // 4))
    coarse = _push_pull(
        np.asarray(cv2.resize(stack, small, interpolation=cv2.INTER_AREA)).reshape(small[1], small[0], 4)
    )
    up = np.asarray(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)).reshape(h, w, 3)
    return np.asarray(stack[:, :, :3] + (1.0 - np.minimum(weight, 1.0)) * up)


def finish(base: np.ndarray, strength: float, region: Bounds) -> np.ndarray:
    """``base`` (the region's ``(h, w, 3)`` float32 colours) with grain, as ``uint8``.

    The grain lies at fixed image positions, so it does not crawl when a face moves.
    """
    x1, y1, x2, y2 = region
    grain = _grain_at(x1, y1, x2 - x1, y2 - y1)
    amount = min(GRAIN_MAX, strength)
    return np.asarray(np.clip(base + amount * grain[:, :, None] + 0.5, 0, 255).astype(np.uint8))


def texture_strength(pixels: np.ndarray, known: np.ndarray) -> float:
    """How strong the known pixels' finest texture is, in units of the grain's.

    The texture is the grey image's 4-neighbour Laplacian where all 4 neighbours are
    known; its spread is measured robustly (median absolute deviation), so that a few
    strong edges do not count, the way camera noise is estimated.
    """
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY).astype(np.int16)
    inner = cv2.erode(known.view(np.uint8), _CROSS).view(bool)
    laplacian = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    values = laplacian[inner[1:-1, 1:-1]]
    if values.size < 16:
        return 0.0
    # Whole numbers in -1020..1020: exact medians from counts, in linear time.
    middle = _median_of_counts(np.bincount(values + 1020, minlength=2041)) - 1020
    spread = _median_of_counts(np.bincount(np.abs(values - middle)))
    return 1.4826 * spread / _grain_texture()


def _median_of_counts(counts: np.ndarray) -> int:
    """The (lower) median of a sample of whole numbers 0, 1, ... given by their counts."""
    return int(np.searchsorted(np.cumsum(counts), (counts.sum() + 1) // 2))


_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)


@lru_cache(maxsize=1)
def _grain() -> np.ndarray:
    """``(2T, 2T)`` float32: a grain tile of unit spread, the same in every run, twice in each direction.

    Fine noise and a coarser mottle, like the grain and the small unevenness of a photo.
    """
    rng = np.random.default_rng(20261129)
    fine = _wrapped_blur(rng.standard_normal((_GRAIN_TILE, _GRAIN_TILE)).astype(np.float32), 0.6)
    coarse = _wrapped_blur(rng.standard_normal((_GRAIN_TILE, _GRAIN_TILE)).astype(np.float32), 2.0)
    grain = fine / fine.std() + 0.5 * coarse / coarse.std()
    grain = np.tile(grain / grain.std(), (2, 2))
    grain.flags.writeable = False
    return grain


def _grain_at(x: int, y: int, width: int, height: int) -> np.ndarray:
    """``(height, width)`` of the grain that repeats over the image, from image pixel ``(x, y)``."""
    tile = _grain()
    x0, y0 = x % _GRAIN_TILE, y % _GRAIN_TILE
    if width <= _GRAIN_TILE and height <= _GRAIN_TILE:
        return tile[y0 : y0 + height, x0 : x0 + width]
    rows, cols = np.arange(y, y + height) % _GRAIN_TILE, np.arange(x, x + width) % _GRAIN_TILE
    return tile[np.ix_(rows, cols)]


@lru_cache(maxsize=1)
def _grain_texture() -> float:
    """The spread (1.4826 x median absolute deviation) of the grain's 4-neighbour Laplacian."""
    tile = _grain()
    # The tile twice over: inside it every pixel has its true (repeating) neighbours.
    laplacian = (4 * tile[1:-1, 1:-1] - tile[:-2, 1:-1] - tile[2:, 1:-1] - tile[1:-1, :-2] - tile[1:-1, 2:]).ravel()
    return 1.4826 * float(np.median(np.abs(laplacian - np.median(laplacian))))


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


def _hidden(crop: Bounds, regions: Sequence[tuple[Bounds, np.ndarray]], corners: np.ndarray) -> np.ndarray:
    """``(h, w)`` bool: the pixels of ``crop`` inside the ellipse of any of ``regions``
    (whose bounds ``corners`` holds as an ``(N, 4)`` array: a crowd's hundreds of regions
    are tested against the crop at once, not one by one)."""
    x1, y1, x2, y2 = crop
    hidden = np.zeros((y2 - y1, x2 - x1), dtype=bool)
    near = (corners[:, 0] < x2) & (corners[:, 2] > x1) & (corners[:, 1] < y2) & (corners[:, 3] > y1)
    for i in np.flatnonzero(near):
        (bx1, by1, bx2, by2), mask = regions[int(i)]
        ix1, iy1, ix2, iy2 = max(x1, bx1), max(y1, by1), min(x2, bx2), min(y2, by2)
        hidden[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1] |= mask[iy1 - by1 : iy2 - by1, ix1 - bx1 : ix2 - bx1]
    return hidden
