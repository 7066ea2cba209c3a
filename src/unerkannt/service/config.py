"""Settings of the HTTP service, as one immutable object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import UsageError

#: Environment variable read for the bearer token when ``--token`` is not given.
TOKEN_ENV = "UNERKANNT_TOKEN"

#: What one frame counts at least, in pixels of work. A frame costs a fixed part however
#: small it is (network runs, fill, encode): a 4 x 4 frame took 2.5 ms of CPU through the
#: service with CenterFace and the verifier, what about 8,000 pixels of a photo cost
#: (320 ns a pixel at 640 x 480). Counting it as twice that keeps a GIF of tiny frames from
#: costing more per counted pixel than a photo does.
FRAME_WORK_FLOOR = 128 * 128


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
        An empty token is refused: it would look like protection and be none.
    max_upload_bytes : int
        Largest accepted upload (413 above).
    max_pixels : int
        Largest accepted work, in pixels: width x height x frames, where every frame
        counts at least :data:`FRAME_WORK_FLOOR` pixels (413 above).
    max_frames : int
        Most frames of an animated image (413 above), checked before decoding.
    max_boxes : int
        Most manual boxes one request may name (422 above).
    workers : int
        Images processed at once (threads sharing the process's models).
    queue : int
        Uploaded requests that may wait for a worker; more are answered 503 with ``Retry-After``.
    timeout : float
        Seconds a request may wait for a worker and be worked on; then it is answered
        503 and its work stops.
    retry_after : int
        Seconds suggested to clients in ``Retry-After``.
    max_uploads : int
        Request bodies received at once, before any worker is involved (503 above).
    max_pending_bytes : int
        Bytes of uploads held at once, received or being received (503 above).
    upload_timeout : float
        Seconds one upload may take in all (408 above).
    min_upload_rate : float
        Bytes per second an upload must keep up after its first :attr:`upload_grace`
        seconds (408 below): a body trickling in holds nothing for long.
    upload_grace : float
        Seconds an upload may take before :attr:`min_upload_rate` applies.
    session_seconds : int
        The page forgets its photos after this long without use.
    cors_origins : tuple of str
        Origins (``https://photos.example``) allowed to call the API from their pages;
        requests that change something from any other site are refused (403).
    allowed_hosts : tuple of str
        Host names the server answers to besides ``localhost``, IP addresses and
        ``host``; any other ``Host`` header is refused (400), which stops DNS rebinding.
    temp_dir : str or None
        Parent of the server's temporary folder (the system's by default).
    shares_dir : str or None
        The folder of the shares (``--shares``); sharing is off without it.
    shares_max_bytes : int
        What the shares folder may hold in all (507 above).
    share_sweep_seconds : float
        How often expired shares are removed (besides on access and at start).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = field(default=None, repr=False)
    max_upload_bytes: int = 30_000_000
    max_pixels: int = 50_000_000
    max_frames: int = 1_000
    max_boxes: int = 256
    workers: int = 2
    queue: int = 8
    timeout: float = 60.0
    retry_after: int = 2
    max_uploads: int = 32
    max_pending_bytes: int = 300_000_000
    upload_timeout: float = 60.0
    min_upload_rate: float = 16_000.0
    upload_grace: float = 10.0
    session_seconds: int = 900
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    temp_dir: str | None = None
    shares_dir: str | None = None
    shares_max_bytes: int = 1_000_000_000
    share_sweep_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise UsageError(f"port must be between 0 and 65535, not {self.port}")
        if self.token is not None and not self.token.strip():
            raise UsageError(f"the token must not be empty (--token, ${TOKEN_ENV}); leave both unset to serve without")
        for name in (
            "max_upload_bytes",
            "max_pixels",
            "max_frames",
            "max_boxes",
            "workers",
            "timeout",
            "max_uploads",
            "upload_timeout",
            "min_upload_rate",
            "session_seconds",
            "shares_max_bytes",
            "share_sweep_seconds",
        ):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive")
        if self.share_sweep_seconds > 60:
            raise UsageError("share_sweep_seconds must be 60 or less: expired shares are removed at least every minute")
        if self.queue < 0 or self.retry_after < 0 or self.upload_grace < 0:
            raise UsageError("queue, retry_after and upload_grace must be 0 or more")
        if self.max_pending_bytes < self.max_upload_bytes:
            raise UsageError("max_pending_bytes must be at least max_upload_bytes")
        for origin in self.cors_origins:
            if "://" not in origin or origin.endswith("/"):
                raise UsageError(f"a CORS origin is scheme://host[:port], not {origin!r}")

    @property
    def frame_limit(self) -> int:
        """Frames one image may have: :attr:`max_frames`, and no more than
        :attr:`max_pixels` of work at :data:`FRAME_WORK_FLOOR` pixels a frame."""
        return max(1, min(self.max_frames, self.max_pixels // FRAME_WORK_FLOOR))

    @staticmethod
    def token_from_env() -> str | None:
        """The token in :data:`TOKEN_ENV`; ``None`` only when it is unset (an empty one is refused later)."""
        return os.environ.get(TOKEN_ENV)
