from .base import RawFormat

# Adobe's open raw format (also written by Leica, Pentax, Ricoh, phones): a TIFF whose
# first directory has a DNGVersion tag, which is how it is recognised.
FORMAT = RawFormat(name="dng", extensions=(".dng",))
