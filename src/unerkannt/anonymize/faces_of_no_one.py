"""The faces of no one: the shipped face model and where a face of it goes in a photo.

``synthetic`` draws these faces; ``natural`` lays the soft shading of their mean over the
regions it rebuilds. Both place them by the detected box and the eye line only.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import AnonymizationError
from .base import Bounds, Box, Eyes

#: The shipped faces of no one: ``(N, H, W, 3) uint8``, built by ``tools/build_face_model.py``.
#: Weights of R, G and B in a grey level (ITU-R BT.601), for brightness matching.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
MODEL = Path(__file__).resolve().parent / "models" / "faces-of-no-one.npy"
#: ``(height, width)`` of one face of the model, in pixels.
CANVAS = (96, 80)
#: Where the face box lies in the canvas, ``(x1, y1, x2, y2)``: detected boxes map onto it.
CANVAS_BOX = (10.0, 20.0, 70.0, 80.0)
#: Eyes, nose tip and mouth corners of the model's faces in canvas pixels: the ArcFace
#: 112 x 112 template (as fractions of a face box) placed in :data:`CANVAS_BOX`.
LANDMARKS = tuple(
    (CANVAS_BOX[0] + fx * 60.0, CANVAS_BOX[1] + fy * 60.0)
    for fx, fy in ((0.342, 0.462), (0.657, 0.460), (0.500, 0.641), (0.371, 0.825), (0.632, 0.823))
)
#: The drawn face: an ellipse in canvas pixels (centre x, centre y, half width, half height),
#: from the hair line to below the chin, faded out over its outer :data:`_FADE`.
FACE_ELLIPSE = (40.0, 52.0, 29.0, 37.0)
_FADE = 0.2
#: The drawn face's box is this much larger than the detected box: detectors box a face
#: from the brows, the model's box reaches up to the hair line.
FACE_SCALE = 1.15
#: The eye line turns the drawn face by at most this many degrees.
MAX_ROLL = 40.0
#: The blur of a face of no one in natural's shading (sigma in canvas pixels, about 0.1 x a face's height).
SHADING_SIGMA = 6.0


@lru_cache(maxsize=1)
def model_faces() -> np.ndarray:
    """The shipped faces of no one, ``(N, H, W, 3) uint8``.

    Raises
    ------
    AnonymizationError
        The model file is missing or damaged.
    """
    try:
        faces = np.load(MODEL, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise AnonymizationError(f"cannot read the faces of no one from {MODEL}: {exc}") from exc
    if faces.ndim != 4 or faces.shape[1:] != (*CANVAS, 3) or faces.dtype != np.uint8 or len(faces) == 0:
        raise AnonymizationError(f"{MODEL} holds {faces.shape} {faces.dtype}, not faces of {CANVAS}")
    faces.flags.writeable = False
    return faces


@lru_cache(maxsize=1)
def face_alpha() -> np.ndarray:
    """``CANVAS`` float32 opacity of a drawn face: 1 inside :data:`FACE_ELLIPSE`, fading to 0 at its edge."""
    height, width = CANVAS
    cx, cy, ax, ay = FACE_ELLIPSE
    ys = (np.arange(height, dtype=np.float32) + 0.5 - cy) / ay
    xs = (np.arange(width, dtype=np.float32) + 0.5 - cx) / ax
    r = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    alpha = np.clip((1.0 - r) / _FADE, 0.0, 1.0)
    alpha = alpha * alpha * (3 - 2 * alpha)  # smoothstep: no visible rim
    alpha.flags.writeable = False
    return alpha


def chosen(seed: int) -> int:
    """The index of the face of no one that a face's random ``seed`` picks (``natural.seed``)."""
    return seed % len(model_faces())


@cache
def shading(index: int) -> np.ndarray:
    """``CANVAS`` float32: face of no one ``index`` in grey, blurred, as deviations of unit
    spread, faded out.

    What a strongly blurred face keeps: darker eyes, mouth and hair line, a lighter
    forehead and cheeks; each face of no one keeps its own.
    """
    grey = model_faces()[index].astype(np.float32) @ LUMA
    blurred = cv2.GaussianBlur(grey, (0, 0), SHADING_SIGMA)
    inside = face_alpha() > 0.5
    shade = (blurred - blurred[inside].mean()) / max(float(blurred[inside].std()), 1e-6) * face_alpha()
    shade = np.asarray(shade, np.float32)
    shade.flags.writeable = False
    return shade


def placed(canvas: np.ndarray, box: Box, eyes: Eyes | None, region: Bounds, *, border: int) -> np.ndarray:
    """``canvas`` (``CANVAS``-sized, float32) moved onto ``box`` in ``region``'s pixels.

    Scaled to the box's size, centred on it and turned by the eye line (at most
    :data:`MAX_ROLL` degrees): nothing else of the face's geometry is used. ``border``
    is OpenCV's border mode outside the canvas (constant 0, or replicated).
    """
    size = (region[2] - region[0], region[3] - region[1])
    out = cv2.warpAffine(canvas, _placement(box, eyes, region), size, flags=cv2.INTER_LINEAR, borderMode=border)
    return np.asarray(out).reshape(size[1], size[0], *canvas.shape[2:])


def _placement(box: Box, eyes: Eyes | None, region: Bounds) -> np.ndarray:
    """2 x 3 matrix from canvas to region pixels: the canvas box onto ``box``, turned by the eye line."""
    x1, y1, x2, y2 = box
    scale = FACE_SCALE * max(y2 - y1, 0.8 * (x2 - x1)) / (CANVAS_BOX[3] - CANVAS_BOX[1])
    angle = 0.0
    if eyes is not None:
        (ax, ay), (bx, by) = sorted(eyes)
        if bx - ax > 1e-6:
            angle = max(-MAX_ROLL, min(MAX_ROLL, math.degrees(math.atan2(by - ay, bx - ax))))
    cos, sin = scale * math.cos(math.radians(angle)), scale * math.sin(math.radians(angle))
    cx, cy = (CANVAS_BOX[0] + CANVAS_BOX[2]) / 2, (CANVAS_BOX[1] + CANVAS_BOX[3]) / 2
    tx, ty = (x1 + x2) / 2 - region[0], (y1 + y2) / 2 - region[1]
    # Pixel centres: canvas pixel i covers [i, i + 1), as the region's pixels do.
    return np.array(
        [
            [cos, -sin, tx - 0.5 - cos * (cx - 0.5) + sin * (cy - 0.5)],
            [sin, cos, ty - 0.5 - sin * (cx - 0.5) - cos * (cy - 0.5)],
        ],
        np.float64,
    )
