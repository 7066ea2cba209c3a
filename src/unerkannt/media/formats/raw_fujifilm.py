from .base import RawFormat

FORMAT = RawFormat(
    name="fujifilm-raw", extensions=(".raf",), magic=((0, b"FUJIFILMCCD-RAW "),), tiff_makes=("FUJIFILM",)
)
