"""Media in and out: decoding with orientation applied, encoding from pixels alone."""

from __future__ import annotations

from .formats import Format, by_extension, by_name, formats, identify, is_candidate, writable, written_as
from .picture import Picture
from .read import read_image
from .write import check_clean, encode, write_atomic

__all__ = [
    "Format",
    "Picture",
    "by_extension",
    "by_name",
    "check_clean",
    "encode",
    "formats",
    "identify",
    "is_candidate",
    "read_image",
    "writable",
    "write_atomic",
    "written_as",
]
