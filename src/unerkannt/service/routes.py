"""The endpoints: ``/v1/protect``, ``/v1/detect``, ``/v1/audit``, ``/v1/config``,
``/v1/health`` and the page at ``/``.

Every upload endpoint follows the same steps: its parameters are checked (422 before
the body is read), the body is received without a worker (:mod:`.upload`), then the job
runs on a worker (:mod:`.work`) and the upload is gone when it ends.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response

from .. import __version__
from ..anonymize import METHODS, get_method
from ..detect import FaceDetector
from ..media import formats
from ..options import PROFILES
from .config import ServiceConfig
from .query import AuditQuery, DetectQuery, ProtectQuery, options_for, parse_boxes, strict
from .schemas import (
    BINARY,
    UPLOAD_BODY,
    UPLOAD_ERRORS,
    AuditOut,
    ConfigOut,
    DetectOut,
    FaceOut,
    HealthOut,
    MethodOut,
    SharingOut,
)
from .shares import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, MAX_VIEWS, MIN_EXPIRES_IN, ShareStore
from .spool import Spool
from .upload import Uploads
from .work import MEDIA_TYPES, Pool, audit_job, detect_job, protect_job

log = logging.getLogger("unerkannt.service")

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Service:
    """What the endpoints of one application share."""

    config: ServiceConfig
    pool: Pool
    uploads: Uploads
    spool: Spool
    detector: FaceDetector | None
    shares: ShareStore | None = None

    def stop(self) -> None:
        """Answer every upload and job in progress 503 (the server stops); new ones too."""
        self.uploads.stopping.set()
        self.pool.stop()


def service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


Served = Annotated[Service, Depends(service)]

router = APIRouter()


async def upload_then(request: Request, served: Service, job: Callable[..., Any], *args: Any) -> Any:
    """Receive the body, then run ``job(cancel, upload path, *args)`` on a worker."""
    start = time.perf_counter()
    upload = await served.uploads.receive(request)
    result = await served.pool.run(job, upload.path, *args, cleanup=upload.close)
    log.info("answered in %.3f s", time.perf_counter() - start)
    return result


@router.post(
    "/v1/protect",
    summary="Protect one image",
    description=(
        "Returns the image with every face filled (or the method chosen) and no metadata, in the input's "
        "format unless `format` says otherwise. `X-Unerkannt-Faces` tells how many faces were hidden. "
        "Example: `curl -F file=@party.jpg 'http://127.0.0.1:8000/v1/protect?method=fill' -o public.jpg`."
    ),
    response_class=Response,
    responses={
        200: {
            "description": "The protected image",
            "content": {mt: {"schema": BINARY} for mt in MEDIA_TYPES.values()},
            "headers": {
                "X-Unerkannt-Faces": {"description": "faces hidden", "schema": {"type": "integer"}},
                "X-Unerkannt-Weak": {
                    "description": "`true` when the method is weaker than fill",
                    "schema": {"type": "string"},
                },
            },
        },
        **UPLOAD_ERRORS,
    },
    openapi_extra=UPLOAD_BODY,
    dependencies=[Depends(strict(ProtectQuery))],
)
async def protect(request: Request, served: Served, query: Annotated[ProtectQuery, Query()]) -> Response:
    options = options_for(query, served.config)
    manual = parse_boxes(query.boxes, served.config.max_boxes)
    result = await upload_then(request, served, protect_job, options, manual, served.detector)
    weak = get_method(options.method).weak
    headers = {
        "Content-Disposition": f'attachment; filename="protected{formats()[result.format].extensions[0]}"',
        "X-Unerkannt-Faces": str(result.faces),
        "X-Unerkannt-Verify-Found": str(result.verify_found),
        "X-Unerkannt-Method": options.method,
        "X-Unerkannt-Weak": "true" if weak else "false",
        "X-Unerkannt-Warnings": json.dumps(result.warnings[:20])[:4000],
    }
    return Response(result.data, media_type=MEDIA_TYPES[result.format], headers=headers)


@router.post(
    "/v1/detect",
    summary="Find the faces in one image",
    description="Lists every face found, as boxes in pixels; writes and keeps nothing.",
    response_model=DetectOut,
    responses=UPLOAD_ERRORS,
    openapi_extra=UPLOAD_BODY,
    dependencies=[Depends(strict(DetectQuery))],
)
async def detect(request: Request, served: Served, query: Annotated[DetectQuery, Query()]) -> DetectOut:
    options = options_for(query, served.config)
    found = await upload_then(request, served, detect_job, options, served.detector)
    width, height = found.size
    return DetectOut(
        width=width,
        height=height,
        frames=found.frames,
        format=found.format,
        faces=[FaceOut(**face) for face in found.faces],
    )


@router.post(
    "/v1/audit",
    summary="Protect one image and audit the result with face recognizers",
    description=(
        "Protects the image as `/v1/protect` does (same options), then checks the protected result the "
        "way a face-search engine would: for every face of the original, whether a detector still finds "
        "it and whether each recognizer still matches it. Nothing is kept; no template leaves the request."
    ),
    response_model=AuditOut,
    responses=UPLOAD_ERRORS,
    openapi_extra=UPLOAD_BODY,
    dependencies=[Depends(strict(AuditQuery))],
)
async def audit(request: Request, served: Served, query: Annotated[AuditQuery, Query()]) -> AuditOut:
    options = options_for(query, served.config)
    manual = parse_boxes(query.boxes, served.config.max_boxes)
    result = await upload_then(request, served, audit_job, options, manual, served.detector, served.spool)
    return AuditOut(**result)


@router.get("/v1/config", summary="Limits and choices of this server", response_model=ConfigOut)
async def service_config(served: Served) -> ConfigOut:
    config = served.config
    return ConfigOut(
        version=__version__,
        session_seconds=config.session_seconds,
        max_upload_bytes=config.max_upload_bytes,
        max_pixels=config.max_pixels,
        max_frames=config.frame_limit,
        max_boxes=config.max_boxes,
        methods=[MethodOut(name=name, weak=get_method(name).weak) for name in METHODS],
        formats=list(MEDIA_TYPES),
        profiles=list(PROFILES),
        shares=None
        if served.shares is None
        else SharingOut(
            default_expires_in=DEFAULT_EXPIRES_IN,
            min_expires_in=MIN_EXPIRES_IN,
            max_expires_in=MAX_EXPIRES_IN,
            max_views=MAX_VIEWS,
        ),
    )


@router.get(
    "/v1/health", summary="Whether the service answers, and how many requests it holds", response_model=HealthOut
)
async def health(served: Served) -> HealthOut:
    return HealthOut(status="ok", busy=served.pool.busy, uploads=served.uploads.receiving)


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")
