"""What a user may type into a letter, and how letters are laid out.

A name, an address line or an e-mail address ends up on its own line of a letter that is
sent to a company or an authority. A line break in a name would let it write lines of its
own (a second recipient, a changed subject, a fake paragraph), and control or bidirectional
formatting characters can make a line read differently from what it holds. Such text is
refused, never cleaned up silently: the user sees why and can correct it.
"""

from __future__ import annotations

import calendar
import datetime
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence

from ..errors import UsageError

#: Line width of a letter, in characters.
WIDTH = 72
#: Longest accepted name, address line, e-mail address and free-text paragraph (characters).
MAX_NAME = 200
MAX_LINE = 200
MAX_EMAIL = 254
MAX_PARAGRAPH = 2000
#: Most lines of a postal address.
MAX_ADDRESS_LINES = 8

# Joiners that some scripts need inside words (Persian, Indic, emoji sequences); every other
# format character (bidirectional overrides, invisible marks, byte-order marks) is refused.
_ALLOWED_FORMAT = {"\u200c", "\u200d"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
# A citation such as "Article 15(1)(h)" or "Art. 9 Abs. 2 lit. e" is kept on one line: the
# space after these words is swapped for a private-use character (which user text may not
# hold, see _refused) while wrapping, and swapped back afterwards.
_GLUE = re.compile(r"\b(Articles?|Art\.|Abs\.|lit\.|Nr\.) (?=\S)| (?=(?:Abs|lit|Nr)\. )| (?=(?:DSGVO|GDPR)\b)")
_GLUED = "\ue000"


def _refused(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cf":
        return ch not in _ALLOWED_FORMAT
    # Cc: controls (line feed, carriage return, tab, escape, NUL, NEL), Zl/Zp: line and
    # paragraph separators, Cs/Co/Cn: surrogates, private use, unassigned.
    return category in {"Cc", "Zl", "Zp", "Cs", "Co", "Cn"}


def clean_line(value: object, what: str, *, limit: int = MAX_LINE) -> str:
    """``value`` as one line of a letter, or :class:`UsageError`.

    Parameters
    ----------
    value : str
        The text as typed; surrounding spaces are removed and it is put in Unicode NFC.
    what : str
        What the text is ("the name", "an address line"), for the error message.
    limit : int
        Longest accepted length in characters.

    Raises
    ------
    UsageError
        Not a string, empty, longer than ``limit``, or holding a line break, a control
        character or an invisible formatting character.
    """
    if not isinstance(value, str):
        raise UsageError(f"{what} must be text, not {type(value).__name__}")
    text = unicodedata.normalize("NFC", value).strip(" ")
    if not text:
        raise UsageError(f"{what} is empty")
    if len(text) > limit:
        raise UsageError(f"{what} is {len(text)} characters long; at most {limit} are accepted")
    for ch in text:
        if _refused(ch):
            kind = "a line break" if ch in "\n\r\v\f\x85\u2028\u2029" else "a control or formatting character"
            raise UsageError(
                f"{what} contains {kind} (U+{ord(ch):04X}); give it as plain text on one line"
                + (" (address lines separately)" if "address" in what else "")
            )
    if text != text.strip():
        raise UsageError(f"{what} starts or ends with white space other than a plain space")
    return text


def clean_email(value: object, what: str = "the e-mail address") -> str:
    """``value`` as an e-mail address on one line, or :class:`UsageError`."""
    text = clean_line(value, what, limit=MAX_EMAIL)
    if not _EMAIL.fullmatch(text):
        raise UsageError(f"{what} does not look like an e-mail address (name@example.org)")
    return text


def clean_lines(value: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    """Address lines: one string is one line; ``None`` is none.

    Raises
    ------
    UsageError
        A line is refused by :func:`clean_line`, or there are more than
        :data:`MAX_ADDRESS_LINES`.
    """
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    if len(items) > MAX_ADDRESS_LINES:
        raise UsageError(f"{what} has {len(items)} lines; at most {MAX_ADDRESS_LINES} are accepted")
    return tuple(clean_line(item, f"{what} line {i}") for i, item in enumerate(items, 1))


def clean_paragraph(value: object, what: str) -> str:
    """Free text that becomes one paragraph of a letter (no line breaks of its own)."""
    return clean_line(value, what, limit=MAX_PARAGRAPH)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus ``months`` calendar months, clamped to the end of a shorter month.

    >>> add_months(datetime.date(2026, 1, 31), 1)
    datetime.date(2026, 2, 28)
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def wrap(text: str, *, indent: str = "", hanging: str = "") -> list[str]:
    """``text`` broken into lines of at most :data:`WIDTH` characters.

    Words are never split, so a long e-mail address or URL stays whole on a longer line.
    """
    lines = textwrap.wrap(
        _GLUE.sub(lambda m: (m.group(1) or "") + _GLUED, text),
        width=WIDTH,
        initial_indent=indent,
        subsequent_indent=hanging or indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent.rstrip()]
    return [line.replace(_GLUED, " ") for line in lines]


def join_blocks(blocks: Iterable[Sequence[str]]) -> str:
    """Blocks of lines, separated by one empty line, ending with a newline."""
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"
