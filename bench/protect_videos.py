#!/usr/bin/env python3
"""Benchmark ``unerkannt protect`` on videos against deface 1.5.0: speed and frame-level leak rate.

One invocation runs every tool on every clip of ``../shared/bench/video`` and prints
one markdown block: machine, date, versions, the exact commands, and a table of
frames per second, real-time factor and leak rate per tool and clip.

Usage (from the repository root, with the project venv active)::

    python bench/protect_videos.py
    python bench/protect_videos.py --markdown-out /tmp/video.md

Rows:

* ``unerkannt default`` / ``unerkannt fast``: the CLI next to ``sys.executable``,
  ``unerkannt protect CLIP -o OUT --quiet --report OUT.json [--profile fast]``, one
  process per clip (model loading included in the time).
* ``deface 1.5.0 (solid)``: its own venv (located or installed as in
  ``bench/protect_images.py``), ``deface CLIP -o OUT --replacewith solid``.

Leak rate: a reference is built from the *original* frames with settings more
thorough than any tool's (CenterFace at 1x and 2x plus YuNet at 1x and 2x, merged;
see ``REFERENCE``). A reference face is leaked in an output frame when less than 60 %
of the pixels of its box changed by more than 12 levels in some channel (the rule of
``../shared/tools/coverage.py``). Frames are compared by index; a tool whose output
has a different frame count or size is reported as such.

Caveat: CenterFace is also the main detector of unerkannt and of deface, so faces
that CenterFace never finds are missing from the reference too; YuNet (another
model family) is there to soften that.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protect_images as common

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLIPS = REPO_ROOT.parent / "shared" / "bench" / "video"
#: Reference detector settings: (detector, threshold, scales).
REFERENCE = (("centerface", 0.4, (1.0, 2.0)), ("yunet", 0.6, (1.0, 2.0)))
#: A face counts as covered when this share of its box changed by more than 12 levels.
MIN_CHANGED = 0.6
CHANGE_LEVELS = 12


@dataclass
class Clip:
    path: Path
    frames: int
    width: int
    height: int
    fps: float
    seconds: float
    reference: list[list[tuple[int, int, int, int]]] = field(default_factory=list)
    agreed: list[list[bool]] = field(default_factory=list)

    @property
    def faces(self) -> int:
        return sum(len(r) for r in self.reference)

    @property
    def faces_agreed(self) -> int:
        return sum(sum(a) for a in self.agreed)


@dataclass
class Result:
    tool: str
    clip: Clip
    command: list[str]
    wall_s: float = 0.0
    cpu_s: float = 0.0
    leaked: int = 0
    faces: int = 0
    leaked_frames: int = 0
    leaked_agreed: int = 0
    faces_agreed: int = 0
    collateral: float = float("nan")
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    #: ``(frame, (x1, y1, x2, y2), share changed, agreed)`` of every leaked reference face.
    leaks: list[tuple[int, tuple[int, int, int, int], float, bool]] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.clip.frames / self.wall_s if self.wall_s else float("nan")

    @property
    def realtime(self) -> float:
        return self.clip.seconds / self.wall_s if self.wall_s else float("nan")


def frames_of(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Presentation times (s) and RGB frames of a video, display rotation applied."""
    times, out = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            if frame.rotation:
                image = np.rot90(image, k=round(frame.rotation / 90) % 4)
            times.append(float(frame.time) if frame.time is not None else float(len(times)))
            out.append(image)
    return times, out


def build_reference(path: Path) -> Clip:
    from unerkannt.detect import load_detector
    from unerkannt.faces import iou, merge_faces

    detectors = [load_detector(name, threshold=t, scales=s) for name, t, s in REFERENCE]
    _, frames = frames_of(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 0)
        seconds = float(stream.duration * stream.time_base) if stream.duration else len(frames) / fps
    clip = Clip(path, len(frames), frames[0].shape[1], frames[0].shape[0], fps, seconds)
    for image in frames:
        found = [d.detect(image) for d in detectors]
        faces = merge_faces([f for group in found for f in group])
        clip.reference.append([tuple(round(v) for v in f.box) for f in faces])  # type: ignore[misc]
        # Faces both model families report: fewer false positives (hands, ties) in the reference.
        clip.agreed.append([all(any(iou(f.box, g.box) >= 0.3 for g in group) for group in found) for f in faces])
    return clip


def score(result: Result, output: Path) -> None:
    """Leaks per reference face; output frames are matched to input frames by presentation time."""
    import cv2

    clip = result.clip
    try:
        out_times, produced = frames_of(output)
    except (av.FFmpegError, OSError) as exc:
        result.error = f"cannot read the output: {exc}"
        return
    in_times, originals = frames_of(clip.path)
    if len(produced) != clip.frames:
        result.notes.append(f"{len(produced)} output frames for {clip.frames} input frames, matched by time")
    if produced and produced[0].shape != originals[0].shape:
        result.notes.append(f"output frames of {produced[0].shape[1]}x{produced[0].shape[0]}, scaled back")
    size = (originals[0].shape[1], originals[0].shape[0])
    produced = [
        p if p.shape == originals[0].shape else cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in produced
    ]
    order = np.asarray(out_times)
    matched = [int(np.argmin(np.abs(order - t))) for t in in_times]
    exact = len(out_times) == len(in_times) and all(abs(a - b) < 1e-3 for a, b in zip(out_times, in_times, strict=True))
    # Timestamps of re-timed outputs can be a frame off; then the shift whose pixels
    # (away from every face) agree best wins.
    shift = 0 if exact else _best_shift(originals, produced, matched, clip.reference)
    if shift:
        result.notes.append(f"output frames matched with a shift of {shift:+d} frame(s) against their timestamps")
    collateral = []
    for i, before in enumerate(originals):
        after = produced[min(max(matched[i] + shift, 0), len(produced) - 1)]
        changed = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2) > CHANGE_LEVELS
        keep = np.ones(changed.shape, bool)
        leaked_here = 0
        for (x1, y1, x2, y2), agreed in zip(clip.reference[i], clip.agreed[i], strict=True):
            x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
            result.faces += 1
            result.faces_agreed += agreed
            share = float(changed[y1:y2, x1:x2].mean())
            if share < MIN_CHANGED:
                result.leaks.append((i, (int(x1), int(y1), int(x2), int(y2)), round(share, 3), bool(agreed)))
                leaked_here += 1
                result.leaked_agreed += agreed
            cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 0.75, (y2 - y1) * 0.75
            keep[int(max(0, cy - hh)) : int(cy + hh), int(max(0, cx - hw)) : int(cx + hw)] = False
        result.leaked += leaked_here
        result.leaked_frames += bool(leaked_here)
        collateral.append(changed[keep].mean() if keep.any() else 0.0)
    result.collateral = float(np.mean(collateral))
    if result.leaks and result.tool.startswith("unerkannt"):
        sheet = output.parent.parent / f"{output.parent.name}-{clip.path.stem}-leaks.png"
        _leak_sheet(result, originals, [produced[min(max(m + shift, 0), len(produced) - 1)] for m in matched], sheet)
        result.notes.append(f"every leaked box, original | output: `{sheet}`")


def _leak_sheet(result: Result, originals: list[np.ndarray], outputs: list[np.ndarray], path: Path) -> None:
    """One row per leaked reference box: its surroundings in the original and in the output, boxed in red."""
    import cv2

    rows = []
    for frame, (x1, y1, x2, y2), _, _ in result.leaks:
        height, width = originals[frame].shape[:2]
        side = max(96, 3 * max(x2 - x1, y2 - y1))
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        left, top = max(0, min(width - side, cx - side // 2)), max(0, min(height - side, cy - side // 2))
        pair = []
        for image in (originals[frame], outputs[frame]):
            crop = np.ascontiguousarray(image[top : top + side, left : left + side][:, :, ::-1])
            cv2.rectangle(crop, (x1 - left, y1 - top), (x2 - left, y2 - top), (0, 0, 255), 1)
            pair.append(cv2.resize(crop, (192, 192), interpolation=cv2.INTER_AREA))
        row = np.hstack([pair[0], np.full((192, 4, 3), 255, np.uint8), pair[1]])
        cv2.putText(row, f"frame {frame}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        rows.append(row)
    cv2.imwrite(str(path), np.vstack(rows))


def _best_shift(
    originals: list[np.ndarray],
    produced: list[np.ndarray],
    matched: list[int],
    reference: list[list[tuple[int, int, int, int]]],
) -> int:
    sample = range(0, len(originals), max(1, len(originals) // 25))
    errors = {}
    for shift in range(-3, 4):
        diffs = []
        for i in sample:
            j = matched[i] + shift
            if not 0 <= j < len(produced):
                continue
            away = np.ones(originals[i].shape[:2], bool)
            for x1, y1, x2, y2 in reference[i]:
                w, h = x2 - x1, y2 - y1
                away[max(0, y1 - h) : y2 + h, max(0, x1 - w) : x2 + w] = False
            if away.any():
                diff = np.abs(originals[i].astype(np.int16) - produced[j].astype(np.int16)).max(axis=2)
                diffs.append(float(diff[away].mean()))
        errors[shift] = float(np.median(diffs)) if diffs else float("inf")
    return min(errors, key=lambda k: (errors[k], abs(k)))


def run_unerkannt(clip: Clip, work: Path, profile: str) -> Result:
    exe = Path(sys.executable).with_name("unerkannt")
    out = work / f"unerkannt-{profile}"
    cmd = [
        str(exe),
        "protect",
        str(clip.path),
        "-o",
        str(out),
        "--quiet",
        "--overwrite",
        "--report",
        str(out) + ".json",
    ]
    if profile != "default":
        cmd += ["--profile", profile]
    result = Result(f"unerkannt {profile}", clip, cmd)
    run = common.run_timed(cmd, work / "logs" / f"unerkannt-{profile}-{clip.path.stem}")
    result.wall_s, result.cpu_s = run.wall_s, run.cpu_s
    if not run.ok:
        result.error = f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
        return result
    score(result, out / clip.path.name)
    return result


def run_deface(clip: Clip, work: Path, deface: Path) -> Result:
    out = work / "deface-solid" / clip.path.name
    out.parent.mkdir(exist_ok=True)
    cmd = [str(deface), str(clip.path), "-o", str(out), "--replacewith", "solid"]
    result = Result("deface 1.5.0 (solid)", clip, cmd)
    run = common.run_timed(cmd, work / "logs" / f"deface-{clip.path.stem}")
    result.wall_s, result.cpu_s = run.wall_s, run.cpu_s
    if not run.ok:
        result.error = f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
        return result
    score(result, out)
    return result


def render(
    results: list[Result], clips: list[Clip], *, command: list[str], versions: list[str], load: tuple[str, str]
) -> str:
    load_before, load_after = load
    now = dt.datetime.now(dt.UTC)
    lines = [
        f"Measured {now:%Y-%m-%d %H:%M} UTC on {common.cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average before the run {load_before}, after {load_after}.",
        "",
        "Command (from the repository root, project venv active):",
        "",
        "```",
        shlex.join(command),
        "```",
        "",
        "Versions: " + "; ".join(versions) + ".",
        "",
        "Reference (on the original frames, every frame): "
        + " + ".join(f"{n} threshold {t} at scales {'/'.join(f'{s:g}x' for s in sc)}" for n, t, sc in REFERENCE)
        + f", merged. A reference face is leaked when under {MIN_CHANGED:.0%} of its box changed by more than "
        f"{CHANGE_LEVELS} levels in the output frame.",
        "",
        "Clips:",
        "",
    ]
    for c in clips:
        lines.append(
            f"- `{c.path.name}`: {c.width}x{c.height}, {c.fps:.2f} fps, {c.frames} frames, {c.seconds:.2f} s, "
            f"{c.faces} reference faces in {sum(1 for r in c.reference if r)} frames, "
            f"{c.faces_agreed} of them found by both model families"
        )
    lines += [
        "",
        "| tool | clip | wall s | frames/s | × real time | leaked faces | leak rate | leak rate, faces both "
        "families find | frames with a leak | collateral |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.tool} | {r.clip.path.name} | {r.wall_s:.1f} | – | – | failed: {r.error} | | | | |")
            continue
        rate = r.leaked / r.faces if r.faces else float("nan")
        lines.append(
            f"| {r.tool} | {r.clip.path.name} | {r.wall_s:.1f} | {r.fps:.1f} | {r.realtime:.2f} | "
            f"{r.leaked}/{r.faces} | {100 * rate:.2f} % | "
            f"{100 * r.leaked_agreed / max(r.faces_agreed, 1):.2f} % ({r.leaked_agreed}/{r.faces_agreed}) | "
            f"{r.leaked_frames}/{r.clip.frames} | "
            f"{100 * r.collateral:.1f} % |"
        )
    tools = dict.fromkeys(r.tool for r in results)
    lines += [
        "",
        "All clips together:",
        "",
        "| tool | frames/s | × real time | leak rate | leak rate, faces both families find |",
        "|---|---:|---:|---:|---:|",
    ]
    for tool in tools:
        rows = [r for r in results if r.tool == tool and not r.error]
        if not rows:
            lines.append(f"| {tool} | failed | | | |")
            continue
        wall = sum(r.wall_s for r in rows)
        frames = sum(r.clip.frames for r in rows)
        seconds = sum(r.clip.seconds for r in rows)
        faces, leaked = sum(r.faces for r in rows), sum(r.leaked for r in rows)
        agreed, leaked_agreed = sum(r.faces_agreed for r in rows), sum(r.leaked_agreed for r in rows)
        lines.append(
            f"| {tool} | {frames / wall:.1f} | {seconds / wall:.2f} | {100 * leaked / max(faces, 1):.2f} % "
            f"({leaked}/{faces}) | {100 * leaked_agreed / max(agreed, 1):.2f} % ({leaked_agreed}/{agreed}) |"
        )
    notes = [f"{r.tool} on `{r.clip.path.name}`: {n}" for r in results for n in r.notes]
    if notes:
        lines += ["", "Notes:", "", *[f"- {n}" for n in notes]]
    lines += [
        "",
        "Wall time is the whole process (model loading, decode, encode included). × real time above 1 is "
        "faster than real time. Collateral: share of pixels outside every 1.5× reference box changed by more than "
        f"{CHANGE_LEVELS} levels (includes re-encoding noise and false positives).",
    ]
    return "\n".join(lines) + "\n"


def _load() -> str:
    """1-minute load average: other work on the machine slows every tool down alike."""
    return f"{os.getloadavg()[0]:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder of clips (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a fresh temp dir)")
    parser.add_argument("--deface-venv", type=Path, default=common.DEFAULT_DEFACE_VENV)
    parser.add_argument("--no-deface", action="store_true", help="skip deface")
    parser.add_argument("--markdown-out", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    paths = sorted(p for p in args.clips.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".webm", ".avi"))
    if not paths:
        parser.error(f"no clips in {args.clips}")
    work = args.work or Path(tempfile.mkdtemp(prefix="unerkannt-bench-video-"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    print(f"working in {work}", file=sys.stderr)
    clips = [build_reference(p) for p in paths]
    load_before = _load()
    versions = [f"unerkannt {common.package_version(sys.executable, 'unerkannt')}", f"PyAV {av.__version__}"]
    deface = None
    if not args.no_deface:
        deface = common.ensure_deface(args.deface_venv, work / "logs")
        python = args.deface_venv / "bin" / "python"
        versions.append(
            f"deface {common.capture([str(deface), '--version'])} (onnxruntime "
            f"{common.package_version(python, 'onnxruntime')}, imageio-ffmpeg "
            f"{common.package_version(python, 'imageio-ffmpeg')})"
        )
    results = []
    for clip in clips:
        for profile in ("default", "fast"):
            results.append(run_unerkannt(clip, work, profile))
            print(f"{results[-1].tool} {clip.path.name}: {results[-1].wall_s:.1f}s", file=sys.stderr)
        if deface is not None:
            results.append(run_deface(clip, work, deface))
            print(f"{results[-1].tool} {clip.path.name}: {results[-1].wall_s:.1f}s", file=sys.stderr)
    command = ["python", "bench/protect_videos.py", *(argv if argv is not None else sys.argv[1:])]
    text = render(results, clips, command=command, versions=versions, load=(load_before, _load()))
    (work / "results.json").write_text(
        json.dumps(
            [
                {
                    "tool": r.tool,
                    "clip": r.clip.path.name,
                    "wall_s": r.wall_s,
                    "faces": r.faces,
                    "leaked": r.leaked,
                    "leaks": r.leaks,
                    "error": r.error,
                }
                for r in results
            ],
            indent=2,
        )
    )
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
