"""Options of a protection run, as one immutable object."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# The detection profiles, what each searches and why, are in one place with the search.
from .detect.search import PROFILES
from .errors import UsageError

#: The most pixels (width x height x frames) unerkannt decodes; protects against
#: decompression bombs. 100 megapixels is a 12,000 x 8,000 panorama.
DEFAULT_MAX_PIXELS = 100_000_000
#: The most frames of an animated image unerkannt decodes: each is a detector run, so
#: frames cost time even when they are tiny. 5,000 frames are over three minutes at 25 fps;
#: longer animations are videos.
DEFAULT_MAX_FRAMES = 5_000


@dataclass(frozen=True, kw_only=True)
class ProtectOptions:
    """How faces are found and anonymized and how the output is written.

    Parameters
    ----------
    method : str
        Anonymization method: ``"fill"`` (default, irreversible), ``"pixelate"``
        or ``"blur"`` (both weaker; see the README for their measured risk).
    enlarge : float
        Factor applied to each detected box before anonymizing, so that forehead,
        hair line and chin are covered too. ``>= 1.0``.
    profile : str
        Detection profile, a key of :data:`PROFILES`.
    detectors : tuple of str
        Detector names, run in order and merged (see ``unerkannt.detect.DETECTORS``).
        ``()`` runs no detector: only ``manual_boxes`` are anonymized (none, if there
        are none). That is for a caller that chose the faces itself, such as the web
        page after its user made a detected face visible on purpose; set ``verify`` to
        false too, or the verification pass fills the faces left visible.
    threshold : float or None
        Detector score threshold; ``None`` takes the profile's.
    scales : tuple of float or None
        Scales to search at; ``None`` takes the profile's.
    verify : bool
        Re-detect on the anonymized pixels and anonymize anything still found.
    verifier : str
        Detector that re-checks the anonymized pixels: another model family than
        the main detector, so that one model's blind spots are not checked by itself.
    verify_threshold : float
        Score at which the verifier's finds are anonymized too.
    format : str or None
        Output format name (``"jpeg"``, ``"png"``, ...); ``None`` keeps the input's.
    quality : int
        Quality of lossy encoders, 1-100.
    keep_icc : bool
        Copy the ICC colour profile (the only metadata ever carried over).
    max_pixels : int
        Refuse images with more pixels than this (all frames counted).
    max_frames : int
        Refuse animated images with more frames than this, before decoding them.
    threads : int
        Inference threads per process; 0 lets the runtime choose.
    keep_audio : bool
        Videos: copy the audio stream unchanged (default: drop it; voices identify people).
    crf : int
        Videos: constant rate factor of the H.264/VP9 encoder, 0-51 (lower: better, larger).
    detect_every : int
        Videos: run the detector on every n-th frame and track between; 0 takes the
        profile's (1, ``fast``: 3).
    fill_unchecked : bool
        Videos: fill a whole frame grey when the detector fails on it, instead of
        writing no output.
    consent : str or None
        Path of a consent registry: faces that both recognizers match strictly to one
        enrolled person stay visible; every other face is anonymized.
    audit : bool
        Before writing, compare every anonymized face with the original using both
        recognizers; a face that still matches is filled, or the file fails.
    """

    method: str = "fill"
    enlarge: float = 1.3
    profile: str = "default"
    detectors: tuple[str, ...] = ("centerface",)
    threshold: float | None = None
    scales: tuple[float, ...] | None = None
    verify: bool = True
    verifier: str = "yunet"
    verify_threshold: float = 0.5
    format: str | None = None
    quality: int = 90
    keep_icc: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_frames: int = DEFAULT_MAX_FRAMES
    threads: int = 0
    keep_audio: bool = False
    crf: int = 20
    detect_every: int = 0
    fill_unchecked: bool = False
    manual_boxes: tuple[tuple[float, float, float, float], ...] = field(default=(), repr=False)
    consent: str | None = None
    audit: bool = False

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise UsageError(f"unknown profile {self.profile!r}; choose from {', '.join(PROFILES)}")
        if not 1.0 <= self.enlarge <= 4.0:
            raise UsageError(f"enlarge must be between 1.0 and 4.0, not {self.enlarge}")
        if not 1 <= self.quality <= 100:
            raise UsageError(f"quality must be between 1 and 100, not {self.quality}")
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise UsageError(f"threshold must be between 0 and 1, not {self.threshold}")
        if self.scales is not None and (not self.scales or any(not 0.1 <= s <= 8 for s in self.scales)):
            raise UsageError(f"scales must be between 0.1 and 8, not {self.scales}")
        if self.max_pixels < 1:
            raise UsageError("max_pixels must be positive")
        if self.max_frames < 1:
            raise UsageError("max_frames must be positive")

    @property
    def detection_scales(self) -> tuple[float, ...]:
        return self.scales if self.scales is not None else PROFILES[self.profile].scales

    @property
    def detection_threshold(self) -> float:
        return self.threshold if self.threshold is not None else PROFILES[self.profile].threshold

    def evolve(self, **changes: object) -> ProtectOptions:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]
