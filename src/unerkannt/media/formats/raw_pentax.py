from .base import RawFormat

FORMAT = RawFormat(name="pentax-raw", extensions=(".pef", ".ptx"), tiff_makes=("PENTAX", "RICOH", "ASAHI"))
