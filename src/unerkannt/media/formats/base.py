"""What a format is: a few declared attributes, and the few hooks a format may override.

The shared behaviour (opening, frame loop, orientation, conversion to RGB) lives in
``media/read.py``; a format module declares its attributes and overrides a hook only
where the format differs: which frames are the picture (:meth:`Format.select`), who
applies the orientation (:meth:`Format.orientation`), what its decoder does not check
(:meth:`Format.check`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

#: The EXIF/TIFF Orientation tag.
ORIENTATION = 0x0112


@dataclass(frozen=True)
class Selection:
    """The frames of an opened file that are its picture.

    Attributes
    ----------
    frames : list of int
        Frame indexes to decode, the main picture first.
    sizes : list of (int, int)
        ``(width, height)`` of each of them, as displayed.
    notes : list of str
        One line per frame left out (previews, thumbnails), for the report.
    """

    frames: list[int]
    sizes: list[tuple[int, int]]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Format:
    """An image format unerkannt reads (and, unless ``writable`` is false, writes).

    Attributes
    ----------
    name : str
        Our name for it, as given to ``--format``.
    pil_format : str
        Pillow's format identifier, for opening and saving (empty for formats
        another decoder reads).
    extensions : tuple of str
        File name endings, the first one is used for new outputs.
    also_named : tuple of str
        Further endings of files in this format that outputs never get (``.jps``
        and ``.mpo`` are JPEG files, ``.btf`` a BigTIFF, but what is written is a
        plain JPEG or TIFF).
    media_type : str
        MIME type of the files written.
    lossy : bool
        ``quality`` applies.
    alpha : bool
        Can store transparency.
    animated : bool
        Can store several frames.
    pages : bool
        Can store several frames of different sizes (pages of a document).
    greyscale : bool
        Can store single-channel pixels.
    icc : bool
        Can store an ICC profile (only written with ``keep_icc``).
    magic : tuple of (offset, bytes)
        File signatures: a file whose bytes at ``offset`` are one of these is in
        this format, whatever its name.
    brands : tuple of bytes
        ISO base media file brands (``ftyp``) of this format (HEIF, AVIF, CR3).
    tiff_makes : tuple of str
        Camera makers (IFD0 ``Make``, upper case prefixes) whose TIFF-structured
        raw files are in this format.
    also_reads : tuple of str
        Other Pillow identifiers read as this format (MPO is a JPEG with extra pictures).
    writable : bool
        unerkannt writes this format; read-only formats are written as ``output``.
    output : str
        Name of the format a read-only format is written as unless asked otherwise.
    decoder : str
        ``"pillow"`` (with ``plugin`` where Pillow needs one) or ``"libraw"`` (camera raw, rawpy).
    plugin : str
        Python module that must be installed to read or write this format (empty: none).
    install : str
        What to install when ``plugin`` is missing.
    """

    name: str
    pil_format: str = ""
    extensions: tuple[str, ...]
    also_named: tuple[str, ...] = ()
    media_type: str = ""
    lossy: bool = False
    alpha: bool = True
    animated: bool = False
    pages: bool = False
    greyscale: bool = True
    icc: bool = True
    magic: tuple[tuple[int, bytes], ...] = ()
    brands: tuple[bytes, ...] = ()
    tiff_makes: tuple[str, ...] = ()
    also_reads: tuple[str, ...] = ()
    writable: bool = True
    output: str = ""
    decoder: str = "pillow"
    plugin: str = ""
    install: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """Every file name ending of this format, lower case."""
        return self.extensions + self.also_named

    def matches(self, head: bytes) -> bool:
        """Whether a file starting with ``head`` (its first bytes) is in this format."""
        return any(head[offset : offset + len(sig)] == sig for offset, sig in self.magic)

    def save_options(self, *, quality: int) -> dict[str, Any]:
        """Encoder keyword arguments; never any metadata."""
        return {"quality": quality} if self.lossy else {}

    def select(self, img: Image.Image) -> Selection:
        """The frames of ``img`` that are its picture: by default all of them.

        Pillow composes the frames of animations on one canvas, so they all have the
        size of the first; formats that hold pictures of other sizes override this.
        """
        count = int(getattr(img, "n_frames", 1))
        return Selection(list(range(count)), [img.size] * count)

    def orientation(self, frame: Image.Image) -> object:
        """The Orientation still to apply to a loaded frame (``None``: none recorded).

        Read after decoding, so that an orientation the decoder applied itself (it
        removes the tag, as Pillow does for TIFF) is not applied a second time.
        """
        return frame.getexif().get(ORIENTATION)

    def check(self, path: Path, img: Image.Image, frames: list[int]) -> list[str]:
        """Look for damage the decoder passed over in the decoded ``frames``.

        Returns notes on harmless trouble (damaged metadata, ...) for the report.

        Raises
        ------
        CorruptFileError
            The pixel data is damaged.
        """
        return []


@dataclass(frozen=True, kw_only=True)
class RawFormat(Format):
    """A camera raw format: decoded by LibRaw (rawpy), written as JPEG unless asked otherwise.

    Raw files are never written back; their embedded previews are never used.
    """

    writable: bool = False
    output: str = "jpeg"
    decoder: str = "libraw"
    plugin: str = "rawpy"
    install: str = "pip install rawpy"
