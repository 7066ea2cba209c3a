"""The image formats unerkannt reads and writes: one module each (one per family for camera raw), listed here.

A file's format is told by its content (:func:`identify`), never by its name alone: a
JPEG named ``.txt`` is a JPEG, a DNG (a TIFF structure) goes to LibRaw and never to
Pillow's TIFF reader, which would see only its small preview.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import stat
import struct
from functools import cache
from pathlib import Path

from ...errors import UnsupportedFormatError, UsageError
from .base import Format, RawFormat, Selection

#: Every supported format, by module; the order is the order of ``--format`` choices and of ``unerkannt info``.
FORMAT_MODULES = (
    "jpeg",
    "png",
    "webp",
    "tiff",
    "bmp",
    "gif",
    "heif",
    "avif",
    "jxl",
    "dng",
    "raw_canon",
    "raw_nikon",
    "raw_sony",
    "raw_fujifilm",
    "raw_olympus",
    "raw_panasonic",
    "raw_pentax",
    "raw_samsung",
    "raw_other",
)

#: Bytes read to tell a file's format (the TIFF directory of raw files is read apart).
HEAD = 4096

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: IFD0 tags that tell a camera raw file from a TIFF picture.
_NEW_SUBFILE_TYPE, _PHOTOMETRIC, _MAKE, _SUB_IFDS, _DNG_VERSION = 254, 262, 271, 330, 50706
#: Photometric interpretations of sensor data: colour filter array, linear raw.
_SENSOR_DATA = (32803, 34892)
#: Still-image formats unerkannt does not read, by name endings and signatures: a file in
#: one may show faces, so it fails with the reason instead of being skipped as no photo.
FOREIGN: tuple[tuple[str, tuple[str, ...], tuple[tuple[int, bytes], ...]], ...] = (
    ("Photoshop", (".psd", ".psb"), ((0, b"8BPS"),)),
    ("JPEG 2000", (".jp2", ".j2k", ".jpx", ".jpf", ".j2c"), ((4, b"jP  "), (0, b"\xff\x4f\xff\x51"))),
    ("OpenEXR", (".exr",), ((0, b"\x76\x2f\x31\x01"),)),
    ("GIMP", (".xcf",), ((0, b"gimp xcf"),)),
    ("Radiance HDR", (".hdr",), ((0, b"#?RADIANCE"), (0, b"#?RGBE"))),
    ("Netpbm", (".ppm", ".pgm", ".pbm", ".pnm", ".pam"), ()),
    ("SVG", (".svg", ".svgz"), ()),
    ("Targa", (".tga",), ()),
    ("Windows icon", (".ico", ".cur"), ()),
    ("PCX", (".pcx",), ()),
)
#: ISO media brands that say "an image in a HEIF container" without naming the codec.
_GENERIC_BRANDS = (b"mif1", b"mif2", b"mif3", b"msf1", b"miaf")


@cache
def formats() -> dict[str, Format]:
    """name -> :class:`Format` of every supported format (read-only ones included)."""
    found = {}
    for module in FORMAT_MODULES:
        fmt: Format = importlib.import_module(f"{__name__}.{module}").FORMAT
        found[fmt.name] = fmt
    return found


def writable() -> dict[str, Format]:
    """name -> :class:`Format` of the formats unerkannt writes (the ``--format`` choices)."""
    return {name: fmt for name, fmt in formats().items() if fmt.writable}


def available(fmt: Format) -> bool:
    """Whether the Python package ``fmt`` needs is installed."""
    return not fmt.plugin or importlib.util.find_spec(fmt.plugin) is not None


def by_name(name: str) -> Format:
    """The format called ``name`` (``--format``) that unerkannt writes; raises :class:`UsageError`."""
    key = name.lower().lstrip(".")
    key = {"jpg": "jpeg", "tif": "tiff", "heic": "heif"}.get(key, key)
    fmt = formats().get(key)
    if fmt is not None and not fmt.writable:
        raise UsageError(f"{fmt.name} is read only; choose from {', '.join(writable())}")
    if fmt is None:
        raise UsageError(f"unknown format {name!r}; choose from {', '.join(writable())}")
    return fmt


def written_as(fmt: Format) -> Format:
    """The format a file in ``fmt`` is written in unless another is asked for."""
    return formats()[fmt.output] if fmt.output else fmt


def by_pil_format(pil_format: str) -> Format:
    """The format Pillow identified a file as; raises :class:`UnsupportedFormatError`."""
    for fmt in formats().values():
        if fmt.pil_format and (pil_format == fmt.pil_format or pil_format in fmt.also_reads):
            return fmt
    raise UnsupportedFormatError(f"{pil_format} files are not supported")


def by_extension(path: str | Path) -> Format | None:
    """The format a file name ending says (``None``: no image ending)."""
    suffix = Path(path).suffix.lower()
    return next((fmt for fmt in formats().values() if suffix in fmt.names), None)


def by_signature(head: bytes) -> Format | None:
    """The format the first bytes of a file say, without reading further (no TIFF directory)."""
    if head[4:8] == b"ftyp":
        return _by_brands(head)
    tiff = formats()["tiff"]
    for fmt in formats().values():
        if fmt is not tiff and fmt.matches(head):
            return fmt
    return tiff if tiff.matches(head) else None


def identify(path: str | Path) -> Format | None:
    """The image format of the file at ``path``, told by its content.

    The first bytes name most formats. TIFF-structured files are told apart by their
    first directory: a DNGVersion tag makes a DNG, sensor data (a colour filter
    array, or a reduced-resolution first page whose picture is in a sub-directory)
    makes the camera raw format of its maker; only then does a raw name ending
    (``.nef``, ``.arw``, ...) count. Everything else with a TIFF header is a TIFF.

    Returns ``None`` for content in no supported image format (videos included), for
    empty files and for anything but a regular file (a FIFO is never opened).

    Raises
    ------
    OSError
        The file cannot be read.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        return None
    with open(path, "rb") as handle:
        head = handle.read(HEAD)
        fmt = by_signature(head)
        if fmt is None or fmt.name != "tiff":
            return fmt
        return _tiff_structured(handle, head, Path(path).suffix.lower())


def foreign(head: bytes, suffix: str) -> str | None:
    """The name of the still-image format unerkannt does not read that a file is in (by content or ending)."""
    for name, endings, magic in FOREIGN:
        if any(head[offset : offset + len(sig)] == sig for offset, sig in magic) or suffix.lower() in endings:
            return name
    return None


def is_candidate(path: Path) -> bool:
    """Whether a file is a photo or video by its name ending or its content (picks files in folders)."""
    from ..video import container, is_video

    if by_extension(path) is not None or is_video(path):
        return True
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        if identify(path) is not None:
            return True
        with open(path, "rb") as handle:
            return container(handle.read(HEAD)) is not None
    except OSError:
        return False


def pil_formats() -> list[str]:
    """The Pillow openers unerkannt uses (JPEG's also opens MPO files)."""
    return [fmt.pil_format for fmt in formats().values() if fmt.pil_format]


def _by_brands(head: bytes) -> Format | None:
    size = int.from_bytes(head[:4], "big")
    box = head[8 : min(size, len(head))] if size >= 16 else head[8:16]
    brands = [box[:4]] + [box[i : i + 4] for i in range(8, len(box) - 3, 4)]
    candidates = [fmt for fmt in formats().values() if fmt.brands]
    for brand in brands:  # the major brand first, then the compatible ones in order
        for fmt in candidates:
            if brand in fmt.brands:
                return fmt
    if any(b in _GENERIC_BRANDS for b in brands):
        # A HEIF container that names no codec: the codec configuration box tells.
        if b"av1C" in head:
            return formats()["avif"]
        if b"hvcC" in head:
            return formats()["heif"]
    return None


def _tiff_structured(handle, head: bytes, suffix: str) -> Format:  # type: ignore[no-untyped-def]
    raws = [fmt for fmt in formats().values() if fmt.decoder == "libraw"]
    tags = _first_directory(handle, head)
    if _DNG_VERSION in tags:
        return formats()["dng"]
    subfile = tags.get(_NEW_SUBFILE_TYPE)
    sensor = tags.get(_PHOTOMETRIC) in _SENSOR_DATA or (isinstance(subfile, int) and subfile & 1 and _SUB_IFDS in tags)
    if sensor:
        make = str(tags.get(_MAKE, "")).upper()
        return next(
            (fmt for fmt in raws if any(make.startswith(m) for m in fmt.tiff_makes)),
            formats()["other-raw"],
        )
    return next((fmt for fmt in raws if suffix in fmt.names), formats()["tiff"])


def _first_directory(handle, head: bytes) -> dict[int, object]:  # type: ignore[no-untyped-def]
    """A few tags of a TIFF file's first directory: ``{tag: int or str}``, ``{}`` when unreadable.

    Reads at most a few kilobytes wherever the directory is; damaged offsets end the
    search, they never raise.
    """
    order = "<" if head[:2] == b"II" else ">"
    big = head[2:4] in (b"+\x00", b"\x00+")
    try:
        if big:
            (offset,) = struct.unpack(order + "Q", head[8:16])
            count_fmt, entry_size, inline = "Q", 20, 8
        else:
            (offset,) = struct.unpack(order + "I", head[4:8])
            count_fmt, entry_size, inline = "H", 12, 4
        handle.seek(offset)
        raw = handle.read(struct.calcsize(count_fmt))
        (count,) = struct.unpack(order + count_fmt, raw)
        if not 0 < count <= 1000:
            return {}
        entries = handle.read(count * entry_size)
    except (struct.error, OSError, ValueError, OverflowError):
        return {}
    wanted = {_NEW_SUBFILE_TYPE, _PHOTOMETRIC, _MAKE, _SUB_IFDS, _DNG_VERSION}
    tags: dict[int, object] = {}
    for i in range(len(entries) // entry_size):
        entry = entries[i * entry_size : (i + 1) * entry_size]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag not in wanted:
            continue
        value = entry[4 + inline :] if big else entry[8:]
        n = struct.unpack(order + ("Q" if big else "I"), entry[4 : 4 + inline])[0]
        if kind == 3:  # SHORT
            tags[tag] = struct.unpack(order + "H", value[:2])[0]
        elif kind in (4, 13):  # LONG, IFD
            tags[tag] = struct.unpack(order + "I", value[:4])[0]
        elif kind == 2:  # ASCII
            tags[tag] = _ascii(handle, order, value, n, inline, big)
        else:
            tags[tag] = n
    return tags


def _ascii(handle, order: str, value: bytes, length: int, inline: int, big: bool) -> str:  # type: ignore[no-untyped-def]
    if length <= inline:
        text = value[:length]
    else:
        try:
            handle.seek(struct.unpack(order + ("Q" if big else "I"), value[:inline])[0])
            text = handle.read(min(length, 64))
        except (struct.error, OSError, ValueError, OverflowError):
            return ""
    return text.split(b"\x00")[0].decode("latin-1").strip()


__all__ = [
    "FORMAT_MODULES",
    "Format",
    "RawFormat",
    "Selection",
    "available",
    "by_extension",
    "by_name",
    "by_pil_format",
    "by_signature",
    "foreign",
    "formats",
    "identify",
    "is_candidate",
    "pil_formats",
    "writable",
    "written_as",
]
