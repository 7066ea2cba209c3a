"""Who may stay visible: both recognizers must agree, and surely, on one enrolled person."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ConsentError
from ..faces import Face
from ..recognize import DEFAULT_RECOGNIZERS, Recognizer, shared_recognizer
from .registry import Registry

# The constants below were chosen on LFW people who appear in no pair of pairs.txt (the
# test set): `python bench/calibrate_consent.py` prints that calibration; bench/RESULTS.md
# ("Consent rule") holds it with every candidate rule tried, and the test figures.

#: Each recognizer must match at least at its usual threshold: two independent model
#: families agree on the person ("fake" is the test stand-in).
AGREE: dict[str, float] = {"sface": 0.363, "dlib": 0.6, "fake": 0.95}
#: Mean and standard deviation of each recognizer's scores between different people (the
#: 904,939 impostor pairs of the calibration): ``z = (score - mean) / sd`` (``mean - score``
#: for distances) says how far into the impostor distribution a score lies, in one unit
#: for both families.
IMPOSTOR: dict[str, tuple[float, float]] = {"sface": (0.091, 0.088), "dlib": (0.821, 0.087), "fake": (0.0, 0.25)}
#: ... and the mean of their z-values must reach this. A wrong match publishes someone who
#: did not consent: the calibration impostors need at most 1 false accept in 10,000 (95 %
#: upper bound, counted without the quality gate), 10 times below the target of 0.1 %;
#: solved there: 3.18, rounded up (69 of 904,939 accepted, upper bound 0.0093 %).
#: Requiring each recognizer's own strict threshold instead accepted fewer genuine pairs
#: at that rate: dlib alone reaches it only at distance < 0.458, with half of them.
FUSED = 3.2
#: Faces smaller than this (pixels, shorter side of the box) are always protected.
#: Calibration: photos shrunk to 32-80 px faces kept their scores, so 48 px hides no face
#: that was measured to match unreliably; it stays, as real small faces are blurrier.
MIN_FACE = 48
#: Faces more turned than this (:func:`turn`) are always protected. Calibration: up to
#: 0.5 neither did the scores of the same person fall nor those of different people rise;
#: beyond it too few faces were measured to say (0.35 before hid faces that match well).
MAX_TURN = 0.5


def turn(face: Face) -> float:
    """How turned the face is: nose offset from the eye midpoint, in eye distances.

    ``inf`` without 5 landmarks or when the eyes are closer than a quarter of the box
    width (a profile: the turn cannot be measured).
    """
    if face.landmarks is None or len(face.landmarks) != 5:
        return math.inf
    (rx, ry), (lx, ly), (nx, _ny), _, _ = face.landmarks
    eyes = float(np.hypot(lx - rx, ly - ry))
    if eyes < 0.25 * face.width:
        return math.inf
    return abs(nx - (rx + lx) / 2) / eyes


def matchable(face: Face) -> bool:
    """Large and frontal enough to be matched reliably, with detected landmarks."""
    return min(face.width, face.height) >= MIN_FACE and turn(face) <= MAX_TURN


def _constants(recognizer: Recognizer) -> tuple[float, float, float]:
    try:
        mean, sd = IMPOSTOR[recognizer.name]
        return AGREE[recognizer.name], mean, sd
    except KeyError:
        raise ConsentError(f"no consent calibration for the recognizer {recognizer.name!r}") from None


def accepted(recognizers: Sequence[Recognizer], scores: Mapping[str, ArrayLike]) -> np.ndarray:
    """Whether each pair of templates is a consent match.

    ``scores[name]`` are the scores of recognizer ``name`` (scalars or arrays of one
    shape, one entry per pair). A pair matches when every recognizer passes its
    :data:`AGREE` threshold and the mean of their z-values (:data:`IMPOSTOR`) reaches
    :data:`FUSED`.

    Raises
    ------
    ConsentError
        A recognizer has no calibration here.
    """
    agree: np.ndarray | bool = True
    total: np.ndarray | float = 0.0
    for r in recognizers:
        threshold, mean, sd = _constants(r)
        s = np.asarray(scores[r.name], dtype=np.float64)
        if r.metric == "cosine":
            agree = agree & (s >= threshold)
            total = total + (s - mean) / sd
        else:
            agree = agree & (s < threshold)
            total = total + (mean - s) / sd
    return np.asarray(agree & (np.asarray(total) / max(len(recognizers), 1) >= FUSED))


def decide(
    image: np.ndarray, faces: Sequence[Face], registry: Registry, recognizers: Sequence[Recognizer]
) -> dict[int, str]:
    """``{index into faces: name}`` of the faces that may stay visible.

    A face stays visible only when it is :func:`matchable`, the recognizers together
    :func:`accepted` it against one reference photo of an enrolled person, no other
    person passes too, and no other face of the image matches that person as well.
    Templates of the faces are discarded when this returns.

    Raises
    ------
    ConsentError
        The registry lacks templates of one of ``recognizers``, or a recognizer has no
        consent calibration.
    """
    if not registry.people:
        return {}
    claims: dict[str, list[int]] = {}
    for i, face in enumerate(faces):
        if not matchable(face):
            continue
        probes = {r.name: r.embed(image, face) for r in recognizers}
        passed = []
        for person in registry.people.values():
            scores = {}
            for r in recognizers:
                if r.name not in person.templates:
                    raise ConsentError(f"{person.name!r} has no {r.name} template; enroll them again")
                scores[r.name] = r.similarity_matrix(probes[r.name], person.templates[r.name])[0]
            if len({len(row) for row in scores.values()}) > 1:
                raise ConsentError(f"the templates of {person.name!r} do not line up; enroll them again")
            if accepted(recognizers, scores).any():  # one reference photo, all recognizers
                passed.append(person.name)
        if len(passed) == 1:
            claims.setdefault(passed[0], []).append(i)
    return {idx[0]: name for name, idx in claims.items() if len(idx) == 1}


@lru_cache(maxsize=4)
def _registry(path: str, mtime: float) -> Registry:
    return Registry.open(path, must_exist=True)


def consented_faces(image: np.ndarray, faces: Sequence[Face], registry_path: str) -> dict[int, str]:
    """:func:`decide` with the registry at ``registry_path`` and both recognizers (cached per process)."""
    try:
        mtime = os.stat(registry_path).st_mtime
    except OSError as exc:
        raise ConsentError(f"no consent registry at {registry_path}: {exc}") from exc
    registry = _registry(registry_path, mtime)
    return decide(image, faces, registry, [shared_recognizer(n) for n in DEFAULT_RECOGNIZERS])
