"""Anonymization methods on arrays, with a fake detector."""

from __future__ import annotations

import numpy as np
import pytest

import unerkannt
from conftest import FACE_BOX, textured
from unerkannt import InputError, ProtectOptions
from unerkannt.anonymize import METHODS, get_method
from unerkannt.anonymize.base import ellipse_mask, enlarge_box
from unerkannt.anonymize.fill import PALETTE
from unerkannt.detect.fake import FakeDetector


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 12


class SecondLook(FakeDetector):
    """Finds ``first`` on its first call (detection) and ``then`` on the later ones (verification)."""

    def __init__(self, first: list[tuple[float, float, float, float]], then: list[tuple[float, float, float, float]]):
        super().__init__(first)
        self.then = then

    def detect(self, image: np.ndarray):  # type: ignore[no-untyped-def]
        if self.calls > 0:
            self.boxes = self.then
        return super().detect(image)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_changes_the_face_and_nothing_far_from_it(method: str) -> None:
    image = textured()
    result = unerkannt.protect(image, options=ProtectOptions(method=method), detector=FakeDetector([FACE_BOX]))
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    changed = _changed(image, result.image)
    assert changed[y1 + 8 : y2 - 8, x1 + 8 : x2 - 8].mean() > 0.6
    assert not changed[:, :20].any() and not changed[:, 100:].any()
    assert (image == textured()).all(), "the input array must not be modified"
    assert [f.action for f in result.faces] == [method]


def test_fill_leaves_no_trace_of_the_face() -> None:
    a, b = textured(seed=1), textured(seed=2)
    detector = FakeDetector([FACE_BOX])
    ra = unerkannt.protect(a, detector=detector).image
    rb = unerkannt.protect(b, detector=detector).image
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    inner_a, inner_b = ra[y1 + 4 : y2 - 4, x1 + 4 : x2 - 4], rb[y1 + 4 : y2 - 4, x1 + 4 : x2 - 4]
    # Different faces become the same blank: one flat colour of the palette, nothing of the face.
    palette = {tuple(int(v) for v in c) for c in PALETTE}
    for inner in (inner_a, inner_b):
        colours = np.unique(inner.reshape(-1, 3), axis=0)
        assert len(colours) == 1 and tuple(int(v) for v in colours[0]) in palette, "fill must be one palette colour"
    assert np.array_equal(inner_a, inner_b)


def test_fill_contrasts_with_the_face() -> None:
    grey = np.full((80, 120, 3), 128, np.uint8)
    out = unerkannt.protect(grey, detector=FakeDetector([FACE_BOX])).image
    assert _changed(grey, out)[25:55, 45:75].all(), "a grey face must not be filled with grey"


def test_enlarge_grows_the_region() -> None:
    image = textured()
    small = unerkannt.protect(image, options=ProtectOptions(enlarge=1.0), detector=FakeDetector([FACE_BOX])).image
    large = unerkannt.protect(image, options=ProtectOptions(enlarge=1.8), detector=FakeDetector([FACE_BOX])).image
    assert _changed(image, large).sum() > 1.5 * _changed(image, small).sum()


def test_enlarge_box_is_clipped_and_never_empty() -> None:
    assert enlarge_box((-10, -10, 5, 5), 2.0, 100, 50)[:2] == (0, 0)
    x1, y1, x2, y2 = enlarge_box((99.5, 49.5, 100, 50), 1.0, 100, 50)
    assert x2 > x1 and y2 > y1 and x2 <= 100 and y2 <= 50
    assert ellipse_mask(1, 1).all()
    mask = ellipse_mask(40, 20)
    assert mask[10, 20] and not mask[0, 0] and 0.7 < mask.mean() < 0.85


@pytest.mark.parametrize("method", list(METHODS))
def test_a_face_cut_by_the_edge_is_covered_up_to_the_edge(method: str) -> None:
    # The left half of this face lies outside the picture: its ellipse is the whole
    # face's, cut at the edge, so the edge column is covered along the face's height.
    image = textured()
    box = (-20.0, 20.0, 20.0, 60.0)
    copy = image.copy()
    x1, _, x2, _ = get_method(method).apply(copy, box, enlarge=1.3, source=image)
    changed = _changed(image, copy)
    assert x1 == 0 and x2 > 20
    assert changed[25:55, 0].mean() > 0.9 and changed[25:55, 10].mean() > 0.9


def test_weak_methods_are_marked() -> None:
    assert not get_method("fill").weak and not get_method("natural").weak and not get_method("synthetic").weak
    assert get_method("pixelate").weak and get_method("blur").weak
    for name in METHODS:
        method = get_method(name)
        assert method.name == name and method.summary
        assert ("weaker" in method.summary) == method.weak


def test_manual_boxes_are_protected_too() -> None:
    image = textured()
    options = ProtectOptions(manual_boxes=((0.0, 0.0, 20.0, 20.0),))
    result = unerkannt.protect(image, options=options, detector=FakeDetector([]))
    assert _changed(image, result.image)[4:16, 4:16].mean() > 0.9
    assert result.faces[0].face.detector == "manual"


def test_verification_catches_what_the_first_pass_missed() -> None:
    missed = [FACE_BOX, (0.0, 0.0, 24.0, 24.0)]
    image = textured()
    result = unerkannt.protect(image, detector=SecondLook([FACE_BOX], missed))
    stages = sorted(f.stage for f in result.faces)
    assert stages == ["detect", "verify"]
    assert _changed(image, result.image)[4:18, 4:18].mean() > 0.9
    plain = unerkannt.protect(image, options=ProtectOptions(verify=False), detector=SecondLook([FACE_BOX], missed))
    assert [f.stage for f in plain.faces] == ["detect"]


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((0, 5, 3), np.uint8),
    ],
)
def test_bad_arrays_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(InputError):
        unerkannt.protect(bad, detector=FakeDetector())


def test_a_face_only_the_verifier_finds_beside_a_consented_face_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    import unerkannt.core

    monkeypatch.setattr(unerkannt.core, "consented_faces", lambda image, faces, path: {0: "Ada"})
    image = textured()
    small = (34.0, 4.0, 46.0, 16.0)  # above the consented face's box, inside its grown region
    result = unerkannt.protect(
        image, options=ProtectOptions(consent="registry.json"), detector=SecondLook([FACE_BOX], [FACE_BOX, small])
    )
    assert [(f.action, f.stage) for f in result.faces] == [("visible", "detect"), ("fill", "verify")]
    changed = _changed(image, result.image)
    assert changed[6:14, 36:44].mean() > 0.9
    assert not changed[30:50, 50:70].any()  # the consented face itself is untouched
