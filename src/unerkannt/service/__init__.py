"""The HTTP service and web page: ``unerkannt serve``.

:func:`create_app` builds a FastAPI application from a :class:`ServiceConfig`.
Nothing is kept: an upload is a file without a name for the length of one request,
gone when it ends however it ends; the web page keeps its photos in the browser,
never on the server. FastAPI and uvicorn are the ``service`` extra.
"""

from __future__ import annotations

from .app import create_app
from .config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
