"""The ``unerkannt`` command: a thin layer over the API.

Exit status: 0 every file protected, 1 some file failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import UnerkanntError, UsageError
from .names import display
from .options import DEFAULT_MAX_PIXELS, PROFILES, ProtectOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

WEAK_WARNING = (
    "warning: {method} is weaker than fill: {method}ed faces can be partly restored or matched by "
    "face-search engines that {method} their gallery the same way. Use fill to publish."
)


def _parser() -> argparse.ArgumentParser:
    from .anonymize import METHODS
    from .detect import DETECTORS
    from .media import formats

    parser = argparse.ArgumentParser(
        prog="unerkannt",
        description="Make photos safe to publish against automated face recognition.",
    )
    parser.add_argument("--version", action="version", version=f"unerkannt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "protect",
        help="anonymize every face and strip metadata",
        description=(
            "Write a protected copy of each photo: every face filled, no metadata. A file that cannot be "
            "fully protected gets no output. Use ./NAME or -- before file names that start with '-'."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    p.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="folder for the protected copies (tree mirrored)"
    )
    p.add_argument(
        "--method", choices=list(METHODS), default="fill", help="how faces are hidden (default: fill, irreversible)"
    )
    p.add_argument(
        "--enlarge",
        type=float,
        default=1.3,
        metavar="F",
        help="grow each face box by F to cover hair line and chin (default: 1.3)",
    )
    p.add_argument("--profile", choices=list(PROFILES), default="default", help="detection profile (default: default)")
    p.add_argument(
        "--detector",
        action="append",
        choices=list(DETECTORS),
        metavar="NAME",
        help=f"detector to use, repeatable ({', '.join(DETECTORS)}; default: centerface)",
    )
    p.add_argument("--threshold", type=float, metavar="T", help="detector score threshold (default: the profile's)")
    p.add_argument("--no-verify", dest="verify", action="store_false", help="skip re-detecting on the protected pixels")
    p.add_argument("--format", choices=list(formats()), help="output format (default: the input's)")
    p.add_argument("--quality", type=int, default=90, metavar="Q", help="quality of lossy formats, 1-100 (default: 90)")
    p.add_argument(
        "--keep-icc", action="store_true", help="keep the ICC colour profile (no other metadata is ever kept)"
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help="refuse larger images, all frames counted",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--allow-inside-input", action="store_true", help="allow the output folder inside an input folder")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="processes (default: one per core)")
    p.add_argument("--report", metavar="FILE", help="write a JSON report (faces, actions, warnings, errors)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the JSON report on standard output")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar, only errors and the summary")

    d = sub.add_parser("detect", help="list the faces in images, write nothing")
    d.add_argument("inputs", nargs="+", metavar="IMAGE")
    d.add_argument("--profile", choices=list(PROFILES), default="default")
    d.add_argument("--detector", action="append", choices=list(DETECTORS), metavar="NAME")
    d.add_argument("--threshold", type=float, metavar="T")
    d.add_argument("--json", action="store_true", help="JSON on standard output")

    sub.add_parser("info", help="show detectors, methods and formats available here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        if args.command == "protect":
            return _protect(args)
        if args.command == "detect":
            return _detect(args)
        return _info()
    except UsageError as exc:
        print(f"unerkannt: error: {display(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("unerkannt: interrupted; files not yet written were not written", file=sys.stderr)
        return 130


def _options(args: argparse.Namespace, **extra: Any) -> ProtectOptions:
    return ProtectOptions(
        profile=args.profile,
        detectors=tuple(args.detector or ("centerface",)),
        threshold=args.threshold,
        **extra,
    )


def _protect(args: argparse.Namespace) -> int:
    from .results import FileResult

    options = _options(
        args,
        method=args.method,
        enlarge=args.enlarge,
        verify=args.verify,
        format=args.format,
        quality=args.quality,
        keep_icc=args.keep_icc,
        max_pixels=args.max_pixels,
    )
    if args.workers < 0:
        raise UsageError("--workers must be 0 or more")
    from .anonymize import get_method

    if get_method(options.method).weak:
        print(WEAK_WARNING.format(method=options.method.removesuffix("e")), file=sys.stderr)
    bar = None
    if not (args.quiet or args.json):
        from tqdm import tqdm

        bar = tqdm(unit="file", desc="protecting", file=sys.stderr, disable=None)

    def progress(result: FileResult) -> None:
        if bar is not None:
            bar.update(1)
        if not result.ok and not args.json:
            message = f"failed: {display(result.input)}: {display(result.error['message'] if result.error else '')}"
            (bar.write if bar is not None else _eprint)(message, file=sys.stderr)

    from .batch import plan, run

    jobs = plan(args.inputs, args.output, options=options, allow_inside_input=args.allow_inside_input)
    if bar is not None:
        bar.total = len(jobs)
    report = run(jobs, options=options, workers=args.workers, overwrite=args.overwrite, progress=progress)
    if bar is not None:
        bar.close()
    data = report.to_json()
    if args.report:
        from .media.write import write_atomic

        write_atomic(json.dumps(data, indent=2).encode(), Path(args.report), overwrite=True)
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        print()
    s = report.summary()
    print(
        f"unerkannt: protected {s['protected']} of {s['files']} file(s), {s['faces']} face(s) hidden"
        + (f"; {s['failed']} failed, no output written for them" if s["failed"] else ""),
        file=sys.stderr,
    )
    return EXIT_OK if report.ok else EXIT_FAILED


def _eprint(message: str, file: Any = None) -> None:
    print(message, file=file or sys.stderr)


def _detect(args: argparse.Namespace) -> int:
    from .media import read_image
    from .pipeline import build_detector

    options = _options(args)
    detector = build_detector(options)
    status = EXIT_OK
    listing = []
    for name in args.inputs:
        entry: dict[str, Any] = {"input": str(name)}
        try:
            picture = read_image(name, max_pixels=options.max_pixels)
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


def _info() -> int:
    import importlib.util

    from .anonymize import METHODS, get_method
    from .detect import DETECTORS
    from .detect.centerface import MODEL
    from .media import formats

    print(f"unerkannt {__version__}")
    print("detectors:")
    for name in DETECTORS:
        if name == "centerface":
            where = str(MODEL) if MODEL.is_file() else "MISSING model file"
        else:
            from .detect.yunet import model_path

            try:
                where = str(model_path())
            except UnerkanntError as exc:
                where = f"unavailable: {exc}"
        print(f"  {name:<11} {where}")
    print("methods:")
    for name in METHODS:
        print(f"  {name:<11} {'weaker than fill' if get_method(name).weak else 'irreversible (default)'}")
    heif = importlib.util.find_spec("pillow_heif") is not None
    print("formats:")
    for fmt in formats().values():
        ok = heif if fmt.name == "heif" else True
        print(f"  {fmt.name:<11} {' '.join(fmt.extensions):<26} {'yes' if ok else 'no (pillow-heif missing)'}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
