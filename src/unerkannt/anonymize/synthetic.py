"""``synthetic``: each face replaced by a face of no one, drawn into its rebuilt region."""

from __future__ import annotations

import cv2
import numpy as np

from .base import Bounds, Box, Target
from .faces_of_no_one import LUMA, face_alpha, model_faces, placed
from .natural import Natural, finish, neutral, quieted, surroundings, texture_strength

#: A face is drawn for detections scoring at least this (when the score is given); the
#: region of a less likely face is only rebuilt, as ``natural`` does.
DRAW_SCORE = 0.5
#: How much of the surroundings' brightness and of the colour it is given (natural's
#: :func:`~unerkannt.anonymize.natural.neutral` grey: a fixed warm tint) the drawn face takes on.
LIGHT_MATCH, COLOUR_MATCH = 0.5, 0.35
#: The brightness (grey level) of the model's faces inside the face ellipse.
_MODEL_LEVEL = 140.0


class Synthetic(Natural):
    """Rebuild the face region like ``natural``, then draw a face of no one into it.

    The face comes from the shipped model (:mod:`~unerkannt.anonymize.faces_of_no_one`):
    random samples of a statistical model of many faces, none of them a person's. It is
    placed by the detected box (size and position) and turned along the eye line when
    the detector gives eyes; no other point of the person's face is used. Its
    brightness (coarsely, as natural's grey) and grain follow the pixels around the
    region, so, like
    ``natural``, the output is a function of the regions' geometry, the pixels outside
    them and ``identity`` alone.

    ``identity`` (any int) chooses the face; a video passes its track id so that a
    face keeps its stand-in from frame to frame. Without one, a face's position
    chooses (faces side by side get different stand-ins). A detection scoring under
    :data:`DRAW_SCORE` gets no face, only what ``natural`` gives: faces are not drawn
    on hands and patterns that the recall-first detector also reports.
    """

    name = "synthetic"
    summary = "a face of no one drawn in, no face pixel kept"

    def _rebuild(
        self, pixels: np.ndarray, known: np.ndarray, region: Bounds, crop: Bounds, target: Target
    ) -> np.ndarray:
        if target.score is not None and target.score < DRAW_SCORE:
            return super()._rebuild(pixels, known, region, crop, target)
        base, colour = surroundings(pixels, known, region, crop)
        colour = neutral(colour)  # the drawn face, too, takes only the surroundings' coarse brightness
        base = quieted(base, colour, target.box, region)
        faces = model_faces()
        index = (target.identity if target.identity is not None else _identity_at(target.box)) % len(faces)
        face = placed(_matched(faces[index], colour), target.box, target.eyes, region, border=cv2.BORDER_REPLICATE)
        alpha = placed(face_alpha(), target.box, target.eyes, region, border=cv2.BORDER_CONSTANT)
        base += alpha[:, :, None] * (face - base)
        return finish(base, texture_strength(pixels, known), region)


def _matched(face: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``face`` (float32) lit and tinted a share of the way towards the surroundings' ``colour``."""
    grey = float(colour @ LUMA)
    level = (1 - LIGHT_MATCH) * _MODEL_LEVEL + LIGHT_MATCH * grey
    # A colour cast of the scene (warm light, a blue evening) tints the face, partly.
    tint = (np.maximum(colour, 1.0) / max(grey, 1.0)) ** COLOUR_MATCH
    lit = (face.astype(np.float32) - _MODEL_LEVEL) * (level / _MODEL_LEVEL) + level
    return np.asarray(np.clip(lit * tint, 0, 255), dtype=np.float32)


def _identity_at(box: Box) -> int:
    """A stand-in chosen by where the face is, on a grid of cells one face wide."""
    x1, y1, x2, y2 = box
    cell = max(x2 - x1, y2 - y1, 1.0)
    return int((x1 + x2) / 2 // cell) * 7 + int((y1 + y2) / 2 // cell) * 3
