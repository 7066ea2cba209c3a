from .base import RawFormat

FORMAT = RawFormat(
    name="canon-raw",
    extensions=(".cr2", ".cr3", ".crw"),
    # CR2: a TIFF whose first directory is at 16, then "CR" 2; CRW: a CIFF heap; CR3: ISO media.
    magic=((0, b"II*\x00\x10\x00\x00\x00CR\x02"), (6, b"HEAPCCDR")),
    brands=(b"crx ",),
    tiff_makes=("CANON",),
)
