"""``synthetic``: each face replaced by a face of no one, drawn into its rebuilt region."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import AnonymizationError
from .base import Bounds, Eyes, Target
from .natural import Natural, finish, surroundings

#: A face is drawn for detections scoring at least this (when the score is given); the
#: region of a less likely face is only rebuilt, as ``natural`` does.
DRAW_SCORE = 0.5
#: The shipped faces of no one: ``(N, H, W, 3) uint8``, built by ``tools/build_face_model.py``.
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
#: from the forehead to below the chin, faded out over its outer :data:`_FADE`.
FACE_ELLIPSE = (40.0, 52.0, 29.0, 37.0)
_FADE = 0.2
#: The drawn face's box is this much larger than the detected box: detectors box a face
#: from the brows, the model's box reaches up to the hair line.
FACE_SCALE = 1.15
#: The eye line turns the drawn face by at most this many degrees.
MAX_ROLL = 40.0
#: How much of the surroundings' brightness and colour cast the drawn face takes on.
LIGHT_MATCH, COLOUR_MATCH = 0.5, 0.35
#: The brightness (grey level) of the model's faces inside the face ellipse.
_MODEL_LEVEL = 140.0


class Synthetic(Natural):
    """Rebuild the face region like ``natural``, then draw a face of no one into it.

    The face comes from the shipped model (:data:`MODEL`): random samples of a
    statistical model of many faces, none of them a person's. It is placed by the
    detected box (size and position) and turned along the eye line when the detector
    gives eyes; no other point of the person's face is used. Its brightness, colour
    and grain follow the pixels around the region, so, like ``natural``, the output is
    a function of the regions' geometry, the pixels outside them and ``identity``
    alone.

    ``identity`` (any int) chooses the face; a video passes its track id so that a
    face keeps its stand-in from frame to frame. Without one, a face's position
    chooses (faces side by side get different stand-ins). A detection scoring under
    :data:`DRAW_SCORE` gets no face, only the rebuilt region: faces are not drawn
    on hands and patterns that the recall-first detector also reports.
    """

    name = "synthetic"

    def _rebuild(
        self, pixels: np.ndarray, known: np.ndarray, region: Bounds, crop: Bounds, target: Target
    ) -> np.ndarray:
        filled = surroundings(pixels, known, region, crop)
        if target.score is not None and target.score < DRAW_SCORE:
            return finish(filled, pixels, known, crop)
        face, alpha = _placed_face(target, crop, known.shape, filled, pixels, known)
        blended = filled + alpha[:, :, None] * (face - filled)
        return finish(blended, pixels, known, crop)


def _placed_face(
    target: Target, crop: Bounds, shape: tuple[int, int], filled: np.ndarray, pixels: np.ndarray, known: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The face of no one, matched to the surroundings, and its opacity, in crop pixels."""
    faces = model_faces()
    index = (target.identity if target.identity is not None else _identity_at(target.box)) % len(faces)
    face = _matched(faces[index], pixels, known)
    matrix = _placement(target.box, target.eyes, crop)
    size = (shape[1], shape[0])
    placed = cv2.warpAffine(face, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(face_alpha(), matrix, size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    return placed.reshape(*shape, 3), alpha.reshape(shape)


def _placement(box: tuple[float, float, float, float], eyes: Eyes | None, crop: Bounds) -> np.ndarray:
    """2 x 3 matrix from canvas to crop pixels: the canvas box onto ``box``, turned by the eye line."""
    x1, y1, x2, y2 = box
    scale = FACE_SCALE * max(y2 - y1, 0.8 * (x2 - x1)) / (CANVAS_BOX[3] - CANVAS_BOX[1])
    angle = 0.0
    if eyes is not None:
        (ax, ay), (bx, by) = sorted(eyes)
        if bx - ax > 1e-6:
            angle = max(-MAX_ROLL, min(MAX_ROLL, math.degrees(math.atan2(by - ay, bx - ax))))
    cos, sin = scale * math.cos(math.radians(angle)), scale * math.sin(math.radians(angle))
    cx, cy = (CANVAS_BOX[0] + CANVAS_BOX[2]) / 2, (CANVAS_BOX[1] + CANVAS_BOX[3]) / 2
    tx, ty = (x1 + x2) / 2 - crop[0], (y1 + y2) / 2 - crop[1]
    # Pixel centres: canvas pixel i covers [i, i + 1), as the crop's pixels do.
    return np.array(
        [
            [cos, -sin, tx - 0.5 - cos * (cx - 0.5) + sin * (cy - 0.5)],
            [sin, cos, ty - 0.5 - sin * (cx - 0.5) - cos * (cy - 0.5)],
        ],
        np.float64,
    )


def _matched(face: np.ndarray, pixels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``face`` (float32) lit and tinted a share of the way towards the known pixels around it."""
    ring = pixels[known]
    if len(ring) == 0:
        return face.astype(np.float32)
    colour = ring.mean(axis=0)
    grey = float(colour @ np.array([0.299, 0.587, 0.114], np.float32))
    level = (1 - LIGHT_MATCH) * _MODEL_LEVEL + LIGHT_MATCH * grey
    # A colour cast of the scene (warm light, a blue evening) tints the face, partly.
    tint = (colour / max(grey, 1.0)) ** COLOUR_MATCH
    lit = (face.astype(np.float32) - _MODEL_LEVEL) * (level / _MODEL_LEVEL) + level
    return np.asarray(np.clip(lit * tint, 0, 255), dtype=np.float32)


def _identity_at(box: tuple[float, float, float, float]) -> int:
    """A stand-in chosen by where the face is, on a grid of cells one face wide."""
    x1, y1, x2, y2 = box
    cell = max(x2 - x1, y2 - y1, 1.0)
    return int((x1 + x2) / 2 // cell) * 7 + int((y1 + y2) / 2 // cell) * 3


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
