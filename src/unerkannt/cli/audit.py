"""``unerkannt audit``: would a face-search engine still find the people in a photo?"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UnerkanntError, UsageError
from ..names import display
from . import EXIT_FAILED, EXIT_OK
from ._recognition import add_recognition_arguments, audit_options, describe


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="check protected photos with face recognizers, as a search engine would",
        description=(
            "audit ORIGINAL PROTECTED: for every face of the original, whether a detector still finds it in the "
            "protected photo and whether each recognizer still matches it (and, with --gallery, its rank in a 1:N "
            "search). audit --reference ME.jpg PHOTO...: whether the photos still match the person of ME.jpg. "
            "Exit status 1 when a face is still re-identifiable (or a file failed), 0 otherwise."
        ),
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="ORIGINAL PROTECTED, or with --reference the photos")
    p.add_argument("--reference", action="append", metavar="PHOTO", help="photo of the person alone (repeatable)")
    p.add_argument("--gallery", action="append", metavar="DIR", help="photos of other people to search among")
    add_recognition_arguments(p)
    p.add_argument("--json", action="store_true", help="JSON on standard output")
    return p


def run(args: argparse.Namespace) -> int:
    if args.reference:
        return _reference(args)
    if len(args.images) != 2:
        raise UsageError("audit takes ORIGINAL PROTECTED (or --reference PHOTO with the photos to check)")
    missing = [g for g in args.gallery or () if not Path(g).exists()]
    if missing:
        raise UsageError(f"--gallery not found: {missing[0]}")
    from ..api import audit

    try:
        result = audit(args.images[0], args.images[1], gallery=args.gallery, options=audit_options(args))
    except UnerkanntError as exc:
        print(f"unerkannt: error: {display(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    data = result.to_json()
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print(f"{display(args.images[1])}: {len(result.faces)} face(s) in the original")
        for face in data["faces"]:
            state = "RE-IDENTIFIABLE" if face["reidentifiable"] else "not re-identified"
            found = "still detected" if face["detected"] else "not detected"
            print(f"  box {face['box']}: {state}; {found}")
            for score in face["scores"]:
                print(f"    {describe(score)}")
        for warning in result.warnings:
            print(f"  warning: {display(warning)}")
        print("ok: no face is re-identifiable" if result.ok else "NOT OK: a face is still re-identifiable")
    return EXIT_OK if result.ok else EXIT_FAILED


def _reference(args: argparse.Namespace) -> int:
    from ..api import find

    try:
        found = find(args.reference, args.images, options=audit_options(args))
    except UnerkanntError as exc:
        print(f"unerkannt: error: {display(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    listing = [f.to_json() for f in found]
    if args.json:
        json.dump(listing, sys.stdout, indent=2)
        print()
    else:
        for entry in listing:
            if "error" in entry:
                print(f"{display(entry['file'])}: error: {display(entry['error']['message'])}")
            elif entry["faces"]:
                print(f"{display(entry['file'])}: STILL MATCHES the reference person")
                for face in entry["faces"]:
                    print(f"  box {face['box']}: " + "; ".join(describe(s) for s in face["scores"]))
            else:
                print(f"{display(entry['file'])}: no match")
    bad = any("error" in e or e["faces"] for e in listing)
    return EXIT_FAILED if bad else EXIT_OK
