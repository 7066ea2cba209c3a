"""The detector contract: ``detect(image) -> list[Face]``, several scales and tiles."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import DetectionError
from ..faces import Face, merge_faces
from ..models import LazyModel

#: Longest side, in pixels, of one inference pass; larger inputs are tiled so that
#: memory stays bounded and small faces keep their resolution.
MAX_TILE = 1600
#: Overlap of neighbouring tiles in detector pixels: larger than any face a tile
#: could cut in two without the global pass seeing it whole.
TILE_OVERLAP = 192


class Detector(LazyModel, ABC):
    """A face detector searching one RGB image at several scales.

    Subclasses implement :meth:`_detect_once`; the scale, tile and merge logic is
    shared. Instances pickle as their settings (the model is loaded again lazily in
    the receiving process), so they can be shipped to worker processes.

    Parameters
    ----------
    threshold : float
        Minimum detector score.
    scales : tuple of float
        Resize factors to search at; ``1.0`` is the image as it is.
    threads : int
        Inference threads, ``0`` lets the runtime choose.
    """

    name: str = "detector"
    #: Height in pixels of the smallest faces the model finds reliably in the pixels it
    #: is given, or ``None`` when not measured (see :mod:`unerkannt.detect.search`).
    resolves: float | None = None

    def __init__(self, *, threshold: float = 0.5, scales: tuple[float, ...] = (1.0,), threads: int = 0) -> None:
        self.threshold = threshold
        self.scales = tuple(scales)
        self.threads = threads
        super().__init__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(threshold={self.threshold}, scales={self.scales})"

    def detect(self, image: np.ndarray) -> list[Face]:
        """Find faces in ``image`` at every scale of :attr:`scales`.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            RGB pixels.

        Returns
        -------
        list of Face
            Boxes in pixels of ``image``, merged across scales and tiles.

        Raises
        ------
        DetectionError
            The model could not be loaded or inference failed.
        """
        faces: list[Face] = []
        for scale in self.scales:
            faces.extend(self.detect_at(image, scale))
        overview = overview_scale(image.shape[:2], self.scales)
        if overview is not None:
            faces.extend(self.detect_at(image, overview))
        return merge_faces(faces)

    def detect_at(self, image: np.ndarray, scale: float, region: tuple[int, int, int, int] | None = None) -> list[Face]:
        """One pass: ``image`` (or its ``region``) resized by ``scale`` and searched in tiles.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            RGB pixels.
        scale : float
            Resize factor; ``2.0`` searches at twice the size (for faces half as high).
        region : (x1, y1, x2, y2) int, optional
            The part of ``image`` to search, in its pixels (``x2``, ``y2`` exclusive);
            the whole image when ``None``.

        Returns
        -------
        list of Face
            Faces scoring at least :attr:`threshold`, boxes in pixels of ``image``, not
            merged (a face cut by a tile border can come back twice).

        Raises
        ------
        DetectionError
            The image is not ``(H, W, 3) uint8``, or the model failed.
        """
        check_image(image)
        x0, y0 = 0, 0
        if region is not None:
            x0, y0, x1, y1 = region
            image = image[y0:y1, x0:x1]
        try:
            faces = self._detect_scaled(image, scale)
        except DetectionError:
            raise
        except Exception as exc:  # onnxruntime and OpenCV raise their own types
            raise DetectionError(f"{self.name} failed: {exc}") from exc
        return [_shifted(f, x0, y0) for f in faces if f.score >= self.threshold]

    def _detect_scaled(self, image: np.ndarray, scale: float) -> list[Face]:
        height, width = image.shape[:2]
        sw, sh = max(1, round(width * scale)), max(1, round(height * scale))
        if (sw, sh) != (width, height):
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            image = cv2.resize(image, (sw, sh), interpolation=interp)
        faces: list[Face] = []
        for x0, y0, tile in _tiles(image):
            for face in self._detect_once(tile):
                x1, y1, x2, y2 = face.box
                box = ((x1 + x0) / sw * width, (y1 + y0) / sh * height, (x2 + x0) / sw * width, (y2 + y0) / sh * height)
                landmarks = None
                if face.landmarks is not None:
                    landmarks = tuple(((x + x0) / sw * width, (y + y0) / sh * height) for x, y in face.landmarks)
                faces.append(
                    Face(box=_clip(box, width, height), score=face.score, detector=self.name, landmarks=landmarks)
                )
        return faces

    @abstractmethod
    def _detect_once(self, image: np.ndarray) -> list[Face]:
        """Detect in one RGB tile of at most :data:`MAX_TILE` pixels per side."""


def check_image(image: np.ndarray) -> None:
    """Raise :class:`DetectionError` unless ``image`` is ``(H, W, 3) uint8``."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DetectionError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")


def overview_scale(shape: tuple[int, int], scales: tuple[float, ...]) -> float | None:
    """The scale of one more pass over the whole image when the largest of ``scales``
    splits an image of ``shape`` (H, W) into tiles, or ``None``: tiles cut large faces,
    and the whole image at :data:`MAX_TILE` pixels finds those whole."""
    longest = max(shape)
    return MAX_TILE / longest if longest * max(scales) > MAX_TILE else None


def onnx_session(model: str | Path | bytes, threads: int) -> Any:
    """An onnxruntime CPU session for ``model`` (a file or its bytes) with ``threads``
    inference threads (``0``: the runtime chooses), as every detector runs its network."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def padded_blob(image: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``image`` (H, W, 3) as a 1x3xHxW float32 network input, padded with black at the
    bottom and right to sides divisible by 32 (instead of stretched); and the padded height
    and width."""
    height, width = image.shape[:2]
    ph, pw = -(-height // 32) * 32, -(-width // 32) * 32
    if (ph, pw) != (height, width):
        image = cv2.copyMakeBorder(image, 0, ph - height, 0, pw - width, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32), ph, pw


def _tiles(image: np.ndarray):  # type: ignore[no-untyped-def]
    height, width = image.shape[:2]
    if max(height, width) <= MAX_TILE:
        yield 0, 0, image
        return
    step = MAX_TILE - TILE_OVERLAP
    nx = max(1, math.ceil((width - TILE_OVERLAP) / step))
    ny = max(1, math.ceil((height - TILE_OVERLAP) / step))
    for iy in range(ny):
        y0 = min(iy * step, max(0, height - MAX_TILE))
        for ix in range(nx):
            x0 = min(ix * step, max(0, width - MAX_TILE))
            yield x0, y0, image[y0 : y0 + MAX_TILE, x0 : x0 + MAX_TILE]


def _shifted(face: Face, dx: int, dy: int) -> Face:
    if not (dx or dy):
        return face
    x1, y1, x2, y2 = face.box
    landmarks = None if face.landmarks is None else tuple((x + dx, y + dy) for x, y in face.landmarks)
    return replace(face, box=(x1 + dx, y1 + dy, x2 + dx, y2 + dy), landmarks=landmarks)


def _clip(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return (min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height))
