"""Reading and writing image files safely: pixels, bit depth and metadata.

Everything Polychrome reads or writes goes through this module, so the rest of the code only ever sees:

* upright pixels (the EXIF orientation is applied here, for every format),
* ``uint8`` or ``uint16`` arrays shaped ``(H, W)`` for gray or ``(H, W, 3)`` for RGB -- alpha is composited on white,
  palettes are expanded, CMYK is converted to RGB, 1/2/4-bit data is scaled to 8 bits and float data to 16 bits,
* the metadata worth carrying over to an output: the ICC profile (verbatim) and the raw EXIF block (with its
  orientation tag reset to 1, because the pixels are already upright).

Decoders: PNG pixels come from OpenCV (Pillow would reduce 16-bit RGB to 8 bits), TIFF pixels from tifffile (with
OpenCV and Pillow as fall-backs for compressions tifffile cannot decode without ``imagecodecs``), WebP pixels from
OpenCV, JPEG and BMP pixels from Pillow. Headers (size, format, orientation) are parsed here, before anything is
decoded, so a decompression bomb or a hostile header is refused without allocating memory. Every failure while
reading is reported as :class:`~polychrome.core.errors.ImageReadError` with a one-line reason; nothing else escapes
:func:`read_image`. Nothing here changes process-wide state (Pillow's ``MAX_IMAGE_PIXELS`` is neither read nor set:
Pillow's format plugins are instantiated directly, after our own per-call size check), so it is safe in threads.

Writers: PNG (8/16-bit, OpenCV plus our own iCCP/eXIf chunks), TIFF (8/16-bit, tifffile, deflate; EXIF IFD0 tags
and the EXIF/GPS sub-IFDs are added by patching the file's first IFD) and JPEG (8-bit, Pillow). Writes are atomic
(temporary file in the target folder, fsync, rename), never replace an existing file unless asked to, and never
replace a protected (input) file at all. Failures are reported as :class:`~polychrome.core.errors.ImageWriteError`.

This module must stay free of Qt, onnxruntime and torch: it depends on numpy, OpenCV, Pillow and tifffile only.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import secrets
import stat
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import BmpImagePlugin, Image, ImageCms, JpegImagePlugin, TiffImagePlugin, WebPImagePlugin

from polychrome.core.errors import ImageReadError, ImageWriteError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MIN_SIDE",
    "SUPPORTED_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "ImageData",
    "is_supported",
    "probe_image",
    "read_image",
    "srgb_icc_profile",
    "unique_path",
    "write_image",
]

DEFAULT_MAX_PIXELS = 200_000_000
"""Images with more pixels than this are refused before decoding (decompression-bomb guard)."""

MIN_SIDE = 8
"""Images narrower or lower than this are refused."""

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
"""File extensions :func:`read_image` accepts (compared case-insensitively)."""

WRITE_EXTENSIONS: dict[str, str] = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG"}
"""File extensions :func:`write_image` understands, and the format each one selects."""

_FORMAT_ALIASES = {"PNG": "PNG", "TIFF": "TIFF", "TIF": "TIFF", "JPEG": "JPEG", "JPG": "JPEG"}

# EXIF orientation is tag 0x0112; pointer tags lead to the EXIF, GPS and Interoperability sub-IFDs.
_TAG_ORIENTATION = 274
_TAG_EXIF_IFD = 34665
_TAG_GPS_IFD = 34853
_TAG_INTEROP_IFD = 40965
_POINTER_TAGS = (_TAG_EXIF_IFD, _TAG_GPS_IFD, _TAG_INTEROP_IFD)
_TAG_ICC = 34675

# IFD0 tags that are descriptive metadata rather than image structure: these travel between an EXIF block and the
# first IFD of a TIFF file (ImageDescription, Make, Model, Orientation, X/YResolution, ResolutionUnit, Software,
# DateTime, Artist, WhitePoint, PrimaryChromaticities, Copyright, Rating, RatingPercent, XPTitle..XPSubject).
_DESCRIPTIVE_IFD0_TAGS = frozenset(
    {270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 318, 319, 33432, 18246, 18249, 40091, 40092, 40093, 40094, 40095}
)

# Bytes per value for each TIFF field type, and the size of the unit that byte order applies to.
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TYPE_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 1, 7: 1, 8: 2, 9: 4, 10: 4, 11: 4, 12: 8, 13: 4}
_MAX_TAG_BYTES = 16 << 20  # larger single tag values are ignored when parsing EXIF
_MAX_JPEG_EXIF = 65533  # an APP1 segment holds at most 65535 bytes including its 2-byte length

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


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
# Internal errors
# ----------------------------------------------------------------------------------------------------------------


class _Unreadable(Exception):
    """Raised inside this module with a user-facing reason; turned into ImageReadError(path, reason)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _truncated(detail: str) -> _Unreadable:
    return _Unreadable(f"file is truncated or corrupt: {detail}")


def _one_line(exc: BaseException) -> str:
    """A short, single-line description of an exception from a decoder."""
    text = " ".join(str(exc).split())
    if not text:
        text = type(exc).__name__
    return text[:200]


# ----------------------------------------------------------------------------------------------------------------
# Tiny TIFF-structure (EXIF) reader and writer
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One IFD entry with its value bytes already converted to little-endian."""

    tag: int
    type: int
    count: int
    data: bytes


@dataclass
class _Ifd:
    """An IFD: plain entries plus parsed sub-IFDs (keyed by their pointer tag)."""

    entries: dict[int, _Entry] = field(default_factory=dict)
    subs: dict[int, _Ifd] = field(default_factory=dict)


ReadAt = Callable[[int, int], bytes]


def _to_little_endian(data: bytes, typ: int, byteorder: str) -> bytes:
    unit = _TYPE_UNIT[typ]
    if byteorder == "<" or unit == 1:
        return data
    return np.frombuffer(data, dtype=f">u{unit}").astype(f"<u{unit}").tobytes()


def _parse_ifd(read_at: ReadAt, bo: str, offset: int, depth: int = 0, seen: set[int] | None = None) -> tuple[_Ifd, int]:
    """Parse the classic-TIFF IFD at ``offset``; returns it and the offset of the next IFD (0 if none).

    ``read_at(offset, n)`` returns up to n bytes at an offset relative to the TIFF header. Malformed entries are
    skipped; a malformed IFD header raises ValueError. Sub-IFDs (EXIF, GPS, Interop) are followed recursively.
    """
    seen = set() if seen is None else seen
    seen.add(offset)
    head = read_at(offset, 2)
    if len(head) < 2:
        raise ValueError("IFD offset out of range")
    (n,) = struct.unpack(bo + "H", head)
    raw = read_at(offset + 2, 12 * n + 4)
    if len(raw) < 12 * n:
        raise ValueError("IFD is cut off")
    ifd = _Ifd()
    for i in range(n):
        tag, typ, count = struct.unpack(bo + "HHI", raw[12 * i : 12 * i + 8])
        size = _TYPE_SIZE.get(typ)
        if size is None or count == 0:
            continue
        nbytes = size * count
        if nbytes > _MAX_TAG_BYTES:
            continue
        field_bytes = raw[12 * i + 8 : 12 * i + 12]
        if nbytes <= 4:
            data = field_bytes[:nbytes]
        else:
            (value_offset,) = struct.unpack(bo + "I", field_bytes)
            data = read_at(value_offset, nbytes)
            if len(data) < nbytes:
                continue
        if tag in _POINTER_TAGS:
            if depth < 3 and count == 1 and typ in (4, 13):
                (sub_offset,) = struct.unpack(bo + "I", field_bytes)
                if sub_offset and sub_offset not in seen:
                    try:
                        ifd.subs[tag], _ = _parse_ifd(read_at, bo, sub_offset, depth + 1, seen)
                    except (ValueError, struct.error):
                        pass
            continue
        ifd.entries[tag] = _Entry(tag, typ, count, _to_little_endian(data, typ, bo))
    next_offset = struct.unpack(bo + "I", raw[12 * n : 12 * n + 4])[0] if len(raw) >= 12 * n + 4 else 0
    return ifd, next_offset


def _serialize_ifd(ifd: _Ifd, start: int) -> bytes:
    """Little-endian bytes of ``ifd`` (next-IFD offset 0), its value data and its sub-IFDs, placed at ``start``.

    Offsets are absolute (relative to the TIFF header), so ``start`` must be the position the bytes will occupy.
    """
    tags = sorted(set(ifd.entries) | set(ifd.subs))
    ifd_size = 2 + 12 * len(tags) + 4
    data = bytearray()
    fields: dict[int, bytes] = {}
    for tag in tags:
        entry = ifd.entries.get(tag)
        if entry is None:
            continue
        if len(entry.data) <= 4:
            fields[tag] = struct.pack("<HHI", tag, entry.type, entry.count) + entry.data.ljust(4, b"\0")
        else:
            fields[tag] = struct.pack("<HHII", tag, entry.type, entry.count, start + ifd_size + len(data))
            data += entry.data
            if len(data) % 2:
                data += b"\0"
    for tag in tags:
        sub = ifd.subs.get(tag)
        if sub is None:
            continue
        sub_start = start + ifd_size + len(data)
        fields[tag] = struct.pack("<HHII", tag, 4, 1, sub_start)
        data += _serialize_ifd(sub, sub_start)
        if len(data) % 2:
            data += b"\0"
    body = b"".join(fields[t] for t in tags)
    return struct.pack("<H", len(tags)) + body + struct.pack("<I", 0) + bytes(data)


def _exif_tiff_part(exif: bytes) -> bytes | None:
    """The TIFF structure inside an EXIF block (with or without the ``Exif\\0\\0`` prefix), or None if invalid."""
    body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    if len(body) < 8 or body[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    return body


def _normalize_exif(exif: bytes | None) -> bytes | None:
    """EXIF bytes with the ``Exif\\0\\0`` prefix, or None if they are not a TIFF structure."""
    if not exif:
        return None
    body = _exif_tiff_part(exif)
    return None if body is None else b"Exif\x00\x00" + body


def _ifd0_offset(body: bytes | bytearray) -> tuple[str, int]:
    bo = "<" if body[:2] == b"II" else ">"
    return bo, struct.unpack(bo + "I", body[4:8])[0]


def _parse_exif(exif: bytes) -> tuple[_Ifd, int] | None:
    """Parse an EXIF block's IFD0 (and sub-IFDs); None if it is not valid."""
    body = _exif_tiff_part(exif)
    if body is None:
        return None
    bo, off = _ifd0_offset(body)
    try:
        return _parse_ifd(lambda o, n: body[o : o + n] if o >= 0 else b"", bo, off)
    except (ValueError, struct.error):
        return None


def _find_ifd0_entry(body: bytes | bytearray, tag: int) -> tuple[str, int, int] | None:
    """(byte order, entry position, type) of ``tag`` in IFD0 of a TIFF structure, or None."""
    bo, off = _ifd0_offset(body)
    if off + 2 > len(body):
        return None
    (n,) = struct.unpack(bo + "H", body[off : off + 2])
    for i in range(n):
        pos = off + 2 + 12 * i
        if pos + 12 > len(body):
            return None
        t, typ = struct.unpack(bo + "HH", body[pos : pos + 4])
        if t == tag:
            return bo, pos, typ
    return None


def _exif_orientation(exif: bytes | None) -> int:
    """The EXIF orientation (1..8), 1 if absent or invalid."""
    body = _exif_tiff_part(exif) if exif else None
    if body is None:
        return 1
    try:
        found = _find_ifd0_entry(body, _TAG_ORIENTATION)
        if found is None:
            return 1
        bo, pos, typ = found
        if typ == 3:
            value = struct.unpack(bo + "H", body[pos + 8 : pos + 10])[0]
        elif typ == 4:
            value = struct.unpack(bo + "I", body[pos + 8 : pos + 12])[0]
        else:
            return 1
    except struct.error:
        return 1
    return value if 1 <= value <= 8 else 1


def _patch_orientation_1(tiff: bytearray) -> bool:
    """Set IFD0's orientation to 1 in a TIFF structure, in place (nothing moves); False if it has none."""
    try:
        found = _find_ifd0_entry(tiff, _TAG_ORIENTATION)
    except struct.error:
        return False
    if found is None:
        return False
    bo, pos, typ = found
    if typ == 3:
        tiff[pos + 4 : pos + 12] = struct.pack(bo + "IHH", 1, 1, 0)
    elif typ == 4:
        tiff[pos + 4 : pos + 12] = struct.pack(bo + "II", 1, 1)
    else:
        return False
    return True


def _exif_with_orientation_1(exif: bytes) -> bytes:
    """``exif`` with the orientation value patched to 1 in place (nothing else moves)."""
    body = _exif_tiff_part(exif)
    if body is None:
        return exif
    patched = bytearray(body)
    return b"Exif\x00\x00" + bytes(patched) if _patch_orientation_1(patched) else exif


def _exif_without_thumbnail(exif: bytes) -> bytes:
    """``exif`` with IFD0's link to IFD1 (the embedded thumbnail) cleared in place.

    The thumbnail shows the old pixels, so it must not travel to an output; unlinking (rather than rebuilding the
    block) keeps every other offset valid, including those inside maker notes.
    """
    body = _exif_tiff_part(exif)
    if body is None:
        return exif
    bo, off = _ifd0_offset(body)
    if off + 2 > len(body):
        return exif
    (n,) = struct.unpack(bo + "H", body[off : off + 2])
    link = off + 2 + 12 * n
    if link + 4 > len(body) or body[link : link + 4] == b"\0\0\0\0":
        return b"Exif\x00\x00" + body
    patched = bytearray(body)
    patched[link : link + 4] = b"\0\0\0\0"
    return b"Exif\x00\x00" + bytes(patched)


def _exif_from_ifd(ifd0: _Ifd) -> bytes:
    """A compact little-endian EXIF block holding ``ifd0`` (and its sub-IFDs)."""
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + _serialize_ifd(ifd0, 8)


# ----------------------------------------------------------------------------------------------------------------
# Header probing (no pixel decoding)
# ----------------------------------------------------------------------------------------------------------------


class _Reader:
    """Random access to an open file, returning short reads at the end instead of failing."""

    def __init__(self, f: BinaryIO, size: int):
        self.f = f
        self.size = size

    def read_at(self, offset: int, n: int) -> bytes:
        if offset < 0 or offset >= self.size or n <= 0:
            return b""
        self.f.seek(offset)
        return self.f.read(n)


@dataclass
class _Header:
    format: str
    width: int
    height: int
    orientation: int = 1


def _sniff_format(head: bytes) -> str:
    """The format of a file from its first bytes, or raise _Unreadable naming what it looks like instead."""
    if head.startswith(_PNG_SIGNATURE):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] in _TIFF_MAGICS:
        return "TIFF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM") and len(head) >= 18:
        (dib,) = struct.unpack("<I", head[14:18])
        if dib in (12, 16, 40, 52, 56, 64, 108, 124):
            return "BMP"
    raise _Unreadable(f"not a supported image ({_describe_content(head)})")


def _describe_content(head: bytes) -> str:
    known = [
        (b"GIF8", "it is a GIF file"),
        (b"%PDF", "it is a PDF document"),
        (b"PK\x03\x04", "it is a ZIP archive"),
        (b"8BPS", "it is a Photoshop document"),
        (b"\x00\x00\x00\x0cjP  ", "it is a JPEG 2000 file"),
        (b"\xff\x4f\xff\x51", "it is a JPEG 2000 codestream"),
        (b"\x00\x00\x01\x00", "it is an ICO file"),
    ]
    for magic, text in known:
        if head.startswith(magic):
            return text
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "it is an AVIF file"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "it is a HEIC/HEIF file"
        return "it is a video or ISO media file"
    if head.startswith(b"RIFF"):
        return "it is a RIFF file but not WebP"
    sample = head[:64]
    if sample and all(b in b"\t\n\r\x0c" or 32 <= b < 127 or b >= 0x80 for b in sample):
        try:
            sample.decode("utf-8")
            return "the file contains text"
        except UnicodeDecodeError:
            pass
    return "unrecognised content starting with " + sample[:8].hex(" ")


def _probe_png(r: _Reader) -> _Header:
    head = r.read_at(0, 33)
    if len(head) < 33:
        raise _truncated("the PNG header is incomplete")
    if head[12:16] != b"IHDR":
        raise _truncated("the PNG file does not start with an IHDR chunk")
    width, height = struct.unpack(">II", head[16:24])
    # Find an eXIf chunk for the orientation by hopping over chunk headers (no data is read or decoded).
    orientation = 1
    pos = 8
    while pos + 8 <= r.size:
        length, ctype = struct.unpack(">I4s", r.read_at(pos, 8))
        if ctype == b"eXIf":
            orientation = _exif_orientation(r.read_at(pos + 8, min(length, _MAX_TAG_BYTES)))
            break
        if ctype == b"IEND":
            break
        pos += 12 + length
    return _Header("PNG", width, height, orientation)


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _probe_jpeg(r: _Reader) -> _Header:
    pos = 2
    orientation = 1
    while True:
        b = r.read_at(pos, 2)
        if len(b) < 2:
            raise _truncated("the JPEG file ends before its frame header")
        if b[0] != 0xFF:
            raise _truncated(f"bad JPEG marker at byte {pos}")
        marker = b[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            raise _truncated("the JPEG file has no frame header")
        seg = r.read_at(pos + 2, 2)
        if len(seg) < 2:
            raise _truncated("the JPEG file ends inside a marker segment")
        (length,) = struct.unpack(">H", seg)
        if length < 2:
            raise _truncated(f"bad JPEG segment length at byte {pos}")
        if marker in _SOF_MARKERS:
            sof = r.read_at(pos + 4, 5)
            if len(sof) < 5:
                raise _truncated("the JPEG frame header is incomplete")
            height, width = struct.unpack(">HH", sof[1:5])
            if height == 0:
                raise _Unreadable("unsupported JPEG (its height is only given after the image data)")
            return _Header("JPEG", width, height, orientation)
        if marker == 0xE1 and orientation == 1:
            payload = r.read_at(pos + 4, length - 2)
            if payload.startswith(b"Exif\x00\x00"):
                orientation = _exif_orientation(payload)
        pos += 2 + length


def _probe_bmp(r: _Reader) -> _Header:
    head = r.read_at(0, 26)
    if len(head) < 26:
        raise _truncated("the BMP header is incomplete")
    (dib,) = struct.unpack("<I", head[14:18])
    if dib == 12:
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    return _Header("BMP", abs(width), abs(height))


def _probe_webp(r: _Reader) -> _Header:
    head = r.read_at(0, 30)
    if len(head) < 30:
        raise _truncated("the WebP header is incomplete")
    kind = head[12:16]
    orientation = 1
    if kind == b"VP8 ":
        if head[23:26] != b"\x9d\x01\x2a":
            raise _truncated("bad VP8 frame header")
        width, height = (v & 0x3FFF for v in struct.unpack("<HH", head[26:30]))
    elif kind == b"VP8L":
        if head[20] != 0x2F:
            raise _truncated("bad VP8L header")
        (bits,) = struct.unpack("<I", head[21:25])
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif kind == b"VP8X":
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
        if head[20] & 0x08:  # has an EXIF chunk: walk the RIFF chunks to it
            pos = 12
            while pos + 8 <= r.size:
                ctype, length = struct.unpack("<4sI", r.read_at(pos, 8))
                if ctype == b"EXIF":
                    orientation = _exif_orientation(r.read_at(pos + 8, min(length, _MAX_TAG_BYTES)))
                    break
                pos += 8 + length + (length & 1)
    else:
        raise _truncated(f"unknown WebP chunk {kind!r}")
    return _Header("WEBP", width, height, orientation)


def _first_page(tf: tifffile.TiffFile) -> tifffile.TiffPage:
    page = tf.pages[0]
    if not isinstance(page, tifffile.TiffPage):
        raise _truncated("the TIFF file has no readable first page")
    return page


def _probe_tiff(r: _Reader) -> _Header:
    r.f.seek(0)
    with tifffile.TiffFile(r.f) as tf:
        page = _first_page(tf)
        width, height = int(page.imagewidth), int(page.imagelength)
        orientation = page.tags.valueof(_TAG_ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return _Header("TIFF", width, height, orientation)


_PROBES = {"PNG": _probe_png, "JPEG": _probe_jpeg, "BMP": _probe_bmp, "WEBP": _probe_webp, "TIFF": _probe_tiff}


def _stat_input(path: Path) -> int:
    """Check that ``path`` is a non-empty regular file; returns its size."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise _Unreadable("file not found") from None
    except PermissionError:
        raise _Unreadable("permission denied") from None
    except OSError as exc:
        raise _Unreadable(f"cannot open file: {exc.strerror or _one_line(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise _Unreadable("is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise _Unreadable("not a regular file")
    if st.st_size == 0:
        raise _Unreadable("file is empty (0 bytes)")
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        shown = f"'{path.suffix}'" if path.suffix else "(no extension)"
        raise _Unreadable(f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    return st.st_size


def _read_header(path: Path) -> tuple[_Header, int]:
    size = _stat_input(path)
    try:
        with open(path, "rb") as f:
            fmt = _sniff_format(f.read(32))
            header = _PROBES[fmt](_Reader(f, size))
    except PermissionError:
        raise _Unreadable("permission denied") from None
    except _Unreadable:
        raise
    except (OSError, ValueError, struct.error, EOFError, IndexError, tifffile.TiffFileError) as exc:
        raise _truncated(_one_line(exc)) from exc
    return header, size


def probe_image(path: str | os.PathLike[str]) -> tuple[int, int, str]:
    """(width, height, format) of an image from its header only -- no pixel data is decoded.

    Width and height are those of the upright image (swapped when the EXIF orientation is a 90° rotation), i.e.
    what :func:`read_image` would return. Raises ImageReadError if the file is missing or not a supported image.
    """
    p = Path(path)
    try:
        header, _ = _read_header(p)
    except _Unreadable as exc:
        raise ImageReadError(p, exc.reason) from None
    except MemoryError:
        raise ImageReadError(p, "not enough memory to read the image header") from None
    except Exception as exc:  # noqa: BLE001 -- the contract is that only ImageReadError escapes
        raise ImageReadError(p, f"cannot read image header: {_one_line(exc)}") from exc
    if header.orientation >= 5:
        return header.height, header.width, header.format
    return header.width, header.height, header.format


# ----------------------------------------------------------------------------------------------------------------
# Pixel helpers
# ----------------------------------------------------------------------------------------------------------------


def _row_blocks(height: int, width: int) -> Iterable[slice]:
    """Row ranges of about a million pixels, to bound the temporary memory of per-pixel arithmetic."""
    rows = max(1, (1 << 20) // max(1, width))
    return (slice(y, min(y + rows, height)) for y in range(0, height, rows))


def _composite_on_white(color: np.ndarray, alpha: np.ndarray, premultiplied: bool) -> np.ndarray:
    """Flatten colour (H, W[, C]) with alpha (H, W) onto white, in the colour's dtype, rounding to nearest.

    uint32 arithmetic is exact for both depths: at most 65535 * 65535 + 32767 < 2**32.
    """
    maxval = np.uint32(255 if color.dtype == np.uint8 else 65535)
    out = np.empty(color.shape, color.dtype)
    for rows in _row_blocks(color.shape[0], color.shape[1]):
        a = alpha[rows].astype(np.uint32)
        if color.ndim == 3:
            a = a[..., None]
        c = color[rows].astype(np.uint32)
        if premultiplied:
            out[rows] = np.minimum(c + (maxval - np.minimum(a, maxval)), maxval)
        else:
            out[rows] = (c * a + maxval * (maxval - a) + maxval // 2) // maxval
    return out


def _float_to_uint16(a: np.ndarray) -> np.ndarray:
    """Scale float samples to uint16: 0..1 data maps to 0..65535; data beyond 1 is taken as 0..255, 0..65535 or
    0..max, whichever range first contains it. NaN and negative values become 0."""
    a = np.nan_to_num(a.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    hi = float(a.max()) if a.size else 0.0
    scale = next((s for s in (1.0, 255.0, 65535.0) if hi <= s), hi)
    return (np.clip(a / np.float32(scale), 0.0, 1.0) * np.float32(65535.0) + np.float32(0.5)).astype(np.uint16)


def _to_uint8_or_16(a: np.ndarray, bits: int) -> np.ndarray:
    """Normalise decoded integer/bool/float samples to uint8 (<= 8 significant bits) or uint16."""
    if a.dtype.byteorder not in ("=", "|"):
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(a.dtype, np.floating):
        return _float_to_uint16(a)
    if a.dtype == np.uint8:
        if 1 <= bits < 8:
            return (a.astype(np.uint16) * 255 // ((1 << bits) - 1)).astype(np.uint8)
        return a
    if a.dtype == np.uint16:
        if 8 < bits < 16:
            return (a.astype(np.uint32) * 65535 // ((1 << bits) - 1)).astype(np.uint16)
        return a
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        top = (1 << bits) - 1 if 0 < bits <= info.bits and np.issubdtype(a.dtype, np.unsignedinteger) else info.max
        scaled = np.clip(a.astype(np.float64), 0, top) * (65535.0 / top) + 0.5
        return scaled.astype(np.uint16)
    raise _Unreadable(f"unsupported sample type {a.dtype}")


def _cmyk_to_rgb(cmyk: np.ndarray, icc: bytes | None) -> np.ndarray:
    """CMYK (H, W, 4) -> RGB. Through the embedded CMYK profile (8-bit) when there is one, else the naive
    ``(max - C)(max - K) / max`` formula (as Pillow), in the data's own bit depth."""
    if icc is not None and icc_colorspace(icc) == "CMYK":
        data8 = cmyk if cmyk.dtype == np.uint8 else ((cmyk.astype(np.uint32) + 128) // 257).astype(np.uint8)
        try:
            im = Image.frombuffer("CMYK", (data8.shape[1], data8.shape[0]), np.ascontiguousarray(data8).tobytes())
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            out = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
            return np.asarray(out)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the formula
    maxval = np.uint32(255 if cmyk.dtype == np.uint8 else 65535)
    rgb = np.empty((*cmyk.shape[:2], 3), cmyk.dtype)
    for rows in _row_blocks(cmyk.shape[0], cmyk.shape[1]):
        block = cmyk[rows].astype(np.uint32)
        k = maxval - block[..., 3:4]
        rgb[rows] = ((maxval - block[..., :3]) * k + maxval // 2) // maxval
    return rgb


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF ``orientation`` (1..8) upright."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.swapaxes(0, 1)
    elif orientation == 6:
        a = a[::-1].swapaxes(0, 1)
    elif orientation == 7:
        a = a[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        a = a[:, ::-1].swapaxes(0, 1)
    return np.ascontiguousarray(a)


def _channels_nearly_equal(rgb: np.ndarray, tolerance: int) -> bool:
    """True if max |R-G| and |G-B| <= tolerance; checked in row blocks so colour images exit early, cheaply."""
    for rows in _row_blocks(rgb.shape[0], rgb.shape[1]):
        block = rgb[rows].astype(np.int32)
        if np.abs(block[..., 0] - block[..., 1]).max(initial=0) > tolerance:
            return False
        if np.abs(block[..., 1] - block[..., 2]).max(initial=0) > tolerance:
            return False
    return True


def _split_channels(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour, alpha) from an (H, W) / (H, W, 1..4) array in gray, gray+alpha, RGB or RGBA order."""
    if arr.ndim == 2:
        return arr, None
    c = arr.shape[2]
    if c == 1:
        return arr[..., 0], None
    if c == 2:
        return arr[..., 0], arr[..., 1]
    if c == 3:
        return arr, None
    if c == 4:
        return arr[..., :3], arr[..., 3]
    raise _Unreadable(f"unsupported number of channels ({c})")


@dataclass
class _Decoded:
    """What a format decoder returns: colour (gray or RGB, uint8/uint16, stored orientation) and metadata."""

    color: np.ndarray
    alpha: np.ndarray | None = None
    premultiplied: bool = False
    icc: bytes | None = None
    exif: bytes | None = None
    orientation: int | None = None  # None: take it from exif


# ----------------------------------------------------------------------------------------------------------------
# Format decoders
# ----------------------------------------------------------------------------------------------------------------


def _png_metadata(data: bytes) -> tuple[bytes | None, bytes | None]:
    """Walk a PNG's chunks, verifying lengths, CRCs of critical chunks and the IEND chunk; returns (icc, exif).

    OpenCV silently accepts some damaged files, so this is what detects truncation and corruption.
    """
    view = memoryview(data)
    pos, n = 8, len(data)
    icc: bytes | None = None
    exif: bytes | None = None
    seen_idat = False
    while True:
        if pos + 8 > n:
            raise _truncated("the PNG file ends before its IEND chunk")
        length, ctype = struct.unpack(">I4s", view[pos : pos + 8])
        if length > 0x7FFFFFFF:
            raise _truncated(f"bad PNG chunk length at byte {pos}")
        end = pos + 12 + length
        if end > n:
            what = "image data" if ctype == b"IDAT" else f"{ctype.decode('latin-1')!r} chunk"
            raise _truncated(f"the PNG file ends inside its {what}")
        (crc,) = struct.unpack(">I", view[end - 4 : end])
        crc_ok = zlib.crc32(view[pos + 4 : end - 4]) == crc
        critical = not ctype[0] & 0x20
        if not crc_ok and critical:
            raise _truncated(f"bad checksum in the PNG {ctype.decode('latin-1')!r} chunk")
        if crc_ok and ctype == b"iCCP" and icc is None:
            payload = bytes(view[pos + 8 : end - 4])
            name_end = payload.find(b"\0")
            if 0 < name_end < len(payload) - 1 and payload[name_end + 1] == 0:
                try:
                    d = zlib.decompressobj()
                    icc = d.decompress(payload[name_end + 2 :], 64 << 20) or None
                except zlib.error:
                    icc = None
        elif crc_ok and ctype == b"eXIf" and exif is None:
            exif = _normalize_exif(bytes(view[pos + 8 : end - 4]))
        elif ctype == b"IDAT":
            seen_idat = True
        elif ctype == b"IEND":
            break
        pos = end
    if not seen_idat:
        raise _truncated("the PNG file has no image data")
    return icc, exif


def _bgr_to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr[..., ::-1]
    if arr.ndim == 3 and arr.shape[2] == 4:
        return arr[..., [2, 1, 0, 3]]
    return arr


def _decode_png(path: Path, header: _Header) -> _Decoded:
    data = path.read_bytes()
    icc, exif = _png_metadata(data)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    del data
    if arr is None:
        if header.width * header.height > (1 << 30):
            raise _Unreadable("image is too large for the PNG decoder (over 1073.7 MP)")
        raise _truncated("the PNG image data could not be decoded")
    color, alpha = _split_channels(_bgr_to_rgb(arr))
    return _Decoded(color, alpha, icc=icc, exif=exif)


def _webp_metadata(data: bytes) -> tuple[bytes | None, bytes | None]:
    """Walk a WebP's RIFF chunks, checking they fit in the file; returns (icc, exif)."""
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = 8 + riff_size
    if end > len(data):
        raise _truncated(f"the WebP file should be {end} bytes but is {len(data)}")
    icc: bytes | None = None
    exif: bytes | None = None
    pos = 12
    while pos + 8 <= end:
        ctype, length = struct.unpack("<4sI", data[pos : pos + 8])
        if pos + 8 + length > end:
            raise _truncated(f"the WebP file ends inside its {ctype.decode('latin-1')!r} chunk")
        if ctype == b"ICCP" and icc is None:
            icc = data[pos + 8 : pos + 8 + length] or None
        elif ctype == b"EXIF" and exif is None:
            exif = _normalize_exif(data[pos + 8 : pos + 8 + length])
        pos += 8 + length + (length & 1)
    return icc, exif


def _decode_webp(path: Path) -> _Decoded:
    # OpenCV rather than Pillow: Pillow's WebP plugin applies its process-wide decompression-bomb limit itself.
    data = path.read_bytes()
    icc, exif = _webp_metadata(data)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    del data
    if arr is None:
        try:
            decoded = _decode_pillow(path, "WEBP")
        except Image.DecompressionBombError:
            raise _Unreadable("the WebP image data could not be decoded") from None
    else:
        color, alpha = _split_channels(_bgr_to_rgb(arr))
        decoded = _Decoded(color, alpha)
    decoded.icc, decoded.exif = icc, exif
    return decoded


_PIL_CLASSES: dict[str, Callable[[BinaryIO], Image.Image]] = {
    "JPEG": JpegImagePlugin.JpegImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
    "TIFF": TiffImagePlugin.TiffImageFile,
}


def _pil_to_arrays(im: Image.Image, icc: bytes | None) -> _Decoded:
    """Convert a loaded Pillow image of any mode to colour/alpha arrays (uint8 or uint16)."""
    mode = im.mode
    premultiplied = mode in ("La", "RGBa")
    if mode == "1":
        return _Decoded(np.asarray(im.convert("L")))
    if mode in ("P", "PA"):
        has_transparency = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_transparency else "RGB")
        mode = im.mode
    if mode == "CMYK":
        return _Decoded(_cmyk_to_rgb(np.asarray(im), icc))
    if mode in ("L", "LA", "La", "RGB", "RGBA", "RGBa"):
        color, alpha = _split_channels(np.asarray(im))
        return _Decoded(color, alpha, premultiplied)
    if mode.startswith("I;16"):
        return _Decoded(np.asarray(im).astype(np.uint16))
    if mode == "I":
        return _Decoded(np.clip(np.asarray(im), 0, 65535).astype(np.uint16))
    if mode == "F":
        return _Decoded(_float_to_uint16(np.asarray(im)))
    color, alpha = _split_channels(np.asarray(im.convert("RGBA" if "A" in mode else "RGB")))
    return _Decoded(color, alpha)


def _decode_pillow(path: Path, fmt: str) -> _Decoded:
    # The plugin class is instantiated directly (not through Image.open) so Pillow's process-wide
    # decompression-bomb limit does not apply: our own check, with the caller's limit, has already passed.
    with open(path, "rb") as f:
        im = _PIL_CLASSES[fmt](f)
        try:
            im.load()
            icc = im.info.get("icc_profile") or None
            exif = _normalize_exif(im.info.get("exif")) if fmt != "TIFF" else None
            decoded = _pil_to_arrays(im, icc)
        finally:
            im.close()
    decoded.icc, decoded.exif = icc, exif
    return decoded


def _tiff_exif(path: Path) -> tuple[bytes | None, int]:
    """An EXIF block built from a classic TIFF's IFD0 descriptive tags and EXIF/GPS sub-IFDs, and the orientation."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        r = _Reader(f, size)
        head = r.read_at(0, 8)
        if head[:4] not in (b"II*\x00", b"MM\x00*"):
            return None, 1  # BigTIFF: no EXIF transfer
        bo, off = _ifd0_offset(head)
        try:
            ifd0, _ = _parse_ifd(r.read_at, bo, off)
        except (ValueError, struct.error):
            return None, 1
    orientation = 1
    entry = ifd0.entries.get(_TAG_ORIENTATION)
    if entry is not None and entry.type in (3, 4):
        orientation = int.from_bytes(entry.data[: _TYPE_SIZE[entry.type]], "little")
        orientation = orientation if 1 <= orientation <= 8 else 1
    kept = _Ifd(
        {t: e for t, e in ifd0.entries.items() if t in _DESCRIPTIVE_IFD0_TAGS},
        {t: s for t, s in ifd0.subs.items() if t in (_TAG_EXIF_IFD, _TAG_GPS_IFD)},
    )
    if _TAG_ORIENTATION in kept.entries:
        kept.entries[_TAG_ORIENTATION] = _Entry(_TAG_ORIENTATION, 3, 1, struct.pack("<H", 1))
    description = kept.entries.get(270)
    if description is not None and description.data.lstrip().startswith(_MACHINE_DESCRIPTIONS):
        del kept.entries[270]  # tifffile/ImageJ/OME metadata describing this file's layout, not the photo
    # Only descriptive content counts: resolution and software tags are written by nearly every TIFF encoder.
    meaningful = set(kept.entries) - {_TAG_ORIENTATION, 282, 283, 296, 305}
    if not meaningful and not kept.subs:
        return None, orientation
    return _exif_from_ifd(kept), orientation


_MACHINE_DESCRIPTIONS = (b'{"shape"', b"ImageJ=1", b"<?xml ve", b"<OME xml", b"<OME>")


def _decode_tiff_pixels_tifffile(path: Path, file_size: int) -> tuple[_Decoded | None, int]:
    """Decode the first page with tifffile. Returns (None, photometric) when tifffile cannot decode it."""
    with tifffile.TiffFile(path) as tf:
        page = _first_page(tf)
        photometric = int(page.photometric)
        icc = page.tags.valueof(_TAG_ICC)
        icc = bytes(icc) if icc else None
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=False):
            if count and offset + count > file_size:
                raise _truncated("the TIFF image data extends past the end of the file")
        if photometric not in (0, 1, 2, 3, 5):
            return None, photometric  # YCbCr, CIELab, ...: let Pillow convert
        try:
            arr = page.asarray()
        except (ValueError, NotImplementedError, KeyError, RuntimeError) as exc:
            text = str(exc)
            if "imagecodecs" in text or "not implemented" in text.lower() or isinstance(exc, KeyError):
                return None, photometric
            raise
        axes = page.axes
        extrasamples = tuple(int(x) for x in (page.extrasamples or ()))
        bits = page.bitspersample
        bits = int(bits if isinstance(bits, int) else max(bits))
        colormap = page.colormap
        inkset = int(page.tags.valueof(332, 1) or 1)

    if "S" in axes and axes.index("S") != len(axes) - 1:
        arr = np.moveaxis(arr, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
    while arr.ndim > (3 if axes.endswith("S") else 2):  # depth/sample-less extra axes: first plane
        arr = arr[0]
        axes = axes[1:]
    samples = arr.shape[2] if arr.ndim == 3 else 1
    ncolor = samples - len(extrasamples) if samples > len(extrasamples) else samples
    alpha = None
    premultiplied = False
    if arr.ndim == 3 and samples > ncolor and extrasamples and extrasamples[0] in (1, 2):
        alpha = arr[..., ncolor]
        premultiplied = extrasamples[0] == 1
    color = arr[..., :ncolor] if arr.ndim == 3 else arr
    if color.ndim == 3 and color.shape[2] == 1:
        color = color[..., 0]

    if photometric == 3:  # palette: look up before any scaling
        if colormap is None:
            raise _truncated("palette TIFF without a colour map")
        cmap = np.asarray(colormap)
        cmap8 = cmap.astype(np.uint8) if cmap.max() <= 255 else ((cmap.astype(np.uint32) + 128) // 257).astype(np.uint8)
        idx = np.clip(color.astype(np.intp), 0, cmap8.shape[1] - 1)
        color = np.ascontiguousarray(cmap8.T)[idx]
        if alpha is not None:
            alpha = _convert_bit_depth(_to_uint8_or_16(alpha, bits), 8)
        return _Decoded(color, alpha, premultiplied, icc=icc), photometric

    color = _to_uint8_or_16(color, bits)
    if alpha is not None:
        alpha = _to_uint8_or_16(alpha, bits)
        if alpha.dtype != color.dtype:
            alpha = _convert_bit_depth(alpha, 16 if color.dtype == np.uint16 else 8)
    maxval = 255 if color.dtype == np.uint8 else 65535
    if photometric == 0:  # min-is-white
        color = (maxval - color).astype(color.dtype)
    elif photometric == 5:
        if color.ndim == 3 and color.shape[2] == 4 and inkset == 1:
            color = _cmyk_to_rgb(color, icc)
        elif color.ndim == 2:  # a single ink: black
            color = (maxval - color).astype(color.dtype)
        else:
            return None, photometric
    if color.ndim == 3 and color.shape[2] not in (3,):
        if color.shape[2] > 3:
            color = color[..., :3]
        else:
            return None, photometric
    return _Decoded(color, alpha, premultiplied, icc=icc), photometric


def _decode_tiff(path: Path, header: _Header, file_size: int) -> _Decoded:
    decoded, photometric = _decode_tiff_pixels_tifffile(path, file_size)
    if decoded is None:
        # tifffile lacks the codec (LZW, JPEG, CCITT... need imagecodecs) or the colour model: OpenCV keeps 16 bits
        # for gray/RGB/palette, Pillow handles everything else.
        order = ("cv2", "pillow") if photometric in (1, 2, 3) else ("pillow",)
        last_error: Exception | None = None
        for decoder in order:
            try:
                decoded = _decode_tiff_cv2(path) if decoder == "cv2" else _decode_pillow(path, "TIFF")
                break
            except _Unreadable as exc:
                last_error = exc
            except (OSError, ValueError, SyntaxError, cv2.error, Image.DecompressionBombError) as exc:
                last_error = exc
        if decoded is None:
            raise _Unreadable(f"cannot decode this TIFF ({_one_line(last_error) if last_error else 'unknown reason'})")
        with tifffile.TiffFile(path) as tf:
            icc = _first_page(tf).tags.valueof(_TAG_ICC)
        decoded.icc = bytes(icc) if icc else None
    decoded.exif, decoded.orientation = _tiff_exif(path)
    return decoded


def _decode_tiff_cv2(path: Path) -> _Decoded:
    # OpenCV's TIFF decoder may apply the orientation tag itself (whatever the flags), so hand it a copy whose
    # orientation says 1; the caller applies the real one like for every other decoder.
    data = bytearray(path.read_bytes())
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        _patch_orientation_1(data)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    del data
    if arr is None:
        raise _Unreadable("OpenCV could not decode it")
    if arr.dtype not in (np.uint8, np.uint16):
        arr = _to_uint8_or_16(arr, 0)
    color, alpha = _split_channels(_bgr_to_rgb(arr))
    return _Decoded(color, alpha)


# ----------------------------------------------------------------------------------------------------------------
# Public reading API
# ----------------------------------------------------------------------------------------------------------------


def _format_mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"


def read_image(
    path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS, min_side: int = MIN_SIDE
) -> ImageData:
    """Read an image file into an upright :class:`ImageData`.

    The header is checked before anything is decoded: images over ``max_pixels`` pixels (None: no limit) or with a
    side under ``min_side`` are refused. Any failure raises :class:`ImageReadError` with a one-line reason.
    """
    p = Path(path)
    try:
        return _read_image(p, max_pixels, min_side)
    except _Unreadable as exc:
        raise ImageReadError(p, exc.reason) from None
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(p, "not enough memory to decode this image") from None
    except PermissionError:
        raise ImageReadError(p, "permission denied") from None
    except cv2.error as exc:
        text = _one_line(exc)
        if "memory" in text.lower() or "allocate" in text.lower():
            raise ImageReadError(p, "not enough memory to decode this image") from exc
        raise ImageReadError(p, f"file is truncated or corrupt: {text}") from exc
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        IndexError,
        struct.error,
        zlib.error,
        tifffile.TiffFileError,
        Image.DecompressionBombError,
    ) as exc:
        raise ImageReadError(p, f"file is truncated or corrupt: {_one_line(exc)}") from exc
    except Exception as exc:  # noqa: BLE001 -- the contract is that only ImageReadError escapes
        raise ImageReadError(p, f"cannot decode image: {type(exc).__name__}: {_one_line(exc)}") from exc


def _read_image(path: Path, max_pixels: int | None, min_side: int) -> ImageData:
    header, file_size = _read_header(path)
    w, h = header.width, header.height
    if max_pixels is not None and w * h > max_pixels:
        raise _Unreadable(
            f"image is {w}×{h} pixels ({_format_mp(w * h)}), over the limit of {_format_mp(max_pixels)}; "
            "raise it with --max-pixels"
        )
    if w < min_side or h < min_side:
        raise _Unreadable(f"image is {w}×{h} pixels; at least {min_side}×{min_side} is needed")

    if header.format == "PNG":
        decoded = _decode_png(path, header)
    elif header.format == "TIFF":
        decoded = _decode_tiff(path, header, file_size)
    elif header.format == "WEBP":
        decoded = _decode_webp(path)
    else:
        decoded = _decode_pillow(path, header.format)

    color = decoded.color
    if color.dtype != np.uint8 and color.dtype != np.dtype(np.uint16):
        color = _to_uint8_or_16(color, 0)
    if color.shape[:2] != (h, w):
        raise _truncated(f"decoded size {color.shape[1]}×{color.shape[0]} does not match the header's {w}×{h}")
    has_alpha = decoded.alpha is not None
    if decoded.alpha is not None:
        color = _composite_on_white(color, decoded.alpha, decoded.premultiplied)

    if color.ndim == 2:
        is_gray = True
    else:
        is_gray = _channels_nearly_equal(color, 1 if color.dtype == np.uint8 else 256)
        if is_gray:
            color = color[..., 1]  # the channels differ by at most one level: keep green

    exif = decoded.exif
    orientation = decoded.orientation if decoded.orientation is not None else _exif_orientation(exif)
    pixels = _apply_orientation(color, orientation)
    if not pixels.flags.writeable:
        pixels = pixels.copy()  # e.g. Pillow's arrays are read-only views
    if exif is not None:
        exif = _exif_with_orientation_1(exif)
    return ImageData(
        pixels=pixels,
        bit_depth=8 if pixels.dtype == np.uint8 else 16,
        is_gray=is_gray,
        format=header.format,
        path=path,
        exif=exif,
        icc=decoded.icc,
        has_alpha=has_alpha,
    )


# ----------------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------------


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def _png_with_chunks(png: bytes, chunks: list[bytes], replace: Iterable[bytes]) -> bytes:
    """Insert ``chunks`` before the first IDAT of ``png``, dropping existing chunks whose type is in ``replace``."""
    replace = set(replace)
    view = memoryview(png)
    out: list[bytes | memoryview] = [view[:8]]
    pos = 8
    inserted = False
    while pos + 8 <= len(png):
        length, ctype = struct.unpack(">I4s", view[pos : pos + 8])
        end = pos + 12 + length
        if ctype == b"IDAT" and not inserted:
            out.extend(chunks)
            inserted = True
        if ctype not in replace:
            out.append(view[pos:end])
        pos = end
    if not inserted:
        raise ValueError("encoded PNG has no IDAT chunk")
    return b"".join(out)


def _encode_png(arr: np.ndarray, icc: bytes | None, exif: bytes | None) -> bytes:
    img = arr if arr.ndim == 2 else np.ascontiguousarray(arr[..., ::-1])  # OpenCV wants BGR
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError("OpenCV could not encode the PNG")
    chunks = []
    if icc:
        chunks.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc, 9)))
    if exif:
        chunks.append(_png_chunk(b"eXIf", exif[6:]))  # the chunk holds the TIFF structure without "Exif\0\0"
    replace = ([b"iCCP", b"sRGB", b"gAMA", b"cHRM"] if icc else []) + ([b"eXIf"] if exif else [])
    return _png_with_chunks(buf.tobytes(), chunks, replace) if chunks else buf.tobytes()


def _encode_jpeg(arr: np.ndarray, quality: int, icc: bytes | None, exif: bytes | None) -> bytes:
    im = Image.fromarray(arr)  # uint8 (H, W) -> "L", (H, W, 3) -> "RGB"
    kwargs: dict[str, object] = {"quality": quality}
    if icc:
        kwargs["icc_profile"] = icc
    if exif:
        kwargs["exif"] = exif
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def _exif_for_jpeg(exif: bytes, target: Path) -> bytes:
    """EXIF that fits a JPEG APP1 segment: rebuilt compactly (IFD0 + sub-IFDs only) if the original is too big."""
    if len(exif) <= _MAX_JPEG_EXIF:
        return exif
    parsed = _parse_exif(exif)
    if parsed is not None:
        compact = _exif_from_ifd(parsed[0])
        if len(compact) <= _MAX_JPEG_EXIF:
            return compact
    raise ImageWriteError(target, f"EXIF data is too large for a JPEG file ({len(exif)} bytes, at most 65533)")


def _write_tiff(f: BinaryIO, arr: np.ndarray, icc: bytes | None, exif: bytes | None) -> None:
    with tifffile.TiffWriter(f) as tw:
        tw.write(
            arr,
            photometric="minisblack" if arr.ndim == 2 else "rgb",
            compression="zlib",
            predictor=True,
            iccprofile=icc or None,
            metadata=None,
            software=False,
        )
    if exif:
        _tiff_add_exif(f, exif)


def _tiff_add_exif(f: BinaryIO, exif: bytes) -> None:
    """Merge EXIF metadata into the first IFD of the little-endian classic TIFF just written to ``f``.

    tifffile cannot write IFD-pointer tags, so the file is patched: the EXIF's descriptive IFD0 tags (Make, Model,
    Artist, Copyright, resolution, ...) override or join the existing entries, the EXIF and GPS sub-IFDs are
    appended, and a new IFD0 with the merged, sorted entries is appended and linked from the header. The old IFD0
    is left as a few unused bytes; existing value offsets stay valid because no data moves.
    """
    parsed = _parse_exif(exif)
    if parsed is None:
        return
    ifd0 = parsed[0]
    extra = {t: e for t, e in ifd0.entries.items() if t in _DESCRIPTIVE_IFD0_TAGS and t != _TAG_ORIENTATION}
    if (282 in extra or 283 in extra) and 296 not in extra:
        extra[296] = _Entry(296, 3, 1, struct.pack("<H", 2))  # EXIF's default unit is the inch
    subs = {t: s for t, s in ifd0.subs.items() if t in (_TAG_EXIF_IFD, _TAG_GPS_IFD)}
    if not extra and not subs:
        return
    f.seek(0)
    head = f.read(8)
    if head[:4] != b"II*\x00":
        return
    (ifd_offset,) = struct.unpack("<I", head[4:8])
    f.seek(ifd_offset)
    (n,) = struct.unpack("<H", f.read(2))
    raw = f.read(12 * n + 4)
    merged = {struct.unpack("<H", raw[12 * i : 12 * i + 2])[0]: raw[12 * i : 12 * i + 12] for i in range(n)}
    (next_offset,) = struct.unpack("<I", raw[12 * n : 12 * n + 4])
    tags = set(merged) | set(extra) | set(subs)
    end = f.seek(0, os.SEEK_END)
    base = end + (end % 2)
    ifd_size = 2 + 12 * len(tags) + 4
    data = bytearray()
    for tag, e in extra.items():
        if len(e.data) <= 4:
            merged[tag] = struct.pack("<HHI", tag, e.type, e.count) + e.data.ljust(4, b"\0")
        else:
            merged[tag] = struct.pack("<HHII", tag, e.type, e.count, base + ifd_size + len(data))
            data += e.data + (b"\0" if len(e.data) % 2 else b"")
    for tag, sub in subs.items():
        start = base + ifd_size + len(data)
        merged[tag] = struct.pack("<HHII", tag, 4, 1, start)
        blob = _serialize_ifd(sub, start)
        data += blob + (b"\0" if len(blob) % 2 else b"")
    if base + ifd_size + len(data) >= 1 << 32:
        return  # would not fit a classic TIFF's 32-bit offsets
    new_ifd = struct.pack("<H", len(tags)) + b"".join(merged[t] for t in sorted(tags)) + struct.pack("<I", next_offset)
    f.write(b"\0" * (base - end) + new_ifd + bytes(data))
    f.seek(4)
    f.write(struct.pack("<I", base))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        pass
    try:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))
    except (OSError, ValueError):
        return False


def _folder_problem(folder: Path) -> str | None:
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
        return f"cannot write: {exc.strerror or _one_line(exc)}"
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
    return reasons.get(exc.errno or 0, f"cannot write: {exc.strerror or _one_line(exc)}")


def _create_temp(target: Path) -> tuple[BinaryIO, Path]:
    """Create and open ``.<name>.<random>.tmp`` next to ``target`` (exclusive creation; mode 0666 minus umask)."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
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
    except ImageWriteError:
        raise
    except OSError as exc:
        raise ImageWriteError(target, _os_write_reason(exc)) from exc
    except MemoryError:
        raise ImageWriteError(target, "not enough memory to encode the image") from None
    except Exception as exc:  # noqa: BLE001 -- encoder failures are reported as ImageWriteError
        raise ImageWriteError(target, f"cannot encode image: {_one_line(exc)}") from exc
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
    return atomic_write(path, lambda f: f.write(data), overwrite)


def _convert_bit_depth(arr: np.ndarray, bit_depth: int) -> np.ndarray:
    if bit_depth == 8 and arr.dtype == np.uint16:
        return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if bit_depth == 16 and arr.dtype == np.uint8:
        return arr.astype(np.uint16) * np.uint16(257)
    return arr


def _check_pixels(pixels: np.ndarray) -> np.ndarray:
    arr = np.asarray(pixels)
    if arr.dtype.kind == "u" and arr.dtype.itemsize in (1, 2) and arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"pixels must be uint8 or uint16, not {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"pixels must be shaped (H, W) or (H, W, 3), not {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"pixels are empty ({arr.shape})")
    return np.ascontiguousarray(arr)


def write_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    format: str | None = None,  # noqa: A002 -- the documented keyword
    bit_depth: int | None = None,
    quality: int = 95,
    exif: bytes | None = None,
    icc: bytes | None = None,
    overwrite: bool = False,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``pixels`` ((H, W) gray or (H, W, 3) RGB, uint8/uint16) to ``path`` atomically; returns the path.

    ``format`` is "PNG", "TIFF" or "JPEG" (default: from the suffix .png, .tif/.tiff, .jpg/.jpeg). ``bit_depth`` 8 or
    16 defaults to the pixels' own (8 for uint8, 16 for uint16); conversion is ``round(x / 257)`` down and ``x * 257``
    up; JPEG is always 8-bit. ``quality`` (1..100) applies to JPEG. ``icc`` is embedded verbatim in every format
    (choose one that fits the pixels: e.g. :func:`srgb_icc_profile` for RGB made from gray). ``exif`` (as from
    :func:`read_image`) goes into JPEG APP1, the PNG eXIf chunk, or the TIFF's own tags plus EXIF/GPS sub-IFDs; its
    orientation is set to 1 (pixels are upright) and its embedded thumbnail, which would show the old pixels, is
    unlinked.

    An existing file is replaced only with ``overwrite=True``, and files in ``protect`` (the inputs) never are.
    Raises ImageWriteError for path, permission, disk and encoder problems; TypeError/ValueError for invalid
    arguments (wrong dtype or shape, bit_depth other than 8/16, quality out of range).
    """
    target = Path(path)
    arr = _check_pixels(pixels)
    if bit_depth is None:
        bit_depth = 16 if arr.dtype == np.uint16 else 8
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be 1..100, not {quality}")
    if icc is not None and not isinstance(icc, (bytes, bytearray)):
        raise TypeError("icc must be bytes")
    if exif is not None and not isinstance(exif, (bytes, bytearray)):
        raise TypeError("exif must be bytes")

    if format is not None:
        fmt = _FORMAT_ALIASES.get(format.upper())
        if fmt is None:
            raise ImageWriteError(target, f"unsupported output format {format!r}; use PNG, TIFF or JPEG")
    else:
        fmt = WRITE_EXTENSIONS.get(target.suffix.lower())
        if fmt is None:
            shown = f"'{target.suffix}'" if target.suffix else "(no extension)"
            raise ImageWriteError(target, f"unsupported output file type {shown}; use {', '.join(WRITE_EXTENSIONS)}")

    problem = _folder_problem(target.parent)
    if problem:
        raise ImageWriteError(target, problem)
    for protected in protect:
        if _same_file(target, Path(protected)):
            raise ImageWriteError(target, "refusing to overwrite an input file")
    if os.path.isdir(target):
        raise ImageWriteError(target, "cannot write: a folder with this name exists")
    if not overwrite and os.path.lexists(target):
        raise ImageWriteError(target, "file exists; not overwritten")

    exif_block = _normalize_exif(bytes(exif)) if exif else None
    if exif and exif_block is None:
        raise ValueError("exif is not an EXIF block (expected 'Exif\\0\\0' followed by a TIFF header)")
    if exif_block is not None:
        exif_block = _exif_without_thumbnail(_exif_with_orientation_1(exif_block))
    icc_bytes = bytes(icc) if icc else None

    if fmt == "JPEG":
        arr = _convert_bit_depth(arr, 8)
        jpeg_exif = _exif_for_jpeg(exif_block, target) if exif_block else None

        def write(f: BinaryIO) -> None:
            f.write(_encode_jpeg(arr, int(quality), icc_bytes, jpeg_exif))

    elif fmt == "PNG":
        arr = _convert_bit_depth(arr, bit_depth)

        def write(f: BinaryIO) -> None:
            f.write(_encode_png(arr, icc_bytes, exif_block))

    else:
        arr = _convert_bit_depth(arr, bit_depth)

        def write(f: BinaryIO) -> None:
            _write_tiff(f, arr, icc_bytes, exif_block)

    _atomic_write(target, write, overwrite)
    return target
