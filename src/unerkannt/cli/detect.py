"""``unerkannt detect``: list the faces in images; nothing is written."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import UnerkanntError
from ..names import display
from . import EXIT_FAILED, EXIT_OK
from ._common import add_detection_arguments, options_from


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("detect", help="list the faces in images, write nothing")
    p.add_argument("inputs", nargs="+", metavar="IMAGE")
    add_detection_arguments(p)
    p.add_argument("--json", action="store_true", help="JSON on standard output")
    return p


def run(args: argparse.Namespace) -> int:
    from ..media import read_image
    from ..pipeline import build_detector

    options = options_from(args)
    detector = build_detector(options)
    status = EXIT_OK
    listing = []
    for name in args.inputs:
        entry: dict[str, Any] = {"input": str(name)}
        try:
            picture = read_image(name, max_pixels=options.max_pixels, max_frames=options.max_frames)
            entry["faces"] = [
                dict(face.to_json(), frame=i) if i else face.to_json()
                for i, frame in enumerate(picture.frames)
                for face in detector.detect(frame)
            ]
        except UnerkanntError as exc:
            entry["error"] = {"type": exc.code, "message": str(exc)}
            status = EXIT_FAILED
        listing.append(entry)
        if not args.json:
            if "error" in entry:
                print(f"{display(name)}: error: {display(entry['error']['message'])}")
            else:
                print(f"{display(name)}: {len(entry['faces'])} face(s)")
                for face in entry["faces"]:
                    print(f"  box {face['box']} score {face['score']} ({face['detector']})")
    if args.json:
        json.dump(listing, sys.stdout, indent=2)
        print()
    return status
