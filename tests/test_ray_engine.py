"""The Ray engine (``--engine ray``) on a local Ray instance: the local engine's results, fail closed.

One Ray instance (2 CPUs, no dashboard) serves the whole module; the engine uses it
as it is and leaves it running. No warning filter is needed: the DeprecationWarnings
Ray Data raises about its own settings are silenced by the engine where they arise.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FACE_BOX, ROOT, textured
from unerkannt import ProtectOptions, UsageError
from unerkannt.batch import Job, plan, run
from unerkannt.cli import main
from unerkannt.detect.fake import FakeDetector
from unerkannt.engines import ray as ray_engine
from unerkannt.faces import Face
from unerkannt.jobs import status
from unerkannt.results import FileResult

ray = pytest.importorskip("ray")

ASTRONAUT = ROOT / "examples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    # Test helpers travel to the actors by value: the workers cannot import this module.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()


def _inputs(root: Path) -> dict[str, Path]:
    """Real photos in several formats and folders, plus files that must fail."""
    root.mkdir(parents=True)
    (root / "sub").mkdir()
    with Image.open(ASTRONAUT) as img:
        photo = img.convert("RGB")
    files = {"astronaut": root / "astronaut.jpg", "png": root / "sub" / "astronaut.png"}
    files["astronaut"].write_bytes(ASTRONAUT.read_bytes())
    photo.save(files["png"])
    files["small"] = root / "sub" / "small.webp"
    photo.resize((256, 256)).save(files["small"], lossless=True)
    files["rotated"] = root / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns it; unerkannt applies that to the pixels
    photo.transpose(Image.Transpose.ROTATE_90).save(files["rotated"], exif=exif, quality=92)
    # A name that is not UTF-8 cannot travel in an Arrow string column.
    files["latin1"] = Path(os.fsdecode(bytes(root / "sub") + b"/caf\xe9.jpg"))
    files["latin1"].write_bytes(ASTRONAUT.read_bytes())
    files["empty"] = root / "empty.jpg"
    files["empty"].write_bytes(b"")
    files["truncated"] = root / "truncated.jpg"
    files["truncated"].write_bytes(ASTRONAUT.read_bytes()[:4000])
    files["text"] = root / "notes.png"
    files["text"].write_text("not an image")
    return files


def _comparable(result: FileResult, out_dir: Path) -> FileResult:
    output = os.path.relpath(result.output, out_dir) if result.output else None
    return dataclasses.replace(result, output=output, seconds=0.0)


@pytest.mark.models
def test_results_are_those_of_the_local_engine(tmp_path: Path, ray_instance: None) -> None:
    files = _inputs(tmp_path / "in")
    options = ProtectOptions()
    local_jobs = plan([tmp_path / "in"], tmp_path / "local", options=options)
    ray_jobs = plan([tmp_path / "in"], tmp_path / "ray", options=options)
    local = run(local_jobs, options=options, workers=1)
    finished: list[str] = []
    report = run(ray_jobs, options=options, workers=2, engine="ray", progress=lambda r: finished.append(r.input))

    assert [r.input for r in report.files] == [str(j.source) for j in ray_jobs], "results in the order of the jobs"
    assert sorted(finished) == sorted(r.input for r in report.files), "progress once per file"
    assert [_comparable(r, tmp_path / "ray") for r in report.files] == [
        _comparable(r, tmp_path / "local") for r in local.files
    ], "faces (exact boxes, scores, landmarks), regions, warnings and errors"
    assert report.options == local.options

    failed = {Path(r.input).name: r.error["type"] for r in report.files if not r.ok and r.error}
    assert failed == {"empty.jpg": "corrupt", "truncated.jpg": "corrupt", "notes.png": "unsupported-format"}
    by_input = {r.input: r for r in report.files}
    assert len(by_input[str(files["astronaut"])].faces) == 1
    assert by_input[str(files["latin1"])].ok

    local_out = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file())
    ray_out = sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").rglob("*") if p.is_file())
    assert ray_out == local_out and len(ray_out) == 5, "one output per protected file, none for failures"
    for rel in ray_out:
        assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes(), rel


class _DiesOnNarrow(FakeDetector):
    """Kills its process on images narrower than 20 px, as a crash in native code would."""

    def detect(self, image: np.ndarray) -> list[Face]:
        if image.shape[1] < 20:
            os._exit(1)
        return super().detect(image)


def test_a_file_that_kills_its_actor_fails_alone(tmp_path: Path, ray_instance: None) -> None:
    src = tmp_path / "in"
    src.mkdir()
    # 16 files in blocks of 2: f00 shares its block with the killer, so it is started
    # again each time the block is retried, and must not be taken for the culprit.
    for i in range(16):
        Image.fromarray(textured(16, 16) if i == 1 else textured(seed=i)).save(src / f"f{i:02d}.png")
    jobs = plan([src], tmp_path / "out", options=ProtectOptions())
    report = run(jobs, options=ProtectOptions(), workers=2, engine="ray", detector=_DiesOnNarrow([FACE_BOX]))

    results = {Path(r.input).name: r for r in report.files}
    assert len(results) == 16
    killer = results.pop("f01.png")
    assert not killer.ok and killer.error is not None
    assert killer.error == {"type": "output", "message": "a Ray worker died on this file 2 times"}
    assert all(r.ok and len(r.faces) == 1 for r in results.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(results)


def test_refused_jobs_and_existing_outputs_fail_as_locally(tmp_path: Path, ray_instance: None) -> None:
    src = tmp_path / "a.png"
    Image.fromarray(textured()).save(src)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"already there")
    jobs = [Job(src, tmp_path / "out" / "a.png"), Job(src, None, "refused up front")]
    detector = FakeDetector([FACE_BOX])
    local = run(jobs, options=ProtectOptions(), detector=detector)
    remote = run(jobs, options=ProtectOptions(), detector=detector, engine="ray", workers=2)
    assert [dataclasses.replace(r, seconds=0.0) for r in remote.files] == [
        dataclasses.replace(r, seconds=0.0) for r in local.files
    ]
    assert [r.error["type"] for r in remote.files if r.error] == ["exists", "usage"]
    assert (tmp_path / "out" / "a.png").read_bytes() == b"already there"


@pytest.mark.models
def test_cli_engine_ray_with_a_job(
    tmp_path: Path, ray_instance: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray_engine, "_quiet", False)
    monkeypatch.setenv("RAY_DATA_LOG_LEVEL", "ERROR")
    monkeypatch.setenv("RAY_BACKEND_LOG_LEVEL", "fatal")
    src = tmp_path / "in"
    src.mkdir()
    (src / "astronaut.jpg").write_bytes(ASTRONAUT.read_bytes())
    (src / "empty.jpg").write_bytes(b"")
    out, job = tmp_path / "out", tmp_path / "run.job"
    argv = ["protect", str(src), "-o", str(out), "--engine", "ray", "--workers", "2", "--job", str(job)]
    assert main([*argv, "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["summary"] == {"files": 2, "protected": 1, "failed": 1, "skipped": 0, "faces": 1}
    assert "protected 1 of 2 file(s)" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.jpg"]
    assert status(job)["counts"] == {"pending": 0, "done": 1, "failed": 1, "skipped": 0, "files": 2}


def test_ray_address_needs_the_ray_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(textured()).save(tmp_path / "a.png")
    argv = ["protect", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--ray-address", "auto"]
    assert main(argv) == 2
    assert "--ray-address needs --engine ray" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError):
        run([], options=ProtectOptions(), engine="spark")


def test_without_ray_installed_the_engine_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    jobs = [Job(tmp_path / "a.png", tmp_path / "out" / "a.png")]
    with pytest.raises(UsageError, match=r"pip install 'unerkannt\[ray\]'"):
        run(jobs, options=ProtectOptions(), engine="ray")


def _missing_on_this_node() -> FakeDetector:
    raise ImportError("No module named 'unerkannt'")


class _NotInstalled(FakeDetector):
    """Unpickles as a node without unerkannt would: the actor cannot start."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_missing_on_this_node, ())


def test_actors_that_cannot_start_stop_the_run_with_a_usage_error(tmp_path: Path, ray_instance: None) -> None:
    Image.fromarray(textured()).save(tmp_path / "a.png")
    jobs = plan([tmp_path / "a.png"], tmp_path / "out", options=ProtectOptions())
    finished: list[FileResult] = []
    with pytest.raises(UsageError, match="the Ray engine stopped"):
        run(jobs, options=ProtectOptions(), engine="ray", workers=1, detector=_NotInstalled(), progress=finished.append)
    assert finished == [] and not (tmp_path / "out").exists()
