"""How failures become HTTP answers: one JSON shape, a status per kind of error."""

from __future__ import annotations

from ..errors import ImageTooLargeError, InputError, UnerkanntError, UnsupportedFormatError, UsageError


class ServiceError(Exception):
    """A request that is answered with ``status`` and ``{"error": {"type", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"type": self.code, "message": self.message}}


def from_unerkannt(exc: UnerkanntError) -> ServiceError:
    """The answer for an error of the pipeline.

    Bad input is a 4xx (never a 500): an unsupported type 415, too many pixels 413,
    a damaged file or contradicting options 422. Failures of the service itself
    (a detector that cannot load, an encoder that fails) are 500: nothing was returned.
    """
    if isinstance(exc, UnsupportedFormatError):
        status = 415
    elif isinstance(exc, ImageTooLargeError):
        status = 413
    elif isinstance(exc, InputError | UsageError):
        status = 422
    else:
        status = 500
    return ServiceError(status, exc.code, str(exc))
