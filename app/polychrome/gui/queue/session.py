"""The working session, in plain Python (no Qt): the queue's files in order, each image's own T and its extras (data
of other tools, e.g. hints), and the current image — saved as JSON in the user data folder so that the next start
brings the work back.

The file is ``session.json`` in ``platformdirs.user_data_dir("polychrome")``; ``$POLYCHROME_SESSION`` names another
file, and with ``$POLYCHROME_SETTINGS`` (tests, portable installs) it sits beside that ini file. It is written
atomically (temp file, fsync, rename: :func:`polychrome.core.fileops.atomic_write_bytes`), so a crash while saving
never leaves half a session. Predictions are not saved: restored images are colorized again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...core.fileops import atomic_write_bytes
from ...core.jsonsafe import json_safe
from .model import QueueItem, clamp_T

log = logging.getLogger(__name__)

ENV = "POLYCHROME_SESSION"
SETTINGS_ENV = "POLYCHROME_SETTINGS"
FILE_NAME = "session.json"
VERSION = 1


def session_path() -> Path:
    """Where the session is kept: ``$POLYCHROME_SESSION``; else beside ``$POLYCHROME_SETTINGS``; else the user data
    folder."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    settings = os.environ.get(SETTINGS_ENV)
    if settings:
        p = Path(settings).expanduser()
        return p.with_name(f"{p.stem}-{FILE_NAME}")
    import platformdirs

    return Path(platformdirs.user_data_dir("polychrome", appauthor=False)) / FILE_NAME


@dataclass
class SessionEntry:
    path: Path
    T: Optional[float] = None  # noqa: N815 - the image's own T; None: the start T / model default
    extras: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    entries: List[SessionEntry] = field(default_factory=list)
    current: int = -1

    def __bool__(self) -> bool:
        return bool(self.entries)


def from_items(items: Sequence[QueueItem], current: int = -1) -> Session:
    return Session([SessionEntry(it.path, it.T, dict(it.extras)) for it in items],
                   current if 0 <= current < len(items) else -1)


def to_json(session: Session) -> Dict[str, Any]:
    return {"version": VERSION, "current": session.current,
            "items": [{"path": str(e.path), "T": e.T, "extras": json_safe(e.extras)} for e in session.entries]}


def from_json(data: Any) -> Session:
    """A session from its JSON form; malformed entries are skipped (and logged), never fatal."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError("not a Polychrome session")
    entries: List[SessionEntry] = []
    for raw in data["items"]:
        try:
            T = raw.get("T")
            extras = raw.get("extras") or {}
            entries.append(SessionEntry(Path(str(raw["path"])), None if T is None else clamp_T(float(T)),
                                        dict(extras) if isinstance(extras, dict) else {}))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("session: skipping a malformed entry %r (%s)", raw, exc)
    current = data.get("current", -1)
    current = current if isinstance(current, int) and 0 <= current < len(entries) else -1
    return Session(entries, current)


def save(session: Session, path: Optional[Path] = None) -> Path:
    """Write the session atomically (an empty session is written too: the user cleared the queue)."""
    path = Path(path) if path is not None else session_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, json.dumps(to_json(session), indent=1).encode("utf-8"))


def load(path: Optional[Path] = None) -> Tuple[Session, str]:
    """(the saved session, "") — or (an empty session, why it could not be read); no file: empty, no problem."""
    path = Path(path) if path is not None else session_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Session(), ""
    except OSError as exc:
        return Session(), f"{path}: the last session could not be read ({exc.strerror or exc})"
    try:
        return from_json(json.loads(raw.decode("utf-8"))), ""
    except (UnicodeDecodeError, ValueError) as exc:
        return Session(), f"{path}: the last session could not be read ({exc})"
