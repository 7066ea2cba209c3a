"""JPEG: camera previews in an MPF index are left out; libjpeg's warnings about damaged data fail the file."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from ...errors import CorruptFileError
from .base import Format, Selection

#: libjpeg's note that data was left over when the picture was complete.
_LEFT_OVER = re.compile(r"(\d+) extraneous bytes before marker 0xd9")


class JpegFormat(Format):
    def save_options(self, *, quality: int) -> dict[str, object]:
        # 4:2:0 as cameras write it; full chroma resolution at the highest qualities.
        return {"quality": quality, "subsampling": 2 if quality < 95 else 0}

    def select(self, img: Image.Image) -> Selection:
        """The main picture and further pictures of its size (stereo pairs).

        Cameras and phones put a smaller copy of the picture behind it and list it in
        an MPF index (a preview, or an HDR gain map); Pillow opens such a file as MPO
        with one frame per picture. Those copies are left out: the picture is protected.
        """
        entries = getattr(img, "mpinfo", {}).get(0xB002, []) if img.format == "MPO" else []
        count = int(getattr(img, "n_frames", 1))
        main = img.size
        frames, sizes, notes = [0], [main], []
        for i in range(1, count):
            img.seek(i)
            kind = str(entries[i].get("Attribute", {}).get("MPType", "")) if i < len(entries) else ""
            if img.size == main and "thumbnail" not in kind.lower():
                frames.append(i)
                sizes.append(img.size)
                continue
            described = f"'{kind}'" if kind else "without a type"
            notes.append(
                f"left out picture {i + 1} of the file, {img.size[0]}x{img.size[1]} pixels, "
                f"an MPF entry {described} (a camera preview or gain map: a copy of the picture)"
            )
        img.seek(0)
        return Selection(frames, sizes, notes)

    def check(self, path: Path, img: Image.Image, frames: list[int]) -> list[str]:
        """Decode each picture again with libjpeg-turbo (simplejpeg), strictly.

        Pillow decodes with libjpeg but drops its warnings, so a scan with zeroed or
        garbled bytes comes out as grey or smeared blocks without an error. simplejpeg's
        strict mode raises on the first warning; the picture is decoded at 1/8 scale,
        which still reads every byte of the entropy-coded data but skips most of the
        inverse DCT. Metadata segments are left out of that stream, so that a damaged
        ICC or JFIF segment (dropped from the output anyway) cannot stop the check
        before the pixel data.

        Raises
        ------
        CorruptFileError
            libjpeg found the compressed pixels damaged.
        """
        data = path.read_bytes()
        notes = []
        for i in frames:
            start = 0
            if i:
                img.seek(i)
                start = int(getattr(img, "offset", 0))
            stream = _pixel_stream(data, start)
            message = _libjpeg_warning(stream)
            if message is None:
                continue
            where = f"picture {i + 1} of the file" if len(frames) > 1 or i else "the picture"
            if message.startswith("tj"):
                # TurboJPEG's own limits (unusual chroma sampling), not libjpeg reading damage.
                notes.append(f"the JPEG data of {where} could not be checked for damage ({message})")
            elif _padding(stream, message):
                notes.append(f"decoder: {message} (zero padding after the picture; ignored)")
            else:
                raise CorruptFileError(f"the JPEG data of {where} is damaged (libjpeg: {message})")
        if img.format == "MPO":
            img.seek(0)
        return notes


def _libjpeg_warning(stream: bytes) -> str | None:
    import simplejpeg

    try:
        space = simplejpeg.decode_jpeg_header(stream)[2]
        colorspace = {"Gray": "GRAY", "CMYK": "CMYK", "YCCK": "CMYK"}.get(space, "RGB")
        simplejpeg.decode_jpeg(stream, colorspace=colorspace, min_height=1, min_width=1, strict=True)
    except ValueError as exc:
        return str(exc).strip()
    return None


def _padding(stream: bytes, message: str) -> bool:
    """Whether libjpeg's left-over bytes are zero padding before the end marker.

    Left-over bytes are also what damage looks like: zeroed or garbled entropy-coded
    data makes the decoder finish the picture early, and the rest of the real data is
    left over. Only zeros (some writers pad the scan) are harmless.
    """
    found = _LEFT_OVER.search(message)
    scan = stream.find(b"\xff\xda")
    end = stream.find(b"\xff\xd9", scan) if found and scan >= 0 else -1
    if found is None or end < 0:
        return False
    count = int(found.group(1))
    tail = stream[:end].rstrip(b"\xff")[-count:]
    return len(tail) == count and not any(tail)


def _pixel_stream(data: bytes, start: int) -> bytes:
    """The JPEG stream at ``start`` without its APPn (except Adobe's APP14) and COM segments.

    What libjpeg needs to decode the pixels; a stream whose segments cannot be walked
    is returned whole, for libjpeg to judge.
    """
    out = [data[start : start + 2]]
    pos = start + 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return data[start:]
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA:
            out.append(data[pos:])
            return b"".join(out)
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return data[start:]
        if not (0xE0 <= marker <= 0xEF and marker != 0xEE) and marker != 0xFE:
            out.append(data[pos : pos + 2 + length])
        pos += 2 + length
    return data[start:]


FORMAT = JpegFormat(
    name="jpeg",
    pil_format="JPEG",
    extensions=(".jpg", ".jpeg", ".jpe", ".jfif"),
    also_named=(".jps", ".mpo"),
    media_type="image/jpeg",
    lossy=True,
    alpha=False,
    magic=((0, b"\xff\xd8\xff"),),
    also_reads=("MPO",),
)
