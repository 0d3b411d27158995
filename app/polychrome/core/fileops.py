"""Safe file creation: atomic writes (temp file beside the target, fsync, rename) and free output names.

Every file Polychrome produces goes through :func:`atomic_write`, so nothing half-written is ever left and an
existing file is replaced only when asked to. Failures are reported as :class:`~polychrome.core.errors.ImageWriteError`
with a one-line reason.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from polychrome.core.errors import ImageWriteError, one_line
from polychrome.core.progress import Cancelled

__all__ = ["atomic_write", "atomic_write_bytes", "unique_path"]


def unique_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if nothing exists there, else the first free ``name (2).ext``, ``name (3).ext``, ...

    This is a convenience for choosing output names; :func:`write_image` (with ``overwrite=False``) is what
    guarantees that an existing file is never replaced, even if another process takes the name in between.
    """
    p = Path(path)
    if not os.path.lexists(p):
        return p
    n = 2
    while True:
        candidate = p.with_name(f"{p.stem} ({n}){p.suffix}")
        if not os.path.lexists(candidate):
            return candidate
        n += 1


# ----------------------------------------------------------------------------------------------------------------
# Checks before writing
# ----------------------------------------------------------------------------------------------------------------


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        pass
    try:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))
    except (OSError, ValueError):
        return False


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (missing, not a folder), or None if it is a folder."""
    try:
        st = os.stat(folder)
    except (FileNotFoundError, NotADirectoryError):
        for ancestor in folder.parents:
            if os.path.isdir(ancestor):
                break
            if os.path.exists(ancestor):
                return f"cannot write: {ancestor} is not a folder"
        return f"cannot write: folder does not exist ({folder})"
    except PermissionError:
        return "cannot write: permission denied"
    except OSError as exc:
        return f"cannot write: {exc.strerror or one_line(exc)}"
    if not stat.S_ISDIR(st.st_mode):
        return f"cannot write: {folder} is not a folder"
    return None


def _os_write_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "cannot write: permission denied"
    reasons = {
        errno.ENOSPC: "cannot write: the disk is full",
        errno.EROFS: "cannot write: the file system is read-only",
        errno.ENAMETOOLONG: "cannot write: the file name is too long",
        errno.ENOENT: "cannot write: folder does not exist",
        errno.ENOTDIR: "cannot write: a part of the path is not a folder",
        errno.EISDIR: "cannot write: a folder with this name exists",
    }
    if getattr(errno, "EDQUOT", None) is not None:
        reasons[errno.EDQUOT] = "cannot write: disk quota exceeded"
    return reasons.get(exc.errno or 0, f"cannot write: {exc.strerror or one_line(exc)}")


NAME_MAX = 255  # bytes in one file name on the common file systems (ext4, APFS, NTFS counts UTF-16 units)
_TEMP_EXTRA = len(".") + len(".01234567.tmp")


def temp_name(name: str, token: str) -> str:
    """``.<name>.<token>.tmp``, with ``name`` cut (at a character boundary) so the temp name is never longer than
    :data:`NAME_MAX` bytes: a legal output name never fails because of its temp file."""
    room = NAME_MAX - _TEMP_EXTRA
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > room:
        name = encoded[:room].decode("utf-8", "ignore")
    return f".{name}.{token}.tmp"


def _create_temp(target: Path) -> tuple[BinaryIO, Path]:
    """Create and open ``.<name>.<random>.tmp`` next to ``target`` (exclusive creation; mode 0666 minus umask)."""
    for _ in range(100):
        tmp = target.with_name(temp_name(target.name, secrets.token_hex(4)))
        try:
            return open(tmp, "x+b"), tmp  # noqa: SIM115 -- closed by the caller
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not create a unique temporary file")


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp: Path, target: Path, overwrite: bool) -> None:
    """Move the finished temporary file to ``target``; without ``overwrite`` an existing file is never replaced."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic "create only if absent"
    except FileExistsError:
        raise ImageWriteError(target, "file exists; not overwritten") from None
    except OSError:
        # The file system has no hard links (FAT, some network shares): check, then rename.
        if os.path.lexists(target):
            raise ImageWriteError(target, "file exists; not overwritten") from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def _atomic_write(target: Path, write: Callable[[BinaryIO], None], overwrite: bool) -> None:
    tmp: Path | None = None
    try:
        f, tmp = _create_temp(target)
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, target, overwrite)
        if not os.path.lexists(tmp):
            tmp = None
        _fsync_folder(target.parent)
    except (ImageWriteError, Cancelled):  # a cancelled write is no failure of the file: the temp file goes
        raise
    except OSError as exc:
        raise ImageWriteError(target, _os_write_reason(exc)) from exc
    except MemoryError:
        raise ImageWriteError(target, "not enough memory to encode the image") from None
    except Exception as exc:  # noqa: BLE001 -- encoder failures are reported as ImageWriteError
        raise ImageWriteError(target, f"cannot encode image: {one_line(exc)}") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], None], overwrite: bool = True
) -> Path:
    """Produce a file atomically: ``write(fileobj)`` fills a temp file beside ``path``, which is fsynced and renamed
    into place. Nothing half-written is ever left; OS errors become ImageWriteError with a one-line reason."""
    target = Path(path)
    _atomic_write(target, write, overwrite)
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename); errors become ImageWriteError."""
    def write(f: BinaryIO) -> None:
        f.write(data)

    return atomic_write(path, write, overwrite)

