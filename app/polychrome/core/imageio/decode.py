"""Pixel decoding: one decoder per format, and the pixel helpers that normalise what they return."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import BmpImagePlugin, Image, ImageCms, JpegImagePlugin, TiffImagePlugin, WebPImagePlugin

from polychrome.core.errors import one_line
from polychrome.core.pixels import convert_bit_depth, to_uint8

from ._common import (
    DESCRIPTIVE_IFD0_TAGS,
    TAG_EXIF_IFD,
    TAG_GPS_IFD,
    TAG_ICC,
    TAG_ORIENTATION,
    TYPE_SIZE,
    Reader,
    Unreadable,
    icc_colorspace,
    row_blocks,
    truncated,
)
from .exif import Entry, Ifd, exif_from_ifd, ifd0_offset, normalize_exif, parse_ifd, patch_orientation_1
from .probe import Header, first_page, tiff_page


def composite_on_white(color: np.ndarray, alpha: np.ndarray, premultiplied: bool) -> np.ndarray:
    """Flatten colour (H, W[, C]) with alpha (H, W) onto white, in the colour's dtype, rounding to nearest.

    uint32 arithmetic is exact for both depths: at most 65535 * 65535 + 32767 < 2**32.
    """
    maxval = np.uint32(255 if color.dtype == np.uint8 else 65535)
    out = np.empty(color.shape, color.dtype)
    for rows in row_blocks(color.shape[0], color.shape[1]):
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


def to_uint8_or_16(a: np.ndarray, bits: int) -> np.ndarray:
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
    raise Unreadable(f"unsupported sample type {a.dtype}")


def _cmyk_to_rgb(cmyk: np.ndarray, icc: bytes | None) -> np.ndarray:
    """CMYK (H, W, 4) -> RGB. Through the embedded CMYK profile (8-bit) when there is one, else the naive
    ``(max - C)(max - K) / max`` formula (as Pillow), in the data's own bit depth."""
    if icc is not None and icc_colorspace(icc) == "CMYK":
        data8 = to_uint8(cmyk)
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
    for rows in row_blocks(cmyk.shape[0], cmyk.shape[1]):
        block = cmyk[rows].astype(np.uint32)
        k = maxval - block[..., 3:4]
        rgb[rows] = ((maxval - block[..., :3]) * k + maxval // 2) // maxval
    return rgb


def apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
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


def channels_nearly_equal(rgb: np.ndarray, tolerance: int) -> bool:
    """True if max |R-G| and |G-B| <= tolerance; checked in row blocks so colour images exit early, cheaply."""
    for rows in row_blocks(rgb.shape[0], rgb.shape[1]):
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
    raise Unreadable(f"unsupported number of channels ({c})")


@dataclass
class Decoded:
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
            raise truncated("the PNG file ends before its IEND chunk")
        length, ctype = struct.unpack(">I4s", view[pos : pos + 8])
        if length > 0x7FFFFFFF:
            raise truncated(f"bad PNG chunk length at byte {pos}")
        end = pos + 12 + length
        if end > n:
            what = "image data" if ctype == b"IDAT" else f"{ctype.decode('latin-1')!r} chunk"
            raise truncated(f"the PNG file ends inside its {what}")
        (crc,) = struct.unpack(">I", view[end - 4 : end])
        crc_ok = zlib.crc32(view[pos + 4 : end - 4]) == crc
        critical = not ctype[0] & 0x20
        if not crc_ok and critical:
            raise truncated(f"bad checksum in the PNG {ctype.decode('latin-1')!r} chunk")
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
            exif = normalize_exif(bytes(view[pos + 8 : end - 4]))
        elif ctype == b"IDAT":
            seen_idat = True
        elif ctype == b"IEND":
            break
        pos = end
    if not seen_idat:
        raise truncated("the PNG file has no image data")
    return icc, exif


def _bgr_to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr[..., ::-1]
    if arr.ndim == 3 and arr.shape[2] == 4:
        return arr[..., [2, 1, 0, 3]]
    return arr


def _decode_png(path: Path, header: Header) -> Decoded:
    data = path.read_bytes()
    icc, exif = _png_metadata(data)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    del data
    if arr is None:
        if header.width * header.height > (1 << 30):
            raise Unreadable("image is too large for the PNG decoder (over 1073.7 MP)")
        raise truncated("the PNG image data could not be decoded")
    color, alpha = _split_channels(_bgr_to_rgb(arr))
    return Decoded(color, alpha, icc=icc, exif=exif)


def _webp_metadata(data: bytes) -> tuple[bytes | None, bytes | None]:
    """Walk a WebP's RIFF chunks, checking they fit in the file; returns (icc, exif)."""
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = 8 + riff_size
    if end > len(data):
        raise truncated(f"the WebP file should be {end} bytes but is {len(data)}")
    icc: bytes | None = None
    exif: bytes | None = None
    pos = 12
    while pos + 8 <= end:
        ctype, length = struct.unpack("<4sI", data[pos : pos + 8])
        if pos + 8 + length > end:
            raise truncated(f"the WebP file ends inside its {ctype.decode('latin-1')!r} chunk")
        if ctype == b"ICCP" and icc is None:
            icc = data[pos + 8 : pos + 8 + length] or None
        elif ctype == b"EXIF" and exif is None:
            exif = normalize_exif(data[pos + 8 : pos + 8 + length])
        pos += 8 + length + (length & 1)
    return icc, exif


def _decode_webp(path: Path) -> Decoded:
    # OpenCV rather than Pillow: Pillow's WebP plugin applies its process-wide decompression-bomb limit itself.
    data = path.read_bytes()
    icc, exif = _webp_metadata(data)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    del data
    if arr is None:
        try:
            decoded = _decode_pillow(path, "WEBP")
        except Image.DecompressionBombError:
            raise Unreadable("the WebP image data could not be decoded") from None
    else:
        color, alpha = _split_channels(_bgr_to_rgb(arr))
        decoded = Decoded(color, alpha)
    decoded.icc, decoded.exif = icc, exif
    return decoded


_PIL_CLASSES: dict[str, Callable[[BinaryIO], Image.Image]] = {
    "JPEG": JpegImagePlugin.JpegImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
    "TIFF": TiffImagePlugin.TiffImageFile,
}


def _pil_to_arrays(im: Image.Image, icc: bytes | None) -> Decoded:
    """Convert a loaded Pillow image of any mode to colour/alpha arrays (uint8 or uint16)."""
    mode = im.mode
    premultiplied = mode in ("La", "RGBa")
    if mode == "1":
        return Decoded(np.asarray(im.convert("L")))
    if mode in ("P", "PA"):
        has_transparency = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_transparency else "RGB")
        mode = im.mode
    if mode == "CMYK":
        return Decoded(_cmyk_to_rgb(np.asarray(im), icc))
    if mode in ("L", "LA", "La", "RGB", "RGBA", "RGBa"):
        color, alpha = _split_channels(np.asarray(im))
        return Decoded(color, alpha, premultiplied)
    if mode.startswith("I;16"):
        return Decoded(np.asarray(im).astype(np.uint16))
    if mode == "I":
        return Decoded(np.clip(np.asarray(im), 0, 65535).astype(np.uint16))
    if mode == "F":
        return Decoded(_float_to_uint16(np.asarray(im)))
    color, alpha = _split_channels(np.asarray(im.convert("RGBA" if "A" in mode else "RGB")))
    return Decoded(color, alpha)


def _strict_jpeg(data: bytes, mode: str) -> np.ndarray | None:
    """Decode JPEG data with libjpeg-turbo (simplejpeg) in strict mode: a warning of the library (premature end of
    the data, corrupt entropy-coded data) is an error, where Pillow and OpenCV fill in gray and go on. Returns the
    pixels for gray/RGB (None for other modes, which are only checked, at 1/8 size); None without simplejpeg."""
    try:
        import simplejpeg
    except ImportError:  # pragma: no cover - a dependency; without it damaged JPEGs decode as Pillow allows
        return None
    space = {"L": "GRAY", "RGB": "RGB", "CMYK": "CMYK"}.get(mode)
    if space is None:
        return None
    try:
        if space == "CMYK":
            simplejpeg.decode_jpeg(data, space, strict=True, min_factor=8)
            return None
        arr = simplejpeg.decode_jpeg(data, space, strict=True)
    except ValueError as exc:
        text = one_line(exc)
        if "memory" in text.lower():
            raise MemoryError(text) from None
        raise truncated(f"libjpeg reports: {text}") from None
    return arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr


def _decode_pillow(path: Path, fmt: str) -> Decoded:
    # The plugin class is instantiated directly (not through Image.open) so Pillow's process-wide
    # decompression-bomb limit does not apply: our own check, with the caller's limit, has already passed.
    if fmt == "JPEG":
        data = path.read_bytes()
        with JpegImagePlugin.JpegImageFile(io.BytesIO(data)) as im:
            mode = im.mode
            icc = im.info.get("icc_profile") or None
            exif = normalize_exif(im.info.get("exif"))
            pixels = _strict_jpeg(data, mode) if im.format == "JPEG" else None
            if pixels is not None:
                del data
                return Decoded(pixels, icc=icc, exif=exif)
    with open(path, "rb") as f:
        im = _PIL_CLASSES[fmt](f)
        try:
            im.load()
            icc = im.info.get("icc_profile") or None
            exif = normalize_exif(im.info.get("exif")) if fmt != "TIFF" else None
            decoded = _pil_to_arrays(im, icc)
        finally:
            im.close()
    decoded.icc, decoded.exif = icc, exif
    return decoded


def _tiff_exif(path: Path) -> tuple[bytes | None, int]:
    """An EXIF block built from a classic TIFF's IFD0 descriptive tags and EXIF/GPS sub-IFDs, and the orientation."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        r = Reader(f, size)
        head = r.read_at(0, 8)
        if head[:4] not in (b"II*\x00", b"MM\x00*"):
            return None, 1  # BigTIFF: no EXIF transfer
        bo, off = ifd0_offset(head)
        try:
            ifd0, _ = parse_ifd(r.read_at, bo, off)
        except (ValueError, struct.error):
            return None, 1
    orientation = 1
    entry = ifd0.entries.get(TAG_ORIENTATION)
    if entry is not None and entry.type in (3, 4):
        orientation = int.from_bytes(entry.data[: TYPE_SIZE[entry.type]], "little")
        orientation = orientation if 1 <= orientation <= 8 else 1
    kept = Ifd(
        {t: e for t, e in ifd0.entries.items() if t in DESCRIPTIVE_IFD0_TAGS},
        {t: s for t, s in ifd0.subs.items() if t in (TAG_EXIF_IFD, TAG_GPS_IFD)},
    )
    if TAG_ORIENTATION in kept.entries:
        kept.entries[TAG_ORIENTATION] = Entry(TAG_ORIENTATION, 3, 1, struct.pack("<H", 1))
    description = kept.entries.get(270)
    if description is not None and description.data.lstrip().startswith(_MACHINE_DESCRIPTIONS):
        del kept.entries[270]  # tifffile/ImageJ/OME metadata describing this file's layout, not the photo
    # Only descriptive content counts: resolution and software tags are written by nearly every TIFF encoder.
    meaningful = set(kept.entries) - {TAG_ORIENTATION, 282, 283, 296, 305}
    if not meaningful and not kept.subs:
        return None, orientation
    return exif_from_ifd(kept), orientation


_MACHINE_DESCRIPTIONS = (b'{"shape"', b"ImageJ=1", b"<?xml ve", b"<OME xml", b"<OME>")


def _decode_tiff_pixels_tifffile(path: Path, file_size: int, index: int = 0) -> tuple[Decoded | None, int]:
    """Decode the first page (or page ``index``) with tifffile. Returns (None, photometric) when tifffile cannot
    decode it."""
    with tifffile.TiffFile(path) as tf:
        page = first_page(tf) if not index else tiff_page(tf, index)
        photometric = int(page.photometric)
        icc = page.tags.valueof(TAG_ICC)
        icc = bytes(icc) if icc else None
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=False):
            if count and offset + count > file_size:
                raise truncated("the TIFF image data extends past the end of the file")
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
            raise truncated("palette TIFF without a colour map")
        cmap = np.asarray(colormap)
        cmap8 = cmap.astype(np.uint8) if cmap.max() <= 255 else to_uint8(cmap.astype(np.uint16))
        idx = np.clip(color.astype(np.intp), 0, cmap8.shape[1] - 1)
        color = np.ascontiguousarray(cmap8.T)[idx]
        if alpha is not None:
            alpha = convert_bit_depth(to_uint8_or_16(alpha, bits), 8)
        return Decoded(color, alpha, premultiplied, icc=icc), photometric

    color = to_uint8_or_16(color, bits)
    if alpha is not None:
        alpha = to_uint8_or_16(alpha, bits)
        if alpha.dtype != color.dtype:
            alpha = convert_bit_depth(alpha, 16 if color.dtype == np.uint16 else 8)
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
    return Decoded(color, alpha, premultiplied, icc=icc), photometric


def _decode_tiff(path: Path, header: Header, file_size: int, index: int = 0) -> Decoded:
    decoded, photometric = _decode_tiff_pixels_tifffile(path, file_size, index)
    if decoded is None and index:
        decoded = _decode_pillow_frame(path, "TIFF", index)
    if decoded is None:
        # tifffile lacks the codec (LZW, JPEG, CCITT... need imagecodecs) or the colour model: OpenCV keeps 16 bits
        # for gray/RGB/palette, Pillow handles everything else.
        order = ("cv2", "pillow") if photometric in (1, 2, 3) else ("pillow",)
        last_error: Exception | None = None
        for decoder in order:
            try:
                decoded = _decode_tiff_cv2(path) if decoder == "cv2" else _decode_pillow(path, "TIFF")
                break
            except Unreadable as exc:
                last_error = exc
            except (OSError, ValueError, SyntaxError, cv2.error, Image.DecompressionBombError) as exc:
                last_error = exc
        if decoded is None:
            raise Unreadable(f"cannot decode this TIFF ({one_line(last_error) if last_error else 'unknown reason'})")
        with tifffile.TiffFile(path) as tf:
            icc = first_page(tf).tags.valueof(TAG_ICC)
        decoded.icc = bytes(icc) if icc else None
    decoded.exif, decoded.orientation = _tiff_exif(path)
    return decoded


def _decode_tiff_cv2(path: Path) -> Decoded:
    # OpenCV's TIFF decoder may apply the orientation tag itself (whatever the flags), so hand it a copy whose
    # orientation says 1; the caller applies the real one like for every other decoder.
    data = bytearray(path.read_bytes())
    if bytes(data[:4]) in (b"II*\x00", b"MM\x00*"):
        patch_orientation_1(data)
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    del data
    if arr is None:
        raise Unreadable("OpenCV could not decode it")
    if arr.dtype not in (np.uint8, np.uint16):
        arr = to_uint8_or_16(arr, 0)
    color, alpha = _split_channels(_bgr_to_rgb(arr))
    return Decoded(color, alpha)


# ----------------------------------------------------------------------------------------------------------------
# Public reading API
# ----------------------------------------------------------------------------------------------------------------


def _decode_pillow_frame(path: Path, fmt: str, index: int) -> Decoded:
    """Page / frame ``index`` of a multi-page TIFF or an animated PNG / WebP, through Pillow (composited frames)."""
    from PIL import PngImagePlugin

    classes = {**_PIL_CLASSES, "PNG": PngImagePlugin.PngImageFile}
    with open(path, "rb") as f:
        im = classes[fmt](f)
        try:
            n = getattr(im, "n_frames", 1)
            if index >= n:
                raise Unreadable(f"has {n} pages/frames, no page {index + 1}")
            im.seek(index)
            im.load()
            icc = im.info.get("icc_profile") or None
            decoded = _pil_to_arrays(im, icc)
        finally:
            im.close()
    decoded.icc = icc
    return decoded


def decode_format(path: Path, header: Header, file_size: int, page: int | None = None) -> Decoded:
    """Decode the pixels and metadata of ``path``, whose header has been probed, with its format's decoder.
    ``page`` (0-based): that page of a multi-page TIFF or frame of an animated PNG / WebP (None: the first)."""
    if page:
        if header.format == "TIFF":
            return _decode_tiff(path, header, file_size, page)
        if header.format in ("PNG", "WEBP"):
            return _decode_pillow_frame(path, header.format, page)
        raise Unreadable(f"a {header.format} file has one page only, no page {page + 1}")
    if header.format == "PNG":
        return _decode_png(path, header)
    if header.format == "TIFF":
        return _decode_tiff(path, header, file_size)
    if header.format == "WEBP":
        return _decode_webp(path)
    return _decode_pillow(path, header.format)
