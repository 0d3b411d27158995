"""Exceptions shared by every layer. Messages are written for users: they name the file and the reason."""

from __future__ import annotations


class PolychromeError(Exception):
    """Base class for every error Polychrome reports to a user."""


class ImageReadError(PolychromeError):
    """An input image could not be read (missing, empty, truncated, not an image, too large, too small)."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageWriteError(PolychromeError):
    """An output image could not be written."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelError(PolychromeError):
    """A model file is missing, unreadable or breaks the model contract."""


def one_line(exc: BaseException) -> str:
    """A short, single-line description of an exception (its text, or its type name when it has none)."""
    text = " ".join(str(exc).split())
    if not text:
        text = type(exc).__name__
    return text[:200]


def user_message(exc: BaseException) -> str:
    """The one-line reason shown to a user for a failure of one file or one job.

    Read and write errors give their reason (the caller names the file), other Polychrome errors their message,
    MemoryError says so, and anything unexpected names its type so a bug report can be traced.
    """
    if isinstance(exc, (ImageReadError, ImageWriteError)):
        return exc.reason
    if isinstance(exc, PolychromeError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory for this image"
    return f"unexpected error: {type(exc).__name__}: {exc}"
