"""The FastAPI application, wired together: the API under ``/v1`` and the page at ``/``.

The rooms: :mod:`.guard` (host, token, origin, security headers), :mod:`.query`
(parameters and options), :mod:`.upload` and :mod:`.spool` (receiving bodies into
files without a name), :mod:`.work` and :mod:`.models` (workers, jobs, shared models),
:mod:`.schemas` (what the API answers) and :mod:`.routes` (the endpoints);
:mod:`.shares`, :mod:`.sealing` and :mod:`.share_routes` (links that expire, with
``--shares``), :mod:`.rights_routes` (the letters of "Your rights").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..detect import FaceDetector
from ..errors import UnerkanntError
from . import rights_routes, share_routes
from .config import ServiceConfig
from .errors import ServiceError, from_unerkannt
from .guard import Guard
from .routes import STATIC, Service, router
from .shares import ShareStore
from .spool import Spool
from .upload import Uploads
from .work import Pool

log = logging.getLogger("unerkannt.service")


def create_app(
    config: ServiceConfig | None = None,
    *,
    detector: FaceDetector | None = None,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """The service as an ASGI application.

    Parameters
    ----------
    config : ServiceConfig, optional
        Limits, token, CORS ...; the defaults otherwise.
    detector : FaceDetector, optional
        Used for every request instead of the detectors the options name, and for
        the verification pass (a :class:`~unerkannt.detect.fake.FakeDetector` in tests).
    clock : callable, optional
        Seconds since the epoch for the expiry of shares (``time.time``; tests move it).

    Raises
    ------
    UsageError
        The shares folder cannot be used (:class:`~.shares.ShareStore`).
    """
    config = config or ServiceConfig()
    shares = (
        ShareStore(config.shares_dir, max_bytes=config.shares_max_bytes, clock=clock)
        if config.shares_dir is not None
        else None
    )
    spool = Spool(config.temp_dir)
    served = Service(
        config=config,
        pool=Pool(workers=config.workers, queue=config.queue, timeout=config.timeout, retry_after=config.retry_after),
        uploads=Uploads(config, spool),
        spool=spool,
        detector=detector,
        shares=shares,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        served.uploads.stopping.clear()
        spool.sweep()
        spool.folder  # noqa: B018 - made and locked now, so that no other server's start takes it for dead
        sweeper = asyncio.create_task(_sweep(shares, config.share_sweep_seconds)) if shares else None
        try:
            yield
        finally:
            served.stop()
            served.pool.shutdown()
            spool.close()
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            if shares is not None:
                shares.close()

    app = FastAPI(
        title="unerkannt",
        version=__version__,
        summary="Make photos safe to publish against automated face recognition.",
        description=(
            "Every face is found and filled, metadata is removed, and an image that cannot be fully protected "
            "gets an error instead of a half-protected file. Nothing is kept: an upload is a file without a "
            "name that lives for the length of one request."
        ),
        docs_url=None,  # the interactive docs load scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = served

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
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = ServiceError(exc.status_code, "http", str(exc.detail)).body()
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only those of the route tried first
            headers["Allow"] = ", ".join(_methods(app, request.url.path))
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    app.include_router(router)
    app.include_router(rights_routes.router)
    if shares is not None:
        app.include_router(share_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", share_routes.KEY_HEADER, share_routes.DELETE_HEADER],
            expose_headers=[
                "X-Unerkannt-Faces",
                "X-Unerkannt-Weak",
                "X-Unerkannt-Warnings",
                "X-Unerkannt-Expires-At",
                "X-Unerkannt-Views-Left",
                "Retry-After",
            ],
        )
    # Outermost of ours: every request, CORS preflights included, passes the guard;
    # unexpected errors are answered there (with the security headers).
    app.add_middleware(
        Guard,
        token=config.token,
        hosts=(config.host, *config.allowed_hosts),
        origins=config.cors_origins,
        public=share_routes.public if shares is not None else None,
    )
    return app


def _methods(app: FastAPI, path: str) -> list[str]:
    """The methods the routes of ``path`` answer."""
    found: set[str] = set()
    for route in app.routes:
        regex, methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and methods and regex.match(path):
            found |= set(methods)
    return sorted(found)


async def _sweep(shares: ShareStore, every: float) -> None:
    """Remove expired shares every ``every`` seconds, for as long as the server runs."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(shares.sweep)
        except Exception as exc:  # the next round tries again; the server goes on
            log.error("shares: the sweep failed: %s", exc)


__all__ = ["create_app"]
