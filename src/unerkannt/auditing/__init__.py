"""The recognition audit: would a face-search engine still find this person?

The attacker is assumed to know where each face was (the original's box and
landmarks) and to hold the original photo, so the scores are an upper bound of what
a search engine could do with the protected pixels.
"""

from .core import (
    AuditOptions,
    AuditResult,
    FaceAudit,
    Found,
    Gallery,
    ReferenceMatch,
    Score,
    audit_images,
    build_gallery,
    match_reference,
    still_matching,
)

__all__ = [
    "AuditOptions",
    "AuditResult",
    "FaceAudit",
    "Found",
    "Gallery",
    "ReferenceMatch",
    "Score",
    "audit_images",
    "build_gallery",
    "match_reference",
    "still_matching",
]
