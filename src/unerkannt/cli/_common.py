"""Options shared by the subcommands that detect faces."""

from __future__ import annotations

import argparse
from typing import Any

from ..options import PROFILES, ProtectOptions


def add_detection_arguments(parser: argparse.ArgumentParser) -> None:
    from ..detect import DETECTORS

    parser.add_argument(
        "--profile", choices=list(PROFILES), default="default", help="detection profile (default: default)"
    )
    parser.add_argument(
        "--detector",
        action="append",
        choices=list(DETECTORS),
        metavar="NAME",
        help=f"detector to use, repeatable ({', '.join(DETECTORS)}; default: centerface)",
    )
    parser.add_argument(
        "--threshold", type=float, metavar="T", help="detector score threshold (default: the profile's)"
    )


def options_from(args: argparse.Namespace, **extra: Any) -> ProtectOptions:
    return ProtectOptions(
        profile=args.profile,
        detectors=tuple(args.detector or ("centerface",)),
        threshold=args.threshold,
        **extra,
    )
