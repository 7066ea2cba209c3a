"""``blur``: a strong Gaussian blur over the face. Weaker than ``fill``."""

from __future__ import annotations

import cv2
import numpy as np

from .base import RegionMethod


class Blur(RegionMethod):
    """Gaussian blur with a sigma of ``strength`` x the face height.

    Blur can be partly reversed, and blurred faces are re-identified by attackers
    who blur their gallery the same way. Use ``fill`` to publish.
    """

    name = "blur"
    summary = "a strong blur, weaker than fill"
    weak = True

    def __init__(self, strength: float = 0.15) -> None:
        self.strength = strength

    def _replacement(self, region: np.ndarray, original: np.ndarray) -> np.ndarray:
        sigma = max(1.0, self.strength * region.shape[0])
        return np.asarray(cv2.GaussianBlur(region, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT))
