#!/usr/bin/env python3
"""Benchmark ``unerkannt protect`` on videos against deface 1.5.0: speed, memory and frame-level leak rate.

One invocation runs every tool on every clip of ``../shared/bench/video`` (or
``--clips DIR``), at the clips' own size or at the sizes of ``--sizes``, and prints one
markdown block: machine, date, versions, the exact commands, and a table of wall and
CPU time, frames per second, real-time factor, speed relative to deface in the same
run, the tool's peak memory and the leak rate per tool and clip.

Usage (from the repository root, with the project venv active)::

    python bench/protect_videos.py                               # the kit's clips as they are
    python bench/protect_videos.py --sizes 1080,2160 --length-check
    python bench/protect_videos.py --sizes 360,1080 --frames 30 --no-deface   # quick run

Clips:

* ``--sizes 360,1080,2160`` (shorter side in pixels; ``native`` is the clip as it is):
  each clip is scaled with Lanczos and encoded with H.264 at CRF 18, every frame kept
  with its timestamp (same frame rate and count, video only), into
  ``bench/.cache/video/<sha256 of the clip>/``; made once, reused afterwards. A size
  equal to the clip's own is the clip itself.
* ``--frames N`` cuts every clip to its first N frames (a cached copy, re-encoded the
  same way) for quick runs.

Rows:

* ``unerkannt default`` / ``unerkannt fast`` (``--profiles``): the CLI next to
  ``sys.executable``, ``unerkannt protect CLIP -o OUT --quiet --report OUT.json
  [--profile fast]``, one process per clip (model loading included in the time).
* ``deface 1.5.0 (solid)``: its own venv (located or installed as in
  ``bench/protect_images.py``), ``deface CLIP -o OUT --replacewith solid``.

Each tool runs alone (the bench waits); its wall time, its CPU time (user + system, from
``os.wait4``, helper processes it waited for included) and its peak resident memory
(the kernel's high-water mark from ``os.wait4``; and the sum over its process tree,
sampled every 0.2 s, which counts helper processes such as deface's ffmpeg) are its own,
not the bench's. ``× deface`` is deface's time on the same clip in the same run divided
by the tool's (above 1: faster than deface), for wall and for CPU time.

Leak rate: a reference is built from the *original* frames (of the scaled copy, for
``--sizes``) with settings more thorough than any tool's (CenterFace at 1x and 2x plus
YuNet at 1x and 2x, merged; see ``REFERENCE``). A reference face is leaked in an output
frame when less than 60 % of the pixels of its box changed by more than 12 levels in
some channel (the rule of ``../shared/tools/coverage.py``). Output frames are matched to
input frames by timestamp; a tool whose output has a different frame count or size is
reported as such. Original and output are decoded side by side, one frame at a time, so
the bench's memory does not grow with the clip. Every leaked box of an unerkannt run is
drawn, original next to output, into ``WORK/<tool>-<clip>-leaks.png``.

The reference is cached per clip file in ``bench/.cache/video/reference/``, keyed by the
file's sha256, ``REFERENCE`` and a fingerprint of unerkannt's detectors (their code,
model files, onnxruntime and OpenCV versions): a change of any of these computes it
again. It runs in one process per core with one inference thread each (the same faces
as one process with the runtime's threads, measured; less CPU on a busy machine), saves
its progress every minute (an interrupted run continues where it stopped) and prints
its progress.

``--length-check`` protects the 2160p copy of the longest clip and a copy twice as long
(the clip played forward then backward, scaled the same way, cached) with the default
profile and prints both peaks side by side: peak memory must not grow with the length.

Caveat: CenterFace is also the main detector of unerkannt and of deface, so faces
that CenterFace never finds are missing from the reference too; YuNet (another
model family) is there to soften that.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import hashlib
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protect_images as common

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLIPS = REPO_ROOT.parent / "shared" / "bench" / "video"
CACHE = REPO_ROOT / "bench" / ".cache" / "video"
SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
#: Reference detector settings: (detector, threshold, scales).
REFERENCE = (("centerface", 0.4, (1.0, 2.0)), ("yunet", 0.6, (1.0, 2.0)))
#: A reference face counts as found by both model families when each has a box of IoU >= this.
AGREE_IOU = 0.3
#: A face counts as covered when this share of its box changed by more than 12 levels.
MIN_CHANGED = 0.6
CHANGE_LEVELS = 12
#: How the scaled copies are made (libx264 settings; the scaler is swscale's Lanczos).
COPY_CRF = "18"
COPY_PRESET = "medium"
#: Size of ``--length-check`` (shorter side).
LENGTH_CHECK_SIZE = 2160
#: Seconds between two progress lines and between two saves of a reference in progress.
PROGRESS_EVERY = 10.0
SAVE_EVERY = 60.0

Box = tuple[int, int, int, int]


@dataclass
class Clip:
    path: Path
    frames: int
    width: int
    height: int
    fps: float
    seconds: float
    #: Presentation time (s) of every frame, in decoding order.
    times: list[float]
    reference: list[list[Box]] = field(default_factory=list)
    agreed: list[list[bool]] = field(default_factory=list)
    #: How the reference was had: wall and CPU seconds it took, worker processes, whether it came from the cache.
    reference_wall_s: float = 0.0
    reference_cpu_s: float = 0.0
    reference_workers: int = 0
    reference_cached: bool = False
    #: Why the reference is not the one of the current detectors (``--any-reference-version``).
    reference_note: str = ""

    @property
    def faces(self) -> int:
        return sum(len(r) for r in self.reference)

    @property
    def faces_agreed(self) -> int:
        return sum(sum(a) for a in self.agreed)


@dataclass
class Measured:
    """One tool process run to its end, measured by the bench from outside."""

    returncode: int
    wall_s: float
    #: user + system seconds of the process and of the helper processes it waited for.
    cpu_s: float
    #: The kernel's high-water mark of resident memory (KiB): the process, or the largest helper it waited for.
    maxrss_kib: int
    #: Largest sum of resident memory over the process and its descendants, sampled every 0.2 s (KiB).
    tree_rss_kib: int
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def peak_mib(self) -> float:
        return max(self.maxrss_kib, self.tree_rss_kib) / 1024


@dataclass
class Result:
    tool: str
    clip: Clip
    command: list[str]
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_mib: float = float("nan")
    maxrss_mib: float = float("nan")
    tree_mib: float = float("nan")
    leaked: int = 0
    faces: int = 0
    leaked_frames: int = 0
    leaked_agreed: int = 0
    faces_agreed: int = 0
    collateral: float = float("nan")
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    #: ``(frame, (x1, y1, x2, y2), share changed, agreed)`` of every leaked reference face.
    leaks: list[tuple[int, Box, float, bool]] = field(default_factory=list)
    run: Measured | None = None

    @property
    def fps(self) -> float:
        return self.clip.frames / self.wall_s if self.wall_s else float("nan")

    @property
    def realtime(self) -> float:
        return self.clip.seconds / self.wall_s if self.wall_s else float("nan")


# --------------------------------------------------------------------------- decoding


def _open_video(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded frame, display rotation applied."""
    image = frame.to_ndarray(format="rgb24")
    if frame.rotation:
        image = np.rot90(image, k=round(frame.rotation / 90) % 4)
    return image


def _time(frame: av.VideoFrame, index: int) -> float:
    return float(frame.time) if frame.time is not None else float(index)


def rgb_frames(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """``(presentation time in s, RGB frame)`` of every frame of a video, one at a time."""
    container, stream = _open_video(path)
    with container:
        for i, frame in enumerate(container.decode(stream)):
            yield _time(frame, i), _rgb(frame)


def times_of(path: Path) -> list[float]:
    """Presentation times (s) of every frame, decoded but not converted."""
    container, stream = _open_video(path)
    with container:
        return [_time(frame, i) for i, frame in enumerate(container.decode(stream))]


class FrameWindow:
    """Frames of a video by index, decoded once and in order, converted on demand.

    ``get(j)`` needs ``j`` not below ``j_last - back`` for every earlier call's ``j_last``:
    only frames from there on are kept, so memory holds ``back + 1`` frames at most.
    """

    def __init__(self, path: Path, *, back: int = 0) -> None:
        self._container, stream = _open_video(path)
        self._decoded = self._container.decode(stream)
        self._back = back
        self._next = 0
        self._kept: deque[list[object]] = deque()  # [index, av.VideoFrame or RGB ndarray]

    def get(self, j: int) -> np.ndarray:
        while self._next <= j:
            frame = next(self._decoded, None)
            if frame is None:
                raise IndexError(f"frame {j} is past the end ({self._next} frames)")
            self._kept.append([self._next, frame])
            self._next += 1
        while self._kept and int(self._kept[0][0]) < j - self._back:  # type: ignore[call-overload]
            self._kept.popleft()
        for entry in self._kept:
            if entry[0] == j:
                if isinstance(entry[1], av.VideoFrame):
                    entry[1] = _rgb(entry[1])
                return entry[1]  # type: ignore[return-value]
        raise IndexError(f"frame {j} was already dropped")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> FrameWindow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream_info(path: Path) -> tuple[float, float | None]:
    """Average frame rate and duration (s, ``None`` when the file does not say) of the first video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 0)
        seconds = float(stream.duration * stream.time_base) if stream.duration else None
    return fps, seconds


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- scaled copies


def scaled_size(width: int, height: int, size: int) -> tuple[int, int]:
    """Width and height with the shorter side ``size``, the other rounded to an even number."""
    short, long = min(width, height), max(width, height)
    other = max(2, round(long * size / short / 2) * 2)
    return (other, size) if width >= height else (size, other)


def make_copy(source: Path, *, size: int | None, frames: int | None, there_and_back: bool = False) -> Path:
    """A cached copy of ``source``: scaled to shorter side ``size`` (``None``: its own size),
    cut to its first ``frames`` frames (``None``: all), and, with ``there_and_back``, played
    forward then backward (twice as long).

    Every frame keeps its timestamp (the backward half continues at the clip's frame
    interval); Lanczos scaling, H.264 CRF 18, yuv420p, video only. The copy is checked
    (frame count and timestamps) before it is moved into the cache.
    """
    folder = CACHE / sha256_file(source)[:16]
    name = source.stem + (f"-{size}p" if size else "") + (f"-{frames}f" if frames else "")
    path = folder / (name + ("-there-and-back" if there_and_back else "") + ".mp4")
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    print(f"making {path} ...", file=sys.stderr)
    start = time.perf_counter()
    with av.open(str(source)) as src:
        s_in = src.streams.video[0]
        width, height = scaled_size(s_in.width, s_in.height, size) if size else (s_in.width, s_in.height)
        time_base = s_in.time_base
    expected: list[float] = []
    with av.open(str(source)) as src, av.open(str(tmp), "w", format="mp4") as dst:
        s_in = src.streams.video[0]
        s_in.thread_type = "AUTO"
        out = dst.add_stream("libx264", rate=s_in.average_rate or Fraction(30))
        out.width, out.height, out.pix_fmt = width, height, "yuv420p"
        out.options = {"crf": COPY_CRF, "preset": COPY_PRESET}
        out.time_base = time_base
        out.codec_context.time_base = time_base

        def put(frame: av.VideoFrame, stamp: int) -> None:
            scaled = frame.reformat(width, height, format="yuv420p", interpolation="LANCZOS")
            scaled.pts, scaled.time_base = stamp, time_base
            expected.append(float(stamp * time_base))
            for packet in out.encode(scaled):
                dst.mux(packet)

        # Only the backward half needs the clip's frames at hand (at its own size); the rest streams.
        forward: list[av.VideoFrame] = []
        for i, frame in enumerate(src.decode(s_in)):
            if frames is not None and i >= frames:
                break
            put(frame, frame.pts)
            if there_and_back:
                forward.append(frame)
        if there_and_back:
            step = round((forward[-1].pts - forward[0].pts) / max(1, len(forward) - 1)) or 1
            for k, frame in enumerate(reversed(forward)):
                put(frame, forward[-1].pts + (k + 1) * step)
        for packet in out.encode(None):
            dst.mux(packet)
    got = times_of(tmp)
    if len(got) != len(expected) or any(abs(a - b) > 1e-3 for a, b in zip(got, expected, strict=True)):
        tmp.unlink()
        raise RuntimeError(f"{tmp}: {len(got)} frames with other timestamps than the {len(expected)} written")
    os.replace(tmp, path)
    print(f"made {path} ({width}x{height}, {len(got)} frames) in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return path


def clip_files(folder: Path, sizes: list[int | None], frames: int | None) -> list[Path]:
    """The files to benchmark: every clip of ``folder`` at every size, in clip then size order."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and ".part." not in p.name)
    files = []
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            native = min(stream.width, stream.height)
        for size in sizes:
            if (size is None or size == native) and frames is None:
                files.append(path)
            else:
                files.append(make_copy(path, size=None if size == native else size, frames=frames))
    return files


# --------------------------------------------------------------------------- reference


def detector_fingerprint() -> dict[str, str]:
    """What the reference's faces depend on besides the clip and ``REFERENCE``: the code and
    model files of unerkannt's detectors and the versions of the libraries they run on."""
    import cv2
    import onnxruntime

    spec = importlib.util.find_spec("unerkannt")
    assert spec is not None and spec.submodule_search_locations
    package = Path(spec.submodule_search_locations[0])
    from unerkannt.detect.centerface import MODEL
    from unerkannt.detect.yunet import model_path

    # The modules the reference runs, not the whole package: a new module beside them
    # (a tracker, another detector) leaves the cached references valid.
    code = ["detect/__init__.py", "detect/base.py", "detect/centerface.py", "detect/yunet.py", "faces.py", "models.py"]
    files = [package / name for name in code] + [MODEL, model_path()]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return {
        "unerkannt": importlib.metadata.version("unerkannt"),
        "detector files": digest.hexdigest(),
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
    }


_WORKER_DETECTORS: list = []  # type: ignore[type-arg]


def _init_reference_worker() -> None:
    from unerkannt.detect import load_detector

    _WORKER_DETECTORS[:] = [load_detector(n, threshold=t, scales=s, threads=1) for n, t, s in REFERENCE]


def _reference_frame(image: np.ndarray) -> tuple[list[Box], list[bool]]:
    """Reference boxes of one frame and, for each, whether both model families found it."""
    from unerkannt.faces import iou, merge_faces

    found = [d.detect(image) for d in _WORKER_DETECTORS]
    faces = merge_faces([f for group in found for f in group])
    boxes = [tuple(round(v) for v in f.box) for f in faces]
    # Faces both model families report: fewer false positives (hands, ties) in the reference.
    agreed = [all(any(iou(f.box, g.box) >= AGREE_IOU for g in group) for group in found) for f in faces]
    return boxes, agreed  # type: ignore[return-value]


def reference(path: Path, *, workers: int, fingerprint: dict[str, str], any_version: bool = False) -> Clip:
    """The clip's frames, timestamps and reference faces, from the cache or computed (and cached).

    With ``any_version``, a cached reference of the same file and settings made by other
    detector code is taken when there is none of this code (the newest; the clip says so).
    """
    digest = sha256_file(path)
    key = {"clip sha256": digest, "reference": REFERENCE, "agree iou": AGREE_IOU, **fingerprint}
    key_hash = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    cached = CACHE / "reference" / f"{path.stem}-{digest[:12]}-{key_hash[:12]}.json"
    partial = cached.with_suffix(".partial.json")
    fps, seconds = stream_info(path)
    if cached.exists():
        data = json.loads(cached.read_text())
        clip = _clip_from(path, data, fps, seconds)
        clip.reference_cached = True
        print(f"reference of {path.name}: cached ({cached.name})", file=sys.stderr)
        return clip
    if any_version:
        settings = json.loads(json.dumps([REFERENCE, AGREE_IOU]))
        others = []
        for other in cached.parent.glob(f"{path.stem}-{digest[:12]}-*.json"):
            if other.name.endswith((".partial.json", ".tmp")):
                continue
            data = json.loads(other.read_text())
            if [data["key"]["reference"], data["key"]["agree iou"]] == settings:
                others.append((other.stat().st_mtime, other, data))
        if others:
            _, other, data = max(others, key=lambda o: o[0])
            clip = _clip_from(path, data, fps, seconds)
            clip.reference_cached = True
            changed = ", ".join(k for k, v in fingerprint.items() if data["key"].get(k) != v)
            clip.reference_note = f"cached reference of other detector code (differs in: {changed}; `{other.name}`)"
            print(f"reference of {path.name}: {clip.reference_note}", file=sys.stderr)
            return clip
    cached.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(partial.read_text()) if partial.exists() else {"times": [], "reference": [], "agreed": []}
    data.update(key=key, workers=workers)
    done = len(data["reference"])
    wall_before, cpu_before = data.get("wall_s", 0.0), data.get("cpu_s", 0.0)
    if done:
        print(f"reference of {path.name}: continuing after frame {done}", file=sys.stderr)
    total = _frame_count(path)
    start = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    last_print = last_save = start
    pending: deque[cf.Future[tuple[list[Box], list[bool]]]] = deque()

    def collect_first() -> None:
        nonlocal last_print, last_save
        boxes, agreed = pending.popleft().result()
        data["reference"].append(boxes)
        data["agreed"].append(agreed)
        now, n = time.perf_counter(), len(data["reference"])
        if now - last_print >= PROGRESS_EVERY:
            last_print = now
            per = (now - start) / (n - done)
            print(
                f"reference of {path.name}: {n}/{total} frames, {per:.1f} s per frame, "
                f"{per * (total - n) / 60:.1f} min left",
                file=sys.stderr,
            )
        if now - last_save >= SAVE_EVERY:
            last_save = now
            _save_partial(partial, data, wall_before + now - start, cpu_before + _cpu_since(usage))

    ctx = multiprocessing.get_context("spawn")  # The bench holds decoder threads: no fork.
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_reference_worker) as pool:
        for i, (stamp, image) in enumerate(rgb_frames(path)):
            if i < done:
                continue  # In the saved progress already, its timestamp too.
            data["times"].append(stamp)
            pending.append(pool.submit(_reference_frame, image))
            del image
            # Few frames in flight: a 4K frame is 25 MB.
            while len(pending) >= 2 * workers:
                collect_first()
        while pending:
            collect_first()
    wall = wall_before + time.perf_counter() - start
    cpu = cpu_before + _cpu_since(usage)  # The workers are reaped by now: their CPU counts.
    data.update(wall_s=wall, cpu_s=cpu, computed=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, cached)
    partial.unlink(missing_ok=True)
    print(
        f"reference of {path.name}: {len(data['reference'])} frames in {wall / 60:.1f} min "
        f"({wall / max(1, len(data['reference'])):.1f} s per frame, CPU {cpu / 60:.1f} min)",
        file=sys.stderr,
    )
    return _clip_from(path, data, fps, seconds)


def _frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return container.streams.video[0].frames or 0


def _cpu_since(usage: tuple[resource.struct_rusage, resource.struct_rusage]) -> float:
    now = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(b.ru_utime - a.ru_utime + b.ru_stime - a.ru_stime for a, b in zip(usage, now, strict=True))


def _save_partial(partial: Path, data: dict, wall: float, cpu: float) -> None:  # type: ignore[type-arg]
    n = len(data["reference"])
    snapshot = {**data, "times": data["times"][:n], "wall_s": wall, "cpu_s": cpu}
    tmp = partial.with_suffix(".tmp")
    tmp.write_text(json.dumps(snapshot))
    os.replace(tmp, partial)


def _clip_from(path: Path, data: dict, fps: float, seconds: float | None) -> Clip:  # type: ignore[type-arg]
    times = data["times"]
    first = next(iter(rgb_frames(path)))[1]
    clip = Clip(
        path,
        len(times),
        first.shape[1],
        first.shape[0],
        fps,
        seconds if seconds is not None else len(times) / fps,
        times,
        [[tuple(b) for b in r] for r in data["reference"]],  # type: ignore[misc]
        data["agreed"],
        reference_wall_s=data["wall_s"],
        reference_cpu_s=data["cpu_s"],
        reference_workers=data["workers"],
    )
    if len(clip.reference) != clip.frames:
        raise RuntimeError(f"{path}: reference of {len(clip.reference)} frames for {clip.frames}")
    return clip


# --------------------------------------------------------------------------- scoring


def score(result: Result, output: Path) -> None:
    """Leaks per reference face; output frames are matched to input frames by presentation time.

    Original and output are decoded side by side, one frame each at a time.
    """
    import cv2

    clip = result.clip
    try:
        out_times = times_of(output)
    except (av.FFmpegError, OSError) as exc:
        result.error = f"cannot read the output: {exc}"
        return
    if not out_times:
        result.error = "the output has no frames"
        return
    if len(out_times) != clip.frames:
        result.notes.append(f"{len(out_times)} output frames for {clip.frames} input frames, matched by time")
    order = np.asarray(out_times)
    matched = [int(np.argmin(np.abs(order - t))) for t in clip.times]
    exact = len(out_times) == clip.frames and all(abs(a - b) < 1e-3 for a, b in zip(out_times, clip.times, strict=True))
    shift = 0
    if not exact:
        # Timestamps of re-timed outputs can be a frame off, or start at 0 where the input
        # starts later (deface on a clip cut short); the alignment and the shift whose
        # pixels (away from every face) agree best win.
        relative = order - order[0]
        from_start = [int(np.argmin(np.abs(relative - (t - clip.times[0])))) for t in clip.times]
        candidates = [(matched, "their timestamps")]
        if from_start != matched:
            candidates.append((from_start, "their time since the first frame"))
        best = min(
            ((m, how, *_best_shift(clip, output, m, len(out_times))) for m, how in candidates),
            key=lambda c: c[3],
        )
        matched, how, shift, _ = best
        if shift or how != candidates[0][1]:
            result.notes.append(f"output frames matched with a shift of {shift:+d} frame(s) against {how}")
    draw = result.tool.startswith("unerkannt")
    rows: list[np.ndarray] = []
    collateral = []
    size = (clip.width, clip.height)
    with FrameWindow(output) as produced:
        for i, (_, before) in enumerate(rgb_frames(clip.path)):
            after = produced.get(min(max(matched[i] + shift, 0), len(out_times) - 1))
            if after.shape != before.shape:
                if i == 0:
                    result.notes.append(f"output frames of {after.shape[1]}x{after.shape[0]}, scaled back")
                after = cv2.resize(after, size, interpolation=cv2.INTER_AREA)
            diff = cv2.absdiff(before, after)
            changed = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2]) > CHANGE_LEVELS
            keep = np.ones(changed.shape, bool)
            leaks_here = []
            for (x1, y1, x2, y2), agreed in zip(clip.reference[i], clip.agreed[i], strict=True):
                x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
                result.faces += 1
                result.faces_agreed += agreed
                share = float(changed[y1:y2, x1:x2].mean())
                if share < MIN_CHANGED:
                    leaks_here.append((i, (int(x1), int(y1), int(x2), int(y2)), round(share, 3), bool(agreed)))
                    result.leaked_agreed += agreed
                cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 0.75, (y2 - y1) * 0.75
                keep[int(max(0, cy - hh)) : int(cy + hh), int(max(0, cx - hw)) : int(cx + hw)] = False
            result.leaks += leaks_here
            result.leaked += len(leaks_here)
            result.leaked_frames += bool(leaks_here)
            collateral.append(changed[keep].mean() if keep.any() else 0.0)
            if draw and leaks_here:
                # Only the crops of leaking frames are kept: the sheet costs no whole frames.
                rows += [_leak_row(before, after, i, box) for _, box, _, _ in leaks_here]
    result.collateral = float(np.mean(collateral))
    if rows:
        sheet = output.parent.parent / f"{output.parent.name}-{clip.path.stem}-leaks.png"
        cv2.imwrite(str(sheet), np.vstack(rows))
        result.notes.append(f"every leaked box, original | output: `{sheet}`")


def _leak_row(original: np.ndarray, output: np.ndarray, frame: int, box: Box) -> np.ndarray:
    """A leaked reference box's surroundings in the original and in the output, boxed in red (BGR)."""
    import cv2

    x1, y1, x2, y2 = box
    height, width = original.shape[:2]
    side = max(96, 3 * max(x2 - x1, y2 - y1))
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    left, top = max(0, min(width - side, cx - side // 2)), max(0, min(height - side, cy - side // 2))
    pair = []
    for image in (original, output):
        crop = np.ascontiguousarray(image[top : top + side, left : left + side][:, :, ::-1])
        cv2.rectangle(crop, (x1 - left, y1 - top), (x2 - left, y2 - top), (0, 0, 255), 1)
        pair.append(cv2.resize(crop, (192, 192), interpolation=cv2.INTER_AREA))
    row = np.hstack([pair[0], np.full((192, 4, 3), 255, np.uint8), pair[1]])
    cv2.putText(row, f"frame {frame}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return row


def _best_shift(clip: Clip, output: Path, matched: list[int], n_out: int) -> tuple[int, float]:
    """The shift in ``-3..3`` frames whose output pixels away from every face agree best
    with the original, on about 25 frames spread over the clip (streamed too), and its
    median difference in levels."""
    import cv2

    sample = set(range(0, clip.frames, max(1, clip.frames // 25)))
    errors: dict[int, list[float]] = {shift: [] for shift in range(-3, 4)}
    size = (clip.width, clip.height)
    with FrameWindow(output, back=6) as produced:
        for i, (_, original) in enumerate(rgb_frames(clip.path)):
            if i not in sample:
                continue
            away = np.ones(original.shape[:2], bool)
            for x1, y1, x2, y2 in clip.reference[i]:
                w, h = x2 - x1, y2 - y1
                away[max(0, y1 - h) : y2 + h, max(0, x1 - w) : x2 + w] = False
            if not away.any():
                continue
            for shift in range(-3, 4):
                j = matched[i] + shift
                if not 0 <= j < n_out:
                    continue
                after = produced.get(j)
                if after.shape != original.shape:
                    after = cv2.resize(after, size, interpolation=cv2.INTER_AREA)
                diff = cv2.absdiff(original, after).max(axis=2)
                errors[shift].append(float(diff[away].mean()))
    median = {k: float(np.median(v)) if v else float("inf") for k, v in errors.items()}
    shift = min(median, key=lambda k: (median[k], abs(k)))
    return shift, median[shift]


# --------------------------------------------------------------------------- running the tools


def run_measured(cmd: list[str], log_stem: Path) -> Measured:
    """Run ``cmd`` alone to its end: wall time, its own CPU time and peak memory (``os.wait4``),
    and its process tree's resident memory sampled every 0.2 s. stdout and stderr go to
    ``LOG_STEM.stdout`` / ``LOG_STEM.stderr``."""
    with log_stem.with_suffix(".stdout").open("wb") as out, log_stem.with_suffix(".stderr").open("wb") as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as exc:
            return Measured(127, 0.0, 0.0, 0, 0, f"{type(exc).__name__}: {exc}")
        tree = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree = max(tree, _tree_rss_kib(proc.pid))
            time.sleep(0.2)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        proc.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss,
        tree,
        log_stem.with_suffix(".stderr").read_text(errors="replace"),
    )


def _tree_rss_kib(pid: int) -> int:
    """Resident memory (KiB) of ``pid`` and all its descendants now; 0 for those already gone."""
    total, todo, page_kib = 0, [pid], os.sysconf("SC_PAGE_SIZE") // 1024
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page_kib
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def _measure(result: Result, cmd: list[str], log_stem: Path) -> bool:
    run = result.run = run_measured(cmd, log_stem)
    result.wall_s, result.cpu_s = run.wall_s, run.cpu_s
    result.peak_mib, result.maxrss_mib, result.tree_mib = run.peak_mib, run.maxrss_kib / 1024, run.tree_rss_kib / 1024
    if not run.ok:
        result.error = f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
    return run.ok


def unerkannt_command(clip_path: Path, out: Path, profile: str) -> list[str]:
    exe = Path(sys.executable).with_name("unerkannt")
    cmd = [str(exe), "protect", str(clip_path), "-o", str(out), "--quiet", "--overwrite", "--report", f"{out}.json"]
    return cmd + (["--profile", profile] if profile != "default" else [])


def run_unerkannt(clip: Clip, work: Path, profile: str) -> Result:
    out = work / f"unerkannt-{profile}"
    cmd = unerkannt_command(clip.path, out, profile)
    result = Result(f"unerkannt {profile}", clip, cmd)
    if _measure(result, cmd, work / "logs" / f"unerkannt-{profile}-{clip.path.stem}"):
        score(result, out / clip.path.name)
    return result


def run_deface(clip: Clip, work: Path, deface: Path) -> Result:
    out = work / "deface-solid" / clip.path.name
    out.parent.mkdir(exist_ok=True)
    cmd = [str(deface), str(clip.path), "-o", str(out), "--replacewith", "solid"]
    result = Result("deface 1.5.0 (solid)", clip, cmd)
    if _measure(result, cmd, work / "logs" / f"deface-{clip.path.stem}"):
        score(result, out)
    return result


@dataclass
class LengthRun:
    path: Path
    frames: int
    seconds: float
    run: Measured
    #: The run of the table above, not one of its own.
    from_table: bool = False


def length_check(source: Path, frames: int | None, work: Path, results: list[Result]) -> list[LengthRun]:
    """unerkannt (default profile) on the 2160p copy of ``source`` and on its there-and-back copy.

    The first is the table's run when the table has it (the same command on the same file).
    """
    runs = []
    out = work / "length-check"
    for there_and_back in (False, True):
        path = make_copy(source, size=LENGTH_CHECK_SIZE, frames=frames, there_and_back=there_and_back)
        fps, seconds = stream_info(path)
        n = len(times_of(path))
        done = [r.run for r in results if r.clip.path == path and r.tool == "unerkannt default" and r.run]
        if done and done[0].ok:
            run, from_table = done[0], True
        else:
            print(f"length check: unerkannt default on {path.name} ...", file=sys.stderr)
            run = run_measured(unerkannt_command(path, out, "default"), work / "logs" / f"length-{path.stem}")
            from_table = False
        print(f"length check: {path.name}: {run.wall_s:.0f} s, peak {run.peak_mib:.0f} MiB", file=sys.stderr)
        runs.append(LengthRun(path, n, seconds if seconds is not None else n / fps, run, from_table))
    return runs


# --------------------------------------------------------------------------- report


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if numerator and denominator else "–"


def _peak(r: Result) -> str:
    if r.tree_mib > r.maxrss_mib * 1.05:
        return f"{r.peak_mib:.0f} (process {r.maxrss_mib:.0f})"
    return f"{r.peak_mib:.0f}"


def render(
    results: list[Result],
    clips: list[Clip],
    *,
    command: list[str],
    versions: list[str],
    load: tuple[str, str],
    length: list[LengthRun],
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
        "Reference (on the original frames of each file, every frame): "
        + " + ".join(f"{n} threshold {t} at scales {'/'.join(f'{s:g}x' for s in sc)}" for n, t, sc in REFERENCE)
        + f", merged. A reference face is leaked when under {MIN_CHANGED:.0%} of its box changed by more than "
        f"{CHANGE_LEVELS} levels in the output frame.",
        "",
        "Clips (copies: Lanczos, H.264 CRF 18, every frame and timestamp of the original kept):",
        "",
    ]
    for c in clips:
        how = c.reference_note or (
            "cached"
            if c.reference_cached
            else f"computed in this run, {c.reference_workers} processes of one inference thread"
        )
        lines.append(
            f"- `{c.path.name}`: {c.width}x{c.height}, {c.fps:.2f} fps, {c.frames} frames, {c.seconds:.2f} s, "
            f"{c.faces} reference faces in {sum(1 for r in c.reference if r)} frames, "
            f"{c.faces_agreed} of them found by both model families; reference {how}: "
            f"{c.reference_wall_s / 60:.1f} min wall, {c.reference_wall_s / max(c.frames, 1):.2f} s per frame, "
            f"CPU {c.reference_cpu_s / max(c.frames, 1):.2f} s per frame"
        )
    deface = {r.clip.path: r for r in results if r.tool.startswith("deface") and not r.error}
    lines += [
        "",
        "| tool | clip | wall s | CPU s | frames/s | × real time | × deface (wall) | × deface (CPU) | peak MiB "
        "| leaked faces | leak rate | leak rate, faces both families find | frames with a leak | collateral |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ref = deface.get(r.clip.path)
        if r.error:
            lines.append(
                f"| {r.tool} | {r.clip.path.name} | {r.wall_s:.1f} | {r.cpu_s:.1f} | – | – | – | – | {_peak(r)} "
                f"| failed: {r.error} | | | | |"
            )
            continue
        rate = r.leaked / r.faces if r.faces else float("nan")
        lines.append(
            f"| {r.tool} | {r.clip.path.name} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {r.fps:.1f} | {r.realtime:.2f} | "
            f"{_ratio(ref.wall_s, r.wall_s) if ref else '–'} | {_ratio(ref.cpu_s, r.cpu_s) if ref else '–'} | "
            f"{_peak(r)} | {r.leaked}/{r.faces} | {100 * rate:.2f} % | "
            f"{100 * r.leaked_agreed / max(r.faces_agreed, 1):.2f} % ({r.leaked_agreed}/{r.faces_agreed}) | "
            f"{r.leaked_frames}/{r.clip.frames} | "
            f"{100 * r.collateral:.1f} % |"
        )
    lines += [
        "",
        "All clips together, by size (shorter side of the frames):",
        "",
        "| tool | size | frames/s | × real time | × deface (wall) | × deface (CPU) | peak MiB (largest) | leak rate "
        "| leak rate, faces both families find |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[str, int], list[Result]] = {}
    for r in results:
        groups.setdefault((r.tool, min(r.clip.width, r.clip.height)), [])
    for (tool, size), _ in sorted(groups.items(), key=lambda kv: (kv[0][1], list(groups).index(kv[0]))):
        rows = [r for r in results if r.tool == tool and min(r.clip.width, r.clip.height) == size and not r.error]
        if not rows:
            lines.append(f"| {tool} | {size} | failed | | | | | | |")
            continue
        wall, cpu = sum(r.wall_s for r in rows), sum(r.cpu_s for r in rows)
        frames = sum(r.clip.frames for r in rows)
        seconds = sum(r.clip.seconds for r in rows)
        refs = [deface.get(r.clip.path) for r in rows]
        vs_wall = vs_cpu = "–"
        if all(refs):
            vs_wall = _ratio(sum(d.wall_s for d in refs if d), wall)
            vs_cpu = _ratio(sum(d.cpu_s for d in refs if d), cpu)
        faces, leaked = sum(r.faces for r in rows), sum(r.leaked for r in rows)
        agreed, leaked_agreed = sum(r.faces_agreed for r in rows), sum(r.leaked_agreed for r in rows)
        lines.append(
            f"| {tool} | {size} | {frames / wall:.1f} | {seconds / wall:.2f} | {vs_wall} | {vs_cpu} | "
            f"{max(r.peak_mib for r in rows):.0f} | {100 * leaked / max(faces, 1):.2f} % ({leaked}/{faces}) | "
            f"{100 * leaked_agreed / max(agreed, 1):.2f} % ({leaked_agreed}/{agreed}) |"
        )
    if length:
        lines += [
            "",
            f"Peak memory against the video's length (unerkannt default, {LENGTH_CHECK_SIZE}p; the second file is the "
            "first played forward then backward):",
            "",
            "| file | frames | s of video | wall s | CPU s | frames/s | peak MiB | exit |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for lr in length:
            name = f"{lr.path.name}{' (the run of the table)' if lr.from_table else ''}"
            lines.append(
                f"| {name} | {lr.frames} | {lr.seconds:.2f} | {lr.run.wall_s:.1f} | {lr.run.cpu_s:.1f} | "
                f"{lr.frames / lr.run.wall_s:.2f} | {lr.run.peak_mib:.0f} | {lr.run.returncode} |"
            )
    notes = [f"{r.tool} on `{r.clip.path.name}`: {n}" for r in results for n in r.notes]
    if notes:
        lines += ["", "Notes:", "", *[f"- {n}" for n in notes]]
    lines += [
        "",
        "Wall time is the whole process (model loading, decode, encode included). × real time above 1 is "
        "faster than real time; × deface is deface's time on the same clip in this run divided by the tool's (above 1: "
        "faster than deface). CPU s is user + system time of the tool's process and of the helper processes it "
        "waited for. Peak MiB is the tool's peak resident memory: the kernel's high-water mark of the process, or, "
        "where larger, the sum over its process tree sampled every 0.2 s (then the process alone in brackets). "
        "Collateral: share of pixels outside every 1.5× reference box changed by more than "
        f"{CHANGE_LEVELS} levels (includes re-encoding noise and false positives).",
    ]
    return "\n".join(lines) + "\n"


def _load() -> str:
    """1-minute load average: other work on the machine slows every tool down alike."""
    return f"{os.getloadavg()[0]:.1f}"


def _sizes(text: str) -> list[int | None]:
    sizes: list[int | None] = []
    for part in text.split(","):
        part = part.strip().lower().removesuffix("p")
        if part == "native":
            sizes.append(None)
        elif part.isdigit() and int(part) >= 16:
            sizes.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"not a size (shorter side in pixels, or 'native'): {part!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder of clips (default: %(default)s)")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[None],
        metavar="S,S",
        help="shorter sides to scale the clips to, e.g. 360,1080,2160, or 'native' (default: native)",
    )
    parser.add_argument("--frames", type=int, default=None, metavar="N", help="cut every clip to its first N frames")
    parser.add_argument("--profiles", default="default,fast", help="unerkannt profiles to run (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a fresh temp dir)")
    parser.add_argument("--deface-venv", type=Path, default=common.DEFAULT_DEFACE_VENV)
    parser.add_argument("--no-deface", action="store_true", help="skip deface")
    parser.add_argument(
        "--length-check",
        action="store_true",
        help=f"also protect the {LENGTH_CHECK_SIZE}p copy of the longest clip and one twice as long; print both peaks",
    )
    parser.add_argument(
        "--reference-workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="processes computing the reference (default: one per core)",
    )
    parser.add_argument(
        "--any-reference-version",
        action="store_true",
        help="take a cached reference made by other detector code when there is none of this code (said in the output)",
    )
    parser.add_argument("--markdown-out", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    if args.frames is not None and args.frames < 2:
        parser.error("--frames needs at least 2")
    if not args.clips.is_dir():
        parser.error(f"not a folder: {args.clips}")
    work = args.work or Path(tempfile.mkdtemp(prefix="unerkannt-bench-video-"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    print(f"working in {work}", file=sys.stderr)
    files = clip_files(args.clips, args.sizes, args.frames)
    if not files:
        parser.error(f"no clips in {args.clips}")
    fingerprint = detector_fingerprint()
    clips = [
        reference(p, workers=args.reference_workers, fingerprint=fingerprint, any_version=args.any_reference_version)
        for p in files
    ]
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
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    results = []
    for clip in clips:
        for profile in profiles:
            results.append(run_unerkannt(clip, work, profile))
            print(f"{results[-1].tool} {clip.path.name}: {results[-1].wall_s:.1f}s", file=sys.stderr)
        if deface is not None:
            results.append(run_deface(clip, work, deface))
            print(f"{results[-1].tool} {clip.path.name}: {results[-1].wall_s:.1f}s", file=sys.stderr)
    length = []
    if args.length_check:
        sources = sorted(p for p in args.clips.iterdir() if p.suffix.lower() in SUFFIXES and ".part." not in p.name)
        longest = max(sources, key=lambda p: len(times_of(p)))
        length = length_check(longest, args.frames, work, results)
    command = ["python", "bench/protect_videos.py", *(argv if argv is not None else sys.argv[1:])]
    text = render(results, clips, command=command, versions=versions, load=(load_before, _load()), length=length)
    (work / "results.json").write_text(
        json.dumps(
            {
                "results": [
                    {
                        "tool": r.tool,
                        "clip": r.clip.path.name,
                        "wall_s": r.wall_s,
                        "cpu_s": r.cpu_s,
                        "peak_rss_mib": r.maxrss_mib,
                        "peak_tree_mib": r.tree_mib,
                        "faces": r.faces,
                        "leaked": r.leaked,
                        "leaks": r.leaks,
                        "error": r.error,
                    }
                    for r in results
                ],
                "reference": [
                    {
                        "clip": c.path.name,
                        "frames": c.frames,
                        "wall_s": c.reference_wall_s,
                        "cpu_s": c.reference_cpu_s,
                        "cached": c.reference_cached,
                    }
                    for c in clips
                ],
                "length_check": [
                    {
                        "file": lr.path.name,
                        "frames": lr.frames,
                        "wall_s": lr.run.wall_s,
                        "cpu_s": lr.run.cpu_s,
                        "peak_rss_mib": lr.run.maxrss_kib / 1024,
                        "peak_tree_mib": lr.run.tree_rss_kib / 1024,
                        "returncode": lr.run.returncode,
                    }
                    for lr in length
                ],
            },
            indent=2,
        )
    )
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
