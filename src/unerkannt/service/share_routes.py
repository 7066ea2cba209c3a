"""The endpoints of shares (``unerkannt serve --shares DIR``); not routed at all without it (404).

``POST /v1/shares``          protect the upload as ``/v1/protect`` does and seal the result
                             as a share: 201 with its link and delete token
``GET /s/{id}#KEY``          the page a link opens: it reads the key from the fragment (which
                             the browser never sends) and fetches the photo with it
``GET /v1/shares/{id}``      the photo, with the key in ``X-Unerkannt-Key``; counts one view
``DELETE /v1/shares/{id}``   ends the share at once, with ``X-Unerkannt-Delete-Token``

The key travels in the link's fragment and in a request header, never in a path or query
that access logs (the server's, a proxy's) would record; a link preview fetched by a
messenger gets the page, not the photo, and uses up no view. Viewing needs no service
token (the link is for people without one); creating and ending do.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from ..anonymize import get_method
from ..detect import FaceDetector
from ..errors import UsageError
from ..media import formats
from ..options import ProtectOptions
from .errors import ServiceError
from .models import check
from .query import ProtectQuery, options_for, parse_boxes, strict
from .routes import STATIC, Served, Service
from .schemas import BINARY, UPLOAD_BODY, UPLOAD_ERRORS, ShareOut, error
from .shares import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, MAX_VIEWS, MIN_EXPIRES_IN, Created, ShareStore
from .work import MEDIA_TYPES, Box, Protected, protect_job

log = logging.getLogger("unerkannt.service")

KEY_HEADER = "X-Unerkannt-Key"
DELETE_HEADER = "X-Unerkannt-Delete-Token"
#: What may be fetched without the service token: the page of a link, the photo with its
#: key, and the page's two assets.
_PUBLIC = re.compile(r"/s/[^/]{1,100}|/v1/shares/[^/]{1,100}|/static/share\.js|/static/app\.css")

router = APIRouter()


def public(method: str, path: str) -> bool:
    """Whether a request may go without the service token (:class:`.guard.Guard`)."""
    return method == "GET" and _PUBLIC.fullmatch(path) is not None


class ShareQuery(ProtectQuery):
    """The parameters of ``POST /v1/shares``: those of ``/v1/protect``, and the share's terms
    (also accepted as form fields, but not both ways at once)."""

    expires_in: int | None = Field(
        None,
        ge=MIN_EXPIRES_IN,
        le=MAX_EXPIRES_IN,
        description=f"Seconds until the share ends (default {DEFAULT_EXPIRES_IN}: 7 days; at most 90 days).",
    )
    max_views: int | None = Field(None, ge=1, le=MAX_VIEWS, description="Views after which the share ends.")


def store_of(served: Service) -> ShareStore:
    if served.shares is None:  # pragma: no cover - the routes exist only with a store
        raise ServiceError(404, "http", "Not Found")
    return served.shares


def _number(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {text[:20]!r}") from None
    if not low <= value <= high:
        raise UsageError(f"{name} must be between {low} and {high}")
    return value


def terms(query: ShareQuery, fields: dict[str, list[str]] | None) -> tuple[int, int | None]:
    """``expires_in`` and ``max_views`` from the query or the form.

    Raises
    ------
    UsageError
        A value out of range, a field the endpoint does not take, or one given twice.
    """
    if fields is None:
        raise UsageError("the form has more than 16 fields, or one longer than 1 KB")
    unknown = sorted(set(fields) - {"expires_in", "max_views"})
    if unknown:
        raise UsageError(f"unknown form field {unknown[0][:40]!r}; this endpoint takes file, expires_in, max_views")
    for name, values in fields.items():
        if len(values) > 1 or getattr(query, name) is not None:
            raise UsageError(f"{name} is given more than once; give it once")
    expires_in = query.expires_in
    if "expires_in" in fields:
        expires_in = _number("expires_in", fields["expires_in"][0], MIN_EXPIRES_IN, MAX_EXPIRES_IN)
    max_views = query.max_views
    if "max_views" in fields and fields["max_views"][0].strip():
        max_views = _number("max_views", fields["max_views"][0], 1, MAX_VIEWS)
    return expires_in or DEFAULT_EXPIRES_IN, max_views


def share_job(
    cancel: threading.Event,
    path: Path,
    options: ProtectOptions,
    boxes: tuple[Box, ...],
    override: FaceDetector | None,
    store: ShareStore,
    expires_in: int,
    max_views: int | None,
) -> tuple[Protected, Created]:
    """Protect the image at ``path`` (:func:`.work.protect_job`) and seal the result as a share.

    The upload is read by the protect job only: the original is never stored. A request
    cancelled before the share is committed makes none.
    """
    protected = protect_job(cancel, path, options, boxes, override)
    check(cancel)
    created = store.create(
        protected.data,
        format=protected.format,
        expires_in=expires_in,
        max_views=max_views,
        stop=lambda: check(cancel),
    )
    return protected, created


def iso(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 in UTC, to the second (``2026-12-08T10:00:00Z``)."""
    moment = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


GONE: dict[int | str, dict[str, Any]] = {
    410: error(
        "Every share that cannot be viewed gets this one answer: expired, views used up, ended, never made, or "
        "a wrong key",
        "gone",
        "this share is not available",
    )
}


@router.post(
    "/v1/shares",
    summary="Protect one image and share it behind a link that expires",
    description=(
        "Protects the image as `/v1/protect` does (the same options), seals the protected photo with a key "
        "that only the answer holds, and answers 201 with the link (`url`, the key after `#`), when it "
        "expires, and a token that ends it. The original is never stored. Form fields (or query parameters) "
        "`expires_in` (seconds, default 7 days, at most 90 days) and `max_views`. Example: "
        "`curl -F file=@party.jpg -F expires_in=86400 -F max_views=5 http://127.0.0.1:8000/v1/shares`."
    ),
    status_code=201,
    response_model=ShareOut,
    responses={
        **UPLOAD_ERRORS,
        507: error("The shares folder is full (`--shares-max-mb`) or its disk is", "shares-full", "the folder is full"),
    },
    openapi_extra=UPLOAD_BODY,
    dependencies=[Depends(strict(ShareQuery))],
)
async def create_share(request: Request, served: Served, query: Annotated[ShareQuery, Query()]) -> JSONResponse:
    store = store_of(served)
    options = options_for(query, served.config)
    manual = parse_boxes(query.boxes, served.config.max_boxes)
    await run_in_threadpool(store.room)  # a full folder refuses before the upload is read
    start = time.perf_counter()
    upload = await served.uploads.receive(request)
    try:
        expires_in, max_views = terms(query, upload.fields)
    except BaseException:
        upload.close()
        raise
    protected, created = await served.pool.run(
        share_job,
        upload.path,
        options,
        manual,
        served.detector,
        store,
        expires_in,
        max_views,
        cleanup=upload.close,
    )
    log.info("answered in %.3f s", time.perf_counter() - start)
    out = ShareOut(
        id=created.id,
        url=f"/s/{created.id}#{created.key}",
        expires_at=iso(created.expires_at),
        max_views=created.max_views,
        delete_token=created.delete_token,
        format=protected.format,
        faces=protected.faces,
        weak=get_method(options.method).weak,
        warnings=protected.warnings[:20],
    )
    return JSONResponse(out.model_dump(), status_code=201)


@router.get(
    "/v1/shares/{share_id}",
    summary="The photo of a share (one view)",
    description=(
        "Needs the key of the link (the part after `#`) in the header `X-Unerkannt-Key`, and no service token. "
        "Counts one view. `X-Unerkannt-Expires-At` and `X-Unerkannt-Views-Left` tell what is left. Example: "
        "`curl -H 'X-Unerkannt-Key: KEY' http://127.0.0.1:8000/v1/shares/ID -o photo.jpg`."
    ),
    response_class=Response,
    responses={
        200: {"description": "The protected photo", "content": {mt: {"schema": BINARY} for mt in MEDIA_TYPES.values()}},
        **GONE,
        422: error("No key was sent", "usage", "send the key of the link in X-Unerkannt-Key"),
    },
)
async def view_share(
    share_id: str,
    served: Served,
    key: Annotated[str | None, Header(alias=KEY_HEADER, description="The key: the part of the link after `#`.")] = None,
) -> StreamingResponse:
    store = store_of(served)
    if not key:
        raise UsageError(f"send the key of the link (the part after '#') in the header {KEY_HEADER}")
    view = await run_in_threadpool(store.view, share_id, key)
    ext = formats()[view.format].extensions[0] if view.format in formats() else ""
    headers = {
        "Content-Length": str(view.size),
        "Content-Disposition": f'inline; filename="shared{ext}"',
        "X-Unerkannt-Expires-At": iso(view.expires_at),
        "X-Unerkannt-Views-Left": "unlimited" if view.views_left is None else str(view.views_left),
    }
    media_type = MEDIA_TYPES.get(view.format, "application/octet-stream")
    return StreamingResponse(
        view.chunks(), media_type=media_type, headers=headers, background=BackgroundTask(view.close)
    )


@router.delete(
    "/v1/shares/{share_id}",
    summary="End a share at once",
    description=(
        "Removes the share's sealed photo and its entry; its link stops working at once. Needs the delete token "
        "of the answer that made it, in `X-Unerkannt-Delete-Token`. Example: "
        "`curl -X DELETE -H 'X-Unerkannt-Delete-Token: TOKEN' http://127.0.0.1:8000/v1/shares/ID`."
    ),
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Ended"}, **GONE, 422: error("No token was sent", "usage", "send the token")},
)
async def end_share(
    share_id: str,
    served: Served,
    token: Annotated[str | None, Header(alias=DELETE_HEADER, description="The delete token of the share.")] = None,
) -> Response:
    store = store_of(served)
    if not token:
        raise UsageError(f"send the share's delete token in the header {DELETE_HEADER}")
    await run_in_threadpool(store.end, share_id, token)
    return Response(status_code=204)


@router.get("/s/{share_id}", include_in_schema=False)
async def share_page(share_id: str) -> FileResponse:
    # The same page for every id: whether a share exists is told only to its key.
    return FileResponse(STATIC / "share.html", media_type="text/html; charset=utf-8")


__all__ = ["DELETE_HEADER", "KEY_HEADER", "ShareQuery", "public", "router", "share_job"]
