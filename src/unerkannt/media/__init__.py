"""Media in and out: decoding with orientation applied, encoding from pixels alone."""

from __future__ import annotations

from .formats import Format, by_name, formats, is_candidate
from .picture import Picture
from .read import read_image
from .write import check_clean, encode, write_atomic

__all__ = [
    "Format",
    "Picture",
    "by_name",
    "check_clean",
    "encode",
    "formats",
    "is_candidate",
    "read_image",
    "write_atomic",
]
