"""Run the application under uvicorn, and stop it cleanly on SIGTERM or Ctrl-C.

On the signal every upload in progress and every job is answered 503 at once (jobs
stop at their next check), uvicorn closes the connections, and the application's
shutdown removes the server's folder. Uploads never had a name on disk, so nothing of
them is left even when the process is killed outright (:mod:`.spool`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import FrameType

from ..detect import FaceDetector
from .app import create_app
from .config import ServiceConfig
from .routes import Service

#: Seconds uvicorn waits for answers under way after a stop, before it cancels them.
GRACE_SECONDS = 10


def serve(
    config: ServiceConfig, *, detector: FaceDetector | None = None, clock: Callable[[], float] | None = None
) -> None:
    """Serve ``config``'s application until SIGTERM or SIGINT (``detector`` and ``clock`` as in
    :func:`create_app`)."""
    import uvicorn

    app = create_app(config, detector=detector, clock=clock)
    served: Service = app.state.service
    loop: list[asyncio.AbstractEventLoop] = []

    class Server(uvicorn.Server):
        async def serve(self, sockets=None) -> None:  # type: ignore[no-untyped-def]
            loop.append(asyncio.get_running_loop())
            await super().serve(sockets)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # A signal handler interrupts the event loop's thread anywhere, maybe inside a
            # lock that stopping needs: the loop runs it at its next turn instead.
            if loop:
                loop[0].call_soon_threadsafe(served.stop)
            super().handle_exit(sig, frame)

    Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="info",
            server_header=False,
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
    ).run()
