"""No metadata survives protect(): checked with exiftool on real files, allowlist style.

Each input is loaded with identifying metadata by Pillow and exiftool and read back
with exiftool first, so that a test cannot pass because nothing was written.
"""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageCms, PngImagePlugin

import unerkannt
from _samples import (
    FACE_BOX,
    WIDTH,
    assert_face_filled,
    exif_with,
    exiftool_tags,
    exiftool_write,
    load_rgb,
    save,
    textured,
)
from conftest import require_exiftool
from unerkannt import MetadataError, ProtectOptions
from unerkannt.detect.fake import FakeDetector
from unerkannt.media import by_name, check_clean
from unerkannt.media.read import register_plugins

PERSON = "Alice Example"
SERIAL = "SN-4711-SECRET"
OWNER = "Bob Photographer"
KEYWORD = "secretkeyword"
COMMENT = "secret comment text"
MODEL = "EOS 5D Mark IV"

#: Strings that must not occur anywhere in a protected file's bytes.
SECRETS = [PERSON, SERIAL, OWNER, KEYWORD, COMMENT, MODEL, "Canon"]

#: Everything exiftool writes for GPS, camera serial, face regions and authorship.
EXIFTOOL_ARGS = [
    "-GPSLatitude=52.5163",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=13.3777",
    "-GPSLongitudeRef=E",
    "-GPSAltitude=34",
    f"-ExifIFD:SerialNumber={SERIAL}",  # EXIF 0xA431 BodySerialNumber
    "-ExifIFD:DateTimeOriginal=2024:05:01 12:00:00",
    f"-XMP-mwg-rs:RegionName={PERSON}",
    "-XMP-mwg-rs:RegionType=Face",
    "-XMP-mwg-rs:RegionAreaX=0.5",
    "-XMP-mwg-rs:RegionAreaY=0.5",
    "-XMP-mwg-rs:RegionAreaW=0.33",
    "-XMP-mwg-rs:RegionAreaH=0.5",
    "-XMP-mwg-rs:RegionAreaUnit=normalized",
    f"-XMP-dc:Creator={OWNER}",
]

#: Tags that describe the pixels or the file system, per exiftool group.
STRUCTURE: dict[str, set[str]] = {
    "ExifTool": {"ExifToolVersion"},
    "Composite": {"ImageSize", "Megapixels"},
    "File": {
        "FileType",
        "FileTypeExtension",
        "MIMEType",
        "ImageWidth",
        "ImageHeight",
        "EncodingProcess",
        "BitsPerSample",
        "ColorComponents",
        "YCbCrSubSampling",
        # BMP header
        "BMPVersion",
        "Planes",
        "BitDepth",
        "Compression",
        "ImageLength",
        "PixelsPerMeterX",
        "PixelsPerMeterY",
        "NumColors",
        "NumImportantColors",
    },
    "PNG": {"ImageWidth", "ImageHeight", "BitDepth", "ColorType", "Compression", "Filter", "Interlace"},
    "RIFF": {"VP8Version", "ImageWidth", "ImageHeight", "HorizontalScale", "VerticalScale", "WebP_Flags"},
    "GIF": {"GIFVersion", "ImageWidth", "ImageHeight", "HasColorMap", "ColorResolutionDepth", "BitsPerPixel"}
    | {"BackgroundColor"},
}
#: TIFF keeps its structure in IFD0; only these tags may be there.
TIFF_STRUCTURE = {
    "ImageWidth",
    "ImageHeight",
    "BitsPerSample",
    "Compression",
    "PhotometricInterpretation",
    "StripOffsets",
    "SamplesPerPixel",
    "RowsPerStrip",
    "StripByteCounts",
    "PlanarConfiguration",
    "Predictor",
    "ExtraSamples",
}
#: Groups whose every tag is structure: file system facts, the JFIF header, and the
#: ISO-BMFF boxes of HEIF/AVIF (brands, codec configuration, item references).
FREE_GROUPS = {"System", "JFIF", "QuickTime", "Meta"}
#: Names that mean identifying metadata whatever group they turn up in.
SENSITIVE = re.compile(
    r"GPS|Serial|Make|Model|Region|Creator|Artist|Author|By-line|Keyword|Comment|Thumbnail|Preview|"
    r"Orientation|Owner|Copyright|DateTime|Software|Lens|Maker|Description|Title|XMP|IPTC|Exif",
    re.IGNORECASE,
)


def leftover_tags(tags: dict[str, object], *, fmt: str, keep_icc: bool = False) -> dict[str, object]:
    """The tags of a protected file that are not on the allowlist."""
    bad = {}
    for key, value in tags.items():
        group, _, name = key.partition(":")
        if group == "System" or (keep_icc and (group.startswith("ICC") or key == "PNG:ProfileName")):
            continue
        if group in FREE_GROUPS:
            ok = not SENSITIVE.search(name)
        elif fmt == "tiff" and ((group == "IFD0" and name in TIFF_STRUCTURE) or key == "File:ExifByteOrder"):
            ok = True
        else:
            ok = name in STRUCTURE.get(group, set())
        if key == "RIFF:WebP_Flags" and re.search(r"EXIF|XMP" if keep_icc else r"EXIF|XMP|ICC", str(value)):
            ok = False
        if not ok:
            bad[key] = value
    return bad


def assert_clean(exe: str, out: Path, *, fmt: str, keep_icc: bool = False) -> dict[str, object]:
    tags = exiftool_tags(exe, out)
    assert leftover_tags(tags, fmt=fmt, keep_icc=keep_icc) == {}
    data = out.read_bytes()
    found = [s for s in SECRETS if s.encode() in data or s.encode("utf-16-le") in data]
    assert found == [], f"identifying strings in the output bytes: {found}"
    return tags


@pytest.fixture
def exe() -> str:
    return require_exiftool()


@pytest.fixture
def fake() -> FakeDetector:
    return FakeDetector([FACE_BOX])


def _protect(src: Path, out: Path, fake: FakeDetector, **options: object) -> unerkannt.FileResult:
    result = unerkannt.protect(src, out, options=ProtectOptions(**options), detector=fake)
    assert isinstance(result, unerkannt.FileResult) and result.ok
    return result


def _has(tags: dict[str, object], key: str, contains: str | None = None) -> bool:
    if key not in tags:
        return False
    return contains is None or contains in str(tags[key])


def _canon_makernote() -> bytes:
    # A Canon maker note is a bare IFD; one entry: tag 0x000C (serial number), LONG.
    return struct.pack("<H", 1) + struct.pack("<HHII", 0x000C, 4, 1, 471108150) + struct.pack("<I", 0)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# --- samples: one loaded file per format -----------------------------------------------------


def loaded_jpeg(exe: str, path: Path, *, icc: bytes | None = None) -> Path:
    """A JPEG with EXIF (make, model, serial, GPS, orientation), a maker note, an EXIF
    thumbnail, XMP with an MWG face region, IPTC, a comment, and optionally ICC."""
    path.parent.mkdir(parents=True, exist_ok=True)
    thumb = path.with_name("thumb.jpg")
    Image.fromarray(textured()).resize((60, 40)).save(thumb, quality=80)
    exif = exif_with(make="Canon", model=MODEL, orientation=1)
    exif.get_ifd(0x8769)[0x927C] = _canon_makernote()
    extra = {"icc_profile": icc} if icc else {}
    Image.fromarray(textured()).save(path, quality=95, exif=exif, comment=COMMENT.encode(), **extra)
    exiftool_write(
        exe,
        path,
        *EXIFTOOL_ARGS,
        f"-IPTC:Keywords={KEYWORD}",
        f"-IPTC:By-line={OWNER}",
        f"-ThumbnailImage<={thumb}",
    )
    thumb.unlink()

    tags = exiftool_tags(exe, path)
    expected = {
        "GPS:GPSLatitude": None,
        "GPS:GPSLongitude": None,
        "ExifIFD:SerialNumber": SERIAL,
        "IFD0:Make": "Canon",
        "IFD0:Model": MODEL,
        "IFD0:Orientation": None,
        "XMP-mwg-rs:RegionName": PERSON,
        "XMP-dc:Creator": OWNER,
        "IPTC:Keywords": KEYWORD,
        "IPTC:By-line": OWNER,
        "File:Comment": COMMENT,
        "IFD1:ThumbnailImage": None,
        "Canon:SerialNumber": None,  # parsed from the maker note
    }
    missing = [k for k, v in expected.items() if not _has(tags, k, v)]
    assert missing == [], f"the sample JPEG lacks {missing}"
    # the thumbnail is a real JPEG of the picture
    raw = subprocess.run([exe, "-b", "-ThumbnailImage", str(path)], capture_output=True, check=True).stdout
    with Image.open(io.BytesIO(raw)) as img:
        assert (img.format, img.size) == ("JPEG", (60, 40))
    if icc:
        assert "ICC_Profile:ProfileDescription" in tags
    return path


def loaded_png(exe: str, path: Path) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", OWNER)  # tEXt
    info.add_text("Comment", COMMENT, zip=True)  # zTXt
    info.add_itxt("Description", PERSON, lang="en")  # iTXt
    save(textured(), path, "png", pnginfo=info, exif=exif_with(make="Canon", model=MODEL))  # eXIf
    exiftool_write(exe, path, *EXIFTOOL_ARGS)
    tags = exiftool_tags(exe, path)
    expected = {
        "PNG:Author": OWNER,
        "PNG:Comment": COMMENT,
        "PNG:Description-en": PERSON,
        "IFD0:Make": "Canon",
        "ExifIFD:SerialNumber": SERIAL,
        "GPS:GPSLatitude": None,
        "XMP-mwg-rs:RegionName": PERSON,
    }
    missing = [k for k, v in expected.items() if not _has(tags, k, v)]
    assert missing == [], f"the sample PNG lacks {missing}"
    return path


def loaded_exif_xmp(fmt: str) -> Callable[[str, Path], Path]:
    """WebP, TIFF, HEIF, AVIF: EXIF and XMP written by exiftool."""

    def build(exe: str, path: Path) -> Path:
        save(textured(), path, fmt)
        extra = [f"-IPTC:Keywords={KEYWORD}", f"-IFD0:Artist={OWNER}"] if fmt == "tiff" else []
        exiftool_write(exe, path, *EXIFTOOL_ARGS, "-Make=Canon", f"-Model={MODEL}", "-Orientation#=1", *extra)
        tags = exiftool_tags(exe, path)
        expected = {
            "IFD0:Make": "Canon",
            "IFD0:Model": MODEL,
            "IFD0:Orientation": None,
            "ExifIFD:SerialNumber": SERIAL,
            "GPS:GPSLatitude": None,
            "XMP-mwg-rs:RegionName": PERSON,
            "XMP-dc:Creator": OWNER,
        }
        if fmt == "tiff":
            expected.update({"IPTC:Keywords": KEYWORD, "IFD0:Artist": OWNER})
        missing = [k for k, v in expected.items() if not _has(tags, k, v)]
        assert missing == [], f"the sample {fmt} lacks {missing}"
        return path

    return build


def loaded_gif(exe: str, path: Path) -> Path:
    save(textured(), path, "gif")
    exiftool_write(exe, path, f"-Comment={COMMENT}", f"-XMP-mwg-rs:RegionName={PERSON}", f"-XMP-dc:Creator={OWNER}")
    tags = exiftool_tags(exe, path)
    missing = [k for k, v in {"File:Comment": COMMENT, "XMP-mwg-rs:RegionName": PERSON}.items() if not _has(tags, k, v)]
    assert missing == [], f"the sample GIF lacks {missing}"
    return path


BUILDERS: dict[str, tuple[str, Callable[[str, Path], Path]]] = {
    "jpeg": (".jpg", loaded_jpeg),
    "png": (".png", loaded_png),
    "webp": (".webp", loaded_exif_xmp("webp")),
    "tiff": (".tif", loaded_exif_xmp("tiff")),
    "heif": (".heic", loaded_exif_xmp("heif")),
    "avif": (".avif", loaded_exif_xmp("avif")),
    "gif": (".gif", loaded_gif),
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Path], Path]:
    """``loaded(fmt, path)`` copies a sample of ``fmt`` full of metadata to ``path``.

    Each sample is built and checked with exiftool once per module (exiftool is slow).
    """
    exe = require_exiftool()
    cache: dict[str, Path] = {}

    def get(fmt: str, path: Path) -> Path:
        if fmt not in cache:
            ext, build = BUILDERS[fmt]
            cache[fmt] = build(exe, tmp_path_factory.mktemp(fmt) / f"sample{ext}")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache[fmt], path)
        return path

    return get


@pytest.mark.parametrize("fmt", list(BUILDERS))
def test_no_metadata_survives(
    tmp_path: Path, exe: str, fake: FakeDetector, loaded: Callable[[str, Path], Path], fmt: str
) -> None:
    ext, _ = BUILDERS[fmt]
    src = loaded(fmt, tmp_path / "in" / f"photo{ext}")
    before_bytes = src.read_bytes()
    assert any(s.encode() in before_bytes for s in SECRETS)  # the byte check below can fail
    out = tmp_path / "out" / f"photo{ext}"

    _protect(src, out, fake)

    tags = assert_clean(exe, out, fmt=fmt)
    assert not any(k.startswith("ICC") for k in tags)
    assert src.read_bytes() == before_bytes, "the input was modified"
    assert_face_filled(load_rgb(out), load_rgb(src))


def test_jpeg_output_has_only_the_jfif_segment(
    tmp_path: Path, exe: str, fake: FakeDetector, loaded: Callable[[str, Path], Path]
) -> None:
    src = loaded("jpeg", tmp_path / "in" / "photo.jpg")
    out = tmp_path / "out.jpg"
    _protect(src, out, fake)
    with Image.open(out) as img:
        assert [name for name, _ in img.applist] == ["APP0"]
        assert not img.getexif()
        assert not {"exif", "comment", "xmp", "icc_profile", "photoshop"} & set(img.info)
        assert img.format == "JPEG" and getattr(img, "n_frames", 1) == 1
    data = out.read_bytes()
    assert data.endswith(b"\xff\xd9") and data.count(b"Exif\x00\x00") == 0


def test_exif_thumbnail_is_not_carried_over(
    tmp_path: Path, exe: str, fake: FakeDetector, loaded: Callable[[str, Path], Path]
) -> None:
    src = loaded("jpeg", tmp_path / "in" / "photo.jpg")
    out = tmp_path / "out.jpg"
    _protect(src, out, fake)
    raw = subprocess.run([exe, "-b", "-ThumbnailImage", "-PreviewImage", str(out)], capture_output=True).stdout
    assert raw == b""
    assert out.stat().st_size < src.stat().st_size


def test_orientation_tag_gone_after_rotation(tmp_path: Path, exe: str, fake: FakeDetector) -> None:
    src = tmp_path / "rot.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(textured(), 1))).save(src, exif=exif_with(orientation=6))
    assert exiftool_tags(exe, src)["IFD0:Orientation"] == "Rotate 90 CW"
    out = tmp_path / "out.jpg"
    _protect(src, out, fake)
    tags = assert_clean(exe, out, fmt="jpeg")
    assert tags["Composite:ImageSize"] == "120x80"


def test_heif_thumbnails_not_carried_over(
    tmp_path: Path, exe: str, fake: FakeDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_plugins()
    src = tmp_path / "thumbs.heic"
    Image.fromarray(textured()).save(src, format="HEIF", quality=90, thumbnails=[48])
    with monkeypatch.context() as m:
        m.setattr(pillow_heif.options, "THUMBNAILS", True)
        assert len(pillow_heif.open_heif(src)[0].info["thumbnails"]) == 1
    out = tmp_path / "out.heic"
    _protect(src, out, fake)
    monkeypatch.setattr(pillow_heif.options, "THUMBNAILS", True)
    heif = pillow_heif.open_heif(out)
    assert len(heif) == 1
    assert heif[0].info["thumbnails"] == []
    assert not heif[0].info.get("depth_images")
    assert_clean(exe, out, fmt="heif")


def test_trailing_data_after_jpeg_end_is_dropped(tmp_path: Path, exe: str, fake: FakeDetector) -> None:
    # Phones append videos or second images after EOI (motion photos, Samsung trailers).
    src = tmp_path / "trailer.jpg"
    save(textured(), src, "jpeg")
    hidden = io.BytesIO()
    Image.fromarray(textured(seed=9)).save(hidden, format="JPEG", comment=PERSON.encode())
    src.write_bytes(src.read_bytes() + hidden.getvalue() + SERIAL.encode())
    out = tmp_path / "out.jpg"
    _protect(src, out, fake)
    assert_clean(exe, out, fmt="jpeg")
    assert out.read_bytes().count(b"\xff\xd8\xff") == 1


# --- ICC ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "ext"), [("jpeg", ".jpg"), ("png", ".png"), ("webp", ".webp"), ("tiff", ".tif")])
@pytest.mark.parametrize("keep", [True, False])
def test_icc_profile_only_on_request(
    tmp_path: Path, exe: str, fake: FakeDetector, fmt: str, ext: str, keep: bool
) -> None:
    profile = srgb_profile()
    src = save(textured(), tmp_path / f"icc{ext}", fmt, icc_profile=profile)
    with Image.open(src) as img:
        assert img.info.get("icc_profile") == profile
    assert exiftool_tags(exe, src)["ICC_Profile:ProfileDescription"] == "sRGB built-in"
    out = tmp_path / f"out{ext}"

    _protect(src, out, fake, keep_icc=keep)

    with Image.open(out) as img:
        assert (img.info.get("icc_profile") == profile) is keep
        if not keep:
            assert not img.info.get("icc_profile")
    tags = assert_clean(exe, out, fmt=fmt, keep_icc=keep)
    assert ("ICC_Profile:ProfileDescription" in tags) is keep
    if not keep:
        assert not any(k.startswith("ICC") for k in tags)


def test_keep_icc_keeps_nothing_else(tmp_path: Path, exe: str, fake: FakeDetector) -> None:
    src = loaded_jpeg(exe, tmp_path / "in" / "photo.jpg", icc=srgb_profile())
    out = tmp_path / "out.jpg"
    _protect(src, out, fake, keep_icc=True)
    tags = assert_clean(exe, out, fmt="jpeg", keep_icc=True)
    assert tags["ICC_Profile:ProfileDescription"] == "sRGB built-in"


@pytest.mark.parametrize(("fmt", "ext"), [("gif", ".gif"), ("bmp", ".bmp")])
def test_icc_dropped_where_the_format_has_none(
    tmp_path: Path, exe: str, fake: FakeDetector, fmt: str, ext: str
) -> None:
    src = save(textured(), tmp_path / "icc.png", "png", icc_profile=srgb_profile())
    out = tmp_path / f"out{ext}"
    _protect(src, out, fake, keep_icc=True, format=fmt)
    tags = assert_clean(exe, out, fmt=fmt)
    assert not any(k.startswith("ICC") for k in tags)


def test_batch_output_is_clean_too(
    tmp_path: Path, exe: str, fake: FakeDetector, loaded: Callable[[str, Path], Path]
) -> None:
    from unerkannt.batch import plan, run

    in_dir = tmp_path / "in"
    loaded("jpeg", in_dir / "a" / "photo.jpg")
    loaded("png", in_dir / "b" / "photo.png")
    options = ProtectOptions()
    jobs = plan([in_dir], tmp_path / "out", options=options)
    report = run(jobs, options=options, detector=fake)
    assert report.ok and len(report.files) == 2
    assert_clean(exe, tmp_path / "out" / "a" / "photo.jpg", fmt="jpeg")
    assert_clean(exe, tmp_path / "out" / "b" / "photo.png", fmt="png")


# --- check_clean on its own -----------------------------------------------------------------


def _encoded(fmt: str, **params: object) -> bytes:
    register_plugins()
    buf = io.BytesIO()
    Image.fromarray(textured()).save(buf, format=by_name(fmt).pil_format, **params)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("jpeg", {}),
        ("png", {}),
        ("webp", {}),
        ("tiff", {"compression": "tiff_deflate"}),
        ("gif", {}),
        ("bmp", {}),
        ("heif", {}),
        ("avif", {}),
    ],
)
def test_check_clean_accepts_a_fresh_encode(fmt: str, params: dict[str, object]) -> None:
    check_clean(_encoded(fmt, **params), by_name(fmt), keep_icc=False)


@pytest.mark.parametrize(
    ("fmt", "params", "what"),
    [
        ("jpeg", {"exif": exif_with(make="Canon").tobytes()}, "exif"),
        ("jpeg", {"comment": COMMENT.encode()}, "comment"),
        ("jpeg", {"xmp": f"<x:xmpmeta>{PERSON}</x:xmpmeta>".encode()}, "xmp"),
        ("jpeg", {"icc_profile": "ICC"}, "icc_profile"),
        ("png", {"exif": exif_with(artist=OWNER)}, "exif"),
        ("png", {"pnginfo": "TEXT"}, "text"),
        ("webp", {"exif": exif_with(make="Canon").tobytes()}, "exif"),
        ("webp", {"xmp": f"<x:xmpmeta>{PERSON}</x:xmpmeta>".encode()}, "xmp"),
        ("tiff", {"tiffinfo": {315: OWNER}}, "315"),
        ("gif", {"comment": COMMENT.encode()}, "comment"),
        ("heif", {"exif": exif_with(make="Canon").tobytes()}, "exif"),
        ("avif", {"exif": exif_with(make="Canon").tobytes()}, "exif"),
    ],
)
def test_check_clean_refuses_metadata(fmt: str, params: dict[str, object], what: str) -> None:
    if params.get("icc_profile") == "ICC":
        params = {"icc_profile": srgb_profile()}
    if params.get("pnginfo") == "TEXT":
        info = PngImagePlugin.PngInfo()
        info.add_text("Author", OWNER)
        params = {"pnginfo": info}
    data = _encoded(fmt, **params)
    with pytest.raises(MetadataError, match=what):
        check_clean(data, by_name(fmt), keep_icc=False)


def test_check_clean_allows_icc_only_when_kept() -> None:
    data = _encoded("jpeg", icc_profile=srgb_profile())
    check_clean(data, by_name("jpeg"), keep_icc=True)
    with pytest.raises(MetadataError):
        check_clean(data, by_name("jpeg"), keep_icc=False)


def test_check_clean_refuses_a_second_image_in_mpo() -> None:
    # A JPEG carrying an MPF (APP2) index and a second full image after the first.
    buf = io.BytesIO()
    Image.fromarray(textured()).save(
        buf, format="MPO", save_all=True, append_images=[Image.fromarray(textured(seed=4))]
    )
    with Image.open(io.BytesIO(buf.getvalue())) as img:
        assert img.n_frames == 2
    with pytest.raises(MetadataError):
        check_clean(buf.getvalue(), by_name("jpeg"), keep_icc=False)


def test_check_clean_refuses_data_after_jpeg_end() -> None:
    data = _encoded("jpeg")
    with pytest.raises(MetadataError):
        check_clean(data + _encoded("jpeg", comment=COMMENT.encode()), by_name("jpeg"), keep_icc=False)


def test_check_clean_refuses_heif_thumbnails() -> None:
    data = _encoded("heif", thumbnails=[48])
    assert len(data) > len(_encoded("heif")) + 500  # the thumbnail is really in there
    with pytest.raises(MetadataError):
        check_clean(data, by_name("heif"), keep_icc=False)


def test_check_clean_refuses_unknown_png_chunks() -> None:
    # Ancillary chunks Pillow does not parse: C2PA manifests (caBX), timestamps (tIME).
    data = _encoded("png")

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    at = data.index(b"IDAT") - 4
    tainted = data[:at] + chunk(b"caBX", f"c2pa manifest: {PERSON}".encode()) + data[at:]
    with Image.open(io.BytesIO(tainted)) as img:
        img.load()
        assert img.size[0] == WIDTH
    with pytest.raises(MetadataError):
        check_clean(tainted, by_name("png"), keep_icc=False)


# --- camera raw and JPEG XL ---------------------------------------------------------------


def test_raw_file_metadata_does_not_reach_its_jpeg(tmp_path: Path, exe: str, fake: FakeDetector) -> None:
    from _camera import make_dng

    src = make_dng(textured(), tmp_path / "IMG_0001.dng")
    exiftool_write(exe, src, *EXIFTOOL_ARGS, "-IFD0:Make=Canon", f"-IFD0:Model={MODEL}", f"-Artist={OWNER}")
    tags = exiftool_tags(exe, src)
    assert _has(tags, "IFD0:Model", MODEL) and any("GPSLatitude" in k for k in tags)
    assert _has(tags, "ExifIFD:SerialNumber", SERIAL) or any(SERIAL in str(v) for v in tags.values())
    out = tmp_path / "out" / "IMG_0001.jpg"
    _protect(src, out, fake)
    assert_clean(exe, out, fmt="jpeg")


def test_jpeg_xl_output_is_a_bare_codestream_without_metadata(tmp_path: Path, exe: str, fake: FakeDetector) -> None:
    pytest.importorskip("pillow_jxl")
    src = loaded_jpeg(exe, tmp_path / "in.jpg")
    out = tmp_path / "out.jxl"
    _protect(src, out, fake, format="jxl")
    data = out.read_bytes()
    assert data[:2] == b"\xff\x0a", "a JPEG XL container, which can hold Exif and XMP boxes"
    found = [s for s in SECRETS if s.encode() in data]
    assert found == []
    tags = {k for k in exiftool_tags(exe, out) if not k.startswith("System:")}
    assert tags <= {
        "ExifTool:ExifToolVersion",
        "File:FileType",
        "File:FileTypeExtension",
        "File:MIMEType",
        "File:ImageWidth",
        "File:ImageHeight",
        "Composite:ImageSize",
        "Composite:Megapixels",
    }, tags
    # The same codestream in a container (signature, ftyp and jxlc boxes) is refused.
    boxed = b"\x00\x00\x00\x0cJXL \r\n\x87\n" + struct.pack(">I4s4sI4s", 20, b"ftyp", b"jxl ", 0, b"jxl ")
    boxed += struct.pack(">I4s", 8 + len(data), b"jxlc") + data
    with Image.open(io.BytesIO(boxed)) as img:
        assert img.size == (WIDTH, 80)
    with pytest.raises(MetadataError, match="container"):
        check_clean(boxed, by_name("jxl"), keep_icc=False)
