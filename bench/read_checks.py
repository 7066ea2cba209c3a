"""What reading camera files carefully costs: damage checks, raw development, the content sniff.

Measures process CPU time (user + sys of this process; both cores may be used by the
decoders), the median of ``--repeat`` runs, on files made here from the example photo
scaled to ``--size``:

- JPEG: Pillow's decode alone, ``Format.check`` alone (the strict libjpeg-turbo pass at
  1/8 scale) and all of ``read_image``;
- PNG: the same, the check being the chunk checksums;

(the example photo gets a little noise, so that the files have a camera's sizes);
- DNG (12-bit colour filter array, written with pidng): ``read_image``, which develops it
  with LibRaw;
- ``batch.plan`` over a folder of ``--files`` small files (the content sniff of each).

    python bench/read_checks.py --size 4000x3000
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def cpu(fn: Callable[[], object], repeat: int) -> float:
    """Median process CPU seconds of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    from _camera import make_dng
    from unerkannt import ProtectOptions
    from unerkannt.batch import plan
    from unerkannt.media import identify, read_image

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the test pictures")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=2000, help="files in the folder planned")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    scaled = Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB").resize((width, height), Image.LANCZOS)
    # Sensor-like noise, so that the files are as large as a camera's, not as smooth as an upscaled picture.
    noise = np.random.default_rng(0).normal(0, 4, (height, width, 3))
    photo = Image.fromarray(np.clip(np.asarray(scaled) + noise, 0, 255).astype(np.uint8))
    limit = width * height * 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, save in (
            ("jpeg", lambda p: photo.save(p, quality=90)),
            ("png", lambda p: photo.save(p, compress_level=6)),
        ):
            path = work / f"photo.{name}"
            save(path)
            fmt = identify(path)
            assert fmt is not None

            def pillow(path: Path = path) -> None:
                with Image.open(path) as img:
                    img.load()

            def check(path: Path = path, fmt=fmt) -> None:  # type: ignore[no-untyped-def]
                with Image.open(path) as img:
                    fmt.check(path, img, [0])

            rows.append((f"{name} ({path.stat().st_size / 1e6:.1f} MB): Pillow decode", cpu(pillow, args.repeat)))
            rows.append((f"{name}: damage check", cpu(check, args.repeat)))
            rows.append((f"{name}: read_image", cpu(lambda path=path: read_image(path, max_pixels=limit), args.repeat)))
        raw = make_dng(np.asarray(photo)[: height // 2 * 2, : width // 2 * 2], work / "photo.dng")
        develop = cpu(lambda: read_image(raw, max_pixels=limit), max(1, args.repeat // 2))
        rows.append((f"dng ({raw.stat().st_size / 1e6:.1f} MB): read_image (LibRaw)", develop))
        folder = work / "folder"
        folder.mkdir()
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (120, 130, 140)).save(buffer, format="JPEG")
        for i in range(args.files):
            (folder / f"{i:05d}.jpg").write_bytes(buffer.getvalue())
        seconds = cpu(lambda: plan([folder], work / "out", options=ProtectOptions()), args.repeat)
        rows.append((f"plan: {args.files} files", seconds))
    print(f"| step ({width}x{height}) | CPU s (median of {args.repeat}) |")
    print("|---|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
