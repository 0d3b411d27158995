"""Encoders: PNG (with our own iCCP/eXIf chunks), JPEG (Pillow) and TIFF (tifffile, EXIF patched into IFD0)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import Image

from polychrome.core.errors import ImageWriteError
from polychrome.core.pixels import convert_bit_depth

from ._common import DESCRIPTIVE_IFD0_TAGS, MAX_JPEG_EXIF, TAG_EXIF_IFD, TAG_GPS_IFD, TAG_ORIENTATION
from .exif import Entry, exif_from_ifd, parse_exif, serialize_ifd

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


def encode_png(arr: np.ndarray, icc: bytes | None, exif: bytes | None) -> bytes:
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


def encode_jpeg(arr: np.ndarray, quality: int, icc: bytes | None, exif: bytes | None) -> bytes:
    im = Image.fromarray(arr)  # uint8 (H, W) -> "L", (H, W, 3) -> "RGB"
    kwargs: dict[str, object] = {"quality": quality}
    if icc:
        kwargs["icc_profile"] = icc
    if exif:
        kwargs["exif"] = exif
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def exif_for_jpeg(exif: bytes, target: Path) -> bytes:
    """EXIF that fits a JPEG APP1 segment: rebuilt compactly (IFD0 + sub-IFDs only) if the original is too big."""
    if len(exif) <= MAX_JPEG_EXIF:
        return exif
    parsed = parse_exif(exif)
    if parsed is not None:
        compact = exif_from_ifd(parsed[0])
        if len(compact) <= MAX_JPEG_EXIF:
            return compact
    raise ImageWriteError(target, f"EXIF data is too large for a JPEG file ({len(exif)} bytes, at most 65533)")


TIFF_STRIP_BYTES = 1 << 18  # uncompressed bytes per TIFF strip (tifffile's own default size)


class _StripCounter:
    """A file proxy that reports the share of a TIFF's strips written so far (tifffile writes one strip per
    ``write`` call, in order), so a long compressed write shows progress."""

    def __init__(self, f: BinaryIO, strips: int, progress: Callable[[float], None]) -> None:
        self._f, self._strips, self._progress = f, max(1, strips), progress
        self._writes = 0
        self._last = -1.0

    def write(self, data: Any) -> int:
        n = self._f.write(data)
        self._writes += 1
        frac = min(0.99, self._writes / self._strips)
        if frac - self._last >= 0.01:
            self._last = frac
            self._progress(frac)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def _tiff_options(ndim: int, rows: int, icc: bytes | None) -> dict[str, Any]:
    """The tifffile options both TIFF writers use: deflate with the horizontal predictor, ``rows`` per strip."""
    return dict(photometric="minisblack" if ndim == 2 else "rgb", compression="zlib", predictor=True,
                rowsperstrip=rows, iccprofile=icc or None, metadata=None, software=False)


def write_tiff(f: BinaryIO, arr: np.ndarray, icc: bytes | None, exif: bytes | None,
               progress: Callable[[float], None] | None = None) -> None:
    """Write ``arr`` as a zlib-compressed TIFF (predictor, strips of :data:`TIFF_STRIP_BYTES`); ``progress``
    receives the share of strips written (0..1) while the strips are compressed and written."""
    row_bytes = int(arr.shape[1]) * (int(arr.shape[2]) if arr.ndim == 3 else 1) * arr.itemsize
    rows = max(1, TIFF_STRIP_BYTES // max(1, row_bytes))
    out: Any = f if progress is None else _StripCounter(f, -(-int(arr.shape[0]) // rows), progress)
    with tifffile.TiffWriter(out) as tw:
        tw.write(arr, **_tiff_options(arr.ndim, rows, icc))
    if progress is not None:
        progress(1.0)
    if exif:
        _tiff_add_exif(f, exif)


def _tiff_add_exif(f: BinaryIO, exif: bytes) -> None:
    """Merge EXIF metadata into the first IFD of the little-endian classic TIFF just written to ``f``.

    tifffile cannot write IFD-pointer tags, so the file is patched: the EXIF's descriptive IFD0 tags (Make, Model,
    Artist, Copyright, resolution, ...) override or join the existing entries, the EXIF and GPS sub-IFDs are
    appended, and a new IFD0 with the merged, sorted entries is appended and linked from the header. The old IFD0
    is left as a few unused bytes; existing value offsets stay valid because no data moves.
    """
    parsed = parse_exif(exif)
    if parsed is None:
        return
    ifd0 = parsed[0]
    extra = {t: e for t, e in ifd0.entries.items() if t in DESCRIPTIVE_IFD0_TAGS and t != TAG_ORIENTATION}
    if (282 in extra or 283 in extra) and 296 not in extra:
        extra[296] = Entry(296, 3, 1, struct.pack("<H", 2))  # EXIF's default unit is the inch
    subs = {t: s for t, s in ifd0.subs.items() if t in (TAG_EXIF_IFD, TAG_GPS_IFD)}
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
        blob = serialize_ifd(sub, start)
        data += blob + (b"\0" if len(blob) % 2 else b"")
    if base + ifd_size + len(data) >= 1 << 32:
        return  # would not fit a classic TIFF's 32-bit offsets
    new_ifd = struct.pack("<H", len(tags)) + b"".join(merged[t] for t in sorted(tags)) + struct.pack("<I", next_offset)
    f.write(b"\0" * (base - end) + new_ifd + bytes(data))
    f.seek(4)
    f.write(struct.pack("<I", base))



def check_pixels(pixels: np.ndarray) -> np.ndarray:
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



# ----------------------------------------------------------------------------------------------------------------
# Writing in bands: an image that is never whole in memory
# ----------------------------------------------------------------------------------------------------------------
#
# What each encoder allows: OpenCV's imencode (our PNG path) and Pillow's save (JPEG) take a whole image, and
# Pillow even holds RGB as 4 bytes a pixel. A JPEG is still written band by band: each band of rows (a whole number
# of MCU rows) is encoded by Pillow/libjpeg as its own small JPEG with the same tables, and the entropy-coded data
# of the bands are joined with restart markers (a DRI segment says every band's MCU count), which is exactly how
# libjpeg codes a restart interval: the DC predictions start again and the bits are padded to a byte. The pixels
# decoded are those of the whole-image encode (same blocks, same tables); only the restart markers are new.
# TIFF strips are independent by design: each band of rows is one strip, horizontally differenced (predictor 2)
# and deflated here, and tifffile writes the strips as they come. PNG's zlib stream can be fed row by row
# (zlib.compressobj), so PNG is written band by band too, with the Paeth filter on every row.


@dataclass
class Bands:
    """An image given as bands of rows from the top: ``shape`` (H, W) or (H, W, 3), ``dtype`` uint8/uint16, and
    ``bands`` an iterable of arrays (n, W[, 3]) whose rows add up to H. It can be consumed once."""

    shape: tuple[int, ...]
    dtype: np.dtype
    bands: Iterable[np.ndarray]

    def converted(self, bit_depth: int) -> Bands:
        """The same image at ``bit_depth`` (convert_bit_depth band by band)."""
        target = np.dtype(np.uint16 if bit_depth == 16 else np.uint8)
        if target == self.dtype:
            return self
        return Bands(self.shape, target, (convert_bit_depth(b, bit_depth) for b in self.bands))

    def rechunked(self, rows: int) -> Iterator[np.ndarray]:
        """The rows again as bands of exactly ``rows`` rows (the last may be shorter)."""
        buf: list[np.ndarray] = []
        have = 0
        for band in self.bands:
            band = np.asarray(band)
            while band.shape[0]:
                take = min(rows - have, band.shape[0])
                buf.append(band[:take])
                have += take
                band = band[take:]
                if have == rows:
                    yield buf[0] if len(buf) == 1 else np.concatenate(buf)
                    buf, have = [], 0
        if have:
            yield buf[0] if len(buf) == 1 else np.concatenate(buf)


def check_bands(image: Bands) -> Bands:
    shape = tuple(int(v) for v in image.shape)
    dtype = np.dtype(image.dtype)
    if dtype not in (np.uint8, np.uint16):
        raise TypeError(f"pixels must be uint8 or uint16, not {dtype}")
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] == 3)) or shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"pixels must be shaped (H, W) or (H, W, 3), not {shape}")
    width, channels = shape[1], shape[2:]

    def checked() -> Iterator[np.ndarray]:
        total = 0
        for band in image.bands:
            band = np.ascontiguousarray(band)
            if band.dtype != dtype or band.shape[1:] != (width, *channels):
                raise ValueError(f"a band of shape {band.shape} ({band.dtype}) does not fit an image of {shape}")
            total += band.shape[0]
            if total > shape[0]:
                raise ValueError(f"the bands hold more than the image's {shape[0]} rows")
            yield band
        if total != shape[0]:
            raise ValueError(f"the bands hold {total} rows, the image has {shape[0]}")

    return Bands(shape, dtype, checked())


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The marker segments of a JPEG up to and including SOS as (marker, whole segment), and where its scan
    data starts."""
    segments: list[tuple[int, bytes]] = []
    pos = 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, data[pos : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            return segments, pos
    raise ValueError("encoded JPEG has no scan")


_SOF_MARKERS = (0xC0, 0xC1, 0xC2)
_TABLE_MARKERS = (0xDB, 0xC4)  # DQT, DHT


def write_jpeg_bands(f: BinaryIO, image: Bands, quality: int, icc: bytes | None, exif: bytes | None) -> None:
    """Write an 8-bit image given in bands as one baseline JPEG with a restart marker between bands (see above)."""
    H, W = image.shape[:2]
    gray = len(image.shape) == 2
    mcu = 8 if gray else 16  # Pillow's default subsampling for RGB is 4:2:0 (16×16 MCUs), asked for explicitly
    mcus_across = -(-W // mcu)
    rows = mcu * max(1, min(65535 // mcus_across, (1 << 20) // max(1, W * mcu)))  # DRI counts ≤ 65535 MCUs
    if H <= rows:
        whole = np.concatenate(list(image.bands))
        f.write(encode_jpeg(whole, quality, icc, exif))
        return
    kwargs: dict[str, object] = {"quality": quality}
    if not gray:
        kwargs["subsampling"] = "4:2:0"
    tables: list[bytes] | None = None
    for i, band in enumerate(image.rechunked(rows)):
        buf = io.BytesIO()
        extra: dict[str, object] = {}
        if i == 0:
            if icc:
                extra["icc_profile"] = icc
            if exif:
                extra["exif"] = exif
        Image.fromarray(band).save(buf, "JPEG", **kwargs, **extra)
        data = buf.getvalue()
        segments, scan_start = _jpeg_segments(data)
        if not data.endswith(b"\xff\xd9"):
            raise ValueError("encoded JPEG band does not end with EOI")
        band_tables = [seg for marker, seg in segments if marker in _TABLE_MARKERS]
        if i == 0:
            tables = band_tables
            head = bytearray(b"\xff\xd8")
            for marker, seg in segments:
                if marker in _SOF_MARKERS:
                    seg = seg[:5] + struct.pack(">H", H) + seg[7:]  # the whole image's height
                if marker == 0xDA:
                    interval = mcus_across * (rows // mcu)
                    head += b"\xff\xdd" + struct.pack(">HH", 4, interval)  # DRI
                head += seg
            f.write(bytes(head))
        else:
            if band_tables != tables:
                raise ValueError("JPEG bands were encoded with different tables")
            f.write(bytes((0xFF, 0xD0 + (i - 1) % 8)))  # RSTn
        f.write(memoryview(data)[scan_start:-2])
    f.write(b"\xff\xd9")


def write_tiff_bands(f: BinaryIO, image: Bands, icc: bytes | None, exif: bytes | None, rows: int = 64) -> None:
    """Write an image given in bands as a deflated, horizontally differenced TIFF, one strip per ``rows`` rows."""
    dtype = np.dtype(image.dtype).newbyteorder("<")

    def strips() -> Iterator[bytes]:
        for band in image.rechunked(rows):
            d = band.astype(dtype, copy=True)
            d[:, 1:] -= band[:, :-1].astype(dtype)  # predictor 2: per sample, modulo 2^bits
            yield zlib.compress(d.tobytes(), 6)

    with tifffile.TiffWriter(f) as tw:
        tw.write(strips(), shape=tuple(image.shape), dtype=dtype, **_tiff_options(len(image.shape), rows, icc))
    if exif:
        _tiff_add_exif(f, exif)


def write_png_bands(f: BinaryIO, image: Bands, icc: bytes | None, exif: bytes | None) -> None:
    """Write an image given in bands as a PNG: the zlib stream is fed band by band, each row Paeth-filtered."""
    H, W = image.shape[:2]
    channels = 1 if len(image.shape) == 2 else 3
    depth = np.dtype(image.dtype).itemsize * 8
    bpp = channels * depth // 8
    color_type = 0 if channels == 1 else 2
    f.write(b"\x89PNG\r\n\x1a\n")
    f.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, depth, color_type, 0, 0, 0)))
    if icc:
        f.write(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc, 9)))
    if exif:
        f.write(_png_chunk(b"eXIf", exif[6:]))
    z = zlib.compressobj(6)
    prev = np.zeros(W * bpp, np.int16)
    for band in image.bands:
        raw = np.ascontiguousarray(band.astype(band.dtype.newbyteorder(">"), copy=False)).view(np.uint8)
        raw = raw.reshape(band.shape[0], W * bpp).astype(np.int16)
        up = np.empty_like(raw)
        up[0] = prev
        up[1:] = raw[:-1]
        left = np.zeros_like(raw)
        left[:, bpp:] = raw[:, :-bpp]
        upleft = np.zeros_like(raw)
        upleft[:, bpp:] = up[:, :-bpp]
        p = left + up - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        out = np.empty((raw.shape[0], W * bpp + 1), np.uint8)
        out[:, 0] = 4  # Paeth
        out[:, 1:] = (raw - pred).astype(np.uint8)
        prev = raw[-1]
        data = z.compress(out.tobytes())
        if data:
            f.write(_png_chunk(b"IDAT", data))
    f.write(_png_chunk(b"IDAT", z.flush()))
    f.write(_png_chunk(b"IEND", b""))
