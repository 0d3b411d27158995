"""Constants, the public ImageData type and small helpers shared by the imageio modules."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import ImageCms

DEFAULT_MAX_PIXELS = 200_000_000
"""Images with more pixels than this are refused before decoding (decompression-bomb guard)."""

MIN_SIDE = 8
"""Images narrower or lower than this are refused."""

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
"""File extensions :func:`read_image` accepts (compared case-insensitively)."""

WRITE_EXTENSIONS: dict[str, str] = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG"}
"""File extensions :func:`write_image` understands, and the format each one selects."""

FORMAT_ALIASES = {"PNG": "PNG", "TIFF": "TIFF", "TIF": "TIFF", "JPEG": "JPEG", "JPG": "JPEG"}

# EXIF orientation is tag 0x0112; pointer tags lead to the EXIF, GPS and Interoperability sub-IFDs.
TAG_ORIENTATION = 274
TAG_EXIF_IFD = 34665
TAG_GPS_IFD = 34853
TAG_INTEROP_IFD = 40965
POINTER_TAGS = (TAG_EXIF_IFD, TAG_GPS_IFD, TAG_INTEROP_IFD)
TAG_ICC = 34675

# IFD0 tags that are descriptive metadata rather than image structure: these travel between an EXIF block and the
# first IFD of a TIFF file (ImageDescription, Make, Model, Orientation, X/YResolution, ResolutionUnit, Software,
# DateTime, Artist, WhitePoint, PrimaryChromaticities, Copyright, Rating, RatingPercent, XPTitle..XPSubject).
DESCRIPTIVE_IFD0_TAGS = frozenset(
    {270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 318, 319, 33432, 18246, 18249, 40091, 40092, 40093, 40094, 40095}
)

# Bytes per value for each TIFF field type, and the size of the unit that byte order applies to.
TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
TYPE_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 1, 7: 1, 8: 2, 9: 4, 10: 4, 11: 4, 12: 8, 13: 4}
MAX_TAG_BYTES = 16 << 20  # larger single tag values are ignored when parsing EXIF
MAX_JPEG_EXIF = 65533  # an APP1 segment holds at most 65535 bytes including its 2-byte length



# ----------------------------------------------------------------------------------------------------------------
# Public data type
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class ImageData:
    """A decoded image, upright and ready for processing.

    ``pixels`` is ``(H, W)`` (gray) or ``(H, W, 3)`` (RGB), ``uint8`` or ``uint16``, C-contiguous. ``bit_depth`` is 8
    for ``uint8`` pixels and 16 for ``uint16`` pixels (1/2/4-bit sources become 8, float sources 16).

    ``icc`` is the embedded profile exactly as stored. Note that CMYK sources are converted to RGB (through their
    profile when they carry one), so ``icc_colorspace == "CMYK"`` then describes the source, not ``pixels``; likewise
    a ``"GRAY"`` profile does not fit an RGB output. ``exif`` is the raw EXIF block (``b"Exif\\0\\0"`` + TIFF
    structure, as Pillow's ``info["exif"]``) with its orientation tag set to 1.
    """

    pixels: np.ndarray
    bit_depth: int
    is_gray: bool
    format: str
    path: Path | None = None
    exif: bytes | None = None
    icc: bytes | None = None
    has_alpha: bool = False

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def icc_colorspace(self) -> str | None:
        """Colour space of the ICC profile ('GRAY', 'RGB', 'CMYK', ...) from header bytes 16..20, or None."""
        return icc_colorspace(self.icc)

    @property
    def info(self) -> ImageInfo:
        """Everything but the pixels: what an output written from this image later needs to know."""
        return ImageInfo(self.path, self.format, self.bit_depth, self.is_gray, self.exif, self.icc, self.has_alpha)


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`read_image` learnt about an image besides its pixels (see :class:`ImageData`): enough to write
    an output derived from it (format, bit depth, EXIF, ICC) without reading the file again."""

    path: Path | None
    format: str
    bit_depth: int
    is_gray: bool
    exif: bytes | None = None
    icc: bytes | None = None
    has_alpha: bool = False

    @property
    def icc_colorspace(self) -> str | None:
        """Colour space of the ICC profile ('GRAY', 'RGB', 'CMYK', ...), or None."""
        return icc_colorspace(self.icc)


def icc_colorspace(icc: bytes | None) -> str | None:
    """Colour space signature of an ICC profile (header bytes 16..20, stripped), or None if there is none."""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20].decode("latin-1").strip() or None


def is_supported(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` has an extension :func:`read_image` accepts (case-insensitive)."""
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


@functools.lru_cache(maxsize=1)
def srgb_icc_profile() -> bytes:
    """An sRGB ICC profile (littleCMS's built-in sRGB, via Pillow), built once and cached."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ----------------------------------------------------------------------------------------------------------------
# Internal errors and helpers
# ----------------------------------------------------------------------------------------------------------------


class Unreadable(Exception):
    """Raised inside this module with a user-facing reason; turned into ImageReadError(path, reason)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def truncated(detail: str) -> Unreadable:
    return Unreadable(f"file is truncated or corrupt: {detail}")


class Reader:
    """Random access to an open file, returning short reads at the end instead of failing."""

    def __init__(self, f: BinaryIO, size: int):
        self.f = f
        self.size = size

    def read_at(self, offset: int, n: int) -> bytes:
        if offset < 0 or offset >= self.size or n <= 0:
            return b""
        self.f.seek(offset)
        return self.f.read(n)


def row_blocks(height: int, width: int) -> Iterable[slice]:
    """Row ranges of about a million pixels, to bound the temporary memory of per-pixel arithmetic."""
    rows = max(1, (1 << 20) // max(1, width))
    return (slice(y, min(y + rows, height)) for y in range(0, height, rows))

