"""``find``: where the reference person appears in a folder; nothing is kept."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unerkannt
from _recognition import LandmarkDetector, lfw_photos, require_recognition
from conftest import textured
from unerkannt import InputError, UsageError
from unerkannt.recognize.fake import FakeRecognizer

BOX = (20.0, 10.0, 100.0, 90.0)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    import unerkannt.api
    import unerkannt.recognize

    monkeypatch.setattr(unerkannt.recognize, "shared_recognizer", lambda name: FakeRecognizer(name))
    monkeypatch.setattr(unerkannt.api, "build_detector", lambda options: LandmarkDetector([BOX]))


def _save(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(textured(width=120, height=100, seed=seed)).save(path)
    return path


def test_find_lists_files_with_the_reference_face_recursively(tmp_path: Path, fakes: None) -> None:
    me = _save(tmp_path / "me.png", 1)
    _save(tmp_path / "folder" / "a.png", 1)
    _save(tmp_path / "folder" / "deep" / "b.png", 1)
    _save(tmp_path / "folder" / "other.png", 2)
    (tmp_path / "folder" / "broken.png").write_bytes(b"not a png")
    found = {Path(f.path).name: f for f in unerkannt.find([me], [tmp_path / "folder"])}
    assert set(found) == {"a.png", "b.png", "other.png", "broken.png"}
    assert len(found["a.png"].faces) == 1 and len(found["b.png"].faces) == 1 and found["other.png"].faces == []
    assert found["broken.png"].error is not None and found["broken.png"].error["type"] in {
        "corrupt",
        "unsupported-format",
    }
    data = found["a.png"].to_json()
    assert data["faces"][0]["box"] == list(BOX) and all(s["match"] for s in data["faces"][0]["scores"])


def test_find_refuses_missing_folders_and_faceless_references(tmp_path: Path, fakes: None) -> None:
    me = _save(tmp_path / "me.png", 1)
    with pytest.raises(UsageError):
        unerkannt.find([me], [tmp_path / "missing"])
    with pytest.raises(InputError):
        unerkannt.find([], [tmp_path])


@pytest.mark.models
@pytest.mark.bench
def test_cli_find_locates_a_person_among_others(tmp_path: Path) -> None:
    require_recognition()
    from unerkannt import ProtectOptions

    one = ProtectOptions(threshold=0.4)
    blair = [
        p
        for p in lfw_photos("Tony_Blair", 12)
        if len(unerkannt.detect_faces(np.asarray(Image.open(p).convert("RGB")), options=one)) == 1
    ]
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for path in blair[1:4]:
        shutil.copy(path, folder / "sub" / path.name)
    for path in lfw_photos("Donald_Rumsfeld", 3):
        shutil.copy(path, folder / path.name)
    proc = subprocess.run(
        [sys.executable, "-m", "unerkannt", "find", "--reference", str(blair[0]), str(folder), "--json"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    hits = {Path(entry["file"]).name for entry in json.loads(proc.stdout)}
    assert hits == {p.name for p in blair[1:4]}
