"""Files as cameras and phones write them: orientation, previews, damage, raw, names.

Every sample is a real file (Pillow, pillow-heif, pidng, exiftool, or bytes patched by
``_camera``), every check reopens what was written. The fake detector reports
FACE_BOX where a face is wanted; one test decodes a raw file of a real face with the
real detector.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unerkannt
from _camera import (
    MP_LARGE_THUMBNAIL_VGA,
    flip_idat_bit,
    make_dng,
    orient_heif,
    set_mpf_type,
    set_tiff_tag,
    zero_scan,
)
from _samples import (
    FACE_BOX,
    HEIGHT,
    WIDTH,
    assert_face_filled,
    exif_with,
    exiftool_write,
    load_frames,
    load_rgb,
    luma,
    sha256,
    stored_for_orientation,
    textured,
)
from conftest import require_exiftool
from unerkannt import (
    CorruptFileError,
    ImageTooLargeError,
    OutputError,
    ProtectOptions,
    UnerkanntError,
    UnsupportedFormatError,
)
from unerkannt import batch as batch_module
from unerkannt.batch import plan, run
from unerkannt.cli import main
from unerkannt.detect.fake import FakeDetector
from unerkannt.media import by_extension, identify, read_image

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"


@pytest.fixture
def fake() -> FakeDetector:
    return FakeDetector([FACE_BOX])


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(luma(a) - luma(b)).mean())


def _gain_matched(out: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``out`` scaled by the one factor that brings it closest to ``reference`` (LibRaw brightens)."""
    a, b = out.astype(np.float64), reference.astype(np.float64)
    return a * float((a * b).sum() / (a * a).sum())


def assert_upright(out: np.ndarray, upright: np.ndarray, *, tolerance: float = 6.0) -> None:
    """``out`` shows ``upright``, and no other of the eight orientations of it does."""
    assert out.shape == upright.shape, f"output is {out.shape[1]}x{out.shape[0]}, displayed size is not kept"
    assert _mad(out, upright) < tolerance, f"output differs from the upright picture by {_mad(out, upright):.1f}"
    for turned in (
        upright[:, ::-1],
        upright[::-1, ::-1],
        upright[::-1, :],
    ):
        assert _mad(out, turned) > 4 * tolerance, "the test picture is not asymmetric enough to tell"


# --- 1. orientation, applied exactly once ---------------------------------------------------

ORIENTED = {
    # format: (ending, how the orientation is stored)
    "jpeg": ".jpg",  # EXIF in APP1 (Pillow writes it)
    "tiff": ".tif",  # the TIFF Orientation tag (exiftool)
    "png": ".png",  # an eXIf chunk (exiftool)
    "webp": ".webp",  # an EXIF chunk (exiftool)
    "heif": ".heic",  # irot/imir, and the EXIF tag beside them as phones write it
    "avif": ".avif",  # irot/imir (Pillow's writer), and the EXIF tag beside them (exiftool)
}


def _oriented_file(folder: Path, fmt: str, orientation: int, upright: np.ndarray) -> Path:
    stored = Image.fromarray(stored_for_orientation(upright, orientation))
    path = folder / f"o{orientation}{ORIENTED[fmt]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jpeg":
        stored.save(path, quality=95, subsampling=0, exif=exif_with(orientation=orientation))
    elif fmt == "heif":
        stored.save(path, quality=95, exif=exif_with(orientation=orientation))
        orient_heif(path, orientation)
    elif fmt == "avif":
        stored.save(path, quality=95, exif=exif_with(orientation=orientation))
        exiftool_write(require_exiftool(), path, "-n", f"-IFD0:Orientation={orientation}")
    else:
        stored.save(path, **({"lossless": True} if fmt == "webp" else {}))
        exiftool_write(require_exiftool(), path, "-n", f"-IFD0:Orientation={orientation}")
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", list(ORIENTED))
def test_every_orientation_is_applied_exactly_once(tmp_path: Path, fmt: str, orientation: int) -> None:
    upright = textured(seed=7)
    src = _oriented_file(tmp_path / "in", fmt, orientation, upright)
    out = tmp_path / "out" / src.name

    result = unerkannt.protect(src, out, detector=FakeDetector([]))

    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert not any("orientation" in w for w in result.warnings), result.warnings
    with Image.open(out) as img:
        assert img.size == (WIDTH, HEIGHT), "the output does not have the displayed size"
        assert img.getexif().get(0x0112) in (None, 1)
    assert_upright(load_rgb(out), upright.astype(np.int16))


# --- 2. previews and thumbnails beside the picture ------------------------------------------


def _mpo(path: Path, second: np.ndarray, *, first: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    main_picture = Image.fromarray(textured() if first is None else first)
    main_picture.save(path, format="MPO", save_all=True, append_images=[Image.fromarray(second)], quality=95)
    with Image.open(path) as img:
        assert img.format == "MPO" and img.n_frames == 2
    return path


def test_jpeg_with_a_smaller_mpf_picture_protects_the_main_one(tmp_path: Path, fake: FakeDetector) -> None:
    # A phone's gain map or a camera's preview: a smaller second picture in the MPF index.
    src = _mpo(tmp_path / "in" / "IMG_0001.JPG", textured(60, 40, seed=3))
    before = sha256(src)
    out = tmp_path / "out" / "IMG_0001.JPG"

    result = unerkannt.protect(src, out, detector=fake)

    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert any("left out picture 2" in w and "60x40" in w for w in result.warnings), result.warnings
    fmt, _, size, frames, _ = load_frames(out)
    assert (fmt, size, len(frames)) == ("JPEG", (WIDTH, HEIGHT), 1)
    assert_face_filled(frames[0], textured())
    assert sha256(src) == before


def test_mpf_large_thumbnail_is_left_out_even_at_full_size(tmp_path: Path, fake: FakeDetector) -> None:
    src = set_mpf_type(_mpo(tmp_path / "cam.jpg", textured(seed=3)), 1, MP_LARGE_THUMBNAIL_VGA)
    with Image.open(src) as img:
        assert "Large Thumbnail" in img.mpinfo[0xB002][1]["Attribute"]["MPType"]
    out = tmp_path / "out.gif"  # a format that would keep a second frame
    result = unerkannt.protect(src, out, options=ProtectOptions(format="gif"), detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert any("Large Thumbnail" in w for w in result.warnings), result.warnings
    assert len(load_frames(out)[3]) == 1


def test_stereo_mpo_keeps_both_pictures_as_today(tmp_path: Path, fake: FakeDetector) -> None:
    left, right = textured(seed=1), textured(seed=2)
    src = _mpo(tmp_path / "stereo.mpo", right, first=left)
    out = tmp_path / "stereo.gif"
    result = unerkannt.protect(src, out, options=ProtectOptions(format="gif"), detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    frames = load_frames(out)[3]
    assert len(frames) == 2 and len(result.faces) == 2
    assert _mad(frames[1][:, 100:], right[:, 100:]) < _mad(frames[1][:, 100:], left[:, 100:]) / 3


def _tiff_pages(path: Path, *pages: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(p) for p in pages]
    images[0].save(path, format="TIFF", save_all=True, append_images=images[1:], tiffinfo={254: 0})
    return path


def test_tiff_thumbnail_page_is_left_out(tmp_path: Path, fake: FakeDetector) -> None:
    src = set_tiff_tag(_tiff_pages(tmp_path / "scan.tif", textured(), textured(30, 20, seed=5)), 1, 254, 1)
    out = tmp_path / "out" / "scan.tif"
    result = unerkannt.protect(src, out, detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert any("page 2" in w and "reduced-resolution" in w for w in result.warnings), result.warnings
    fmt, _, size, frames, _ = load_frames(out)
    assert (fmt, size, len(frames)) == ("TIFF", (WIDTH, HEIGHT), 1)
    assert_face_filled(frames[0], textured())


def test_tiff_document_with_pages_of_different_sizes_keeps_every_page(tmp_path: Path) -> None:
    # Unflagged pages are a document: each one is protected, in its own size.
    small = textured(60, 100, seed=5)
    src = _tiff_pages(tmp_path / "letter.tif", textured(), small)
    out = tmp_path / "out" / "letter.tif"
    result = unerkannt.protect(src, out, detector=FakeDetector([(10.0, 10.0, 40.0, 40.0)]))
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert sorted(f.frame for f in result.faces) == [0, 1]
    with Image.open(out) as img:
        sizes = []
        for i in range(img.n_frames):
            img.seek(i)
            sizes.append(img.size)
            page = np.asarray(img.convert("RGB")).astype(np.int16)
            assert luma(page)[20:30, 20:30].std() < 4, f"page {i + 1} is not filled"
    assert sizes == [(WIDTH, HEIGHT), (60, 100)]
    assert np.array_equal(page[60:, :], small[60:, :].astype(np.int16)), "the second page's own pixels changed"


def test_pages_of_different_sizes_refused_where_the_format_cannot_hold_them(tmp_path: Path) -> None:
    src = _tiff_pages(tmp_path / "letter.tif", textured(), textured(60, 100, seed=5))
    with pytest.raises(OutputError, match=r"differ in size.*TIFF"):
        unerkannt.protect(src, tmp_path / "out.gif", options=ProtectOptions(format="gif"), detector=FakeDetector())
    assert not (tmp_path / "out.gif").exists()
    # A one-picture format takes the first page, as for an animation, and says so.
    result = unerkannt.protect(
        src, tmp_path / "out.jpg", options=ProtectOptions(format="jpeg"), detector=FakeDetector()
    )
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert any("first of 2" in w for w in result.warnings)


@pytest.mark.parametrize("primary_second", [False, True])
def test_heif_with_two_picture_sizes_protects_the_primary(
    tmp_path: Path, fake: FakeDetector, primary_second: bool
) -> None:
    main_picture, other = Image.fromarray(textured()), Image.fromarray(textured(60, 40, seed=3))
    src = tmp_path / "IMG_0002.HEIC"
    if primary_second:
        other.save(src, save_all=True, append_images=[main_picture], primary_index=1, quality=95)
    else:
        main_picture.save(src, save_all=True, append_images=[other], quality=95)
    out = tmp_path / "out" / "IMG_0002.HEIC"
    result = unerkannt.protect(src, out, detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert any("60x40" in w for w in result.warnings), result.warnings
    fmt, _, size, frames, _ = load_frames(out)
    assert (fmt, size, len(frames)) == ("HEIF", (WIDTH, HEIGHT), 1)
    assert_face_filled(frames[0], textured())


# --- 3. damaged data fails the file ---------------------------------------------------------


def _jpeg(width: int = 400, height: int = 300) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured(width, height)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _assert_damaged(src: Path, out_dir: Path, words: tuple[str, ...]) -> None:
    before = sha256(src)
    with pytest.raises(UnerkanntError) as info:
        unerkannt.protect(src, out_dir / src.name, detector=FakeDetector([FACE_BOX]))
    assert isinstance(info.value, CorruptFileError), repr(info.value)
    message = str(info.value)
    assert all(w in message for w in words), message
    assert _leftovers(out_dir) == []
    assert sha256(src) == before


def test_jpeg_with_zeroed_scan_bytes_fails(tmp_path: Path) -> None:
    src = tmp_path / "card.jpg"
    src.write_bytes(zero_scan(_jpeg(), 3000))
    with Image.open(src) as img:
        img.load()  # Pillow decodes it without a word: the damage shows only as grey blocks
    _assert_damaged(src, tmp_path / "out", ("damaged", "libjpeg", "Corrupt JPEG data"))


def test_damaged_second_picture_of_a_stereo_mpo_fails(tmp_path: Path) -> None:
    src = _mpo(tmp_path / "stereo.jpg", textured(400, 300, seed=2), first=textured(400, 300))
    data = src.read_bytes()
    with Image.open(src) as img:
        img.seek(1)
        start = img.offset
    src.write_bytes(data[:start] + zero_scan(data[start:], 3000))
    _assert_damaged(src, tmp_path / "out", ("picture 2", "damaged"))


def test_png_with_one_flipped_bit_in_idat_fails(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(textured(400, 300)).save(buf, format="PNG")
    src = tmp_path / "scan.png"
    src.write_bytes(flip_idat_bit(buf.getvalue()))
    _assert_damaged(src, tmp_path / "out", ("damaged", "IDAT"))


def test_png_with_a_damaged_text_chunk_after_the_pixels_is_protected_and_reported(
    tmp_path: Path, fake: FakeDetector
) -> None:
    # Text (dropped from the output anyway) behind the pixel data, its checksum wrong:
    # harmless, so reported and not refused.
    buf = io.BytesIO()
    Image.fromarray(textured()).save(buf, format="PNG")
    data = buf.getvalue()
    text = b"Comment\x00a note"
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text) ^ 1)
    src = tmp_path / "note.png"
    src.write_bytes(data[:-12] + chunk + data[-12:])  # before IEND
    result = unerkannt.protect(src, tmp_path / "out.png", detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert any("tEXt" in w and "damaged" in w for w in result.warnings), result.warnings


def test_jpeg_padding_after_the_scan_is_reported_not_refused(tmp_path: Path, fake: FakeDetector) -> None:
    data = _jpeg()
    src = tmp_path / "padded.jpg"
    src.write_bytes(data[:-2] + bytes(16) + data[-2:])
    result = unerkannt.protect(src, tmp_path / "out.jpg", detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert any("extraneous bytes" in w for w in result.warnings), result.warnings


def test_a_truncated_jpeg_still_fails(tmp_path: Path) -> None:
    data = _jpeg()
    src = tmp_path / "cut.jpg"
    src.write_bytes(data[: len(data) * 2 // 3])
    _assert_damaged(src, tmp_path / "out", ("damaged",))


# --- 4. camera raw --------------------------------------------------------------------------


def _scene(width: int = WIDTH, height: int = HEIGHT, seed: int = 0) -> np.ndarray:
    """A picture with 8-pixel blocks: detail that survives a colour filter array."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(30, 226, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))[:height, :width])


def test_dng_is_developed_with_the_camera_white_balance(tmp_path: Path, fake: FakeDetector) -> None:
    scene = _scene()
    # Under warm light the sensor's red reads twice its blue: without the camera's white
    # balance the picture comes out tinted.
    src = make_dng(scene, tmp_path / "in" / "IMG_0003.dng", neutral=(0.5, 1.0, 0.8))
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=ProtectOptions())
    assert [j.output.name for j in jobs if j.output] == ["IMG_0003.jpg"]

    report = run(jobs, options=ProtectOptions(), detector=fake)

    assert report.ok, report.files[0].error
    out = tmp_path / "out" / "IMG_0003.jpg"
    fmt, mode, size, frames, _ = load_frames(out)
    assert (fmt, mode, size) == ("JPEG", "RGB", (WIDTH, HEIGHT))
    assert_face_filled(frames[0], scene)
    far = np.ones((HEIGHT, WIDTH), bool)
    far[:, 25:95] = False
    # LibRaw brightens the whole picture; the balance of the channels must be the scene's
    # (demosaicing blurs red and blue at the block edges, so compare means, not pixels).
    ratios = frames[0][far].mean(axis=0) / scene[far].mean(axis=0)
    assert ratios.max() / ratios.min() < 1.05, f"channels scaled by {ratios}: the camera's white balance is not applied"
    assert _mad(_gain_matched(frames[0], scene)[far], scene[far]) < 8, "the developed raw does not show the scene"
    assert any("LibRaw" in w for w in report.files[0].warnings)
    assert sha256(src) == sha256(src)  # the raw file is only read


@pytest.mark.parametrize("orientation", range(1, 9))
def test_dng_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    upright = _scene(seed=4)
    src = make_dng(stored_for_orientation(upright, orientation), tmp_path / "o.dng", orientation=orientation)
    picture = read_image(src, max_pixels=10**6)
    assert picture.format.name == "jpeg"
    assert_upright(_gain_matched(picture.frames[0], upright), upright.astype(np.int16), tolerance=10.0)


def test_raw_pixel_limit_is_checked_before_the_sensor_data_is_read(tmp_path: Path) -> None:
    # The header says 60000 x 60000; the data holds 120 x 80. Unpacking would fail on
    # the missing data (a damaged file); checked first, the size is refused as too large.
    src = make_dng(_scene(), tmp_path / "bomb.dng")
    for tag in (256, 257, 322, 323):  # ImageWidth, ImageLength, TileWidth, TileLength
        set_tiff_tag(src, 0, tag, 60_000)
    with pytest.raises(ImageTooLargeError, match="limit"):
        read_image(src, max_pixels=100_000_000)
    assert read_image(make_dng(_scene(), tmp_path / "ok.dng"), max_pixels=WIDTH * HEIGHT).frames[0].shape[:2] == (
        HEIGHT,
        WIDTH,
    )
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / "ok.dng", max_pixels=WIDTH * HEIGHT - 1)


def test_truncated_raw_fails(tmp_path: Path) -> None:
    data = make_dng(_scene(), tmp_path / "whole.dng").read_bytes()
    src = tmp_path / "cut.dng"
    src.write_bytes(data[: len(data) // 2])
    _assert_damaged(src, tmp_path / "out", ("raw data", "damaged or truncated"))


RAW_HEADERS = {
    # name: (bytes at the start, family it must go to)
    "a.RAF": (b"FUJIFILMCCD-RAW 0201FF383501" + bytes(200), "fujifilm-raw"),
    "b.CR3": (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom" + bytes(200), "canon-raw"),
    "c.CR2": (b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(200), "canon-raw"),
    "d.ORF": (b"IIRO\x08\x00\x00\x00" + bytes(200), "olympus-raw"),
    "e.RW2": (b"IIU\x00\x08\x00\x00\x00" + bytes(200), "panasonic-raw"),
    "f.CRW": (b"II\x1a\x00\x00\x00HEAPCCDR" + bytes(200), "canon-raw"),
    "g.MRW": (b"\x00MRM\x00\x00\x00\x10" + bytes(200), "other-raw"),
}


@pytest.mark.parametrize("name", list(RAW_HEADERS))
def test_raw_families_are_told_by_content_and_go_to_libraw(tmp_path: Path, name: str) -> None:
    head, family = RAW_HEADERS[name]
    src = tmp_path / "renamed.jpg"  # the name says JPEG: the content decides
    src.write_bytes(head)
    fmt = identify(src)
    assert fmt is not None and fmt.name == family and fmt.decoder == "libraw"
    with pytest.raises((CorruptFileError, UnsupportedFormatError)) as info:
        read_image(src, max_pixels=10**8)
    assert "LibRaw" in str(info.value) or "raw" in str(info.value), info.value
    jobs = plan([src], tmp_path / "out", options=ProtectOptions())
    assert [j.output.name for j in jobs if j.output] == ["renamed.jpg"]
    (tmp_path / "x").mkdir()
    shutil.copy(src, tmp_path / "x" / name)
    assert [j.output.name for j in plan([tmp_path / "x"], tmp_path / "out", options=ProtectOptions()) if j.output] == [
        Path(name).stem + ".jpg"
    ]


def _tiff_with_raw_structure(path: Path, make: str) -> Path:
    """A TIFF whose first page is a reduced-resolution preview with a sub-directory (NEF, ARW, PEF)."""
    Image.fromarray(textured(40, 30)).save(path, format="TIFF", tiffinfo={254: 1, 271: make, 330: 8})
    return path


@pytest.mark.parametrize(("make", "family"), [("NIKON CORPORATION", "nikon-raw"), ("SONY", "sony-raw")])
def test_tiff_structured_raw_is_never_read_as_its_preview(tmp_path: Path, make: str, family: str) -> None:
    src = _tiff_with_raw_structure(tmp_path / "DSC_0001.tif", make)
    with Image.open(src) as img:
        assert img.format == "TIFF"  # Pillow would happily hand back the 40x30 preview
    fmt = identify(src)
    assert fmt is not None and fmt.name == family
    with pytest.raises((CorruptFileError, UnsupportedFormatError)):
        read_image(src, max_pixels=10**8)


def test_every_file_in_a_folder_is_accounted_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "build_detector", lambda options: FakeDetector([FACE_BOX]))
    root = tmp_path / "card"
    (root / "DCIM").mkdir(parents=True)
    (root / ".thumbnails").mkdir()
    Image.fromarray(textured()).save(root / ".thumbnails" / "t.jpg")
    Image.fromarray(textured()).save(root / "DCIM" / "IMG_0001.JPG")
    make_dng(_scene(), root / "DCIM" / "IMG_0001.DNG")  # shot as raw + JPEG: both kept apart
    (root / "DCIM" / "IMG_0002").write_bytes(_jpeg(120, 80))  # no name ending
    (root / "DCIM" / "notes.txt").write_text("lens cleaned")
    (root / "DCIM" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "DCIM" / "broken.jpg").write_text("not a picture")
    (root / "DCIM" / "edit").write_bytes(b"8BPS\x00\x01" + bytes(100))  # a Photoshop file: faces, maybe
    os.mkfifo(root / "DCIM" / "pipe")
    out = tmp_path / "public"

    code = main(
        ["protect", str(root), "-o", str(out), "--workers", "1", "--json", "--report", str(tmp_path / "r.json")]
    )

    assert code == 1  # broken.jpg and the Photoshop file failed
    report = json.loads((tmp_path / "r.json").read_text())
    status = {os.path.relpath(f["input"], root): f["status"] for f in report["files"]}
    assert status == {
        ".thumbnails": "skipped",
        "DCIM/.DS_Store": "skipped",
        "DCIM/IMG_0001.DNG": "protected",
        "DCIM/IMG_0001.JPG": "protected",
        "DCIM/IMG_0002": "protected",
        "DCIM/broken.jpg": "failed",
        "DCIM/edit": "failed",
        "DCIM/notes.txt": "skipped",
        "DCIM/pipe": "skipped",
    }
    reasons = {os.path.relpath(f["input"], root): f["warnings"] for f in report["files"] if f["status"] == "skipped"}
    assert reasons["DCIM/notes.txt"] == ["not a photo or video"]
    assert "hidden" in reasons[".thumbnails"][0]
    errors = {os.path.relpath(f["input"], root): f["error"]["message"] for f in report["files"] if f["error"]}
    assert "Photoshop" in errors["DCIM/edit"] and "not an image" in errors["DCIM/broken.jpg"]
    assert report["summary"] == {"files": 9, "protected": 3, "failed": 2, "skipped": 4, "faces": 3}
    assert _leftovers(out) == ["DCIM", "DCIM/IMG_0001.DNG.jpg", "DCIM/IMG_0001.JPG", "DCIM/IMG_0002.jpg"]
    for name in _leftovers(out)[1:]:
        fmt = identify(out / name)
        assert fmt is not None and fmt is by_extension(out / name), f"{name} holds {fmt and fmt.name}"


def test_cli_summary_counts_skipped_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(batch_module, "build_detector", lambda options: FakeDetector([FACE_BOX]))
    (tmp_path / "in").mkdir()
    Image.fromarray(textured()).save(tmp_path / "in" / "a.jpg")
    (tmp_path / "in" / "notes.txt").write_text("hello")
    code = main(["protect", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--workers", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 0
    assert "protected 1 of 1 file(s)" in err and "1 skipped (not a photo or video" in err, err
    assert "failed" not in err


@pytest.mark.models
def test_a_real_face_in_a_raw_file_is_filled(tmp_path: Path) -> None:
    from unerkannt.detect import load_detector

    photo = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    faces = load_detector("centerface", threshold=0.5, scales=(1.0,)).detect(photo)
    assert len(faces) == 1
    x1, y1, x2, y2 = (int(v) for v in faces[0].box)
    src = make_dng(photo, tmp_path / "in" / "astronaut.dng", neutral=(0.6, 1.0, 0.75))
    out = tmp_path / "out" / "astronaut.jpg"

    result = unerkannt.protect(src, out, options=ProtectOptions(profile="fast"))

    assert isinstance(result, unerkannt.FileResult) and result.ok and result.faces
    developed = read_image(src, max_pixels=10**7).frames[0]
    protected = load_rgb(out)
    assert protected.shape == developed.shape == photo.shape
    assert _mad(_gain_matched(developed, photo), photo) < 10, "the developed raw does not show the photo"
    middle = luma(protected)[y1 + (y2 - y1) // 4 : y2 - (y2 - y1) // 4, x1 + (x2 - x1) // 4 : x2 - (x2 - x1) // 4]
    assert middle.std() < 4, "the face in the raw file is not filled"
    changed = np.abs(protected - developed.astype(np.int16)).max(axis=2)[y1:y2, x1:x2] > 12
    assert changed.mean() > 0.9


# --- 5. content and name ending agree -------------------------------------------------------


def test_dng_named_dng_comes_back_as_a_full_size_jpeg(tmp_path: Path, fake: FakeDetector) -> None:
    src = make_dng(_scene(), tmp_path / "in" / "DSC_0001.dng")
    jobs = plan([src], tmp_path / "out", options=ProtectOptions())
    assert [j.output for j in jobs] == [tmp_path / "out" / "DSC_0001.jpg"]
    assert run(jobs, options=ProtectOptions(), detector=fake).ok
    with Image.open(tmp_path / "out" / "DSC_0001.jpg") as img:
        assert (img.format, img.size) == ("JPEG", (WIDTH, HEIGHT))
    assert not (tmp_path / "out" / "DSC_0001.dng").exists()


def test_dng_with_format_png(tmp_path: Path, fake: FakeDetector) -> None:
    src = make_dng(_scene(), tmp_path / "in" / "DSC_0002.DNG")
    options = ProtectOptions(format="png")
    jobs = plan([src], tmp_path / "out", options=options)
    assert run(jobs, options=options, detector=fake).ok
    assert load_frames(tmp_path / "out" / "DSC_0002.png")[:3] == ("PNG", "RGB", (WIDTH, HEIGHT))


@pytest.mark.parametrize(
    ("name", "write", "expected"),
    [
        ("scan.btf", lambda p: Image.fromarray(textured()).save(p, format="TIFF", big_tiff=True), "scan.tif"),
        ("pair.jps", lambda p: Image.fromarray(textured()).save(p, format="JPEG"), "pair.jpg"),
        ("stereo.mpo", lambda p: _mpo(p, textured(60, 40)), "stereo.jpg"),
        ("raw.tif", lambda p: make_dng(_scene(), p), "raw.jpg"),
        ("photo.png", lambda p: Image.fromarray(textured()).save(p, format="JPEG"), "photo.jpg"),
        ("Vacation.2024", lambda p: Image.fromarray(textured()).save(p, format="PNG"), "Vacation.2024.png"),
        ("keep.JPEG", lambda p: Image.fromarray(textured()).save(p, format="JPEG"), "keep.JPEG"),
    ],
)
def test_output_name_ends_as_the_format_written(
    tmp_path: Path,
    fake: FakeDetector,
    name: str,
    write,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    src = tmp_path / "in" / name
    src.parent.mkdir()
    write(src)
    options = ProtectOptions()
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=options)
    assert [j.output.name for j in jobs if j.output] == [expected]
    report = run(jobs, options=options, detector=fake)
    assert report.ok, report.files[0].error
    out = tmp_path / "out" / expected
    fmt = identify(out)
    assert fmt is not None and fmt is by_extension(out)
    with Image.open(out) as img:
        assert img.size == (WIDTH, HEIGHT)


def test_video_content_with_another_name_is_refused_with_the_reason(tmp_path: Path) -> None:
    src = tmp_path / "in" / "clip.bin"
    src.parent.mkdir()
    src.write_bytes(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(500))
    jobs = plan([tmp_path / "in"], tmp_path / "out", options=ProtectOptions())
    assert len(jobs) == 1 and jobs[0].output is None and not jobs[0].skipped
    assert jobs[0].problem is not None and "*.mp4" in jobs[0].problem
    with pytest.raises(UnsupportedFormatError, match="video"):
        read_image(src, max_pixels=10**6)


# --- JPEG XL --------------------------------------------------------------------------------


def test_jpeg_xl_reads_and_writes(tmp_path: Path, fake: FakeDetector) -> None:
    pytest.importorskip("pillow_jxl")
    scene = textured()
    src = tmp_path / "in" / "photo.jxl"
    src.parent.mkdir()
    Image.fromarray(scene).save(src, format="JXL", lossless=True)
    assert identify(src) is by_extension(src)
    out = tmp_path / "out" / "photo.jxl"
    result = unerkannt.protect(src, out, detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    assert out.read_bytes()[:2] == b"\xff\x0a", "not a bare JPEG XL codestream"
    fmt, _, size, frames, _ = load_frames(out)
    assert (fmt, size) == ("JXL", (WIDTH, HEIGHT))
    assert_face_filled(frames[0], scene)
    png = tmp_path / "photo.png"
    Image.fromarray(scene).save(png)
    jobs = plan([png], tmp_path / "converted", options=ProtectOptions(format="jxl"))
    assert [j.output.name for j in jobs if j.output] == ["photo.jxl"]
    assert run(jobs, options=ProtectOptions(format="jxl"), detector=fake).ok


def test_info_lists_raw_and_jxl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "dng" in out and ".cr2" in out and ".nef" in out and ".arw" in out and ".raf" in out
    assert "read only (LibRaw), written as JPEG" in out
    assert "jxl" in out


@pytest.mark.models
def test_raw_folder_through_the_real_cli(tmp_path: Path) -> None:
    make_dng(_scene(), tmp_path / "in" / "IMG_0009.DNG")
    (tmp_path / "in" / "notes.txt").write_text("not a picture")
    proc = subprocess.run(
        [sys.executable, "-m", "unerkannt", "protect", "--profile", "fast", "-o", str(tmp_path / "out"), "in"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "protected 1 of 1 file(s)" in proc.stderr and "1 skipped" in proc.stderr
    assert _leftovers(tmp_path / "out") == ["IMG_0009.jpg"]
