"""Letters that enforce data-protection rights against face-search companies.

A person who suspects that PimEyes, Clearview AI or another company holds photos of their
face can ask for access (Article 15 GDPR), erasure (Article 17) or object (Article 21), and
complain to a supervisory authority (Article 77). :func:`letter` writes such a letter,
complete and ready to send; :func:`compose` also returns the notes that go with it (how to
send it, what to enclose, when the answer is due). The addresses come from a dated data
file in this package in which every address names its source (:func:`directory`).

>>> from unerkannt.rights import letter
>>> text = letter("access", to="pimeyes", name="Erika Mustermann", email="erika@example.org")
>>> "Article 15" in text and "office@pimeyes.com" in text
True

Importing this package loads no image library; it is plain text.
"""

from __future__ import annotations

import os
from pathlib import Path

from .compose import compose, letter
from .data import (
    Authority,
    Company,
    Directory,
    EmailAddress,
    Establishment,
    Note,
    PostalAddress,
    Representative,
    Source,
    Texts,
    WebForm,
    directory,
)
from .model import KINDS, LANGS, REPLIES, Letter, LetterOptions, Sender

__all__ = [
    "KINDS",
    "LANGS",
    "REPLIES",
    "Authority",
    "Company",
    "Directory",
    "EmailAddress",
    "Establishment",
    "Letter",
    "LetterOptions",
    "Note",
    "PostalAddress",
    "Representative",
    "Sender",
    "Source",
    "Texts",
    "WebForm",
    "compose",
    "directory",
    "letter",
    "save",
]


def save(text: str, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a letter to ``path`` atomically, readable by its owner only (0600).

    The letter holds the sender's name and address, so it is not left readable for other
    users of the machine. All of it or nothing is written: a temporary file next to
    ``path`` is linked into place only once complete.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false; nothing is changed.
    OutputError
        The folder is not writable, the disk is full, ...
    """
    from ..errors import OutputError
    from ..media.write import atomic_output

    target = Path(path)
    with atomic_output(target, overwrite=overwrite) as tmp:
        try:
            os.chmod(tmp, 0o600)
            tmp.write_text(text, encoding="utf-8", newline="\n")
        except OSError as exc:
            raise OutputError(f"cannot write the letter: {exc.strerror or exc}") from exc
    return target
