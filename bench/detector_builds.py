#!/usr/bin/env python3
"""The builds unerkannt runs its detectors as, against the originals, in one run.

1. Videos run ``centerface-int8`` (built by ``tools/quantize_centerface.py``) in the place
   of ``centerface``. The two are compared on the development kit:

* recall on the 415 annotated photos of ``detect/`` (a face is found when a detection
  overlaps its box with IoU >= 0.4) at the thresholds the profiles use, by face height;
* agreement on every frame of the clips in ``video/``: of the faces the float model
  scores >= 0.3, how many the 8-bit one scores under 0.1 (the video threshold), and the
  mean score change;
* milliseconds per 640x360 frame with one inference thread.

2. YuNet runs on onnxruntime (``unerkannt.detect.yunet``), from the same file OpenCV's
   ``FaceDetectorYN`` runs: on every frame of the video kit at 1x and 2x, the faces both
   find (same box within 0.5 px, same score within 1e-4) and milliseconds per frame, one
   thread each.

Usage (from the repository root, with the project venv active)::

    python bench/detector_builds.py [--markdown-out FILE]
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


def yunet_builds(frames: list[np.ndarray]) -> list[str]:
    """YuNet on onnxruntime against OpenCV's FaceDetectorYN on the same file: faces and time."""
    from unerkannt.detect import load_detector
    from unerkannt.detect.yunet import model_path
    from unerkannt.faces import Face, merge_faces

    cv2.setNumThreads(1)
    lines = [
        f"YuNet on the {len(frames)} frames of the video kit, threshold 0.5, one thread each "
        "(onnxruntime: `unerkannt.detect.yunet`; OpenCV: `cv2.FaceDetectorYN` on the same file):",
        "",
        "| scale | faces OpenCV (cut at the edge, merged, as in unerkannt) | faces onnxruntime "
        "| the same (box within 0.5 px, score within 1e-4) | ms per frame OpenCV | ms per frame onnxruntime |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for scale in (1.0, 2.0):
        ours = load_detector("yunet", threshold=0.5, scales=(1.0,), threads=1)
        net = None
        found = {"cv": 0, "ort": 0, "same": 0}
        spent = {"cv": 0.0, "ort": 0.0}
        for frame in frames:
            image = cv2.resize(frame, None, fx=scale, fy=scale) if scale != 1.0 else frame
            size = (image.shape[1], image.shape[0])
            if net is None:
                net = cv2.FaceDetectorYN.create(str(model_path()), "", size, 0.5, 0.3, 5000)
            net.setInputSize(size)
            start = time.perf_counter()
            _, rows = net.detect(np.ascontiguousarray(image[:, :, ::-1]))
            spent["cv"] += time.perf_counter() - start
            start = time.perf_counter()
            faces = ours.detect(image)
            spent["ort"] += time.perf_counter() - start
            # OpenCV's rows cut at the image's edge and merged where they overlap, as every
            # detector's output is in unerkannt.
            h, w = image.shape[:2]
            theirs = merge_faces(
                [
                    Face(
                        box=(max(0.0, r[0]), max(0.0, r[1]), min(w, r[0] + r[2]), min(h, r[1] + r[3])),
                        score=float(r[14]),
                        detector="opencv",
                    )
                    for r in ([] if rows is None else rows)
                ]
            )
            found["cv"] += len(theirs)
            found["ort"] += len(faces)
            for face in theirs:
                found["same"] += any(
                    max(abs(a - b) for a, b in zip(f.box, face.box, strict=True)) < 0.5
                    and abs(f.score - face.score) < 1e-4
                    for f in faces
                )
        lines.append(
            f"| {scale:g}x | {found['cv']} | {found['ort']} | {found['same']} | "
            f"{spent['cv'] / len(frames) * 1000:.1f} | {spent['ort'] / len(frames) * 1000:.1f} |"
        )
    return lines


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
        "python bench/detector_builds.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
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
    lines += ["", *yunet_builds(frames)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
