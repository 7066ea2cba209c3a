"""PNG: chunk checksums are verified, which Pillow does not do for the pixel data."""

from __future__ import annotations

import zlib
from pathlib import Path

from PIL import Image

from ...errors import CorruptFileError
from .base import Format

#: Chunks whose damage changes the pixels or how they are shown: the critical chunks,
#: transparency, the animation chunks and eXIf (orientation). Damage elsewhere (text,
#: time, colour hints) is reported; those chunks are not carried over anyway.
_PIXEL_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"acTL", b"fcTL", b"fdAT", b"eXIf"}


class PngFormat(Format):
    def check(self, path: Path, img: Image.Image, frames: list[int]) -> list[str]:
        """Verify the CRC of every chunk.

        zlib does not notice every flipped bit in IDAT: a changed literal decodes to
        a changed pixel. The chunk CRC does.

        Raises
        ------
        CorruptFileError
            A chunk with pixel data (or one that says how to show it) is damaged.
        """
        data = path.read_bytes()
        notes = []
        pos = 8
        while pos + 12 <= len(data):
            length = int.from_bytes(data[pos : pos + 4], "big")
            kind = data[pos + 4 : pos + 8]
            end = pos + 8 + length
            if end + 4 > len(data):
                raise CorruptFileError(f"the PNG file is truncated inside its {kind.decode('latin-1')!r} chunk")
            if zlib.crc32(data[pos + 4 : end]) != int.from_bytes(data[end : end + 4], "big"):
                name = kind.decode("latin-1")
                if kind in _PIXEL_CHUNKS:
                    raise CorruptFileError(f"the PNG data is damaged (checksum of a {name!r} chunk is wrong)")
                notes.append(f"the PNG {name!r} chunk is damaged (wrong checksum); it is not carried over")
            pos = end + 4
            if kind == b"IEND":
                return notes
        raise CorruptFileError("the PNG file is truncated (it has no end chunk)")


FORMAT = PngFormat(
    name="png",
    pil_format="PNG",
    extensions=(".png",),
    also_named=(".apng",),
    media_type="image/png",
    animated=True,
    magic=((0, b"\x89PNG\r\n\x1a\n"),),
)
