"""Safe file writing: temp file in the target folder, fsync, atomic rename; never a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Union

from .errors import ImageWriteError


def write_reason(exc: BaseException, path: Path) -> str:
    """A short user-facing reason for a failed write."""
    if isinstance(exc, FileNotFoundError):
        return "cannot write: folder does not exist"
    if isinstance(exc, PermissionError):
        return "cannot write: permission denied"
    if isinstance(exc, NotADirectoryError):
        return f"cannot write: {path.parent} is not a folder"
    if isinstance(exc, IsADirectoryError):
        return "cannot write: a folder has this name"
    if isinstance(exc, OSError) and exc.errno == 28:
        return "cannot write: disk full"
    if isinstance(exc, OSError):
        return f"cannot write: {exc.strerror or exc}"
    return f"cannot write: {exc}"


def atomic_write(path: Union[str, Path], writer: Callable[[str], None], overwrite: bool = True) -> Path:
    """Call ``writer(tmp_path)`` to produce the file, then rename it onto ``path`` atomically."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ImageWriteError(path, "file exists; not overwritten")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        return path
    except ImageWriteError:
        raise
    except (OSError, ValueError) as exc:
        raise ImageWriteError(path, write_reason(exc, path)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def atomic_write_bytes(path: Union[str, Path], data: bytes, overwrite: bool = True) -> Path:
    def w(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return atomic_write(path, w, overwrite=overwrite)
