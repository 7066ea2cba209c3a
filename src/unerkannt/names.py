"""File names made safe to show: control characters never reach a terminal raw."""

from __future__ import annotations

import unicodedata
from pathlib import Path


def display(path: str | Path) -> str:
    """``path`` with control, format and undecodable characters escaped.

    >>> display("a\\x1b[31mb.jpg")
    'a\\\\x1b[31mb.jpg'
    """
    out = []
    for ch in str(path):
        if unicodedata.category(ch)[0] == "C" or ch == "\\":
            code = ord(ch)
            out.append("\\\\" if ch == "\\" else f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)
