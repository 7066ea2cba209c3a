"""What a protection run returns: typed results that serialize to the JSON report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .detect.search import Pass
from .faces import Face


@dataclass(frozen=True, kw_only=True)
class FaceRecord:
    """A face and what was done with it.

    ``action`` is the method name (``"fill"``, ...) for anonymized faces, or
    ``"visible"`` for a face left visible by consent of ``person``; ``stage`` is
    ``"detect"``, ``"verify"`` (found only when re-checking the output) or ``"audit"``
    (filled again because a recognizer still matched it).
    """

    face: Face
    action: str
    region: tuple[int, int, int, int]
    frame: int = 0
    stage: str = "detect"
    person: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.face.to_json()
        data.update(action=self.action, region=list(self.region), stage=self.stage)
        if self.person is not None:
            data["consent"] = self.person
        if self.frame:
            data["frame"] = self.frame
        return data


@dataclass(kw_only=True)
class ProtectedImage:
    """The result of protecting an array: new pixels, the faces handled and the
    detector passes that ran (:class:`unerkannt.detect.search.Pass`)."""

    image: np.ndarray
    faces: list[FaceRecord]
    warnings: list[str] = field(default_factory=list)
    passes: list[Pass] = field(default_factory=list)


@dataclass(kw_only=True)
class FileResult:
    """The outcome for one input file.

    ``status`` is ``"protected"`` (``output`` written), ``"failed"`` (nothing
    written; ``error`` says why) or ``"skipped"`` (a file in an input folder that is
    not a photo or video, or hidden; ``warnings`` says which; nothing written, and
    nothing needed protecting). ``video`` summarizes a video (frames, audio policy,
    per-track frame and box counts); ``None`` for images. ``passes`` lists the
    detector passes that ran on each frame of an image (where, at which scale, why).
    """

    input: str
    output: str | None
    status: str
    faces: list[FaceRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None
    seconds: float = 0.0
    video: dict[str, Any] | None = None
    passes: list[Pass] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The file was protected."""
        return self.status == "protected"

    @property
    def skipped(self) -> bool:
        """The file was left alone: not a photo or video (or hidden)."""
        return self.status == "skipped"

    @classmethod
    def skip(cls, source: object, reason: str) -> FileResult:
        """The result for a file that is not a photo or video (``reason`` says why it was left alone)."""
        return cls(input=str(source), output=None, status="skipped", warnings=[reason])

    def to_json(self) -> dict[str, Any]:
        data = {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "faces": [f.to_json() for f in self.faces],
            "warnings": self.warnings,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }
        if self.passes:
            data["passes"] = [p.to_json() for p in self.passes]
        if self.video is not None:
            data["video"] = self.video
        return data


@dataclass(kw_only=True)
class Report:
    """All files of one run, in input order."""

    files: list[FileResult]
    options: dict[str, Any]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every file was protected or skipped (not a photo or video); none failed."""
        return all(f.ok or f.skipped for f in self.files)

    def summary(self) -> dict[str, int]:
        """Counts: ``files`` (all), ``protected``, ``failed``, ``skipped`` and ``faces``."""
        protected = sum(f.ok for f in self.files)
        skipped = sum(f.skipped for f in self.files)
        return {
            "files": len(self.files),
            "protected": protected,
            "failed": len(self.files) - protected - skipped,
            "skipped": skipped,
            "faces": sum(len(f.faces) for f in self.files),
        }

    def to_json(self) -> dict[str, Any]:
        from . import __version__

        return {
            "tool": "unerkannt",
            "version": __version__,
            "options": self.options,
            "summary": self.summary(),
            "seconds": round(self.seconds, 3),
            "files": [f.to_json() for f in self.files],
        }
