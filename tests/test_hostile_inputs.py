"""Broken, malicious and awkward inputs: a clear error, no output, the input untouched.

Every failure must be an UnerkanntError subclass with a message that says what is
wrong, leave nothing (not even a ``.unerkannt-*.part`` temp file) in the output
folder, and leave the input byte for byte as it was.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unerkannt
from _samples import FACE_BOX, load_rgb, png_bomb, save, sha256, textured
from unerkannt import (
    CorruptFileError,
    DetectionError,
    ImageTooLargeError,
    InputError,
    OutputError,
    OutputExistsError,
    ProtectOptions,
    UnerkanntError,
    UnsupportedFormatError,
    UsageError,
)
from unerkannt import batch as batch_module
from unerkannt.batch import plan, run
from unerkannt.cli import main
from unerkannt.detect.fake import FakeDetector


@pytest.fixture
def fake() -> FakeDetector:
    return FakeDetector([FACE_BOX])


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    return in_dir, out_dir


def jpeg_bytes(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured(seed=seed)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured()).save(buf, format="PNG")
    return buf.getvalue()


def leftovers(folder: Path) -> list[str]:
    """Everything below ``folder`` (it may not exist at all)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def assert_refused(
    src: Path,
    out_dir: Path,
    error: type[UnerkanntError],
    words: tuple[str, ...],
    *,
    detector: FakeDetector | None = None,
    **options: object,
) -> UnerkanntError:
    """protect() raises ``error`` mentioning one of ``words``; nothing written; input unchanged."""
    before = sha256(src) if src.is_file() else None
    out = out_dir / (src.stem + ".jpg")
    with pytest.raises(UnerkanntError) as info:
        unerkannt.protect(src, out, options=ProtectOptions(**options), detector=detector or FakeDetector([FACE_BOX]))
    exc = info.value
    assert isinstance(exc, error), f"{type(exc).__name__}: {exc}"
    message = str(exc).lower()
    assert len(message) > 10 and any(w in message for w in words), message
    assert leftovers(out_dir) == []
    if before is not None:
        assert sha256(src) == before, "the input was modified"
    return exc


# --- damaged and fake files -----------------------------------------------------------------


def test_zero_byte_file(dirs: tuple[Path, Path]) -> None:
    src = dirs[0] / "empty.jpg"
    src.write_bytes(b"")
    assert_refused(src, dirs[1], CorruptFileError, ("empty", "0 bytes"))


def test_text_file_named_jpg(dirs: tuple[Path, Path]) -> None:
    src = dirs[0] / "notes.jpg"
    src.write_text("these are not the pixels you are looking for\n" * 20)
    assert_refused(src, dirs[1], UnsupportedFormatError, ("not an image", "supported"))


def test_pdf_named_png(dirs: tuple[Path, Path]) -> None:
    src = dirs[0] / "scan.png"
    src.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    assert_refused(src, dirs[1], UnsupportedFormatError, ("not an image", "supported"))


def test_unsupported_image_format_named_png(dirs: tuple[Path, Path]) -> None:
    # A real image, but in a format unerkannt does not write (PPM): refused, not guessed at.
    src = dirs[0] / "netpbm.png"
    Image.fromarray(textured()).save(src, format="PPM")
    assert_refused(src, dirs[1], UnsupportedFormatError, ("not an image", "supported"))


def test_truncated_jpeg(dirs: tuple[Path, Path]) -> None:
    data = jpeg_bytes()
    src = dirs[0] / "cut.jpg"
    src.write_bytes(data[: len(data) // 2])
    assert_refused(src, dirs[1], CorruptFileError, ("truncated", "damaged"))


def test_truncated_png(dirs: tuple[Path, Path]) -> None:
    data = png_bytes()
    src = dirs[0] / "cut.png"
    src.write_bytes(data[: len(data) // 2])
    assert_refused(src, dirs[1], CorruptFileError, ("truncated", "damaged"))


@pytest.mark.parametrize(
    ("fmt", "keep"), [("PNG", 33), ("GIF", 12), ("JPEG", 120), ("TIFF", 30), ("WEBP", 20), ("BMP", 20)]
)
def test_file_cut_inside_its_header(dirs: tuple[Path, Path], fmt: str, keep: int) -> None:
    # A real PNG/GIF/... signature, then the file ends before any pixel: that is a
    # damaged file of a supported format, not "not an image in a supported format".
    buf = io.BytesIO()
    Image.fromarray(textured()).save(buf, format=fmt)
    src = dirs[0] / f"cut.{fmt.lower()}"
    src.write_bytes(buf.getvalue()[:keep])
    assert_refused(src, dirs[1], CorruptFileError, ("truncated", "damaged"))


@pytest.mark.parametrize("garbage", [bytes(range(256)), b"\xff\xd9" * 64, b"\x00" * 300])
def test_corrupted_middle_of_jpeg_protects_or_fails_cleanly(
    dirs: tuple[Path, Path], fake: FakeDetector, garbage: bytes
) -> None:
    data = bytearray(jpeg_bytes())
    mid = len(data) // 2
    data[mid : mid + len(garbage)] = garbage
    src = dirs[0] / "garbled.jpg"
    src.write_bytes(bytes(data))
    before = sha256(src)
    out = dirs[1] / "garbled.jpg"
    try:
        result = unerkannt.protect(src, out, detector=fake)
    except UnerkanntError as exc:
        assert isinstance(exc, InputError), repr(exc)
        assert leftovers(dirs[1]) == []
    else:
        assert isinstance(result, unerkannt.FileResult) and result.ok
        with Image.open(out) as img:
            assert img.size == (120, 80)
        assert leftovers(dirs[1]) == ["garbled.jpg"]
    assert sha256(src) == before


def test_corrupt_exif_block_is_reported_not_leaked_as_a_library_warning(
    dirs: tuple[Path, Path], fake: FakeDetector
) -> None:
    # An APP1 Exif segment whose IFD claims more entries than it holds. Pillow warns
    # ("Corrupt EXIF data"); unerkannt must turn that into a result warning or a
    # clean error, not let a raw library warning escape (or raise, under -W error).
    data = jpeg_bytes()
    payload = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x00" * 30
    segment = b"\xff\xe1" + len(payload + b"..").to_bytes(2, "big") + payload
    src = dirs[0] / "badexif.jpg"
    src.write_bytes(data[:2] + segment + data[2:])
    before = sha256(src)
    out = dirs[1] / "badexif.jpg"
    outcome: unerkannt.FileResult | UnerkanntError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = unerkannt.protect(src, out, detector=fake)  # type: ignore[assignment]
        except UnerkanntError as exc:
            outcome = exc
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == [], "library warnings escaped"
    if isinstance(outcome, UnerkanntError):
        assert isinstance(outcome, InputError), repr(outcome)
        assert leftovers(dirs[1]) == []
    else:
        assert outcome.ok
        assert any("exif" in w.lower() for w in outcome.warnings), outcome.warnings
    assert sha256(src) == before


def test_mpo_second_image_never_reaches_the_output(dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    # A JPEG with an MPF index and a second full picture (3D cameras, some phones).
    src = dirs[0] / "two.jpg"
    Image.fromarray(textured()).save(
        src, format="MPO", save_all=True, append_images=[Image.fromarray(textured(seed=4))]
    )
    before = sha256(src)
    out = dirs[1] / "two.jpg"
    try:
        unerkannt.protect(src, out, detector=fake)
    except UnerkanntError as exc:
        assert isinstance(exc, InputError) and "mpo" in str(exc).lower(), repr(exc)
        assert leftovers(dirs[1]) == []
    else:
        with Image.open(out) as img:
            assert getattr(img, "n_frames", 1) == 1 and img.format == "JPEG"
    assert sha256(src) == before


# --- size limits ----------------------------------------------------------------------------


def test_header_bomb_beyond_pillows_own_limit(dirs: tuple[Path, Path]) -> None:
    src = dirs[0] / "bomb.png"
    src.write_bytes(png_bomb(20_000, 20_000))  # 400 Mpx, ~50 kB on disk
    assert src.stat().st_size < 100_000
    assert_refused(src, dirs[1], ImageTooLargeError, ("too large", "limit"))


def test_header_bomb_caught_by_our_limit(dirs: tuple[Path, Path]) -> None:
    # 144 Mpx: above the default max_pixels (100 Mpx), below Pillow's error threshold.
    src = dirs[0] / "bomb.png"
    src.write_bytes(png_bomb(12_000, 12_000))
    assert_refused(src, dirs[1], ImageTooLargeError, ("limit", "too large"))


def test_max_pixels_option(dirs: tuple[Path, Path]) -> None:
    src = save(textured(), dirs[0] / "photo.jpg", "jpeg")
    exc = assert_refused(src, dirs[1], ImageTooLargeError, ("limit",), max_pixels=5_000)
    assert "5,000" in str(exc) or "5000" in str(exc)


def test_max_pixels_counts_every_frame(dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    src = dirs[0] / "anim.gif"
    frames = [Image.fromarray(textured(seed=s)) for s in range(3)]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)
    # one frame (9,600 px) fits, three (28,800 px) do not
    assert_refused(src, dirs[1], ImageTooLargeError, ("frame",), max_pixels=20_000)
    result = unerkannt.protect(src, dirs[1] / "ok.gif", options=ProtectOptions(max_pixels=30_000), detector=fake)
    assert result.ok


@pytest.mark.parametrize("box", [FACE_BOX, (0.0, 0.0, 1.0, 1.0)])
def test_one_pixel_image(dirs: tuple[Path, Path], box: tuple[float, float, float, float]) -> None:
    src = dirs[0] / "dot.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(src)
    out = dirs[1] / "dot.png"
    result = unerkannt.protect(src, out, detector=FakeDetector([box]))
    assert isinstance(result, unerkannt.FileResult) and result.ok
    with Image.open(out) as img:
        assert img.size == (1, 1)
    if box != FACE_BOX:  # a face covering the one pixel is filled
        assert len(result.faces) == 1
        assert tuple(load_rgb(out)[0, 0]) != (200, 10, 10)


# --- folders and names ----------------------------------------------------------------------


def test_files_in_folders_are_told_by_content_and_every_one_is_accounted_for(
    dirs: tuple[Path, Path], fake: FakeDetector
) -> None:
    # A JPEG not named like one is a photo: protected (named as what it is), never
    # passed over; a text is skipped as not a photo or video, and says so.
    in_dir, out_dir = dirs
    save(textured(), in_dir / "photo.jpg", "jpeg")
    (in_dir / "data.xyz").write_bytes(jpeg_bytes())
    (in_dir / "IMG_0001").write_bytes(jpeg_bytes(seed=2))
    (in_dir / "README").write_text("hello")
    jobs = plan([in_dir], out_dir, options=ProtectOptions())
    assert [j.source.name for j in jobs] == ["IMG_0001", "README", "data.xyz", "photo.jpg"]
    report = run(jobs, options=ProtectOptions(), detector=fake)
    assert report.ok
    status = {Path(f.input).name: f.status for f in report.files}
    assert status == {"photo.jpg": "protected", "data.xyz": "protected", "IMG_0001": "protected", "README": "skipped"}
    assert report.summary() == {"files": 4, "protected": 3, "failed": 0, "skipped": 1, "faces": 3}
    assert leftovers(out_dir) == ["IMG_0001.jpg", "data.xyz.jpg", "photo.jpg"]
    with Image.open(out_dir / "data.xyz.jpg") as img:
        assert img.format == "JPEG"


def test_symlink_out_of_the_input_tree_is_refused(tmp_path: Path, dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    in_dir, out_dir = dirs
    secret = save(textured(seed=5), tmp_path / "elsewhere" / "private.jpg", "jpeg")
    save(textured(), in_dir / "photo.jpg", "jpeg")
    (in_dir / "link.jpg").symlink_to(secret)
    before = sha256(secret)
    options = ProtectOptions()

    report = run(plan([in_dir], out_dir, options=options), options=options, detector=fake)

    by_name = {Path(f.input).name: f for f in report.files}
    assert by_name["photo.jpg"].ok
    failed = by_name["link.jpg"]
    assert not failed.ok and failed.output is None
    assert failed.error is not None and "link" in failed.error["message"]
    assert leftovers(out_dir) == ["photo.jpg"]
    assert sha256(secret) == before


def test_symlink_inside_the_input_tree_is_followed(dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    in_dir, out_dir = dirs
    save(textured(), in_dir / "photo.jpg", "jpeg")
    (in_dir / "alias.jpg").symlink_to(in_dir / "photo.jpg")
    options = ProtectOptions()
    report = run(plan([in_dir], out_dir, options=options), options=options, detector=fake)
    assert report.ok
    assert not (out_dir / "alias.jpg").is_symlink()


@pytest.mark.models
@pytest.mark.parametrize("name", ["--output.jpg", "-rf.jpg", "-o.jpg"])
def test_dash_names_through_the_real_cli(tmp_path: Path, name: str) -> None:
    save(textured(), tmp_path / name, "jpeg")
    before = sha256(tmp_path / name)
    proc = subprocess.run(
        [sys.executable, "-m", "unerkannt", "protect", "--profile", "fast", "-q", "-o", "out", "--", name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / name).is_file()
    with Image.open(tmp_path / "out" / name) as img:
        assert img.format == "JPEG" and img.size == (120, 80)
    assert sha256(tmp_path / name) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "out"])


@pytest.mark.models
def test_dash_name_with_dot_slash_through_the_real_cli(tmp_path: Path) -> None:
    save(textured(), tmp_path / "-rf.jpg", "jpeg")
    proc = subprocess.run(
        [sys.executable, "-m", "unerkannt", "protect", "--profile", "fast", "-q", "-o", "out", "./-rf.jpg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "-rf.jpg").is_file()


CONTROL_GOOD = "ok\x1b[31mred\n.jpg"
CONTROL_BAD = "bad\x1b[31mred\n.jpg"
CONTROL_BELL = "bell\x07\r\x9b.jpg"


def _control_folder(in_dir: Path) -> None:
    save(textured(), in_dir / CONTROL_GOOD, "jpeg")
    (in_dir / CONTROL_BAD).write_text("not a picture")  # fails, so its name gets printed
    (in_dir / CONTROL_BELL).write_bytes(b"")  # fails too


def _assert_no_raw_controls(text: str) -> None:
    for raw in ("\x1b", "\x07", "\r", "\x9b", "red\n.jpg"):
        assert raw not in text, f"raw {raw!r} from a file name reached the terminal"


@pytest.fixture
def fake_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI with the fake detector (in this process, so one worker)."""
    monkeypatch.setattr(batch_module, "build_detector", lambda options: FakeDetector([FACE_BOX]))


@pytest.mark.usefixtures("fake_cli")
@pytest.mark.parametrize("json_out", [False, True])
def test_control_characters_in_names_are_escaped(
    dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], json_out: bool
) -> None:
    in_dir, out_dir = dirs
    _control_folder(in_dir)
    args = ["protect", str(in_dir), "-o", str(out_dir), "--workers", "1"] + (["--json"] if json_out else [])

    code = main(args)

    captured = capsys.readouterr()
    assert code == 1
    _assert_no_raw_controls(captured.out)
    _assert_no_raw_controls(captured.err)
    if json_out:
        report = json.loads(captured.out)
        assert {Path(f["input"]).name for f in report["files"]} == {CONTROL_GOOD, CONTROL_BAD, CONTROL_BELL}
    else:
        assert "bad\\x1b[31mred\\x0a.jpg" in captured.err
        assert "2 failed" in captured.err
    assert (out_dir / CONTROL_GOOD).is_file()
    assert leftovers(out_dir) == [CONTROL_GOOD]


@pytest.mark.usefixtures("fake_cli")
def test_control_characters_in_a_missing_input_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["protect", str(tmp_path / "gone\x1b]0;pwned\x07.jpg"), "-o", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2
    assert "not found" in captured.err
    _assert_no_raw_controls(captured.out + captured.err)


@pytest.mark.models
def test_control_characters_in_names_through_the_real_cli(tmp_path: Path) -> None:
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    _control_folder(in_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "unerkannt", "protect", "--profile", "fast", "-o", str(tmp_path / "out"), str(in_dir)],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    assert b"\x1b" not in proc.stdout + proc.stderr
    _assert_no_raw_controls(out + err)
    assert "bad\\x1b[31mred\\x0a.jpg" in err


# --- where outputs go -----------------------------------------------------------------------


def test_existing_output_is_not_replaced(dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    in_dir, out_dir = dirs
    src = save(textured(), in_dir / "photo.jpg", "jpeg")
    out = out_dir / "photo.jpg"
    out_dir.mkdir()
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="exists"):
        unerkannt.protect(src, out, detector=fake)
    assert out.read_bytes() == b"precious"
    assert leftovers(out_dir) == ["photo.jpg"]

    result = unerkannt.protect(src, out, detector=fake, overwrite=True)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    with Image.open(out) as img:
        assert img.format == "JPEG"
    assert leftovers(out_dir) == ["photo.jpg"]


def test_existing_output_in_a_batch_is_a_failed_file(dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    in_dir, out_dir = dirs
    save(textured(), in_dir / "a.jpg", "jpeg")
    save(textured(), in_dir / "b.jpg", "jpeg")
    out_dir.mkdir()
    (out_dir / "a.jpg").write_bytes(b"precious")
    options = ProtectOptions()
    report = run(plan([in_dir], out_dir, options=options), options=options, detector=fake)
    status = {Path(f.input).name: (f.status, f.error and f.error["type"]) for f in report.files}
    assert status == {"a.jpg": ("failed", "exists"), "b.jpg": ("protected", None)}
    assert (out_dir / "a.jpg").read_bytes() == b"precious"
    report = run(plan([in_dir], out_dir, options=options), options=options, detector=fake, overwrite=True)
    assert report.ok and (out_dir / "a.jpg").read_bytes() != b"precious"


def test_output_symlink_is_replaced_not_followed(tmp_path: Path, dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    in_dir, out_dir = dirs
    src = save(textured(), in_dir / "photo.jpg", "jpeg")
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch")
    out_dir.mkdir()
    (out_dir / "photo.jpg").symlink_to(victim)
    with pytest.raises(OutputExistsError):
        unerkannt.protect(src, out_dir / "photo.jpg", detector=fake)
    unerkannt.protect(src, out_dir / "photo.jpg", detector=fake, overwrite=True)
    assert victim.read_text() == "do not touch"
    assert not (out_dir / "photo.jpg").is_symlink()


@pytest.mark.parametrize("overwrite", [False, True])
def test_output_equal_to_input_is_refused(dirs: tuple[Path, Path], fake: FakeDetector, overwrite: bool) -> None:
    src = save(textured(), dirs[0] / "photo.jpg", "jpeg")
    before = sha256(src)
    with pytest.raises(UnerkanntError) as info:
        unerkannt.protect(src, src, detector=fake, overwrite=overwrite)
    assert isinstance(info.value, (UsageError, OutputError)), repr(info.value)
    assert sha256(src) == before, "the input was overwritten by its protected copy"
    assert leftovers(dirs[0]) == ["photo.jpg"]


def test_output_equal_to_input_through_a_symlinked_folder_is_refused(
    tmp_path: Path, dirs: tuple[Path, Path], fake: FakeDetector
) -> None:
    src = save(textured(), dirs[0] / "photo.jpg", "jpeg")
    before = sha256(src)
    (tmp_path / "alias").symlink_to(dirs[0])
    with pytest.raises(UnerkanntError):
        unerkannt.protect(src, tmp_path / "alias" / "photo.jpg", detector=fake, overwrite=True)
    assert sha256(src) == before


@pytest.mark.usefixtures("fake_cli")
def test_cli_output_folder_equal_to_the_input_folder_of_a_file(
    dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    src = save(textured(), dirs[0] / "photo.jpg", "jpeg")
    before = sha256(src)
    code = main(["protect", str(src), "-o", str(dirs[0]), "--overwrite", "--workers", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "replace an input" in err
    assert sha256(src) == before
    assert leftovers(dirs[0]) == ["photo.jpg"]


def test_output_folder_inside_input_folder(dirs: tuple[Path, Path]) -> None:
    in_dir, _ = dirs
    save(textured(), in_dir / "photo.jpg", "jpeg")
    with pytest.raises(UsageError, match="inside"):
        plan([in_dir], in_dir / "public", options=ProtectOptions())
    with pytest.raises(UsageError, match="inside"):
        plan([in_dir], in_dir, options=ProtectOptions())
    assert leftovers(in_dir) == ["photo.jpg"]


def test_output_folder_inside_input_folder_via_cli(dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    in_dir, _ = dirs
    save(textured(), in_dir / "photo.jpg", "jpeg")
    code = main(["protect", str(in_dir), "-o", str(in_dir / "public")])
    err = capsys.readouterr().err
    assert code == 2
    assert "inside" in err and err.startswith("unerkannt: error:")
    assert leftovers(in_dir) == ["photo.jpg"]


def test_allow_inside_input_never_reads_its_own_outputs(dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    in_dir, _ = dirs
    save(textured(), in_dir / "photo.jpg", "jpeg")
    options = ProtectOptions()
    for _ in range(2):  # the second run must not pick up public/photo.jpg as an input
        jobs = plan([in_dir], in_dir / "public", options=options, allow_inside_input=True)
        assert [j.source.name for j in jobs] == ["photo.jpg"]
        run(jobs, options=options, detector=fake, overwrite=True)
    assert leftovers(in_dir) == ["photo.jpg", "public", "public/photo.jpg"]


# --- write failures -------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_folder(dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    in_dir, out_dir = dirs
    src = save(textured(), in_dir / "photo.jpg", "jpeg")
    out_dir.mkdir()
    out_dir.chmod(0o500)
    try:
        with pytest.raises(OutputError) as info:
            unerkannt.protect(src, out_dir / "photo.jpg", detector=fake)
        assert not isinstance(info.value, OutputExistsError)
        assert leftovers(out_dir) == []
    finally:
        out_dir.chmod(0o700)


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("target", ["fsync", "link", "replace"])
def test_disk_full_leaves_no_partial_file(
    dirs: tuple[Path, Path], fake: FakeDetector, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    in_dir, out_dir = dirs
    src = save(textured(), in_dir / "photo.jpg", "jpeg")
    before = sha256(src)
    out_dir.mkdir()
    if target == "replace":
        (out_dir / "photo.jpg").write_bytes(b"old version")
    monkeypatch.setattr(os, target, _enospc)
    with pytest.raises(OutputError) as info:
        unerkannt.protect(src, out_dir / "photo.jpg", detector=fake, overwrite=target == "replace")
    monkeypatch.undo()
    assert not isinstance(info.value, OutputExistsError)
    assert "space" in str(info.value).lower()
    expected = ["photo.jpg"] if target == "replace" else []
    assert leftovers(out_dir) == expected, "a partial or temporary file was left behind"
    if target == "replace":
        assert (out_dir / "photo.jpg").read_bytes() == b"old version"
    assert sha256(src) == before


def test_file_system_without_hard_links_still_works(
    dirs: tuple[Path, Path], fake: FakeDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_dir, out_dir = dirs
    src = save(textured(), in_dir / "photo.jpg", "jpeg")

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    result = unerkannt.protect(src, out_dir / "photo.jpg", detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert leftovers(out_dir) == ["photo.jpg"]
    with pytest.raises(OutputExistsError):
        unerkannt.protect(src, out_dir / "photo.jpg", detector=fake)
    assert leftovers(out_dir) == ["photo.jpg"]


@pytest.mark.parametrize("below", ["photo.jpg", "sub/photo.jpg"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_output_folder_blocked_by_a_file(
    dirs: tuple[Path, Path], fake: FakeDetector, below: str, overwrite: bool
) -> None:
    # The output folder's name is taken by a file: an output error, and not "the output
    # file exists (use --overwrite)", which is false and which --overwrite cannot fix.
    in_dir, out_dir = dirs
    src = save(textured(), in_dir / "photo.jpg", "jpeg")
    out_dir.write_text("a file where a folder should be")
    with pytest.raises(OutputError) as info:
        unerkannt.protect(src, out_dir / below, detector=fake, overwrite=overwrite)
    assert not isinstance(info.value, OutputExistsError), f"misleading: {info.value}"
    assert out_dir.read_text() == "a file where a folder should be"
    assert leftovers(in_dir) == ["photo.jpg"]


# --- detector failure -----------------------------------------------------------------------


def test_failing_detector_means_no_output(dirs: tuple[Path, Path]) -> None:
    src = save(textured(), dirs[0] / "photo.jpg", "jpeg")
    assert_refused(src, dirs[1], DetectionError, ("detector",), detector=FakeDetector(fail=True))


def test_failing_detector_in_a_batch(dirs: tuple[Path, Path]) -> None:
    in_dir, out_dir = dirs
    save(textured(), in_dir / "a.jpg", "jpeg")
    save(textured(), in_dir / "b.png", "png")
    options = ProtectOptions()
    report = run(plan([in_dir], out_dir, options=options), options=options, detector=FakeDetector(fail=True))
    assert not report.ok
    assert [f.error and f.error["type"] for f in report.files] == ["detection", "detection"]
    assert all(f.output is None for f in report.files)
    assert leftovers(out_dir) == []


def test_missing_and_directory_inputs(dirs: tuple[Path, Path], fake: FakeDetector) -> None:
    in_dir, out_dir = dirs
    assert_refused(in_dir / "nope.jpg", out_dir, InputError, ("not exist",))
    (in_dir / "folder.jpg").mkdir()
    assert_refused(in_dir / "folder.jpg", out_dir, InputError, ("directory",))
    with pytest.raises(UsageError, match="not found"):
        plan([in_dir / "nope.jpg"], out_dir, options=ProtectOptions())


def test_array_input_validation(fake: FakeDetector) -> None:
    for bad in (np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.float32)):
        with pytest.raises(InputError, match="uint8"):
            unerkannt.protect(bad, detector=fake)
    with pytest.raises(InputError, match="no pixels"):
        unerkannt.protect(np.zeros((0, 5, 3), np.uint8), detector=fake)
