"""Receive an upload into an anonymous file, before any worker is involved.

The body is never held whole in memory and never parsed by a framework that
spools it elsewhere: raw bodies and the ``file`` part of a multipart form are
streamed into a file without a name (:mod:`.spool`), counting every byte.

What uploads may hold is bounded on its own, apart from the workers: at most
``max_uploads`` bodies are received at once and ``max_pending_bytes`` are held in all
(503 above either); the stream is cut off as soon as it passes the size limit (413);
and a body that trickles in, slower than ``min_upload_rate`` after a grace period or
longer than ``upload_timeout`` in all, is answered 408. Each ending frees the slot,
the bytes and the file at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from .config import ServiceConfig
from .errors import ServiceError
from .spool import Spool, path_of

log = logging.getLogger("unerkannt.service")

#: Bytes a multipart body may have beyond the file itself (boundaries, headers, small fields).
_FORM_OVERHEAD = 64 * 1024
#: Form fields besides ``file`` that are kept for the endpoint (more, or longer, are flagged).
_FIELDS = 16
_FIELD_BYTES = 1024
#: Raw body types accepted besides ``image/*``.
_RAW_TYPES = {b"application/octet-stream", b""}


def too_large(limit: int) -> ServiceError:
    return ServiceError(413, "too-large", f"the upload is larger than the limit of {limit:,} bytes")


@dataclass(eq=False)
class Upload:
    """A received upload: an anonymous file and the bytes it holds of the budget."""

    file: IO[bytes]
    size: int
    _release: Callable[[], None] = field(repr=False)
    #: The form's other fields (name -> values), for endpoints that take any; ``None``
    #: when there were more than 16 or one was longer than 1 KB (such an endpoint refuses that).
    fields: dict[str, list[str]] | None = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """A path that reads the file (it has no name of its own)."""
        return path_of(self.file)

    def close(self) -> None:
        """Close the file (the kernel frees it) and give its bytes back; safe to call twice."""
        self.file.close()
        self._release()


class Uploads:
    """The upload slots and byte budget of one server, and the receiving itself.

    ``stopping`` is set when the server stops: every upload in progress is answered 503.
    (A :class:`threading.Event`: it is set from a signal handler, and the application may
    be driven by more than one event loop, as in tests.)
    """

    def __init__(self, config: ServiceConfig, spool: Spool) -> None:
        self.config = config
        self.spool = spool
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._receiving = 0
        self._held = 0

    @property
    def receiving(self) -> int:
        return self._receiving

    @property
    def held_bytes(self) -> int:
        return self._held

    def _busy(self, what: str) -> ServiceError:
        return ServiceError(
            503, "busy", f"{what}; try again shortly", headers={"Retry-After": str(self.config.retry_after)}
        )

    def _reserve(self, size: int) -> None:
        with self._lock:
            if self._held + size > self.config.max_pending_bytes:
                raise self._busy("the server holds as many uploads as it may")
            self._held += size

    def _give_back(self, size: int) -> None:
        with self._lock:
            self._held -= size

    async def receive(self, request: Request) -> Upload:
        """The uploaded image of ``request``, in an anonymous file.

        Raises
        ------
        ServiceError
            503 when ``max_uploads`` bodies are being received or their bytes would pass
            ``max_pending_bytes``, or the server stops; 408 for a body too slow or too long
            in coming; 413 over the size limit; 415 for a body that is neither an image nor
            a form; 422 for a form without exactly one ``file`` part, a malformed form or an
            empty upload; 400 when the client went away.
        """
        config = self.config
        ctype, params = parse_options_header(request.headers.get("content-type", ""))
        form = ctype == b"multipart/form-data"
        if not form and not (ctype.startswith(b"image/") or ctype in _RAW_TYPES):
            raise ServiceError(
                415, "unsupported-media-type", "send the image as the request body or as the multipart field 'file'"
            )
        budget = config.max_upload_bytes + (_FORM_OVERHEAD if form else 0)
        declared = request.headers.get("content-length")
        expected = int(declared) if declared is not None and declared.isdigit() else None
        if expected is not None and expected > budget:
            raise too_large(config.max_upload_bytes)
        if self.stopping.is_set():
            raise ServiceError(503, "stopping", "the server is stopping", headers={"Retry-After": "5"})
        with self._lock:
            if self._receiving >= config.max_uploads:
                raise self._busy("the server receives as many uploads as it may")
            self._receiving += 1
        held = 0
        file: IO[bytes] | None = None
        try:
            self._reserve(expected or 0)
            held = expected or 0
            file = self.spool.new_file()
            sink = (
                _FormSink(file, config.max_upload_bytes, params.get(b"boundary", b""))
                if form
                else _RawSink(file, config.max_upload_bytes)
            )
            received = 0
            async for chunk in self._chunks(request):
                received += len(chunk)
                if received > budget:
                    raise too_large(config.max_upload_bytes)
                if received > held:
                    self._reserve(received - held)
                    held = received
                sink.write(chunk)
            size = sink.finish()
            if size == 0:
                raise ServiceError(422, "corrupt", "the upload is empty")
            file.flush()
        except BaseException:
            if file is not None:
                file.close()
            self._give_back(held)
            raise
        finally:
            with self._lock:
                self._receiving -= 1
        log.info("upload: %d bytes", size)
        fields = sink.fields if isinstance(sink, _FormSink) else {}
        return Upload(file=file, size=size, _release=_once(lambda: self._give_back(held)), fields=fields)

    async def _chunks(self, request: Request) -> AsyncIterator[bytes]:
        """The body's chunks, as long as they come in time (408) and the server runs (503)."""
        config = self.config
        start = time.monotonic()
        received = 0
        stream = request.stream().__aiter__()
        while True:
            # Apache's mod_reqtimeout rule: a grace period, extended by every byte that
            # came at the minimum rate; and a time limit for the whole upload.
            deadline = min(
                start + config.upload_grace + received / config.min_upload_rate, start + config.upload_timeout
            )
            pending = asyncio.ensure_future(anext(stream))
            try:
                while not pending.done():
                    if self.stopping.is_set():
                        raise ServiceError(503, "stopping", "the server is stopping", headers={"Retry-After": "5"})
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        log.warning("upload too slow: %d bytes in %.1f s", received, time.monotonic() - start)
                        raise ServiceError(
                            408,
                            "timeout",
                            "the upload came too slowly or took too long",
                            headers={"Connection": "close"},
                        )
                    # Woken at least every quarter second to see whether the server stops.
                    await asyncio.wait({pending}, timeout=min(remaining, 0.25))
            finally:
                if not pending.done():
                    pending.cancel()
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            except ClientDisconnect:
                raise ServiceError(400, "disconnected", "the upload was interrupted") from None
            received += len(chunk)
            yield chunk


def _once(action: Callable[[], None]) -> Callable[[], None]:
    """``action``, run on the first call only."""
    done = threading.Event()

    def run() -> None:
        if not done.is_set():
            done.set()
            action()

    return run


class _RawSink:
    def __init__(self, out: IO[bytes], limit: int) -> None:
        self.out, self.limit, self.size = out, limit, 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise too_large(self.limit)
        self.out.write(data)

    def finish(self) -> int:
        return self.size


class _FormSink:
    """Streams the part named ``file`` into ``out``; other fields are read into :attr:`fields`
    (at most 16 of at most 1 KB each; beyond that :attr:`fields` becomes ``None``)."""

    def __init__(self, out: IO[bytes], limit: int, boundary: bytes) -> None:
        if not boundary:
            raise ServiceError(422, "usage", "the multipart body has no boundary")
        self.out, self.limit = out, limit
        self.size = 0
        self.files = 0
        self.ended = False
        self._field = b""
        self._value = b""
        self._disposition = b""
        self._in_file = False
        self.fields: dict[str, list[str]] | None = {}
        self._name = ""
        self._text = b""
        try:
            self._parser = MultipartParser(
                boundary,
                {  # type: ignore[arg-type]
                    "on_part_begin": self._part_begin,
                    "on_header_field": self._header_field,
                    "on_header_value": self._header_value,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_finished,
                    "on_part_data": self._part_data,
                    "on_part_end": self._part_end,
                    "on_end": self._end,
                },
            )
        except FormParserError as exc:  # a boundary over 256 characters, ...
            raise ServiceError(422, "usage", f"the multipart body is malformed: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except FormParserError as exc:
            raise ServiceError(422, "usage", "the multipart body is malformed") from exc

    def finish(self) -> int:
        try:
            self._parser.finalize()
        except FormParserError as exc:
            raise ServiceError(422, "usage", "the multipart body is malformed") from exc
        if self.files != 1:
            raise ServiceError(422, "usage", "send exactly one image, in the multipart field 'file'")
        return self.size

    def _part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False
        self._text = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        self._in_file = params.get(b"name") == b"file"
        if self._in_file:
            self.files += 1
            if self.files > 1:
                raise ServiceError(422, "usage", "send exactly one image, in the multipart field 'file'")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            if self.fields is not None:
                self._text += data[start:end]
                if len(self._text) > _FIELD_BYTES:
                    self.fields = None
            return
        self.size += end - start
        if self.size > self.limit:
            raise too_large(self.limit)
        self.out.write(data[start:end])

    def _part_end(self) -> None:
        if self._in_file or self.fields is None:
            return
        values = self.fields.setdefault(self._name, [])
        values.append(self._text.decode("utf-8", "replace"))
        if sum(len(v) for v in self.fields.values()) > _FIELDS:
            self.fields = None

    def _end(self) -> None:
        self.ended = True
