"""The consent registry: enrolled people, their templates and date of consent, one file.

The file is JSON, written atomically with owner-only permissions (0600, folder 0700).
It holds no photos: per person the name, the date of consent, and one template per
reference photo for each recognizer. Removing a person rewrites the file without them.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConsentError
from ..names import display

log = logging.getLogger(__name__)

#: Environment variable naming the registry file when ``--registry`` is not given.
ENV = "UNERKANNT_CONSENT"
_FORMAT = 1


def default_path() -> Path:
    """``$UNERKANNT_CONSENT``, else ``$XDG_DATA_HOME/unerkannt/consent.json`` (``~/.local/share``)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "unerkannt" / "consent.json"


@dataclass(frozen=True, kw_only=True)
class Person:
    """One enrolled person: ``templates`` is ``{recognizer: (N, D)}``, one row per reference photo."""

    name: str
    consented: str
    templates: dict[str, np.ndarray]

    def __repr__(self) -> str:  # never print templates
        return f"Person(name={self.name!r}, consented={self.consented!r}, photos={self.photos})"

    @property
    def photos(self) -> int:
        return min((len(t) for t in self.templates.values()), default=0)


class Registry:
    """The people who consented to being visible, read from and saved to ``path``."""

    def __init__(self, path: str | Path, people: dict[str, Person] | None = None) -> None:
        self.path = Path(path)
        self.people: dict[str, Person] = dict(people or {})

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r}, people={len(self.people)})"

    @classmethod
    def open(cls, path: str | Path | None = None, *, must_exist: bool = False) -> Registry:
        """Read the registry at ``path`` (default: :func:`default_path`); missing means empty.

        Raises
        ------
        ConsentError
            The file is missing although ``must_exist``, unreadable or not a registry.
        """
        path = Path(path) if path is not None else default_path()
        if not path.exists():
            if must_exist:
                raise ConsentError(f"no consent registry at {display(path)}")
            return cls(path)
        try:
            if path.stat().st_mode & 0o077:
                log.warning("the consent registry %s is readable by others; it should be 0600", display(path))
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT:
                raise ConsentError(f"{display(path)} is not a consent registry of this version")
            people = {}
            for entry in data["people"]:
                templates = {k: np.asarray(v, dtype=np.float32) for k, v in entry["templates"].items()}
                people[entry["name"]] = Person(name=entry["name"], consented=entry["consented"], templates=templates)
        except ConsentError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConsentError(f"cannot read the consent registry {display(path)}: {exc}") from exc
        return cls(path, people)

    def add(self, name: str, templates: dict[str, np.ndarray], *, consented: _dt.date | None = None) -> Person:
        """Enroll ``name`` (replacing an earlier enrollment of the same name); call :meth:`save`."""
        name = name.strip()
        if not name or any(ord(c) < 32 for c in name):
            raise ConsentError("a name must be non-empty and have no control characters")
        person = Person(
            name=name,
            consented=(consented or _dt.date.today()).isoformat(),
            templates={k: np.atleast_2d(np.asarray(v, np.float32)) for k, v in templates.items()},
        )
        self.people[name] = person
        return person

    def remove(self, name: str) -> None:
        """Withdraw ``name``'s consent; :meth:`save` deletes the templates from the file.

        Raises
        ------
        ConsentError
            Nobody of that name is enrolled.
        """
        if name not in self.people:
            raise ConsentError(f"{display(name)} is not enrolled")
        del self.people[name]

    def save(self) -> None:
        """Write the registry atomically, readable and writable by its owner only."""
        data: dict[str, Any] = {
            "format": _FORMAT,
            "people": [
                {
                    "name": p.name,
                    "consented": p.consented,
                    "templates": {k: np.round(v.astype(np.float64), 6).tolist() for k, v in p.templates.items()},
                }
                for p in self.people.values()
            ],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".consent-", dir=self.path.parent)  # mkstemp creates 0600
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(data, out)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ConsentError(f"cannot write the consent registry {display(self.path)}: {exc}") from exc
