"""Companies and supervisory authorities, read once from the package's ``data.toml``.

Every address in the file names its :class:`Source` (the page, the day it was checked, what
it said). The objects are frozen and the collections read-only, so that a caller such as the
web page can show the same facts without being able to change them.
"""

from __future__ import annotations

import datetime
import functools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..errors import UnerkanntError, UsageError
from .text import clean_email, clean_line, clean_lines

#: Languages every user-facing text of the file exists in.
TEXT_LANGUAGES = ("en", "de")


@dataclass(frozen=True)
class Texts:
    """One text in English and German; ``texts("de")`` picks one."""

    en: str
    de: str

    def __call__(self, lang: str) -> str:
        text: str = getattr(self, lang)
        return text


@dataclass(frozen=True)
class Source:
    """Where a fact was read: ``url``, the day it was ``checked``, and what was ``found``.

    ``primary`` is true for the organisation's own page or a decision addressed to it.
    """

    key: str
    url: str
    checked: datetime.date
    primary: bool
    found: str


@dataclass(frozen=True)
class PostalAddress:
    """Address lines (without the name); ``source`` is ``None`` when the user gave them."""

    lines: tuple[str, ...]
    source: Source | None = None
    caveat: Texts | None = None


@dataclass(frozen=True)
class EmailAddress:
    address: str
    source: Source | None = None
    caveat: Texts | None = None


@dataclass(frozen=True)
class WebForm:
    url: str
    purpose: Texts
    source: Source


@dataclass(frozen=True)
class Establishment:
    """Whether the company has an establishment in the EU, and which authority leads then."""

    in_eu: bool
    note: Texts
    source: Source
    authority: str | None = None


@dataclass(frozen=True)
class Representative:
    """The company's representative in the Union (Article 27 GDPR), if one is ``known``."""

    known: bool
    note: Texts
    source: Source | None = None
    postal: PostalAddress | None = None
    email: EmailAddress | None = None


@dataclass(frozen=True)
class Note:
    """A fact about a company for the user, for letters of ``kinds``."""

    text: Texts
    source: Source
    kinds: tuple[str, ...] = ("access", "erasure", "objection", "complaint")


@dataclass(frozen=True, kw_only=True)
class Company:
    """A company that may hold photos of a person's face.

    ``establishment`` is ``None`` when nothing is known about an establishment in the EU
    (a company the user named); ``listed`` is true for companies of the data file.
    """

    key: str
    name: str
    short: str
    aliases: tuple[str, ...] = ()
    postal: PostalAddress | None = None
    email: EmailAddress | None = None
    forms: tuple[WebForm, ...] = ()
    establishment: Establishment | None = None
    representative: Representative | None = None
    notes: tuple[Note, ...] = ()
    letter_note: Texts | None = None
    listed: bool = False

    @classmethod
    def custom(cls, name: str, *, address: str | Sequence[str] | None = None, email: str | None = None) -> Company:
        """A company the data file does not know, addressed as the user gives it.

        Raises
        ------
        UsageError
            The name, an address line or the e-mail address is refused (see
            :func:`unerkannt.rights.text.clean_line`), or neither an address nor an
            e-mail address is given.
        """
        clean_name = clean_line(name, "the company name")
        lines = clean_lines(address, "the company address")
        mail = clean_email(email, "the company e-mail address") if email is not None else None
        if not lines and mail is None:
            raise UsageError(f"give a postal address or an e-mail address for {clean_name}")
        return cls(
            key=clean_name,
            name=clean_name,
            short=clean_name,
            postal=PostalAddress(lines) if lines else None,
            email=EmailAddress(mail) if mail else None,
        )


@dataclass(frozen=True, kw_only=True)
class Authority:
    """A data protection supervisory authority that takes complaints (Article 77 GDPR)."""

    key: str
    name: str
    country: Texts | None = None
    languages: tuple[str, ...] = ()
    postal: PostalAddress | None = None
    email: EmailAddress | None = None
    competence: Texts | None = None
    competence_source: Source | None = None
    listed: bool = False

    @classmethod
    def custom(cls, name: str, *, address: str | Sequence[str] | None = None, email: str | None = None) -> Authority:
        """An authority the data file does not know, addressed as the user gives it.

        Raises
        ------
        UsageError
            As :meth:`Company.custom`.
        """
        clean_name = clean_line(name, "the authority's name")
        lines = clean_lines(address, "the authority's address")
        mail = clean_email(email, "the authority's e-mail address") if email is not None else None
        if not lines and mail is None:
            raise UsageError(f"give a postal address or an e-mail address for {clean_name}")
        return cls(
            key=clean_name,
            name=clean_name,
            postal=PostalAddress(lines) if lines else None,
            email=EmailAddress(mail) if mail else None,
        )


@dataclass(frozen=True)
class Directory:
    """Everything of the data file: ``companies`` and ``authorities`` by key, and ``checked``."""

    checked: datetime.date
    companies: Mapping[str, Company]
    authorities: Mapping[str, Authority]
    sources: Mapping[str, Source]

    def company(self, name: str) -> Company:
        """The company called ``name`` (its key or an alias, any case).

        Raises
        ------
        UsageError
            No company of the file has that name; the message lists the known ones and
            how to address another company.
        """
        wanted = " ".join(str(name).split()).casefold()
        for company in self.companies.values():
            if wanted == company.key or wanted in company.aliases:
                return company
        known = ", ".join(f"{c.key} ({c.name})" for c in self.companies.values())
        raise UsageError(
            f"no address is known for that company. Known companies: {known}. For another company give "
            'its address: --to "NAME" --to-address "STREET" --to-address "CITY" ... and/or --to-email ADDRESS'
        )

    def authority(self, name: str) -> Authority:
        """The authority with key ``name`` (any case).

        Raises
        ------
        UsageError
            No authority of the file has that key; the message lists the known ones.
        """
        wanted = str(name).strip().casefold()
        if wanted in self.authorities:
            return self.authorities[wanted]
        raise UsageError(
            f"no address is known for that authority. Known authorities: {known_authorities(self)}. For another "
            'authority give its address: --authority "NAME" --authority-address "STREET" ... and/or '
            "--authority-email ADDRESS"
        )


def known_authorities(directory: Directory) -> str:
    return ", ".join(f"{a.key} ({a.name})" for a in directory.authorities.values())


@functools.cache
def directory() -> Directory:
    """The companies and authorities of the package's data file (read once).

    Raises
    ------
    UnerkanntError
        The data file is missing or breaks one of its rules (a fact without a source,
        a secondary source without a caveat, ...).
    """
    try:
        raw = tomllib.loads((resources.files(__package__) / "data.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UnerkanntError(f"the rights data file cannot be read: {exc}") from exc
    return parse(raw)


def parse(raw: Mapping[str, Any]) -> Directory:
    """Build and check a :class:`Directory` from the parsed TOML document ``raw``.

    Raises
    ------
    UnerkanntError
        A rule of the file is broken; the message names the entry.
    """
    try:
        sources = {key: _source(key, entry) for key, entry in raw["sources"].items()}
        companies = {key: _company(key, entry, sources) for key, entry in raw["companies"].items()}
        authorities = {key: _authority(key, entry, sources) for key, entry in raw["authorities"].items()}
        checked = raw["checked"]
    except (KeyError, TypeError, ValueError, UsageError) as exc:
        raise UnerkanntError(f"the rights data file is invalid: {exc}") from exc
    for company in companies.values():
        lead = company.establishment.authority if company.establishment else None
        if lead is not None and lead not in authorities:
            raise UnerkanntError(f"the rights data file is invalid: {company.key}: unknown authority {lead!r}")
    return Directory(
        checked=checked,
        companies=MappingProxyType(companies),
        authorities=MappingProxyType(authorities),
        sources=MappingProxyType(sources),
    )


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{where}: {message}")


def _texts(entry: Mapping[str, Any], prefix: str, where: str) -> Texts | None:
    present = [f"{prefix}{lang}" in entry for lang in TEXT_LANGUAGES]
    if not any(present):
        return None
    _require(all(present), where, f"{prefix}* needs a text in each of {TEXT_LANGUAGES}")
    return Texts(**{lang: " ".join(str(entry[f"{prefix}{lang}"]).split()) for lang in TEXT_LANGUAGES})


def _source(key: str, entry: Mapping[str, Any]) -> Source:
    where = f"sources.{key}"
    _require(str(entry["url"]).startswith("https://"), where, "the url must be https")
    _require(isinstance(entry["checked"], datetime.date), where, "checked must be a date")
    _require(bool(str(entry["found"]).strip()), where, "found must say what the page said")
    return Source(key, entry["url"], entry["checked"], bool(entry["primary"]), " ".join(entry["found"].split()))


def _sourced(entry: Mapping[str, Any], sources: Mapping[str, Source], where: str) -> tuple[Source, Texts | None]:
    _require(entry.get("source") in sources, where, f"unknown or missing source {entry.get('source')!r}")
    source = sources[entry["source"]]
    caveat = _texts(entry, "caveat_", where)
    _require(source.primary or caveat is not None, where, "a fact from a secondary source needs a caveat")
    return source, caveat


def _postal(entry: Mapping[str, Any] | None, sources: Mapping[str, Source], where: str) -> PostalAddress | None:
    if entry is None:
        return None
    source, caveat = _sourced(entry, sources, where)
    return PostalAddress(clean_lines(entry["lines"], where), source, caveat)


def _email(entry: Mapping[str, Any] | None, sources: Mapping[str, Source], where: str) -> EmailAddress | None:
    if entry is None:
        return None
    source, caveat = _sourced(entry, sources, where)
    return EmailAddress(clean_email(entry["address"], where), source, caveat)


def _company(key: str, entry: Mapping[str, Any], sources: Mapping[str, Source]) -> Company:
    where = f"companies.{key}"
    postal = _postal(entry.get("postal"), sources, f"{where}.postal")
    email = _email(entry.get("email"), sources, f"{where}.email")
    _require(postal is not None or email is not None, where, "needs a postal or an e-mail address")
    letter_note = _texts(entry, "letter_", where)
    _require(postal is not None or letter_note is not None, where, "without a postal address, letter_* must say so")
    forms = tuple(
        WebForm(form["url"], _texts(form, "purpose_", f"{where}.forms") or Texts("", ""), sources[form["source"]])
        for form in entry.get("forms", ())
    )
    est = entry["establishment"]
    establishment = Establishment(
        in_eu=bool(est["in_eu"]),
        note=_texts(est, "note_", f"{where}.establishment") or Texts("", ""),
        source=sources[est["source"]],
        authority=est.get("authority"),
    )
    _require(not establishment.in_eu or bool(establishment.authority), where, "an EU establishment needs its authority")
    rep = entry["representative"]
    representative = Representative(
        known=bool(rep["known"]),
        note=_texts(rep, "note_", f"{where}.representative") or Texts("", ""),
        source=sources[rep["source"]] if "source" in rep else None,
        postal=_postal(rep.get("postal"), sources, f"{where}.representative.postal"),
        email=_email(rep.get("email"), sources, f"{where}.representative.email"),
    )
    _require(
        not representative.known or representative.postal is not None or representative.email is not None,
        where,
        "a known representative needs an address",
    )
    notes = tuple(
        Note(_texts(note, "", f"{where}.notes") or Texts("", ""), sources[note["source"]], *_kinds(note, where))
        for note in entry.get("notes", ())
    )
    return Company(
        key=key,
        name=clean_line(entry["name"], where),
        short=clean_line(entry["short"], where),
        aliases=tuple(" ".join(a.split()).casefold() for a in entry.get("aliases", ())),
        postal=postal,
        email=email,
        forms=forms,
        establishment=establishment,
        representative=representative,
        notes=notes,
        letter_note=letter_note,
        listed=True,
    )


def _kinds(note: Mapping[str, Any], where: str) -> tuple[tuple[str, ...], ...]:
    if "kinds" not in note:
        return ()
    kinds = tuple(note["kinds"])
    _require(set(kinds) <= set(Note.kinds), where, f"unknown kinds {kinds}")
    return (kinds,)


def _authority(key: str, entry: Mapping[str, Any], sources: Mapping[str, Source]) -> Authority:
    where = f"authorities.{key}"
    _require(key == key.casefold(), where, "keys are lower case")
    postal = _postal(entry.get("postal"), sources, f"{where}.postal")
    email = _email(entry.get("email"), sources, f"{where}.email")
    _require(postal is not None or email is not None, where, "needs a postal or an e-mail address")
    return Authority(
        key=key,
        name=clean_line(entry["name"], where),
        country=_texts(entry, "country_", where),
        languages=tuple(entry["languages"]),
        postal=postal,
        email=email,
        competence=_texts(entry, "competence_", where),
        competence_source=sources[entry["competence_source"]],
        listed=True,
    )
