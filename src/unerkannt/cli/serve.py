"""``unerkannt serve``: the web page and the HTTP API on this machine."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from ..errors import UsageError
from . import EXIT_OK


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="start the web page and HTTP API (needs the 'service' extra)",
        description=(
            "Serve the web page at / and the API at /v1 (OpenAPI at /openapi.json). Listens on 127.0.0.1 only "
            "unless --host says otherwise. Nothing is kept: uploads are deleted when their request ends."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--token",
        help="require 'Authorization: Bearer TOKEN' on every request (default: $UNERKANNT_TOKEN; none if unset)",
    )
    p.add_argument("--workers", type=int, default=2, metavar="N", help="images processed at once (default: 2)")
    p.add_argument("--queue", type=int, default=8, metavar="N", help="requests that may wait; more get 503 (8)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds per request (default: 60)")
    p.add_argument("--max-upload-mb", type=float, default=30.0, metavar="MB", help="largest upload (default: 30)")
    p.add_argument("--max-pixels", type=int, default=50_000_000, metavar="N", help="largest image (default: 50 MP)")
    p.add_argument(
        "--session-minutes", type=float, default=15.0, metavar="M", help="the page forgets photos after M idle minutes"
    )
    p.add_argument("--cors-origin", action="append", default=[], metavar="URL", help="allow calls from this origin")
    return p


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..service import ServiceConfig, create_app
    except ImportError as exc:
        raise UsageError("serve needs the service extra: pip install 'unerkannt[service]'") from exc
    config = ServiceConfig(
        host=args.host,
        port=args.port,
        token=args.token or ServiceConfig.token_from_env(),
        workers=args.workers,
        queue=args.queue,
        timeout=args.timeout,
        max_upload_bytes=int(args.max_upload_mb * 1_000_000),
        max_pixels=args.max_pixels,
        session_seconds=max(1, round(args.session_minutes * 60)),
        cors_origins=tuple(args.cors_origin),
    )
    logging.getLogger("unerkannt").setLevel(logging.INFO)
    if config.host not in ("127.0.0.1", "localhost", "::1") and config.token is None:
        print("unerkannt: warning: listening beyond this machine without --token", file=sys.stderr)
    print(f"unerkannt: serving on http://{config.host}:{config.port}/", file=sys.stderr)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info", server_header=False)
    return EXIT_OK
