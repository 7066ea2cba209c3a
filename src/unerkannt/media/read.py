"""Decode an image file into a :class:`Picture`, refusing what cannot be trusted."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from ..errors import CorruptFileError, ImageTooLargeError, InputError, UnsupportedFormatError
from ..options import DEFAULT_MAX_FRAMES
from .formats import Format, by_pil_format, by_signature, pil_formats
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


def register_plugins() -> None:
    """Make Pillow read HEIF (pillow-heif); AVIF is built into Pillow."""
    global _plugins_ready
    if not _plugins_ready:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # pragma: no cover - pillow-heif is a dependency
            log.warning("pillow-heif is not installed: HEIC/HEIF files cannot be read")
        _plugins_ready = True


def read_image(path: str | Path, *, max_pixels: int, max_frames: int = DEFAULT_MAX_FRAMES) -> Picture:
    """Decode every frame of the image at ``path``.

    EXIF orientation is applied to the pixels; palette, greyscale, CMYK and 16-bit
    images become 8-bit RGB (alpha kept apart). No metadata but the ICC profile is
    kept.

    Raises
    ------
    UnsupportedFormatError
        Not an image, or a format unerkannt does not write.
    CorruptFileError
        Empty, truncated or damaged.
    ImageTooLargeError
        More than ``max_pixels`` pixels over all frames, or more than ``max_frames``
        frames (both checked before any frame is decoded).
    """
    register_plugins()
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise CorruptFileError("the file is empty (0 bytes)")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Image.open(path, formats=pil_formats()) as img:
                picture = _decode(img, max_pixels=max_pixels, max_frames=max_frames)
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
        if _signature(path) is not None:
            raise CorruptFileError(
                "the file starts like an image but cannot be decoded (damaged or truncated)"
            ) from exc
        raise UnsupportedFormatError("not an image in a supported format") from exc
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
    ) as exc:
        raise CorruptFileError(f"the image data is damaged or truncated ({type(exc).__name__}: {exc})") from exc


def _signature(path: Path) -> Format | None:
    try:
        with path.open("rb") as handle:
            return by_signature(handle.read(16))
    except OSError:
        return None


def _decode(img: Image.Image, *, max_pixels: int, max_frames: int) -> Picture:
    fmt = by_pil_format(img.format or "")
    width, height = img.size
    n_frames = int(getattr(img, "n_frames", 1))
    if width < 1 or height < 1:
        raise CorruptFileError(f"the image has no pixels ({width}x{height})")
    if n_frames > max_frames:
        raise ImageTooLargeError(f"{n_frames} frames is over the limit of {max_frames:,} frames")
    if width * height * n_frames > max_pixels:
        raise ImageTooLargeError(
            f"{width}x{height} pixels x {n_frames} frame(s) is over the limit of {max_pixels:,} pixels"
        )
    notes: list[str] = []
    orientation = _orientation(img, notes)
    icc = img.info.get("icc_profile") or None
    mode0 = img.mode
    greyscale = mode0 in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
    if mode0 == "CMYK":
        notes.append("CMYK pixels converted to RGB")
        icc = None
    if mode0 in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        notes.append("16-bit pixels written as 8-bit")
    frames: list[np.ndarray] = []
    alphas: list[np.ndarray | None] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(img):
        frame.load()
        durations.append(int(frame.info.get("duration", 0) or 0))
        if orientation:
            frame = frame.transpose(_TRANSPOSE[orientation])
        rgb, alpha = _to_rgb(frame)
        frames.append(rgb)
        alphas.append(alpha)
    if not frames:
        raise CorruptFileError("the image has no frames")
    if any(f.shape != frames[0].shape for f in frames):
        raise CorruptFileError("frames of different sizes")
    animated = len(frames) > 1
    return Picture(
        frames=frames,
        alphas=alphas,
        format=fmt,
        greyscale=greyscale,
        icc_profile=icc,
        durations=durations if animated else None,
        loop=int(img.info["loop"]) if animated and "loop" in img.info else None,
        warnings=notes,
    )


def _orientation(img: Image.Image, notes: list[str]) -> int:
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # Pillow raises many types on broken EXIF blocks
        notes.append("EXIF block unreadable; pixels taken as stored")
        return 0
    if value in (2, 3, 4, 5, 6, 7, 8):
        return int(value)
    if value not in (1, None):
        notes.append(f"invalid EXIF orientation {value!r} ignored")
    return 0


def _to_rgb(frame: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = frame.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
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
