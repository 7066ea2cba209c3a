"""The page's "Your rights": GDPR request and complaint letters, written by :mod:`unerkannt.rights`.

``GET /v1/rights``          the kinds of letter, the companies and authorities of the data file
``POST /v1/rights/letter``  a letter (JSON in, JSON out: the text, the notes, a file name)

The letter is made in memory and returned; nothing of it is stored or logged (the log says
the kind and the language only). The body is read with a small size limit before it is
parsed, so a request cannot make the server hold more than that.
"""

from __future__ import annotations

import datetime
import logging
import re
import unicodedata
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect

from ..errors import UsageError
from ..rights import KINDS, LANGS, REPLIES, Authority, Company, LetterOptions, Sender, compose, directory
from ..rights.text import MAX_ADDRESS_LINES, MAX_EMAIL, MAX_LINE, MAX_NAME, MAX_PARAGRAPH
from .errors import ServiceError
from .schemas import error

log = logging.getLogger("unerkannt.service")

#: Largest accepted request body, in bytes: every field at its longest fits with room to spare.
MAX_BODY = 64 * 1024

router = APIRouter()

Line = Annotated[str, Field(max_length=MAX_LINE)]


class LetterIn(BaseModel):
    """What a letter needs: ``to`` (a company of ``GET /v1/rights``) or ``company_name`` with
    ``company_address`` and/or ``company_email``; complaints also ``authority`` or
    ``authority_name`` with its address and/or e-mail address."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["access", "erasure", "objection", "complaint"] = Field(examples=["erasure"])
    to: str | None = Field(None, max_length=MAX_NAME, description="a company of the data file", examples=["pimeyes"])
    company_name: str | None = Field(None, max_length=MAX_NAME, description="another company")
    company_address: list[Line] = Field(default_factory=list, max_length=MAX_ADDRESS_LINES)
    company_email: str | None = Field(None, max_length=MAX_EMAIL)
    name: str = Field(max_length=MAX_NAME, examples=["Erika Mustermann"])
    email: str | None = Field(None, max_length=MAX_EMAIL, examples=["erika@example.org"])
    address: list[Line] = Field(default_factory=list, max_length=MAX_ADDRESS_LINES)
    lang: Literal["en", "de"] = "en"
    date: datetime.date | None = Field(None, description="the date of the letter (default: today)")
    authority: str | None = Field(None, max_length=MAX_NAME, description="complaints: an authority of the data file")
    authority_name: str | None = Field(None, max_length=MAX_NAME, description="complaints: another authority")
    authority_address: list[Line] = Field(default_factory=list, max_length=MAX_ADDRESS_LINES)
    authority_email: str | None = Field(None, max_length=MAX_EMAIL)
    request_date: datetime.date | None = Field(None, description="complaints: when the request was sent")
    reply: Literal["none", "refused", "incomplete"] = "none"
    reason: str | None = Field(None, max_length=MAX_PARAGRAPH, description="objections: your own reasons")
    photo: bool = Field(True, description="requests: enclose one photo of your face")


class LetterOut(BaseModel):
    kind: str
    lang: str
    text: str = Field(description="the letter, ready to send")
    notes: list[str] = Field(description="for you, not part of the letter")
    filename: str = Field(examples=["erasure-pimeyes-2026-12-08.txt"])


class CompanyOut(BaseModel):
    key: str
    name: str
    postal: list[str] | None
    email: str | None
    lead_authority: str | None = Field(description="the authority of its EU establishment, if it has one")


class AuthorityOut(BaseModel):
    key: str
    name: str
    country: dict[str, str] | None


class RightsOut(BaseModel):
    """What the letters can be about, and to whom they can go."""

    checked: datetime.date = Field(description="when the addresses were last checked")
    kinds: list[str]
    langs: list[str]
    replies: list[str]
    companies: list[CompanyOut]
    authorities: list[AuthorityOut]


@router.get("/v1/rights", summary="Companies, authorities and kinds of letter", response_model=RightsOut)
async def rights() -> RightsOut:
    book = directory()
    return RightsOut(
        checked=book.checked,
        kinds=list(KINDS),
        langs=list(LANGS),
        replies=list(REPLIES),
        companies=[
            CompanyOut(
                key=c.key,
                name=c.name,
                postal=list(c.postal.lines) if c.postal else None,
                email=c.email.address if c.email else None,
                lead_authority=c.establishment.authority if c.establishment and c.establishment.in_eu else None,
            )
            for c in book.companies.values()
        ],
        authorities=[
            AuthorityOut(
                key=a.key, name=a.name, country={"en": a.country.en, "de": a.country.de} if a.country else None
            )
            for a in book.authorities.values()
        ],
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes.

    Raises
    ------
    ServiceError
        415 when it is not JSON, 413 over the limit, 400 when the client went away.
    """
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ServiceError(415, "unsupported-media-type", "send the letter's fields as application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ServiceError(413, "too-large", f"the request is larger than {limit:,} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise ServiceError(413, "too-large", f"the request is larger than {limit:,} bytes")
    except ClientDisconnect:
        raise ServiceError(400, "disconnected", "the request was interrupted") from None
    return bytes(body)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40] or "company"


@router.post(
    "/v1/rights/letter",
    summary="Write a GDPR request or complaint letter",
    description=(
        "The same letter as `unerkannt rights KIND`: access (Article 15), erasure (Article 17), objection "
        "(Article 21) or a complaint to an authority (Article 77), with the notes on how to send it. Nothing "
        "is stored or logged."
    ),
    response_model=LetterOut,
    responses={
        413: error("The request is too large", "too-large", "the request is larger than 65,536 bytes"),
        415: error("Not JSON", "unsupported-media-type", "send the letter's fields as application/json"),
        422: error("A field is missing or refused", "usage", "the name contains a line break"),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": LetterIn.model_json_schema()}}}
    },
)
async def write_letter(request: Request) -> LetterOut:
    try:
        given = LetterIn.model_validate_json(await read_body(request, MAX_BODY))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise UsageError(problems[:2000]) from None
    if (given.to is None) == (given.company_name is None):
        raise UsageError("choose a company (to) or name another one (company_name), one of the two")
    to: str | Company
    if given.company_name is not None:
        to = Company.custom(given.company_name, address=given.company_address, email=given.company_email or None)
    else:
        to = str(given.to)
    if given.authority is not None and given.authority_name is not None:
        raise UsageError("choose an authority (authority) or name another one (authority_name), not both")
    authority: str | Authority | None = given.authority
    if given.authority_name is not None:
        authority = Authority.custom(
            given.authority_name, address=given.authority_address, email=given.authority_email or None
        )
    letter = compose(
        given.kind,
        to=to,
        sender=Sender(name=given.name, email=given.email or None, address=tuple(given.address)),
        options=LetterOptions(
            lang=given.lang,
            date=given.date,
            authority=authority,
            request_date=given.request_date,
            reply=given.reply,
            reason=given.reason or None,
            photo=given.photo,
        ),
    )
    log.info("rights: a letter (%s, %s)", letter.kind, letter.lang)
    return LetterOut(
        kind=letter.kind,
        lang=letter.lang,
        text=letter.text,
        notes=list(letter.notes),
        filename=f"{letter.kind}-{_slug(letter.company.key)}-{letter.date.isoformat()}.txt",
    )


__all__ = ["MAX_BODY", "LetterIn", "router"]
