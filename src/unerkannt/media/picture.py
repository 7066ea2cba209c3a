"""A decoded image: orientation-corrected RGB frames and nothing else of the file."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .formats import Format


@dataclass(kw_only=True)
class Picture:
    """Pixels of an image file, ready to detect on and to encode again.

    Attributes
    ----------
    frames : list of (H, W, 3) uint8 ndarray
        RGB pixels of every frame of the picture, oriented as displayed, the main
        picture first. All of one size, except the pages of a document (TIFF).
    alphas : list of (H, W) uint8 ndarray or None
        Transparency of each frame, ``None`` where the frame has none.
    format : Format
        The format the protected picture is written in unless another is asked for:
        the file's own, or JPEG for formats unerkannt only reads (camera raw).
    greyscale : bool
        The source stored a single channel; written back as greyscale where the
        output format allows.
    icc_profile : bytes or None
        The embedded ICC profile, kept only on request.
    durations : list of int or None
        Milliseconds per frame of an animation.
    loop : int or None
        Loop count of an animation (0 = forever).
    warnings : list of str
        Conversions that changed what was stored (CMYK, 16-bit, ...), pictures of
        the file left out (previews, thumbnails) and harmless damage found.
    """

    frames: list[np.ndarray]
    alphas: list[np.ndarray | None]
    format: Format
    greyscale: bool = False
    icc_profile: bytes | None = None
    durations: list[int] | None = None
    loop: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the first frame (the main picture)."""
        height, width = self.frames[0].shape[:2]
        return width, height
