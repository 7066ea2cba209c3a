"""The protection pipeline for one video: decode, detect, track, anonymize, verify, encode, write.

Threads share the work so that both cores are busy: one decodes, a pool of one
thread per core runs both detectors on frames ahead, the calling thread tracks and
fills, one encodes (the inference runtimes and the encoder release the GIL). Frames
wait in a short look-ahead buffer before they are encoded, so that a face found at
frame *t* is also masked in the frames just before it, where the detector may have
missed it while it came into view.

The second model family (the verifier) searches each *original* frame, next to the
main detector, rather than the filled one after it: every face it finds that the
masks do not cover is masked too. A fill hides what it covers from any detector, so
this finds what re-detection on the filled frame finds, and both models can run at
once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .anonymize.base import Method
from .core import Found, FrameCore
from .detect import FaceDetector
from .detect.base import Detector, overview_scale
from .errors import DetectionError, UnerkanntError, UnsupportedFormatError, UsageError
from .faces import Face, merge_faces
from .media.video import CONTAINERS, Frame, VideoReader, VideoWriter, check_clean_video
from .media.write import atomic_output
from .options import ProtectOptions
from .results import FaceRecord, FileResult
from .track import Track, Tracker, growth
from .videoplan import DETECTABLE, Pass, VideoPlan, video_models

log = logging.getLogger(__name__)

#: Frames a track whose face the consent rule refused stays masked before it is checked again.
CONSENT_RECHECK = 5
#: Frames waiting between the stages.
_QUEUE = 8

#: ``progress(frames_done, frames_total_or_0)``, called after each frame.
Progress = Callable[[int, int], None]


def protect_video(
    source: str | Path,
    output: str | Path,
    *,
    options: ProtectOptions,
    detector: FaceDetector,
    verifier: FaceDetector | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> FileResult:
    """Protect every frame of a video file and write it to ``output`` atomically.

    Parameters
    ----------
    source, output : path
        Input video and where its protected copy goes; the container follows the
        name ending of ``output`` (``.mp4``, ``.mov``, ``.mkv``, ``.webm``, ``.avi``).
    options : ProtectOptions
        ``keep_audio``, ``crf``, ``detect_every`` and ``fill_unchecked`` apply to video.
    detector : FaceDetector
        unerkannt's CenterFace is replaced by its 8-bit build
        (:func:`unerkannt.videoplan.video_models`). Searches follow
        :class:`unerkannt.videoplan.VideoPlan` (whole frame, sweep, small faces).
    verifier : FaceDetector, optional
        Checks the original frames as the plan says when ``options.verify``;
        ``detector`` when ``None``.
    overwrite : bool
    progress : callable, optional
        ``progress(frames_done, frames_total)`` (total ``0`` when unknown).

    Returns
    -------
    FileResult
        One face record per track, and a ``video`` summary with per-track frame and box counts.

    Raises
    ------
    UnerkanntError
        Any failure; then no output file exists (not even a partial one).
    """
    start = time.perf_counter()
    source, output = Path(source), Path(output)
    if os.path.realpath(source) == os.path.realpath(output):
        raise UsageError("the output would replace the input file; originals are never modified")
    container = CONTAINERS.get(output.suffix.lower())
    if container is None:
        raise UnsupportedFormatError(f"cannot write a video named {output.suffix or 'without ending'}")
    core = FrameCore(options, consent_every=CONSENT_RECHECK, audit=False)
    with VideoReader(source, max_pixels=options.max_pixels, audio=options.keep_audio) as reader:
        info = reader.info
        fps = float(info.fps) if info.fps else 30.0
        detector, verifier = video_models(detector, verifier)
        plan = VideoPlan(
            options,
            width=info.width,
            height=info.height,
            fps=fps,
            scales=detector.scales if isinstance(detector, Detector) else (1.0,),
            resolves=(detector.resolves if isinstance(detector, Detector) else None) or DETECTABLE,
        )
        tracker = Tracker(hold=plan.hold, hold_single=plan.hold_single, hold_for=plan.hold_for)
        run = _Run(core=core, options=options, tracker=tracker, plan=plan)
        with atomic_output(output, overwrite=overwrite) as tmp:
            encoder = _Encoder(tmp, container=container, reader=reader, crf=options.crf)
            decoded: queue.Queue[Any] = queue.Queue(_QUEUE)
            stop = threading.Event()
            decoder = threading.Thread(target=_decode, args=(reader, decoded, stop), name="unerkannt-decode")
            detect: _DetectorPool | None = None
            pending: deque[tuple[Frame, Searched | None]] = deque()
            count = 0

            def process(frame: Frame, found: Searched | None) -> None:
                nonlocal count
                # Between detector runs the fast profile trusts the tracks; the verifier
                # runs with the detector.
                detected = found[0].result if found is not None and found[0] is not None else None
                checked = found[1].result if found is not None and found[1] is not None else None
                for ready in run.frame(frame, detected, checked):
                    encoder.put(("frame", ready))
                count += 1
                if progress:
                    progress(count, info.frames)

            try:
                # Everything that starts a thread starts here, so that the finally below
                # stops whatever started when a later part fails (a detector that cannot load).
                decoder.start()
                encoder.start()
                detect = _DetectorPool(detector, (verifier or detector) if options.verify else None)
                while True:
                    item = decoded.get()
                    if item is None:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    if not isinstance(item, Frame):
                        encoder.put(("audio", item))
                        continue
                    index = item.index
                    # ``detectors=()``: the caller chose the faces (manual boxes); no detector runs.
                    search = (
                        plan.detector_passes(index, tracker.active)
                        if plan.searched(index) and options.detectors
                        else None
                    )
                    check = plan.verifier_passes(index) if plan.searched(index) and plan.verified(index) else None
                    pending.append((item, detect.submit(item.image, search=search, verify=check)))
                    # Detection runs ahead on the worker threads; tracking and filling follow in order.
                    while len(pending) > detect.ahead:
                        process(*pending.popleft())
                while pending:
                    process(*pending.popleft())
                for ready in run.flush():
                    encoder.put(("frame", ready))
                encoder.finish()
            finally:
                if detect is not None:
                    detect.close()
                stop.set()
                encoder.abort_if_running()
                with contextlib.suppress(queue.Empty):
                    while True:
                        decoded.get_nowait()
                if decoder.ident is not None:
                    decoder.join()
            check_clean_video(tmp, audio=options.keep_audio and info.audio)
    tracks = tracker.finish()
    warnings = core.warnings
    if info.audio:
        warnings.append("audio kept unchanged: voices can identify people" if options.keep_audio else "audio dropped")
    if options.audit:
        warnings.append("the recognition audit applies to photos only: no face of the video was audited")
    records = [_track_record(t, core.method) for t in tracks if t.first_face is not None]
    seconds = time.perf_counter() - start
    log.info("protected %d frame(s), %d track(s) in %.2fs", count, len(tracks), seconds)
    return FileResult(
        input=str(source),
        output=str(output),
        status="protected",
        faces=records,
        warnings=warnings,
        seconds=seconds,
        video={
            "frames": count,
            "fps": round(fps, 3),
            "duration": round(info.duration, 3),
            **plan.to_json(),
            "audio": ("kept" if options.keep_audio else "dropped") if info.audio else "none",
            "frames_filled_unchecked": run.unchecked,
            "tracks": [t.to_json() for t in tracks],
        },
    )


def _track_record(track: Track, method: Method) -> FaceRecord:
    """The face record of a track: its first detection."""
    face = track.first_face
    if face is None:  # pragma: no cover - callers filter these
        raise UnerkanntError("a track without a face")
    x1, y1, x2, y2 = (round(v) for v in face.box)
    # A track left visible in some frames (consent) is reported as visible, for that person;
    # its per-track summary says in how many frames it was masked all the same.
    action = "visible" if track.visible else method.name
    person = track.person if track.visible else None
    return FaceRecord(
        face=face, action=action, region=(x1, y1, x2, y2), frame=track.first, stage="detect", person=person
    )


class _Run:
    """Per-frame work of one video: feed the tracks, let the frame core protect, look-ahead buffer."""

    def __init__(self, *, core: FrameCore, options: ProtectOptions, tracker: Tracker, plan: VideoPlan) -> None:
        self.core = core
        self.tracker = tracker
        self.plan = plan
        self.backfill = plan.backfill
        self.buffer: deque[tuple[int, int, np.ndarray]] = deque()
        self.fill_unchecked = options.fill_unchecked
        self.unchecked = 0
        self.min_score = plan.min_score

    def frame(
        self,
        frame: Frame,
        detected: Callable[[], list[Face]] | None,
        checked: Callable[[], list[Face]] | None = None,
    ) -> list[Frame]:
        """Process one frame; returns the frames that left the look-ahead buffer.

        ``detected()`` gives the detector's faces (``None``: not searched, tracks only),
        ``checked()`` the verifier's faces on the same original frame (``None``: not checked).
        """
        index = frame.index
        try:
            if detected is not None:
                faces = [f for f in detected() if f.score >= self.min_score]
                self._start_tracks(self.tracker.observe(index, faces), index)
            seen = checked() if checked is not None else None
            found = [
                Found(box=box, face=face, key=t.id, score=t.face.score if t.face is not None else None)
                for t, box, face in self.tracker.boxes(index)
            ]
            result = self.core.protect(frame.image, found=found, frame=index, checked=seen)
            self.tracker.account(index, result.shown)
            out = result.image
            if seen is not None:
                # Every face the verifier sees feeds the tracks: a face only it finds
                # lives on between its runs.
                self._start_tracks(self.tracker.observe(index, seen), index)
        except DetectionError as exc:
            if not self.fill_unchecked:
                raise DetectionError(f"frame {index}: {exc}") from exc
            out = np.full_like(frame.image, 128)
            self.unchecked += 1
            if self.unchecked == 1:
                self.core.warn(f"frames that could not be checked were filled grey (first: {index}: {exc})")
        self.buffer.append((index, frame.pts, out))
        ready = []
        while len(self.buffer) > self.backfill:
            i, pts, image = self.buffer.popleft()
            ready.append(Frame(i, pts, image))
        return ready

    def flush(self) -> list[Frame]:
        ready = [Frame(i, pts, image) for i, pts, image in self.buffer]
        self.buffer.clear()
        return ready

    def _start_tracks(self, born: list[Track], index: int) -> None:
        # A face seen first now was probably there, unseen, in the frames before.
        for track in born:
            back = self.plan.backfill_for(track)
            for i, _, image in self.buffer:
                gap = index - i
                if 0 < gap <= back:
                    box = _grown(track.box, growth(gap))
                    score = track.face.score if track.face is not None else None
                    self.core.hide(image, Found(box=box, key=track.id, score=score))


def _grown(box: tuple[float, float, float, float], factor: float) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2 * factor, (y2 - y1) / 2 * factor
    return (cx - hw, cy - hh, cx + hw, cy + hh)


#: The futures of one frame: the detector's faces and the verifier's (each ``None`` when not run).
Searched = tuple[Future[list[Face]] | None, Future[list[Face]] | None]


class _DetectorPool:
    """Runs the detector and the verifier on frames ahead of the tracking, on every core.

    A detector of unerkannt's own (:class:`unerkannt.detect.base.Detector`) is copied
    once per core, each copy with one inference thread: two frames at once use two
    cores better than one frame on two threads; it runs the passes of the plan. Any
    other detector (fakes, a merged multi-detector) is called from one thread, in frame
    order, on the whole frame.
    """

    def __init__(self, detector: FaceDetector, verifier: FaceDetector | None = None) -> None:
        cores = len(os.sched_getaffinity(0))
        models = [detector] if verifier is None else [detector, verifier]
        self._own = all(isinstance(m, Detector) for m in models)
        workers = min(cores, 4) if self._own and cores > 1 else 1
        self._free: list[queue.Queue[FaceDetector]] = []
        for model in models:
            free: queue.Queue[FaceDetector] = queue.Queue()
            for _ in range(workers):
                if self._own and workers > 1:
                    twin = model.unloaded()  # type: ignore[attr-defined]
                    twin.threads = 1
                    free.put(twin)
                else:
                    free.put(model)
            self._free.append(free)
        self.ahead = 2 * workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="unerkannt-detect")

    def submit(self, image: np.ndarray, *, search: list[Pass] | None, verify: list[Pass] | None) -> Searched | None:
        """Start the detector's ``search`` passes on ``image``, and the verifier's ``verify``
        passes when there is a verifier; ``None`` when neither runs."""
        found = self._pool.submit(self._detect, 0, image, search) if search else None
        checked = self._pool.submit(self._detect, 1, image, verify) if verify and len(self._free) > 1 else None
        return (found, checked) if found is not None or checked is not None else None

    def _detect(self, which: int, image: np.ndarray, passes: list[Pass]) -> list[Face]:
        detector = self._free[which].get()
        try:
            if not isinstance(detector, Detector):
                return detector.detect(image)
            faces = []
            for search in passes:
                x1, y1, x2, y2 = search.region or (0, 0, image.shape[1], image.shape[0])
                for scale in search.scales:
                    faces.extend(detector.detect_at(image, scale, search.region))
                overview = overview_scale((y2 - y1, x2 - x1), search.scales)
                if overview is not None:
                    faces.extend(detector.detect_at(image, overview, search.region))
            return merge_faces(faces)
        finally:
            self._free[which].put(detector)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _decode(reader: VideoReader, out: queue.Queue[Any], stop: threading.Event) -> None:
    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in reader.items():
            if not put(item):
                return
    except BaseException as exc:  # handed to the main thread, which raises it
        put(exc)
        return
    put(None)


class _Encoder:
    """The encoding thread: opens the writer at the first frame, then encodes and muxes."""

    def __init__(self, path: Path, *, container: str, reader: VideoReader, crf: int) -> None:
        self.path = path
        self.container = container
        self.reader = reader
        self.crf = crf
        self.queue: queue.Queue[Any] = queue.Queue(_QUEUE)
        self.error: BaseException | None = None
        self.writer: VideoWriter | None = None
        self.audio: list[Any] = []
        self.thread = threading.Thread(target=self._run, name="unerkannt-encode")
        self._finished = False

    def start(self) -> None:
        self.thread.start()

    def put(self, item: tuple[str, Any]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def finish(self) -> None:
        """Flush and close the file; raises what went wrong in the thread."""
        self.queue.put(None)
        self.thread.join()
        self._finished = True
        if self.error is not None:
            raise self.error
        if self.writer is None:
            raise UnerkanntError("no frame was written")

    def abort_if_running(self) -> None:
        if self._finished:
            return
        self.error = self.error or UnerkanntError("aborted")
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(None)
        # Drain so that the thread sees the end marker even when the queue was full.
        while self.thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.05)
            with contextlib.suppress(queue.Full):
                self.queue.put_nowait(None)
        if self.writer is not None:
            self.writer.abort()

    def _run(self) -> None:
        try:
            while True:
                item = self.queue.get()
                if item is None or self.error is not None:
                    break
                kind, value = item
                if kind == "audio":
                    if self.writer is None:
                        self.audio.append(value)
                    else:
                        self.writer.mux_audio(value)
                    continue
                if self.writer is None:
                    info = self.reader.info
                    height, width = value.image.shape[:2]
                    self.writer = VideoWriter(
                        self.path,
                        container=self.container,
                        width=width,
                        height=height,
                        time_base=info.time_base,
                        fps=info.fps,
                        crf=self.crf,
                        audio=self.reader.audio_stream,
                    )
                    for packet in self.audio:
                        self.writer.mux_audio(packet)
                    self.audio = []
                self.writer.write(value.pts, value.image)
            if self.error is None and self.writer is not None:
                self.writer.close()
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
            if self.writer is not None:
                self.writer.abort()
            # Keep taking items so that the main thread never blocks on a full queue.
            while self.queue.get() is not None:
                pass


__all__ = ["CONSENT_RECHECK", "protect_video"]
