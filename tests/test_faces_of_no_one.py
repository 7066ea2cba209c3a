"""``natural`` and ``synthetic``: rebuilt from the surroundings only, stable, a face of no one."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import unerkannt
from conftest import BENCH, FACE_BOX, ROOT, textured
from unerkannt import AnonymizationError, ProtectOptions
from unerkannt.anonymize import get_method
from unerkannt.anonymize.base import Target, ellipse_radius, face_region, grown_region
from unerkannt.anonymize.faces_of_no_one import LUMA
from unerkannt.anonymize.natural import CONTINUED_FROM, FLAT_UNTIL, SHADING, neutral, texture_strength
from unerkannt.detect.fake import FakeDetector
from unerkannt.faces import Face

METHODS = ("natural", "synthetic")
PHOTO = ROOT / "examples" / "astronaut.jpg"
ASTRONAUT = (182.0, 58.0, 270.0, 178.0)  # the astronaut's face (CenterFace finds it here)


def _inside(image: np.ndarray, boxes: list[tuple[float, float, float, float]], seed: int) -> np.ndarray:
    """``image`` with every pixel inside the boxes' regions replaced by noise of ``seed``."""
    height, width = image.shape[:2]
    out = image.copy()
    noise = np.random.default_rng(seed).integers(0, 256, image.shape, dtype=np.uint8)
    for box in boxes:
        (x1, y1, x2, y2), mask = face_region(box, 1.3, width, height)
        np.copyto(out[y1:y2, x1:x2], noise[y1:y2, x1:x2], where=mask[:, :, None])
    return out


def _box(box: tuple[float, float, float, float]) -> tuple[slice, slice]:
    x1, y1, x2, y2 = (int(v) for v in box)
    return slice(y1, y2), slice(x1, x2)


def _photo() -> np.ndarray:
    return np.asarray(Image.open(PHOTO).convert("RGB"))


@pytest.mark.parametrize("method", METHODS)
def test_not_one_pixel_of_the_face_feeds_the_output(method: str) -> None:
    # Two images that differ only inside the face region (every pixel of it) give the
    # same output, byte for byte: the region is rebuilt from what lies outside it.
    image = textured(seed=3)
    a, b = _inside(image, [FACE_BOX], seed=1), _inside(image, [FACE_BOX], seed=2)
    assert (a != b).any(axis=2).sum() > 1000
    outs = []
    for pixels in (a, b):
        out = pixels.copy()
        get_method(method).apply(out, FACE_BOX, enlarge=1.3, source=pixels)
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])
    # ... and through the pipeline, as a user calls it.
    detector = FakeDetector([FACE_BOX])
    options = ProtectOptions(method=method)
    pa = unerkannt.protect(a, options=options, detector=detector).image  # type: ignore[union-attr]
    pb = unerkannt.protect(b, options=options, detector=detector).image  # type: ignore[union-attr]
    assert np.array_equal(pa, pb)


@pytest.mark.parametrize("method", METHODS)
def test_no_face_feeds_another_face_given_with_it(method: str) -> None:
    # Faces given together: none of their regions feeds any of them, overlapping or not.
    image = _photo()
    boxes = [ASTRONAUT, (250.0, 120.0, 330.0, 220.0), (20.0, 300.0, 90.0, 380.0)]
    targets = [Target(box=b) for b in boxes]
    a, b = _inside(image, boxes, seed=1), _inside(image, boxes, seed=2)
    outs = []
    for pixels in (a, b):
        out = pixels.copy()
        regions = get_method(method).apply_all(out, targets, enlarge=1.3, source=pixels)
        assert len(regions) == 3
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize("method", METHODS)
def test_the_surroundings_do_feed_it(method: str) -> None:
    # The output follows what is around the face: not a constant stamp. Dark
    # surroundings give a darker region than bright ones, and a red surrounding reddens
    # the region where it meets it.
    dark, bright = np.full((80, 120, 3), 60, np.uint8), np.full((80, 120, 3), 200, np.uint8)
    red = dark.copy()
    red[:, :, 0] = 220
    outs = []
    for image in (dark, bright, red):
        out = image.copy()
        get_method(method).apply(out, FACE_BOX, enlarge=1.3, identity=1)  # the same random draws
        outs.append(out.astype(int))
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    assert outs[1][y1:y2, x1:x2].mean() > outs[0][y1:y2, x1:x2].mean() + 25
    (rx1, ry1, rx2, ry2), mask = face_region(FACE_BOX, 1.3, 120, 80)
    rim = np.zeros((80, 120), bool)
    rim[ry1:ry2, rx1:rx2] = mask & ~cv2.erode(mask.view(np.uint8), np.ones((5, 5), np.uint8)).view(bool)
    assert outs[2][rim][:, 0].mean() > outs[0][rim][:, 0].mean() + 60


def test_natural_continues_the_colour_and_the_grain_of_the_surroundings() -> None:
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal((170, 120, 60), 4.0, (200, 240, 3)), 0, 255).astype(np.uint8)
    box = (90.0, 60.0, 150.0, 130.0)
    image[60:130, 90:150] = 20  # a dark "face"
    out = image.copy()
    get_method("natural").apply(out, box, enlarge=1.3)
    (x1, y1, x2, y2), mask = face_region(box, 1.3, 240, 200)
    # Where the region meets its surroundings it continues their colour; over the face
    # itself (and out to FLAT_UNTIL of the region's radii) it is the neutral grey of their
    # brightness.
    left, top, right, bottom = grown_region(box, 1.3)
    radius = ellipse_radius(right - left, bottom - top)[y1 - top : y2 - top, x1 - left : x2 - left]
    ys, xs = np.mgrid[y1:y2, x1:x2] + 0.5
    in_box = np.hypot((xs - 120.0) / 30.0, (ys - 95.0) / 35.0)
    rim, face = mask & (radius >= CONTINUED_FROM - 0.05), mask & (in_box < 0.9)
    assert (radius[face] < FLAT_UNTIL).all()
    region = out[y1:y2, x1:x2].astype(float)
    assert np.allclose(region[rim].mean(axis=0), (170, 120, 60), atol=12), region[rim].mean(axis=0)
    # (where in the step of the surroundings' brightness is drawn at random for each face)
    lowest, highest = (neutral(np.array((170, 120, 60), np.float32), within) for within in (0.0, 1.0))
    assert (region[face].mean(axis=0) >= lowest - SHADING).all(), region[face].mean(axis=0)
    assert (region[face].mean(axis=0) <= highest + SHADING).all(), region[face].mean(axis=0)
    # The grain: as strong inside as around, by the method's own measure of fine texture.
    inside = np.zeros((200, 240), bool)
    inside[y1:y2, x1:x2] = mask
    whole = (0, 0, 240, 200)
    around = texture_strength(out, inside, whole)
    within = texture_strength(out, ~inside, whole)
    assert around > 2.0 and 0.75 < within / around < 1.33, (around, within)


@pytest.mark.parametrize("method", METHODS)
def test_the_face_itself_takes_only_the_mean_colour_of_the_surroundings(method: str) -> None:
    # Surroundings with the same mean colour laid out differently (red left of the face
    # and blue right of it, or the other way round, as hair, neck and background of two
    # photos may be) give the same pixels over the face: a recognizer's crop of the face
    # sees nothing of how the surroundings are arranged, only where they meet it.
    height, width = 200, 240
    box = (90.0, 60.0, 150.0, 130.0)  # centred on x = 120
    sides = np.zeros((height, width, 3), np.uint8)
    sides[:, : width // 2] = (200, 40, 40)
    sides[:, width // 2 :] = (40, 40, 200)
    mirrored = np.ascontiguousarray(sides[:, ::-1])
    outs = []
    for image in (sides, mirrored):
        out = image.copy()
        # One identity: the same random choices (the grain's start, the face drawn) in both.
        get_method(method).apply(out, box, enlarge=1.3, identity=1)
        outs.append(out.astype(int))
    x1, y1, x2, y2 = box
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    face = ((xs - (x1 + x2) / 2) / ((x2 - x1) / 2)) ** 2 + ((ys - (y1 + y2) / 2) / ((y2 - y1) / 2)) ** 2 < 0.9**2
    assert np.abs(outs[0][face] - outs[1][face]).max() <= 1
    # ...while the region's edge continues each picture's own colours.
    (rx1, ry1, rx2, ry2), mask = face_region(box, 1.3, width, height)
    edge = np.zeros((height, width), bool)
    edge[ry1:ry2, rx1:rx2] = mask & ~cv2.erode(mask.view(np.uint8), np.ones((5, 5), np.uint8)).view(bool)
    assert np.abs(outs[0][edge] - outs[1][edge]).mean() > 40


def test_natural_without_any_surroundings_is_neutral() -> None:
    # A face that fills the whole picture leaves no pixel to rebuild from: the neutral
    # warm grey of a mid-grey surrounding, with the soft shading of a face, nothing else.
    image = textured(width=40, height=40)
    box = (-30.0, -30.0, 70.0, 70.0)
    out = image.copy()
    get_method("natural").apply(out, box, enlarge=1.3)
    lowest, highest = (neutral(np.full(3, 128.0, np.float32), within) for within in (0.0, 1.0))
    mean = out.reshape(-1, 3).mean(axis=0)
    assert (mean >= lowest - 2 * SHADING).all() and (mean <= highest + 2 * SHADING).all(), mean
    # One tint everywhere: the channels differ by the tint's ratios only (shading and grain are grey).
    spread = out.astype(int)[:, :, 0] - out.astype(int)[:, :, 2]
    assert spread.max() - spread.min() <= 4


@pytest.mark.parametrize("method", METHODS)
def test_a_face_that_moves_a_pixel_changes_a_little(method: str) -> None:
    # Video: the output is a function of the geometry and the outside pixels, and a
    # small move of the box moves it a little (no flicker between frames).
    image = _photo()
    x1, y1, x2, y2 = ASTRONAUT
    outs = []
    for dx in (0.0, 1.0):
        out = image.copy()
        get_method(method).apply(out, (x1 + dx, y1, x2 + dx, y2), enlarge=1.3, identity=5)
        outs.append(out.astype(int))
    again = image.copy()
    get_method(method).apply(again, ASTRONAUT, enlarge=1.3, identity=5)
    assert np.array_equal(again, outs[0]), "the same input must give the same output"
    inner = (slice(int(y1) + 10, int(y2) - 10), slice(int(x1) + 10, int(x2) - 10))
    moved = np.abs(outs[1][inner] - outs[0][inner]).mean()
    changed = np.abs(outs[0][inner] - image[inner].astype(int)).mean()
    assert moved < 6 and changed > 5 * moved, (moved, changed)


def test_the_flat_grey_follows_the_surroundings_without_a_jump() -> None:
    # Video: a face passing a background a little lighter or darker, frame by frame, must
    # not switch from one grey to another (a flicker), whatever its draw. Backgrounds one
    # grey level apart, across what were once the grey's steps (every 48 levels).
    noise = np.random.default_rng(4).normal(0, 2.0, (160, 160, 3))
    for identity in (1, 2, 3):
        greys = [_face_over(level + noise, identity).mean() for level in range(88, 201, 2)]
        assert np.abs(np.diff(greys)).max() < 4, (identity, np.round(np.diff(greys), 1))


def test_the_flat_grey_spreads_as_real_faces_do_around_their_surroundings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two photos of one scene must rarely share a grey: it is drawn over a little more than
    # the range in which real faces lie around the brightness their surroundings suggest
    # (the middle 80 % of the detection kit's faces span about 80 grey levels), centred on
    # mid-grey over mid-grey surroundings. (The grey alone: without the blurred face over it.)
    monkeypatch.setattr("unerkannt.anonymize.natural.SHADING", 0.0)
    background = 128 + np.random.default_rng(5).normal(0, 2.0, (160, 160, 3))
    levels = np.array([(_face_over(background, identity) @ LUMA).mean() for identity in range(40)])
    assert levels.max() - levels.min() > 100, np.round(np.sort(levels))
    assert abs(levels.mean() - 128) < 15 and np.abs(levels - 128).max() < 70, np.round(np.sort(levels))


def test_the_flat_grey_follows_the_surroundings_only_as_far_as_real_faces_do() -> None:
    # A face's brightness is mostly its own: the kits' faces lie about 0.4 times as far
    # from mid-grey as their surroundings (0.0 in press photos). The grey over a dark and
    # a light background, each face with the same draw, is lighter over the light one,
    # but by about 0.4 of the backgrounds' 176 levels, not all of them.
    noise = np.random.default_rng(6).normal(0, 2.0, (160, 160, 3))
    dark, light = (
        np.array([(_face_over(level + noise, identity) @ LUMA).mean() for identity in range(20)]) for level in (40, 216)
    )
    assert (light > dark).all(), np.round(light - dark)
    assert 45 < (light - dark).mean() < 100, np.round(light - dark)


def test_each_face_gets_a_blurred_face_of_no_one_of_its_own() -> None:
    # Over a flat grey (no grain: it has no texture) what is left in the face's box is the
    # shading: a blurred face, as strong as SHADING, and not the same for every face (one
    # pattern for everyone let recognizers read the scene around it instead).
    background = np.full((160, 160, 3), 128.0)
    left, top, right, bottom = grown_region(_OVER_BOX, 1.3)
    rows, cols = _box(_OVER_BOX)
    radius = ellipse_radius(right - left, bottom - top)[
        rows.start - top : rows.stop - top, cols.start - left : cols.stop - left
    ]
    flat = radius < 0.7  # inside the flat grey: the band towards the surroundings lies beyond FLAT_UNTIL
    patterns = []
    for identity in range(8):
        grey = (_face_over(background, identity) @ LUMA)[flat]
        patterns.append(grey - grey.mean())
    assert all(0.5 * SHADING < p.std() < 2 * SHADING for p in patterns), [round(p.std(), 1) for p in patterns]
    alike = np.corrcoef(patterns)[np.triu_indices(len(patterns), 1)]
    assert np.median(alike) < 0.9, np.round(alike, 2)


#: The face of :func:`_face_over`, in a 160 x 160 picture.
_OVER_BOX = (50.0, 40.0, 110.0, 120.0)


def _face_over(background: np.ndarray, identity: int) -> np.ndarray:
    """The ``(h, w, 3)`` float pixels of :data:`_OVER_BOX` protected with natural over ``background`` (clipped)."""
    out = np.clip(background, 0, 255).astype(np.uint8)
    get_method("natural").apply(out, _OVER_BOX, enlarge=1.3, identity=identity)
    return out[_box(_OVER_BOX)].astype(float)


def _flat_mean(
    out: np.ndarray,
    box: tuple[float, float, float, float],
    away: tuple[float, float, float, float],
    within: float = 0.5,
) -> np.ndarray:
    """The mean colour of ``box``'s flat part (inside ``within`` of its region's radii) outside ``away``'s region."""
    height, width = out.shape[:2]
    (x1, y1, x2, y2), mask = face_region(box, 1.3, width, height)
    left, top, right, bottom = grown_region(box, 1.3)
    part = np.zeros((height, width), bool)
    radius = ellipse_radius(right - left, bottom - top)[y1 - top : y2 - top, x1 - left : x2 - left]
    part[y1:y2, x1:x2] = mask & (radius < within)
    (u1, v1, u2, v2), other = face_region(away, 1.3, width, height)
    part[v1:v2, u1:u2] &= ~other
    return out[part].astype(float).mean(axis=0)


def _natural(image: np.ndarray, faces: list[tuple[tuple[float, float, float, float], int | None]]) -> np.ndarray:
    out = image.copy()
    get_method("natural").apply_all(out, [Target(box=box, identity=identity) for box, identity in faces], enlarge=1.3)
    return out


@pytest.mark.parametrize("identities", [(None, None), (3, 9), (9, 3)])
def test_one_face_found_twice_takes_one_grey(
    identities: tuple[int | None, int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second detection over a face (in a video, a short-lived second track) gets the
    # face's flat grey and grain, not its own: with a look each, the face switched between
    # two greys from frame to frame as the second came and went. The pair takes the look
    # of its oldest track, in a photo of its larger region, in whatever order the faces
    # are given. (Without the faint face shading, which differs with each face's box, only
    # the grey and the grain remain.)
    monkeypatch.setattr("unerkannt.anonymize.natural.SHADING", 0.0)
    image = np.clip(np.random.default_rng(7).normal(110, 6, (200, 260, 3)), 0, 255).astype(np.uint8)
    face, again = (60.0, 50.0, 140.0, 150.0), (95.0, 55.0, 165.0, 145.0)  # 3/4 of the second is the first's
    for order in (1, -1):
        pairs = list(zip((face, again), identities, strict=True))[::order]
        out = _natural(image, pairs)
        one, two = _flat_mean(out, face, again), _flat_mean(out, again, face, FLAT_UNTIL)
        assert np.abs(one - two).max() < 2, (order, one, two)
        if identities[0] is None:
            continue  # (a photo's draws hash the surroundings, which the second region changes)
        # A video: the pair's look is its oldest track's, the same as when that track is
        # alone, so a newer track coming and going does not change it.
        oldest = face if identities[0] < identities[1] else again  # type: ignore[operator]
        other = again if oldest == face else face
        alone = _natural(image, [(oldest, dict(pairs)[oldest])])
        flat = (_flat_mean(picture, oldest, other, FLAT_UNTIL) for picture in (alone, out))
        assert np.abs(next(flat) - next(flat)).max() < 3


def test_overlapping_heads_keep_a_look_each_and_the_oldest_lies_on_top() -> None:
    # Two people's heads that overlap a little keep their own greys; where they overlap,
    # the oldest track's region lies on top whatever the order of the detections, so
    # which one shows does not change from frame to frame.
    image = np.clip(np.random.default_rng(2).normal(110, 6, (200, 260, 3)), 0, 255).astype(np.uint8)
    left, right = (40.0, 50.0, 120.0, 150.0), (105.0, 55.0, 185.0, 155.0)
    outs = [_natural(image, faces) for faces in ([(left, 4), (right, 11)], [(right, 11), (left, 4)])]
    assert np.array_equal(outs[0], outs[1])
    assert np.abs(_flat_mean(outs[0], left, right) - _flat_mean(outs[0], right, left)).max() > 3


@pytest.mark.parametrize("method", METHODS)
def test_faces_found_again_inside_a_larger_region_are_not_drawn(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A crowd's detector reports one face several times; a region wholly under a larger
    # one (which lies on top) is not rebuilt: the picture is the same byte for byte
    # whichever of them, and how many, are given with the larger one, in whatever order,
    # and one region only is finished each time.
    import unerkannt.anonymize.natural as natural
    import unerkannt.anonymize.synthetic as synthetic

    finished = []

    def counted(*args: object, **kwargs: object) -> np.ndarray:
        finished.append(1)
        return natural_finish(*args, **kwargs)  # type: ignore[arg-type]

    natural_finish = natural.finish
    monkeypatch.setattr(natural, "finish", counted)
    monkeypatch.setattr(synthetic, "finish", counted)
    image = _photo()
    inner, other = (200.0, 80.0, 250.0, 140.0), (215.0, 100.0, 245.0, 150.0)
    for box in (inner, other):
        assert _covers(face_region(ASTRONAUT, 1.3, 512, 512), face_region(box, 1.3, 512, 512))
    outs = []
    for boxes in ([ASTRONAUT, inner], [other, ASTRONAUT], [inner, ASTRONAUT, other]):
        out = image.copy()
        regions = get_method(method).apply_all(out, [Target(box=b, score=0.9) for b in boxes], enlarge=1.3)
        assert len(regions) == len(boxes)
        assert len(finished) == 1
        finished.clear()
        outs.append(out)
    assert (outs[0] != image).any(axis=2).sum() > 5000
    assert all(np.array_equal(outs[0], out) for out in outs[1:])


def _covers(
    outer: tuple[tuple[int, int, int, int], np.ndarray], inner: tuple[tuple[int, int, int, int], np.ndarray]
) -> bool:
    """Whether the ellipse of region ``outer`` holds every pixel of ``inner``'s."""
    (x1, y1, x2, y2), mask = outer
    (u1, v1, u2, v2), small = inner
    if not (x1 <= u1 and y1 <= v1 and u2 <= x2 and v2 <= y2):
        return False
    return bool(mask[v1 - y1 : v2 - y1, u1 - x1 : u2 - x1][small].all())


def _grain_of(out: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The fine texture over the middle of a face: the output less its blur, in grey."""
    grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32)
    fine = grey - cv2.GaussianBlur(grey, (0, 0), 0.8)
    x1, y1, x2, y2 = (int(v) for v in box)
    dx, dy = (x2 - x1) // 4, (y2 - y1) // 4
    return fine[y1 + dy : y2 - dy, x1 + dx : x2 - dx].ravel()


@pytest.mark.parametrize("method", METHODS)
def test_two_photos_of_one_scene_get_unrelated_choices(method: str) -> None:
    # Two near-identical photos (a burst, one press event) where the face sits in the same
    # place: the grain's pattern (and synthetic's face of no one) must not repeat, or a
    # recognizer matches the two by it. The same photo twice gives the same output.
    image = _photo()
    burst = image.copy()
    burst[40:44, 150:154] += 1  # a few pixels of the surroundings, well outside the face
    outs = []
    for picture in (image, burst, image):
        out = picture.copy()
        get_method(method).apply(out, ASTRONAUT, enlarge=1.3)
        outs.append(out)
    assert np.array_equal(outs[0], outs[2])
    same_place = np.corrcoef(_grain_of(outs[0], ASTRONAUT), _grain_of(outs[1], ASTRONAUT))[0, 1]
    assert abs(same_place) < 0.3, same_place
    # ...while a track of a video (one identity) keeps its grain where it is.
    kept = []
    for picture in (image, burst):
        out = picture.copy()
        get_method(method).apply(out, ASTRONAUT, enlarge=1.3, identity=7)
        kept.append(out)
    assert np.corrcoef(_grain_of(kept[0], ASTRONAUT), _grain_of(kept[1], ASTRONAUT))[0, 1] > 0.9


def test_identity_chooses_which_face_of_no_one_is_drawn() -> None:
    from unerkannt.anonymize.faces_of_no_one import model_faces

    image = _photo()
    outs = {}
    for identity in (0, 1, len(model_faces())):
        out = image.copy()
        get_method("synthetic").apply(out, ASTRONAUT, enlarge=1.3, identity=identity)
        outs[identity] = out.astype(int)
    face = _box(ASTRONAUT)
    # Compared without the grain and the grey's brightness (which each identity also chooses).
    soft = {i: cv2.GaussianBlur(out.astype(np.float32), (0, 0), 3)[face] for i, out in outs.items()}
    soft = {i: pixels - pixels.mean(axis=(0, 1)) for i, pixels in soft.items()}
    assert np.abs(soft[0] - soft[1]).mean() > 4, "another identity must draw another face"
    assert np.abs(soft[0] - soft[len(model_faces())]).mean() < 1, "identities repeat over the model's faces"
    again = image.copy()
    get_method("synthetic").apply(again, ASTRONAUT, enlarge=1.3, identity=0)
    assert np.array_equal(again, outs[0]), "one identity, one output"


def test_only_the_eye_line_turns_the_drawn_face() -> None:
    # The eyes' angle turns the face; where exactly they are (their distance, their
    # height: the person's own geometry) changes nothing.
    image = _photo()

    def drawn(eyes: tuple[tuple[float, float], tuple[float, float]] | None) -> np.ndarray:
        out = image.copy()
        get_method("synthetic").apply(out, ASTRONAUT, enlarge=1.3, identity=2, eyes=eyes)
        return out.astype(int)

    level = drawn(((200.0, 100.0), (250.0, 100.0)))
    assert np.array_equal(level, drawn(((210.0, 110.0), (230.0, 110.0))))
    assert np.array_equal(level, drawn(None))
    assert np.array_equal(level, drawn(((250.0, 100.0), (200.0, 100.0)))), "the eyes' order does not matter"
    turned = drawn(((200.0, 90.0), (250.0, 110.0)))
    assert np.abs(turned[_box(ASTRONAUT)] - level[_box(ASTRONAUT)]).mean() > 4


def test_unlikely_detections_get_no_face_drawn() -> None:
    image = _photo()
    synthetic, natural = image.copy(), image.copy()
    get_method("synthetic").apply(synthetic, ASTRONAUT, enlarge=1.3, score=0.2)
    get_method("natural").apply(natural, ASTRONAUT, enlarge=1.3)
    assert np.array_equal(synthetic, natural)
    likely = image.copy()
    get_method("synthetic").apply(likely, ASTRONAUT, enlarge=1.3, score=0.9)
    assert not np.array_equal(likely, natural)


def test_target_of_a_face_takes_box_eyes_and_score() -> None:
    marks = ((1.0, 2.0), (3.0, 2.0), (2.0, 3.0), (1.0, 4.0), (3.0, 4.0))
    face = Face(box=(0.0, 0.0, 4.0, 5.0), score=0.7, detector="x", landmarks=marks)
    target = Target.of(face, identity=3)
    assert (target.box, target.eyes, target.score, target.identity) == (face.box, marks[:2], 0.7, 3)
    assert Target.of(Face(box=face.box, score=0.1, detector="x")).eyes is None


@pytest.mark.parametrize("method", METHODS)
def test_a_damaged_face_model_fails_closed(method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unerkannt.anonymize import faces_of_no_one

    broken = tmp_path / "faces.npy"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(faces_of_no_one, "MODEL", broken)
    faces_of_no_one.model_faces.cache_clear()
    faces_of_no_one.shading.cache_clear()
    try:
        with pytest.raises(AnonymizationError, match="faces of no one"):
            unerkannt.protect(textured(), options=ProtectOptions(method=method), detector=FakeDetector([FACE_BOX]))
    finally:
        faces_of_no_one.model_faces.cache_clear()
        faces_of_no_one.shading.cache_clear()


def test_the_shipped_model_is_the_one_its_provenance_names() -> None:
    from unerkannt.anonymize.faces_of_no_one import MODEL, model_faces

    provenance = (MODEL.parent / "PROVENANCE.md").read_text()
    digests = re.findall(r"`faces-of-no-one\.npy`.*?`([0-9a-f]{64})`", provenance)
    assert digests == [hashlib.sha256(MODEL.read_bytes()).hexdigest()]
    faces = model_faces()
    assert len(faces) >= 8 and len({f.tobytes() for f in faces}) == len(faces)


@pytest.mark.bench
def test_the_face_model_rebuilds_byte_for_byte(tmp_path: Path) -> None:
    # tools/build_face_model.py on the kit's CC0 half, with the versions PROVENANCE.md names.
    import cv2
    import onnxruntime
    import PIL

    from _recognition import require_recognition
    from unerkannt.anonymize.faces_of_no_one import MODEL

    kit = BENCH / "detect"
    if not (kit / "annotations.json").is_file():
        pytest.skip("../shared/bench is not present")
    require_recognition()
    import dlib

    versions = (np.__version__, PIL.__version__, cv2.__version__, onnxruntime.__version__, dlib.__version__)
    provenance = " ".join((MODEL.parent / "PROVENANCE.md").read_text().split())
    pinned = re.search(r"numpy (\S+), Pillow (\S+), OpenCV (\S+), onnxruntime (\S+) and dlib (\S+) ", provenance)
    assert pinned is not None
    if versions != pinned.groups():
        pytest.skip(
            f"the file was built with numpy, Pillow, OpenCV, onnxruntime, dlib {pinned.groups()}, not {versions}"
        )
    out = tmp_path / "faces.npy"
    tool = ROOT / "tools" / "build_face_model.py"
    proc = subprocess.run([sys.executable, str(tool), "--kit", str(kit), "--out", str(out)], capture_output=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_bytes() == MODEL.read_bytes()


@pytest.mark.models
@pytest.mark.parametrize("method", METHODS)
def test_the_recognizers_no_longer_know_the_astronaut(method: str, tmp_path: Path) -> None:
    # The real pipeline (CenterFace, YuNet's check) and the real audit (SFace, dlib).
    from _recognition import require_recognition

    require_recognition()
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "unerkannt"]
    proc = subprocess.run([*cli, "protect", str(PHOTO), "-o", str(out), "--method", method], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert b"weaker" not in proc.stderr
    protected = out / PHOTO.name
    before, after = _photo().astype(int), np.asarray(Image.open(protected).convert("RGB")).astype(int)
    x1, y1, x2, y2 = (int(v) for v in ASTRONAUT)
    assert np.abs(after[y1:y2, x1:x2] - before[y1:y2, x1:x2]).mean() > 15
    audit = subprocess.run([*cli, "audit", str(PHOTO), str(protected)], capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "not re-identified" in audit.stdout


@pytest.mark.parametrize("method", METHODS)
def test_the_http_api_protects_with_the_method(method: str, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import io

    from fastapi.testclient import TestClient

    from unerkannt.service import ServiceConfig, create_app

    buf = io.BytesIO()
    Image.fromarray(textured()).save(buf, "PNG")
    app = create_app(ServiceConfig(temp_dir=str(tmp_path)), detector=FakeDetector([FACE_BOX]))
    with TestClient(app, base_url="http://localhost") as client:
        assert {"name": method, "weak": False} in client.get("/v1/config").json()["methods"]
        r = client.post(f"/v1/protect?method={method}", content=buf.getvalue(), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    assert r.headers["x-unerkannt-faces"] == "1" and r.headers["x-unerkannt-weak"] == "false"
    out = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")).astype(int)
    assert np.abs(out[_box(FACE_BOX)] - textured()[_box(FACE_BOX)].astype(int)).mean() > 20
    assert np.array_equal(out[:, :20], textured()[:, :20])


def test_a_thin_region_takes_the_mean_of_its_surroundings() -> None:
    # A region under 30 px: its edge is the surroundings' mean colour (no continued colours
    # in a rim of a pixel or two), its middle the flat grey, and still nothing of the face.
    from unerkannt.anonymize.natural import thin

    image = np.zeros((60, 60, 3), np.uint8)
    image[:, :30] = (200, 40, 40)
    image[:, 30:] = (40, 40, 200)
    box = (24.0, 24.0, 36.0, 36.0)
    (x1, y1, x2, y2), mask = face_region(box, 1.3, 60, 60)
    assert thin((x1, y1, x2, y2))
    outs = []
    for inside in (0, 255):
        picture = image.copy()
        picture[24:36, 24:36] = inside
        get_method("natural").apply(picture, box, enlarge=1.3, identity=3)
        outs.append(picture.astype(int))
    assert np.array_equal(outs[0], outs[1])
    region = outs[0][y1:y2, x1:x2]
    left, top, right, bottom = grown_region(box, 1.3)
    radius = ellipse_radius(right - left, bottom - top)[y1 - top : y2 - top, x1 - left : x2 - left]
    edge = mask & (radius > 0.93)
    half = region.shape[1] // 2
    left, right = region[:, :half][edge[:, :half]].mean(axis=0), region[:, half:][edge[:, half:]].mean(axis=0)
    # The mean of red and blue on both sides: continued colours would be red on the left.
    assert np.abs(left - right).max() < 12 and abs(left[0] - left[2]) < 25, (left, right)
    middle = region[mask & (radius < 0.5)].mean(axis=0)
    lowest, highest = (neutral(np.array((120, 40, 120), np.float32), w) for w in (0.0, 1.0))
    assert (middle >= lowest - 6).all() and (middle <= highest + 6).all(), middle
