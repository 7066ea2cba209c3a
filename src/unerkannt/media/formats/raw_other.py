from .base import RawFormat

#: The endings of the other raw formats LibRaw reads: Hasselblad, Phase One, Mamiya, Leaf,
#: Kodak, Epson, Minolta, Sigma, Casio.
_ENDINGS = (
    ".3fr", ".fff", ".iiq", ".cap", ".eip", ".mef", ".mos", ".dcr",
    ".kdc", ".dcs", ".erf", ".mrw", ".x3f", ".bay", ".mdc", ".raw",
)  # fmt: skip

# Also the TIFF-structured raw files of makers not named in another module.
FORMAT = RawFormat(
    name="other-raw",
    extensions=_ENDINGS,
    magic=((0, b"\x00MRM"), (0, b"FOVb")),
    tiff_makes=("HASSELBLAD", "PHASE ONE", "LEAF", "MAMIYA", "KODAK", "EASTMAN KODAK", "SEIKO EPSON", "LEICA"),
)
