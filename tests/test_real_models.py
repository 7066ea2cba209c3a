"""End to end with the real detectors on real photos of the bench kit (skipped without it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unerkannt
from unerkannt import ProtectOptions
from unerkannt.detect import load_detector
from unerkannt.faces import iou

pytestmark = [pytest.mark.models, pytest.mark.bench]


def _annotated(kit: Path, n: int) -> list[dict]:  # type: ignore[type-arg]
    images = json.loads((kit / "annotations.json").read_text())["images"]
    big = [i for i in images if any(f["box"][3] - f["box"][1] > 40 for f in i["faces"])]
    return big[:n]


@pytest.mark.parametrize("name", ["centerface", "yunet"])
def test_detectors_find_annotated_faces(bench_kit: Path, name: str) -> None:
    detector = load_detector(name, threshold=0.3, scales=(1.0,))
    found = total = 0
    for item in _annotated(bench_kit, 15):
        image = np.asarray(Image.open(bench_kit / item["file"]).convert("RGB"))
        faces = detector.detect(image)
        for gt in item["faces"]:
            if gt["box"][3] - gt["box"][1] > 40:
                total += 1
                found += any(iou(tuple(gt["box"]), f.box) >= 0.3 for f in faces)
    assert total >= 10 and found / total >= 0.8, (found, total)


def test_protected_photo_has_no_detectable_face_left(bench_kit: Path, tmp_path: Path) -> None:
    checker = load_detector("yunet", threshold=0.6, scales=(1.0, 2.0))
    for item in _annotated(bench_kit, 5):
        src = bench_kit / item["file"]
        result = unerkannt.protect(src, tmp_path / item["file"])
        assert result.ok and result.faces
        out = np.asarray(Image.open(tmp_path / item["file"]).convert("RGB"))
        orig = np.asarray(Image.open(src).convert("RGB"))
        changed = np.abs(out.astype(int) - orig.astype(int)).max(axis=2) > 12
        for gt in item["faces"]:
            x1, y1, x2, y2 = gt["box"]
            assert changed[y1:y2, x1:x2].mean() > 0.6, f"face {gt['box']} of {src.name} left visible"
        for face in checker.detect(out):
            for gt in item["faces"]:
                assert iou(face.box, tuple(gt["box"])) < 0.3, f"{gt['box']} of {src.name} is still found as a face"


def test_protecting_twice_finds_nothing_new(bench_kit: Path, tmp_path: Path) -> None:
    item = _annotated(bench_kit, 1)[0]
    first = unerkannt.protect(bench_kit / item["file"], tmp_path / "once.jpg")
    second = unerkannt.protect(tmp_path / "once.jpg", tmp_path / "twice.jpg", options=ProtectOptions(enlarge=1.0))
    assert first.ok and second.ok
    # What the default profile still flags on a protected photo is low-score noise, not faces.
    assert all(f.face.score < 0.5 for f in second.faces)
