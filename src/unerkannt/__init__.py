"""unerkannt: make photos safe to publish against automated face recognition.

Every face is found and made unrecognizable, metadata is removed, and a file that
cannot be fully protected produces no output. Importing this package loads no
model and no heavy library; they load on first use.

>>> import unerkannt
>>> result = unerkannt.protect("party.jpg", "public/party.jpg")  # doctest: +SKIP
>>> [f.action for f in result.faces]  # doctest: +SKIP
['fill', 'fill']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AnonymizationError,
    ConsentError,
    CorruptFileError,
    DetectionError,
    ImageTooLargeError,
    InputError,
    MetadataError,
    OutputError,
    OutputExistsError,
    RecognitionError,
    UnerkanntError,
    UnsupportedFormatError,
    UsageError,
)
from .faces import Face
from .options import ProtectOptions

if TYPE_CHECKING:
    from .api import audit, detect_faces, enroll, find, protect, protect_files, withdraw
    from .auditing import AuditOptions, AuditResult
    from .results import FaceRecord, FileResult, ProtectedImage, Report

__version__ = "0.1.0"

__all__ = [
    "AnonymizationError",
    "AuditOptions",
    "AuditResult",
    "ConsentError",
    "CorruptFileError",
    "DetectionError",
    "Face",
    "FaceRecord",
    "FileResult",
    "ImageTooLargeError",
    "InputError",
    "MetadataError",
    "OutputError",
    "OutputExistsError",
    "ProtectOptions",
    "ProtectedImage",
    "RecognitionError",
    "Report",
    "UnerkanntError",
    "UnsupportedFormatError",
    "UsageError",
    "__version__",
    "audit",
    "detect_faces",
    "enroll",
    "find",
    "protect",
    "protect_files",
    "withdraw",
]

_LAZY = {
    "audit": "api",
    "enroll": "api",
    "find": "api",
    "withdraw": "api",
    "AuditOptions": "auditing",
    "AuditResult": "auditing",
    "protect": "api",
    "protect_files": "api",
    "detect_faces": "api",
    "FaceRecord": "results",
    "FileResult": "results",
    "ProtectedImage": "results",
    "Report": "results",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'unerkannt' has no attribute {name!r}")
