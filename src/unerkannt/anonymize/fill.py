"""``fill``: an opaque colour over the face. Irreversible; the default."""

from __future__ import annotations

import numpy as np

from .base import Method

#: Candidate colours, in order of preference: neutral grey, then near black and near white.
PALETTE = np.array([(128, 128, 128), (32, 32, 32), (224, 224, 224)], dtype=np.int16)
#: A pixel counts as replaced when some channel moves by more than this.
CONTRAST = 40


class Fill(Method):
    """Replace the face with one flat colour.

    No pixel of the face survives, so nothing can be recovered or matched. The
    colour is the first of :data:`PALETTE` that differs clearly from most pixels of
    the face, so that the filled area is visibly distinct from what was there.
    """

    name = "fill"

    def _replacement(self, region: np.ndarray, original: np.ndarray) -> np.ndarray:
        pixels = original.reshape(-1, 3)
        if len(pixels) > 512:
            pixels = pixels[:: len(pixels) // 512]
        pixels = pixels.astype(np.int16)
        distinct = [(np.abs(pixels - c).max(axis=1) > CONTRAST).mean() for c in PALETTE]
        best = next((i for i, d in enumerate(distinct) if d >= 0.9), int(np.argmax(distinct)))
        return np.broadcast_to(PALETTE[best].astype(np.uint8), region.shape)
