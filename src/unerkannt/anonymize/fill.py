"""``fill``: an opaque colour over the face. Irreversible; the default."""

from __future__ import annotations

import numpy as np

from .base import RegionMethod

#: Candidate colours, in order of preference: neutral grey, then near black and near white.
PALETTE = np.array([(128, 128, 128), (32, 32, 32), (224, 224, 224)], dtype=np.int16)
#: A pixel counts as replaced when some channel moves by more than this.
CONTRAST = 40
#: Pixels sampled (evenly) for the colour decisions.
_SAMPLES = 512


class Fill(RegionMethod):
    """Replace the face with one flat colour.

    No pixel of the face survives, so nothing can be recovered or matched. The
    colour is the first of :data:`PALETTE` that differs clearly from most pixels of
    the face, so that the filled area is visibly distinct from what was there. A face
    that overlaps an earlier fill by much continues it in the same colour.
    """

    name = "fill"
    summary = "one opaque colour, irreversible"

    def _replacement(self, region: np.ndarray, original: np.ndarray) -> np.ndarray:
        earlier = self._earlier_fill(region, original)
        if earlier is not None:
            return np.broadcast_to(PALETTE[earlier].astype(np.uint8), region.shape)
        pixels = original.reshape(-1, 3)
        if len(pixels) > _SAMPLES:
            pixels = pixels[:: len(pixels) // _SAMPLES]
        pixels = pixels.astype(np.int16)
        distinct = [(np.abs(pixels - c).max(axis=1) > CONTRAST).mean() for c in PALETTE]
        best = next((i for i, d in enumerate(distinct) if d >= 0.9), int(np.argmax(distinct)))
        return np.broadcast_to(PALETTE[best].astype(np.uint8), region.shape)

    @staticmethod
    def _earlier_fill(region: np.ndarray, original: np.ndarray) -> int | None:
        """The palette index of a fill that already covers much of ``region``, if any."""
        # A grid of at most about _SAMPLES pixels decides, as for the colour choice.
        step = max(1, int(np.sqrt(region.shape[0] * region.shape[1] / _SAMPLES)))
        same = region is original
        region, original = region[::step, ::step], original[::step, ::step]
        if same:
            # No unanonymized copy to compare with: pixels of exactly a palette colour
            # are taken to be an earlier fill.
            changed = np.ones(region.shape[:2], dtype=bool)
        else:
            changed = (region != original).any(axis=2)
            if changed.mean() < 0.3:
                return None
        pixels = region[changed].astype(np.int16)
        counts = (pixels[:, None, :] == PALETTE[None, :, :]).all(axis=2).sum(axis=0)
        return int(np.argmax(counts)) if counts.max() >= 0.3 * len(pixels) else None
