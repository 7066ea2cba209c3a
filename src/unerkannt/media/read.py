"""Decode an image file into a :class:`Picture`, refusing what cannot be trusted."""

from __future__ import annotations

import logging
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import CorruptFileError, ImageTooLargeError, InputError, UnsupportedFormatError
from ..options import DEFAULT_MAX_FRAMES
from .formats import HEAD, Format, available, foreign, identify, written_as
from .picture import Picture

log = logging.getLogger(__name__)

_plugins_ready = False

#: EXIF orientation -> the transpose that shows the image upright.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def register_plugins() -> None:
    """Make Pillow read HEIF (pillow-heif) and, where installed, JPEG XL; AVIF is built into Pillow."""
    global _plugins_ready
    if not _plugins_ready:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # pragma: no cover - pillow-heif is a dependency
            log.warning("pillow-heif is not installed: HEIC/HEIF files cannot be read")
        try:
            import pillow_jxl  # noqa: F401  (registers the JXL opener and saver)
        except ImportError:
            log.debug("pillow-jxl-plugin is not installed: JPEG XL files cannot be read")
        _plugins_ready = True


def read_image(path: str | Path, *, max_pixels: int, max_frames: int = DEFAULT_MAX_FRAMES) -> Picture:
    """Decode the picture in the image file at ``path``.

    The format is told by the content, not the name (:func:`~unerkannt.media.formats.identify`),
    and only that format's decoder is used: camera raw files go to LibRaw, everything
    else to Pillow. Every frame of the picture is decoded, the main picture first;
    previews and thumbnails stored beside it are left out (a warning says which).
    Orientation is applied to the pixels exactly once; palette, greyscale, CMYK and
    16-bit images become 8-bit RGB (alpha kept apart). No metadata but the ICC
    profile is kept.

    Raises
    ------
    UnsupportedFormatError
        Not an image, or a format unerkannt does not read (or its plugin is missing).
    CorruptFileError
        Empty, truncated or damaged (also when only the decoder's warnings say so).
    ImageTooLargeError
        More than ``max_pixels`` pixels over all frames of the picture, or more than
        ``max_frames`` frames in the file (both checked before any frame is decoded).
    InputError
        Missing, a folder, or not readable.
    """
    register_plugins()
    path = Path(path)
    fmt: Format | None = None
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise InputError("the path is a directory")
        if not stat.S_ISREG(mode):
            raise UnsupportedFormatError("not a regular file")
        if path.stat().st_size == 0:
            raise CorruptFileError("the file is empty (0 bytes)")
        fmt = identify(path)
        if fmt is None:
            raise UnsupportedFormatError(_not_an_image(path))
        if not available(fmt):
            raise UnsupportedFormatError(f"{fmt.name} files need a plugin that is not installed: {fmt.install}")
        if fmt.decoder == "libraw":
            from .raw import read_raw

            return read_raw(path, fmt, max_pixels=max_pixels)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Image.open(path, formats=[fmt.pil_format, *fmt.also_reads]) as img:
                picture = _decode(path, img, fmt, max_pixels=max_pixels, max_frames=max_frames)
        # Our own pixel limit was checked before decoding; other decoder warnings
        # (corrupt EXIF, ...) go into the report instead of the terminal.
        picture.warnings.extend(
            f"decoder: {w.message}" for w in caught if not issubclass(w.category, Image.DecompressionBombWarning)
        )
        return picture
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"the image is too large to decode safely: {exc}") from exc
    except UnidentifiedImageError as exc:
        name = fmt.name.upper() if fmt else "an image"
        raise CorruptFileError(
            f"the file starts like a {name} image but cannot be decoded (damaged or truncated)"
        ) from exc
    except FileNotFoundError as exc:
        raise InputError("the file does not exist") from exc
    except IsADirectoryError as exc:
        raise InputError("the path is a directory") from exc
    except PermissionError as exc:
        raise InputError("the file cannot be read (permission denied)") from exc
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        TypeError,
        KeyError,
        MemoryError,
        RuntimeError,
        NotImplementedError,  # Pillow's answer to a compression or mode its decoders lack
    ) as exc:
        raise CorruptFileError(f"the image data is damaged or truncated ({type(exc).__name__}: {exc})") from exc


def _not_an_image(path: Path) -> str:
    from .video import container

    with path.open("rb") as handle:
        head = handle.read(HEAD)
    ending = container(head)
    if ending is not None:
        return (
            f"the file is a video ({ending[1:].upper()}) but its name does not end like one; "
            f"name it *{ending} to protect it"
        )
    other = foreign(head, path.suffix)
    if other is not None:
        return f"not an image in a supported format: a {other} image (convert it to PNG or TIFF to protect it)"
    return "not an image in a supported format"


def _decode(path: Path, img: Image.Image, fmt: Format, *, max_pixels: int, max_frames: int) -> Picture:
    width, height = img.size
    if width < 1 or height < 1:
        raise CorruptFileError(f"the image has no pixels ({width}x{height})")
    count = int(getattr(img, "n_frames", 1))
    if count > max_frames:
        raise ImageTooLargeError(f"{count:,} frames is over the limit of {max_frames:,} frames")
    if width * height * count > max_pixels and type(fmt).select is Format.select:
        # All frames are kept and of one size: a many-frame bomb is refused before
        # the frames are looked at one by one.
        raise ImageTooLargeError(
            f"{width}x{height} pixels x {count} frame(s) is over the limit of {max_pixels:,} pixels"
        )
    selection = fmt.select(img)
    total = sum(w * h for w, h in selection.sizes)
    if total > max_pixels:
        raise ImageTooLargeError(
            f"{total:,} pixels in {len(selection.frames)} frame(s) is over the limit of {max_pixels:,} pixels"
        )
    # Damage the decoder passes over fails the file before any pixel is used.
    notes = list(selection.notes) + fmt.check(path, img, selection.frames)
    icc = img.info.get("icc_profile") or None
    frames: list[np.ndarray] = []
    alphas: list[np.ndarray | None] = []
    durations: list[int] = []
    modes: set[str] = set()
    oriented: set[str] = set()
    for i in selection.frames:
        if count > 1:
            img.seek(i)
        img.load()
        modes.add(img.mode)
        durations.append(int(img.info.get("duration", 0) or 0))
        frame = _orient(img, fmt, oriented)
        rgb, alpha = _to_rgb(frame)
        frames.append(rgb)
        alphas.append(alpha)
    if not frames:
        raise CorruptFileError("the image has no frames")
    if not fmt.pages and any(f.shape != frames[0].shape for f in frames):
        raise CorruptFileError("frames of different sizes")
    notes.extend(sorted(oriented))
    if "CMYK" in modes:
        notes.append("CMYK pixels converted to RGB")
        icc = None
    if modes & set(_DEEP_MODES):
        notes.append("16-bit pixels written as 8-bit")
    animated = len(frames) > 1
    return Picture(
        frames=frames,
        alphas=alphas,
        format=written_as(fmt),
        greyscale=modes <= set(_GREY_MODES),
        icc_profile=icc,
        durations=durations if animated else None,
        loop=int(img.info["loop"]) if animated and "loop" in img.info else None,
        warnings=notes,
    )


def _orient(frame: Image.Image, fmt: Format, notes: set[str]) -> Image.Image:
    """``frame`` turned upright by the orientation its decoder left to apply."""
    try:
        value = fmt.orientation(frame)
    except Exception:  # Pillow raises many types on broken EXIF blocks
        notes.add("EXIF block unreadable; pixels taken as stored")
        return frame
    if value in _TRANSPOSE:
        return frame.transpose(_TRANSPOSE[value])  # type: ignore[index]
    if value not in (1, None):
        notes.add(f"invalid EXIF orientation {value!r} ignored")
    return frame


def _to_rgb(frame: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = frame.mode
    if mode in _DEEP_MODES:
        arr = np.asarray(frame).astype(np.float64)
        # Integer modes hold 16-bit samples here (PNG, TIFF); float images are 0..255.
        scaled = arr if mode == "F" else arr / 65535.0 * 255.0
        grey = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2)), None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in frame.info)
    if has_alpha:
        rgba = np.asarray(frame.convert("RGBA"))
        return np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
    return np.ascontiguousarray(np.asarray(frame.convert("RGB"))), None
