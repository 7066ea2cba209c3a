"""Shared fixtures: fake detectors, small real photos, the bench kit when present."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unerkannt.detect.fake import FakeDetector

# Models the project derives from wheels are cached per machine; the tests (and the CLI
# processes they start, which inherit it, some importing this file) keep theirs apart
# from the user's, in one folder per session.
if "UNERKANNT_CACHE" not in os.environ:
    os.environ["UNERKANNT_CACHE"] = tempfile.mkdtemp(prefix="unerkannt-test-cache-")

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"

#: The box every fake-detector test uses in its 120 x 80 images.
FACE_BOX = (40.0, 20.0, 80.0, 60.0)


def textured(width: int = 120, height: int = 80, seed: int = 0) -> np.ndarray:
    """A deterministic ``(height, width, 3)`` uint8 image with detail everywhere."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.kron(base, np.ones((4, 4, 1), dtype=np.uint8))[:height, :width])


@pytest.fixture
def fake_detector() -> FakeDetector:
    return FakeDetector([FACE_BOX])


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A 120 x 80 JPEG with texture where the fake face is."""
    path = tmp_path / "in" / "photo.jpg"
    path.parent.mkdir()
    Image.fromarray(textured()).save(path, quality=95)
    return path


@pytest.fixture
def bench_kit() -> Path:
    kit = BENCH / "detect"
    if not (kit / "annotations.json").is_file():
        pytest.skip("../shared/bench is not present")
    return kit


def require_exiftool() -> str:
    exe = shutil.which("exiftool")
    if exe is None:
        pytest.skip("exiftool (libimage-exiftool-perl) is not installed")
    return exe
