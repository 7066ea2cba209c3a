"""The frame-protection core: for one frame, what is hidden, what stays visible, and why.

Photos, the frames of animations, video frames and the service all go through
:class:`FrameCore`; no other place decides per frame. Callers only feed it what their
searches found:

* ``found``: the faces to hide in this frame, each with the detection of this frame
  it comes from (consent needs its landmarks; a video track's guess in a frame where
  its face was not detected has none) and a ``key`` that names one face over frames
  (a video track: a method that draws a face draws the same one in every frame);
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
from dataclasses import dataclass, field, replace

import numpy as np

from .anonymize import Method, get_method
from .anonymize.base import Box, Target, face_region
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
class Found:
    """A face to hide in one frame, unless the consent rule leaves it visible.

    Attributes
    ----------
    box : tuple of 4 float
        ``(x1, y1, x2, y2)`` in pixels of the frame; the method grows it.
    face : Face or None
        The detection of this frame the box comes from; ``None`` for a guess (a video
        track whose face was not detected in this frame), which is always hidden.
    key : int or None
        Names one face over frames (a video track), for consent re-checks and for
        methods that draw a face (the same one in every frame).
    score : float or None
        For a guess: the score of the face's last detection (methods that draw a face
        draw one only where a face is likely).
    """

    box: Box
    face: Face | None = None
    key: int | None = None
    score: float | None = None

    def target(self) -> Target:
        """What the anonymization method is given of this face."""
        if self.face is not None:
            return Target.of(replace(self.face, box=self.box), identity=self.key)
        return Target(box=self.box, identity=self.key, score=self.score)


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
        found: Sequence[Found],
        frame: int = 0,
        checked: Sequence[Face] | None = None,
        verifier: FaceDetector | None = None,
    ) -> FrameResult:
        """Protect one frame.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            The original frame; not modified.
        found : sequence of Found
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
        found = [*found, *(Found(box=f.box, face=f) for f in self._manual)]
        visible = self._decide(image, found, frame)
        records: list[FaceRecord] = []
        shown: dict[int, str] = {}
        kept: list[Box] = []
        for i, person in visible.items():
            item = found[i]
            assert item.face is not None  # the consent rule leaves only detected faces visible
            x1, y1, x2, y2 = (round(v) for v in item.box)
            records.append(
                FaceRecord(face=item.face, action="visible", region=(x1, y1, x2, y2), frame=frame, person=person)
            )
            kept.append(item.box)
            if item.key is not None:
                shown[item.key] = person
        hide = [item for i, item in enumerate(found) if i not in visible]
        for item, region in zip(hide, self._hide(out, hide, image, hidden), strict=True):
            if region is not None:
                face = item.face or Face(box=item.box, score=item.score or 0.0, detector="track")
                records.append(FaceRecord(face=face, action=self.method.name, region=region, frame=frame))
        on_output = checked is None
        if checked is None and verifier is not None and self.options.verify:
            checked = verifier.detect(out)
        missed = []
        for face in checked or ():
            if any(iou(face.box, box) >= SAME_FACE for box in kept):
                continue
            if hidden.share(face.box) >= COVERED:
                if on_output and self.method.weak:
                    self.warn(f"a face is still detectable after {self.method.name} at {face.to_json()['box']}")
                continue
            missed.append(face)
        hid = []
        for face, region in zip(
            missed, self._hide(out, [Found(box=f.box, face=f) for f in missed], image, hidden), strict=True
        ):
            if region is not None:
                records.append(
                    FaceRecord(face=face, action=self.method.name, region=region, frame=frame, stage="verify")
                )
                hid.append(face)
        if self.audit:
            from .auditing.guard import reprotect_matching

            notes: list[str] = []
            records = reprotect_matching(image, out, records, enlarge=self.options.enlarge, warnings=notes)
            for message in notes:
                self.warn(message)
        return FrameResult(image=out, records=records, shown=shown, missed=hid)

    def hide(self, image: np.ndarray, found: Found) -> None:
        """Anonymize ``found`` in ``image`` in place, outside of any frame's decisions.

        For a video face seen first now in the frames just before, where it was
        probably there unseen: hiding more is always allowed.
        """
        self._hide(image, [found], None, _Hidden(*image.shape[:2]))

    def _decide(self, image: np.ndarray, targets: list[Found], frame: int) -> dict[int, str]:
        """``{index into targets: person}`` of the faces the consent rule leaves visible."""
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
        self, out: np.ndarray, found: list[Found], source: np.ndarray | None, hidden: _Hidden
    ) -> list[tuple[int, int, int, int] | None]:
        """Anonymize every face of ``found`` in ``out`` with one call of the method; the
        region changed for each (``None`` for a box wholly outside the frame)."""
        height, width = out.shape[:2]
        inside = [
            min(f.box[2], float(width)) > max(f.box[0], 0.0) and min(f.box[3], float(height)) > max(f.box[1], 0.0)
            for f in found
        ]
        targets = [f.target() for f, ok in zip(found, inside, strict=True) if ok]  # a guess that moved out is skipped
        if not targets:
            return [None] * len(found)
        try:
            # Whole boxes: a face cut by the frame's edge is filled up to the edge.
            regions = iter(self.method.apply_all(out, targets, enlarge=self.options.enlarge, source=source))
        except Exception as exc:
            raise AnonymizationError(
                f"cannot apply {self.method.name} to the faces at {[t.box for t in targets]}: {exc}"
            ) from exc
        changed: list[tuple[int, int, int, int] | None] = []
        for f, ok in zip(found, inside, strict=True):
            if not ok:
                changed.append(None)
                continue
            changed.append(next(regions))
            hidden.add(*face_region(f.box, self.options.enlarge, width, height))
        return changed


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


__all__ = ["COVERED", "SAME_FACE", "Found", "FrameCore", "FrameResult", "check_frame"]
