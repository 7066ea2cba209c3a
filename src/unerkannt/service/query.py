"""The query parameters of the endpoints, and the options they make.

Each endpoint declares its parameters as one model (FastAPI documents every field as
a query parameter). Only declared parameters are accepted, and only ``detector`` and
``boxes`` may repeat: anything else is refused (422) before the body is read, so a
request cannot quietly multiply the work, and a typo is not silently ignored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from ..anonymize import METHODS, get_method
from ..detect import DETECTORS
from ..errors import UsageError
from ..media import by_name
from ..options import PROFILES, ProtectOptions
from .config import ServiceConfig
from .work import MEDIA_TYPES, Box

#: The parameters that may be given more than once.
REPEATABLE = frozenset({"detector", "boxes"})


class DetectQuery(BaseModel):
    """The parameters of ``/v1/detect``."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Field(
        "default", description="Detection profile.", json_schema_extra={"enum": list(PROFILES)}, examples=["default"]
    )
    detector: list[str] | None = Field(
        None,
        description="Detector to use; repeat the parameter for several, each once (default: centerface).",
        json_schema_extra={
            "items": {"type": "string", "enum": list(DETECTORS)},
            "uniqueItems": True,
            "maxItems": len(DETECTORS),
        },
    )
    threshold: float | None = Field(
        None, gt=0.0, lt=1.0, description="Detector score threshold (default: the profile's)."
    )


class AuditQuery(DetectQuery):
    """The parameters of ``/v1/audit``: how to protect before the audit."""

    method: str = Field(
        "fill",
        description="How faces are hidden. `fill` is irreversible; the others are weaker.",
        json_schema_extra={"enum": list(METHODS)},
        examples=["fill"],
    )
    detect: bool = Field(
        True,
        description=(
            "Run the detectors. `false` hides only the given `boxes`: for a client that let its user "
            "choose which faces stay visible."
        ),
    )
    boxes: list[str] | None = Field(
        None,
        description=(
            "Faces to hide besides the detected ones, `x1,y1,x2,y2` in pixels of the image as displayed; "
            "repeat the parameter or separate boxes with `;`."
        ),
        examples=[["120,80,200,180"]],
    )
    verify: bool | None = Field(
        None,
        description=(
            "Re-detect with a second detector on the protected pixels and hide what it finds "
            "(default: the value of `detect`, since it would hide faces left visible on purpose)."
        ),
    )
    enlarge: float = Field(1.3, ge=1.0, le=4.0, description="Grow face boxes by this factor.", examples=[1.3])
    format: str | None = Field(
        None, description="Output format (default: the input's).", json_schema_extra={"enum": list(MEDIA_TYPES)}
    )
    quality: int = Field(90, ge=1, le=100, description="Quality of lossy formats.")


class ProtectQuery(AuditQuery):
    """The parameters of ``/v1/protect``."""

    keep_icc: bool = Field(False, description="Keep the ICC colour profile (no other metadata).")


def strict(model: type[BaseModel]) -> Callable[[Request], None]:
    """A dependency refusing parameters that ``model`` does not declare, and repeats of
    those that do not repeat (:data:`REPEATABLE`)."""
    known = frozenset(model.model_fields)

    def check(request: Request) -> None:
        counts = Counter(name for name, _ in request.query_params.multi_items())
        unknown = sorted(set(counts) - known)
        if unknown:
            raise UsageError(f"unknown parameter {unknown[0][:40]!r}; this endpoint takes {', '.join(sorted(known))}")
        repeated = sorted(name for name, n in counts.items() if n > 1 and name not in REPEATABLE)
        if repeated:
            raise UsageError(f"the parameter {repeated[0]!r} is given {counts[repeated[0]]} times; give it once")

    return check


def options_for(query: DetectQuery, config: ServiceConfig) -> ProtectOptions:
    """The protection options of a request.

    Raises
    ------
    UsageError
        An unknown method, format, profile or detector, or a detector named twice.
    """
    names = tuple(query.detector or ("centerface",))
    for name in names:
        if name not in DETECTORS:
            raise UsageError(f"unknown detector {name[:40]!r}; choose from {', '.join(DETECTORS)}")
    if len(set(names)) != len(names):
        raise UsageError("name each detector once")
    if not isinstance(query, AuditQuery):
        return ProtectOptions(
            profile=query.profile,
            detectors=names,
            threshold=query.threshold,
            verify=False,
            max_pixels=config.max_pixels,
            max_frames=config.frame_limit,
        )
    get_method(query.method)
    if query.format is not None:
        by_name(query.format)
    return ProtectOptions(
        method=query.method,
        profile=query.profile,
        detectors=names if query.detect else (),
        threshold=query.threshold,
        verify=query.detect if query.verify is None else query.verify,
        enlarge=query.enlarge,
        format=query.format,
        quality=query.quality,
        keep_icc=isinstance(query, ProtectQuery) and query.keep_icc,
        max_pixels=config.max_pixels,
        max_frames=config.frame_limit,
    )


def parse_boxes(values: list[str] | None, limit: int) -> tuple[Box, ...]:
    """The boxes of the ``boxes`` parameters.

    Raises
    ------
    UsageError
        A box that is not four numbers with ``x1 < x2`` and ``y1 < y2``, or more than ``limit``.
    """
    boxes: list[Box] = []
    for value in values or []:
        for part in value.split(";"):
            if not part.strip():
                continue
            try:
                x1, y1, x2, y2 = (float(v) for v in part.split(","))
            except ValueError:
                raise UsageError(f"a box is four numbers x1,y1,x2,y2, not {part[:40]!r}") from None
            if not all(abs(v) < 1e7 for v in (x1, y1, x2, y2)) or x2 <= x1 or y2 <= y1:
                raise UsageError(f"a box needs x1 < x2 and y1 < y2 in pixels, not {part[:40]!r}")
            boxes.append((x1, y1, x2, y2))
            if len(boxes) > limit:
                raise UsageError(f"at most {limit} boxes per request")
    return tuple(boxes)
