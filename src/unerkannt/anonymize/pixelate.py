"""``pixelate``: coarse blocks over the face. Weaker than ``fill``."""

from __future__ import annotations

import cv2
import numpy as np

from .base import RegionMethod


class Pixelate(RegionMethod):
    """Average the face over a grid of ``blocks`` x ``blocks`` cells.

    Coarse pixelation still carries the face's layout and colours; an attacker who
    pixelates a gallery the same way can match it. Use ``fill`` to publish.
    """

    name = "pixelate"
    summary = "coarse blocks, weaker than fill"
    weak = True

    def __init__(self, blocks: int = 8) -> None:
        self.blocks = blocks

    def _replacement(self, region: np.ndarray, original: np.ndarray) -> np.ndarray:
        h, w = region.shape[:2]
        bw, bh = max(1, min(self.blocks, w)), max(1, min(self.blocks, h))
        small = cv2.resize(region, (bw, bh), interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST))
