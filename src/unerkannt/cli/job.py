"""``unerkannt job status``: what a resumable job has done and what failed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..names import display
from . import EXIT_FAILED, EXIT_OK


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "job",
        help="show the state of a resumable protect job",
        description="Show a job journal written by 'unerkannt protect --job JOBFILE': counts and failures.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("status", help="counts of done, failed, skipped and pending files, and the failures")
    show.add_argument("job", metavar="JOBFILE", help="the job file")
    show.add_argument("--json", action="store_true", help="print JSON on standard output")
    return p


def run(args: argparse.Namespace) -> int:
    from ..jobs import status

    data = status(args.job)
    counts = data["counts"]
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print(
            f"{display(args.job)}: {counts['files']} file(s): {counts['done']} done, "
            f"{counts['failed']} failed, "
            + (f"{counts['skipped']} skipped, " if counts["skipped"] else "")
            + f"{counts['pending']} pending"
        )
        for item in data["failures"]:
            error = item["error"] or {}
            print(f"failed: {display(item['input'])}: {display(error.get('message', ''))}")
    return EXIT_OK if counts["done"] + counts["skipped"] == counts["files"] else EXIT_FAILED
