"""Shares: protected photos behind a link that expires, kept sealed in one folder.

The folder (``unerkannt serve --shares DIR``) holds::

    index.sqlite (+ -wal, -shm)   one row per share: id, verifier, hash of the delete
                                  token, expiry, views left, sealed size
    blobs/<id>                    the sealed photo (:mod:`.sealing`)
    lock                          held by the one server that uses the folder

The key of a share is made here, used once to seal the photo, handed back in the link
and forgotten: it is in no file, no row and no log. A view brings it back for the length
of one request. What the folder shows without the keys: how many shares there are, their
sealed sizes, when they expire and how many views they have left; not what they show, not
even their format.

**Writes are atomic.** A photo is sealed into a part file, made durable, linked under its
id, and only then its row is committed; the answer (201) comes after the commit. A crash
before the commit leaves at most a part or a file without a row, removed when the store
opens; a crash after it loses nothing. Ending a share removes its row,
then its file (a crash between the two leaves an orphan file, removed the same way).

**One rule for every share that cannot be viewed**: a missing id, a wrong key, an expired
share, views used up, a share that was ended: all get the same answer (410), so no answer
tells whether a share exists. A key is checked against the share's verifier, or against a
dummy when there is no such share, with one HKDF run and a constant-time comparison either
way.

Views are counted under the store's lock with a conditional update, so two requests for
the last view of a share cannot both get it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import UsageError
from .errors import ServiceError
from .sealing import KEY_BYTES, Broken, Meta, Opened, same, seal, sealed_size, token_hash, verifier

log = logging.getLogger("unerkannt.service")

#: The longest a share may live, and how long it lives when not told (seconds).
MAX_EXPIRES_IN = 90 * 24 * 3600
DEFAULT_EXPIRES_IN = 7 * 24 * 3600
#: The shortest: a link that ends before it can be sent is a mistake.
MIN_EXPIRES_IN = 60
#: Most views a share may allow.
MAX_VIEWS = 100_000

INDEX = "index.sqlite"
BLOBS = "blobs"
LOCK = "lock"
_PART = ".part-"
_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
_DUMMY = bytes(32)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY,
    verifier BLOB NOT NULL,
    delete_hash BLOB NOT NULL,
    expires_at REAL NOT NULL,
    views_left INTEGER,
    size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS shares_expiry ON shares (expires_at);
"""

Clock = Callable[[], float]


def gone() -> ServiceError:
    """The one answer for every share that cannot be viewed or ended (see the module's docstring)."""
    return ServiceError(
        410,
        "gone",
        "this share is not available: it expired, its views are used up, it was ended, or the link is not complete",
    )


def full(message: str) -> ServiceError:
    return ServiceError(507, "shares-full", message)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes | None:
    """The bytes of a link key, or ``None`` for anything that is not one."""
    if not _SECRET.fullmatch(text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class Created:
    """A new share. ``key`` and ``delete_token`` exist only here and in the answer."""

    id: str
    key: str = field(repr=False)
    delete_token: str = field(repr=False)
    expires_at: float
    max_views: int | None
    size: int


@dataclass
class View:
    """One view of a share: the photo's format and size, and its bytes as they are decrypted."""

    format: str
    size: int
    expires_at: float
    views_left: int | None
    opened: Opened = field(repr=False)

    def chunks(self) -> Iterator[bytes]:
        return self.opened.chunks()

    def close(self) -> None:
        self.opened.close()


class ShareStore:
    """The shares of one folder. Thread-safe; one server per folder (it is locked).

    Parameters
    ----------
    folder : str or Path
        Made (mode 0700) when missing. A folder that holds other files and no index is
        refused: starting cleans up files of the store, and it must not take anyone
        else's for its own.
    max_bytes : int
        What the folder may hold: sealed photos, the index, and writes under way (507 above).
    clock : callable
        Seconds since the epoch (``time.time``); expiry is wall-clock time, since it
        must hold across restarts.

    Raises
    ------
    UsageError
        The folder cannot be made or used, holds other files, or another server uses it.
    """

    def __init__(self, folder: str | os.PathLike[str], *, max_bytes: int, clock: Clock | None = None) -> None:
        self.folder = Path(folder)
        self.blobs = self.folder / BLOBS
        self.max_bytes = max_bytes
        self.clock: Clock = clock or time.time
        self._lock = threading.Lock()
        self._reserved = 0
        self._db: sqlite3.Connection | None = None
        self._lock_file: IO[bytes] | None = None
        with self._lock:
            self._index()

    def _index(self) -> sqlite3.Connection:
        """The index, opened (the folder locked, what a crash left removed, expired shares
        swept) on first use and again after :meth:`close`. The caller holds the lock."""
        if self._db is not None:
            return self._db
        lock_file = self._take(self.folder)
        try:
            self.blobs.mkdir(mode=0o700, exist_ok=True)
            # Made readable by its owner only before SQLite opens it: its log and shared
            # memory files take the same permissions.
            os.close(os.open(self.folder / INDEX, os.O_WRONLY | os.O_CREAT, 0o600))
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(self.folder / (INDEX + suffix), 0o600)
            db = sqlite3.connect(self.folder / INDEX, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # Every commit reaches the disk before the 201: a crash or a power loss loses
            # no share that was confirmed. Deleted rows are overwritten, not left in free pages.
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA secure_delete=ON")
            # The log is folded into the index often and cut back, so that it stays small
            # beside the limit of the folder, which counts it.
            db.execute("PRAGMA wal_autocheckpoint=64")
            db.execute("PRAGMA journal_size_limit=262144")
            db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            lock_file.close()
            raise UsageError(f"the shares folder cannot be used: {exc}") from exc
        self._db, self._lock_file = db, lock_file
        self._recover_locked()
        self._sweep_locked()
        return db

    # -- the folder -------------------------------------------------------------------------

    @staticmethod
    def _take(folder: Path) -> IO[bytes]:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            present = {p.name for p in folder.iterdir()}
        except OSError as exc:
            raise UsageError(f"the shares folder cannot be made or read: {exc.strerror or exc}") from exc
        if INDEX not in present and present - {LOCK, BLOBS, INDEX + "-wal", INDEX + "-shm"}:
            raise UsageError(
                "the shares folder holds other files and no index of shares: give an empty or a new folder"
            )
        try:
            fd = os.open(folder / LOCK, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            handle = open(fd, "ab")  # noqa: SIM115 - held as the lock for as long as the store is open
        except OSError as exc:
            raise UsageError(f"the shares folder is not writable: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise UsageError("another server uses this shares folder") from None
        return handle

    def _recover_locked(self) -> None:
        """Remove what a crash may have left: files without a row (and unfinished ones),
        rows without a file."""
        db = self._index()
        ids = {row[0] for row in db.execute("SELECT id FROM shares")}
        files = 0
        for path in self.blobs.iterdir():
            if path.name in ids:
                ids.discard(path.name)
            elif path.is_file() and (_ID.fullmatch(path.name) or path.name.startswith(_PART)):
                path.unlink(missing_ok=True)
                files += 1
            else:
                log.warning("shares: a file the store did not make is in its folder; left alone")
        for missing in ids:
            db.execute("DELETE FROM shares WHERE id = ?", (missing,))
        if ids:
            log.error("shares: %d share(s) without their file were removed", len(ids))
        if files:
            log.warning("shares: removed %d file(s) of writes a crash interrupted", files)

    def close(self) -> None:
        """Close the index and give up the folder (it is opened again on the next use)."""
        with self._lock:
            db, lock_file, self._db, self._lock_file = self._db, self._lock_file, None, None
            if db is not None:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                db.close()
            if lock_file is not None:
                lock_file.close()

    # -- room -------------------------------------------------------------------------------

    def _used_locked(self) -> int:
        (rows,) = self._index().execute("SELECT COALESCE(SUM(size), 0) FROM shares").fetchone()
        index = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                index += (self.folder / (INDEX + suffix)).stat().st_size
        return int(rows) + index + self._reserved

    def used(self) -> int:
        """Bytes the folder holds or has promised to writes under way."""
        with self._lock:
            return self._used_locked()

    def _full(self, used: int, needed: int = 0) -> ServiceError:
        more = f", this photo needs {needed / 1e6:.1f} MB more" if needed else ""
        return full(
            f"the shares folder is full ({used / 1e6:.1f} of {self.max_bytes / 1e6:.1f} MB used{more}): "
            "end shares or wait until some expire"
        )

    def room(self) -> None:
        """Raise 507 when the folder is full already (before an upload is read)."""
        with self._lock:
            used = self._used_locked()
        if used >= self.max_bytes:
            raise self._full(used)

    # -- create -----------------------------------------------------------------------------

    def create(
        self,
        data: bytes,
        *,
        format: str,
        expires_in: int,
        max_views: int | None,
        stop: Callable[[], None] = lambda: None,
    ) -> Created:
        """Seal ``data`` (a protected photo in ``format``) as a new share.

        ``stop`` is called before the share is committed; it raises when the request
        was cancelled, and the share is then never made.

        Raises
        ------
        ServiceError
            507 when the folder has no room for it, or the disk is full.
        """
        share_id = b64(secrets.token_bytes(16))
        key = secrets.token_bytes(KEY_BYTES)
        delete_token = b64(secrets.token_bytes(32))
        size = sealed_size(len(data))
        with self._lock:
            used = self._used_locked()
            if used + size > self.max_bytes:
                raise self._full(used, size)
            self._reserved += size
        path = self.blobs / share_id
        linked = False
        try:
            self._write(path, data, key=key, share_id=share_id, meta=Meta(format=format, size=len(data)))
            linked = True
            stop()
            expires_at = self.clock() + expires_in
            with self._lock:
                self._index().execute(
                    "INSERT INTO shares (id, verifier, delete_hash, expires_at, views_left, size) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (share_id, verifier(key, share_id), token_hash(delete_token), expires_at, max_views, size),
                )
        except BaseException:
            if linked:
                path.unlink(missing_ok=True)
            raise
        finally:
            with self._lock:
                self._reserved -= size
        log.info("share: created, %d bytes sealed, %d s, views %s", size, expires_in, max_views or "unlimited")
        return Created(
            id=share_id, key=b64(key), delete_token=delete_token, expires_at=expires_at, max_views=max_views, size=size
        )

    def _write(self, path: Path, data: bytes, *, key: bytes, share_id: str, meta: Meta) -> None:
        """Seal into ``blobs/.part-*``, make it durable, then link it as ``path`` and drop the
        part's name. Only sealed bytes ever reach the disk, so even a part that a crash
        leaves behind (removed at the next start) shows nothing."""
        part = self.blobs / f"{_PART}{secrets.token_hex(8)}"
        made = False
        try:
            with open(os.open(part, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "wb") as out:
                seal(out, data, key=key, share_id=share_id, meta=meta)
                out.flush()
                os.fsync(out.fileno())
            os.link(part, path)  # never over another file, unlike a rename
            made = True
            part.unlink()
            dir_fd = os.open(self.blobs, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            part.unlink(missing_ok=True)
            if made:
                path.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise full("the disk of the shares folder is full") from exc
            raise

    # -- view and end -----------------------------------------------------------------------

    def view(self, share_id: str, key_text: str) -> View:
        """Open the share ``share_id`` with its link key and count one view.

        Raises
        ------
        ServiceError
            410 (:func:`gone`) for every share that cannot be viewed.
        """
        key = unb64(key_text)
        # The verifier is derived for every request, the right key, a wrong one or none,
        # so that no answer comes sooner for a share that does not exist.
        candidate = verifier(key or _DUMMY, share_id if _ID.fullmatch(share_id) else "-" * 22)
        now = self.clock()
        with self._lock:
            row = (
                self._index()
                .execute("SELECT verifier, expires_at, views_left FROM shares WHERE id = ?", (share_id,))
                .fetchone()
            )
            matches = same(candidate, row[0] if row is not None else _DUMMY)
            if row is None or key is None or not matches:
                raise gone()
            _, expires_at, views_left = row
            path = self.blobs / share_id
            if expires_at <= now:
                self._remove_locked(share_id)
                raise gone()
            try:
                file = path.open("rb")
            except OSError:
                log.error("shares: a share's file is missing; the share is removed")
                self._remove_locked(share_id)
                raise gone() from None
            left: int | None = None
            if views_left is not None:
                changed = (
                    self._index()
                    .execute(
                        "UPDATE shares SET views_left = views_left - 1 WHERE id = ? AND views_left > 0", (share_id,)
                    )
                    .rowcount
                )
                if changed != 1:  # pragma: no cover - a share without views left is removed at its last view
                    file.close()
                    raise gone()
                left = views_left - 1
                if left == 0:
                    # The open file stays readable for this view; nobody else gets it.
                    self._remove_locked(share_id)
        try:
            opened = Opened(file, key=key, share_id=share_id)
        except Broken as exc:
            log.error("shares: a sealed file does not open (%s); the share is removed", exc)
            with self._lock:
                self._remove_locked(share_id)
            raise gone() from None
        log.info("share: viewed, %d bytes, views left %s", opened.meta.size, "unlimited" if left is None else left)
        return View(
            format=opened.meta.format, size=opened.meta.size, expires_at=expires_at, views_left=left, opened=opened
        )

    def end(self, share_id: str, delete_token: str) -> None:
        """End the share at once: its row and its file are removed.

        Raises
        ------
        ServiceError
            410 (:func:`gone`) for a wrong token or a share that cannot be viewed anyway.
        """
        candidate = token_hash(delete_token if _SECRET.fullmatch(delete_token) else "")
        with self._lock:
            row = self._index().execute("SELECT delete_hash FROM shares WHERE id = ?", (share_id,)).fetchone()
            matches = same(candidate, row[0] if row is not None else _DUMMY)
            if row is None or not _SECRET.fullmatch(delete_token) or not matches:
                raise gone()
            self._remove_locked(share_id)
        log.info("share: ended by its creator")

    def _remove_locked(self, share_id: str) -> None:
        """Remove a share's row, then its file (the caller holds the lock)."""
        self._index().execute("DELETE FROM shares WHERE id = ?", (share_id,))
        (self.blobs / share_id).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Remove every expired share; how many were removed."""
        with self._lock:
            return self._sweep_locked()

    def _sweep_locked(self) -> int:
        now = self.clock()
        expired = [row[0] for row in self._index().execute("SELECT id FROM shares WHERE expires_at <= ?", (now,))]
        for share_id in expired:
            self._remove_locked(share_id)
        if expired:
            log.info("shares: %d expired share(s) removed", len(expired))
        return len(expired)

    def count(self) -> int:
        """Shares in the index."""
        with self._lock:
            (n,) = self._index().execute("SELECT COUNT(*) FROM shares").fetchone()
        return int(n)
