"""The HTTP service and web page: ``unerkannt serve``.

:func:`create_app` builds a FastAPI application from a :class:`ServiceConfig`.
Nothing is kept: an upload lives in a temporary folder for the length of one
request and is deleted before the response leaves; the web page keeps its photos
in the browser, never on the server. FastAPI and uvicorn are the ``service`` extra.
"""

from __future__ import annotations

from .app import create_app
from .config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
