"""``protect`` with ``audit``: no output while a recognizer still matches a protected face."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import AnonymizationError
from ..recognize import DEFAULT_RECOGNIZERS, Recognizer, shared_recognizer
from ..results import FaceRecord
from .core import still_matching

#: How much further a face region grows when it is filled again after the audit.
_GROW = 1.25


def reprotect_matching(
    original: np.ndarray,
    out: np.ndarray,
    records: list[FaceRecord],
    *,
    enlarge: float,
    warnings: list[str],
    recognizers: list[Recognizer] | None = None,
) -> list[FaceRecord]:
    """Fill (larger) every face of ``out`` that a recognizer still matches to ``original``.

    ``out`` is changed in place; the records of refilled faces get ``action="fill"`` and
    ``stage="audit"``.

    Raises
    ------
    AnonymizationError
        A face still matches after it was filled: the file must not be written.
    """
    from ..anonymize import get_method

    recognizers = recognizers or [shared_recognizer(n) for n in DEFAULT_RECOGNIZERS]
    left = still_matching(original, out, records, recognizers)
    if not left:
        return records
    fill = get_method("fill")
    grown = min(4.0, enlarge * _GROW)
    redone = {}
    for record in left:
        region = fill.apply(out, record.face.box, enlarge=grown, source=original)
        redone[id(record)] = replace(record, action="fill", region=region, stage="audit")
        warnings.append(f"a recognizer still matched the face at {record.face.to_json()['box']}; filled it")
    records = [redone.get(id(r), r) for r in records]
    if still_matching(original, out, [r for r in records if r.stage == "audit"], recognizers):
        raise AnonymizationError("a face still matches its original after it was filled; nothing was written")
    return records
