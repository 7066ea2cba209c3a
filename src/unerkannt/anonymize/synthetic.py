"""``synthetic``: each face replaced by a face of no one, drawn into its rebuilt region."""

from __future__ import annotations

import cv2
import numpy as np

from .base import Bounds, Target
from .faces_of_no_one import LUMA, chosen, face_alpha, model_faces, placed
from .natural import FaceRegion, Natural, finish, quieted, surroundings

#: A face is drawn for detections scoring at least this (when the score is given); the
#: region of a less likely face is only rebuilt, as ``natural`` does.
DRAW_SCORE = 0.5
#: How much of the colour it is given (natural's :func:`~unerkannt.anonymize.natural.neutral`
#: grey: a fixed warm tint) the drawn face takes on. It takes that grey's brightness in full:
#: the grey already follows the surroundings only as far as real faces do.
COLOUR_MATCH = 0.35
#: The brightness (grey level) of the model's faces inside the face ellipse.
_MODEL_LEVEL = 140.0


class Synthetic(Natural):
    """Rebuild the face region like ``natural``, then draw a face of no one into it.

    The face comes from the shipped model (:mod:`~unerkannt.anonymize.faces_of_no_one`):
    random samples of a statistical model of many faces, none of them a person's. It is
    placed by the detected box (size and position) and turned along the eye line when
    the detector gives eyes; no other point of the person's face is used. Its
    brightness (natural's grey) and grain follow the pixels around the
    region, so, like
    ``natural``, the output is a function of the regions' geometry, the pixels outside
    them and ``identity`` alone.

    ``identity`` (any int) chooses the face; a video passes its track id so that a
    face keeps its stand-in from frame to frame. Without one, a hash of the face's
    surroundings chooses (:func:`~unerkannt.anonymize.natural.seed`): two photos of one
    scene get unrelated stand-ins. A detection scoring under
    :data:`DRAW_SCORE` gets no face, only what ``natural`` gives: faces are not drawn
    on hands and patterns that the recall-first detector also reports.
    """

    name = "synthetic"
    summary = "a face of no one drawn in, no face pixel kept"

    def _draws_face(self, target: Target) -> bool:
        return target.score is None or target.score >= DRAW_SCORE

    def _rebuild(self, pixels: np.ndarray, known: np.ndarray, crop: Bounds, face: FaceRegion) -> np.ndarray:
        target = face.target
        if not self._draws_face(target):
            return super()._rebuild(pixels, known, crop, face)
        # the drawn face, too, takes only the surroundings' brightness: the flat colour's
        colour = face.flat
        base = quieted(surroundings(pixels, known, face.region, crop), colour, face.rim)
        faces = model_faces()
        drawn = placed(
            _matched(faces[chosen(face.seed)], colour),
            target.box,
            target.eyes,
            face.region,
            border=cv2.BORDER_REPLICATE,
        )
        alpha = placed(face_alpha(), target.box, target.eyes, face.region, border=cv2.BORDER_CONSTANT)
        base += alpha[:, :, None] * (drawn - base)
        return finish(base, face.grain, face.region, face.grain_start)


def _matched(face: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``face`` (float32) lit as bright as ``colour`` (natural's grey) and tinted a share of the way towards it."""
    grey = float(colour @ LUMA)
    # A colour cast of the scene (warm light, a blue evening) tints the face, partly.
    tint = (np.maximum(colour, 1.0) / max(grey, 1.0)) ** COLOUR_MATCH
    lit = (face.astype(np.float32) - _MODEL_LEVEL) * (grey / _MODEL_LEVEL) + grey
    return np.asarray(np.clip(lit * tint, 0, 255), dtype=np.float32)
