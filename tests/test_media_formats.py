"""Every supported format round-trips through protect(): real files in, real files out.

The fake detector reports FACE_BOX; each test reopens the output and checks size,
format, that the face is filled and that the rest of the picture is kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import unerkannt
from _samples import (
    FACE_BOX,
    FORMATS,
    HEIGHT,
    WIDTH,
    assert_face_filled,
    assert_rest_kept,
    exif_with,
    face_core,
    far_from_face,
    load_frames,
    load_rgb,
    luma,
    outside_ellipse,
    save,
    stored_for_orientation,
    textured,
)
from unerkannt import ProtectOptions
from unerkannt.batch import plan, run
from unerkannt.detect.fake import FakeDetector


@pytest.fixture
def fake() -> FakeDetector:
    return FakeDetector([FACE_BOX])


def _protect(src: Path, out: Path, fake: FakeDetector, **options: object) -> unerkannt.FileResult:
    result = unerkannt.protect(src, out, options=ProtectOptions(**options), detector=fake)
    assert isinstance(result, unerkannt.FileResult)
    assert result.ok and result.output == str(out) and out.is_file()
    assert result.faces and {f.action for f in result.faces} == {"fill"}
    return result


# --- one still image per format -------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_format_round_trip(tmp_path: Path, fake: FakeDetector, fmt: str) -> None:
    pil_format, ext, _, lossless = FORMATS[fmt]
    src = save(textured(), tmp_path / "in" / f"photo{ext}", fmt)
    before = load_rgb(src)
    out = tmp_path / "out" / f"photo{ext}"

    _protect(src, out, fake)

    got_format, _, size, frames, _ = load_frames(out)
    assert got_format == pil_format
    assert size == (WIDTH, HEIGHT)
    assert len(frames) == 1
    assert_face_filled(frames[0], before)
    assert_rest_kept(frames[0], before, lossless=lossless)


def test_lossless_formats_are_exact_outside_the_ellipse_but_not_inside(tmp_path: Path, fake: FakeDetector) -> None:
    # The exact check above must be able to fail: the ellipse itself must have changed.
    src = save(textured(), tmp_path / "in.png", "png")
    out = tmp_path / "out.png"
    _protect(src, out, fake)
    before, after = load_rgb(src), load_rgb(out)
    inside = ~outside_ellipse(margin=-1.0)
    assert (after != before).any(axis=2)[inside].mean() > 0.9


@pytest.mark.parametrize(
    ("src_fmt", "target", "pil_format", "ext"),
    [
        ("png", "jpeg", "JPEG", ".jpg"),
        ("jpeg", "png", "PNG", ".png"),
        ("tiff", "webp", "WEBP", ".webp"),
        ("bmp", "heif", "HEIF", ".heic"),
    ],
)
def test_conversion_through_plan_gets_new_extension(
    tmp_path: Path, fake: FakeDetector, src_fmt: str, target: str, pil_format: str, ext: str
) -> None:
    in_dir = tmp_path / "in"
    src = save(textured(), in_dir / "sub" / f"photo{FORMATS[src_fmt][1]}", src_fmt)
    before = load_rgb(src)
    options = ProtectOptions(format=target)
    jobs = plan([in_dir], tmp_path / "out", options=options)
    assert [j.output for j in jobs] == [tmp_path / "out" / "sub" / f"photo{ext}"]

    report = run(jobs, options=options, detector=fake)

    assert report.ok, report.files[0].error
    out = jobs[0].output
    assert out is not None
    got_format, _, size, frames, _ = load_frames(out)
    assert (got_format, size) == (pil_format, (WIDTH, HEIGHT))
    assert_face_filled(frames[0], before)
    assert_rest_kept(frames[0], before, lossless=False)
    assert not (tmp_path / "out" / "sub" / f"photo{FORMATS[src_fmt][1]}").exists()


def test_explicit_format_via_api(tmp_path: Path, fake: FakeDetector) -> None:
    src = save(textured(), tmp_path / "in.png", "png")
    out = tmp_path / "out.jpg"
    _protect(src, out, fake, format="jpeg")
    with Image.open(out) as img:
        assert img.format == "JPEG"


# --- animations -----------------------------------------------------------------------------

DURATIONS = [100, 200, 300]


def _animation(path: Path, fmt: str, frames: list[np.ndarray], **extra: object) -> Path:
    pil_format, _, kwargs, _ = FORMATS[fmt]
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        path,
        format=pil_format,
        save_all=True,
        append_images=images[1:],
        duration=DURATIONS[: len(frames)],
        **{"loop": 0, **kwargs, **extra},
    )
    return path


@pytest.mark.parametrize("fmt", ["gif", "webp", "png", "tiff"])
def test_animation_every_frame_protected(tmp_path: Path, fake: FakeDetector, fmt: str) -> None:
    pil_format, ext, _, lossless = FORMATS[fmt]
    originals = [textured(seed=s) for s in (1, 2, 3)]
    src = _animation(tmp_path / f"anim{ext}", fmt, originals)
    _, _, _, before, durations_in = load_frames(src)
    assert len(before) == 3
    out = tmp_path / "out" / f"anim{ext}"

    result = _protect_frames(src, out, fake)

    assert len(result.faces) == 3 and sorted(f.frame for f in result.faces) == [0, 1, 2]
    got_format, _, size, frames, durations = load_frames(out)
    assert (got_format, size, len(frames)) == (pil_format, (WIDTH, HEIGHT), 3)
    if fmt != "tiff":  # TIFF pages have no timing
        assert durations == durations_in == DURATIONS
    far = far_from_face()
    for i, frame in enumerate(frames):
        assert_face_filled(frame, before[i])
        assert_rest_kept(frame, before[i], lossless=lossless and fmt != "gif")
        # frame i still shows picture i, not its neighbour
        own = np.abs(luma(frame) - luma(before[i]))[far].mean()
        other = np.abs(luma(frame) - luma(before[(i + 1) % 3]))[far].mean()
        assert own * 4 < other


def _protect_frames(src: Path, out: Path, fake: FakeDetector) -> unerkannt.FileResult:
    result = unerkannt.protect(src, out, detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    return result


@pytest.mark.parametrize(("fmt", "loop"), [("gif", 3), ("png", 2), ("webp", 5)])
def test_animation_loop_count_preserved(tmp_path: Path, fake: FakeDetector, fmt: str, loop: int) -> None:
    ext = FORMATS[fmt][1]
    src = _animation(tmp_path / f"anim{ext}", fmt, [textured(seed=s) for s in (1, 2)], loop=loop)
    out = tmp_path / f"out{ext}"
    _protect_frames(src, out, fake)
    with Image.open(src) as a, Image.open(out) as b:
        assert a.info.get("loop") == loop
        assert b.info.get("loop") == loop


def test_gif_that_plays_once_still_plays_once(tmp_path: Path, fake: FakeDetector) -> None:
    # A GIF without a NETSCAPE loop extension plays once; loop=0 would make it loop forever.
    frames = [Image.fromarray(textured(seed=s)) for s in (1, 2)]
    src = tmp_path / "once.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)
    with Image.open(src) as img:
        assert "loop" not in img.info
    out = tmp_path / "out.gif"
    _protect_frames(src, out, fake)
    with Image.open(out) as img:
        assert "loop" not in img.info, f"output loops (loop={img.info.get('loop')}), the input played once"


def test_animation_to_single_frame_format_warns(tmp_path: Path, fake: FakeDetector) -> None:
    src = _animation(tmp_path / "anim.gif", "gif", [textured(seed=s) for s in (1, 2, 3)])
    out = tmp_path / "out.jpg"
    result = _protect(src, out, fake, format="jpeg")
    assert any("first of 3" in w for w in result.warnings), result.warnings
    with Image.open(out) as img:
        assert img.format == "JPEG" and getattr(img, "n_frames", 1) == 1


# --- pixel modes ----------------------------------------------------------------------------


def test_palette_png(tmp_path: Path, fake: FakeDetector) -> None:
    src = tmp_path / "pal.png"
    Image.fromarray(textured()).quantize(64).save(src)
    with Image.open(src) as img:
        assert img.mode == "P"
    before = load_rgb(src)
    out = tmp_path / "out.png"
    _protect(src, out, fake)
    after = load_rgb(out)
    assert_face_filled(after, before)
    assert_rest_kept(after, before, lossless=True)


def test_palette_png_with_transparency_keeps_it(tmp_path: Path, fake: FakeDetector) -> None:
    src = tmp_path / "pal.png"
    pal = Image.fromarray(textured()).quantize(64)
    pal.save(src, transparency=0)
    with Image.open(src) as img:
        alpha_in = np.asarray(img.convert("RGBA"))[:, :, 3]
    assert (alpha_in == 0).any() and (alpha_in == 255).any()
    out = tmp_path / "out.png"
    _protect(src, out, fake)
    with Image.open(out) as img:
        alpha_out = np.asarray(img.convert("RGBA"))[:, :, 3]
    assert np.array_equal(alpha_out, alpha_in)


@pytest.mark.parametrize(("fmt", "lossless"), [("png", True), ("jpeg", False), ("tiff", True), ("bmp", True)])
def test_greyscale_stays_greyscale(tmp_path: Path, fake: FakeDetector, fmt: str, lossless: bool) -> None:
    ext = FORMATS[fmt][1]
    src = tmp_path / f"grey{ext}"
    Image.fromarray(textured()).convert("L").save(src, format=FORMATS[fmt][0])
    before = load_rgb(src)
    out = tmp_path / f"out{ext}"
    _protect(src, out, fake)
    with Image.open(out) as img:
        assert img.mode == "L"
    after = load_rgb(out)
    assert_face_filled(after, before)
    assert_rest_kept(after, before, lossless=lossless)


def _rgba() -> np.ndarray:
    rgba = np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8)
    rgba[:, :, :3] = textured()
    rgba[:, :, 3] = (np.arange(WIDTH, dtype=np.uint16) * 255 // (WIDTH - 1)).astype(np.uint8)[None, :]
    return rgba


def test_rgba_png_keeps_alpha(tmp_path: Path, fake: FakeDetector) -> None:
    rgba = _rgba()
    src = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(src)
    out = tmp_path / "out.png"
    _protect(src, out, fake)
    with Image.open(out) as img:
        assert img.mode == "RGBA"
        got = np.asarray(img).astype(np.int16)
    assert np.array_equal(got[:, :, 3], rgba[:, :, 3]), "alpha changed"
    assert_face_filled(got[:, :, :3], rgba[:, :, :3])
    assert_rest_kept(got[:, :, :3], rgba[:, :, :3].astype(np.int16), lossless=True)


def test_rgba_to_jpeg_is_flattened_on_white_with_a_warning(tmp_path: Path, fake: FakeDetector) -> None:
    rgba = _rgba()
    src = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(src)
    out = tmp_path / "out.jpg"
    result = _protect(src, out, fake, format="jpeg")
    assert any("transparency" in w and "flattened" in w for w in result.warnings), result.warnings
    with Image.open(out) as img:
        assert (img.format, img.mode) == ("JPEG", "RGB")
    a = rgba[:, :, 3:4].astype(np.float64) / 255
    expected = rgba[:, :, :3] * a + 255 * (1 - a)
    after = load_rgb(out)
    # the fill colour is flattened like every other pixel: undo that and it is flat
    assert_face_filled(after, expected, flat=False)
    core, alpha = face_core(), a[:, :, 0][face_core()][:, None]
    fill = (after[core] - 255 * (1 - alpha)) / alpha
    assert fill.std(axis=0).max() < 6.0, fill.std(axis=0)
    assert_rest_kept(after, expected, lossless=False)
    assert luma(after)[:, :3].mean() > 240, "fully transparent pixels must come out white"


def test_cmyk_jpeg_becomes_rgb_with_a_warning(tmp_path: Path, fake: FakeDetector) -> None:
    src = tmp_path / "cmyk.jpg"
    Image.fromarray(textured()).convert("CMYK").save(src, quality=95)
    with Image.open(src) as img:
        assert img.mode == "CMYK"
    before = load_rgb(src)
    out = tmp_path / "out.jpg"
    result = _protect(src, out, fake)
    assert any("CMYK" in w for w in result.warnings), result.warnings
    with Image.open(out) as img:
        assert (img.format, img.mode) == ("JPEG", "RGB")
    after = load_rgb(out)
    assert_face_filled(after, before)
    assert_rest_kept(after, before, lossless=False)


def _grey16(scale: int) -> np.ndarray:
    return np.asarray(Image.fromarray(textured()).convert("L")).astype(np.uint16) * scale


def test_16bit_png_becomes_8bit_greyscale_with_a_warning(tmp_path: Path, fake: FakeDetector) -> None:
    grey8 = _grey16(1)
    src = tmp_path / "deep.png"
    Image.fromarray(grey8 * 257).save(src)
    with Image.open(src) as img:
        assert img.mode == "I;16"
    out = tmp_path / "out.png"
    result = _protect(src, out, fake)
    assert any("16-bit" in w for w in result.warnings), result.warnings
    with Image.open(out) as img:
        assert img.mode == "L"
        got = np.asarray(img)
    keep = outside_ellipse()
    assert np.array_equal(got[keep], grey8[keep]), "16-bit values not mapped v*257 -> v"
    rgb = np.repeat(got[:, :, None], 3, axis=2).astype(np.int16)
    assert_face_filled(rgb, np.repeat(grey8[:, :, None], 3, axis=2))


def test_dark_16bit_png_stays_dark(tmp_path: Path, fake: FakeDetector) -> None:
    # A 16-bit image whose values all happen to be <= 255 is nearly black (255/65535);
    # it must not be stretched as if it were 8-bit.
    dark = _grey16(1)  # values 0..255 in a 0..65535 range
    src = tmp_path / "dark.png"
    Image.fromarray(dark).save(src)
    with Image.open(src) as img:
        assert img.mode == "I;16" and np.asarray(img).max() <= 255
    out = tmp_path / "out.png"
    _protect(src, out, fake)
    with Image.open(out) as img:
        got = np.asarray(img.convert("L"))
    assert got[outside_ellipse()].max() <= 1, f"a near-black 16-bit image came out with values up to {got.max()}"


def test_1bit_png(tmp_path: Path, fake: FakeDetector) -> None:
    src = tmp_path / "bw.png"
    Image.fromarray(textured()).convert("1").save(src)
    with Image.open(src) as img:
        assert img.mode == "1"
    before = load_rgb(src)
    out = tmp_path / "out.png"
    _protect(src, out, fake)
    with Image.open(out) as img:
        assert img.mode in ("L", "1", "P", "RGB")
        assert img.size == (WIDTH, HEIGHT)
    after = load_rgb(out)
    assert_face_filled(after, before)
    assert_rest_kept(after, before, lossless=True)


# --- EXIF orientation -----------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_exif_orientation_applied(tmp_path: Path, fake: FakeDetector, orientation: int, fmt: str) -> None:
    upright = textured(seed=7)
    stored = stored_for_orientation(upright, orientation)
    ext = FORMATS[fmt][1]
    src = save(stored, tmp_path / f"o{orientation}{ext}", fmt, exif=exif_with(orientation=orientation))
    with Image.open(src) as img:
        assert img.getexif().get(0x0112) == orientation
        assert img.size == (stored.shape[1], stored.shape[0])
    out = tmp_path / f"out{ext}"

    result = _protect(src, out, fake)

    assert not any("orientation" in w for w in result.warnings), result.warnings
    with Image.open(out) as img:
        assert img.size == (WIDTH, HEIGHT), "output is not upright"
        assert 0x0112 not in img.getexif(), "Orientation tag kept"
        assert not img.getexif(), "EXIF kept"
    after = load_rgb(out)
    # the upright face box is the one filled, and the rest is the upright picture
    assert_face_filled(after, upright)
    assert_rest_kept(after, upright.astype(np.int16), lossless=fmt == "png")


@pytest.mark.parametrize("value", [0, 9, 65535])
@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_invalid_orientation_warns_and_keeps_pixels_as_stored(
    tmp_path: Path, fake: FakeDetector, value: int, fmt: str
) -> None:
    pixels = textured(seed=3)
    ext = FORMATS[fmt][1]
    src = save(pixels, tmp_path / f"bad{ext}", fmt, exif=exif_with(orientation=value))
    with Image.open(src) as img:
        assert img.getexif().get(0x0112) == value
    out = tmp_path / f"out{ext}"
    result = _protect(src, out, fake)
    assert any("orientation" in w and str(value) in w for w in result.warnings), result.warnings
    with Image.open(out) as img:
        assert img.size == (WIDTH, HEIGHT) and not img.getexif()
    after = load_rgb(out)
    assert_face_filled(after, pixels)
    assert_rest_kept(after, pixels.astype(np.int16), lossless=fmt == "png")
