"""Encode protected pixels into a new file, prove it carries no metadata, write atomically."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import struct
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import MetadataError, OutputError, OutputExistsError
from .formats import Format, available, by_name
from .picture import Picture
from .read import register_plugins

#: JPEG segments a fresh encode may hold: JFIF header, ICC profile, Adobe colour info.
_JPEG_APP_ALLOWED = {"APP0", "APP2", "APP14"}
#: TIFF tags that describe the pixels themselves; anything else is metadata.
_TIFF_STRUCTURAL = {
    254,
    256,
    257,
    258,
    259,
    262,
    266,
    273,
    274,
    277,
    278,
    279,
    282,
    283,
    284,
    296,
    305,
    317,
    338,
    339,
    34675,
}
#: PNG chunks of pixels and animation; ``iCCP`` only with ``keep_icc``.
_PNG_ALLOWED = {"IHDR", "PLTE", "tRNS", "IDAT", "IEND", "acTL", "fcTL", "fdAT", "sRGB", "gAMA", "cHRM", "pHYs", "sBIT"}
_INFO_FORBIDDEN = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc")


def encode(picture: Picture, fmt: Format, *, quality: int, keep_icc: bool) -> tuple[bytes, list[str]]:
    """Encode the frames of ``picture`` as ``fmt`` from pixels alone.

    Only pixels, frame timing and (with ``keep_icc``) the ICC profile are written.

    Returns
    -------
    data : bytes
        The new file.
    notes : list of str
        Conversions the output format forced (alpha flattened, frames dropped, ...).

    Raises
    ------
    OutputError
        ``fmt`` is read only, cannot store pages of different sizes, or the encoder failed.
    MetadataError
        The encoded file holds metadata (see :func:`check_clean`).
    """
    register_plugins()
    if not fmt.writable or not fmt.pil_format:
        raise OutputError(f"unerkannt does not write {fmt.name} files")
    if not available(fmt):
        raise OutputError(f"writing {fmt.name} needs a plugin that is not installed: {fmt.install}")
    notes: list[str] = []
    frames = picture.frames
    if len(frames) > 1 and not fmt.animated:
        notes.append(f"{fmt.name} stores one frame: only the first of {len(frames)} was written")
        frames = frames[:1]
    if not fmt.pages and any(f.shape[:2] != frames[0].shape[:2] for f in frames):
        raise OutputError(
            f"the {len(frames)} pages differ in size, which {fmt.name} cannot store; write them as TIFF (--format tiff)"
        )
    images = []
    for i, rgb in enumerate(frames):
        alpha = picture.alphas[i]
        if alpha is not None and not fmt.alpha:
            if i == 0:
                notes.append(f"{fmt.name} has no transparency: flattened onto white")
            a = alpha[:, :, None].astype(np.uint16)
            rgb = ((rgb.astype(np.uint16) * a + 255 * (255 - a)) // 255).astype(np.uint8)
            alpha = None
        img = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
        if alpha is not None:
            img.putalpha(Image.fromarray(np.ascontiguousarray(alpha), "L"))
        elif picture.greyscale and fmt.greyscale:
            img = img.convert("L")
        images.append(img)
    options = fmt.save_options(quality=quality)
    if keep_icc and picture.icc_profile and fmt.icc:
        options["icc_profile"] = picture.icc_profile
    if len(images) > 1:
        options.update(save_all=True, append_images=images[1:])
        if picture.durations:
            options["duration"] = picture.durations[: len(images)]
        if picture.loop is not None:
            options["loop"] = picture.loop
    buffer = io.BytesIO()
    try:
        images[0].save(buffer, format=fmt.pil_format, **options)
    except (OSError, ValueError, KeyError) as exc:
        raise OutputError(f"cannot encode as {fmt.name}: {exc}") from exc
    data = buffer.getvalue()
    check_clean(data, fmt, keep_icc=keep_icc)
    return data, notes


def check_clean(data: bytes, fmt: Format, *, keep_icc: bool) -> None:
    """Re-open an encoded file and refuse it if any metadata is in it.

    An allowlist: pixels, frame timing, structural tags and (with ``keep_icc``)
    an ICC profile pass; EXIF, XMP, IPTC, comments, text chunks and thumbnails do not.

    Raises
    ------
    MetadataError
        Something else was found.
    """
    found: list[str] = []
    if fmt.pil_format == "JXL" and not data.startswith(b"\xff\x0a"):
        raise MetadataError("a JPEG XL container, which can hold Exif and XMP boxes, instead of a bare codestream")
    with Image.open(io.BytesIO(data)) as img:
        if img.format != fmt.pil_format:
            found.append(f"a {img.format} container instead of plain {fmt.pil_format}")
        if getattr(img, "n_frames", 1) > 1 and not fmt.animated:
            found.append("additional pictures")
        found += [key for key in _INFO_FORBIDDEN if img.info.get(key)]
        icc = img.info.get("icc_profile")
        if icc and not keep_icc and not (fmt.pil_format == "JXL" and icc == _jxl_colour_profile(img.mode[0])):
            found.append("icc_profile")
        exif_tags = set(img.getexif().keys())
        if fmt.pil_format == "TIFF":
            exif_tags -= _TIFF_STRUCTURAL
        if exif_tags:
            found.append(f"EXIF/TIFF tags {sorted(exif_tags)}")
        if getattr(img, "text", None):
            found.append("text chunks")
        applist = getattr(img, "applist", [])
        extra = sorted({name for name, _ in applist} - _JPEG_APP_ALLOWED)
        if extra or any(name == "APP1" for name, _ in applist):
            found.append(f"JPEG segments {extra}")
    if fmt.pil_format == "JPEG" and _jpeg_end(data) != len(data):
        found.append("data after the end of the JPEG image")
    if fmt.pil_format == "PNG":
        extra_chunks = sorted(set(_png_chunks(data)) - _PNG_ALLOWED - ({"iCCP"} if keep_icc else set()))
        if extra_chunks:
            found.append(f"PNG chunks {extra_chunks}")
    if fmt.pil_format == "HEIF":
        found += _heif_extras(data)
    if found:
        raise MetadataError(f"metadata would remain in the output: {', '.join(found)}")


@cache
def _jxl_colour_profile(mode: str) -> bytes:
    """The ICC profile libjxl reports for a codestream that stores none (made from its header): ``mode`` L or R(GB)."""
    buffer = io.BytesIO()
    Image.new("L" if mode == "L" else "RGB", (8, 8)).save(
        buffer, format="JXL", **by_name("jxl").save_options(quality=90)
    )
    with Image.open(buffer) as img:
        return bytes(img.info.get("icc_profile") or b"")


def _jpeg_end(data: bytes) -> int:
    """Offset just past the EOI marker of the first JPEG image in ``data``."""
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return -1
        marker = data[pos + 1]
        if marker == 0xD9:
            return pos + 2
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 1 if marker == 0xFF else 2
            continue
        if pos + 4 > len(data):
            return -1
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
        if marker == 0xDA:  # entropy-coded data follows: skip to the next real marker
            pos = _after_scan(data, pos)
    return -1


def _after_scan(data: bytes, pos: int) -> int:
    """Offset of the first marker at or after ``pos`` that is not part of entropy-coded
    data (a stuffed ``FF 00`` or a restart ``FF D0``-``FF D7``); ``len(data)`` if none."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        follower = data[pos + 1]
        if follower != 0x00 and not 0xD0 <= follower <= 0xD7:
            return pos
        pos += 2


def _png_chunks(data: bytes) -> list[str]:
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos + 4 : pos + 8].decode("latin-1"))
        pos += 12 + length
    if pos != len(data):
        chunks.append("<trailing data>")
    return chunks


def _heif_extras(data: bytes) -> list[str]:
    from pillow_heif import open_heif

    found = []
    for image in open_heif(io.BytesIO(data)):
        for key in ("exif", "xmp", "thumbnails", "depth_images", "metadata", "aux"):
            if image.info.get(key):
                found.append(f"HEIF {key}")
    return found


@contextlib.contextmanager
def atomic_output(path: Path, *, overwrite: bool) -> Iterator[Path]:
    """A temporary file next to ``path``, moved into place only if the block succeeds.

    The block writes the temporary file (by name, so encoders such as FFmpeg can);
    it is then flushed to disk and linked (or, with ``overwrite``, renamed) into place,
    so readers see all of the file or nothing. Whatever the block raises, the temporary
    file is removed: no partial output is ever left.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    OutputError
        The folder is not writable, the disk is full, ...
    """
    path = Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputExistsError("the output file exists (use --overwrite to replace it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder: {exc.strerror or exc}") from exc
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".unerkannt-", suffix=".part" + path.suffix)
        os.fchmod(fd, 0o644)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot create the output: {exc.strerror or exc}") from exc
    done = False
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_into_place(tmp, path)
        done = True
    except FileExistsError as exc:
        raise OutputExistsError("the output file exists (use --overwrite to replace it)") from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise OutputError("the disk is full (no space left on device)") from exc
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_atomic(data: bytes, path: Path, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_output` (all or nothing)."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        try:
            tmp.write_bytes(data)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise OutputError("the disk is full (no space left on device)") from exc
            raise OutputError(f"cannot write the output: {exc.strerror or exc}") from exc


def _link_into_place(tmp: str, path: Path) -> None:
    # link() fails if the name exists, which closes the race with other writers;
    # file systems without hard links fall back to a checked rename.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if path.exists():
            raise FileExistsError(str(path)) from exc
        os.replace(tmp, path)
        return
    os.unlink(tmp)
