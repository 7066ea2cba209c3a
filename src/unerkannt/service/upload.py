"""Receive an upload straight into a temporary file, counting every byte.

The body is never held whole in memory and never parsed by a framework that
spools it elsewhere: raw bodies and the ``file`` part of a multipart form are
streamed into one file that the request owns, and the stream is cut off as soon
as it passes the size limit (413).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from .errors import ServiceError

#: Bytes a multipart body may have beyond the file itself (boundaries, headers, small fields).
_FORM_OVERHEAD = 64 * 1024
#: Raw body types accepted besides ``image/*``.
_RAW_TYPES = {b"application/octet-stream", b""}


def too_large(limit: int) -> ServiceError:
    return ServiceError(413, "too-large", f"the upload is larger than the limit of {limit:,} bytes")


async def receive(request: Request, dest: Path, *, limit: int) -> int:
    """Write the uploaded image of ``request`` to ``dest``; its size in bytes.

    Raises
    ------
    ServiceError
        413 over ``limit``, 415 for a body that is neither an image nor a form,
        422 for a form without exactly one ``file`` part or an empty upload.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    form = ctype == b"multipart/form-data"
    if not form and not (ctype.startswith(b"image/") or ctype in _RAW_TYPES):
        raise ServiceError(
            415, "unsupported-media-type", "send the image as the request body or as the multipart field 'file'"
        )
    budget = limit + (_FORM_OVERHEAD if form else 0)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > budget:
        raise too_large(limit)
    with dest.open("wb") as out:
        sink = _FormSink(out, limit, params.get(b"boundary", b"")) if form else _RawSink(out, limit)
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > budget:
                    raise too_large(limit)
                sink.write(chunk)
        except ClientDisconnect:
            raise ServiceError(400, "disconnected", "the upload was interrupted") from None
        size = sink.finish()
    if size == 0:
        raise ServiceError(422, "corrupt", "the upload is empty")
    return size


class _RawSink:
    def __init__(self, out: Any, limit: int) -> None:
        self.out, self.limit, self.size = out, limit, 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise too_large(self.limit)
        self.out.write(data)

    def finish(self) -> int:
        return self.size


class _FormSink:
    """Streams the part named ``file`` into ``out``; other fields are read and dropped."""

    def __init__(self, out: Any, limit: int, boundary: bytes) -> None:
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
        self._parser = MultipartParser(
            boundary,
            {  # type: ignore[arg-type]
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_end": self._end,
            },
        )

    def write(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except MultipartParseError as exc:
            raise ServiceError(422, "usage", "the multipart body is malformed") from exc

    def finish(self) -> int:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise ServiceError(422, "usage", "the multipart body is malformed") from exc
        if self.files != 1:
            raise ServiceError(422, "usage", "send exactly one image, in the multipart field 'file'")
        return self.size

    def _part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False

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
        self._in_file = params.get(b"name") == b"file"
        if self._in_file:
            self.files += 1
            if self.files > 1:
                raise ServiceError(422, "usage", "send exactly one image, in the multipart field 'file'")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        self.size += end - start
        if self.size > self.limit:
            raise too_large(self.limit)
        self.out.write(data[start:end])

    def _end(self) -> None:
        self.ended = True
