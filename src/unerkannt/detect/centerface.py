"""CenterFace (MIT), run with onnxruntime: the high-recall detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import DetectionError
from ..faces import Face
from .base import Detector, onnx_session, padded_blob

MODEL = Path(__file__).with_name("models") / "centerface.onnx"
#: The same network with its backbone quantized to 8 bits (``tools/quantize_centerface.py``).
MODEL_INT8 = MODEL.with_name("centerface-int8.onnx")
_OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
_NMS_IOU = 0.3


class CenterFaceDetector(Detector):
    """CenterFace: an anchor-free detector with a 4-pixel output stride.

    Finds faces down to about 8 pixels high at scale 1; WIDER FACE AP
    0.939/0.929/0.880 (easy/medium/hard, published). Gives 5 landmarks.
    """

    name = "centerface"
    #: At the photo threshold it finds 95 % of the detection kit's faces of 10-12 px
    #: and 56 % of those of 6-8 px (bench/RESULTS.md, "Crowds").
    resolves = 10.0

    def __init__(self, *, model_path: str | Path = MODEL, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model_path = str(model_path)

    def _session(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            try:
                self._model = onnx_session(self.model_path, self.threads)
            except Exception as exc:
                raise DetectionError(f"cannot load CenterFace from {self.model_path}: {exc}") from exc
        return self._model

    def _detect_once(self, image: np.ndarray) -> list[Face]:
        blob, _, _ = padded_blob(image)
        heat, scale, offset, marks = self._session().run(_OUTPUTS, {"input.1": blob})
        ys, xs = np.nonzero(heat[0, 0] > self.threshold)
        if len(ys) == 0:
            return []
        bh = np.exp(scale[0, 0, ys, xs]) * 4
        bw = np.exp(scale[0, 1, ys, xs]) * 4
        x1 = (xs + offset[0, 1, ys, xs] + 0.5) * 4 - bw / 2
        y1 = (ys + offset[0, 0, ys, xs] + 0.5) * 4 - bh / 2
        scores = heat[0, 0, ys, xs]
        # Neighbouring heat-map cells report the same face; suppress them here in
        # C++ so that only distinct candidates become Python objects.
        rects = np.stack([x1, y1, bw, bh], axis=1).tolist()
        keep = np.asarray(cv2.dnn.NMSBoxes(rects, scores.tolist(), 0.0, _NMS_IOU), dtype=int).reshape(-1)
        faces = []
        for i in keep:
            lm = tuple(
                (
                    float(marks[0, 2 * j + 1, ys[i], xs[i]] * bw[i] + x1[i]),
                    float(marks[0, 2 * j, ys[i], xs[i]] * bh[i] + y1[i]),
                )
                for j in range(5)
            )
            box = (float(x1[i]), float(y1[i]), float(x1[i] + bw[i]), float(y1[i] + bh[i]))
            faces.append(Face(box=box, score=float(scores[i]), detector=self.name, landmarks=lm))
        return faces


class CenterFaceInt8Detector(CenterFaceDetector):
    """CenterFace with its backbone in 8-bit integers: about 1.7x faster on this
    project's machines, the same recall on the detection kit (scores of dim,
    low-contrast faces a little lower; bench/RESULTS.md). Videos and the default photo
    profile run it (:mod:`unerkannt.detect.search`)."""

    name = "centerface-int8"

    def __init__(self, *, model_path: str | Path = MODEL_INT8, **kwargs: object) -> None:
        super().__init__(model_path=model_path, **kwargs)
