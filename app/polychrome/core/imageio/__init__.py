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

The package: this module is the public API (:func:`read_image`, :func:`write_image`, :func:`probe_image` and the
names in ``__all__``); ``probe`` parses headers, ``decode`` holds one decoder per format, ``encode`` the writers,
``exif`` the small TIFF-structure reader/writer for EXIF blocks, ``_common`` the shared constants and
:class:`ImageData`. Atomic file creation and free output names live in :mod:`polychrome.core.fileops` (re-exported
here). It must stay free of Qt, onnxruntime and torch: it depends on numpy, OpenCV, Pillow and tifffile only.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import Image

from polychrome.core.errors import ImageReadError, ImageWriteError, one_line
from polychrome.core.fileops import atomic_write, atomic_write_bytes, folder_problem, same_file, unique_path
from polychrome.core.pixels import convert_bit_depth

from ._common import (
    DEFAULT_MAX_PIXELS,
    FORMAT_ALIASES,
    MIN_SIDE,
    SUPPORTED_EXTENSIONS,
    WRITE_EXTENSIONS,
    ImageData,
    ImageInfo,
    Unreadable,
    icc_colorspace,
    is_supported,
    srgb_icc_profile,
    truncated,
)
from .decode import apply_orientation, channels_nearly_equal, composite_on_white, decode_format, to_uint8_or_16
from .encode import (
    Bands,
    check_bands,
    check_pixels,
    encode_jpeg,
    encode_png,
    exif_for_jpeg,
    write_jpeg_bands,
    write_png_bands,
    write_tiff,
    write_tiff_bands,
)
from .exif import exif_orientation, exif_with_orientation_1, exif_without_thumbnail, normalize_exif
from .probe import page_count, probe_image, read_header

__all__ = [
    "Bands",
    "DEFAULT_MAX_PIXELS",
    "MIN_SIDE",
    "SUPPORTED_EXTENSIONS",
    "ImageData",
    "ImageInfo",
    "is_supported",
    "page_count",
    "probe_image",
    "read_image",
    "srgb_icc_profile",
    "unique_path",
    "write_image",
    "WRITE_EXTENSIONS",
    "atomic_write",
    "atomic_write_bytes",
    "icc_colorspace",
]


def _format_mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"


def read_image(
    path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS, min_side: int = MIN_SIDE,
    page: int | None = None,
) -> ImageData:
    """Read an image file into an upright :class:`ImageData`.

    The header is checked before anything is decoded: images over ``max_pixels`` pixels (None: no limit) or with a
    side under ``min_side`` are refused. Any failure raises :class:`ImageReadError` with a one-line reason.
    ``page`` (0-based): that page of a multi-page TIFF or frame of an animated PNG / WebP (:func:`page_count`);
    None reads the first.
    """
    p = Path(path)
    try:
        return _read_image(p, max_pixels, min_side, page)
    except Unreadable as exc:
        raise ImageReadError(p, exc.reason) from None
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(p, "not enough memory to decode this image") from None
    except PermissionError:
        raise ImageReadError(p, "permission denied") from None
    except cv2.error as exc:
        text = one_line(exc)
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
        raise ImageReadError(p, f"file is truncated or corrupt: {one_line(exc)}") from exc
    except Exception as exc:  # noqa: BLE001 -- the contract is that only ImageReadError escapes
        raise ImageReadError(p, f"cannot decode image: {type(exc).__name__}: {one_line(exc)}") from exc


def _read_image(path: Path, max_pixels: int | None, min_side: int, page: int | None = None) -> ImageData:
    header, file_size = read_header(path, page)
    w, h = header.width, header.height
    if max_pixels is not None and w * h > max_pixels:
        raise Unreadable(
            f"image is {w}×{h} pixels ({_format_mp(w * h)}), over the limit of {_format_mp(max_pixels)}; "
            "raise it with --max-pixels"
        )
    if w < min_side or h < min_side:
        raise Unreadable(f"image is {w}×{h} pixels; at least {min_side}×{min_side} is needed")

    decoded = decode_format(path, header, file_size, page)

    color = decoded.color
    if color.dtype != np.uint8 and color.dtype != np.dtype(np.uint16):
        color = to_uint8_or_16(color, 0)
    if color.shape[:2] != (h, w):
        raise truncated(f"decoded size {color.shape[1]}×{color.shape[0]} does not match the header's {w}×{h}")
    has_alpha = decoded.alpha is not None
    if decoded.alpha is not None:
        color = composite_on_white(color, decoded.alpha, decoded.premultiplied)

    if color.ndim == 2:
        is_gray = True
    else:
        is_gray = channels_nearly_equal(color, 1 if color.dtype == np.uint8 else 256)
        if is_gray:
            color = color[..., 1]  # the channels differ by at most one level: keep green

    exif = decoded.exif
    orientation = decoded.orientation if decoded.orientation is not None else exif_orientation(exif)
    pixels = apply_orientation(color, orientation)
    if not pixels.flags.writeable:
        pixels = pixels.copy()  # e.g. Pillow's arrays are read-only views
    if exif is not None:
        exif = exif_with_orientation_1(exif)
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


def _reporting(image: Bands, report: Callable[[float], None]) -> Iterator[np.ndarray]:
    """The bands of ``image``, reporting the fraction of rows handed out after each (report may raise to stop)."""
    done = 0
    report(0.0)
    for band in image.bands:
        yield band
        done += band.shape[0]
        report(done / image.shape[0])


def write_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray | Bands,
    *,
    format: str | None = None,  # noqa: A002 -- the documented keyword
    bit_depth: int | None = None,
    quality: int = 95,
    exif: bytes | None = None,
    icc: bytes | None = None,
    overwrite: bool = False,
    protect: Iterable[str | os.PathLike[str]] = (),
    progress: Callable[[float], None] | None = None,
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
    ``progress`` receives the share written (0..1): per strip for TIFF, before and after encoding for PNG and
    JPEG (their encoders take the image in one call); it may raise (e.g. core.progress.Cancelled) to stop the write,
    which then leaves nothing behind.
    Raises ImageWriteError for path, permission, disk and encoder problems; TypeError/ValueError for invalid
    arguments (wrong dtype or shape, bit_depth other than 8/16, quality out of range).
    """
    target = Path(path)
    arr = check_bands(pixels) if isinstance(pixels, Bands) else check_pixels(pixels)
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
        fmt = FORMAT_ALIASES.get(format.upper())
        if fmt is None:
            raise ImageWriteError(target, f"unsupported output format {format!r}; use PNG, TIFF or JPEG")
    else:
        fmt = WRITE_EXTENSIONS.get(target.suffix.lower())
        if fmt is None:
            shown = f"'{target.suffix}'" if target.suffix else "(no extension)"
            raise ImageWriteError(target, f"unsupported output file type {shown}; use {', '.join(WRITE_EXTENSIONS)}")

    problem = folder_problem(target.parent)
    if problem:
        raise ImageWriteError(target, problem)
    for protected in protect:
        if same_file(target, Path(protected)):
            raise ImageWriteError(target, "refusing to overwrite an input file")
    if os.path.isdir(target):
        raise ImageWriteError(target, "cannot write: a folder with this name exists")
    if not overwrite and os.path.lexists(target):
        raise ImageWriteError(target, "file exists; not overwritten")

    exif_block = normalize_exif(bytes(exif)) if exif else None
    if exif and exif_block is None:
        raise ValueError("exif is not an EXIF block (expected 'Exif\\0\\0' followed by a TIFF header)")
    if exif_block is not None:
        exif_block = exif_without_thumbnail(exif_with_orientation_1(exif_block))
    icc_bytes = bytes(icc) if icc else None

    def report(frac: float) -> None:
        if progress is not None:
            progress(frac)

    if isinstance(arr, Bands):  # an image that is never whole in memory: written band by band
        bands = arr.converted(8 if fmt == "JPEG" else bit_depth)
        if progress is not None:
            bands = Bands(bands.shape, bands.dtype, _reporting(bands, report))
        jpeg_exif_b = exif_for_jpeg(exif_block, target) if exif_block and fmt == "JPEG" else None

        def write(f: BinaryIO) -> None:
            if fmt == "JPEG":
                write_jpeg_bands(f, bands, int(quality), icc_bytes, jpeg_exif_b)
            elif fmt == "PNG":
                write_png_bands(f, bands, icc_bytes, exif_block)
            else:
                write_tiff_bands(f, bands, icc_bytes, exif_block)

        atomic_write(target, write, overwrite)
        return target
    pixels_arr: np.ndarray = arr

    if fmt == "JPEG":
        arr_out = convert_bit_depth(pixels_arr, 8)
        jpeg_exif = exif_for_jpeg(exif_block, target) if exif_block else None

        def write(f: BinaryIO) -> None:
            report(0.0)
            f.write(encode_jpeg(arr_out, int(quality), icc_bytes, jpeg_exif))
            report(1.0)

    elif fmt == "PNG":
        arr_out = convert_bit_depth(pixels_arr, bit_depth)

        def write(f: BinaryIO) -> None:
            report(0.0)
            f.write(encode_png(arr_out, icc_bytes, exif_block))
            report(1.0)

    else:
        arr_out = convert_bit_depth(pixels_arr, bit_depth)

        def write(f: BinaryIO) -> None:
            write_tiff(f, arr_out, icc_bytes, exif_block, progress)

    atomic_write(target, write, overwrite)
    return target
