"""The real models on real faces shipped with the tests (tests/data/faces, CC0): recall,
verification and the consent rule's real thresholds, without the bench kit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

import unerkannt
from _recognition import require_recognition
from conftest import ROOT
from unerkannt import ProtectOptions
from unerkannt.detect import load_detector
from unerkannt.faces import iou

pytestmark = pytest.mark.models

FACES = ROOT / "tests" / "data" / "faces"
#: The data set's annotations (tests/data/faces/SOURCE.md).
BOXES = {
    "person-a.jpg": [(115, 222, 225, 373)],
    "person-a-again.jpg": [(95, 195, 193, 338)],
    "person-a-turned.jpg": [(152, 192, 239, 319)],
    "person-b.jpg": [(89, 169, 215, 309)],
    "group-masked.jpg": [(37, 60, 112, 137), (145, 116, 229, 209), (268, 16, 380, 135)],
}
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _changed(before: np.ndarray, after: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = box
    diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2) > 12
    return float(diff[y1:y2, x1:x2].mean())


@pytest.mark.parametrize("name", sorted(BOXES))
def test_every_annotated_face_is_filled_and_no_detector_finds_it_again(name: str, tmp_path: Path) -> None:
    """Masked, turned and frontal faces: filled in the written file, and neither model family
    (YuNet at 1x and 2x, CenterFace at a low threshold) finds a face there afterwards."""
    result = unerkannt.protect(FACES / name, tmp_path / name)
    assert result.ok
    before, after = _rgb(FACES / name), _rgb(tmp_path / name)
    # Annotated boxes include hats and hair around the face: the ellipse leaves their corners.
    for box in BOXES[name]:
        assert _changed(before, after, box) > 0.8, f"{box} of {name} not filled"
    checkers = [
        load_detector("yunet", threshold=0.5, scales=(1.0, 2.0)),
        load_detector("centerface", threshold=0.3, scales=(1.0,)),
    ]
    for checker in checkers:
        for face in checker.detect(after):
            assert all(iou(face.box, box) < 0.3 for box in BOXES[name]), f"{checker.name} still finds {face.box}"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    require_recognition()
    path = tmp_path_factory.mktemp("consent") / "consent.json"
    unerkannt.enroll("Person A", [FACES / "person-a.jpg"], registry=path)
    unerkannt.enroll("Astronaut", [ASTRONAUT], registry=path)
    return str(path)


def _changed_views(image: Image.Image) -> dict[str, Image.Image]:
    width, height = image.size
    crop = image.crop((width // 8, 0, width * 7 // 8, height * 3 // 4))
    return {
        "crop": crop,
        "darker": ImageEnhance.Brightness(image).enhance(0.6),
        "turned": image.rotate(8, resample=Image.Resampling.BILINEAR),
        "all": ImageEnhance.Brightness(crop.rotate(6, resample=Image.Resampling.BILINEAR)).enhance(1.3),
    }


def test_an_enrolled_face_stays_visible_in_changed_views_of_its_photo(registry: str) -> None:
    options = ProtectOptions(consent=registry)
    for view, image in _changed_views(Image.open(ASTRONAUT).convert("RGB")).items():
        pixels = np.asarray(image)
        result = unerkannt.protect(pixels, options=options)
        (kept,) = [f for f in result.faces if f.action == "visible"]
        assert kept.person == "Astronaut", view
        x1, y1, x2, y2 = (round(v) for v in kept.face.box)
        assert _changed(pixels, result.image, (x1, y1, x2, y2)) < 0.05, f"the consented face was covered in {view}"


def test_the_enrolled_person_in_another_photo_stays_visible_and_nobody_else(registry: str, tmp_path: Path) -> None:
    options = ProtectOptions(consent=registry)
    result = unerkannt.protect(FACES / "person-a-again.jpg", tmp_path / "a.jpg", options=options)
    assert [f.person for f in result.faces if f.action == "visible"] == ["Person A"]
    assert _changed(_rgb(FACES / "person-a-again.jpg"), _rgb(tmp_path / "a.jpg"), (115, 230, 175, 310)) < 0.05


@pytest.mark.parametrize("name", ["person-b.jpg", "group-masked.jpg"])
def test_other_peoples_faces_are_hidden_with_people_enrolled(registry: str, name: str, tmp_path: Path) -> None:
    result = unerkannt.protect(FACES / name, tmp_path / name, options=ProtectOptions(consent=registry))
    assert result.faces and all(f.action == "fill" for f in result.faces)
    for box in BOXES[name]:
        assert _changed(_rgb(FACES / name), _rgb(tmp_path / name), box) > 0.8
