"""Files as cameras and phones write them, built here byte by byte where no library writes them.

- :func:`make_dng`: a real DNG (pidng) whose colour filter array holds a given picture,
  as a sensor under a given light would record it;
- :func:`orient_heif`: adds the HEIF rotation and mirror properties (``irot``, ``imir``)
  that phones write, which pillow-heif does not;
- :func:`set_mpf_type`: gives an entry of a JPEG's MPF index another type (a camera's
  "large thumbnail" preview);
- :func:`zero_scan`, :func:`flip_idat_bit`: damage of the kind a bad card or a bad
  transfer leaves.

The definitions are written from the standards (EXIF 2.3, ISO/IEC 23008-12, CIPA DC-007),
not from the code under test.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

#: XYZ (D65) to linear sRGB: used as the DNG's ColorMatrix1, the sensor's colours are then sRGB's.
XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))

#: MPF individual image types (CIPA DC-007, 5.2.3.3.1).
MP_PRIMARY, MP_LARGE_THUMBNAIL_VGA, MP_UNDEFINED = 0x030000, 0x010001, 0x000000


def make_dng(
    rgb: np.ndarray,
    path: Path,
    *,
    orientation: int = 1,
    neutral: tuple[float, float, float] = (1.0, 1.0, 1.0),
    bits: int = 12,
) -> Path:
    """Write ``rgb`` ((H, W, 3) sRGB, H and W even) as a DNG with an RGGB colour filter array.

    The raw values are linear light scaled by ``neutral``: what a sensor records under
    a light that makes a grey surface read ``neutral`` (the AsShotNeutral tag). A
    decoder that applies the camera's white balance gets ``rgb`` back.
    """
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, PhotometricInterpretation

    height, width = rgb.shape[:2]
    srgb = rgb.astype(np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4) * np.asarray(neutral)
    black, white = 64, (1 << bits) - 1
    values = np.round(black + linear * (white - black) * 0.9)
    mosaic = np.zeros((height, width), np.uint16)
    mosaic[0::2, 0::2] = values[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = values[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = values[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = values[1::2, 1::2, 2]
    tags = DNGTags()
    for tag, value in (
        (Tag.ImageWidth, width),
        (Tag.ImageLength, height),
        (Tag.TileWidth, width),
        (Tag.TileLength, height),
        (Tag.Orientation, orientation),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, bits),
        (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB),
        (Tag.BlackLevel, black),
        (Tag.WhiteLevel, white),
        (Tag.ColorMatrix1, [[round(v * 10000), 10000] for row in XYZ_TO_SRGB for v in row]),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [[round(n * 1000), 1000] for n in neutral]),
        (Tag.Make, "Testcam"),
        (Tag.Model, "Sensor 1"),
    ):
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(writer.convert(mosaic)))
    return path


def heif_transforms(orientation: int) -> tuple[int, int | None]:
    """``(irot angle, imir axis or None)`` that show EXIF ``orientation``'s stored pixels upright.

    irot turns anticlockwise by angle x 90 degrees, then imir mirrors: axis 0 top to
    bottom, axis 1 left to right (ISO/IEC 23008-12:2022 and libavif's writer agree).
    Found by trying every pair on a test array, from these definitions alone.
    """
    from _samples import stored_for_orientation

    upright = np.arange(6 * 4).reshape(4, 6, 1)
    stored = stored_for_orientation(upright, orientation)
    for mirror in (None, 0, 1):
        for angle in range(4):
            shown = np.rot90(stored, angle)
            if mirror is not None:
                shown = shown[::-1] if mirror == 0 else shown[:, ::-1]
            if shown.shape == upright.shape and np.array_equal(shown, upright):
                return angle, mirror
    raise AssertionError(f"no irot/imir pair for orientation {orientation}")


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """``(type, start, end)`` of the ISO boxes between ``start`` and ``end``."""
    found = []
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        if size < 8:
            raise AssertionError("box sizes of 0 or 64 bits are not used by these samples")
        found.append((kind, start, start + size))
        start += size
    return found


def orient_heif(path: Path, orientation: int) -> Path:
    """Give the primary picture of a single-image HEIF (pillow-heif's) the irot/imir of ``orientation``.

    Appends the properties to ``ipco``, associates them (essential) with the primary
    item in ``ipma``, grows the enclosing boxes and moves the item offsets in ``iloc``
    by the bytes added before ``mdat``.
    """
    angle, mirror = heif_transforms(orientation)
    added_props = b""
    if angle:
        added_props += struct.pack(">I4sB", 9, b"irot", angle)
    if mirror is not None:
        added_props += struct.pack(">I4sB", 9, b"imir", mirror)
    if not added_props:
        return path
    data = bytearray(path.read_bytes())
    top = {kind: (s, e) for kind, s, e in _boxes(bytes(data), 0, len(data))}
    meta_s, meta_e = top[b"meta"]
    inner = {kind: (s, e) for kind, s, e in _boxes(bytes(data), meta_s + 12, meta_e)}
    (primary,) = struct.unpack(">H", data[inner[b"pitm"][0] + 12 : inner[b"pitm"][0] + 14])
    iprp_s, iprp_e = inner[b"iprp"]
    props = {kind: (s, e) for kind, s, e in _boxes(bytes(data), iprp_s + 8, iprp_e)}
    ipco_s, ipco_e = props[b"ipco"]
    ipma_s, ipma_e = props[b"ipma"]
    count = len(_boxes(bytes(data), ipco_s + 8, ipco_e))
    new_indexes = list(range(count + 1, count + 1 + len(added_props) // 9))
    # ipma: version 0, flags bit 0 clear: 16-bit item ids, 8-bit associations (1 bit essential, 7 bits index)
    version, flags = data[ipma_s + 8], int.from_bytes(data[ipma_s + 9 : ipma_s + 12], "big")
    assert version == 0 and not flags & 1, "only the ipma layout pillow-heif writes is handled"
    ipma = bytearray(data[ipma_s:ipma_e])
    pos, (entries,) = 16, struct.unpack(">I", ipma[12:16])
    for _ in range(entries):
        item, n = struct.unpack(">HB", ipma[pos : pos + 3])
        if item == primary:
            ipma[pos + 2] = n + len(new_indexes)
            at = pos + 3 + n
            ipma[at:at] = bytes(0x80 | i for i in new_indexes)
            break
        pos += 3 + n
    else:
        raise AssertionError("the primary item has no properties")
    ipma[0:4] = struct.pack(">I", len(ipma))
    grown_ipma = len(ipma) - (ipma_e - ipma_s)
    delta = len(added_props) + grown_ipma
    # Rebuild iprp: ipco with the new properties, then the new ipma (the boxes are adjacent).
    ipco = bytearray(data[ipco_s:ipco_e]) + added_props
    ipco[0:4] = struct.pack(">I", len(ipco))
    before, after = (ipco_s, ipco_e), (ipma_s, ipma_e)
    assert after[0] == before[1], "ipco is followed directly by ipma in these samples"
    data[ipco_s:ipma_e] = ipco + ipma
    for box_start in (iprp_s, meta_s):
        (size,) = struct.unpack(">I", data[box_start : box_start + 4])
        data[box_start : box_start + 4] = struct.pack(">I", size + delta)
    iloc = inner[b"iloc"][0]
    _shift_iloc(data, iloc + (delta if iloc > ipco_s else 0), delta, moved_after=meta_e)
    path.write_bytes(bytes(data))
    return path


def _shift_iloc(data: bytearray, start: int, delta: int, *, moved_after: int) -> None:
    """Add ``delta`` to every file offset in the ``iloc`` box at ``start`` that points past ``moved_after``."""
    version = data[start + 8]
    sizes = data[start + 12], data[start + 13]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15 if version in (1, 2) else 0)
    pos = start + 14
    count_size = 2 if version < 2 else 4
    count = int.from_bytes(data[pos : pos + count_size], "big")
    pos += count_size

    def field(at: int, size: int) -> int:
        return int.from_bytes(data[at : at + size], "big") if size else 0

    def shift(at: int, size: int) -> None:
        value = field(at, size)
        if size and value >= moved_after:
            data[at : at + size] = (value + delta).to_bytes(size, "big")

    for _ in range(count):
        pos += 2 if version < 2 else 4  # item id
        method = 0
        if version in (1, 2):
            method = field(pos, 2) & 15
            pos += 2
        pos += 2  # data reference index
        base_at = pos
        base = field(pos, base_size)
        pos += base_size
        extents = field(pos, 2)
        pos += 2
        if method == 0 and base_size:
            shift(base_at, base_size)
        for _ in range(extents):
            pos += index_size
            if method == 0 and not base:
                shift(pos, offset_size)
            pos += offset_size + length_size


def set_mpf_type(path: Path, entry: int, mp_type: int) -> Path:
    """Give MP entry ``entry`` (0 = the primary picture) of a JPEG's MPF index the type ``mp_type``."""
    data = bytearray(path.read_bytes())
    app2 = data.find(b"MPF\x00")
    assert app2 > 0, "no MPF index"
    tiff = app2 + 4
    order = "<" if data[tiff : tiff + 2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[tiff + 4 : tiff + 8])
    (count,) = struct.unpack(order + "H", data[tiff + ifd : tiff + ifd + 2])
    for i in range(count):
        at = tiff + ifd + 2 + 12 * i
        tag, _, _, value = struct.unpack(order + "HHII", data[at : at + 12])
        if tag == 0xB002:  # MPEntry: 16 bytes per picture, the attribute first
            attr_at = tiff + value + 16 * entry
            (attribute,) = struct.unpack(order + "I", data[attr_at : attr_at + 4])
            data[attr_at : attr_at + 4] = struct.pack(order + "I", (attribute & 0xFF000000) | mp_type)
            path.write_bytes(bytes(data))
            return path
    raise AssertionError("no MPEntry tag")


def scan_data(data: bytes) -> tuple[int, int]:
    """``(start, end)`` of the entropy-coded data of a baseline JPEG's main picture."""
    pos = 2
    while True:
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker, (length,) = data[pos + 1], struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker == 0xDA:
            return pos + 2 + length, data.index(b"\xff\xd9", pos + 2 + length)
        pos += 2 + length


def zero_scan(data: bytes, count: int = 3000) -> bytes:
    """``count`` bytes in the middle of the main picture's scan set to zero."""
    start, end = scan_data(data)
    assert end - start > count * 2, "the scan is too short for this damage"
    middle = (start + end) // 2 - count // 2
    return data[:middle] + bytes(count) + data[middle + count :]


def flip_idat_bit(data: bytes, *, at: float = 0.5, bit: int = 4) -> bytes:
    """One bit flipped in the first IDAT chunk of a PNG, ``at`` through its data."""
    idat = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    pos = idat + 4 + int(length * at)
    return data[:pos] + bytes([data[pos] ^ (1 << bit)]) + data[pos + 1 :]


__all__ = [
    "MP_LARGE_THUMBNAIL_VGA",
    "MP_PRIMARY",
    "MP_UNDEFINED",
    "flip_idat_bit",
    "heif_transforms",
    "make_dng",
    "orient_heif",
    "scan_data",
    "set_mpf_type",
    "set_tiff_tag",
    "zero_scan",
]


def set_tiff_tag(path: Path, page: int, tag: int, value: int) -> Path:
    """Set the (SHORT or LONG, single) value of ``tag`` in directory ``page`` of a classic TIFF."""
    data = bytearray(path.read_bytes())
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    for _ in range(page):
        (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
        (ifd,) = struct.unpack(order + "I", data[ifd + 2 + 12 * count : ifd + 6 + 12 * count])
        assert ifd, f"the file has no page {page}"
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    for i in range(count):
        at = ifd + 2 + 12 * i
        entry_tag, kind, n = struct.unpack(order + "HHI", data[at : at + 8])
        if entry_tag == tag:
            assert n == 1 and kind in (3, 4), f"tag {tag} is not a single SHORT or LONG"
            data[at + 8 : at + 12] = struct.pack(
                order + ("HH" if kind == 3 else "I"), *((value, 0) if kind == 3 else (value,))
            )
            path.write_bytes(bytes(data))
            return path
    raise AssertionError(f"page {page} has no tag {tag}")
