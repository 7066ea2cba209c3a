"""What the API answers, for FastAPI and the OpenAPI document: response models and
the documented error answers and request body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    type: str = Field(examples=["unsupported-format"])
    message: str = Field(examples=["not an image in a supported format"])


class ErrorBody(BaseModel):
    """Every error answer."""

    error: ErrorDetail


class FaceOut(BaseModel):
    box: list[float] = Field(min_length=4, max_length=4, examples=[[120.0, 80.5, 200.0, 181.2]])
    score: float = Field(examples=[0.91])
    detector: str = Field(examples=["centerface"])
    frame: int = Field(examples=[0])


class DetectOut(BaseModel):
    """The faces of an image, in pixels of the image as displayed (EXIF orientation applied)."""

    width: int = Field(examples=[640])
    height: int = Field(examples=[480])
    frames: int = Field(examples=[1])
    format: str = Field(examples=["jpeg"])
    faces: list[FaceOut]


class ScoreOut(BaseModel):
    recognizer: str = Field(examples=["sface"])
    metric: str = Field(examples=["cosine"])
    score: float = Field(examples=[0.08])
    threshold: float = Field(examples=[0.363])
    match: bool
    rank: int | None = None
    gallery_size: int | None = None


class FaceAuditOut(BaseModel):
    box: list[float] = Field(min_length=4, max_length=4, examples=[[120.0, 80.5, 200.0, 181.2]])
    score: float
    detector: str
    detected: bool = Field(description="a detector still finds a face here in the protected image")
    reidentifiable: bool = Field(description="a recognizer still matches the original face")
    scores: list[ScoreOut]


class AuditOut(BaseModel):
    """How findable the people of the original still are in the protected image."""

    ok: bool = Field(description="no face is re-identifiable", examples=[True])
    hidden: int = Field(description="faces the protection hid", examples=[1])
    faces: list[FaceAuditOut]
    warnings: list[str]


class MethodOut(BaseModel):
    name: str
    weak: bool


class SharingOut(BaseModel):
    """The terms shares may have, in seconds and views."""

    default_expires_in: int = Field(examples=[604800])
    min_expires_in: int = Field(examples=[60])
    max_expires_in: int = Field(examples=[7776000])
    max_views: int = Field(examples=[100000])


class ConfigOut(BaseModel):
    """What the page needs to know about this server."""

    version: str
    session_seconds: int
    max_upload_bytes: int
    max_pixels: int
    max_frames: int
    max_boxes: int
    methods: list[MethodOut]
    formats: list[str]
    profiles: list[str]
    shares: SharingOut | None = Field(description="the terms of shares; `null` when sharing is off")


class ShareOut(BaseModel):
    """A new share. The key is the part of `url` after `#`; it is kept nowhere on the server."""

    id: str = Field(examples=["Qm9vdHN0cmFwcGVkLWlk"])
    url: str = Field(description="the link, relative to this server", examples=["/s/ID#KEY"])
    expires_at: str = Field(description="when the share ends (ISO 8601, UTC)", examples=["2026-12-15T10:00:00Z"])
    max_views: int | None = Field(description="views after which it ends; `null`: no limit", examples=[5])
    delete_token: str = Field(description="ends the share: `DELETE /v1/shares/{id}` with it")
    format: str = Field(examples=["jpeg"])
    faces: int = Field(description="faces hidden", examples=[2])
    weak: bool = Field(description="the method is weaker than fill")
    warnings: list[str]


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])
    busy: int = Field(description="requests holding a work slot (running or queued)", examples=[0])
    uploads: int = Field(description="uploads being received", examples=[0])


def error(description: str, code: str, message: str) -> dict[str, Any]:
    return {
        "model": ErrorBody,
        "description": description,
        "content": {"application/json": {"example": {"error": {"type": code, "message": message}}}},
    }


BUSY = error(
    "Every worker or upload slot is busy, the image took too long, or the server stops; see Retry-After",
    "busy",
    "try again shortly",
)
BUSY["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error(
        "The upload was interrupted, or the Host is not this server's", "disconnected", "the upload was interrupted"
    ),
    401: error("A token is required", "unauthorized", "a valid bearer token is required"),
    403: error(
        "A page of another site may not use this server", "forbidden-origin", "requests from other sites are refused"
    ),
    408: error("The upload came too slowly or took too long", "timeout", "the upload took too long"),
    413: error("Upload, image, frames or work too large", "too-large", "the upload is larger than the limit"),
    415: error("Not an image in a supported format", "unsupported-format", "not an image"),
    422: error(
        "Malformed, unknown or repeated options, malformed form, damaged image",
        "usage",
        "enlarge must be between 1.0 and 4.0",
    ),
    500: error("The service failed; nothing was returned", "detection", "a detector failed"),
    503: BUSY,
}

BINARY = {"type": "string", "format": "binary"}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The image: as the multipart field `file`, or as the raw body.",
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {"file": BINARY}, "required": ["file"]}},
            "application/octet-stream": {"schema": BINARY},
        },
    }
}
