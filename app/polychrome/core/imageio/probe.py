"""Header probing: format sniffing, size and orientation from the header alone, before anything is decoded."""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import tifffile

from polychrome.core.errors import ImageReadError, one_line

from ._common import MAX_TAG_BYTES, SUPPORTED_EXTENSIONS, TAG_ORIENTATION, Reader, Unreadable, truncated
from .exif import exif_orientation

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


@dataclass
class Header:
    format: str
    width: int
    height: int
    orientation: int = 1


def _sniff_format(head: bytes) -> str:
    """The format of a file from its first bytes, or raise Unreadable naming what it looks like instead."""
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
    raise Unreadable(f"not a supported image ({_describe_content(head)})")


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


def _probe_png(r: Reader) -> Header:
    head = r.read_at(0, 33)
    if len(head) < 33:
        raise truncated("the PNG header is incomplete")
    if head[12:16] != b"IHDR":
        raise truncated("the PNG file does not start with an IHDR chunk")
    width, height = struct.unpack(">II", head[16:24])
    # Find an eXIf chunk for the orientation by hopping over chunk headers (no data is read or decoded).
    orientation = 1
    pos = 8
    while pos + 8 <= r.size:
        length, ctype = struct.unpack(">I4s", r.read_at(pos, 8))
        if ctype == b"eXIf":
            orientation = exif_orientation(r.read_at(pos + 8, min(length, MAX_TAG_BYTES)))
            break
        if ctype == b"IEND":
            break
        pos += 12 + length
    return Header("PNG", width, height, orientation)


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _probe_jpeg(r: Reader) -> Header:
    pos = 2
    orientation = 1
    while True:
        b = r.read_at(pos, 2)
        if len(b) < 2:
            raise truncated("the JPEG file ends before its frame header")
        if b[0] != 0xFF:
            raise truncated(f"bad JPEG marker at byte {pos}")
        marker = b[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            raise truncated("the JPEG file has no frame header")
        seg = r.read_at(pos + 2, 2)
        if len(seg) < 2:
            raise truncated("the JPEG file ends inside a marker segment")
        (length,) = struct.unpack(">H", seg)
        if length < 2:
            raise truncated(f"bad JPEG segment length at byte {pos}")
        if marker in _SOF_MARKERS:
            sof = r.read_at(pos + 4, 5)
            if len(sof) < 5:
                raise truncated("the JPEG frame header is incomplete")
            height, width = struct.unpack(">HH", sof[1:5])
            if height == 0:
                raise Unreadable("unsupported JPEG (its height is only given after the image data)")
            return Header("JPEG", width, height, orientation)
        if marker == 0xE1 and orientation == 1:
            payload = r.read_at(pos + 4, length - 2)
            if payload.startswith(b"Exif\x00\x00"):
                orientation = exif_orientation(payload)
        pos += 2 + length


def _probe_bmp(r: Reader) -> Header:
    head = r.read_at(0, 26)
    if len(head) < 26:
        raise truncated("the BMP header is incomplete")
    (dib,) = struct.unpack("<I", head[14:18])
    if dib == 12:
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    return Header("BMP", abs(width), abs(height))


def _probe_webp(r: Reader) -> Header:
    head = r.read_at(0, 30)
    if len(head) < 30:
        raise truncated("the WebP header is incomplete")
    kind = head[12:16]
    orientation = 1
    if kind == b"VP8 ":
        if head[23:26] != b"\x9d\x01\x2a":
            raise truncated("bad VP8 frame header")
        width, height = (v & 0x3FFF for v in struct.unpack("<HH", head[26:30]))
    elif kind == b"VP8L":
        if head[20] != 0x2F:
            raise truncated("bad VP8L header")
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
                    orientation = exif_orientation(r.read_at(pos + 8, min(length, MAX_TAG_BYTES)))
                    break
                pos += 8 + length + (length & 1)
    else:
        raise truncated(f"unknown WebP chunk {kind!r}")
    return Header("WEBP", width, height, orientation)


def first_page(tf: tifffile.TiffFile) -> tifffile.TiffPage:
    page = tf.pages[0]
    if not isinstance(page, tifffile.TiffPage):
        raise truncated("the TIFF file has no readable first page")
    return page


def tiff_page(tf: tifffile.TiffFile, index: int) -> tifffile.TiffPage:
    """Page ``index`` (0-based) of a TIFF, counting reduced-resolution copies out as :func:`page_count` does."""
    pages = [p for p in tf.pages if isinstance(p, tifffile.TiffPage) and not (int(p.subfiletype) & 1)]
    if not 0 <= index < len(pages):
        raise Unreadable(f"the TIFF file has {len(pages)} page(s), no page {index + 1}")
    return pages[index]


def _probe_tiff(r: Reader, index: int = 0) -> Header:
    r.f.seek(0)
    with tifffile.TiffFile(r.f) as tf:
        page = first_page(tf) if not index else tiff_page(tf, index)
        width, height = int(page.imagewidth), int(page.imagelength)
        orientation = page.tags.valueof(TAG_ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return Header("TIFF", width, height, orientation)


_PROBES = {"PNG": _probe_png, "JPEG": _probe_jpeg, "BMP": _probe_bmp, "WEBP": _probe_webp, "TIFF": _probe_tiff}


def _stat_input(path: Path) -> int:
    """Check that ``path`` is a non-empty regular file; returns its size."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise Unreadable("file not found") from None
    except PermissionError:
        raise Unreadable("permission denied") from None
    except OSError as exc:
        raise Unreadable(f"cannot open file: {exc.strerror or one_line(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise Unreadable("is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise Unreadable("not a regular file")
    if st.st_size == 0:
        raise Unreadable("file is empty (0 bytes)")
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        shown = f"'{path.suffix}'" if path.suffix else "(no extension)"
        raise Unreadable(f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    return st.st_size


def read_header(path: Path, page: int | None = None) -> tuple[Header, int]:
    size = _stat_input(path)
    try:
        with open(path, "rb") as f:
            fmt = _sniff_format(f.read(32))
            header = _probe_tiff(Reader(f, size), page) if page and fmt == "TIFF" else _PROBES[fmt](Reader(f, size))
    except PermissionError:
        raise Unreadable("permission denied") from None
    except Unreadable:
        raise
    except (OSError, ValueError, struct.error, EOFError, IndexError, tifffile.TiffFileError) as exc:
        raise truncated(one_line(exc)) from exc
    return header, size


def probe_image(path: str | os.PathLike[str]) -> tuple[int, int, str]:
    """(width, height, format) of an image from its header only -- no pixel data is decoded.

    Width and height are those of the upright image (swapped when the EXIF orientation is a 90° rotation), i.e.
    what :func:`read_image` would return. Raises ImageReadError if the file is missing or not a supported image.
    """
    p = Path(path)
    try:
        header, _ = read_header(p)
    except Unreadable as exc:
        raise ImageReadError(p, exc.reason) from None
    except MemoryError:
        raise ImageReadError(p, "not enough memory to read the image header") from None
    except Exception as exc:  # noqa: BLE001 -- the contract is that only ImageReadError escapes
        raise ImageReadError(p, f"cannot read image header: {one_line(exc)}") from exc
    if header.orientation >= 5:
        return header.height, header.width, header.format
    return header.width, header.height, header.format


# ----------------------------------------------------------------------------------------------------------------
# Pixel helpers
# ----------------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------------
# Pages and frames
# ----------------------------------------------------------------------------------------------------------------


def _png_frames(r: Reader) -> int:
    """Frames of an animated PNG (its acTL chunk, which comes before the first IDAT), else 1."""
    pos = 8
    while pos + 8 <= r.size:
        length, ctype = struct.unpack(">I4s", r.read_at(pos, 8))
        if ctype == b"acTL":
            data = r.read_at(pos + 8, 4)
            return max(1, struct.unpack(">I", data)[0]) if len(data) == 4 else 1
        if ctype in (b"IDAT", b"IEND"):
            return 1
        pos += 12 + length
    return 1


def _webp_frames(r: Reader) -> int:
    head = r.read_at(0, 21)
    if len(head) < 21 or head[12:16] != b"VP8X" or not head[20] & 0x02:  # the animation flag
        return 1
    frames, pos = 0, 12
    while pos + 8 <= r.size:
        ctype, length = struct.unpack("<4sI", r.read_at(pos, 8))
        frames += ctype == b"ANMF"
        pos += 8 + length + (length & 1)
    return max(1, frames)


def _tiff_pages(r: Reader) -> int:
    r.f.seek(0)
    with tifffile.TiffFile(r.f) as tf:
        n = len(tf.pages)
        if n > 1:
            # reduced-resolution copies (NewSubfileType bit 0) are previews of a page, not pages of their own
            n = sum(1 for p in tf.pages if isinstance(p, tifffile.TiffPage) and not (int(p.subfiletype) & 1))
    return max(1, n)


def page_count(path: str | os.PathLike[str]) -> int:
    """How many pages (multi-page TIFF) or frames (animated PNG / WebP) the file holds; 1 when it cannot tell.

    Reads headers only; :func:`read_image` decodes the first page / frame."""
    p = Path(path)
    try:
        size = os.stat(p).st_size
        with open(p, "rb") as f:
            r = Reader(f, size)
            fmt = _sniff_format(r.read_at(0, 32))
            if fmt == "PNG":
                return _png_frames(r)
            if fmt == "WEBP":
                return _webp_frames(r)
            if fmt == "TIFF":
                return _tiff_pages(r)
    except (OSError, ValueError, struct.error, Unreadable, tifffile.TiffFileError):
        return 1
    return 1
