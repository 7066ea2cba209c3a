#!/usr/bin/env python3
"""A side-by-side sheet of kit photos: original, fill, natural, synthetic, blur.

Each photo is protected by ``unerkannt.protect`` with the default options (the same
detection for every method: CenterFace, then YuNet's verification pass) and one method
per column. The photos are the first ``--count`` of the detection kit (sorted by name)
that hold a face over 32 px, every ``--step``-th of them, so that the sheet shows faces
large enough to judge. The kit's photos are CC0 (see the kit's README).

Usage (repository root, venv active)::

    python bench/method_sheet.py --out docs/methods.png
    python bench/method_sheet.py --out /tmp/sheet.png --count 8 --height 200
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KIT = REPO_ROOT.parent / "shared" / "bench" / "detect"
COLUMNS = ("original", "fill", "natural", "synthetic", "blur")


def chosen(kit: Path, count: int, step: int) -> list[Path]:
    """Every ``step``-th kit photo with a face over 32 px high, ``count`` of them, by name."""
    items = json.loads((kit / "annotations.json").read_text())["images"]
    large = sorted(i["file"] for i in items if any(f["box"][3] - f["box"][1] > 32 for f in i["faces"]))
    return [kit / name for name in large[::step][:count]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", type=Path, default=DEFAULT_KIT)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--step", type=int, default=7, help="take every STEP-th photo with a large face")
    ap.add_argument("--height", type=int, default=150, help="height of each photo on the sheet, pixels")
    args = ap.parse_args(argv)

    import unerkannt
    from unerkannt import ProtectOptions
    from unerkannt.pipeline import build_detector

    detector = build_detector(ProtectOptions())
    rows = []
    for path in chosen(args.kit, args.count, args.step):
        image = np.asarray(Image.open(path).convert("RGB"))
        cells = [image]
        for method in COLUMNS[1:]:
            result = unerkannt.protect(image, options=ProtectOptions(method=method), detector=detector)
            cells.append(result.image)  # type: ignore[union-attr]
        width = round(image.shape[1] * args.height / image.shape[0])
        rows.append([np.asarray(Image.fromarray(c).resize((width, args.height), Image.LANCZOS)) for c in cells])
        print(path.name, file=sys.stderr)
    width = max(r[0].shape[1] for r in rows)
    gap, label = 4, 18
    sheet = Image.new("RGB", (len(COLUMNS) * (width + gap) - gap, label + len(rows) * (args.height + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, name in enumerate(COLUMNS):
        draw.text((c * (width + gap) + 4, 3), name, fill="black")
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            x = c * (width + gap) + (width - cell.shape[1]) // 2
            sheet.paste(Image.fromarray(cell), (x, label + r * (args.height + gap)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"{args.out}: {sheet.size[0]} x {sheet.size[1]}, {args.out.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
