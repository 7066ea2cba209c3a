"""Recognizers: the registry, the contract, the fake, and the two real models."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from _recognition import lfw_photos, require_recognition
from conftest import ROOT, textured
from unerkannt import RecognitionError, UsageError
from unerkannt.faces import Face
from unerkannt.recognize import RECOGNIZERS, five_points, load_recognizer
from unerkannt.recognize.base import Recognizer
from unerkannt.recognize.fake import FakeRecognizer

FACE = Face(box=(40.0, 20.0, 80.0, 60.0), score=0.9, detector="fake")


def test_registry_names_both_families_and_refuses_unknown_names() -> None:
    assert set(RECOGNIZERS) == {"sface", "dlib"}
    with pytest.raises(UsageError, match="unknown recognizer"):
        load_recognizer("eigenfaces")


def test_importing_recognizers_loads_no_model_runtime() -> None:
    code = "import sys, unerkannt.recognize, unerkannt.consent, unerkannt.auditing; print('dlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_fake_matches_identical_faces_and_not_filled_ones() -> None:
    fake = FakeRecognizer()
    image = textured()
    filled = image.copy()
    filled[20:60, 40:80] = 128
    same = fake.similarity(fake.embed(image, FACE), fake.embed(image.copy(), FACE))
    gone = fake.similarity(fake.embed(image, FACE), fake.embed(filled, FACE))
    assert same == pytest.approx(1.0) and fake.matches(same)
    assert gone == pytest.approx(0.0) and not fake.matches(gone)


def test_distance_metric_ranks_lower_as_closer() -> None:
    class Distance(Recognizer):
        name, metric, threshold = "d", "distance", 0.6

        def _embed(self, image: np.ndarray, face: Face) -> np.ndarray:
            return np.zeros(2)

    r = Distance()
    scores = r.similarity_matrix(np.array([[0.0, 0.0]]), np.array([[0.3, 0.4], [3.0, 4.0]]))
    assert scores.shape == (1, 2) and scores[0] == pytest.approx([0.5, 5.0])
    assert r.matches(0.5) and not r.matches(0.6) and r.matches(0.65, 0.7)
    assert list(np.argsort(-r.closer(scores[0]))) == [0, 1]


def test_faces_without_landmarks_get_the_template_in_their_box() -> None:
    points = five_points(FACE)
    assert len(points) == 5 and all(40 <= x <= 80 and 20 <= y <= 60 for x, y in points)
    marked = Face(box=FACE.box, score=1.0, detector="x", landmarks=((1, 2),) * 5)
    assert five_points(marked) == marked.landmarks


def test_bad_input_and_backend_failures_are_recognition_errors() -> None:
    with pytest.raises(RecognitionError):
        FakeRecognizer().embed(np.zeros((10, 10), np.uint8), FACE)
    with pytest.raises(RecognitionError, match="fake recognizer failure"):
        FakeRecognizer(fail=True).embed(textured(), FACE)


def test_recognizers_pickle_without_their_model() -> None:
    r = load_recognizer("sface")
    r._model = object()
    copy = pickle.loads(pickle.dumps(r))
    assert copy._model is None and copy.name == "sface"


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from unerkannt import models

    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RecognitionError, match=r"unerkannt\[recognition\]"):
        load_recognizer("dlib").embed(textured(), FACE)


@pytest.mark.models
@pytest.mark.bench
@pytest.mark.parametrize("name", ["sface", "dlib"])
def test_real_recognizers_tell_people_apart_on_lfw(name: str) -> None:
    require_recognition()
    from unerkannt.detect import load_detector

    detector = load_detector("yunet", threshold=0.5, scales=(1.0,))
    recognizer = load_recognizer(name)

    def template(path):  # type: ignore[no-untyped-def]
        image = np.asarray(Image.open(path).convert("RGB"))
        face = min(detector.detect(image), key=lambda f: abs(f.box[0] + f.box[2] - 250))
        return recognizer.embed(image, face)

    a1, a2 = lfw_photos("Tony_Blair", 2)
    (b,) = lfw_photos("Donald_Rumsfeld", 1)
    ta1, ta2, tb = template(a1), template(a2), template(b)
    assert ta1.shape == (128,) and ta1.dtype == np.float32
    assert recognizer.matches(recognizer.similarity(ta1, ta2))
    assert not recognizer.matches(recognizer.similarity(ta1, tb))


@pytest.mark.models
@pytest.mark.parametrize("name", ["sface", "dlib"])
def test_real_recognizers_no_longer_match_a_filled_face(name: str) -> None:
    require_recognition()
    import unerkannt
    from unerkannt.detect import load_detector

    image = np.asarray(Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB"))
    (face,) = load_detector("yunet", threshold=0.5, scales=(1.0,)).detect(image)
    recognizer = load_recognizer(name)
    protected = unerkannt.protect(image).image  # type: ignore[union-attr]
    original = recognizer.embed(image, face)
    assert recognizer.matches(recognizer.similarity(original, recognizer.embed(image.copy(), face)))
    assert not recognizer.matches(recognizer.similarity(original, recognizer.embed(protected, face)))
