"""The ``unerkannt`` command: a thin layer over the API.

Each subcommand is one module of this package, listed in :data:`COMMANDS`, with
``add_parser(subparsers)`` and ``run(args) -> int``.

Exit status: 0 every file protected, 1 some file failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import UsageError
from ..names import display

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("protect", "job", "detect", "info", "serve", "audit", "consent", "find", "rights")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unerkannt",
        description="Make photos safe to publish against automated face recognition.",
    )
    parser.add_argument("--version", action="version", version=f"unerkannt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(sub).set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        status: int = args.run(args)
        return status
    except UsageError as exc:
        print(f"unerkannt: error: {display(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error of ours.
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("unerkannt: interrupted; files not yet written were not written", file=sys.stderr)
        return 130
