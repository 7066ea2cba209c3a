"""Options shared by the subcommands that match faces (audit, consent, find)."""

from __future__ import annotations

import argparse

from ..auditing import AuditOptions


def add_recognition_arguments(parser: argparse.ArgumentParser) -> None:
    from ..recognize import RECOGNIZERS

    parser.add_argument(
        "--recognizer",
        action="append",
        choices=list(RECOGNIZERS),
        metavar="NAME",
        help=f"recognizer to use, repeatable ({', '.join(RECOGNIZERS)}; default: all)",
    )
    parser.add_argument(
        "--threshold", type=float, default=0.4, metavar="T", help="detector score for a face to count (0.4)"
    )


def audit_options(args: argparse.Namespace) -> AuditOptions:
    if args.recognizer:
        return AuditOptions(recognizers=tuple(dict.fromkeys(args.recognizer)), threshold=args.threshold)
    return AuditOptions(threshold=args.threshold)


def describe(score: dict[str, object]) -> str:
    """``sface cosine 0.712 >= 0.363 MATCH`` for a score's JSON."""
    op = ">=" if score["metric"] == "cosine" else "<"
    verdict = "MATCH" if score["match"] else "no match"
    rank = f", rank {score['rank']} of {score['gallery_size']}" if "rank" in score else ""
    return f"{score['recognizer']} {score['metric']} {score['score']} ({op} {score['threshold']}: {verdict}{rank})"
