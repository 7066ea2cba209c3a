"""The wording of the letters, one module per language, registered in :data:`LANGUAGES`.

A language module holds words only: who a letter goes to, which facts are unverified and
when an answer is due are decided once, in :mod:`.shared`, for every language.
"""

from __future__ import annotations

import datetime
from typing import Protocol

from ..model import Block, Context
from . import de, en


class Wording(Protocol):
    """What a language module provides."""

    SUBJECT: str
    SALUTATION: str
    CLOSING: str
    BY_EMAIL: str

    def format_date(self, day: datetime.date) -> str: ...

    def subject(self, ctx: Context) -> str: ...

    def body(self, ctx: Context) -> list[Block]: ...

    def enclosures(self, ctx: Context) -> str: ...

    def notes(self, ctx: Context) -> list[str]: ...


#: Letter languages: code -> module.
LANGUAGES: dict[str, Wording] = {"en": en, "de": de}
