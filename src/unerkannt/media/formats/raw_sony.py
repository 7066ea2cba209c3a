from .base import RawFormat

FORMAT = RawFormat(name="sony-raw", extensions=(".arw", ".srf", ".sr2", ".arq"), tiff_makes=("SONY",))
