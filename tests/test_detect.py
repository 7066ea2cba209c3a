"""The shared detector logic: scales, tiles, merging, pickling, loading by name."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from unerkannt import DetectionError, UsageError
from unerkannt.detect import DETECTORS, MultiDetector, load_detector
from unerkannt.detect.base import MAX_TILE, Detector
from unerkannt.detect.fake import FakeDetector
from unerkannt.faces import Face, iou, merge_faces


class MarkerDetector(Detector):
    """Reports a face wherever the image holds pure red pixels (so any scale or tile finds it)."""

    name = "marker"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.inputs: list[tuple[int, int]] = []

    def _detect_once(self, image: np.ndarray) -> list[Face]:
        self.inputs.append(image.shape[:2])
        red = (image[:, :, 0] > 200) & (image[:, :, 1] < 50) & (image[:, :, 2] < 50)
        ys, xs = np.nonzero(red)
        if len(ys) == 0:
            return []
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        return [Face(box=box, score=0.9, detector=self.name)]


def _with_marker(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = (255, 0, 0)
    return image


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_boxes_come_back_in_image_coordinates(scale: float) -> None:
    image = _with_marker(300, 400, (100, 60, 140, 110))
    faces = MarkerDetector(scales=(scale,)).detect(image)
    assert len(faces) == 1
    assert iou(faces[0].box, (100, 60, 140, 110)) > 0.85


def test_large_images_are_tiled_and_boxes_mapped_back() -> None:
    height, width = 2000, 3500
    box = (3000, 1700, 3060, 1770)  # in the last tile column and row
    detector = MarkerDetector(scales=(1.0,))
    faces = detector.detect(_with_marker(height, width, box))
    assert any(iou(f.box, box) > 0.9 for f in faces)
    assert all(max(shape) <= MAX_TILE for shape in detector.inputs), "no inference pass above the tile size"
    assert len(detector.inputs) > 4, "the image was split into tiles, plus a global pass"


def test_a_face_cut_by_a_tile_border_is_still_found_whole() -> None:
    box = (MAX_TILE - 100, 500, MAX_TILE + 60, 680)  # straddles the first vertical border
    faces = MarkerDetector(scales=(1.0,)).detect(_with_marker(1200, 3000, box))
    assert any(iou(f.box, box) > 0.9 for f in faces)


def test_threshold_is_applied_after_merging() -> None:
    image = _with_marker(100, 100, (10, 10, 30, 30))
    assert MarkerDetector(threshold=0.95).detect(image) == []


def test_detectors_pickle_without_their_model() -> None:
    detector = load_detector("centerface", threshold=0.2, scales=(1.0, 2.0))
    detector.detect(np.zeros((64, 64, 3), np.uint8))  # loads the session
    clone = pickle.loads(pickle.dumps(detector))
    assert clone.scales == (1.0, 2.0) and clone.threshold == 0.2 and clone._model is None


def test_registry_and_bad_input() -> None:
    assert set(DETECTORS) == {"centerface", "centerface-int8", "yunet"}
    with pytest.raises(UsageError):
        load_detector("haar", threshold=0.5, scales=(1.0,))
    with pytest.raises(DetectionError):
        MarkerDetector().detect(np.zeros((10, 10), np.uint8))


@pytest.mark.models
def test_the_8_bit_centerface_finds_what_the_float_one_finds() -> None:
    # The example photo, whole and shrunk to a small face: the same boxes, scores close.
    from PIL import Image

    from conftest import ROOT

    photo = Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB")
    for size in (photo.size, (96, 96)):
        image = np.zeros((360, 640, 3), np.uint8)
        pasted = np.asarray(photo.resize(size))[:360, :640]
        image[: pasted.shape[0], : pasted.shape[1]] = pasted
        exact = load_detector("centerface", threshold=0.3, scales=(1.0,)).detect(image)
        quick = load_detector("centerface-int8", threshold=0.2, scales=(1.0,)).detect(image)
        assert exact and quick[0].detector == "centerface-int8"
        for face in exact:
            best = max(quick, key=lambda q: iou(q.box, face.box))
            assert iou(best.box, face.box) > 0.8 and abs(best.score - face.score) < 0.15, (size, face, best)


@pytest.mark.models
def test_yunet_on_onnxruntime_finds_what_opencv_finds() -> None:
    # The wheel's file run by OpenCV's own FaceDetectorYN, and by unerkannt's port of its
    # decoding on onnxruntime: the same faces, scores and landmarks, at two sizes.
    import cv2
    from PIL import Image

    from conftest import ROOT
    from unerkannt.detect.yunet import model_path

    photo = Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB")
    for size in ((photo.width, photo.height), (300, 220)):
        image = np.asarray(photo.resize(size))
        net = cv2.FaceDetectorYN.create(str(model_path()), "", size, 0.3, 0.3, 5000)
        _, rows = net.detect(np.ascontiguousarray(image[:, :, ::-1]))
        ours = load_detector("yunet", threshold=0.3, scales=(1.0,)).detect(image)
        assert rows is not None and len(rows) == len(ours) > 0
        for row in rows:
            x, y, w, h = row[:4]
            face = max(ours, key=lambda f: iou(f.box, (x, y, x + w, y + h)))
            assert np.allclose(face.box, (x, y, x + w, y + h), atol=0.01)
            assert abs(face.score - row[14]) < 1e-4
            assert face.landmarks is not None
            assert np.allclose(np.asarray(face.landmarks).reshape(-1), row[4:14], atol=0.01)


@pytest.mark.bench
def test_the_8_bit_model_rebuilds_byte_for_byte(tmp_path: Path) -> None:
    # tools/quantize_centerface.py on the kit's LFW photos, with the versions PROVENANCE.md names.
    import hashlib
    import subprocess
    import sys

    import onnxruntime

    from conftest import BENCH, ROOT
    from unerkannt.detect.centerface import MODEL_INT8

    onnx = pytest.importorskip("onnx")
    lfw = BENCH / "identity" / "lfw"
    if not lfw.is_dir():
        pytest.skip("../shared/bench is not present")
    if (onnx.__version__, onnxruntime.__version__) != ("1.23.2", "1.32.0"):
        pytest.skip("the file was built with onnx 1.23.2 and onnxruntime 1.32.0")
    out = tmp_path / "centerface-int8.onnx"
    tool = ROOT / "tools" / "quantize_centerface.py"
    proc = subprocess.run([sys.executable, str(tool), "--lfw", str(lfw), "--out", str(out)], capture_output=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(MODEL_INT8.read_bytes()).digest()


def test_merge_keeps_the_best_face_and_covers_its_whole_group() -> None:
    a = Face(box=(0, 0, 10, 10), score=0.5, detector="x")
    b = Face(box=(1, 1, 11, 11), score=0.9, detector="y")
    c = Face(box=(50, 50, 60, 60), score=0.3, detector="x")
    merged = merge_faces([a, b, c])
    assert [f.detector for f in merged] == ["y", "x"] and [f.score for f in merged] == [0.9, 0.3]
    assert merged[0].box == (0, 0, 11, 11) and merged[1].box == c.box


def test_multi_detector_merges_all() -> None:
    multi = MultiDetector([FakeDetector([(0, 0, 10, 10)]), FakeDetector([(1, 1, 11, 11), (40, 40, 50, 50)])])
    assert len(multi.detect(np.zeros((64, 64, 3), np.uint8))) == 2
