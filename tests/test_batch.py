"""Folders: planning outputs, mirrored trees, the report, the process pool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import FACE_BOX, textured
from unerkannt import ProtectOptions, UsageError
from unerkannt.batch import plan, run
from unerkannt.detect.fake import FakeDetector
from unerkannt.engines import get_engine


def _tree(root: Path) -> list[Path]:
    files = [root / "a.jpg", root / "sub" / "b.png", root / "sub" / "deeper" / "c.webp"]
    for i, path in enumerate(files):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(textured(seed=i)).save(path)
    (root / "notes.txt").write_text("not an image")
    return files


def test_folder_tree_is_mirrored(tmp_path: Path) -> None:
    _tree(tmp_path / "in")
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=ProtectOptions())
    rel = sorted(str(j.output.relative_to(tmp_path / "out")) for j in jobs if j.output)
    assert rel == ["a.jpg", "sub/b.png", "sub/deeper/c.webp"]
    report = run(jobs, options=ProtectOptions(), detector=FakeDetector([FACE_BOX]))
    assert report.ok and report.summary() == {"files": 4, "protected": 3, "failed": 0, "skipped": 1, "faces": 3}
    assert [f.status for f in report.files if f.input.endswith("notes.txt")] == ["skipped"]
    for j in jobs:
        assert j.skipped or (j.output is not None and j.output.is_file())


def test_format_option_changes_extension(tmp_path: Path) -> None:
    _tree(tmp_path / "in")
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=ProtectOptions(format="png"))
    assert {j.output.suffix for j in jobs if j.output} == {".png"}


def test_a_converted_file_steps_aside_for_one_already_named_so(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for ext in ("png", "jpg"):
        Image.fromarray(textured()).save(tmp_path / "in" / f"x.{ext}")
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=ProtectOptions(format="jpeg"))
    assert sorted(j.output.name for j in jobs if j.output) == ["x.jpg", "x.png.jpg"]
    report = run(jobs, options=ProtectOptions(format="jpeg"), detector=FakeDetector())
    assert report.ok and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.jpg", "x.png.jpg"]


def test_two_inputs_for_one_output_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(textured()).save(tmp_path / folder / "x.jpg")
    jobs = plan([tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"], tmp_path / "out", options=ProtectOptions())
    assert sum(j.output is None for j in jobs) == 1
    report = run(jobs, options=ProtectOptions(), detector=FakeDetector())
    assert [f.status for f in report.files].count("failed") == 1


def test_output_inside_input_is_refused_unless_asked(tmp_path: Path) -> None:
    _tree(tmp_path / "in")
    with pytest.raises(UsageError):
        plan([tmp_path / "in"], tmp_path / "in" / "public", options=ProtectOptions())
    jobs = plan([tmp_path / "in"], tmp_path / "in" / "public", options=ProtectOptions(), allow_inside_input=True)
    run(jobs, options=ProtectOptions(), detector=FakeDetector())
    again = plan([tmp_path / "in"], tmp_path / "in" / "public", options=ProtectOptions(), allow_inside_input=True)
    assert len([j for j in again if not j.skipped]) == 3, "outputs inside the input folder are not picked up as inputs"


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        plan([tmp_path / "nope"], tmp_path / "out", options=ProtectOptions())


def test_failures_are_reported_and_others_still_protected(tmp_path: Path) -> None:
    files = _tree(tmp_path / "in")
    files[1].write_bytes(files[1].read_bytes()[:100])  # truncated PNG
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=ProtectOptions())
    report = run(jobs, options=ProtectOptions(), detector=FakeDetector([FACE_BOX]))
    assert not report.ok
    failed = [f for f in report.files if f.status == "failed"]
    assert len(failed) == 1 and failed[0].error and failed[0].error["type"] == "corrupt"
    assert not (tmp_path / "out" / "sub" / "b.png").exists()
    assert (tmp_path / "out" / "a.jpg").exists()


def test_report_holds_no_pixels_or_embeddings(tmp_path: Path) -> None:
    _tree(tmp_path / "in")
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=ProtectOptions())
    data = run(jobs, options=ProtectOptions(), detector=FakeDetector([FACE_BOX])).to_json()
    text = json.dumps(data)
    face = data["files"][0]["faces"][0]
    assert set(face) == {"box", "score", "detector", "action", "region", "stage"}
    assert len(text) < 5000 and "embedding" not in text
    assert data["summary"]["protected"] == 3


@pytest.mark.models
def test_process_pool_gives_the_same_result_as_one_process(tmp_path: Path) -> None:
    _tree(tmp_path / "in")
    options = ProtectOptions(profile="fast")
    jobs = plan([tmp_path / "in"], tmp_path / "one", options=options)
    one = run(jobs, options=options, workers=1)
    jobs2 = plan([tmp_path / "in"], tmp_path / "two", options=options)
    two = run(jobs2, options=options, workers=2)
    assert one.ok and two.ok
    for a, b in zip(jobs, jobs2, strict=True):
        if a.skipped:
            continue
        assert a.output is not None and b.output is not None
        assert a.output.read_bytes() == b.output.read_bytes()


ENGINE_IMPORTS = """
import json, sys
import unerkannt.batch
before = set(sys.modules)
import unerkannt.engines.{name}
print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith(("unerkannt", "ray")))))
"""


@pytest.mark.parametrize(("name", "other"), [("local", "ray"), ("ray", "local")])
def test_an_engine_imports_nothing_of_another(name: str, other: str) -> None:
    if name == "ray":
        pytest.importorskip("ray")
    code = ENGINE_IMPORTS.format(name=name)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(proc.stdout)
    assert f"unerkannt.engines.{name}" in loaded
    assert f"unerkannt.engines.{other}" not in loaded
    if name == "local":
        assert "ray" not in loaded, "the local engine loads no Ray"


def test_batch_loads_no_engine_until_one_is_asked_for(tmp_path: Path) -> None:
    code = (
        "import sys, unerkannt.batch, unerkannt.jobs, unerkannt.api\n"
        "print(sorted(m for m in sys.modules if m.startswith('unerkannt.engines.')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
    with pytest.raises(UsageError, match="unknown engine 'spark'; choose from local, ray"):
        get_engine("spark")
    _tree(tmp_path / "in")
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=ProtectOptions())
    report = get_engine("local").run(jobs, options=ProtectOptions(), detector=FakeDetector([FACE_BOX]))
    assert [r.input for r in report.files] == [str(j.source) for j in jobs] and report.ok
