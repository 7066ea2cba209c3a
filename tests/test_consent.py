"""The consent registry and rule: only enrolled people stay visible, and only when sure."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unerkannt
from _recognition import LandmarkDetector, lfw_photos, require_recognition, two_fakes
from conftest import textured
from unerkannt import ConsentError, InputError, ProtectOptions
from unerkannt.consent import AGREE, IMPOSTOR, MAX_TURN, Registry, accepted, decide, default_path, matchable, turn
from unerkannt.faces import Face
from unerkannt.recognize.fake import FakeRecognizer

BIG = (20.0, 10.0, 100.0, 90.0)  # 80 px: large enough to be matched
OTHER = (130.0, 10.0, 210.0, 90.0)


@pytest.fixture(autouse=True)
def _fake_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("fake-a", "fake-b"):
        monkeypatch.setitem(AGREE, name, AGREE["fake"])
        monkeypatch.setitem(IMPOSTOR, name, IMPOSTOR["fake"])


def _image(seed: int = 0) -> np.ndarray:
    return textured(width=240, height=100, seed=seed)


def _enrolled(tmp_path: Path, image: np.ndarray, box: tuple[float, ...] = BIG, name: str = "Ada") -> Registry:
    face = LandmarkDetector([box]).detect(image)[0]
    registry = Registry(tmp_path / "reg" / "consent.json")
    registry.add(name, {r.name: r.embed(image, face) for r in two_fakes()})
    registry.save()
    return registry


def test_registry_file_is_owner_only_and_holds_no_photos(tmp_path: Path) -> None:
    registry = _enrolled(tmp_path, _image())
    mode = stat.S_IMODE(registry.path.stat().st_mode)
    assert mode == 0o600 and stat.S_IMODE(registry.path.parent.stat().st_mode) == 0o700
    data = json.loads(registry.path.read_text())
    (person,) = data["people"]
    assert set(person) == {"name", "consented", "templates"} and set(person["templates"]) == {"fake-a", "fake-b"}
    assert "Ada" in repr(Registry.open(registry.path).people["Ada"]) and "[" not in repr(registry.people["Ada"])


def test_reopened_registry_has_the_same_people_and_templates(tmp_path: Path) -> None:
    registry = _enrolled(tmp_path, _image())
    again = Registry.open(registry.path)
    assert list(again.people) == ["Ada"] and again.people["Ada"].photos == 1
    np.testing.assert_allclose(
        again.people["Ada"].templates["fake-a"], registry.people["Ada"].templates["fake-a"], atol=1e-5
    )


def test_withdrawal_deletes_the_templates_from_the_file(tmp_path: Path) -> None:
    registry = _enrolled(tmp_path, _image())
    unerkannt.withdraw("Ada", registry=registry.path)
    text = registry.path.read_text()
    assert "Ada" not in text and json.loads(text)["people"] == []
    with pytest.raises(ConsentError, match="not enrolled"):
        unerkannt.withdraw("Ada", registry=registry.path)
    assert not list(registry.path.parent.glob(".consent-*"))


def test_unreadable_registry_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    bad = tmp_path / "consent.json"
    bad.write_text("{not json")
    with pytest.raises(ConsentError):
        Registry.open(bad)
    bad.write_text(json.dumps({"format": 99, "people": []}))
    with pytest.raises(ConsentError):
        Registry.open(bad)
    with pytest.raises(ConsentError):
        Registry.open(tmp_path / "missing.json", must_exist=True)
    with pytest.raises(ConsentError):
        Registry(bad).add("\x1b[31m", {})


def test_default_path_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNERKANNT_CONSENT", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "unerkannt" / "consent.json"
    monkeypatch.setenv("UNERKANNT_CONSENT", str(tmp_path / "mine.json"))
    assert default_path() == tmp_path / "mine.json"


def test_enrolled_face_stays_visible_and_others_are_not(tmp_path: Path) -> None:
    image = _image()
    registry = _enrolled(tmp_path, image)
    faces = LandmarkDetector([BIG, OTHER]).detect(image)
    assert decide(image, faces, registry, two_fakes()) == {0: "Ada"}
    assert decide(_image(seed=5), faces, registry, two_fakes()) == {}
    assert decide(image, faces, Registry(tmp_path / "empty.json"), two_fakes()) == {}


def test_both_recognizers_must_agree(tmp_path: Path) -> None:
    image = _image()
    registry = _enrolled(tmp_path, image)
    faces = LandmarkDetector([BIG]).detect(image)
    # a second family that sees a different face: no agreement, so the face is protected
    registry.people["Ada"].templates["fake-b"][:] = -registry.people["Ada"].templates["fake-b"]
    assert decide(image, faces, registry, two_fakes()) == {}


def test_small_turned_or_unlandmarked_faces_are_always_protected(tmp_path: Path) -> None:
    image = _image()
    registry = _enrolled(tmp_path, image)
    turned = LandmarkDetector([BIG], turned=True).detect(image)
    assert not matchable(turned[0]) and decide(image, turned, registry, two_fakes()) == {}
    bare = [Face(box=BIG, score=0.9, detector="x")]
    assert not matchable(bare[0]) and decide(image, bare, registry, two_fakes()) == {}
    small = LandmarkDetector([(20.0, 10.0, 60.0, 50.0)]).detect(image)
    assert not matchable(small[0])


def _face(nose_offset: float, *, eyes: float = 40.0) -> Face:
    """An 80 px face whose nose sits ``nose_offset`` eye distances beside the eye midpoint."""
    mid = 60.0
    marks = (
        (mid - eyes / 2, 40.0),
        (mid + eyes / 2, 40.0),
        (mid + nose_offset * eyes, 60.0),
        (45.0, 75.0),
        (75.0, 75.0),
    )
    return Face(box=(20.0, 10.0, 100.0, 90.0), score=0.9, detector="x", landmarks=marks)


def test_turn_gate_follows_the_calibration() -> None:
    assert MAX_TURN == 0.5
    assert turn(_face(0.45)) == pytest.approx(0.45) and matchable(_face(0.45))
    assert not matchable(_face(0.55))
    assert turn(_face(0.0, eyes=15.0)) == float("inf")  # eyes closer than a quarter of the box: a profile


def test_rule_needs_both_recognizers_and_the_fused_evidence() -> None:
    from unerkannt.recognize import load_recognizer

    recs = [load_recognizer("sface"), load_recognizer("dlib")]  # names and metrics only; no model loads
    sface = np.array([0.70, 0.37, 0.90, 0.30, 0.50])
    dlib = np.array([0.40, 0.59, 0.62, 0.30, 0.50])
    # clear match; both past their usual thresholds but weak together; dlib disagrees;
    # sface disagrees; a good match
    assert accepted(recs, {"sface": sface, "dlib": dlib}).tolist() == [True, False, False, False, True]
    assert bool(accepted(recs, {"sface": 0.7, "dlib": 0.4}))
    with pytest.raises(ConsentError, match="no consent calibration"):
        accepted([FakeRecognizer("uncalibrated")], {"uncalibrated": 1.0})


def test_both_recognizers_must_match_the_same_reference_photo(tmp_path: Path) -> None:
    image = _image()
    registry = _enrolled(tmp_path, image)
    templates = registry.people["Ada"].templates
    # reference 1 matches for fake-a only, reference 2 for fake-b only: no photo matches for both
    templates["fake-a"] = np.stack([templates["fake-a"][0], -templates["fake-a"][0]])
    templates["fake-b"] = np.stack([-templates["fake-b"][0], templates["fake-b"][0]])
    faces = LandmarkDetector([BIG]).detect(image)
    assert decide(image, faces, registry, two_fakes()) == {}
    templates["fake-b"] = templates["fake-b"][::-1].copy()
    assert decide(image, faces, registry, two_fakes()) == {0: "Ada"}
    templates["fake-b"] = templates["fake-b"][:1]
    with pytest.raises(ConsentError, match="do not line up"):
        decide(image, faces, registry, two_fakes())


def test_a_person_matched_twice_in_one_image_is_not_left_visible(tmp_path: Path) -> None:
    image = _image()
    image[10:90, 130:210] = image[10:90, 20:100]  # the same face twice
    registry = _enrolled(tmp_path, image)
    assert decide(image, LandmarkDetector([BIG, OTHER]).detect(image), registry, two_fakes()) == {}


def test_missing_template_of_a_recognizer_is_an_error(tmp_path: Path) -> None:
    image = _image()
    registry = _enrolled(tmp_path, image)
    del registry.people["Ada"].templates["fake-b"]
    with pytest.raises(ConsentError, match="no fake-b template"):
        decide(image, LandmarkDetector([BIG]).detect(image), registry, two_fakes())


def test_protect_with_consent_leaves_only_the_enrolled_face(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unerkannt.consent import rule

    monkeypatch.setattr(rule, "DEFAULT_RECOGNIZERS", ("fake-a", "fake-b"))
    monkeypatch.setattr(rule, "shared_recognizer", lambda name: FakeRecognizer(name))
    image = _image()
    registry = _enrolled(tmp_path, image)
    options = ProtectOptions(consent=str(registry.path), verify=False)
    result = unerkannt.protect(image, options=options, detector=LandmarkDetector([BIG, OTHER]))
    kept, hidden = result.faces  # type: ignore[union-attr]
    assert kept.action == "visible" and kept.person == "Ada" and hidden.action == "fill"
    out = result.image  # type: ignore[union-attr]
    assert np.array_equal(out[10:90, 20:100], image[10:90, 20:100])
    assert not np.array_equal(out[10:90, 130:210], image[10:90, 130:210])
    data = kept.to_json()
    assert data["consent"] == "Ada" and data["action"] == "visible"
    assert "consent" not in hidden.to_json()


def test_protect_file_with_missing_registry_writes_nothing(tmp_path: Path, photo: Path) -> None:
    out = tmp_path / "out.jpg"
    options = ProtectOptions(consent=str(tmp_path / "none.json"))
    with pytest.raises(ConsentError):
        unerkannt.protect(photo, out, options=options, detector=LandmarkDetector([(40.0, 20.0, 80.0, 60.0)]))
    assert not out.exists()


def test_cli_consent_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from unerkannt.cli import main

    registry = _enrolled(tmp_path, _image())
    assert main(["consent", "--registry", str(registry.path), "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["people"] == [{"name": "Ada", "consented": registry.people["Ada"].consented, "photos": 1}]
    assert main(["consent", "--registry", str(registry.path), "remove", "Ada"]) == 0
    assert main(["consent", "--registry", str(registry.path), "remove", "Ada"]) == 1
    assert "not enrolled" in capsys.readouterr().err


_ONE = ProtectOptions(threshold=0.4)


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.models
@pytest.mark.bench
def test_real_enrollment_keeps_the_person_visible_and_hides_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_recognition()
    monkeypatch.setenv("UNERKANNT_CONSENT", str(tmp_path / "consent.json"))
    # LFW photos often show a second face at the edge; references must show one
    blair = [p for p in lfw_photos("Tony_Blair", 12) if len(unerkannt.detect_faces(_rgb(p), options=_ONE)) == 1][:6]
    person = unerkannt.enroll("Tony Blair", blair[:3])
    assert person.photos == 3 and os.stat(tmp_path / "consent.json").st_mode & 0o077 == 0
    options = ProtectOptions(consent=str(tmp_path / "consent.json"))
    visible = 0
    for path in blair[3:]:
        result = unerkannt.protect(path, tmp_path / path.name, options=options)
        visible += any(f.action == "visible" and f.person == "Tony Blair" for f in result.faces)  # type: ignore[union-attr]
    assert visible >= 2
    for path in lfw_photos("Donald_Rumsfeld", 3):
        result = unerkannt.protect(path, tmp_path / path.name, options=options)
        assert all(f.action != "visible" for f in result.faces)  # type: ignore[union-attr]


@pytest.mark.models
def test_enrolling_a_photo_without_exactly_one_face_is_refused(tmp_path: Path) -> None:
    require_recognition()
    Image.fromarray(np.full((120, 120, 3), 90, np.uint8)).save(tmp_path / "wall.jpg")
    with pytest.raises(InputError, match="exactly one"):
        unerkannt.enroll("Nobody", [tmp_path / "wall.jpg"], registry=tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()
