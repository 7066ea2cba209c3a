"""The frame-protection core: for one frame, what is hidden, what stays visible, and why.

Photos, the frames of animations, video frames and the service all go through
:class:`FrameCore`; no other place decides per frame. Callers only feed it what their
searches found:

* ``targets``: the faces to hide in this frame, each with the detection of this frame
  it comes from (consent needs its landmarks; a video track's guess in a frame where
  its face was not detected has none) and a ``key`` that names one face over frames
  (a video track);
* ``checked``: what the verifier, the second model family, found on the original
  frame (videos run it next to the detector), or ``verifier``: a detector the core
  runs on the protected pixels (photos).

The core adds the boxes the user drew (``options.manual_boxes``, in every frame), leaves
visible only the faces the consent rule matches, anonymizes every other target, then
takes every verifier find that no anonymized region already covers and anonymizes it
too, and finally, for photos with ``options.audit``, refills what a recognizer still
matches. It collects the warnings of a whole file, each once.

The two rules of the verification pass:

* a find is *covered* when at least :data:`COVERED` of its box lies in pixels that
  were anonymized in this frame (the ellipses, not their bounding boxes);
* a find is *the same face* as one left visible on purpose when its box overlaps that
  face's box by :data:`SAME_FACE` (intersection over union). Only then does it stay
  visible: a face merely near a consented one, or inside its box, is hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .anonymize import Method, get_method
from .anonymize.base import Box, face_region
from .consent.rule import consented_faces
from .detect import FaceDetector
from .errors import AnonymizationError, InputError
from .faces import Face, iou
from .options import ProtectOptions
from .results import FaceRecord

log = logging.getLogger(__name__)

#: A verifier find is already hidden when this share of its box was anonymized.
COVERED = 0.5
#: A verifier find is the face left visible on purpose when it overlaps that face's box this much.
SAME_FACE = 0.5


@dataclass(frozen=True, kw_only=True)
class Target:
    """A face to hide in one frame, unless the consent rule leaves it visible.

    Attributes
    ----------
    box : tuple of 4 float
        ``(x1, y1, x2, y2)`` in pixels of the frame; the method grows it.
    face : Face or None
        The detection of this frame the box comes from; ``None`` for a guess (a video
        track whose face was not detected in this frame), which is always hidden.
    key : int or None
        Names one face over frames (a video track), for consent re-checks.
    """

    box: Box
    face: Face | None = None
    key: int | None = None


@dataclass(kw_only=True)
class FrameResult:
    """What :meth:`FrameCore.protect` did to one frame.

    Attributes
    ----------
    image : (H, W, 3) uint8 ndarray
        The protected pixels (a new array).
    records : list of FaceRecord
        One per face handled: anonymized (``stage`` ``"detect"`` or ``"verify"``,
        ``"audit"`` when refilled) or left visible (``action="visible"``).
    shown : dict of int to str
        ``{key: person}`` of the targets left visible.
    missed : list of Face
        The verifier's finds that were not covered and were anonymized now.
    """

    image: np.ndarray
    records: list[FaceRecord]
    shown: dict[int, str] = field(default_factory=dict)
    missed: list[Face] = field(default_factory=list)


class FrameCore:
    """Protects the frames of one file (a photo, an animation, a video) one at a time.

    Parameters
    ----------
    options : ProtectOptions
        Method, enlarge, manual boxes, consent, verify, audit.
    consent_every : int
        A target whose ``key`` the consent rule refused is checked again only after this
        many frames (videos: the recognizers cost far more than the detectors); it is
        hidden meanwhile. ``1`` checks every frame.
    audit : bool or None
        Refill faces a recognizer still matches (:func:`unerkannt.auditing.guard.reprotect_matching`);
        ``None`` takes ``options.audit``.
    consent : callable, optional
        ``consent(image, faces, registry_path) -> {index: person}``; the consent rule of
        :mod:`unerkannt.consent.rule` when not given (tests pass a scripted one).

    Raises
    ------
    UsageError
        ``options.method`` is unknown.
    """

    def __init__(
        self,
        options: ProtectOptions,
        *,
        consent_every: int = 1,
        audit: bool | None = None,
        consent: Callable[[np.ndarray, Sequence[Face], str], dict[int, str]] | None = None,
    ) -> None:
        self.options = options
        self.method: Method = get_method(options.method)
        self.consent_every = max(1, consent_every)
        self.audit = options.audit if audit is None else audit
        self._consent = consent or consented_faces
        self._refused: dict[int, int] = {}
        self._warnings: dict[str, None] = {}
        self._manual = [Face(box=b, score=1.0, detector="manual") for b in options.manual_boxes]
        if not options.detectors:
            # A deliberate choice (the web page after its user left faces visible), never silent.
            self.warn(f"no detector ran: only the {len(options.manual_boxes)} given box(es) were anonymized")

    @property
    def warnings(self) -> list[str]:
        """Every warning of the frames so far, each once, in the order first given."""
        return list(self._warnings)

    def warn(self, message: str) -> None:
        self._warnings.setdefault(message, None)

    def protect(
        self,
        image: np.ndarray,
        *,
        targets: Sequence[Target],
        frame: int = 0,
        checked: Sequence[Face] | None = None,
        verifier: FaceDetector | None = None,
    ) -> FrameResult:
        """Protect one frame.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            The original frame; not modified.
        targets : sequence of Target
            The faces the detectors and tracks found in this frame.
        frame : int
            Index recorded in the face records.
        checked : sequence of Face, optional
            The verifier's finds on the original frame.
        verifier : FaceDetector, optional
            Run on the protected pixels when ``checked`` is not given and ``options.verify``.

        Raises
        ------
        InputError
            ``image`` is not an ``(H, W, 3)`` uint8 array with at least one pixel.
        AnonymizationError
            A face could not be anonymized, or still matches after the audit refilled it.
        DetectionError, RecognitionError, ConsentError
            The verifier, a recognizer or the consent registry failed.
        """
        check_frame(image)
        out = np.array(image, copy=True)
        hidden = _Hidden(*image.shape[:2])
        records: list[FaceRecord] = []
        targets = [*targets, *(Target(box=f.box, face=f) for f in self._manual)]
        visible = self._decide(image, targets, frame)
        shown: dict[int, str] = {}
        kept: list[Box] = []
        for i, target in enumerate(targets):
            face = target.face or Face(box=target.box, score=0.0, detector="track")
            if i in visible:
                x1, y1, x2, y2 = (round(v) for v in target.box)
                records.append(
                    FaceRecord(face=face, action="visible", region=(x1, y1, x2, y2), frame=frame, person=visible[i])
                )
                kept.append(target.box)
                if target.key is not None:
                    shown[target.key] = visible[i]
                continue
            hid = self._hide(out, target.box, image, hidden)
            if hid is not None:
                records.append(FaceRecord(face=face, action=self.method.name, region=hid, frame=frame))
        missed = []
        on_output = checked is None
        if checked is None and verifier is not None and self.options.verify:
            checked = verifier.detect(out)
        for face in checked or ():
            if any(iou(face.box, box) >= SAME_FACE for box in kept):
                continue
            if hidden.share(face.box) >= COVERED:
                if on_output and self.method.weak:
                    self.warn(f"a face is still detectable after {self.method.name} at {face.to_json()['box']}")
                continue
            hid = self._hide(out, face.box, image, hidden)
            if hid is not None:
                records.append(FaceRecord(face=face, action=self.method.name, region=hid, frame=frame, stage="verify"))
                missed.append(face)
        if self.audit:
            from .auditing.guard import reprotect_matching

            found: list[str] = []
            records = reprotect_matching(image, out, records, enlarge=self.options.enlarge, warnings=found)
            for message in found:
                self.warn(message)
        return FrameResult(image=out, records=records, shown=shown, missed=missed)

    def hide(self, image: np.ndarray, box: Box) -> None:
        """Anonymize ``box`` in ``image`` in place, outside of any frame's decisions.

        For a video face seen first now in the frames just before, where it was
        probably there unseen: hiding more is always allowed.
        """
        self._hide(image, box, None, _Hidden(*image.shape[:2]))

    def _decide(self, image: np.ndarray, targets: list[Target], frame: int) -> dict[int, str]:
        """``{index into targets: person}`` of the targets the consent rule leaves visible."""
        if not self.options.consent:
            return {}
        candidates = []
        for i, target in enumerate(targets):
            if target.face is None or target.face.detector == "manual":
                continue
            refused = self._refused.get(target.key) if target.key is not None else None
            if refused is None or frame - refused >= self.consent_every:
                candidates.append(i)
        if not candidates:
            return {}
        faces = [targets[i].face for i in candidates]
        matched = self._consent(image, faces, self.options.consent)  # type: ignore[arg-type]
        for j, i in enumerate(candidates):
            key = targets[i].key
            if key is None:
                continue
            if j in matched:
                self._refused.pop(key, None)
            else:
                self._refused[key] = frame
        return {candidates[j]: person for j, person in matched.items()}

    def _hide(
        self, out: np.ndarray, box: Box, source: np.ndarray | None, hidden: _Hidden
    ) -> tuple[int, int, int, int] | None:
        height, width = out.shape[:2]
        if min(box[2], float(width)) <= max(box[0], 0.0) or min(box[3], float(height)) <= max(box[1], 0.0):
            return None  # wholly outside the frame (a track's guess that moved out)
        try:
            # The whole box: a face cut by the frame's edge is filled up to the edge.
            region = self.method.apply(out, box, enlarge=self.options.enlarge, source=source)
        except Exception as exc:
            raise AnonymizationError(f"cannot apply {self.method.name} to the face at {box}: {exc}") from exc
        hidden.add(*face_region(box, self.options.enlarge, width, height))
        return region


class _Hidden:
    """The pixels anonymized in one ``height`` x ``width`` frame, as the ellipses of their regions."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self._parts: list[tuple[tuple[int, int, int, int], np.ndarray]] = []

    def add(self, region: tuple[int, int, int, int], mask: np.ndarray) -> None:
        self._parts.append((region, mask))

    def share(self, box: Sequence[float]) -> float:
        """The share of ``box`` (``x1, y1, x2, y2``, clipped to the frame) that lies in anonymized pixels."""
        bx1, by1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        bx2 = max(min(self.width, int(np.ceil(box[2]))), bx1 + 1)
        by2 = max(min(self.height, int(np.ceil(box[3]))), by1 + 1)
        inside = np.zeros((by2 - by1, bx2 - bx1), dtype=bool)
        for (x1, y1, x2, y2), mask in self._parts:
            ix1, iy1, ix2, iy2 = max(x1, bx1), max(y1, by1), min(x2, bx2), min(y2, by2)
            if ix1 >= ix2 or iy1 >= iy2:
                continue
            inside[iy1 - by1 : iy2 - by1, ix1 - bx1 : ix2 - bx1] |= mask[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1]
        return float(inside.mean())


def check_frame(image: object) -> None:
    """Raise :class:`InputError` unless ``image`` is an ``(H, W, 3)`` uint8 array with pixels."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError("expected an (H, W, 3) uint8 RGB array")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError("the image has no pixels")


__all__ = ["COVERED", "SAME_FACE", "FrameCore", "FrameResult", "Target", "check_frame"]
