from .base import RawFormat

# A TIFF variant with its own version number (85); Leica's RWL is the same format.
FORMAT = RawFormat(
    name="panasonic-raw", extensions=(".rw2", ".rwl"), magic=((0, b"IIU\x00"),), tiff_makes=("PANASONIC",)
)
