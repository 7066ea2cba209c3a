"""The command line, through its real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import textured
from unerkannt.cli import main


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "unerkannt", *args], capture_output=True, text=True, cwd=cwd)


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["protect", str(tmp_path)])  # no -o
    assert exc.value.code == 2
    assert main(["protect", str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert "input not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["protect", str(tmp_path), "-o", str(tmp_path / "o"), "--method", "smudge"])
    assert exc.value.code == 2


def test_info_lists_models_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "centerface" in out and "yunet" in out and "heif" in out and "MISSING" not in out


@pytest.mark.models
def test_protect_folder_exit_codes_report_and_json(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(textured()).save(src / "ok.jpg")
    (src / "broken.jpg").write_text("this is text, not a JPEG")
    report = tmp_path / "report.json"
    proc = _cli(
        "protect", str(src), "-o", str(tmp_path / "out"), "--profile", "fast", "--report", str(report), "--json"
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data == json.loads(report.read_text())
    status = {Path(f["input"]).name: f["status"] for f in data["files"]}
    assert status == {"ok.jpg": "protected", "broken.jpg": "failed"}
    assert "1 failed" in proc.stderr.splitlines()[-1]
    assert (tmp_path / "out" / "ok.jpg").is_file() and not (tmp_path / "out" / "broken.jpg").exists()
    # everything protected now -> 0; existing outputs need --overwrite
    (src / "broken.jpg").unlink()
    proc = _cli("protect", str(src), "-o", str(tmp_path / "out"), "--profile", "fast", "-q")
    assert proc.returncode == 1 and "exists" in proc.stderr
    proc = _cli("protect", str(src), "-o", str(tmp_path / "out"), "--profile", "fast", "-q", "--overwrite")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.models
def test_weak_method_prints_a_warning(tmp_path: Path) -> None:
    Image.fromarray(textured()).save(tmp_path / "p.png")
    proc = _cli(
        "protect", str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "--method", "pixelate", "--profile", "fast"
    )
    assert proc.returncode == 0, proc.stderr
    assert "weaker than fill" in proc.stderr


@pytest.mark.models
def test_detect_lists_faces_as_json(tmp_path: Path) -> None:
    Image.fromarray(textured()).save(tmp_path / "p.png")
    proc = _cli("detect", str(tmp_path / "p.png"), "--json", "--profile", "fast")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)[0]["input"].endswith("p.png")


def test_max_frames_refuses_a_long_animation_before_decoding_it(tmp_path: Path) -> None:
    src = tmp_path / "anim.gif"
    frames = [Image.fromarray(textured(seed=i)) for i in range(12)]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=40)
    out = tmp_path / "out"
    result = _cli("protect", str(src), "-o", str(out), "--max-frames", "10", "--json")
    assert result.returncode == 1
    (entry,) = json.loads(result.stdout)["files"]
    assert (
        entry["status"] == "failed"
        and entry["error"]["type"] == "too-large"
        and "12 frames" in entry["error"]["message"]
    )
    assert not out.exists() or not any(out.iterdir())
