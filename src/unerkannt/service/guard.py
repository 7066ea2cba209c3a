"""The guard in front of every request: host name, token, origin; and the security
headers on every answer, errors and failures of the service included.

Order of the checks, each answered before anything else runs:

1. ``Host`` must name this server (400 otherwise): ``localhost``, an IP address, the
   address it listens on, or a name given with ``--allowed-host``. A page on another
   site that points its own name at 127.0.0.1 (DNS rebinding) becomes "same-origin"
   for the browser, but its requests still carry its own name as ``Host``.
2. The token, when one is set (401); not for what ``public`` lets through (the link
   of a share, which is meant for people without the token, and its page's assets).
3. A request that changes something (any method but GET, HEAD and OPTIONS) coming from
   a page of another site is refused (403): its ``Origin`` is neither this server's
   own nor one allowed with ``--cors-origin``, or, without ``Origin``, its
   ``Sec-Fetch-Site`` says ``cross-site`` or ``same-site``. Clients that are not
   browsers send neither header and are not affected.

An exception that escapes the application is answered here, as a 500 with the JSON
error shape and the security headers, instead of by the framework's outermost
handler, which would answer without them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ServiceError

log = logging.getLogger("unerkannt.service")

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

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


class Guard:
    """ASGI middleware: the checks above, and :data:`SECURITY_HEADERS` on every answer.

    Parameters
    ----------
    token : str or None
        The bearer token every request needs, or ``None``.
    hosts : iterable of str
        Host names (besides ``localhost`` and IP addresses) the server answers to.
    origins : iterable of str
        Origins of other sites allowed to make changing requests (``https://photos.example``).
    public : callable or None
        ``public(method, path)`` is true for requests that need no token.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        hosts: tuple[str, ...],
        origins: tuple[str, ...],
        public: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.app = app
        self.token = token
        self.public = public
        self.hosts = frozenset({"localhost"} | {h.lower().strip("[]") for h in hosts if h not in _WILDCARDS})
        self.origins = frozenset(o.lower() for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        host = headers.get("host", "")
        if not self._known_host(host):
            log.warning("refused a request for another host name")
            await _answer(send, ServiceError(400, "bad-host", "this server does not answer to that host name"))
            return
        open_to_all = self.public is not None and self.public(scope["method"], scope.get("path", ""))
        if self.token is not None and not open_to_all and not self._authorized(headers):
            extra = [(b"www-authenticate", b'Basic realm="unerkannt"'), (b"www-authenticate", b"Bearer")]
            await _answer(send, ServiceError(401, "unauthorized", "a valid bearer token is required"), extra)
            return
        if scope["method"] not in _SAFE_METHODS and not self._same_site(scope, headers, host):
            log.warning("refused a request from a page of another site")
            await _answer(send, ServiceError(403, "forbidden-origin", "requests from pages of other sites are refused"))
            return

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present
                ]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception as exc:
            log.error("unexpected %s", type(exc).__name__, exc_info=exc)
            if started:  # the answer is under way: all that can be done is to break it off
                raise
            await _answer(send, ServiceError(500, "internal", "internal error; nothing was returned"))

    def _known_host(self, host: str) -> bool:
        name = host.strip().lower()
        if name.startswith("["):  # [::1]:8000
            name = name[1 : name.find("]")] if "]" in name else ""
        elif name.count(":") == 1:
            name, _, port = name.partition(":")
            if not port.isdigit():
                return False
        if not name:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return name.rstrip(".") in self.hosts
        return True  # an address is not a name some other site could point here

    def _same_site(self, scope: Scope, headers: dict[str, str], host: str) -> bool:
        origin = headers.get("origin")
        if origin is not None:
            own = f"{scope.get('scheme', 'http')}://{host.lower()}"
            return origin.lower() in (own, *self.origins)
        return headers.get("sec-fetch-site", "none").lower() not in ("cross-site", "same-site")

    def _authorized(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization")
        if value is None:
            return False
        scheme, _, credential = value.partition(" ")
        if scheme.lower() == "bearer":
            given = credential.strip()
        elif scheme.lower() == "basic":
            try:
                given = base64.b64decode(credential.strip(), validate=True).decode("utf-8").partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return False
        else:
            return False
        return hmac.compare_digest(given.encode(), (self.token or "").encode())


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers this guard reads (the first of each name)."""
    found: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        if name in ("host", "origin", "sec-fetch-site", "authorization"):
            found.setdefault(name, value.decode("latin-1"))
    return found


async def _answer(send: Send, error: ServiceError, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()] + (extra or [])
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
