"""The recognizer contract: ``embed(image, face) -> vector`` and a match threshold."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..errors import RecognitionError
from ..faces import Face
from ..models import LazyModel

#: Where eyes, nose tip and mouth corners sit in a face box, as fractions of its width
#: and height (the ArcFace 112 x 112 template); used for faces given without landmarks.
TEMPLATE = ((0.342, 0.462), (0.657, 0.460), (0.500, 0.641), (0.371, 0.825), (0.632, 0.823))


def five_points(face: Face) -> tuple[tuple[float, float], ...]:
    """The face's 5 landmarks, or the template's placed in its box when it has none."""
    if face.landmarks is not None and len(face.landmarks) == 5:
        return face.landmarks
    x1, y1, x2, y2 = face.box
    return tuple((x1 + fx * (x2 - x1), y1 + fy * (y2 - y1)) for fx, fy in TEMPLATE)


class Recognizer(LazyModel, ABC):
    """A face recognizer: a fixed-length template per face, compared by one metric.

    ``metric`` is ``"cosine"`` (higher is closer, match at ``>= threshold``) or
    ``"distance"`` (lower is closer, match at ``< threshold``). Instances pickle as
    their settings; the model loads again lazily where they are unpickled.
    """

    name: str = "recognizer"
    metric: str = "cosine"
    threshold: float = 0.5

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The template of the face at ``face`` in ``image``.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            RGB pixels.
        face : Face
            Where the face is; its 5 landmarks align it (a template is placed in the box
            when it has none, which aligns worse).

        Returns
        -------
        (D,) float32 ndarray

        Raises
        ------
        RecognitionError
            The model is missing or failed.
        """
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise RecognitionError("expected an (H, W, 3) uint8 RGB image")
        try:
            return np.asarray(self._embed(np.ascontiguousarray(image), face), dtype=np.float32).reshape(-1)
        except RecognitionError:
            raise
        except Exception as exc:  # OpenCV and dlib raise their own types
            raise RecognitionError(f"{self.name} failed: {exc}") from exc

    @abstractmethod
    def _embed(self, image: np.ndarray, face: Face) -> np.ndarray: ...

    def similarity_matrix(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scores of every template in ``a`` (N, D) against every one in ``b`` (M, D): (N, M)."""
        a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
        if self.metric == "cosine":
            a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
            b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
            return a @ b.T
        sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
        return np.sqrt(np.maximum(sq, 0.0))

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """The score of two templates in this recognizer's metric."""
        return float(self.similarity_matrix(a, b)[0, 0])

    def matches(self, score: float, threshold: float | None = None) -> bool:
        """Whether ``score`` is a match at ``threshold`` (default: this recognizer's)."""
        t = self.threshold if threshold is None else threshold
        return score >= t if self.metric == "cosine" else score < t

    def closer(self, scores: np.ndarray) -> np.ndarray:
        """``scores`` turned so that larger is always closer (for ranking)."""
        return scores if self.metric == "cosine" else -scores
