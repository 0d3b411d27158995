"""The app's log file: ``polychrome.log`` in the user log folder (``platformdirs.user_log_dir("polychrome")``), or
in ``$POLYCHROME_LOG_DIR`` when set (tests, portable installs), rotating at 1 MB with three old files kept.

:func:`install` adds the file to the root logger once (the GUI calls it at start); the About box and the error
dialogs name the file (:func:`log_file_path`), so a user can attach it to a bug report.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import Optional

ENV = "POLYCHROME_LOG_DIR"
LOG_NAME = "polychrome.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"

_handler: Optional[logging.handlers.RotatingFileHandler] = None


def log_dir() -> Path:
    """``$POLYCHROME_LOG_DIR`` if set, else the platform's user log folder for Polychrome."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_log_dir("polychrome", appauthor=False))


def log_file_path() -> Path:
    """Where the app writes its log (the file may not exist yet)."""
    return log_dir() / LOG_NAME


def install(level: int = logging.INFO, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> Optional[Path]:
    """Log to the rotating file (once per process; again after :func:`uninstall`). Returns the file, or None when
    the folder cannot be created or written (the app then runs without a log file and says so on stderr)."""
    global _handler
    if _handler is not None:
        return Path(_handler.baseFilename)
    path = log_file_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                       encoding="utf-8", delay=False)
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file: %s: %s", path, exc)
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    _handler = handler
    return path


def uninstall() -> None:
    """Stop logging to the file (tests)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None


def where_text() -> str:
    """One line for dialogs: where the log file is."""
    return f"The log file is {log_file_path()}"
