"""``unerkannt consent``: the people who agreed to stay visible (add, list, remove)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import UnerkanntError, UsageError
from ..names import display
from . import EXIT_FAILED, EXIT_OK
from ._recognition import add_recognition_arguments, audit_options


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "consent",
        help="enroll, list and remove people who consented to stay visible",
        description=(
            "The consent registry holds, per person, the name, the date of consent and face templates of both "
            "recognizers (no photos), in a file readable by its owner only: --registry PATH, else "
            "$UNERKANNT_CONSENT, else $XDG_DATA_HOME/unerkannt/consent.json. Use it with protect --consent."
        ),
    )
    p.add_argument("--registry", metavar="PATH", help="registry file")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="enroll NAME from photos that each show only them")
    add.add_argument("name", metavar="NAME")
    add.add_argument("photos", nargs="+", metavar="PHOTO")
    add_recognition_arguments(add)
    listing = actions.add_parser("list", help="list enrolled people and their date of consent")
    listing.add_argument("--json", action="store_true", help="JSON on standard output")
    remove = actions.add_parser("remove", help="withdraw consent: delete NAME's templates now")
    remove.add_argument("name", metavar="NAME")
    return p


def run(args: argparse.Namespace) -> int:
    from ..api import enroll, withdraw
    from ..consent import Registry

    try:
        if args.action == "add":
            if args.recognizer:
                raise UsageError("consent always enrolls with every recognizer; --recognizer is not for add")
            person = enroll(args.name, args.photos, registry=args.registry, options=audit_options(args))
            path = Registry.open(args.registry).path
            print(f"enrolled {display(person.name)} from {person.photos} photo(s), consent of {person.consented}")
            print(f"registry: {display(path)}")
        elif args.action == "remove":
            withdraw(args.name, registry=args.registry)
            print(f"removed {display(args.name)}: their templates are deleted")
        else:
            book = Registry.open(args.registry)
            people: list[dict[str, Any]] = [
                {"name": p.name, "consented": p.consented, "photos": p.photos} for p in book.people.values()
            ]
            if args.json:
                json.dump({"registry": str(book.path), "people": people}, sys.stdout, indent=2)
                print()
            else:
                print(f"{display(book.path)}: {len(people)} person(s)")
                for entry in people:
                    print(f"  {display(entry['name'])}  consent {entry['consented']}  {entry['photos']} photo(s)")
    except UnerkanntError as exc:
        if isinstance(exc, UsageError):
            raise
        print(f"unerkannt: error: {display(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
