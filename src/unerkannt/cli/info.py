"""``unerkannt info``: what this installation can do (models, methods, formats)."""

from __future__ import annotations

import argparse
import importlib.util
import textwrap
from typing import Any

from .. import __version__
from ..errors import UnerkanntError
from . import EXIT_OK


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("info", help="show detectors, methods and formats available here")
    return p


def run(args: argparse.Namespace) -> int:
    from ..anonymize import METHODS, get_method
    from ..detect import DETECTORS
    from ..detect.centerface import MODEL, MODEL_INT8
    from ..detect.yunet import model_path
    from ..media.formats import available, formats
    from ..options import ProtectOptions

    print(f"unerkannt {__version__}")
    print("detectors:")
    for name in DETECTORS:
        if name.startswith("centerface"):
            file = MODEL if name == "centerface" else MODEL_INT8
            where = str(file) if file.is_file() else "MISSING model file"
        else:
            try:
                where = str(model_path())
            except UnerkanntError as exc:
                where = f"unavailable: {exc}"
        print(f"  {name:<15} {where}")
    print("recognizers (audit, consent, find):")
    from ..recognize import RECOGNIZERS
    from ..recognize.dlib_resnet import model_paths
    from ..recognize.sface import model_path as sface_path

    for name, locate in (("sface", sface_path), ("dlib", lambda: model_paths()[1])):
        if name not in RECOGNIZERS:
            continue
        try:
            where = str(locate())
            if name == "dlib" and importlib.util.find_spec("dlib") is None:
                where = "unavailable: pip install 'unerkannt[recognition]'"
        except UnerkanntError as exc:
            where = f"unavailable: {exc}"
        print(f"  {name:<15} {where}")
    print("methods:")
    default = ProtectOptions().method
    for name in METHODS:
        print(f"  {name:<11} {get_method(name).summary}{' (default)' if name == default else ''}")
    print("formats:")
    for fmt in formats().values():
        if not available(fmt):
            state = f"no ({fmt.plugin} missing: {fmt.install})"
        elif not fmt.writable:
            state = f"read only (LibRaw), written as {fmt.output.upper()}"
        else:
            state = "yes"
        lines = textwrap.wrap(" ".join(fmt.extensions), 38) or [""]
        print(f"  {fmt.name:<14} {lines[0]:<38} {state}")
        for more in lines[1:]:
            print(f"  {'':<14} {more}")
    return EXIT_OK
