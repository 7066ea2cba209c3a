"""Settings of the HTTP service, as one immutable object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import UsageError

#: Environment variable read for the bearer token when ``--token`` is not given.
TOKEN_ENV = "UNERKANNT_TOKEN"


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """How the service listens, what it accepts and how much work it takes on.

    Parameters
    ----------
    host, port : str, int
        Where uvicorn listens; loopback by default, so nothing is reachable from
        other machines unless asked for.
    token : str or None
        When set, every request needs ``Authorization: Bearer TOKEN`` (or HTTP Basic
        with the token as password, which is how a browser sends it to the page).
    max_upload_bytes : int
        Largest accepted upload (413 above).
    max_pixels : int
        Largest accepted image, width x height x frames (413 above).
    max_boxes : int
        Most manual boxes one request may name (422 above).
    workers : int
        Images processed at once (threads; each holds its own models).
    queue : int
        Requests that may wait for a worker; more are answered 503 with ``Retry-After``.
    timeout : float
        Seconds a request may wait and run before it is answered 503.
    retry_after : int
        Seconds suggested to clients in ``Retry-After``.
    session_seconds : int
        The page forgets its photos after this long without use.
    cors_origins : tuple of str
        Origins allowed to call the API from other pages; none by default.
    temp_dir : str or None
        Parent folder of the per-request temporary folders (the system's by default).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = field(default=None, repr=False)
    max_upload_bytes: int = 30_000_000
    max_pixels: int = 50_000_000
    max_boxes: int = 256
    workers: int = 2
    queue: int = 8
    timeout: float = 60.0
    retry_after: int = 2
    session_seconds: int = 900
    cors_origins: tuple[str, ...] = ()
    temp_dir: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise UsageError(f"port must be between 0 and 65535, not {self.port}")
        if self.token is not None and not self.token.strip():
            raise UsageError("the token must not be empty")
        for name in ("max_upload_bytes", "max_pixels", "max_boxes", "workers", "timeout", "session_seconds"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive")
        if self.queue < 0 or self.retry_after < 0:
            raise UsageError("queue and retry_after must be 0 or more")

    @staticmethod
    def token_from_env() -> str | None:
        """The token in :data:`TOKEN_ENV`, or ``None`` when unset or empty."""
        return os.environ.get(TOKEN_ENV) or None
