"""How a video is searched for faces: every choice of models, scales, regions and intervals.

The rules follow from what the detectors can do, not from the clips of a benchmark: they
find faces down to about ``resolves`` pixels high in their input
(:attr:`unerkannt.detect.base.Detector.resolves`, 10 for CenterFace), and their cost grows
with the pixels they look at. So a frame of any size gets about the same budget, the
pixels of a frame whose shorter side is :data:`SEARCH_SIDE`, and every face the detector
can see at the video's own resolution is searched for at full resolution within a bounded
number of frames.

On every searched frame (every frame; the fast profile every :data:`FAST_DETECT_EVERY`-th),
the detector looks at:

1. **The whole frame** scaled to a shorter side of at most :data:`SEARCH_SIDE` (its
   profile's scales apply on top). A 640x360 frame is searched as it is, a 1080p frame
   at 1/2, a 4K frame at 1/4: the pass costs about the same at any size and finds every
   face of ``resolves / scale`` pixels or more in every searched frame.
2. **One tile at full resolution** when that pass is scaled down (the sweep). The frame
   is cut into tiles of about the pixels of the whole-frame pass, overlapping by twice
   the largest face the whole-frame pass may miss, and one tile is searched per searched
   frame, in turn: a face the detector finds at full resolution is looked for at least
   once every :attr:`VideoPlan.sweep_period` frames. The look-ahead buffer of the
   pipeline holds that many frames, so a face found late is masked back to the frame
   where the sweep last looked there without seeing it. When the whole frame at full
   size costs no more than the scaled pass and a tile together (1280x720), it is
   searched so instead.
3. **The places of small faces**: around the guess of every track whose face is too
   small for the whole-frame pass (under twice ``resolves`` there), at full resolution,
   enlarged up to 2x for the tiniest, so that a small face once found is followed in
   every searched frame instead of only when the sweep comes back. The smallest faces
   first, within the pixels of one tile.

The verifier, the second model family, looks at the *original* frame every
:data:`VERIFY_EVERY`-th searched frame (thorough: every one): the whole frame at a
shorter side of :data:`SEARCH_SIDE` (small frames enlarged, at most :data:`VERIFY_UPSCALE`,
which is where small and turned faces of a 640x360 clip show up) and, for large frames,
one tile of its own sweep at full resolution.

Between searches, tracks carry every face (:mod:`unerkannt.track`): they are held
:data:`HOLD_SECONDS` after their last detection, and a face seen first now is masked in
the :data:`BACKFILL` frames before it too (more when the sweep is longer).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .detect import FaceDetector
from .options import ProtectOptions
from .track import Track

#: The smallest face, in pixels of the detector's input, that a detector which does not
#: say (:attr:`unerkannt.detect.base.Detector.resolves`) is taken to find reliably.
DETECTABLE = 10.0
#: Shorter side, in pixels, at which the detector searches whole frames (the per-frame budget).
SEARCH_SIDE = 540
#: Shorter side at which the verifier searches whole frames: small frames (640x360) are
#: enlarged, by at most :data:`VERIFY_UPSCALE`, where it then finds the small, blurred and
#: turned faces that neither model finds at their own size.
VERIFY_SIDE = 720
VERIFY_UPSCALE = 2.0
#: Small faces are searched at their place enlarged by at most this.
REGION_UPSCALE = 2.0
#: Searched frames per verifier run, per profile (default: every fourth frame, which keeps
#: 640x360 at 30 fps faster than real time on two cores; fast: every second searched frame,
#: that is every sixth). Profiles not named here verify every searched frame.
VERIFY_EVERY = {"default": 4, "fast": 2}
#: Frames the fast profile lets pass between two searches (tracks fill the gaps).
FAST_DETECT_EVERY = 3
#: Videos run these detectors in the place of the one named: the detector searches every
#: frame, and the 8-bit CenterFace is about 1.7x faster at the same recall on the
#: detection kit (bench/RESULTS.md), in every profile (photos choose theirs in
#: :mod:`unerkannt.detect.search`).
VIDEO_MODELS = {"centerface": "centerface-int8"}
#: Lowest detector score that starts or feeds a track, per profile, when no threshold was
#: given. Tracking covers a face in the frames where its score dips, so a video does not
#: need the photo default's very low threshold (0.06), at which CenterFace also fires on
#: hands and textures now and then: 0.1, the fast profile's threshold, left the leak rate
#: of the video benchmark as it was and cut collateral from 23 % to 15 % (bench/RESULTS.md).
VIDEO_MIN_SCORE = {"default": 0.1}
#: Seconds a mask stays on a face's guessed place after it was last detected.
HOLD_SECONDS = 0.3
#: Frames before a face's first detection that are masked too (plus the search interval):
#: detectors often see a face only some frames after it came into view.
BACKFILL = 3

Region = tuple[int, int, int, int]


@dataclass(frozen=True)
class Pass:
    """One search: ``scales`` of ``region`` (``x1, y1, x2, y2``; the whole frame when ``None``)."""

    scales: tuple[float, ...]
    region: Region | None = None


def detect_interval(options: ProtectOptions) -> int:
    """Frames between searches: ``options.detect_every``, else 1 (``fast``: 3)."""
    if options.detect_every:
        return options.detect_every
    return FAST_DETECT_EVERY if options.profile == "fast" else 1


def verify_interval(options: ProtectOptions) -> int:
    """Frames between verifier runs (a multiple of :func:`detect_interval`)."""
    return detect_interval(options) * VERIFY_EVERY.get(options.profile, 1)


class VideoPlan:
    """The searches of one video of ``width`` x ``height`` at ``fps`` (see the module).

    Parameters
    ----------
    options : ProtectOptions
    width, height : int
        Frame size in pixels, after rotation.
    fps : float
        Frames per second (for the hold time).
    scales : tuple of float
        The detector's own scales (its profile's), applied on top of the whole-frame scale.
    resolves : float
        Height in pixels of the smallest faces the detector finds in its input.
    """

    def __init__(
        self,
        options: ProtectOptions,
        *,
        width: int,
        height: int,
        fps: float,
        scales: tuple[float, ...] = (1.0,),
        resolves: float = DETECTABLE,
    ) -> None:
        self.width, self.height = width, height
        #: A face under this many pixels in the whole-frame pass is searched at its own place too.
        self.small = 2 * resolves
        self.every = detect_interval(options)
        self.verify_every = verify_interval(options) if options.verify else 0
        short = max(1, min(width, height))
        #: Factor of the detector's whole-frame pass (an enlargement only by the profile's scales).
        self.scale, self.tiles = whole_and_sweep(width, height, min(1.0, SEARCH_SIDE / short), self.small)
        self.scales = tuple(s * self.scale for s in scales)
        self.verify_scale, self.verify_tiles = whole_and_sweep(
            width, height, min(VERIFY_UPSCALE, VERIFY_SIDE / short), self.small
        )
        #: Frames in which every full-resolution tile is searched once.
        self.sweep_period = len(self.tiles) * self.every if len(self.tiles) > 1 else 0
        self.hold = max(round(HOLD_SECONDS * fps), 2 * self.every)
        # A face only the verifier finds is seen once per verifier run: its track must
        # last until the next run to become one track rather than a string of flickers.
        self.hold_single = max(2 * self.every, self.verify_every)
        #: Frames before its first detection in which a face is masked: a face the whole-frame
        #: pass can see was missed only for a few frames; a small one since the sweep last
        #: looked at its place. The look-ahead buffer holds the longer of the two.
        self.backfill_near = min(self.hold, BACKFILL + self.every)
        self.backfill = max(self.backfill_near, self.sweep_period)
        self.min_score = VIDEO_MIN_SCORE.get(options.profile, 0.0) if options.threshold is None else 0.0

    def hold_for(self, track: Track) -> int:
        """Frames ``track`` is held after its last detection: :data:`HOLD_SECONDS`, shorter
        for a face seen once, and for a face too small for the whole-frame pass at least
        until the sweep comes back to it."""
        hold = self.hold if track.detections > 1 else self.hold_single
        if self._waits_for_sweep(track):
            hold = max(hold, self.sweep_period + self.every)
        return hold

    def backfill_for(self, track: Track) -> int:
        """Frames before ``track``'s first detection in which its face is masked."""
        if self._waits_for_sweep(track):
            return self.backfill
        return self.backfill_near

    def _waits_for_sweep(self, track: Track) -> bool:
        """Whether ``track``'s face is too small for the whole-frame pass, so that only the
        sweep (when there is one) finds it again."""
        return bool(self.sweep_period) and (track.box[3] - track.box[1]) * self.scale < self.small

    def searched(self, index: int) -> bool:
        return index % self.every == 0

    def verified(self, index: int) -> bool:
        return bool(self.verify_every) and index % self.verify_every == 0

    def detector_passes(self, index: int, tracks: Sequence[Track]) -> list[Pass]:
        """The detector's searches of frame ``index``, given the tracks known now."""
        passes = [Pass(self.scales)]
        if self.tiles:
            passes.append(Pass((1.0,), self.tiles[(index // self.every) % len(self.tiles)]))
        passes += self._small_faces(index, tracks)
        return passes

    def verifier_passes(self, index: int) -> list[Pass]:
        """The verifier's searches of frame ``index`` (a verified frame)."""
        passes = [Pass((self.verify_scale,))]
        if self.verify_tiles:
            runs = index // max(1, self.verify_every)
            passes.append(Pass((1.0,), self.verify_tiles[runs % len(self.verify_tiles)]))
        return passes

    def _small_faces(self, index: int, tracks: Sequence[Track]) -> list[Pass]:
        budget = self.width * self.height * self.scale**2
        passes = []
        for track in sorted(tracks, key=lambda t: t.box[3] - t.box[1]):
            x1, y1, x2, y2 = track.guess(index)
            face = max(y2 - y1, 1.0)
            if face * self.scale >= self.small:
                break
            zoom = min(REGION_UPSCALE, max(1.0, self.small / face))
            side = max(3 * max(x2 - x1, y2 - y1), 48.0)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            region = _clipped((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), self.width, self.height)
            cost = _area(region) * zoom**2
            if region[2] <= region[0] or region[3] <= region[1] or cost > budget:
                continue
            budget -= cost
            passes.append(Pass((zoom,), region))
        return passes

    def to_json(self) -> dict[str, Any]:
        """The plan as the report shows it."""
        return {
            "detect_every": self.every,
            "verify_every": self.verify_every,
            "search_scale": round(self.scale, 4),
            "verify_scale": round(self.verify_scale, 4) if self.verify_every else None,
            "sweep_tiles": len(self.tiles),
            "sweep_every": self.sweep_period,
        }


def whole_and_sweep(width: int, height: int, scale: float, small: float) -> tuple[float, list[Region]]:
    """The scale of the whole-frame pass and the tiles of the sweep for a wanted ``scale``.

    Under 1, the sweep's tiles (:func:`sweep_tiles`); but when the whole frame at full size
    costs no more pixels than the pass and one tile together, it is searched so instead.
    """
    tiles = sweep_tiles(width, height, scale, small)
    if tiles and width * height <= width * height * scale**2 + _area(tiles[0]):
        return 1.0, []
    return scale, tiles


def sweep_tiles(width: int, height: int, scale: float, small: float) -> list[Region]:
    """The full-resolution tiles of a frame whose whole-frame pass runs at ``scale`` (none at 1).

    Each tile has about the pixels of that pass (the frame's shape times ``scale``, plus
    the overlap); neighbours overlap by twice the largest face the pass may miss (``small``
    pixels there), so that any such face lies whole in one tile.
    """
    if scale >= 1.0:
        return []
    overlap = math.ceil(2 * small / scale)
    tile_w = min(width, math.ceil(width * scale) + overlap)
    tile_h = min(height, math.ceil(height * scale) + overlap)
    xs = _starts(width, tile_w, overlap)
    ys = _starts(height, tile_h, overlap)
    return [(x, y, x + tile_w, y + tile_h) for y in ys for x in xs]


def _area(region: Region) -> int:
    return (region[2] - region[0]) * (region[3] - region[1])


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if tile >= length:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)] if count > 1 else [0]


def _clipped(box: tuple[float, float, float, float], width: int, height: int) -> Region:
    x1, y1, x2, y2 = box
    return (max(0, math.floor(x1)), max(0, math.floor(y1)), min(width, math.ceil(x2)), min(height, math.ceil(y2)))


def video_models(detector: FaceDetector, verifier: FaceDetector | None) -> tuple[FaceDetector, FaceDetector | None]:
    """The detector and verifier a video runs (:data:`VIDEO_MODELS`); detectors that are not
    unerkannt's own are used as given. The caller's models stay its own."""
    from .detect import load_detector
    from .detect.base import Detector

    if isinstance(detector, Detector) and detector.name in VIDEO_MODELS:
        detector = load_detector(
            VIDEO_MODELS[detector.name], threshold=detector.threshold, scales=detector.scales, threads=detector.threads
        )
    return detector, verifier


__all__ = [
    "BACKFILL",
    "DETECTABLE",
    "FAST_DETECT_EVERY",
    "HOLD_SECONDS",
    "SEARCH_SIDE",
    "VERIFY_EVERY",
    "VERIFY_SIDE",
    "VERIFY_UPSCALE",
    "VIDEO_MIN_SCORE",
    "VIDEO_MODELS",
    "Pass",
    "VideoPlan",
    "detect_interval",
    "sweep_tiles",
    "verify_interval",
    "video_models",
    "whole_and_sweep",
]
