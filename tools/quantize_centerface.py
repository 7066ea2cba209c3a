"""Build ``src/unerkannt/detect/models/centerface-int8.onnx`` from ``centerface.onnx``.

Videos need CenterFace on every frame, and on two cores the float model alone takes
most of the time a 30 fps frame may cost. This script quantizes its MobileNetV2 backbone
to 8-bit integers (static; per-channel weights in 7 bits so that CPUs without VNNI
cannot saturate; unsigned 8-bit activations): about 1.7x faster on this project's
machines, with the same recall on the detection kit (bench/RESULTS.md). Left in float:

* the stem (the first two convolutions): it sees raw 0-255 pixels, and quantizing its
  output cost dim, low-contrast faces in video frames most of their score;
* the neck and the heads (from the convolution that feeds the first upsampling on): they produce
  the heat map and the box geometry, and are a small share of the time.

Calibration (the ranges of the activations) uses ``onnxruntime``'s MinMax method on
80 canvases of 640x384 pixels, each holding six photos of faces at scales 0.3-1.4 on a
plain background of random grey: 480 photos drawn with seed 0 from the identity half of
the development kit (``../shared/bench/identity/lfw``, Labeled Faces in the Wild). No
photo or frame the detection and video benchmarks measure is used.

usage: python tools/quantize_centerface.py [--lfw ../shared/bench/identity/lfw] [--out FILE]
(needs ``pip install onnx``; not a run-time dependency). The same versions of onnx and
onnxruntime rebuild the file byte for byte; the versions used are in PROVENANCE.md.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnx.version_converter
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

MODELS = Path(__file__).resolve().parents[1] / "src/unerkannt/detect/models"
SOURCE, OUT = MODELS / "centerface.onnx", MODELS / "centerface-int8.onnx"
DEFAULT_LFW = Path(__file__).resolve().parents[2] / "shared/bench/identity/lfw"
PHOTOS, PER_CANVAS, SEED = 480, 6, 0
CANVAS = (384, 640)
SCALES = (0.3, 0.5, 0.8, 1.0, 1.4)
#: Nodes kept in float, by index in the pre-processed graph: the stem, and the neck and
#: heads from the first lateral convolution on (checked by op type below).
STEM = (0, 2)
NECK_FROM = 101


def canvases(lfw: Path) -> Iterator[np.ndarray]:
    """The calibration inputs: NCHW float32 canvases of RGB face photos."""
    rng = random.Random(SEED)
    files = sorted(lfw.glob("*/*.jpg"))
    if len(files) < PHOTOS:
        raise SystemExit(f"need {PHOTOS} photos under {lfw}, found {len(files)}")
    rng.shuffle(files)
    files = files[:PHOTOS]
    height, width = CANVAS
    for k in range(0, PHOTOS, PER_CANVAS):
        canvas = np.full((height, width, 3), rng.randint(0, 255), np.uint8)
        for path in files[k : k + PER_CANVAS]:
            photo = cv2.imread(str(path))[:, :, ::-1]
            scale = rng.choice(SCALES)
            photo = cv2.resize(photo, None, fx=scale, fy=scale)
            h, w = min(photo.shape[0], height), min(photo.shape[1], width)
            y, x = rng.randint(0, height - h), rng.randint(0, width - w)
            canvas[y : y + h, x : x + w] = photo[:h, :w]
        yield np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)


class _Reader(CalibrationDataReader):
    def __init__(self, lfw: Path) -> None:
        self._batches = canvases(lfw)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"input.1": batch}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help="folder of <person>/<photo>.jpg")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the model (default: %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        # Per-channel quantization needs opset 13; the exported graph is opset 9.
        opset13, prepared = Path(tmp) / "opset13.onnx", Path(tmp) / "prepared.onnx"
        onnx.save(onnx.version_converter.convert_version(onnx.load(SOURCE), 13), opset13)
        quant_pre_process(str(opset13), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(prepared)
        nodes = model.graph.node
        for i, node in enumerate(nodes):
            node.name = node.name or f"{node.op_type}_{i}"
        if [nodes[i].op_type for i in STEM] != ["Conv", "Conv"] or nodes[NECK_FROM].op_type != "Conv":
            raise SystemExit("the graph changed: check STEM and NECK_FROM")
        onnx.save(model, prepared)
        keep_float = [nodes[i].name for i in STEM] + [n.name for n in nodes[NECK_FROM:]]
        quantize_static(
            str(prepared),
            str(args.out),
            _Reader(args.lfw),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_float,
            # 7-bit weights: x86 CPUs without VNNI multiply 8-bit pairs into 16 bits, which
            # can saturate with full-range weights (onnxruntime's documentation); same recall.
            reduce_range=True,
        )
    print("output sha256", hashlib.sha256(args.out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
