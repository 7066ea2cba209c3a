"""The pieces of a letter: who writes, the choices, the result, and the body's blocks."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ..errors import UsageError
from .data import Authority, Company, Directory
from .text import clean_email, clean_line, clean_lines, clean_paragraph

#: Languages letters are written in (one module each in :mod:`.lang`).
LANGS = ("en", "de")

#: The kinds of letter: a request to the company under Article 15, 17 or 21 GDPR, or a
#: complaint to a supervisory authority under Article 77 GDPR.
KINDS = ("access", "erasure", "objection", "complaint")
#: How the company reacted to the request a complaint is about.
REPLIES = ("none", "refused", "incomplete")


@dataclass(frozen=True, kw_only=True)
class Sender:
    """The person who signs the letter; ``address`` is a tuple of lines.

    Raises
    ------
    UsageError
        A field holds a line break, a control character or is too long (see
        :func:`unerkannt.rights.text.clean_line`), or neither ``email`` nor ``address`` is
        given (the company could not answer).
    """

    name: str
    email: str | None = None
    address: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", clean_line(self.name, "the name"))
        if self.email is not None:
            object.__setattr__(self, "email", clean_email(self.email, "your e-mail address"))
        object.__setattr__(self, "address", clean_lines(self.address, "your address"))
        if self.email is None and not self.address:
            raise UsageError("give your e-mail address (--email) or postal address (--address) for the answer")


@dataclass(frozen=True, kw_only=True)
class LetterOptions:
    """Choices for one letter.

    Parameters
    ----------
    lang : str
        ``"en"`` or ``"de"``.
    date : datetime.date or None
        The date of the letter; ``None`` is today.
    authority : str, Authority or None
        Complaints: the supervisory authority, a key of the data file or an
        :class:`Authority`. ``None`` takes the lead authority of the company's EU
        establishment; a company without one needs the user's own authority here.
    request_date : datetime.date or None
        Complaints: when the request to the company was sent.
    reply : str
        Complaints: how the company answered, one of :data:`REPLIES`.
    reason : str or None
        Objections: the person's own reasons, added as one paragraph.
    photo : bool
        Requests: enclose one photo of the face so that the company can find the data.
    """

    lang: str = "en"
    date: datetime.date | None = None
    authority: str | Authority | None = None
    request_date: datetime.date | None = None
    reply: str = "none"
    reason: str | None = None
    photo: bool = True

    def __post_init__(self) -> None:
        if self.lang not in LANGS:
            raise UsageError(f"unknown language {self.lang!r}; choose from {', '.join(LANGS)}")
        if self.reply not in REPLIES:
            raise UsageError(f"unknown reply {self.reply!r}; choose from {', '.join(REPLIES)}")
        if self.reason is not None:
            object.__setattr__(self, "reason", clean_paragraph(self.reason, "the reason"))
        for name in ("date", "request_date"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime.date):
                raise UsageError(f"{name} must be a date")
        if self.request_date is not None and self.request_date > (self.date or datetime.date.today()):
            raise UsageError("the request date lies after the date of the letter")


@dataclass(frozen=True)
class Letter:
    """A finished letter: ``text`` is ready to send; ``notes`` are for the sender only.

    ``notes`` say how to send it, what to enclose and what not, when the answer is due,
    what to do without one, and which facts of the recipient's address could not be
    verified.
    """

    kind: str
    lang: str
    date: datetime.date
    text: str
    notes: tuple[str, ...]
    company: Company
    authority: Authority | None = None


@dataclass(frozen=True)
class Items:
    """A numbered list in a letter's body."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Indented:
    """Lines set in by four spaces (an address quoted in the body)."""

    lines: tuple[str, ...]


Block = str | Items | Indented


@dataclass(frozen=True)
class Context:
    """Everything the wording of a letter depends on."""

    kind: str
    sender: Sender
    company: Company
    date: datetime.date
    options: LetterOptions
    directory: Directory
    authority: Authority | None = None
    lead: Authority | None = None

    @property
    def lang(self) -> str:
        return self.options.lang
