"""What a format is: a few declared attributes; the behaviour lives in ``media``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Format:
    """An image format unerkannt reads and writes.

    Attributes
    ----------
    name : str
        Our name for it, as given to ``--format``.
    pil_format : str
        Pillow's format identifier, for opening and saving.
    extensions : tuple of str
        File name endings, the first one is used for new outputs.
    lossy : bool
        ``quality`` applies.
    alpha : bool
        Can store transparency.
    animated : bool
        Can store several frames.
    greyscale : bool
        Can store single-channel pixels.
    icc : bool
        Can store an ICC profile (only written with ``keep_icc``).
    magic : tuple of (offset, bytes)
        File signatures, to tell a damaged file of this format from a foreign one.
    also_reads : tuple of str
        Other Pillow identifiers read as this format (MPO is a JPEG with extra pictures).
    """

    name: str
    pil_format: str
    extensions: tuple[str, ...]
    lossy: bool = False
    alpha: bool = True
    animated: bool = False
    greyscale: bool = True
    icc: bool = True
    magic: tuple[tuple[int, bytes], ...] = ()
    also_reads: tuple[str, ...] = ()

    def save_options(self, *, quality: int) -> dict[str, Any]:
        """Encoder keyword arguments; never any metadata."""
        return {"quality": quality} if self.lossy else {}
