"""Who may stay visible: both recognizers must agree, strictly, on one enrolled person."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ..errors import ConsentError
from ..faces import Face
from ..recognize import DEFAULT_RECOGNIZERS, Recognizer, shared_recognizer
from .registry import Registry

#: Strict match thresholds of the consent rule, per recognizer (the audit uses the
#: recognizers' usual ones). A wrong match publishes someone who did not consent, so
#: they sit far into the impostor-free range; see bench/RESULTS.md (recognition section).
STRICT: dict[str, float] = {"sface": 0.4, "dlib": 0.55, "fake": 0.95}
#: Faces smaller than this (pixels, shorter side of the box) are always protected.
MIN_FACE = 48
#: Faces more turned than this (nose offset from the eye midpoint, in eye distances)
#: are always protected.
MAX_TURN = 0.35


def matchable(face: Face) -> bool:
    """Large and frontal enough to be matched reliably, with detected landmarks."""
    if face.landmarks is None or len(face.landmarks) != 5 or min(face.width, face.height) < MIN_FACE:
        return False
    (rx, ry), (lx, ly), (nx, _ny), _, _ = face.landmarks
    eyes = float(np.hypot(lx - rx, ly - ry))
    if eyes < 0.25 * face.width:
        return False
    return abs(nx - (rx + lx) / 2) / eyes <= MAX_TURN


def _passes(recognizer: Recognizer, score: float) -> bool:
    strict = STRICT.get(recognizer.name)
    if strict is None:
        raise ConsentError(f"no strict consent threshold for the recognizer {recognizer.name!r}")
    return recognizer.matches(score, strict)


def decide(
    image: np.ndarray, faces: Sequence[Face], registry: Registry, recognizers: Sequence[Recognizer]
) -> dict[int, str]:
    """``{index into faces: name}`` of the faces that may stay visible.

    A face stays visible only when it is :func:`matchable`, every recognizer matches it to
    the same enrolled person at its :data:`STRICT` threshold, no other person passes too,
    and no other face of the image matches that person as well. Templates of the faces
    are discarded when this returns.

    Raises
    ------
    ConsentError
        The registry lacks templates of one of ``recognizers``.
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
            ok = True
            for r in recognizers:
                if r.name not in person.templates:
                    raise ConsentError(f"{person.name!r} has no {r.name} template; enroll them again")
                row = r.similarity_matrix(probes[r.name], person.templates[r.name])[0]
                if not _passes(r, float(row[np.argmax(r.closer(row))])):
                    ok = False
                    break
            if ok:
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
