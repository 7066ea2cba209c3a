#!/usr/bin/env python3
"""How far real faces' brightness follows their surroundings' (natural's grey, ``natural.neutral``).

For each face, the mean brightness (Rec. 601 luma) of its detector box against that of the
ring ``natural`` reads around its region (the crop of ``natural._with_ring`` outside the
region's ellipse, default ``enlarge``). Printed per kit: a straight line fitted through
(ring, face), how far faces spread around it, and how far they lie from the ring itself.

* detection kit: every annotated face 16 px or more high (crowds, masks, street light);
* identity kit: YuNet's most central face of every other photo (press photos, exposed for the face).

Usage (repository root, venv active)::

    python bench/face_light.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KIT = REPO_ROOT.parent / "shared" / "bench"


def light(image: np.ndarray, box: tuple[float, float, float, float], enlarge: float) -> tuple[float, float]:
    """``(ring, face)``: the mean luma of the ring natural reads around ``box``'s region, and of the box."""
    from unerkannt.anonymize.base import face_region
    from unerkannt.anonymize.faces_of_no_one import LUMA
    from unerkannt.anonymize.natural import _hidden, _with_ring, mean_colour

    height, width = image.shape[:2]
    region = face_region(box, enlarge, width, height)
    x1, y1, x2, y2 = crop = _with_ring(region[0], width, height)
    known = ~_hidden(crop, [region])
    ring = float(mean_colour(np.ascontiguousarray(image[y1:y2, x1:x2]), known) @ LUMA)
    bx1, by1, bx2, by2 = (max(0, round(v)) for v in box)
    face = float(image[by1:by2, bx1:bx2].reshape(-1, 3).astype(np.float32).mean(axis=0) @ LUMA)
    return ring, face


def detection_kit(kit: Path, enlarge: float) -> list[tuple[float, float]]:
    rows = []
    for item in json.loads((kit / "annotations.json").read_text())["images"]:
        image = np.asarray(Image.open(kit / item["file"]).convert("RGB"))
        rows += [light(image, f["box"], enlarge) for f in item["faces"] if f["box"][3] - f["box"][1] >= 16]
    return rows


def identity_kit(kit: Path, enlarge: float) -> list[tuple[float, float]]:
    from reidentify import _central  # the probe face of the re-identification benchmark
    from unerkannt.detect import load_detector

    yunet = load_detector("yunet", threshold=0.5, scales=(1.0,))
    rows = []
    for path in sorted((kit / "lfw").glob("*/*.jpg"))[::2]:
        image = np.asarray(Image.open(path).convert("RGB"))
        faces = yunet.detect(image)
        if faces:
            rows.append(light(image, _central(faces, image.shape[1], image.shape[0]).box, enlarge))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", type=Path, default=DEFAULT_KIT)
    args = ap.parse_args(argv)
    from unerkannt import ProtectOptions

    enlarge = ProtectOptions().enlarge
    print(
        "| kit | faces | ring mean (std) | face mean (std) | correlation | face = a + b x ring "
        "| around the line: std, 10th / 50th / 90th pct | face - ring: 10th / 50th / 90th pct |"
    )
    print("|---|---:|---:|---:|---:|---|---|---|")
    for name, rows in (
        ("detection", detection_kit(args.kit / "detect", enlarge)),
        ("identity", identity_kit(args.kit / "identity", enlarge)),
    ):
        ring, face = np.array(rows).T
        slope, intercept = np.polyfit(ring, face, 1)
        around = face - (intercept + slope * ring)
        a10, a50, a90 = np.percentile(around, [10, 50, 90])
        o10, o50, o90 = np.percentile(face - ring, [10, 50, 90])
        print(
            f"| {name} | {len(rows)} | {ring.mean():.1f} ({ring.std():.1f}) | {face.mean():.1f} ({face.std():.1f}) | "
            f"{np.corrcoef(ring, face)[0, 1]:.2f} | {intercept:.1f} + {slope:.2f} x ring | "
            f"{around.std():.1f}; {a10:+.1f} / {a50:+.1f} / {a90:+.1f} | {o10:+.1f} / {o50:+.1f} / {o90:+.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
