"""A share at rest: the protected photo sealed with AES-256-GCM under a key of its own.

The key of a share is 32 random bytes that live in its link and nowhere on the server.
From it and the share's id, HKDF-SHA256 derives two independent values: the key that
encrypts, and a *verifier* that the index keeps to tell a right key from a wrong one
without reading the file. Neither gives back the link key.

A sealed file has no header and nothing in clear (no magic number, no format, no size
beyond what its own length gives). It is a sequence of segments, each encrypted and
authenticated on its own so that a view is decrypted piece by piece in bounded memory::

    segment 0        the metadata (format, size), padded to a fixed length
    segment 1 .. n   the photo, :data:`SEGMENT` bytes each (the last one shorter)

    sealed segment = AES-GCM ciphertext || 16-byte tag
    nonce          = the segment's index (11 bytes, big-endian) || 1 for the last, else 0
    associated data = the share's id

The nonces follow the STREAM construction (Hoang, Reyhanitabar, Rogaway and Vizár,
2015): a key seals one file only, so counting nonces never repeat; the index in the nonce
stops segments from being reordered, the flag stops a file from being cut after a
segment, and the id stops a file from being opened under another share's name.
"""

from __future__ import annotations

import hmac
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Bytes of the photo in one segment: what a view holds in memory at a time.
SEGMENT = 256 * 1024
#: Bytes of the metadata segment before sealing (JSON, padded with spaces).
META = 240
#: Bytes of a link key.
KEY_BYTES = 32
_TAG = 16


class Broken(Exception):
    """A sealed file does not open: changed, cut, or under the wrong id (never a wrong key:
    keys are checked against the verifier before a file is read)."""


@dataclass(frozen=True)
class Meta:
    """What segment 0 holds: the photo's format name and its size in bytes."""

    format: str
    size: int


def _derive(key: bytes, share_id: str, purpose: bytes) -> bytes:
    info = b"unerkannt share v1 " + purpose + b" " + share_id.encode("ascii")
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(key)


def verifier(key: bytes, share_id: str) -> bytes:
    """The value the index keeps to check ``key`` (32 bytes); one HKDF run, whatever the key."""
    return _derive(key, share_id, b"verifier")


def same(a: bytes, b: bytes) -> bool:
    """Whether ``a`` equals ``b``, in time independent of where they differ."""
    return hmac.compare_digest(a, b)


def token_hash(token: str) -> bytes:
    """The SHA-256 of a delete token: the index keeps this, never the token (32 random bytes)."""
    return sha256(token.encode("utf-8", "replace")).digest()


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def sealed_size(size: int) -> int:
    """Bytes of the sealed file of a ``size``-byte photo."""
    return META + _TAG + size + _TAG * math.ceil(size / SEGMENT)


def seal(out: IO[bytes], data: bytes, *, key: bytes, share_id: str, meta: Meta) -> int:
    """Write ``data`` sealed under ``key`` to ``out``; returns the bytes written.

    Raises
    ------
    ValueError
        ``data`` is empty, or the metadata does not fit its segment.
    OSError
        Writing failed (the disk is full, ...).
    """
    if not data:
        raise ValueError("nothing to seal")
    head = json.dumps({"format": meta.format, "size": meta.size}).encode()
    if len(head) > META:
        raise ValueError("the metadata does not fit")
    aead = AESGCM(_derive(key, share_id, b"encryption"))
    aad = share_id.encode("ascii")
    pieces = math.ceil(len(data) / SEGMENT)
    written = out.write(aead.encrypt(_nonce(0, False), head.ljust(META), aad))
    view = memoryview(data)
    for i in range(pieces):
        piece = bytes(view[i * SEGMENT : (i + 1) * SEGMENT])
        written += out.write(aead.encrypt(_nonce(i + 1, i + 1 == pieces), piece, aad))
    return written


class Opened:
    """A sealed file being read: :attr:`meta` at once, then :meth:`chunks` of the photo.

    Owns ``file`` and closes it when the chunks are read, or on :meth:`close`.

    Raises
    ------
    Broken
        The metadata segment does not open (from the constructor), or a later segment
        does not (from :meth:`chunks`).
    """

    def __init__(self, file: IO[bytes], *, key: bytes, share_id: str) -> None:
        self._file = file
        self._aead = AESGCM(_derive(key, share_id, b"encryption"))
        self._aad = share_id.encode("ascii")
        try:
            self._total = os.fstat(file.fileno()).st_size
            self._pieces = math.ceil((self._total - META - _TAG) / (SEGMENT + _TAG))
            if self._pieces < 1:
                raise Broken("the file is too short")
            head = json.loads(self._open(0, False, file.read(META + _TAG)))
            self.meta = Meta(format=str(head["format"]), size=int(head["size"]))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            file.close()
            raise Broken(f"the metadata does not open: {type(exc).__name__}") from exc
        except Broken:
            file.close()
            raise
        if sealed_size(self.meta.size) != self._total:
            file.close()
            raise Broken("the file's length does not match its metadata")

    def _open(self, index: int, last: bool, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(_nonce(index, last), sealed, self._aad)
        except InvalidTag as exc:
            raise Broken(f"segment {index} does not open") from exc

    def chunks(self) -> Iterator[bytes]:
        """The photo, a segment at a time; the file is closed at the end (or when abandoned)."""
        try:
            for i in range(1, self._pieces + 1):
                yield self._open(i, i == self._pieces, self._file.read(SEGMENT + _TAG))
        finally:
            self._file.close()

    def close(self) -> None:
        self._file.close()


__all__ = ["KEY_BYTES", "SEGMENT", "Broken", "Meta", "Opened", "same", "seal", "sealed_size", "token_hash", "verifier"]
