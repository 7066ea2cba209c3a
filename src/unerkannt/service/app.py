"""The FastAPI application: the API under ``/v1`` and the page at ``/``."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..anonymize import METHODS, get_method
from ..detect import DETECTORS, FaceDetector
from ..errors import UnerkanntError, UsageError
from ..media import by_name, formats
from ..options import PROFILES, ProtectOptions
from .config import ServiceConfig
from .errors import ServiceError, from_unerkannt
from .upload import receive
from .work import MEDIA_TYPES, Box, Pool, audit_job, detect_job, new_workdir, protect_job, remove_workdir

log = logging.getLogger("unerkannt.service")

STATIC = Path(__file__).parent / "static"

#: Headers on every answer: nothing cached, nothing sniffed, no referrer, page
#: assets only from this server (no CDN), not framed by other sites.
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


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


class ConfigOut(BaseModel):
    """What the page needs to know about this server."""

    version: str
    session_seconds: int
    max_upload_bytes: int
    max_pixels: int
    max_boxes: int
    methods: list[MethodOut]
    formats: list[str]
    profiles: list[str]


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])
    busy: int = Field(examples=[0])


def _error(description: str, code: str, message: str) -> dict[str, Any]:
    return {
        "model": ErrorBody,
        "description": description,
        "content": {"application/json": {"example": {"error": {"type": code, "message": message}}}},
    }


_BUSY = _error("Every worker is busy or the image took too long; see Retry-After", "busy", "try again shortly")
_BUSY["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
_UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The upload was interrupted", "disconnected", "the upload was interrupted"),
    401: _error("A token is required", "unauthorized", "a valid bearer token is required"),
    408: _error("The upload took too long", "timeout", "the upload took too long"),
    413: _error("Upload or image too large", "too-large", "the upload is larger than the limit"),
    415: _error("Not an image in a supported format", "unsupported-format", "not an image"),
    422: _error("Malformed options, damaged image", "usage", "enlarge must be between 1.0 and 4.0"),
    500: _error("The service failed; nothing was returned", "detection", "a detector failed"),
    503: _BUSY,
}

_BINARY = {"type": "string", "format": "binary"}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The image: as the multipart field `file`, or as the raw body.",
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": _BINARY}, "required": ["file"]}
            },
            "application/octet-stream": {"schema": _BINARY},
        },
    }
}


# Query parameters, shared by the endpoints.
Method = Annotated[
    str,
    Query(
        description="How faces are hidden. `fill` is irreversible; the others are weaker.",
        json_schema_extra={"enum": list(METHODS)},
        examples=["fill"],
    ),
]
Profile = Annotated[
    str, Query(description="Detection profile.", json_schema_extra={"enum": list(PROFILES)}, examples=["default"])
]
Detectors = Annotated[
    list[str] | None,
    Query(
        alias="detector",
        description="Detector to use, repeatable (default: centerface).",
        json_schema_extra={"items": {"type": "string", "enum": list(DETECTORS)}},
    ),
]
Threshold = Annotated[
    float | None, Query(gt=0.0, lt=1.0, description="Detector score threshold (default: the profile's).")
]
Detect = Annotated[
    bool,
    Query(
        description=(
            "Run the detectors. `false` hides only the given `boxes`: for a client that let its user "
            "choose which faces stay visible."
        )
    ),
]
Boxes = Annotated[
    list[str] | None,
    Query(
        alias="boxes",
        description=(
            "Faces to hide besides the detected ones, `x1,y1,x2,y2` in pixels of the image as displayed; "
            "repeat the parameter or separate boxes with `;`."
        ),
        examples=["120,80,200,180"],
    ),
]
Verify = Annotated[
    bool | None,
    Query(
        description=(
            "Re-detect with a second detector on the protected pixels and hide what it finds "
            "(default: the value of `detect`, since it would hide faces left visible on purpose)."
        )
    ),
]
Enlarge = Annotated[float, Query(ge=1.0, le=4.0, description="Grow face boxes by this factor.", examples=[1.3])]
Format = Annotated[
    str | None,
    Query(
        alias="format",
        description="Output format (default: the input's).",
        json_schema_extra={"enum": list(MEDIA_TYPES)},
    ),
]
Quality = Annotated[int, Query(ge=1, le=100, description="Quality of lossy formats.")]
KeepIcc = Annotated[bool, Query(description="Keep the ICC colour profile (no other metadata).")]


def _parse_boxes(values: list[str] | None, limit: int) -> tuple[Box, ...]:
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


def create_app(config: ServiceConfig | None = None, *, detector: FaceDetector | None = None) -> FastAPI:
    """The service as an ASGI application.

    Parameters
    ----------
    config : ServiceConfig, optional
        Limits, token, CORS ...; the defaults otherwise.
    detector : FaceDetector, optional
        Used for every request instead of the detectors the options name, and for
        the verification pass (a :class:`~unerkannt.detect.fake.FakeDetector` in tests).
    """
    config = config or ServiceConfig()
    pool = Pool(
        workers=config.workers,
        queue=config.queue,
        timeout=config.timeout,
        retry_after=config.retry_after,
        detector=detector,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = FastAPI(
        title="unerkannt",
        version=__version__,
        summary="Make photos safe to publish against automated face recognition.",
        description=(
            "Every face is found and filled, metadata is removed, and an image that cannot be fully protected "
            "gets an error instead of a half-protected file. Nothing is kept: uploads live in a temporary "
            "folder for the length of one request."
        ),
        docs_url=None,  # the interactive docs load scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.pool = pool

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(UnerkanntError)
    async def _unerkannt_error(_: Request, exc: UnerkanntError) -> JSONResponse:
        err = from_unerkannt(exc)
        if err.status >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return JSONResponse(ServiceError(422, "usage", problems or "invalid request").body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = ServiceError(exc.status_code, "http", str(exc.detail)).body()
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s", type(exc).__name__, exc_info=exc)
        return JSONResponse(ServiceError(500, "internal", "internal error; nothing was returned").body(), 500)

    def options_for(
        *,
        method: str = "fill",
        profile: str = "default",
        detectors: list[str] | None = None,
        threshold: float | None = None,
        detect: bool = True,
        verify: bool | None = None,
        enlarge: float = 1.3,
        output_format: str | None = None,
        quality: int = 90,
        keep_icc: bool = False,
    ) -> ProtectOptions:
        get_method(method)
        if output_format is not None:
            by_name(output_format)
        for name in detectors or ():
            if name not in DETECTORS:
                raise UsageError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
        return ProtectOptions(
            method=method,
            profile=profile,
            detectors=tuple(detectors or ("centerface",)) if detect else (),
            threshold=threshold,
            verify=detect if verify is None else verify,
            enlarge=enlarge,
            format=output_format,
            quality=quality,
            keep_icc=keep_icc,
            max_pixels=config.max_pixels,
        )

    async def upload_then(request: Request, job: Callable[..., Any], *args: Any) -> Any:
        start = time.perf_counter()
        pool.acquire()
        workdir = new_workdir(config.temp_dir)
        try:
            path = workdir / "upload"
            try:
                size = await asyncio.wait_for(receive(request, path, limit=config.max_upload_bytes), config.timeout)
            except TimeoutError:
                raise ServiceError(408, "timeout", "the upload took too long") from None
        except BaseException:
            remove_workdir(workdir)
            pool.release()
            raise
        log.info("upload: %d bytes", size)
        result = await pool.run(job, pool, path, *args, cleanup=lambda: remove_workdir(workdir))
        log.info("answered in %.3f s", time.perf_counter() - start)
        return result

    @app.post(
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
                "content": {mt: {"schema": _BINARY} for mt in MEDIA_TYPES.values()},
                "headers": {
                    "X-Unerkannt-Faces": {"description": "faces hidden", "schema": {"type": "integer"}},
                    "X-Unerkannt-Weak": {
                        "description": "`true` when the method is weaker than fill",
                        "schema": {"type": "string"},
                    },
                },
            },
            **_UPLOAD_ERRORS,
        },
        openapi_extra=_UPLOAD_BODY,
    )
    async def protect(
        request: Request,
        method: Method = "fill",
        profile: Profile = "default",
        detectors: Detectors = None,
        threshold: Threshold = None,
        detect: Detect = True,
        boxes: Boxes = None,
        verify: Verify = None,
        enlarge: Enlarge = 1.3,
        output_format: Format = None,
        quality: Quality = 90,
        keep_icc: KeepIcc = False,
    ) -> Response:
        options = options_for(
            method=method,
            profile=profile,
            detectors=detectors,
            threshold=threshold,
            detect=detect,
            verify=verify,
            enlarge=enlarge,
            output_format=output_format,
            quality=quality,
            keep_icc=keep_icc,
        )
        manual = _parse_boxes(boxes, config.max_boxes)
        result = await upload_then(request, protect_job, options, manual)
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

    @app.post(
        "/v1/detect",
        summary="Find the faces in one image",
        description="Lists every face found, as boxes in pixels; writes and keeps nothing.",
        response_model=DetectOut,
        responses=_UPLOAD_ERRORS,
        openapi_extra=_UPLOAD_BODY,
    )
    async def detect(
        request: Request,
        profile: Profile = "default",
        detectors: Detectors = None,
        threshold: Threshold = None,
    ) -> DetectOut:
        options = options_for(profile=profile, detectors=detectors, threshold=threshold, verify=False)
        found = await upload_then(request, detect_job, options)
        width, height = found.size
        return DetectOut(
            width=width,
            height=height,
            frames=found.frames,
            format=found.format,
            faces=[FaceOut(**face) for face in found.faces],
        )

    @app.post(
        "/v1/audit",
        summary="Protect one image and audit the result with face recognizers",
        description=(
            "Protects the image as `/v1/protect` does (same options), then checks the protected result the "
            "way a face-search engine would: for every face of the original, whether a detector still finds "
            "it and whether each recognizer still matches it. Nothing is kept; no template leaves the request."
        ),
        response_model=AuditOut,
        responses=_UPLOAD_ERRORS,
        openapi_extra=_UPLOAD_BODY,
    )
    async def audit(
        request: Request,
        method: Method = "fill",
        profile: Profile = "default",
        detectors: Detectors = None,
        threshold: Threshold = None,
        detect: Detect = True,
        boxes: Boxes = None,
        verify: Verify = None,
        enlarge: Enlarge = 1.3,
        output_format: Format = None,
        quality: Quality = 90,
    ) -> AuditOut:
        options = options_for(
            method=method,
            profile=profile,
            detectors=detectors,
            threshold=threshold,
            detect=detect,
            verify=verify,
            enlarge=enlarge,
            output_format=output_format,
            quality=quality,
        )
        manual = _parse_boxes(boxes, config.max_boxes)
        return AuditOut(**await upload_then(request, audit_job, options, manual))

    @app.get("/v1/config", summary="Limits and choices of this server", response_model=ConfigOut)
    async def service_config() -> ConfigOut:
        return ConfigOut(
            version=__version__,
            session_seconds=config.session_seconds,
            max_upload_bytes=config.max_upload_bytes,
            max_pixels=config.max_pixels,
            max_boxes=config.max_boxes,
            methods=[MethodOut(name=name, weak=get_method(name).weak) for name in METHODS],
            formats=list(MEDIA_TYPES),
            profiles=list(PROFILES),
        )

    @app.get(
        "/v1/health", summary="Whether the service answers, and how many requests it holds", response_model=HealthOut
    )
    async def health() -> HealthOut:
        return HealthOut(status="ok", busy=pool.busy)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Unerkannt-Faces", "X-Unerkannt-Weak", "X-Unerkannt-Warnings", "Retry-After"],
        )
    # Outermost: every request, CORS preflights included, passes the token check.
    app.add_middleware(Guard, token=config.token)
    return app


class Guard:
    """ASGI middleware: the token check on every request, and :data:`SECURITY_HEADERS`."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.token is not None and not self._authorized(scope):
            body = json.dumps(ServiceError(401, "unauthorized", "a valid bearer token is required").body()).encode()
            await _send_plain(
                send, 401, body, [(b"www-authenticate", b'Basic realm="unerkannt"'), (b"www-authenticate", b"Bearer")]
            )
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)

    def _authorized(self, scope: Scope) -> bool:
        token = (self.token or "").encode()
        for key, value in scope.get("headers", []):
            if key != b"authorization":
                continue
            scheme, _, credential = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                given = credential.strip()
            elif scheme.lower() == "basic":
                try:
                    given = base64.b64decode(credential.strip(), validate=True).decode("utf-8").partition(":")[2]
                except (binascii.Error, UnicodeDecodeError):
                    return False
            else:
                return False
            return hmac.compare_digest(given.encode(), token)
        return False


async def _send_plain(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()] + extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["Guard", "create_app"]
