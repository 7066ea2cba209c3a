"""The consent allow-list: only people who enrolled themselves may stay visible."""

from .registry import ENV, Person, Registry, default_path
from .rule import MAX_TURN, MIN_FACE, STRICT, consented_faces, decide, matchable

__all__ = [
    "ENV",
    "MAX_TURN",
    "MIN_FACE",
    "STRICT",
    "Person",
    "Registry",
    "consented_faces",
    "decide",
    "default_path",
    "matchable",
]
