"""Put a letter together: sender, recipient, date, subject, body, signature, enclosures.

The wording of each kind of letter lives in one module per language (:mod:`.lang`); this
module decides who the letter goes to and lays it out.
"""

from __future__ import annotations

import datetime

from ..errors import UsageError
from .data import Authority, Company, Directory, directory, known_authorities
from .lang import LANGUAGES, Wording
from .model import KINDS, Context, Indented, Items, Letter, LetterOptions, Sender
from .text import clean_lines, join_blocks, wrap


def compose(kind: str, *, to: str | Company, sender: Sender, options: LetterOptions | None = None) -> Letter:
    """Write a letter of ``kind`` about the data ``to`` holds.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    to : str or Company
        The company: a name of the data file (``"pimeyes"``, ``"clearview"``) or a
        :class:`Company` (see :meth:`Company.custom` for one the file does not know).
    sender : Sender
        Who writes.
    options : LetterOptions
        Language, date, authority and the choices of the kind.

    Returns
    -------
    Letter
        The text and the notes for the sender.

    Raises
    ------
    UsageError
        Unknown kind, company or authority; a complaint about a company without an EU
        establishment and no ``options.authority``; or any refused input.
    """
    options = options or LetterOptions()
    if kind not in KINDS:
        raise UsageError(f"unknown kind of letter {kind!r}; choose from {', '.join(KINDS)}")
    book = directory()
    company = to if isinstance(to, Company) else book.company(to)
    date = options.date or datetime.date.today()
    authority, lead = _authorities(kind, company, options, book) if kind == "complaint" else (None, None)
    ctx = Context(kind, sender, company, date, options, book, authority, lead)
    words = LANGUAGES[options.lang]
    text = _layout(ctx, words)
    return Letter(kind, options.lang, date, text, tuple(words.notes(ctx)), company, authority)


def letter(
    kind: str,
    *,
    to: str | Company,
    name: str,
    email: str | None = None,
    address: str | tuple[str, ...] | list[str] | None = None,
    lang: str = "en",
    **options: object,
) -> str:
    """The text of a letter of ``kind`` (``"access"``, ``"erasure"``, ``"objection"``,
    ``"complaint"``) from ``name`` to the company ``to``, ready to send.

    Further keyword arguments are the fields of :class:`LetterOptions` (``date``,
    ``authority``, ``request_date``, ``reply``, ``reason``, ``photo``). Use
    :func:`compose` for the notes that go with it.

    Raises
    ------
    UsageError
        As :func:`compose`, and for a name, address line or e-mail address with a line
        break, a control character or too long.

    Examples
    --------
    >>> text = letter("erasure", to="clearview", name="Erika Mustermann", email="erika@example.org")
    >>> "Article 17" in text
    True
    """
    sender = Sender(name=name, email=email, address=clean_lines(address, "your address"))
    return compose(kind, to=to, sender=sender, options=LetterOptions(lang=lang, **options)).text  # type: ignore[arg-type]


def _authorities(
    kind: str, company: Company, options: LetterOptions, book: Directory
) -> tuple[Authority, Authority | None]:
    est = company.establishment
    lead = book.authorities[est.authority] if est is not None and est.in_eu and est.authority else None
    chosen = options.authority
    if chosen is None:
        if lead is not None:
            return lead, lead
        where = (
            f"{company.short} has no known establishment in the EU, so there is no lead authority"
            if est is not None
            else f"nothing is known about an establishment of {company.short} in the EU"
        )
        raise UsageError(
            f"{where}: address the complaint to your own authority (where you live or work, Article 77(1) GDPR) "
            f"with --authority KEY. Known authorities: {known_authorities(book)}. Or give one: "
            '--authority "NAME" --authority-address "STREET" ... and/or --authority-email ADDRESS'
        )
    authority = chosen if isinstance(chosen, Authority) else book.authority(chosen)
    return authority, lead


def _layout(ctx: Context, words: Wording) -> str:
    recipient: Company | Authority = ctx.authority if ctx.authority is not None else ctx.company
    sender = [ctx.sender.name, *ctx.sender.address, *([ctx.sender.email] if ctx.sender.email else [])]
    to = [recipient.name]
    if recipient.postal is not None:
        to += recipient.postal.lines
    if recipient.email is not None:
        to.append(f"{words.BY_EMAIL} {recipient.email.address}")
    blocks: list[list[str]] = [sender, to, [words.format_date(ctx.date)], wrap(f"{words.SUBJECT} {words.subject(ctx)}")]
    blocks.append([words.SALUTATION])
    for block in words.body(ctx):
        if isinstance(block, Items):
            lines: list[str] = []
            for number, item in enumerate(block.items, 1):
                lines += wrap(item, indent=f"{number:>2}. ", hanging="    ")
            blocks.append(lines)
        elif isinstance(block, Indented):
            blocks.append([line for text in block.lines for line in wrap(text, indent="    ")])
        else:
            blocks.append(wrap(block))
    # Room for a handwritten signature above the typed name.
    blocks.append([words.CLOSING, "", "", ctx.sender.name])
    enclosures = words.enclosures(ctx)
    if enclosures:
        blocks.append(wrap(enclosures, hanging="  "))
    return join_blocks(blocks)
