"""``natural``: the face region rebuilt from its surroundings alone. Irreversible."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from .base import Bounds, Box, Eyes, Method, Target, ellipse_radius, face_region, grown_region
from .faces_of_no_one import LUMA, chosen, placed, shading

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
#: A face's grain is the picture's, give or take this share, drawn at random (:func:`seed`).
GRAIN_SPREAD = 0.4
#: The shading of a blurred face laid over the rebuilt region, in grey levels (its
#: standard deviation): a face of no one, blurred (``faces_of_no_one.shading``), drawn at
#: random for each face (:func:`seed`). A face-like pattern this strong, different for
#: every face, is what recognizers read in the region: with the one mean face at 10
#: levels for everyone they read the region's soft match to its surroundings instead, and
#: matched two photos of one scene more often than chance (bench/RESULTS.md, "Faces of no one").
SHADING = 25.0
#: The region is one flat colour out to this share of its ellipse's radii; from there it
#: turns into the colours continued from the surroundings, reached at the ellipse itself,
#: so the region joins the picture without a seam. A recognizer's crop of the face sees
#: the flat colour only: the continued colours of hair, neck and background, which two
#: photos of one person at one event share, re-identified people when they reached into
#: the crop (bench/RESULTS.md, "Faces of no one"). Relative to the region, not the face,
#: the weights depend on the region's size alone and are computed once per size.
FLAT_UNTIL, CONTINUED_FROM = 0.8, 1.0
#: Where the band between the two (along the region's shorter axis) is narrower than this
#: many pixels (:func:`thin`: regions under 30 px), the surroundings' mean colour stands in
#: for their continued colours, and natural lays no face shading over it: neither shows.
FINEST_RIM = 3.0
#: The flat colour keeps of the surroundings only their brightness, in one fixed warm grey
#: (:data:`NEUTRAL_TINT`): their mean colour still re-identified some people (the skin,
#: hair and clothes of one day), their brightness alone far fewer (bench/RESULTS.md). It
#: follows that brightness only as far as real faces do: a face's brightness is mostly its
#: own (skin, light, exposure). Against the ring natural reads, the benchmark kits' faces
#: lie 0.39 times as far above or below mid-grey as their surroundings (the detection
#: kit's crowds; 0.00 in the identity kit's press photos, exposed for the face), about
#: :data:`GREY_MIDDLE` where the surroundings are mid-grey (bench/RESULTS.md). Two photos
#: of one scene share their surroundings' brightness: a grey that followed it fully let
#: recognizers match them more often. The grey follows it without steps: a face passing
#: a lighter or darker background changes gradually (steps of 48 levels, as the grey once
#: took, switched a video's face from one grey to the next when its surroundings crossed one).
GREY_FOLLOWS = 0.4
GREY_MIDDLE = 128.0
#: Around that the grey lies up to half this many levels above or below, where drawn at
#: random (:func:`seed`), so two photos of one scene do not share it: about as widely as
#: real faces lie around the line above (the middle 80 % of the detection kit's within
#: 42 levels either way), a little wider (a spread of 64 let recognizers match about one
#: person more per draw).
GREY_SPREAD = 128.0
NEUTRAL_TINT = (1.04, 1.0, 0.94)
#: One region covering at least this share of another (the smaller) is the same face
#: found twice: the two look as one (:func:`_leaders`).
SAME_FACE = 0.5
#: Side of the grain pattern, which repeats over the image at fixed pixel positions.
_GRAIN_TILE = 256


class Natural(Method):
    """Rebuild the face region from the pixels around it, soft, with matching grain.

    Every face region (the ellipse of :func:`~unerkannt.anonymize.base.face_region`) is
    filled by pushing the colours of the ring around it inwards, smoothed like a
    strong blur; inside its edge (:func:`quieted`) they give way to one warm grey that
    follows the ring's brightness as far as real faces do (:func:`neutral`), with the
    shading of a blurred face of no one, drawn at random for each face, and grain
    as strong as the picture's own (:func:`texture_strength`). Not one pixel from inside
    any region of the same call feeds the result: two images that differ only inside
    the regions give the same output. The output is a function of the regions'
    geometry, the pixels outside them and ``identity`` only, so a face that moves little
    changes little from frame to frame.
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
        if not regions:
            return []
        crops = [_with_ring(bounds, width, height) for bounds, _ in regions]
        # One mask of every region over the rectangle that holds all crops.
        area = (min(c[0] for c in crops), min(c[1] for c in crops), max(c[2] for c in crops), max(c[3] for c in crops))
        hidden = _hidden(area, regions)
        strength = texture_strength(image, hidden, area)
        seen: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}

        def surrounding(i: int) -> tuple[np.ndarray, np.ndarray, int]:
            """Region ``i``'s crop with nothing of any region in it (zeros), which of its
            pixels are known, and its seed."""
            if i not in seen:
                x1, y1, x2, y2 = crops[i]
                known = ~hidden[y1 - area[1] : y2 - area[1], x1 - area[0] : x2 - area[0]]
                # From here on nothing inside any region exists: its pixels are zeros.
                crop_pixels = image[y1:y2, x1:x2]
                pixels = cv2.bitwise_and(crop_pixels, crop_pixels, mask=known.view(np.uint8))
                seen[i] = (pixels, known, seed(targets[i], pixels))
            return seen[i]

        def average(i: int) -> np.ndarray:
            """The mean colour of region ``i``'s surroundings (no pixel of any region)."""
            x1, y1, x2, y2 = crops[i]
            return mean_colour(image[y1:y2, x1:x2], ~hidden[y1 - area[1] : y2 - area[1], x1 - area[0] : x2 - area[0]])

        seniority = [_seniority(target, bounds) for target, (bounds, _) in zip(targets, regions, strict=True)]
        leaders = _leaders(regions, seniority)
        looks: dict[int, tuple[np.ndarray, float, tuple[int, int]]] = {}  # each group's, from its leader

        def look(leader: int) -> tuple[np.ndarray, float, tuple[int, int]]:
            """A group's flat colour and grain, from its leader's surroundings and draws."""
            if leader not in looks:
                dx, dy, within, spread = _draws(surrounding(leader)[2])
                grain = strength * (1.0 + GRAIN_SPREAD * (2.0 * spread - 1.0))
                looks[leader] = (neutral(average(leader), within), grain, (dx, dy))
            return looks[leader]

        grouped = {leader for i, leader in enumerate(leaders) if leader != i}
        # Where regions overlap the oldest track's (in a photo the largest) lies on top, in
        # every frame: which one shows does not change with the order of the detections.
        # Painted from the top down, each region only where none above it lies: a region
        # wholly under others (the same face found again, smaller) is not rebuilt at all.
        # Only region pixels are written, and none is read: the order changes nothing else.
        painted = np.zeros_like(hidden)
        for i in sorted(range(len(targets)), key=lambda k: (seniority[k], k)):
            target, (bounds, mask), crop = targets[i], regions[i], crops[i]
            rx1, ry1, rx2, ry2 = bounds
            above = painted[ry1 - area[1] : ry2 - area[1], rx1 - area[0] : rx2 - area[0]]
            showing = mask & ~above
            if not showing.any():
                continue
            above |= mask
            flat, grain, start = look(leaders[i])
            rim = _rim(target.box, enlarge, bounds)
            if leaders[i] in grouped:
                rim = _held_back(rim, hidden, area, bounds)
            if thin(bounds) and not self._draws_face(target):
                # The surroundings' mean at the edge, the flat grey inside, no face shading:
                # at this size none of them would show apart from the others.
                new = finish(rim * (average(i) - flat) + flat, grain, bounds, start)
            else:
                pixels, known, chosen = surrounding(i)
                face = FaceRegion(target, bounds, rim, grain, chosen, flat, start)
                new = self._rebuild(pixels, known, crop, face)
            np.copyto(image[ry1:ry2, rx1:rx2], new, where=showing[:, :, None])
        return [bounds for bounds, _ in regions]

    def _draws_face(self, target: Target) -> bool:
        """Whether a face is drawn into ``target``'s region: then even a :func:`thin`
        region is rebuilt by :meth:`_rebuild`, which reads its surroundings and seed."""
        return False

    def _rebuild(self, pixels: np.ndarray, known: np.ndarray, crop: Bounds, face: FaceRegion) -> np.ndarray:
        """``(h, w, 3) uint8`` new pixels for ``face.region`` from the ``known`` pixels of ``crop``.

        ``pixels`` is the ``(H, W, 3) uint8`` crop, 0 where not ``known`` (``(H, W)`` bool).
        Not called for a :func:`thin` region unless :meth:`_draws_face`.
        """
        base = quieted(surroundings(pixels, known, face.region, crop), face.flat, face.rim)
        box, eyes = face.target.box, face.target.eyes
        shade = placed(shading(chosen(face.seed)), box, eyes, face.region, border=cv2.BORDER_CONSTANT)
        return finish(base, face.grain, face.region, face.grain_start, SHADING * shade)


class FaceRegion(NamedTuple):
    """What rebuilding one face's region needs besides its surroundings."""

    target: Target
    #: The region's bounds, ``(x1, y1, x2, y2)`` in image pixels.
    region: Bounds
    #: ``(h, w, 1)`` float32: how much of the surroundings' colours each pixel keeps (:func:`_rim`).
    rim: np.ndarray
    #: The grain's strength (:func:`texture_strength`, its group's share of :data:`GRAIN_SPREAD` in).
    grain: float
    #: The face's own random choices (:func:`seed`): synthetic's face of no one.
    seed: int
    #: ``(3,) float32``: the flat colour (:func:`neutral`), of its group (:func:`_leaders`).
    flat: np.ndarray
    #: Where the grain's pattern starts (:func:`finish`), the same over a group.
    grain_start: tuple[int, int]


def surroundings(pixels: np.ndarray, known: np.ndarray, region: Bounds, crop: Bounds) -> np.ndarray:
    """The region filled smoothly from the known pixels around it.

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
    """
    h, w = known.shape
    rx1, ry1, rx2, ry2 = region
    if thin(region):
        # The continued colours would show in a rim too thin to tell them from their mean.
        return np.broadcast_to(mean_colour(pixels, known), (ry2 - ry1, rx2 - rx1, 3)).copy()
    scale = min(1.0, WORK_SIZE / max(rx2 - rx1, ry2 - ry1))
    # Colour sums and the known share in one array: one resize per pyramid level.
    stack = cv2.merge((pixels, known.view(np.uint8))).astype(np.float32)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        stack = np.asarray(cv2.resize(stack, size, interpolation=cv2.INTER_AREA), np.float32).reshape(
            size[1], size[0], 4
        )
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
    return np.asarray(base).reshape(ry2 - ry1, rx2 - rx1, 3)


def mean_colour(pixels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``(3,) float32``: the mean colour of the ``known`` pixels (grey 128 without any)."""
    if not known.any():
        return np.full(3, 128.0, np.float32)
    return np.array(cv2.mean(pixels, mask=known.view(np.uint8))[:3], np.float32)


def thin(region: Bounds) -> bool:
    """Whether ``region``'s band of continued colours would be under :data:`FINEST_RIM`
    pixels wide: then their mean stands in for them."""
    x1, y1, x2, y2 = region
    return 0.5 * (CONTINUED_FROM - FLAT_UNTIL) * min(x2 - x1, y2 - y1) < FINEST_RIM


def neutral(colour: np.ndarray, within: float = 0.5) -> np.ndarray:
    """The flat colour over a face: the brightness of ``colour`` (RGB, 0..255) drawn
    :data:`GREY_FOLLOWS` of the way from :data:`GREY_MIDDLE`, moved by ``within`` (0..1)
    of :data:`GREY_SPREAD` (0.5: not at all), in :data:`NEUTRAL_TINT`.

    Continuous in ``colour``: surroundings that change a little change it a little.
    """
    grey = float(np.asarray(colour, np.float32) @ LUMA)
    level = GREY_MIDDLE + GREY_FOLLOWS * (grey - GREY_MIDDLE) + (within - 0.5) * GREY_SPREAD
    return np.clip(level * np.array(NEUTRAL_TINT, np.float32), 0, 255).astype(np.float32)


def quieted(base: np.ndarray, colour: np.ndarray, rim: np.ndarray) -> np.ndarray:
    """``base`` (the region's ``(h, w, 3)`` float32 colours, changed in place) turned into
    the flat ``colour`` by the weights ``rim`` (``(h, w, 1)``: 1 keeps ``base``, 0 is ``colour``)."""
    base -= colour
    base *= rim
    base += colour
    return base


def _rim(box: Box, enlarge: float, region: Bounds) -> np.ndarray:
    """``(h, w, 1)`` float32 for ``region``: 0 inside :data:`FLAT_UNTIL` times the radii of
    the region's ellipse, 1 from :data:`CONTINUED_FROM`, smooth in between."""
    left, top, right, bottom = grown_region(box, enlarge)
    x1, y1, x2, y2 = region
    return _rim_of(right - left, bottom - top)[y1 - top : y2 - top, x1 - left : x2 - left]


@lru_cache(maxsize=1024)
def _rim_of(width: int, height: int) -> np.ndarray:
    """:func:`_rim` for a whole ellipse ``width`` x ``height``, shared between calls."""
    t = np.clip((ellipse_radius(width, height) - FLAT_UNTIL) / (CONTINUED_FROM - FLAT_UNTIL), 0.0, 1.0)
    weight = np.ascontiguousarray((t * t * (3 - 2 * t))[:, :, None], np.float32)
    weight.flags.writeable = False
    return weight


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
    up *= 1.0 - np.minimum(weight, 1.0)
    up += stack[:, :, :3]
    return up


def seed(target: Target, pixels: np.ndarray) -> int:
    """What a face's random choices are drawn from (:func:`_draws`: the grain's start and
    strength, where the flat grey lies around the surroundings' brightness; the face of no one
    blurred into natural's shading or drawn by synthetic).

    With an ``identity`` (a video's track) it is that identity, so the choices hold over a
    track. Otherwise it is a hash of the face's surroundings, ``pixels`` (the crop around
    the region, zeros inside every region): two photos of one scene get unrelated choices,
    and still no pixel of a face feeds them. Choices that followed the face's position
    let recognizers match two near-identical photos of one person by the same grain
    pattern in the same place (bench/RESULTS.md, "Faces of no one").
    """
    if target.identity is not None:
        return target.identity
    return zlib.crc32(np.ascontiguousarray(pixels).data)


def _draws(seed: int) -> tuple[int, int, float, float]:
    """What a face's ``seed`` chooses: where the grain's pattern starts (two offsets in
    pixels) and two numbers in 0..1 (the flat grey's place around the surroundings' brightness, the grain's share)."""
    digest = hashlib.blake2b(seed.to_bytes(16, "little", signed=True), digest_size=8).digest()
    dx, dy, a, b = (int.from_bytes(digest[i : i + 2], "little") for i in range(0, 8, 2))
    return dx, dy, a / 65536, b / 65536


def finish(
    base: np.ndarray,
    strength: float,
    region: Bounds,
    start: tuple[int, int] = (0, 0),
    shade: np.ndarray | None = None,
) -> np.ndarray:
    """``base`` (the region's ``(h, w, 3)`` float32 colours, changed in place) with grain
    (and the grey levels ``shade``, ``(h, w)``, when given), as ``uint8``.

    The grain lies at fixed image positions (its pattern shifted by ``start``), so it
    does not crawl when a face moves.
    """
    x1, y1, x2, y2 = region
    grain = _grain_at(x1 + start[0], y1 + start[1], x2 - x1, y2 - y1)
    grey = min(GRAIN_MAX, strength) * grain + 0.5
    if shade is not None:
        grey += shade
    base += grey[:, :, None]
    # np.maximum and np.minimum: the same as np.clip, without its cost on a crowd's small regions
    np.maximum(base, 0, out=base)
    return np.asarray(np.minimum(base, 255, out=base).astype(np.uint8))


def texture_strength(image: np.ndarray, hidden: np.ndarray, area: Bounds) -> float:
    """How strong the picture's finest texture is around the faces, in units of the grain's.

    The texture is the grey image's 4-neighbour Laplacian on rows of ``area`` (at most
    :data:`_NOISE_ROWS` of them, evenly spaced) where none of the 5 pixels is ``hidden``
    (``area``'s ``(h, w)`` bool mask of the regions); its spread is measured robustly
    (median absolute deviation), so that a few strong edges do not count, the way camera
    noise is estimated. The noise of a camera is the same all over the picture, so one
    measure serves every face of it.
    """
    x1, y1, x2, y2 = area
    h = y2 - y1
    if h < 3 or x2 - x1 < 3:
        return 0.0
    rows = np.unique(np.linspace(1, h - 2, num=min(_NOISE_ROWS, h - 2)).round().astype(np.intp))
    around = (rows[:, None] + np.arange(-1, 2)[None, :]).ravel()  # each row with the rows above and below
    pixels = np.ascontiguousarray(image[y1 + around, x1:x2])
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(np.int16).reshape(len(rows), 3, -1)
    out = hidden[around].reshape(len(rows), 3, -1)
    laplacian = 4 * grey[:, 1, 1:-1] - grey[:, 0, 1:-1] - grey[:, 2, 1:-1] - grey[:, 1, :-2] - grey[:, 1, 2:]
    inner = ~(out[:, 1, 1:-1] | out[:, 0, 1:-1] | out[:, 2, 1:-1] | out[:, 1, :-2] | out[:, 1, 2:])
    values = laplacian[inner]
    if values.size < 16:
        return 0.0
    # Whole numbers in -1020..1020: exact medians from counts, in linear time.
    middle = _median_of_counts(np.bincount(values + 1020, minlength=2041)) - 1020
    spread = _median_of_counts(np.bincount(np.abs(values - middle)))
    return 1.4826 * spread / _grain_texture()


#: The rows the texture is measured on: enough for a steady median, few enough to stay cheap.
_NOISE_ROWS = 48


def _median_of_counts(counts: np.ndarray) -> int:
    """The (lower) median of a sample of whole numbers 0, 1, ... given by their counts."""
    return int(np.searchsorted(np.cumsum(counts), (counts.sum() + 1) // 2))


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


def _with_ring(bounds: Bounds, width: int, height: int) -> Bounds:
    """``bounds`` with the ring around it, clipped to the image."""
    x1, y1, x2, y2 = bounds
    ring = max(2, round(RING * max(x2 - x1, y2 - y1)))
    return max(0, x1 - ring), max(0, y1 - ring), min(width, x2 + ring), min(height, y2 + ring)


def _leaders(regions: Sequence[tuple[Bounds, np.ndarray]], seniority: Sequence[tuple[bool, int, int]]) -> list[int]:
    """For each region, the index of the region whose flat colour and grain it takes.

    Regions of which one covers at least :data:`SAME_FACE` of the other (one face found
    twice: a second, short-lived detection over a face in a video) form a group and look
    as one; with a look each, the face switched between two greys from frame to frame as
    the second came and went. A group takes the look of its oldest track (the lowest
    ``identity``: a newer track joining does not change it), in a photo of its largest
    region (the least ``seniority``, :func:`_seniority`). Heads that merely overlap keep a
    look each.
    """
    parent = list(range(len(regions)))
    sizes = [int(np.count_nonzero(mask)) for _, mask in regions]

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _overlapping(regions, sizes):
        ((x1, y1, x2, y2), mask), ((u1, v1, u2, v2), other) = regions[i], regions[j]
        left, top, right, bottom = max(x1, u1), max(y1, v1), min(x2, u2), min(y2, v2)
        ours = mask[top - y1 : bottom - y1, left - x1 : right - x1]
        theirs = other[top - v1 : bottom - v1, left - u1 : right - u1]
        if np.count_nonzero(ours & theirs) >= SAME_FACE * min(sizes[i], sizes[j]):
            parent[root(j)] = root(i)
    best: dict[int, int] = {}
    for i in range(len(regions)):
        group = root(i)
        if group not in best or (seniority[i], i) < (seniority[best[group]], best[group]):
            best[group] = i
    return [best[root(i)] for i in range(len(regions))]


def _overlapping(regions: Sequence[tuple[Bounds, np.ndarray]], sizes: Sequence[int]) -> list[tuple[int, int]]:
    """The pairs ``(i, j)``, ``i < j``, of regions whose rectangles overlap by at least
    :data:`SAME_FACE` of the smaller one's ellipse (``sizes``, in pixels): only they can
    share that much of their ellipses. In blocks of rows, so that a crowd's thousands of
    regions need no Python loop over every pair and no square matrix of them."""
    bounds = np.array([b for b, _ in regions], np.int64).reshape(-1, 4)
    least = SAME_FACE * np.asarray(sizes, np.float64)
    count = len(regions)
    pairs: list[tuple[int, int]] = []
    for first in range(0, count, _PAIR_ROWS):
        rows = bounds[first : first + _PAIR_ROWS, None, :]
        width = np.minimum(rows[..., 2], bounds[:, 2]) - np.maximum(rows[..., 0], bounds[:, 0])
        height = np.minimum(rows[..., 3], bounds[:, 3]) - np.maximum(rows[..., 1], bounds[:, 1])
        overlap = np.clip(width, 0, None) * np.clip(height, 0, None)
        enough = (overlap > 0) & (overlap >= np.minimum(least[first : first + _PAIR_ROWS, None], least))
        enough &= np.arange(first, first + len(rows))[:, None] < np.arange(count)
        ii, jj = np.nonzero(enough)
        pairs += zip((ii + first).tolist(), jj.tolist(), strict=True)
    return pairs


#: Rows of region pairs compared at once in :func:`_overlapping`.
_PAIR_ROWS = 256


def _seniority(target: Target, region: Bounds) -> tuple[bool, int, int]:
    """Sorts the oldest track first (the lowest ``identity``), then the largest region."""
    x1, y1, x2, y2 = region
    return (target.identity is None, target.identity or 0, -(x2 - x1) * (y2 - y1))


def _held_back(rim: np.ndarray, hidden: np.ndarray, area: Bounds, region: Bounds) -> np.ndarray:
    """``rim`` (a region's ``(h, w, 1)`` weights of the continued colours) held back where
    the region meets another region rather than its surroundings: there the two regions'
    flat colour runs on, so that a group reads as one shape."""
    x1, y1, x2, y2 = region
    outside = (~hidden[y1 - area[1] : y2 - area[1], x1 - area[0] : x2 - area[0]]).astype(np.float32)
    sigma = max(1.0, 0.1 * min(x2 - x1, y2 - y1))
    near = np.asarray(cv2.GaussianBlur(outside, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE), np.float32)
    near *= 2.5  # (never below 0: a blur of zeros and ones)
    return np.asarray(rim * np.minimum(near, 1.0, out=near)[:, :, None], np.float32)


def _hidden(area: Bounds, regions: Sequence[tuple[Bounds, np.ndarray]]) -> np.ndarray:
    """``(h, w)`` bool over ``area``: the pixels inside the ellipse of any of ``regions``
    (all inside ``area``). Made once per call: a crowd's hundreds of regions are not
    tested against every crop."""
    ax, ay = area[0], area[1]
    hidden = np.zeros((area[3] - ay, area[2] - ax), dtype=bool)
    for (x1, y1, x2, y2), mask in regions:
        hidden[y1 - ay : y2 - ay, x1 - ax : x2 - ax] |= mask
    return hidden
