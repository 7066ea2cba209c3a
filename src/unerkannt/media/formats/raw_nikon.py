from .base import RawFormat

FORMAT = RawFormat(name="nikon-raw", extensions=(".nef", ".nrw"), tiff_makes=("NIKON",))
