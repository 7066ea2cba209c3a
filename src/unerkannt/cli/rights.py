"""``unerkannt rights``: write a GDPR request or complaint about photos of your face."""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import UnerkanntError, UsageError
from ..names import display
from . import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from ..rights import Authority, Company, Source

_HELP = {
    "access": "ask what the company holds about you (Article 15 GDPR)",
    "erasure": "ask the company to erase it (Article 17 GDPR)",
    "objection": "object to the processing (Article 21 GDPR)",
    "complaint": "complain to a data protection authority (Article 77 GDPR)",
}


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {display(text)}") from exc


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from ..rights import KINDS, LANGS, REPLIES

    p: argparse.ArgumentParser = sub.add_parser(
        "rights",
        help="write a GDPR request or complaint to PimEyes, Clearview AI or another company",
        description=(
            "Write a complete letter, ready to send: a request for access, erasure or an objection to a company "
            "that may hold photos of your face, or a complaint to a data protection authority. The letter goes to "
            "standard output or -o FILE; notes on how to send it go to standard error. Addresses come from a "
            "dated data file in the package with sources ('unerkannt rights list')."
        ),
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--to", required=True, metavar="COMPANY", help="pimeyes, clearview, or a company's name")
    common.add_argument("--to-address", action="append", metavar="LINE", help="the company's address, one line each")
    common.add_argument("--to-email", metavar="ADDRESS", help="the company's e-mail address for privacy requests")
    common.add_argument("--name", required=True, help="your name, as it goes under the letter")
    common.add_argument("--email", metavar="ADDRESS", help="your e-mail address, for the answer")
    common.add_argument("--address", action="append", metavar="LINE", help="your postal address, one line each")
    common.add_argument("--lang", choices=LANGS, default="en", help="language of the letter (default: en)")
    common.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="date of the letter (default: today)")
    common.add_argument("-o", "--output", metavar="FILE", help="write the letter to FILE (default: standard output)")
    common.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    for kind in KINDS:
        k = kinds.add_parser(kind, parents=[common], help=_HELP[kind], description=_HELP[kind])
        if kind == "complaint":
            k.add_argument("--authority", metavar="KEY", help="the authority: a key of 'rights list' or a name")
            k.add_argument("--authority-address", action="append", metavar="LINE", help="its address, one line each")
            k.add_argument("--authority-email", metavar="ADDRESS", help="its e-mail address")
            k.add_argument("--request-date", type=_date, metavar="YYYY-MM-DD", help="when you sent your request")
            k.add_argument("--reply", choices=REPLIES, default="none", help="what the company answered (default: none)")
        else:
            k.add_argument("--no-photo", dest="photo", action="store_false", help="do not enclose a photo of you")
        if kind == "objection":
            k.add_argument("--reason", metavar="TEXT", help="your own reasons, added as one paragraph")
    kinds.add_parser("list", help="the companies and authorities with known addresses, and their sources")
    return p


def run(args: argparse.Namespace) -> int:
    if args.kind == "list":
        _list()
        return EXIT_OK
    from ..rights import Authority, Company, LetterOptions, Sender, compose, directory, save

    try:
        book = directory()
    except UnerkanntError as exc:
        print(f"unerkannt: error: {display(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    if args.to_address or args.to_email:
        if _known(book.company, args.to):
            raise UsageError(f"{args.to} is known; --to-address and --to-email are for other companies")
        to: str | Company = Company.custom(args.to, address=args.to_address, email=args.to_email)
    else:
        to = args.to
    named: str | None = getattr(args, "authority", None)
    authority: str | Authority | None = named
    if getattr(args, "authority_address", None) or getattr(args, "authority_email", None):
        if named is None:
            raise UsageError('give the authority\'s name with --authority "NAME"')
        if _known(book.authority, named):
            raise UsageError(f"{named} is known; --authority-address and --authority-email are for others")
        authority = Authority.custom(named, address=args.authority_address, email=args.authority_email)
    try:
        letter = compose(
            args.kind,
            to=to,
            sender=Sender(name=args.name, email=args.email, address=tuple(args.address or ())),
            options=LetterOptions(
                lang=args.lang,
                date=args.date,
                authority=authority,
                request_date=getattr(args, "request_date", None),
                reply=getattr(args, "reply", "none"),
                reason=getattr(args, "reason", None),
                photo=getattr(args, "photo", True),
            ),
        )
    except UnerkanntError as exc:
        if isinstance(exc, UsageError):
            raise
        print(f"unerkannt: error: {display(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    if args.output:
        try:
            save(letter.text, args.output, overwrite=args.overwrite)
        except UnerkanntError as exc:
            print(f"unerkannt: error: {display(args.output)}: {display(str(exc))}", file=sys.stderr)
            return EXIT_FAILED
    else:
        sys.stdout.write(letter.text)
    _print_notes(letter.notes, letter.lang)
    if args.output:
        print(f"unerkannt: wrote {display(args.output)}", file=sys.stderr)
    return EXIT_OK


def _known(lookup: Callable[[str], object], name: str) -> bool:
    try:
        lookup(name)
    except UsageError:
        return False
    return True


def _print_notes(notes: tuple[str, ...], lang: str) -> None:
    from ..rights.text import wrap

    title = "Hinweise (nicht Teil des Briefs):" if lang == "de" else "Notes (not part of the letter):"
    lines = [title]
    for note in notes:
        lines += wrap(note, indent="- ", hanging="  ")
    print("\n" + "\n".join(lines), file=sys.stderr)


def _list() -> None:
    from ..rights import directory

    book = directory()
    out = [f"Addresses checked on {book.checked.isoformat()}.", "Companies (--to KEY):"]
    for company in book.companies.values():
        out += [f"  {company.key}: {company.name}", *_contacts(company)]
    out.append("Authorities (complaint --authority KEY):")
    for authority in book.authorities.values():
        out += [f"  {authority.key}: {authority.name}", *_contacts(authority)]
    print("\n".join(out))


def _contacts(item: Company | Authority) -> list[str]:
    lines = []
    if item.postal is not None:
        lines.append(f"    post: {'; '.join(item.postal.lines)}  [{_source(item.postal.source)}]")
    else:
        lines.append("    post: no postal address could be verified")
    if item.email is not None:
        lines.append(f"    e-mail: {item.email.address}  [{_source(item.email.source)}]")
    return lines


def _source(source: Source | None) -> str:
    if source is None:
        return "given by you"
    kind = "" if source.primary else "secondary source, "
    return f"{kind}{source.url}, checked {source.checked.isoformat()}"
