from .base import RawFormat

# A TIFF variant with its own byte-order marks.
FORMAT = RawFormat(
    name="olympus-raw",
    extensions=(".orf", ".ori"),
    magic=((0, b"IIRO"), (0, b"IIRS"), (0, b"MMOR")),
    tiff_makes=("OLYMPUS", "OM DIGITAL"),
)
