"""The recognition audit: scores, ranks and verdicts, and ``protect`` with ``audit``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unerkannt
from _recognition import LandmarkDetector, require_recognition, two_fakes
from conftest import FACE_BOX, ROOT, textured
from unerkannt import AnonymizationError, ProtectOptions, UsageError
from unerkannt.auditing import AuditOptions, audit_images, build_gallery, still_matching
from unerkannt.auditing.guard import reprotect_matching
from unerkannt.detect.fake import FakeDetector
from unerkannt.recognize.fake import FakeRecognizer


def _audit(original: np.ndarray, protected: np.ndarray, **kwargs):  # type: ignore[no-untyped-def]
    detector = FakeDetector([FACE_BOX])
    return audit_images(original, protected, detector=detector, checker=detector, recognizers=two_fakes(), **kwargs)


def test_unprotected_face_is_reidentifiable_and_filled_face_is_not() -> None:
    image = textured()
    same = _audit(image, image.copy())
    assert not same.ok and same.faces[0].reidentifiable
    assert all(s.match for s in same.faces[0].scores)
    filled = unerkannt.protect(image, detector=FakeDetector([FACE_BOX])).image  # type: ignore[union-attr]
    result = _audit(image, filled)
    assert result.ok and not result.faces[0].reidentifiable
    assert [s.recognizer for s in result.faces[0].scores] == ["fake-a", "fake-b"]


def test_gallery_rank_puts_the_true_person_first_only_when_unprotected() -> None:
    image = textured(seed=1)
    others = [textured(seed=s) for s in range(10, 20)]
    gallery = build_gallery(others, detector=FakeDetector([FACE_BOX]), recognizers=two_fakes())
    assert gallery.size == 10 and gallery.templates["fake-a"].shape == (10, 64)
    clear = _audit(image, image.copy(), gallery=gallery).faces[0].scores[0]
    assert clear.rank == 1 and clear.gallery_size == 11
    # enlarged so that the fill's ellipse covers the fake's whole box
    wide = ProtectOptions(enlarge=2.0)
    filled = unerkannt.protect(image, options=wide, detector=FakeDetector([FACE_BOX])).image  # type: ignore[union-attr]
    hidden = _audit(image, filled, gallery=gallery).faces[0]
    assert all(s.rank is not None and s.rank > 1 for s in hidden.scores) and not hidden.reidentifiable


def test_images_of_different_sizes_are_refused() -> None:
    with pytest.raises(UsageError, match="differ in size"):
        _audit(textured(), textured(width=60))


def test_report_holds_scores_never_templates() -> None:
    data = _audit(textured(), textured()).to_json()
    text = json.dumps(data)
    assert set(data) == {"original", "protected", "ok", "faces", "warnings"}
    assert set(data["faces"][0]["scores"][0]) == {"recognizer", "metric", "score", "threshold", "match"}
    assert all(not isinstance(v, list) or len(v) <= 4 for face in data["faces"] for v in face.values())
    assert "e-0" not in text  # no long float vectors


def test_still_matching_flags_weakly_protected_faces_only() -> None:
    image = textured()
    fakes = two_fakes()
    weak = unerkannt.protect(image, options=ProtectOptions(method="blur"), detector=FakeDetector([FACE_BOX]))
    filled = unerkannt.protect(image, detector=FakeDetector([FACE_BOX]))
    # the fake sees only 8 x 8 grey levels, so a light blur keeps it matching
    weak_left = still_matching(image, weak.image, weak.faces, [FakeRecognizer(threshold=0.3)])  # type: ignore[union-attr]
    assert len(weak_left) == 1
    assert still_matching(image, filled.image, filled.faces, fakes) == []  # type: ignore[union-attr]


def test_audit_refills_faces_that_still_match(monkeypatch: pytest.MonkeyPatch) -> None:
    from unerkannt.auditing import guard

    monkeypatch.setattr(guard, "shared_recognizer", lambda name: FakeRecognizer(name, threshold=0.3))
    image = textured()
    options = ProtectOptions(method="blur", audit=True)
    result = unerkannt.protect(image, options=options, detector=FakeDetector([FACE_BOX]))
    (record,) = result.faces
    assert record.action == "fill" and record.stage == "audit"
    assert any("still matched" in w for w in result.warnings)
    assert still_matching(image, result.image, result.faces, [FakeRecognizer(threshold=0.3)]) == []  # type: ignore[union-attr]


def test_audit_fails_closed_when_even_fill_still_matches(tmp_path: Path, photo: Path) -> None:
    image = textured()
    out = image.copy()
    record = unerkannt.protect(image, detector=FakeDetector([FACE_BOX])).faces[0]
    always = FakeRecognizer(threshold=-2.0)  # matches anything
    with pytest.raises(AnonymizationError, match="still matches"):
        reprotect_matching(image, out, [record], enlarge=1.3, warnings=[], recognizers=[always])


def test_protect_file_with_failing_audit_writes_nothing(
    tmp_path: Path, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from unerkannt.auditing import guard

    monkeypatch.setattr(guard, "shared_recognizer", lambda name: FakeRecognizer(name, threshold=-2.0))
    out = tmp_path / "out.jpg"
    with pytest.raises(AnonymizationError):
        unerkannt.protect(photo, out, options=ProtectOptions(audit=True), detector=FakeDetector([FACE_BOX]))
    assert not out.exists()


def test_audit_options_are_checked() -> None:
    with pytest.raises(UsageError):
        AuditOptions(recognizers=())
    with pytest.raises(UsageError):
        AuditOptions(threshold=0.0)
    with pytest.raises(UsageError):
        unerkannt.audit(textured(), textured(), options=AuditOptions(recognizers=("nope",)))


def test_landmarks_of_the_original_are_used_for_the_protected_face() -> None:
    image = textured()
    detector = LandmarkDetector([FACE_BOX])
    result = audit_images(image, image.copy(), detector=detector, checker=detector, recognizers=two_fakes())
    assert result.faces[0].face.landmarks is not None and not result.ok


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "unerkannt", *args], capture_output=True, text=True)


@pytest.mark.models
def test_cli_audit_passes_protected_photo_and_fails_original(tmp_path: Path) -> None:
    require_recognition()
    original = ROOT / "examples" / "astronaut.jpg"
    assert _cli("protect", str(original), "-o", str(tmp_path / "out"), "-q").returncode == 0
    protected = tmp_path / "out" / "astronaut.jpg"
    proc = _cli("audit", str(original), str(protected), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and len(data["faces"]) == 1
    assert {s["recognizer"] for s in data["faces"][0]["scores"]} == {"sface", "dlib"}
    same = _cli("audit", str(original), str(original))
    assert same.returncode == 1 and "RE-IDENTIFIABLE" in same.stdout


@pytest.mark.models
def test_cli_audit_reference_says_whether_a_photo_still_matches(tmp_path: Path) -> None:
    require_recognition()
    original = ROOT / "examples" / "astronaut.jpg"
    image = np.asarray(Image.open(original).convert("RGB"))
    Image.fromarray(image[::-1, ::-1].copy()).save(tmp_path / "me.jpg")  # the same person, another "photo"
    assert _cli("protect", str(original), "-o", str(tmp_path / "out"), "-q").returncode == 0
    proc = _cli(
        "audit", "--reference", str(tmp_path / "me.jpg"), str(original), str(tmp_path / "out" / "astronaut.jpg")
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert "STILL MATCHES" in lines[0] and lines[-1].endswith("no match")
    alone = _cli("audit", "--reference", str(tmp_path / "me.jpg"), str(tmp_path / "out" / "astronaut.jpg"))
    assert alone.returncode == 0


def test_cli_audit_needs_two_images() -> None:
    from unerkannt.cli import main

    assert main(["audit", "one.jpg"]) == 2


@pytest.mark.models
def test_cli_protect_with_audit_writes_a_photo_that_passes_the_audit(tmp_path: Path) -> None:
    require_recognition()
    original = ROOT / "examples" / "astronaut.jpg"
    proc = _cli("protect", str(original), "-o", str(tmp_path / "out"), "--audit", "--method", "pixelate", "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)["files"]
    assert entry["status"] == "protected" and entry["faces"]
    assert _cli("audit", str(original), str(tmp_path / "out" / "astronaut.jpg")).returncode == 0
