"""Where the files of a run are protected: one engine per module, chosen by name.

An engine takes the jobs :func:`unerkannt.batch.plan` made and returns their
:class:`~unerkannt.results.Report` (:class:`Engine.run`). Every engine protects a file with
the same per-file function, :func:`unerkannt.batch.run_one`; they differ only in where it
runs. The engine modules import that function and :mod:`.worker` (what their worker
processes share), never each other, and are imported only when asked for by name:

=========  ===========================================================================
``local``  :mod:`.local`: this process, or a process pool on this machine (the default)
``ray``    :mod:`.ray`: a Ray Data actor pool, on a private local Ray instance or a cluster
=========  ===========================================================================
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..errors import UsageError

if TYPE_CHECKING:
    from ..batch import FrameProgress, Job
    from ..detect import FaceDetector
    from ..options import ProtectOptions
    from ..results import FileResult, Report

#: name -> (module, class); the module is imported on first use (Ray only when asked for).
_REGISTRY = {
    "local": ("unerkannt.engines.local", "LocalEngine"),
    "ray": ("unerkannt.engines.ray", "RayEngine"),
}

#: The engine names, for ``protect --engine``.
ENGINES = tuple(_REGISTRY)


class Engine(Protocol):
    """Protects planned jobs; made by :func:`get_engine`."""

    def run(
        self,
        jobs: list[Job],
        *,
        options: ProtectOptions,
        workers: int = 0,
        overwrite: bool = False,
        detector: FaceDetector | None = None,
        progress: Callable[[FileResult], None] | None = None,
        frame_progress: FrameProgress | None = None,
    ) -> Report:
        """Protect every job; results in the order of ``jobs``.

        Every failure of a file is a failed :class:`FileResult`, never an exception.
        ``workers`` is the number of worker processes (``0``: one per core);
        ``detector`` replaces the detectors of ``options`` (and also verifies);
        ``progress(result)`` is called in this process as each file finishes,
        ``frame_progress`` for the frames of videos, where the engine can follow them.

        Raises
        ------
        UsageError
            The engine as a whole cannot run (see the engine's own ``run``).
        """
        ...


def check_engine(name: str, ray_address: str | None = None) -> None:
    """Raise :class:`UsageError` for an unknown engine or a Ray address without the Ray engine."""
    if name not in _REGISTRY:
        raise UsageError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    if ray_address is not None and name != "ray":
        raise UsageError("--ray-address needs --engine ray")


def get_engine(name: str, *, ray_address: str | None = None) -> Engine:
    """The engine called ``name``; ``ray_address`` is the Ray cluster (``None``: a private local instance).

    Raises
    ------
    UsageError
        See :func:`check_engine`.
    """
    check_engine(name, ray_address)
    module, cls = _REGISTRY[name]
    factory = getattr(importlib.import_module(module), cls)
    engine: Engine = factory() if ray_address is None else factory(address=ray_address)
    return engine
