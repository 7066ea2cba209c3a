#!/usr/bin/env python3
"""Make crowd kits the detection kit does not hold: tinier faces, more of them, larger photos.

The detection kit (``../shared/bench/detect``) has few crowds, and its photos are about
400 px wide. Its photos of many people are turned here into harder cases, each written as
a kit of its own (``images/*.jpg`` and ``annotations.json`` in the kit's format), so that
``bench/protect_images.py --kit DIR`` and ``../shared/tools/coverage.py`` score them as
they score the kit:

* ``down``: every crowd photo scaled down to 60 % (every face 0.6 times as high).
* ``mosaic``: 2 x 2 crowd photos side by side, scaled to the size of one: a photo of
  the kit's size with four times the people, every face half as high.
* ``stadium``: 3 x 3 crowd photos side by side, scaled to the size of one: nine times
  the people, every face a third as high (most under 8 px).
* ``large``: 4 x 4 photos of the kit side by side at their own size (1600 x 1200):
  a large photo whose faces are as small as the kit's.

``--half a`` or ``--half b`` takes only the photos of one half of the kit (sorted by
name, every other one; ``bench/protect_images.py --half`` uses the same split), so that
a rule chosen on one half can be tested on crowds made from the other.

Usage (from the repository root, with the project venv active)::

    python bench/crowd_kits.py --half b --out /tmp/crowds-b      # /tmp/crowds-b/{down,mosaic,stadium,large}
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KIT = REPO_ROOT.parent / "shared" / "bench" / "detect"
#: A photo with at least this many annotated faces counts as a crowd.
CROWD = 10
DOWN = 0.6


def half(items: list[dict], which: str | None) -> list[dict]:  # type: ignore[type-arg]
    """The kit's images of half ``"a"`` (even positions by file name), ``"b"`` (odd) or all."""
    items = sorted(items, key=lambda i: i["file"])
    if which is None:
        return items
    return items[{"a": 0, "b": 1}[which] :: 2]


def _scaled_faces(item: dict, factor: float, dx: float, dy: float) -> list[dict]:  # type: ignore[type-arg]
    faces = []
    for face in item["faces"]:
        x1, y1, x2, y2 = face["box"]
        box = [round(x1 * factor + dx), round(y1 * factor + dy), round(x2 * factor + dx), round(y2 * factor + dy)]
        if box[2] > box[0] and box[3] > box[1]:
            faces.append({"box": box, "label": face["label"]})
    return faces


def _save(out: Path, name: str, image: Image.Image, faces: list[dict], entries: list[dict]) -> None:  # type: ignore[type-arg]
    image.save(out / "images" / name, quality=92)
    entries.append({"file": f"images/{name}", "width": image.width, "height": image.height, "faces": faces})


def down(kit: Path, crowds: list[dict], out: Path) -> list[dict]:  # type: ignore[type-arg]
    entries: list[dict] = []  # type: ignore[type-arg]
    for item in crowds:
        image = Image.open(kit / item["file"]).convert("RGB")
        size = (round(image.width * DOWN), round(image.height * DOWN))
        small = image.resize(size, Image.Resampling.LANCZOS)
        _save(out, "down-" + Path(item["file"]).name, small, _scaled_faces(item, DOWN, 0, 0), entries)
    return entries


def mosaic(kit: Path, items: list[dict], out: Path, *, grid: int, factor: float, prefix: str) -> list[dict]:  # type: ignore[type-arg]
    """Photos ``grid`` x ``grid`` side by side (each in a cell of 400 x 300, centred), scaled by ``factor``."""
    cell_w, cell_h = 400, 300
    entries: list[dict] = []  # type: ignore[type-arg]
    per = grid * grid
    for n in range(len(items) // per):
        group = items[n * per : (n + 1) * per]
        canvas = Image.new("RGB", (cell_w * grid, cell_h * grid), (128, 128, 128))
        faces: list[dict] = []  # type: ignore[type-arg]
        for k, item in enumerate(group):
            image = Image.open(kit / item["file"]).convert("RGB")
            image.thumbnail((cell_w, cell_h), Image.Resampling.LANCZOS)
            shrink = image.width / item["width"]
            x0 = (k % grid) * cell_w + (cell_w - image.width) // 2
            y0 = (k // grid) * cell_h + (cell_h - image.height) // 2
            canvas.paste(image, (x0, y0))
            faces += _scaled_faces(item, shrink, x0, y0)
        if factor != 1.0:
            canvas = canvas.resize(
                (round(canvas.width * factor), round(canvas.height * factor)), Image.Resampling.LANCZOS
            )
            faces = _scaled_faces({"faces": faces}, factor, 0, 0)
        _save(out, f"{prefix}-{n:03d}.jpg", canvas, faces, entries)
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kit", type=Path, default=DEFAULT_KIT)
    parser.add_argument("--half", choices=("a", "b"), default=None, help="only photos of this half of the kit")
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for the kits (down/, mosaic/, stadium/, large/)"
    )
    args = parser.parse_args(argv)
    annotations = json.loads((args.kit / "annotations.json").read_text())
    items = half(annotations["images"], args.half)
    crowds = [i for i in items if len(i["faces"]) >= CROWD]
    kits = {
        "down": lambda out: down(args.kit, crowds, out),
        "mosaic": lambda out: mosaic(args.kit, crowds, out, grid=2, factor=0.5, prefix="mosaic"),
        "stadium": lambda out: mosaic(args.kit, crowds, out, grid=3, factor=1 / 3, prefix="stadium"),
        "large": lambda out: mosaic(args.kit, items, out, grid=4, factor=1.0, prefix="large"),
    }
    for name, make in kits.items():
        out = args.out / name
        (out / "images").mkdir(parents=True, exist_ok=False)
        entries = make(out)
        (out / "annotations.json").write_text(json.dumps({"images": entries}))
        faces = [f for e in entries for f in e["faces"]]
        tiny = sum(f["box"][3] - f["box"][1] < 16 for f in faces)
        print(f"{out}: {len(entries)} images, {len(faces)} faces ({tiny} under 16 px)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
