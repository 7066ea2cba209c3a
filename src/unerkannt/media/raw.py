"""Camera raw files with LibRaw (rawpy): the sensor data developed to 8-bit sRGB, upright.

Only the sensor data is decoded. The previews a camera embeds in the file (a small
JPEG, sometimes a full-size one) are never used: they are made by the camera, may
differ from the sensor data (crop, edits) and are not what LibRaw develops.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from ..errors import CorruptFileError, ImageTooLargeError, UnsupportedFormatError
from .formats import Format, written_as
from .picture import Picture

log = logging.getLogger(__name__)

#: The sRGB transfer curve (power, toe slope); LibRaw's default is BT.709's (2.222, 4.5).
SRGB_GAMMA = (2.4, 12.92)


def read_raw(path: Path, fmt: Format, *, max_pixels: int) -> Picture:
    """Develop the raw file at ``path``.

    The camera's white balance (as shot) and orientation are applied, colours are
    converted to sRGB, 8 bits per channel. The pixel limit is checked from the
    file's header, before the sensor data is unpacked.

    Raises
    ------
    UnsupportedFormatError
        LibRaw does not read this file (an unknown camera, or not a raw file).
    CorruptFileError
        The file is truncated or its data damaged.
    ImageTooLargeError
        More than ``max_pixels`` pixels.
    """
    import rawpy

    data = path.read_bytes()
    raw = rawpy.RawPy()
    try:
        raw.open_buffer(io.BytesIO(data))
        sizes = raw.sizes
        pixels = max(sizes.raw_width * sizes.raw_height, sizes.width * sizes.height)
        if pixels > max_pixels:
            raise ImageTooLargeError(
                f"{sizes.width}x{sizes.height} pixels ({sizes.raw_width}x{sizes.raw_height} on the sensor) "
                f"is over the limit of {max_pixels:,} pixels"
            )
        if sizes.width < 1 or sizes.height < 1:
            raise CorruptFileError(f"the raw file has no pixels ({sizes.width}x{sizes.height})")
        raw.unpack()
        rgb = raw.postprocess(
            use_camera_wb=True,
            output_color=rawpy.ColorSpace.sRGB,
            output_bps=8,
            gamma=SRGB_GAMMA,
        )
    except rawpy.LibRawFileUnsupportedError as exc:
        raise UnsupportedFormatError(
            f"LibRaw cannot read this file as {fmt.name} (a camera it does not know, or not a raw file)"
        ) from exc
    except (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError, rawpy.LibRawMemPoolOverflowError) as exc:
        raise ImageTooLargeError(f"the raw file is too large to decode ({_message(exc)})") from exc
    except rawpy.LibRawError as exc:
        raise CorruptFileError(f"the raw data is damaged or truncated (LibRaw: {_message(exc)})") from exc
    finally:
        raw.close()
    return Picture(
        frames=[rgb],
        alphas=[None],
        format=written_as(fmt),
        warnings=[
            f"camera raw ({fmt.name}) developed by LibRaw with the camera's white balance; "
            "previews embedded in the file left out"
        ],
    )


def _message(exc: Exception) -> str:
    text = " ".join(str(a.decode("utf-8", "replace") if isinstance(a, bytes) else a) for a in exc.args)
    return text or type(exc).__name__
