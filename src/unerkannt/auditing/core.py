"""Audit a protected image against its original, a gallery, or a reference person."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..detect import FaceDetector
from ..errors import UsageError
from ..faces import Face, iou
from ..recognize import DEFAULT_RECOGNIZERS, Recognizer
from ..results import FaceRecord

#: A face found on the protected image counts as "the same place" at this IoU.
_SAME_PLACE = 0.3


@dataclass(frozen=True, kw_only=True)
class AuditOptions:
    """How faces are found and matched during an audit.

    Parameters
    ----------
    recognizers : tuple of str
        Recognizer names (``unerkannt.recognize.RECOGNIZERS``); both families by default.
    detectors : tuple of str
        Detectors that find the original's faces (and reference and gallery faces).
    threshold : float
        Detector score at which something counts as a face a search engine would index.
    check_detectors : tuple of str
        Detectors that look for a face left on the protected image.
    check_threshold : float
        Their score threshold.
    max_pixels : int
        Largest image decoded.
    """

    recognizers: tuple[str, ...] = DEFAULT_RECOGNIZERS
    detectors: tuple[str, ...] = ("centerface",)
    threshold: float = 0.4
    check_detectors: tuple[str, ...] = ("centerface", "yunet")
    check_threshold: float = 0.5
    max_pixels: int = 100_000_000

    def __post_init__(self) -> None:
        if not self.recognizers:
            raise UsageError("at least one recognizer is needed")
        for value in (self.threshold, self.check_threshold):
            if not 0.0 < value < 1.0:
                raise UsageError(f"thresholds must be between 0 and 1, not {value}")


@dataclass(frozen=True, kw_only=True)
class Score:
    """One recognizer's comparison: score in its metric, its threshold, and the verdict."""

    recognizer: str
    metric: str
    score: float
    threshold: float
    match: bool
    rank: int | None = None
    gallery_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "recognizer": self.recognizer,
            "metric": self.metric,
            "score": round(self.score, 3),
            "threshold": self.threshold,
            "match": self.match,
        }
        if self.rank is not None:
            data.update(rank=self.rank, gallery_size=self.gallery_size)
        return data


@dataclass(frozen=True, kw_only=True)
class FaceAudit:
    """One face of the original and how findable it still is in the protected image."""

    face: Face
    detected: bool
    scores: tuple[Score, ...]

    @property
    def reidentifiable(self) -> bool:
        """A recognizer still matches it, or it is the first hit of a gallery search."""
        return any(s.match or s.rank == 1 for s in self.scores)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.face.to_json(),
            "detected": self.detected,
            "reidentifiable": self.reidentifiable,
            "scores": [s.to_json() for s in self.scores],
        }


@dataclass(kw_only=True)
class AuditResult:
    """The audit of one protected image. ``ok`` when no face is re-identifiable."""

    original: str
    protected: str
    faces: list[FaceAudit]
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.reidentifiable for f in self.faces)

    def to_json(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "protected": self.protected,
            "ok": self.ok,
            "faces": [f.to_json() for f in self.faces],
            "warnings": self.warnings,
        }


@dataclass(kw_only=True)
class Gallery:
    """Templates of other people's faces, ``{recognizer: (N, D)}``; in memory only."""

    templates: dict[str, np.ndarray]
    size: int


def build_gallery(
    images: Iterable[np.ndarray], *, detector: FaceDetector, recognizers: Sequence[Recognizer]
) -> Gallery:
    """Every face of ``images`` as a distractor of a 1:N search (as a search engine holds them)."""
    rows: dict[str, list[np.ndarray]] = {r.name: [] for r in recognizers}
    size = 0
    for image in images:
        for face in detector.detect(image):
            size += 1
            for r in recognizers:
                rows[r.name].append(r.embed(image, face))
    templates = {r.name: np.stack(rows[r.name]) if rows[r.name] else np.zeros((0, 1), np.float32) for r in recognizers}
    return Gallery(templates=templates, size=size)


def audit_images(
    original: np.ndarray,
    protected: np.ndarray,
    *,
    detector: FaceDetector,
    checker: FaceDetector,
    recognizers: Sequence[Recognizer],
    gallery: Gallery | None = None,
    names: tuple[str, str] = ("original", "protected"),
) -> AuditResult:
    """Audit ``protected`` against ``original`` (both ``(H, W, 3) uint8`` RGB, same size).

    For every face ``detector`` finds in the original: whether ``checker`` still finds a
    face there, each recognizer's score of the protected face (at the original's box and
    landmarks) against the original face, and with a ``gallery`` the rank of the original
    among the gallery's faces in a 1:N search with the protected face as the query.

    Raises
    ------
    UsageError
        The images differ in size.
    DetectionError, RecognitionError
        A model failed.
    """
    if original.shape != protected.shape:
        raise UsageError(f"the images differ in size: {original.shape[:2]} and {protected.shape[:2]}")
    faces = detector.detect(original)
    left = checker.detect(protected)
    audits = []
    warnings = []
    for face in faces:
        detected = any(iou(face.box, other.box) >= _SAME_PLACE for other in left)
        scores = []
        for r in recognizers:
            probe = r.embed(protected, face)
            truth = r.embed(original, face)
            score = r.similarity(probe, truth)
            rank = size = None
            if gallery is not None:
                others = gallery.templates.get(r.name)
                size = gallery.size + 1
                rank = 1
                if others is not None and len(others):
                    closer = r.closer(r.similarity_matrix(probe, others)[0])
                    rank += int((closer >= r.closer(np.array([score]))[0]).sum())
            scores.append(
                Score(
                    recognizer=r.name,
                    metric=r.metric,
                    score=score,
                    threshold=r.threshold,
                    match=r.matches(score),
                    rank=rank,
                    gallery_size=size,
                )
            )
        if min(face.width, face.height) < 24:
            warnings.append(f"the face at {face.to_json()['box']} is smaller than 24 px; recognizer scores are weak")
        audits.append(FaceAudit(face=face, detected=detected, scores=tuple(scores)))
    return AuditResult(original=names[0], protected=names[1], faces=audits, warnings=warnings)


@dataclass(frozen=True, kw_only=True)
class ReferenceMatch:
    """A face of a photo compared with a reference person."""

    face: Face
    scores: tuple[Score, ...]

    @property
    def match(self) -> bool:
        """Any recognizer matches (for finding oneself, a miss costs more than a false hit)."""
        return any(s.match for s in self.scores)

    def to_json(self) -> dict[str, Any]:
        return {**self.face.to_json(), "match": self.match, "scores": [s.to_json() for s in self.scores]}


@dataclass(kw_only=True)
class Found:
    """The faces of one file that match the reference person, or why it was not searched."""

    path: str
    faces: list[ReferenceMatch]
    error: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.path, "faces": [f.to_json() for f in self.faces]}
        if self.error is not None:
            data["error"] = self.error
        return data


def match_reference(
    image: np.ndarray,
    reference: dict[str, np.ndarray],
    *,
    detector: FaceDetector,
    recognizers: Sequence[Recognizer],
) -> list[ReferenceMatch]:
    """Every face ``detector`` finds in ``image``, scored against the reference templates.

    ``reference`` is ``{recognizer name: (N, D)}``; each face takes its best score over
    the N reference photos.
    """
    matches = []
    for face in detector.detect(image):
        scores = []
        for r in recognizers:
            row = r.similarity_matrix(r.embed(image, face), reference[r.name])[0]
            best = float(row[np.argmax(r.closer(row))])
            scores.append(
                Score(recognizer=r.name, metric=r.metric, score=best, threshold=r.threshold, match=r.matches(best))
            )
        matches.append(ReferenceMatch(face=face, scores=tuple(scores)))
    return matches


def still_matching(
    original: np.ndarray, protected: np.ndarray, records: Sequence[FaceRecord], recognizers: Sequence[Recognizer]
) -> list[FaceRecord]:
    """The anonymized records whose face any recognizer still matches to the original.

    Used by ``protect`` with ``audit`` before an output is written.
    """
    left = []
    for record in records:
        if record.action == "visible":
            continue
        for r in recognizers:
            if r.matches(r.similarity(r.embed(protected, record.face), r.embed(original, record.face))):
                left.append(record)
                break
    return left


def read_frames(paths: Iterable[str | Path], *, max_pixels: int) -> Iterable[np.ndarray]:
    """The first frame of each image under ``paths`` (folders searched recursively)."""
    from ..media import is_candidate, read_image

    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file() and is_candidate(p)) if path.is_dir() else [path]
        for file in files:
            yield read_image(file, max_pixels=max_pixels).frames[0]
