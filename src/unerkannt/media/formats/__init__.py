"""The image formats unerkannt reads and writes: one module each, listed here."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from ...errors import UnsupportedFormatError, UsageError
from .base import Format

#: Every supported format, by module; the order is the order of ``--format`` choices.
FORMAT_MODULES = ("jpeg", "png", "webp", "tiff", "bmp", "gif", "heif", "avif")


@cache
def formats() -> dict[str, Format]:
    """name -> :class:`Format` of every supported format."""
    found = {}
    for module in FORMAT_MODULES:
        fmt: Format = importlib.import_module(f"{__name__}.{module}").FORMAT
        found[fmt.name] = fmt
    return found


def by_name(name: str) -> Format:
    """The format called ``name`` (``--format``); raises :class:`UsageError`."""
    key = name.lower().lstrip(".")
    key = {"jpg": "jpeg", "tif": "tiff", "heic": "heif"}.get(key, key)
    try:
        return formats()[key]
    except KeyError:
        raise UsageError(f"unknown format {name!r}; choose from {', '.join(formats())}") from None


def by_pil_format(pil_format: str) -> Format:
    """The format Pillow identified a file as; raises :class:`UnsupportedFormatError`."""
    for fmt in formats().values():
        if pil_format == fmt.pil_format or pil_format in fmt.also_reads:
            return fmt
    raise UnsupportedFormatError(f"{pil_format} files are not supported")


def by_signature(head: bytes) -> Format | None:
    """The format whose file signature ``head`` (the first bytes of a file) starts with."""
    for fmt in formats().values():
        if any(head[offset : offset + len(sig)] == sig for offset, sig in fmt.magic):
            return fmt
    return None


def pil_formats() -> list[str]:
    """The Pillow openers unerkannt uses (JPEG's also opens MPO files)."""
    return [fmt.pil_format for fmt in formats().values()]


def is_candidate(path: Path) -> bool:
    """Whether a file name ends like a supported image format or video container (picks files in folders)."""
    from ..video import is_video

    suffix = path.suffix.lower()
    return any(suffix in fmt.extensions for fmt in formats().values()) or is_video(path)


__all__ = [
    "FORMAT_MODULES",
    "Format",
    "by_name",
    "by_pil_format",
    "by_signature",
    "formats",
    "is_candidate",
    "pil_formats",
]
