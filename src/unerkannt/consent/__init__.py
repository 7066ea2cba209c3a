"""The consent allow-list: only people who enrolled themselves may stay visible."""

from .registry import ENV, Person, Registry, default_path
from .rule import AGREE, FUSED, IMPOSTOR, MAX_TURN, MIN_FACE, accepted, consented_faces, decide, matchable, turn

__all__ = [
    "AGREE",
    "ENV",
    "FUSED",
    "IMPOSTOR",
    "MAX_TURN",
    "MIN_FACE",
    "Person",
    "Registry",
    "accepted",
    "consented_faces",
    "decide",
    "default_path",
    "matchable",
    "turn",
]
