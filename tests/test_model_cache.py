"""Models derived from wheels are made once per machine, kept whole, and made again when damaged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from unerkannt.detect import yunet
from unerkannt.models import cache_dir, derived_model


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UNERKANNT_CACHE", str(tmp_path / "cache"))
    yunet.runnable_model.cache_clear()
    yield tmp_path / "cache"
    yunet.runnable_model.cache_clear()


def test_a_derived_model_is_built_once_and_then_read(cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    builds = []

    def build() -> bytes:
        builds.append(1)
        return b"derived"

    assert derived_model("m", source, 1, build) == b"derived"
    assert derived_model("m", source, 1, build) == b"derived"
    assert len(builds) == 1
    (kept,) = cache.iterdir()  # no temporary file left beside it
    assert kept.name.startswith("m-v1-") and kept.read_bytes() == b"derived"
    # Another source file or another version of the code that builds it: built again.
    source.write_bytes(b"other weights")
    derived_model("m", source, 1, build)
    derived_model("m", source, 2, build)
    assert len(builds) == 3


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("UNERKANNT_CACHE", str(blocker / "cache"))  # under a file: cannot be made
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    assert derived_model("m", source, 1, lambda: b"derived") == b"derived"
    assert cache_dir() == blocker / "cache"


@pytest.mark.models
def test_yunet_loads_from_the_cache_without_onnx_and_survives_a_damaged_copy(cache: Path) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    yunet.YuNetDetector(threshold=0.5).detect(image)  # builds and caches
    (kept,) = cache.glob("yunet-v*.onnx")
    # A new process loads YuNet from the cache without importing onnx (most of a second).
    code = (
        "import sys, numpy as np; from unerkannt.detect.yunet import YuNetDetector; "
        "YuNetDetector(threshold=0.5).detect(np.zeros((64, 64, 3), np.uint8)); "
        "sys.exit(1 if 'onnx' in sys.modules else 0)"
    )
    env = {"UNERKANNT_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
    # A damaged copy (a disk fault) is made again instead of failing the run.
    kept.write_bytes(b"\x00not a model")
    yunet.runnable_model.cache_clear()
    yunet.YuNetDetector(threshold=0.5).detect(image)
    (again,) = cache.glob("yunet-v*.onnx")
    assert again.stat().st_size > 100_000
