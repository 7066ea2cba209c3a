"""What the worker processes of every engine share: they die with their run and publish
an output only while the run lives.

A run killed with ``kill -9`` must not leave workers that go on writing outputs: a
``--resume`` started meanwhile would see outputs appear under it and fail those files as
"output exists". Two guards:

* The kernel kills a worker when its parent dies (``PR_SET_PDEATHSIG`` on Linux,
  :func:`die_with_parent`). A worker can only ask for that once it runs Python code of
  ours, after its start-up (a spawned interpreter imports for a second or more): a run
  killed in that window used to leave an orphan that then protected the files already
  queued for it. So, with the setting in place, the worker checks that its run is still
  there and exits if not.
* Before an output is linked into place, the worker checks again that the process it
  works for (:class:`Owner`) is alive, and exits without publishing when it is not
  (:func:`protect_for`). This holds where there is no ``PR_SET_PDEATHSIG`` too, and for a
  Ray actor, whose parent is Ray's raylet rather than the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from typing import NoReturn

from ..batch import Job, run_one
from ..detect import FaceDetector
from ..errors import UnerkanntError
from ..media.write import atomic_output
from ..options import ProtectOptions
from ..pipeline import failure
from ..results import FileResult

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1

#: Exit status of a worker that stops because its run is gone.
EXIT_ORPHANED = 75


@dataclass(frozen=True)
class Owner:
    """The process a worker works for: the run that started it.

    ``started`` (the start time in clock ticks after boot) tells the run from a later
    process given the same ``pid``; ``where`` (the kernel's boot id and process-id
    namespace) tells the processes that see the owner under ``pid`` from those on
    another machine or in another container, which cannot see it. ``parent`` is true
    when the workers are the owner's own child processes (the local pool). Pickles with
    the arguments of the workers.
    """

    pid: int
    started: str | None
    where: str | None
    parent: bool

    @classmethod
    def of(cls, pid: int, *, parent: bool) -> Owner:
        """The running process ``pid`` of this machine as an owner."""
        stat = _stat(pid)
        return cls(pid=pid, started=stat[1] if stat else None, where=_where(), parent=parent)

    @classmethod
    def this_process(cls, *, parent: bool) -> Owner:
        return cls.of(os.getpid(), parent=parent)

    def alive(self) -> bool:
        """Whether the owner still runs; ``True`` where this process cannot tell (another machine)."""
        if self.parent and os.getppid() != self.pid:
            # The kernel gives an orphan a new parent as soon as its parent dies.
            return False
        if self.where is None or self.where != _where():
            # Without /proc, or on another node or in another container of a Ray cluster:
            # Ray itself stops the actors of a driver that is gone.
            return True
        stat = _stat(self.pid)
        return stat is not None and stat[0] not in ("Z", "X") and stat[1] == self.started


def _stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time)`` of a process from ``/proc``, ``None`` if there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # The name in parentheses may hold spaces and parentheses: the fields follow the last ')'.
    fields = text[text.rfind(")") + 2 :].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _where() -> str | None:
    """This kernel's boot id and this process's pid namespace: where a pid means one process."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return f"{handle.read().strip()} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


def die_with_parent(owner: Owner | None = None) -> None:
    """Have the kernel kill this process when its parent dies (Linux), and exit now if ``owner`` is gone.

    Call first thing in a worker. The parent is the process (on Linux: the thread) that
    started this one; the engines start their workers from the thread that runs the
    whole run, so it lives as long as the run.
    """
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if owner is not None and not owner.alive():
        _stop_orphaned()


def _stop_orphaned() -> NoReturn:
    log.warning("the run this worker works for is gone; stopping without writing")
    logging.shutdown()
    # No clean-up of the interpreter: nobody waits for this process any more, and a
    # worker's exit handlers would wait for queues whose other end is gone.
    os._exit(EXIT_ORPHANED)


class _OwnerGone(Exception):
    pass


def protect_for(
    owner: Owner,
    job: Job,
    *,
    options: ProtectOptions,
    detector: FaceDetector,
    verifier: FaceDetector | None = None,
    overwrite: bool = False,
) -> FileResult:
    """:func:`unerkannt.batch.run_one` in a worker: the output is published only while ``owner`` lives.

    The file is protected under a temporary name next to its output (through the
    pipeline's own verified, atomic write) and moved into place by
    :func:`unerkannt.media.write.atomic_output` once ``owner`` was found alive. When
    ``owner`` is gone, before the file or before it is published, the temporary file is
    removed and this process exits (status :data:`EXIT_ORPHANED`).

    Returns
    -------
    FileResult
        As :func:`unerkannt.batch.run_one`; never raises for a file.
    """
    if not owner.alive():
        _stop_orphaned()
    output = job.output
    if output is None or os.path.realpath(job.source) == os.path.realpath(output):
        # Refused before anything is written (by plan, or as the output would replace the input).
        return run_one(job, options=options, detector=detector, verifier=verifier, overwrite=overwrite)
    if not overwrite and (output.exists() or output.is_symlink()):
        # Fails as without a worker, in the pipeline's own words and order of checks.
        return run_one(job, options=options, detector=detector, verifier=verifier, overwrite=False)
    start = time.perf_counter()
    # The name is only taken when the pipeline writes, so that a worker that dies while
    # protecting (a crash in a decoder, the OOM killer) leaves nothing behind.
    staged = output.with_name(f".unerkannt-{secrets.token_hex(6)}.part{output.suffix}")
    result = run_one(
        dataclasses.replace(job, output=staged),
        options=options,
        detector=detector,
        verifier=verifier,
        overwrite=False,
    )
    if not result.ok:
        return result
    try:
        with atomic_output(output, overwrite=overwrite) as tmp:
            os.replace(staged, tmp)
            if not owner.alive():
                raise _OwnerGone
    except _OwnerGone:
        _stop_orphaned()
    except UnerkanntError as exc:
        return failure(job.source, exc, time.perf_counter() - start)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
    return dataclasses.replace(result, output=str(output), seconds=time.perf_counter() - start)
