"""Decisions every language words the same way: facts to warn about, dates, situations."""

from __future__ import annotations

import datetime

from ..data import Authority, Company, Texts
from ..model import Context
from ..text import add_months

#: Names of the languages authorities work in, for the notes.
LANGUAGE_NAMES = {
    "en": Texts("English", "Englisch"),
    "de": Texts("German", "Deutsch"),
    "fr": Texts("French", "Französisch"),
    "nl": Texts("Dutch", "Niederländisch"),
    "ga": Texts("Irish", "Irisch"),
}


def recipient(ctx: Context) -> Company | Authority:
    return ctx.authority if ctx.authority is not None else ctx.company


def caveats(ctx: Context) -> list[str]:
    """Caveats of the recipient's addresses that could not be verified, in order."""
    to = recipient(ctx)
    return [c.caveat(ctx.lang) for c in (to.postal, to.email) if c is not None and c.caveat is not None]


def no_eu_establishment(company: Company) -> bool | None:
    """``True``/``False`` when known from the data file; ``None`` for a company the user named."""
    return None if company.establishment is None else not company.establishment.in_eu


def no_representative(company: Company) -> bool:
    return company.representative is not None and not company.representative.known


def answer_due(ctx: Context) -> datetime.date:
    """One month after the letter's date: the earliest the answer can be due."""
    return add_months(ctx.date, 1)


def request_period_running(ctx: Context) -> bool:
    """A complaint about no answer while the month of Article 12(3) may not be over yet."""
    start = ctx.options.request_date
    return ctx.options.reply == "none" and start is not None and add_months(start, 1) >= ctx.date


def foreign_language(ctx: Context) -> list[str] | None:
    """The authority's working languages when the letter is in none of them."""
    authority = ctx.authority
    if authority is None or not authority.languages or ctx.lang in authority.languages:
        return None
    return [LANGUAGE_NAMES[code](ctx.lang) if code in LANGUAGE_NAMES else code for code in authority.languages]


def other_authorities(ctx: Context) -> list[Authority]:
    """Authorities of the data file other than the one addressed, for the user to choose from."""
    chosen = ctx.authority.key if ctx.authority is not None else None
    return [a for a in ctx.directory.authorities.values() if a.key != chosen]


def contact_line(company: Company) -> list[str]:
    """The company as quoted in a complaint: name, address lines, e-mail address."""
    lines = [company.name]
    if company.postal is not None:
        lines += company.postal.lines
    if company.email is not None:
        lines.append(company.email.address)
    return lines


def to_option(company: Company) -> str:
    """How ``--to`` names the company again on the command line."""
    return company.key if company.listed else f'"{company.name}" --to-address ... --to-email ...'
