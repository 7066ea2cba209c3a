"""Templates of one face for several recognizers, and reference photos of one person."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..detect import FaceDetector
from ..errors import InputError
from ..faces import Face
from ..names import display
from .base import Recognizer


def templates(image: np.ndarray, face: Face, recognizers: Sequence[Recognizer]) -> dict[str, np.ndarray]:
    """``{recognizer name: (D,) template}`` of ``face`` in ``image``; kept in memory only."""
    return {r.name: r.embed(image, face) for r in recognizers}


#: Faces smaller than this (pixels, shorter side) in a reference photo are passers-by in
#: the background: too small to be matched, so they neither count nor are enrolled.
MIN_REFERENCE_FACE = 48


def single_face(image: np.ndarray, detector: FaceDetector, *, source: str = "the image") -> Face:
    """The one face of a reference photo (faces under :data:`MIN_REFERENCE_FACE` px ignored).

    Raises
    ------
    InputError
        The photo shows no face of that size or more than one: a reference must say
        unambiguously whose face it is.
    """
    faces = [f for f in detector.detect(image) if min(f.width, f.height) >= MIN_REFERENCE_FACE]
    if len(faces) != 1:
        raise InputError(
            f"{display(source)} shows {len(faces)} faces of {MIN_REFERENCE_FACE} px or more; "
            "a reference photo must show exactly one"
        )
    return faces[0]


def reference_templates(
    paths: Sequence[str | Path], *, detector: FaceDetector, recognizers: Sequence[Recognizer], max_pixels: int
) -> dict[str, np.ndarray]:
    """``{recognizer name: (N, D)}``: one template per reference photo and recognizer.

    Raises
    ------
    InputError
        A photo cannot be read or does not show exactly one face.
    """
    from ..media import read_image

    if not paths:
        raise InputError("at least one reference photo is needed")
    rows: dict[str, list[np.ndarray]] = {r.name: [] for r in recognizers}
    for path in paths:
        image = read_image(path, max_pixels=max_pixels).frames[0]
        face = single_face(image, detector, source=str(path))
        for name, vector in templates(image, face, recognizers).items():
            rows[name].append(vector)
    return {name: np.stack(vectors) for name, vectors in rows.items()}
