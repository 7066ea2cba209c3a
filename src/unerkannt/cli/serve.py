"""``unerkannt serve``: the web page and the HTTP API on this machine."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..names import display
from . import EXIT_OK

if TYPE_CHECKING:
    from ..service.config import ServiceConfig


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="start the web page and HTTP API (needs the 'service' extra)",
        description=(
            "Serve the web page at / and the API at /v1 (OpenAPI at /openapi.json). Listens on 127.0.0.1 only "
            "unless --host says otherwise. Nothing is kept: an upload is a file without a name, gone when its "
            "request ends."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--token",
        help="require 'Authorization: Bearer TOKEN' on every request (default: $UNERKANNT_TOKEN; none if unset; "
        "an empty token is refused)",
    )
    p.add_argument("--workers", type=int, default=2, metavar="N", help="images processed at once (default: 2)")
    p.add_argument("--queue", type=int, default=8, metavar="N", help="requests that may wait; more get 503 (8)")
    p.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="seconds per request; then 503 and its work stops (60)"
    )
    p.add_argument("--max-upload-mb", type=float, default=30.0, metavar="MB", help="largest upload (default: 30)")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=50_000_000,
        metavar="N",
        help="largest image, all frames, each frame counted as at least 128x128 (default: 50 MP)",
    )
    p.add_argument("--max-frames", type=int, default=1000, metavar="N", help="most frames of an animation (1000)")
    p.add_argument(
        "--max-uploads", type=int, default=32, metavar="N", help="uploads received at once; more get 503 (32)"
    )
    p.add_argument(
        "--max-pending-mb", type=float, default=300.0, metavar="MB", help="bytes of uploads held at once (300)"
    )
    p.add_argument("--upload-timeout", type=float, default=60.0, metavar="S", help="seconds one upload may take (60)")
    p.add_argument(
        "--min-upload-rate",
        type=float,
        default=16.0,
        metavar="KB/S",
        help="an upload slower than this after its first 10 s gets 408 (default: 16 KB/s)",
    )
    p.add_argument(
        "--session-minutes", type=float, default=15.0, metavar="M", help="the page forgets photos after M idle minutes"
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="URL",
        help="let pages of this origin (https://host[:port]) call the API; other sites are refused",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the server answers to besides localhost and IP addresses (repeatable)",
    )
    p.add_argument(
        "--shares",
        metavar="DIR",
        help="turn on links that expire (POST /v1/shares), kept sealed in DIR (made if missing; "
        "an empty folder or one of an earlier --shares)",
    )
    p.add_argument(
        "--shares-max-mb",
        type=float,
        metavar="MB",
        help="what the shares folder may hold in all; more is refused with 507 (default: 1000)",
    )
    return p


def config_from(args: argparse.Namespace) -> ServiceConfig:
    """The service settings of the command line.

    Raises
    ------
    UsageError
        A setting out of range, or an empty token (``--token ""`` or an empty
        ``$UNERKANNT_TOKEN``): that would serve without authentication.
    ImportError
        The service extra is not installed.
    """
    from ..service.config import ServiceConfig

    if args.shares_max_mb is not None and args.shares is None:
        raise UsageError("--shares-max-mb needs --shares DIR")
    return ServiceConfig(
        host=args.host,
        port=args.port,
        token=args.token if args.token is not None else ServiceConfig.token_from_env(),
        workers=args.workers,
        queue=args.queue,
        timeout=args.timeout,
        max_upload_bytes=int(args.max_upload_mb * 1_000_000),
        max_pixels=args.max_pixels,
        max_frames=args.max_frames,
        max_uploads=args.max_uploads,
        max_pending_bytes=int(args.max_pending_mb * 1_000_000),
        upload_timeout=args.upload_timeout,
        min_upload_rate=args.min_upload_rate * 1000,
        session_seconds=max(1, round(args.session_minutes * 60)),
        cors_origins=tuple(args.cors_origin),
        allowed_hosts=tuple(args.allowed_host),
        shares_dir=args.shares,
        shares_max_bytes=int((args.shares_max_mb if args.shares_max_mb is not None else 1000) * 1_000_000),
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401 - only to tell a missing extra clearly

        from ..service.server import serve

        config = config_from(args)
    except ImportError as exc:
        raise UsageError("serve needs the service extra: pip install 'unerkannt[service]'") from exc
    logging.getLogger("unerkannt").setLevel(logging.INFO)
    if config.host not in ("127.0.0.1", "localhost", "::1") and config.token is None:
        print("unerkannt: warning: listening beyond this machine without --token", file=sys.stderr)
    print(f"unerkannt: serving on http://{config.host}:{config.port}/", file=sys.stderr)
    if config.shares_dir is not None:
        print(
            f"unerkannt: shares in {display(config.shares_dir)} (at most {config.shares_max_bytes / 1e6:g} MB)"
            + ("; their links open without the token" if config.token else ""),
            file=sys.stderr,
        )
    serve(config)
    return EXIT_OK
