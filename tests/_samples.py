"""Builders and checks shared by the media, metadata and hostile-input tests.

Every sample is a real file written by Pillow (or crafted byte by byte where Pillow
will not write it); every check reopens real output files.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageSequence

from conftest import FACE_BOX, textured

pillow_heif.register_heif_opener()

WIDTH, HEIGHT = 120, 80

# With the default enlarge (1.3) the 40 x 40 FACE_BOX grows to 52 wide and
# 40 * 1.3 * 1.2 = 62.4 tall, its centre moved up by 0.08 * 40 * 1.3 = 4.16 px to
# (60, 35.84); clipped to whole pixels that is the region x 34..86, y 4..68, and fill
# changes the ellipse inscribed in it: centre (60, 36), radii 26 and 32. Worked out
# here by hand so that a wrong region in src cannot agree with itself.
CENTRE_X, CENTRE_Y, RADIUS_X, RADIUS_Y = 60.0, 36.0, 26.0, 32.0
REGION = (34, 4, 86, 68)

#: The format each supported name is saved as, the Pillow format it reopens as, a
#: file ending, the keyword arguments to write a good input, and whether it is lossless.
FORMATS = {
    "jpeg": ("JPEG", ".jpg", {"quality": 95}, False),
    "png": ("PNG", ".png", {}, True),
    "webp": ("WEBP", ".webp", {"lossless": True}, False),  # written lossy by unerkannt
    "tiff": ("TIFF", ".tif", {}, True),
    "bmp": ("BMP", ".bmp", {}, True),
    "gif": ("GIF", ".gif", {}, False),  # palette quantization may move colours
    "heif": ("HEIF", ".heic", {"quality": 95}, False),
    "avif": ("AVIF", ".avif", {"quality": 95}, False),
}


def grid() -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    return xs + 0.5, ys + 0.5


def outside_ellipse(margin: float = 1.0) -> np.ndarray:
    """Pixels fill must not touch: outside the enlarged ellipse (grown by ``margin``)."""
    xs, ys = grid()
    rx, ry = RADIUS_X + margin, RADIUS_Y + margin
    return ((xs - CENTRE_X) / rx) ** 2 + ((ys - CENTRE_Y) / ry) ** 2 > 1.0


def far_from_face(margin: int = 8) -> np.ndarray:
    """Pixels far enough from the filled square that lossy codecs' blocks do not reach them."""
    x1, y1, x2, y2 = REGION
    mask = np.ones((HEIGHT, WIDTH), dtype=bool)
    mask[max(0, y1 - margin) : y2 + margin, max(0, x1 - margin) : x2 + margin] = False
    return mask


def face_core(radius: float = 14.0) -> np.ndarray:
    """The middle of the face, well inside the filled ellipse."""
    xs, ys = grid()
    return (xs - CENTRE_X) ** 2 + (ys - CENTRE_Y) ** 2 <= radius**2


def save(array: np.ndarray, path: Path, fmt: str, **extra: object) -> Path:
    """Write ``array`` as ``fmt`` (a key of :data:`FORMATS`) with that format's sample options."""
    pil_format, _, kwargs, _ = FORMATS[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path, format=pil_format, **{**kwargs, **extra})
    return path


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).astype(np.int16)


def load_frames(path: Path) -> tuple[str, str, tuple[int, int], list[np.ndarray], list[int | float | None]]:
    """``(format, mode of frame 0, size, RGB frames, durations)`` of an image file."""
    frames, durations = [], []
    with Image.open(path) as img:
        fmt, mode, size = img.format, img.mode, img.size
        for frame in ImageSequence.Iterator(img):
            frame.load()
            durations.append(frame.info.get("duration"))
            frames.append(np.asarray(frame.convert("RGB")).astype(np.int16))
    return fmt, mode, size, frames, durations


def luma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def assert_face_filled(out: np.ndarray, before: np.ndarray, *, flat: bool = True) -> None:
    """>= 90 % of FACE_BOX differs by > 12 in some channel, and (``flat``) its middle is one colour."""
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    diff = np.abs(out.astype(np.int16) - before.astype(np.int16)).max(axis=2)
    changed = (diff[y1:y2, x1:x2] > 12).mean()
    assert changed >= 0.9, f"only {changed:.1%} of the face box changed"
    if not flat:
        return
    core = luma(out)[face_core()]
    assert core.std() < 4.0, f"the face is not filled flat (luma std {core.std():.1f})"


def assert_rest_kept(out: np.ndarray, before: np.ndarray, *, lossless: bool) -> None:
    """Pixels away from the face: identical for lossless formats, close in luma otherwise."""
    if lossless:
        keep = outside_ellipse()
        bad = np.argwhere((out != before).any(axis=2) & keep)
        assert bad.size == 0, f"{len(bad)} pixels outside the face ellipse changed, first at (y, x) {bad[0]}"
    else:
        far = far_from_face()
        mad = np.abs(luma(out) - luma(before))[far].mean()
        assert mad < 6.0, f"pixels far from the face moved by {mad:.1f} luma on average"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_for_orientation(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that EXIF ``orientation`` shows ``upright``.

    Written from the EXIF 2.3 table (which stored row/column is the visual top/left),
    independently of Pillow's transpose constants.
    """
    u = upright
    stored = {
        1: u,
        2: u[:, ::-1],  # mirrored left-right
        3: u[::-1, ::-1],  # rotated 180
        4: u[::-1, :],  # mirrored top-bottom
        5: u.transpose(1, 0, 2),  # row 0 = visual left, column 0 = visual top
        6: np.rot90(u, 1),  # row 0 = visual right, column 0 = visual top
        7: np.rot90(u, 1)[:, ::-1],  # row 0 = visual right, column 0 = visual bottom
        8: np.rot90(u, -1),  # row 0 = visual left, column 0 = visual bottom
    }.get(orientation, u)
    return np.ascontiguousarray(stored)


def exif_with(**tags: object) -> Image.Exif:
    """An EXIF block; ``orientation=6`` style keywords for the few tags used here."""
    names = {"orientation": 0x0112, "make": 0x010F, "model": 0x0110, "artist": 0x013B}
    exif = Image.Exif()
    for key, value in tags.items():
        exif[names[key]] = value
    return exif


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` black pixels, tiny on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def exiftool_tags(exe: str, path: Path) -> dict[str, object]:
    """Every tag exiftool finds, unknown ones included, as ``{"Group:Tag": value}``."""
    proc = subprocess.run(
        [exe, "-j", "-G1", "-a", "-s", "-u", str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    data = json.loads(proc.stdout)[0]
    data.pop("SourceFile", None)
    return data


def exiftool_write(exe: str, path: Path, *args: str) -> None:
    proc = subprocess.run(
        [exe, "-overwrite_original", "-q", "-m", *args, str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, f"exiftool could not write {path.name}: {proc.stderr}"


__all__ = [
    "FACE_BOX",
    "FORMATS",
    "HEIGHT",
    "REGION",
    "WIDTH",
    "assert_face_filled",
    "assert_rest_kept",
    "exif_with",
    "exiftool_tags",
    "exiftool_write",
    "face_core",
    "far_from_face",
    "load_frames",
    "load_rgb",
    "luma",
    "outside_ellipse",
    "png_bomb",
    "save",
    "sha256",
    "stored_for_orientation",
    "textured",
]
