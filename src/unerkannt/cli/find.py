"""``unerkannt find``: where is the person of a reference photo in these folders?"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import UnerkanntError, UsageError
from ..names import display
from . import EXIT_FAILED, EXIT_OK
from ._recognition import add_recognition_arguments, audit_options, describe


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "find",
        help="list the photos and faces that match a reference photo of yourself",
        description=(
            "Search local folders (recursively) for the person of the reference photo(s), so that they can ask "
            "for deletion or protect the photos. Nothing is indexed or kept. Exit status 1 if a file could not "
            "be searched."
        ),
    )
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="folders or files to search")
    p.add_argument("--reference", action="append", required=True, metavar="PHOTO", help="you, alone (repeatable)")
    add_recognition_arguments(p)
    p.add_argument("--json", action="store_true", help="JSON on standard output")
    return p


def run(args: argparse.Namespace) -> int:
    from ..api import find

    try:
        found = find(args.reference, args.folders, options=audit_options(args))
    except UnerkanntError as exc:
        if isinstance(exc, UsageError):
            raise
        print(f"unerkannt: error: {display(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    listing = [f.to_json() for f in found]
    if args.json:
        json.dump([e for e in listing if e["faces"] or "error" in e], sys.stdout, indent=2)
        print()
    else:
        for entry in listing:
            if "error" in entry:
                print(f"{display(entry['file'])}: error: {display(entry['error']['message'])}", file=sys.stderr)
            for face in entry["faces"]:
                print(f"{display(entry['file'])}: box {face['box']}: " + "; ".join(describe(s) for s in face["scores"]))
        hits = sum(len(e["faces"]) for e in listing)
        print(f"unerkannt: {hits} matching face(s) in {len(listing)} file(s) searched", file=sys.stderr)
    return EXIT_FAILED if any("error" in e for e in listing) else EXIT_OK
