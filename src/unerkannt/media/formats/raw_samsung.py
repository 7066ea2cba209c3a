from .base import RawFormat

FORMAT = RawFormat(name="samsung-raw", extensions=(".srw",), tiff_makes=("SAMSUNG",))
