"""Face tracks across video frames: fill the frames where a detector missed a face.

A small IoU tracker. Detections of consecutive frames are linked by overlap (or by
a centre close enough for fast movement); a track keeps a constant-velocity guess
of where its face is. Where the detector does not see the face (motion blur, a
turned head, frames the fast profile does not search), the guess is masked, grown
with every frame since the face was last seen; after ``hold`` frames without a
detection the track ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .faces import Face, iou

Box = tuple[float, float, float, float]

#: Minimum overlap of a detection with a track's guess to continue the track.
MATCH_IOU = 0.2
#: A detection whose centre lies within this many face widths of the guess also matches.
MATCH_DISTANCE = 0.6
#: A lost track whose guess overlaps a face detected for another track this much is a duplicate.
DUPLICATE_IOU = 0.3
#: Growth of a guessed box per frame since the face was last seen (0.05 = 5 % per frame).
GROW_PER_FRAME = 0.05
#: A guess grows (and moves on with the face's speed) for at most this many times its size:
#: a face held long (a small face waiting for the video's sweep to come back) stays where
#: it was last seen at twice its size, instead of drifting off as a mask over half the frame.
MAX_GROW = 2.0


def growth(gap: int) -> float:
    """How much a face's box is grown ``gap`` frames after it was last seen: :data:`GROW_PER_FRAME`
    per frame, at most :data:`MAX_GROW`."""
    return min(1.0 + GROW_PER_FRAME * max(0, gap), MAX_GROW)


#: Share of the per-frame movement added on each side of a moving face's box.
MOTION_MARGIN = 1.0


@dataclass
class Track:
    """One face followed across frames.

    Attributes
    ----------
    id : int
        Number of the track, in order of appearance.
    box : tuple of 4 float
        Last detected box, ``(x1, y1, x2, y2)`` in pixels.
    velocity : (float, float)
        Movement of the box centre in pixels per frame.
    first, last_seen : int
        Frame indices of the first and the latest detection.
    detections : int
        Frames in which a detector found this face.
    masked : int
        Frames in which this face was masked (detected or guessed).
    detectors : set of str
        Names of the detectors that found it.
    first_face : Face or None
        The first detection (box and score only), for the report.
    face : Face or None
        The latest detection, with its landmarks (what the consent rule looks at).
    visible : int
        Frames in which this face was left visible (consent; see :meth:`Tracker.account`).
    person : str or None
        Whom the consent rule matched it to, when it did.
    """

    id: int
    box: Box
    first: int
    last_seen: int
    velocity: tuple[float, float] = (0.0, 0.0)
    detections: int = 1
    masked: int = 0
    detectors: set[str] = field(default_factory=set)
    first_face: Face | None = field(default=None, repr=False)
    face: Face | None = field(default=None, repr=False)
    visible: int = 0
    person: str | None = None

    def guess(self, frame: int) -> Box:
        """Where the face probably is at ``frame``: moved on with its velocity and grown."""
        # The face moves on with its velocity for as long as its box grows.
        gap = min(max(0, frame - self.last_seen), (MAX_GROW - 1.0) / GROW_PER_FRAME)
        grow = growth(frame - self.last_seen)
        x1, y1, x2, y2 = self.box
        vx, vy = self.velocity
        cx, cy = (x1 + x2) / 2 + vx * gap, (y1 + y2) / 2 + vy * gap
        hw, hh = (x2 - x1) / 2 * grow, (y2 - y1) / 2 * grow
        mx, my = abs(vx) * MOTION_MARGIN, abs(vy) * MOTION_MARGIN
        return (cx - hw - mx, cy - hh - my, cx + hw + mx, cy + hh + my)

    def to_json(self) -> dict[str, Any]:
        """Frames and box counts only; never pixels, crops or embeddings."""
        return {
            "track": self.id,
            "first_frame": self.first,
            "last_frame": self.last_seen,
            "frames_masked": self.masked,
            "boxes_detected": self.detections,
            "detectors": sorted(self.detectors),
            **({"frames_visible": self.visible, "consent": self.person} if self.visible else {}),
        }


class Tracker:
    """Links faces across frames and says which boxes to mask in each frame.

    Parameters
    ----------
    hold : int
        Frames a track is kept (and masked at its guessed place) after its face was
        last detected.
    hold_single : int
        The same for a track detected only once so far: most of those are false
        positives of a detector tuned for recall, and a long hold of each would cover
        much of the picture.
    hold_for : callable, optional
        ``hold_for(track) -> frames`` decides instead of the two above (a video's search
        plan, which holds small faces until its sweep comes back).
    """

    def __init__(
        self, *, hold: int, hold_single: int | None = None, hold_for: Callable[[Track], int] | None = None
    ) -> None:
        self.hold = max(0, hold)
        self.hold_single = self.hold if hold_single is None else max(0, min(hold_single, self.hold))
        self.hold_for = hold_for or self._hold
        self.active: list[Track] = []
        self.ended: list[Track] = []
        self._next_id = 1

    def observe(self, frame: int, faces: list[Face]) -> list[Track]:
        """Link the faces detected in ``frame`` to tracks; returns the tracks that start here.

        Call once per detected frame, in frame order (several calls for the same frame
        are allowed: detector, then verifier).
        """
        self._expire(frame)
        unmatched = list(faces)
        pairs = []
        for t_i, track in enumerate(self.active):
            guess = track.guess(frame)
            for f_i, face in enumerate(unmatched):
                score = iou(guess, face.box)
                if score < MATCH_IOU:
                    gx, gy = (guess[0] + guess[2]) / 2, (guess[1] + guess[3]) / 2
                    fx, fy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
                    size = max(track.box[2] - track.box[0], track.box[3] - track.box[1], 1.0)
                    if ((gx - fx) ** 2 + (gy - fy) ** 2) ** 0.5 > MATCH_DISTANCE * size:
                        continue
                    score = 0.01
                pairs.append((score, t_i, f_i))
        pairs.sort(reverse=True)
        used_t: set[int] = set()
        used_f: set[int] = set()
        for _, t_i, f_i in pairs:
            if t_i in used_t or f_i in used_f:
                continue
            used_t.add(t_i)
            used_f.add(f_i)
            self._update(self.active[t_i], frame, unmatched[f_i])
        # A track left without a detection while a detection overlapping its guess went
        # to another track is a duplicate of that face: it ends instead of being held.
        taken = [unmatched[f_i].box for f_i in used_f]
        duplicates = {
            t_i
            for t_i, track in enumerate(self.active)
            if t_i not in used_t
            and track.last_seen < frame
            and any(iou(track.guess(frame), box) > DUPLICATE_IOU for box in taken)
        }
        if duplicates:
            self.ended.extend(t for i, t in enumerate(self.active) if i in duplicates)
            self.active = [t for i, t in enumerate(self.active) if i not in duplicates]
        born = []
        for f_i, face in enumerate(unmatched):
            if f_i in used_f:
                continue
            track = Track(
                id=self._next_id,
                box=face.box,
                first=frame,
                last_seen=frame,
                detectors={face.detector},
                first_face=face,
                face=face,
            )
            self._next_id += 1
            self.active.append(track)
            born.append(track)
        return born

    def boxes(self, frame: int) -> list[tuple[Track, Box, Face | None]]:
        """Every track's box in ``frame``: where its face was detected (with a motion margin)
        or is guessed to be; and the detection of ``frame`` behind it, ``None`` for a guess."""
        self._expire(frame)
        return [(t, t.guess(frame), t.face if t.last_seen == frame else None) for t in self.active]

    def account(self, frame: int, shown: dict[int, str]) -> None:
        """Count ``frame`` for every track: masked, or visible when its id is in ``shown``
        (``{track id: person}``, the faces the consent rule left visible in this frame)."""
        for track in self.active:
            if track.id in shown:
                track.visible += 1
                track.person = shown[track.id]
            else:
                track.masked += 1

    def finish(self) -> list[Track]:
        """End every track; returns all tracks in order of appearance."""
        self.ended.extend(self.active)
        self.active = []
        return sorted(self.ended, key=lambda t: t.id)

    def _expire(self, frame: int) -> None:
        keep: list[Track] = []
        for track in self.active:
            (keep if frame - track.last_seen <= self.hold_for(track) else self.ended).append(track)
        self.active = keep

    def _hold(self, track: Track) -> int:
        return self.hold if track.detections > 1 else self.hold_single

    @staticmethod
    def _update(track: Track, frame: int, face: Face) -> None:
        if frame == track.last_seen:
            # A second detector saw the same face in the same frame: keep the larger box.
            x1, y1, x2, y2 = track.box
            fx1, fy1, fx2, fy2 = face.box
            track.box = (min(x1, fx1), min(y1, fy1), max(x2, fx2), max(y2, fy2))
            track.detectors.add(face.detector)
            if track.face is not None and track.face.landmarks is None:
                track.face = face
            return
        gap = frame - track.last_seen
        ox, oy = (track.box[0] + track.box[2]) / 2, (track.box[1] + track.box[3]) / 2
        nx, ny = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        vx, vy = (nx - ox) / gap, (ny - oy) / gap
        if track.detections == 1:
            track.velocity = (vx, vy)
        else:  # smoothed, so that one jittery box does not throw the guess off
            track.velocity = (0.5 * track.velocity[0] + 0.5 * vx, 0.5 * track.velocity[1] + 0.5 * vy)
        track.box = face.box
        track.face = face
        track.last_seen = frame
        track.detections += 1
        track.detectors.add(face.detector)
