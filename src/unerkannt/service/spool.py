"""Where uploads wait: files without a name, in one folder per server process.

An upload is an anonymous file (``O_TMPFILE`` through :func:`tempfile.TemporaryFile`):
it never has a name on disk, so no way of ending the process, ``kill -9`` included,
can leave an original behind; the kernel frees it when its last descriptor closes.
Where a file system cannot make anonymous files, Python makes a named one and removes
its name at once.

Each server keeps those files in its own folder, ``unerkannt-serve-<pid>-<random>``, which it
locks for its lifetime (``flock``). A server that starts removes the folders whose lock
nobody holds: those of servers that died. A live server's lock is held, so its folder
is never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

log = logging.getLogger("unerkannt.service")

PREFIX = "unerkannt-serve-"
_LOCK = "lock"
#: A folder without its lock file is one that a server is creating right now, unless older.
_CREATING = 60.0


class Spool:
    """The folder of one server process and its anonymous files.

    Parameters
    ----------
    parent : str or None
        Where the folder is made (the system's temporary folder by default).
    """

    def __init__(self, parent: str | None) -> None:
        self.parent = Path(parent or tempfile.gettempdir())
        self._folder: Path | None = None
        self._lock_file: IO[bytes] | None = None
        self._guard = threading.Lock()

    @property
    def folder(self) -> Path:
        """The folder, made and locked on first use."""
        with self._guard:
            if self._folder is None:
                folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=self.parent))
                lock = (folder / _LOCK).open("wb")
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._folder, self._lock_file = folder, lock
            return self._folder

    def new_file(self) -> IO[bytes]:
        """An anonymous file in the folder, open for reading and writing."""
        return tempfile.TemporaryFile(dir=self.folder)

    def close(self) -> None:
        """Remove the folder (its anonymous files go when they are closed)."""
        with self._guard:
            folder, lock, self._folder, self._lock_file = self._folder, self._lock_file, None, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        if lock is not None:
            lock.close()

    def sweep(self) -> int:
        """Remove the folders of servers that died; how many were removed."""
        removed = 0
        if not self.parent.is_dir():
            return removed
        for folder in self.parent.glob(f"{PREFIX}*"):
            if folder == self._folder or not folder.is_dir() or folder.is_symlink():
                continue
            if _dead(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        if removed:
            log.warning("removed %d folder(s) left by servers that stopped without cleaning up", removed)
        return removed


def _dead(folder: Path) -> bool:
    """Whether no live server holds ``folder``'s lock."""
    try:
        handle = (folder / _LOCK).open("rb")
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            return time.time() - folder.stat().st_mtime > _CREATING
        return False
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


def path_of(file: IO[bytes]) -> Path:
    """A path that opens ``file`` again, though it has no name (Linux: ``/proc/self/fd``)."""
    proc = Path(f"/proc/self/fd/{file.fileno()}")
    return proc if proc.exists() else Path(f"/dev/fd/{file.fileno()}")
