#!/usr/bin/env python3
"""The 8-bit CenterFace against the float one: recall, agreement, speed.

Videos run ``centerface-int8`` (built by ``tools/quantize_centerface.py``) in the place
of ``centerface``. This compares the two on the development kit, in one run:

* recall on the 415 annotated photos of ``detect/`` (a face is found when a detection
  overlaps its box with IoU >= 0.4) at the thresholds the profiles use, by face height;
* agreement on every frame of the clips in ``video/``: of the faces the float model
  scores >= 0.3, how many the 8-bit one scores under 0.1 (the video threshold), and the
  mean score change;
* milliseconds per 640x360 frame with one inference thread.

Usage (from the repository root, with the project venv active)::

    python bench/quantized_detector.py [--markdown-out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protect_images as common
from protect_videos import frames_of

REPO_ROOT = Path(__file__).resolve().parent.parent
KIT = REPO_ROOT.parent / "shared" / "bench"
MODELS = ("centerface", "centerface-int8")
THRESHOLDS = (0.06, 0.1, 0.3)
HEIGHTS = (("<16 px", 0, 16), ("16-32 px", 16, 32), (">32 px", 32, 10**9))


def recall(detector, photos) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    from unerkannt.faces import iou

    counts = {f"{t}/{name}": [0, 0] for t in THRESHOLDS for name, _, _ in HEIGHTS}
    for image, truths in photos:
        found = detector.detect(image)
        for t in THRESHOLDS:
            kept = [f.box for f in found if f.score >= t]
            for box in truths:
                height = box[3] - box[1]
                name = next(n for n, lo, hi in HEIGHTS if lo <= height < hi)
                counts[f"{t}/{name}"][1] += 1
                counts[f"{t}/{name}"][0] += any(iou(k, tuple(box)) >= 0.4 for k in kept)
    return {k: (v[0], v[1]) for k, v in counts.items()}


def main(argv: list[str] | None = None) -> int:
    from unerkannt.detect import load_detector
    from unerkannt.faces import iou

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kit", type=Path, default=KIT)
    parser.add_argument("--markdown-out", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    annotations = json.loads((args.kit / "detect" / "annotations.json").read_text())["images"]
    photos = [
        (cv2.imread(str(args.kit / "detect" / a["file"]))[:, :, ::-1].copy(), [f["box"] for f in a["faces"]])
        for a in annotations
    ]
    frames = [f for clip in sorted((args.kit / "video").glob("*.mp4")) for f in frames_of(clip)[1]]
    detectors = {name: load_detector(name, threshold=min(THRESHOLDS), scales=(1.0,), threads=1) for name in MODELS}
    speed, recalls = {}, {}
    timed = [cv2.resize(f, (640, 360)) for f in frames[:100]]
    for name, detector in detectors.items():
        detector.detect(timed[0])
        start = time.perf_counter()
        for frame in timed:
            detector.detect(frame)
        speed[name] = (time.perf_counter() - start) / len(timed) * 1000
        recalls[name] = recall(detector, photos)
    exact, quick = detectors[MODELS[0]], detectors[MODELS[1]]
    faces = dropped = 0
    changes = []
    for frame in frames:
        ref = [f for f in exact.detect(frame) if f.score >= 0.3]
        got = quick.detect(frame)
        for face in ref:
            best = max((g.score for g in got if iou(g.box, face.box) >= 0.5), default=0.0)
            faces += 1
            dropped += best < 0.1
            changes.append(best - face.score)
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {common.cpu_model()}, "
        f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}.",
        "",
        "```",
        "python bench/quantized_detector.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "```",
        "",
        f"Recall on the {len(photos)} photos of the detection kit "
        f"({sum(len(t) for _, t in photos)} faces; IoU >= 0.4), one scale (1x):",
        "",
        "| model | ms per 640x360 frame (1 thread) | "
        + " | ".join(f"recall @{t}" for t in THRESHOLDS)
        + " | "
        + " | ".join(f"@0.1 {n}" for n, _, _ in HEIGHTS)
        + " |",
        "|---|---:|" + "---:|" * (len(THRESHOLDS) + len(HEIGHTS)),
    ]
    for name in MODELS:
        r = recalls[name]
        total = [
            sum(r[f"{t}/{n}"][0] for n, _, _ in HEIGHTS) / sum(r[f"{t}/{n}"][1] for n, _, _ in HEIGHTS)
            for t in THRESHOLDS
        ]
        heights = [r[f"0.1/{n}"][0] / max(1, r[f"0.1/{n}"][1]) for n, _, _ in HEIGHTS]
        lines.append(
            f"| {name} | {speed[name]:.1f} | "
            + " | ".join(f"{100 * v:.1f} %" for v in total)
            + " | "
            + " | ".join(f"{100 * v:.1f} %" for v in heights)
            + " |"
        )
    lines += [
        "",
        f"Agreement on the {len(frames)} frames of the video kit: of {faces} faces the float model "
        f"scores >= 0.3, the 8-bit one scores {dropped} under 0.1 (IoU >= 0.5); score change "
        f"{np.mean(changes):+.3f} on average (sd {np.std(changes):.3f}).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
