"""Anonymization methods, chosen by explicit name from one registry."""

from __future__ import annotations

import importlib

from ..errors import UsageError
from .base import Method

#: name -> "module:class" of every method; ``fill`` is the default.
METHODS: dict[str, str] = {
    "fill": "unerkannt.anonymize.fill:Fill",
    "pixelate": "unerkannt.anonymize.pixelate:Pixelate",
    "blur": "unerkannt.anonymize.blur:Blur",
    "natural": "unerkannt.anonymize.natural:Natural",
    "synthetic": "unerkannt.anonymize.synthetic:Synthetic",
}


def get_method(name: str) -> Method:
    """The method registered as ``name``.

    Raises
    ------
    UsageError
        ``name`` is not in :data:`METHODS`.
    """
    try:
        module, cls = METHODS[name].split(":")
    except KeyError:
        raise UsageError(f"unknown method {name!r}; choose from {', '.join(METHODS)}") from None
    method: Method = getattr(importlib.import_module(module), cls)()
    return method


__all__ = ["METHODS", "Method", "get_method"]
