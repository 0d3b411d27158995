"""Tests for polychrome.core.imageio: real files in tmp_path, small images, no mocks of the module under test."""

from __future__ import annotations

import io
import os
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import ExifTags, Image, ImageOps

from polychrome.core.errors import ImageReadError, ImageWriteError
from polychrome.core.imageio import (
    DEFAULT_MAX_PIXELS,
    MIN_SIDE,
    SUPPORTED_EXTENSIONS,
    ImageData,
    is_supported,
    probe_image,
    read_image,
    srgb_icc_profile,
    unique_path,
    write_image,
)

H, W = 24, 32  # small, non-square test images


# ------------------------------------------------------------------------------------------------------------------
# fixtures and helpers
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def rgb8(rng) -> np.ndarray:
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


@pytest.fixture
def gray8(rng) -> np.ndarray:
    return rng.integers(0, 256, (H, W), dtype=np.uint8)


@pytest.fixture
def rgb16(rng) -> np.ndarray:
    return rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)


@pytest.fixture
def gray16(rng) -> np.ndarray:
    return rng.integers(0, 65536, (H, W), dtype=np.uint16)


@pytest.fixture
def smooth_rgb8() -> np.ndarray:
    """A smooth colour image (JPEG-friendly)."""
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([x * 255 // (W - 1), y * 255 // (H - 1), np.full_like(x, 128)], axis=-1).astype(np.uint8)


@pytest.fixture
def exif_bytes() -> bytes:
    """An EXIF block with Make/Model/Artist in IFD0, a DateTimeOriginal in the EXIF sub-IFD and orientation 6."""
    ex = Image.Exif()
    ex[0x0112] = 6
    ex[0x010F] = "TestMake"
    ex[0x0110] = "TestModel"
    ex[0x013B] = "Ada Artist"
    ex[0x8769] = {0x9003: "2020:01:02 03:04:05", 0x829A: (1, 250)}
    return ex.tobytes()


@pytest.fixture
def gray_icc() -> bytes:
    """Profile-like bytes whose header says GRAY (only the bytes' identity matters to these tests)."""
    icc = bytearray(srgb_icc_profile())
    icc[16:20] = b"GRAY"
    return bytes(icc)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def assert_read_error(path: Path, *words: str, **kwargs) -> ImageReadError:
    with pytest.raises(ImageReadError) as info:
        read_image(path, **kwargs)
    err = info.value
    assert type(err) is ImageReadError
    message = str(err)
    assert path.name in message
    assert "\n" not in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return err


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def png_chunk_types(path: Path) -> list[bytes]:
    data = path.read_bytes()
    pos, out = 8, []
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        out.append(ctype)
        pos += 12 + length
    return out


# ------------------------------------------------------------------------------------------------------------------
# round trips
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix,fmt", [(".png", "PNG"), (".tif", "TIFF"), (".tiff", "TIFF")])
@pytest.mark.parametrize("kind", ["gray8", "rgb8", "gray16", "rgb16"])
def test_lossless_round_trip(tmp_path, request, suffix, fmt, kind):
    pixels = request.getfixturevalue(kind)
    out = write_image(tmp_path / f"img{suffix}", pixels)
    assert out == tmp_path / f"img{suffix}"
    data = read_image(out)
    assert isinstance(data, ImageData)
    assert data.format == fmt
    assert data.pixels.dtype == pixels.dtype
    assert data.pixels.shape == pixels.shape
    np.testing.assert_array_equal(data.pixels, pixels)
    assert data.bit_depth == (16 if pixels.dtype == np.uint16 else 8)
    assert data.is_gray == (pixels.ndim == 2)
    assert (data.width, data.height) == (W, H)
    assert data.path == out
    assert not data.has_alpha
    assert data.pixels.flags.c_contiguous
    assert files_in(tmp_path) == [f"img{suffix}"]


def test_png_16bit_is_really_16bit(tmp_path, rgb16):
    out = write_image(tmp_path / "a.png", rgb16)
    raw = cv2.imdecode(np.fromfile(out, np.uint8), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw[..., ::-1], rgb16)


def test_tiff_is_deflate_compressed_and_readable_by_tifffile(tmp_path, rgb16):
    out = write_image(tmp_path / "a.tif", rgb16)
    with tifffile.TiffFile(out) as tf:
        page = tf.pages.first
        assert page.compression in (8, 32946)
        assert page.photometric == tifffile.PHOTOMETRIC.RGB
        np.testing.assert_array_equal(page.asarray(), rgb16)


@pytest.mark.parametrize("kind", ["smooth_rgb8", "gray8"])
def test_jpeg_round_trip_is_close(tmp_path, request, kind):
    pixels = request.getfixturevalue(kind)
    if pixels.ndim == 2:
        pixels = cv2.GaussianBlur(pixels, (5, 5), 0)
    out = write_image(tmp_path / "a.jpg", pixels, quality=95)
    data = read_image(out)
    assert data.format == "JPEG" and data.bit_depth == 8
    assert data.pixels.shape == pixels.shape
    assert data.is_gray == (pixels.ndim == 2)
    assert np.abs(data.pixels.astype(int) - pixels).mean() < 3


def test_jpeg_quality_changes_size(tmp_path, rgb8):
    hi = write_image(tmp_path / "hi.jpg", rgb8, quality=95)
    lo = write_image(tmp_path / "lo.jpg", rgb8, quality=20)
    assert lo.stat().st_size < hi.stat().st_size


def test_jpeg_from_16bit_rounds_to_8bit(tmp_path):
    y, x = np.mgrid[0:H, 0:W]
    pixels16 = (np.stack([x, y, x + y], -1) * 900).astype(np.uint16)
    out = write_image(tmp_path / "a.jpeg", pixels16)
    data = read_image(out)
    assert data.pixels.dtype == np.uint8 and data.bit_depth == 8
    expected = (pixels16.astype(np.uint32) + 128) // 257
    assert np.abs(data.pixels.astype(int) - expected).mean() < 3


def test_bit_depth_conversion_on_write(tmp_path, rgb16, rgb8):
    down = read_image(write_image(tmp_path / "down.png", rgb16, bit_depth=8))
    assert down.bit_depth == 8
    np.testing.assert_array_equal(down.pixels, ((rgb16.astype(np.uint32) + 128) // 257).astype(np.uint8))
    np.testing.assert_array_equal(down.pixels, np.round(rgb16 / 257.0).astype(np.uint8))
    up = read_image(write_image(tmp_path / "up.tif", rgb8, bit_depth=16))
    assert up.bit_depth == 16
    np.testing.assert_array_equal(up.pixels, rgb8.astype(np.uint16) * 257)


def test_explicit_format_overrides_suffix(tmp_path, rgb8):
    out = write_image(tmp_path / "a.dat", rgb8, format="png")
    assert out.read_bytes().startswith(b"\x89PNG")
    out = write_image(tmp_path / "b.out", rgb8, format="TIFF")
    assert out.read_bytes()[:4] == b"II*\x00"


def test_bmp_read(tmp_path, rgb8, gray8):
    Image.fromarray(rgb8).save(tmp_path / "c.bmp")
    Image.fromarray(gray8).save(tmp_path / "g.bmp")
    data = read_image(tmp_path / "c.bmp")
    assert data.format == "BMP" and not data.is_gray
    np.testing.assert_array_equal(data.pixels, rgb8)
    data = read_image(tmp_path / "g.bmp")
    assert data.is_gray and data.pixels.shape == (H, W)
    np.testing.assert_array_equal(data.pixels, gray8)


def test_webp_lossless_read(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "c.webp", lossless=True)
    data = read_image(tmp_path / "c.webp")
    assert data.format == "WEBP" and data.bit_depth == 8
    np.testing.assert_array_equal(data.pixels, rgb8)


def test_non_ascii_path(tmp_path, rgb16):
    folder = tmp_path / "Fotos ä 漢字"
    folder.mkdir()
    out = write_image(folder / "Straße 1.png", rgb16)
    np.testing.assert_array_equal(read_image(out).pixels, rgb16)
    assert probe_image(out) == (W, H, "PNG")


# ------------------------------------------------------------------------------------------------------------------
# colour models, alpha, palettes, low bit depths
# ------------------------------------------------------------------------------------------------------------------


def test_rgba_png_is_composited_on_white(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0] = 200  # red-ish everywhere
    rgba[:, :10, 3] = 0  # transparent -> white
    rgba[:, 10:20, 3] = 255  # opaque -> colour
    rgba[:, 20:, 3] = 128  # half
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    data = read_image(tmp_path / "a.png")
    assert data.has_alpha and not data.is_gray
    assert data.pixels.shape == (H, W, 3)
    np.testing.assert_array_equal(data.pixels[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(data.pixels[0, 15], [200, 0, 0])
    expected_red = round((200 * 128 + 255 * 127) / 255)
    expected_other = round(255 * 127 / 255)
    np.testing.assert_array_equal(data.pixels[0, 25], [expected_red, expected_other, expected_other])


def test_rgba_16bit_png_is_composited_on_white(tmp_path):
    bgra = np.zeros((H, W, 4), np.uint16)
    bgra[..., 2] = 40000
    bgra[:, : W // 2, 3] = 65535
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    data = read_image(tmp_path / "a.png")
    assert data.has_alpha and data.bit_depth == 16
    np.testing.assert_array_equal(data.pixels[0, 0], [40000, 0, 0])
    np.testing.assert_array_equal(data.pixels[0, -1], [65535, 65535, 65535])


def test_gray_alpha_png(tmp_path):
    la = np.zeros((H, W, 2), np.uint8)
    la[..., 0] = 100
    la[..., 1] = 255
    la[:, :5, 1] = 0
    Image.fromarray(la, "LA").save(tmp_path / "a.png")
    data = read_image(tmp_path / "a.png")
    assert data.is_gray and data.has_alpha and data.pixels.shape == (H, W)
    assert data.pixels[0, 0] == 255 and data.pixels[0, 10] == 100


def test_palette_png(tmp_path):
    index = np.zeros((H, W), np.uint8)
    index[:, W // 2 :] = 1
    im = Image.fromarray(index, "P")
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * (256 * 3 - 6))
    im.save(tmp_path / "p.png")
    data = read_image(tmp_path / "p.png")
    assert data.pixels.shape == (H, W, 3) and not data.is_gray
    np.testing.assert_array_equal(data.pixels[0, 0], [10, 20, 30])
    np.testing.assert_array_equal(data.pixels[0, -1], [200, 100, 50])


def test_gray_palette_png_is_gray(tmp_path, gray8):
    im = Image.fromarray(gray8, "P")
    im.putpalette([v for i in range(256) for v in (i, i, i)])
    im.save(tmp_path / "p.png")
    data = read_image(tmp_path / "p.png")
    assert data.is_gray and data.pixels.shape == (H, W)
    np.testing.assert_array_equal(data.pixels, gray8)


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (W, H), 1)
    im.putpalette([0, 0, 255, 0, 255, 0] + [0] * (256 * 3 - 6))
    im.paste(0, (0, 0, 8, H))
    im.save(tmp_path / "p.png", transparency=0)
    data = read_image(tmp_path / "p.png")
    assert data.has_alpha
    np.testing.assert_array_equal(data.pixels[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(data.pixels[0, -1], [0, 255, 0])


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_one_bit_images(tmp_path, suffix):
    bits = np.zeros((H, W), bool)
    bits[:, ::2] = True
    Image.fromarray(bits).save(tmp_path / f"b{suffix}")
    data = read_image(tmp_path / f"b{suffix}")
    assert data.pixels.dtype == np.uint8 and data.bit_depth == 8
    assert data.is_gray and data.pixels.shape == (H, W)
    np.testing.assert_array_equal(data.pixels, np.where(bits, 255, 0))


def test_cmyk_jpeg_to_rgb(tmp_path):
    cmyk = np.zeros((H, W, 4), np.uint8)
    cmyk[..., 0] = 255  # full cyan -> (0, 255, 255)
    cmyk[:, W // 2 :, 0] = 0
    cmyk[:, W // 2 :, 3] = 128  # half black -> gray 127
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.jpg", quality=100)
    data = read_image(tmp_path / "c.jpg")
    assert data.pixels.shape == (H, W, 3) and not data.is_gray
    reference = np.asarray(Image.open(tmp_path / "c.jpg").convert("RGB"))
    assert np.abs(data.pixels.astype(int) - reference).max() <= 1
    assert np.abs(data.pixels[2, 2].astype(int) - [0, 255, 255]).max() <= 3
    assert np.abs(data.pixels[2, -3].astype(int) - [127, 127, 127]).max() <= 3


def test_cmyk_tiff_to_rgb(tmp_path):
    cmyk = np.zeros((H, W, 4), np.uint8)
    cmyk[..., 1] = 255  # magenta
    cmyk[:, W // 2 :, 3] = 255  # plus full black
    tifffile.imwrite(tmp_path / "c.tif", cmyk, photometric="separated")
    data = read_image(tmp_path / "c.tif")
    np.testing.assert_array_equal(data.pixels[0, 0], [255, 0, 255])
    np.testing.assert_array_equal(data.pixels[0, -1], [0, 0, 0])


def test_near_gray_rgb_is_reduced(tmp_path, gray8):
    rgb = np.stack([gray8, gray8, gray8], -1).astype(np.int16)
    rgb[..., 0] += 1
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    data = read_image(write_image(tmp_path / "g.png", rgb))
    assert data.is_gray and data.pixels.shape == (H, W)
    assert np.abs(data.pixels.astype(int) - gray8).max() <= 1
    rgb[0, 0] = [0, 2, 0]  # one pixel 2 levels off: colour
    data = read_image(write_image(tmp_path / "c.png", rgb))
    assert not data.is_gray and data.pixels.shape == (H, W, 3)


def test_near_gray_16bit_tolerance(tmp_path, gray16):
    base = np.minimum(gray16, 65000).astype(np.uint16)
    rgb = np.stack([base, base + 256, base], -1).astype(np.uint16)
    data = read_image(write_image(tmp_path / "g.tif", rgb))
    assert data.is_gray and data.pixels.dtype == np.uint16 and data.pixels.shape == (H, W)
    rgb[3, 3, 0] = rgb[3, 3, 1] + 257  # |R-G| = 257: colour
    assert not read_image(write_image(tmp_path / "c.tif", rgb)).is_gray


def test_tiff_planar_separate(tmp_path, rgb16):
    tifffile.imwrite(tmp_path / "p.tif", np.moveaxis(rgb16, -1, 0), photometric="rgb", planarconfig="separate")
    data = read_image(tmp_path / "p.tif")
    np.testing.assert_array_equal(data.pixels, rgb16)


def test_tiff_with_alpha_extra_sample(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint16)
    rgba[..., 2] = 30000
    rgba[:, : W // 2, 3] = 65535
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    data = read_image(tmp_path / "a.tif")
    assert data.has_alpha and data.pixels.dtype == np.uint16
    np.testing.assert_array_equal(data.pixels[0, 0], [0, 0, 30000])
    np.testing.assert_array_equal(data.pixels[0, -1], [65535, 65535, 65535])


def test_tiff_with_premultiplied_alpha(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0] = 100  # already multiplied by alpha
    rgba[..., 3] = 128
    tifffile.imwrite(tmp_path / "p.tif", rgba, photometric="rgb", extrasamples=["assocalpha"])
    data = read_image(str(tmp_path / "p.tif"))
    assert data.has_alpha
    np.testing.assert_array_equal(data.pixels[0, 0], [100 + 127, 127, 127])


def test_float_tiff_becomes_16bit(tmp_path):
    ramp = np.linspace(0.0, 1.0, H * W, dtype=np.float32).reshape(H, W)
    tifffile.imwrite(tmp_path / "f.tif", ramp)
    data = read_image(tmp_path / "f.tif")
    assert data.pixels.dtype == np.uint16 and data.bit_depth == 16 and data.is_gray
    np.testing.assert_array_equal(data.pixels, np.round(ramp * 65535).astype(np.uint16))


def test_miniswhite_and_palette_tiff(tmp_path, gray8):
    tifffile.imwrite(tmp_path / "w.tif", gray8, photometric="miniswhite")
    np.testing.assert_array_equal(read_image(tmp_path / "w.tif").pixels, 255 - gray8)
    cmap = np.zeros((3, 256), np.uint16)
    cmap[0, 1] = 65535
    cmap[2, 2] = 65535
    index = (np.arange(H * W).reshape(H, W) % 3).astype(np.uint8)
    tifffile.imwrite(tmp_path / "p.tif", index, photometric="palette", colormap=cmap)
    data = read_image(tmp_path / "p.tif")
    np.testing.assert_array_equal(data.pixels[0, :3], [[0, 0, 0], [255, 0, 0], [0, 0, 255]])


def test_lzw_16bit_tiff_fallback_keeps_16_bits(tmp_path, rgb16):
    # OpenCV writes LZW, which tifffile cannot decode without imagecodecs.
    cv2.imwrite(str(tmp_path / "l.tif"), np.ascontiguousarray(rgb16[..., ::-1]))
    data = read_image(tmp_path / "l.tif")
    assert data.bit_depth == 16
    np.testing.assert_array_equal(data.pixels, rgb16)


def test_big_endian_tiff(tmp_path, rgb16):
    tifffile.imwrite(tmp_path / "be.tif", rgb16, byteorder=">", photometric="rgb")
    data = read_image(tmp_path / "be.tif")
    assert data.pixels.dtype == np.dtype(np.uint16) and data.pixels.dtype.byteorder in ("=", "<")
    np.testing.assert_array_equal(data.pixels, rgb16)
    out = write_image(tmp_path / "out.png", rgb16.astype(">u2"))
    np.testing.assert_array_equal(read_image(out).pixels, rgb16)


def test_pixels_are_writable_and_owned(tmp_path, rgb8):
    for name in ("a.jpg", "a.png", "a.bmp", "a.webp", "a.tif"):
        Image.fromarray(rgb8).save(tmp_path / name)
        pixels = read_image(tmp_path / name).pixels
        assert pixels.flags.writeable and pixels.flags.c_contiguous
        pixels[0, 0] = 0


def test_lzw_8bit_tiff_via_pillow(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "l.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(read_image(tmp_path / "l.tif").pixels, rgb8)


# ------------------------------------------------------------------------------------------------------------------
# ICC profiles
# ------------------------------------------------------------------------------------------------------------------


def test_srgb_icc_profile():
    icc = srgb_icc_profile()
    assert isinstance(icc, bytes) and len(icc) > 128
    assert icc[36:40] == b"acsp" and icc[16:20] == b"RGB "
    assert srgb_icc_profile() is icc  # cached
    assert ImageData(np.zeros((8, 8, 3), np.uint8), 8, False, "PNG", icc=icc).icc_colorspace == "RGB"
    assert ImageData(np.zeros((8, 8), np.uint8), 8, True, "PNG").icc_colorspace is None


def test_gray16_tiff_with_icc_from_tifffile(tmp_path, gray16, gray_icc, rgb16):
    src = tmp_path / "scan.tif"
    tifffile.imwrite(src, gray16, photometric="minisblack", iccprofile=gray_icc)
    data = read_image(src)
    assert data.pixels.dtype == np.uint16 and data.pixels.shape == (H, W)
    assert data.bit_depth == 16 and data.is_gray and data.format == "TIFF"
    assert data.icc == gray_icc and data.icc_colorspace == "GRAY"
    np.testing.assert_array_equal(data.pixels, gray16)

    out = write_image(tmp_path / "color.tif", rgb16, icc=data.icc, protect=[src])
    with tifffile.TiffFile(out) as tf:
        page = tf.pages.first
        assert page.tags[34675].value == gray_icc
        assert page.dtype == np.uint16 and page.shape == (H, W, 3)


@pytest.mark.parametrize(
    "name,pixels_kind",
    [("a8.png", "rgb8"), ("a16.png", "rgb16"), ("g16.png", "gray16"), ("a.jpg", "smooth_rgb8"), ("a.tif", "rgb16")],
)
def test_icc_and_exif_survive(tmp_path, request, name, pixels_kind, exif_bytes):
    pixels = request.getfixturevalue(pixels_kind)
    icc = srgb_icc_profile()
    out = write_image(tmp_path / name, pixels, icc=icc, exif=exif_bytes)
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == icc
        exif = im.getexif()
        assert exif.get(0x010F) == "TestMake"
        assert exif.get(0x013B) == "Ada Artist"
        assert exif.get(0x0112, 1) == 1  # pixels are upright: never rotate again
        assert exif.get_ifd(0x8769).get(0x9003) == "2020:01:02 03:04:05"
    data = read_image(out)
    assert data.icc == icc
    assert data.exif is not None and data.exif.startswith(b"Exif\x00\x00")
    back = Image.Exif()
    back.load(data.exif)
    assert back.get(0x0110) == "TestModel"
    assert back.get_ifd(0x8769).get(0x9003) == "2020:01:02 03:04:05"


def test_webp_icc_and_exif_are_read(tmp_path, rgb8, exif_bytes):
    icc = srgb_icc_profile()
    Image.fromarray(rgb8).save(tmp_path / "m.webp", lossless=True, icc_profile=icc, exif=exif_bytes)
    data = read_image(tmp_path / "m.webp")
    assert data.icc == icc
    exif = Image.Exif()
    exif.load(data.exif)
    assert exif.get(0x010F) == "TestMake" and exif.get(0x0112) == 1


def test_tiff_metadata_read_back_and_resolution(tmp_path, rgb8):
    ex = Image.Exif()
    ex[0x010F] = "ScanCo"
    ex[0x8298] = "(c) Someone"
    ex[0x011A] = 300.0
    ex[0x011B] = 300.0
    ex[0x0128] = 2
    ex[0x8769] = {0x9286: b"ASCII\0\0\0a comment"}
    out = write_image(tmp_path / "r.tif", rgb8, exif=ex.tobytes())
    with Image.open(out) as im:
        assert im.info.get("dpi") == (300.0, 300.0)
        assert im.tag_v2[271] == "ScanCo" and im.tag_v2[33432] == "(c) Someone"
    data = read_image(out)
    back = Image.Exif()
    back.load(data.exif)
    assert back.get(0x010F) == "ScanCo"
    assert back.get(0x8298) == "(c) Someone"
    assert back.get_ifd(0x8769).get(0x9286) == b"ASCII\0\0\0a comment"
    # ... and they survive another trip, into a JPEG
    jpg = write_image(tmp_path / "r.jpg", data.pixels, exif=data.exif)
    with Image.open(jpg) as im:
        assert im.getexif().get(0x010F) == "ScanCo"


def test_plain_tiff_has_no_exif(tmp_path, rgb8):
    tifffile.imwrite(tmp_path / "p.tif", rgb8, photometric="rgb")
    assert read_image(tmp_path / "p.tif").exif is None


def test_oversized_exif_for_jpeg(tmp_path, smooth_rgb8):
    ex = Image.Exif()
    ex[0x010F] = "Big"
    ex[0x8769] = {0x9286: b"ASCII\0\0\0" + b"x" * 70_000}
    big = ex.tobytes()
    with pytest.raises(ImageWriteError, match="EXIF data is too large"):
        write_image(tmp_path / "a.jpg", smooth_rgb8, exif=big)
    assert files_in(tmp_path) == []
    out = write_image(tmp_path / "a.png", smooth_rgb8, exif=big)  # PNG has no such limit
    with Image.open(out) as im:
        assert im.getexif().get(0x010F) == "Big"


def test_png_metadata_chunks_come_before_image_data(tmp_path, rgb16, exif_bytes):
    out = write_image(tmp_path / "a.png", rgb16, icc=srgb_icc_profile(), exif=exif_bytes)
    types = png_chunk_types(out)
    assert types[0] == b"IHDR" and types[-1] == b"IEND"
    assert types.index(b"iCCP") < types.index(b"IDAT") and types.index(b"eXIf") < types.index(b"IDAT")
    assert types.count(b"iCCP") == 1 and b"sRGB" not in types
    # Pillow (libpng-compatible parsing) must accept the file and decode it fully.
    with Image.open(out) as im:
        im.load()
        assert im.size == (W, H)


def test_tiff_exif_tags_written_as_tiff_tags(tmp_path, rgb8, exif_bytes):
    out = write_image(tmp_path / "a.tif", rgb8, exif=exif_bytes)
    with tifffile.TiffFile(out) as tf:
        tags = tf.pages.first.tags
        assert tags["Make"].value == "TestMake"
        assert tags["Model"].value == "TestModel"
        assert tags["Artist"].value == "Ada Artist"
        assert tags["ExifTag"].value["DateTimeOriginal"] == "2020:01:02 03:04:05"
        assert "Orientation" not in tags or tags["Orientation"].value == 1
        np.testing.assert_array_equal(tf.pages.first.asarray(), rgb8)


def test_exif_thumbnail_is_not_carried_to_output(tmp_path, smooth_rgb8, exif_bytes):
    src = tmp_path / "thumb.jpg"
    Image.fromarray(smooth_rgb8).save(src, exif=exif_bytes)
    # Build an EXIF block with an IFD1 thumbnail by hand: link IFD0's next pointer to a tiny IFD1.
    body = bytearray(exif_bytes[6:])
    bo = "<" if body[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(bo + "I", body[4:8])
    (n,) = struct.unpack(bo + "H", body[ifd0 : ifd0 + 2])
    link = ifd0 + 2 + 12 * n
    ifd1 = len(body) + (len(body) % 2)
    body += b"\0" * (ifd1 - len(body))
    body += struct.pack(bo + "H", 1) + struct.pack(bo + "HHIHH", 0x0103, 3, 1, 6, 0) + struct.pack(bo + "I", 0)
    body[link : link + 4] = struct.pack(bo + "I", ifd1)
    with_thumb = b"Exif\x00\x00" + bytes(body)
    check = Image.Exif()
    check.load(with_thumb)
    assert check.get_ifd(ExifTags.IFD.IFD1)  # IFD1 is linked
    out = write_image(tmp_path / "o.jpg", smooth_rgb8, exif=with_thumb)
    with Image.open(out) as im:
        exif = im.getexif()
        assert exif.get(0x010F) == "TestMake"
        assert not exif.get_ifd(ExifTags.IFD.IFD1)


# ------------------------------------------------------------------------------------------------------------------
# EXIF orientation
# ------------------------------------------------------------------------------------------------------------------


def marked_image() -> np.ndarray:
    """A 40-wide, 24-high gray image with a red block in the stored top-left corner."""
    img = np.full((24, 40, 3), 128, np.uint8)
    img[:6, :6] = [255, 0, 0]
    return img


def test_jpeg_orientation_6_is_read_upright(tmp_path, exif_bytes):
    src = tmp_path / "rotated.jpg"
    Image.fromarray(marked_image()).save(src, exif=exif_bytes, quality=95)
    data = read_image(src)
    assert data.pixels.shape == (40, 24, 3)  # width and height swapped
    assert (data.width, data.height) == (24, 40)
    # Rotating 90° clockwise moves the stored top-left corner to the top-right.
    assert np.abs(data.pixels[1:5, -5:-1].astype(int) - [255, 0, 0]).max() < 30
    assert np.abs(data.pixels[1:5, 1:5].astype(int) - 128).max() < 30
    assert np.abs(data.pixels[-5:-1, -5:-1].astype(int) - 128).max() < 30
    exif = Image.Exif()
    exif.load(data.exif)
    assert exif.get(0x0112) == 1
    assert exif.get(0x010F) == "TestMake"
    assert exif.get_ifd(0x8769).get(0x9003) == "2020:01:02 03:04:05"
    assert probe_image(src) == (24, 40, "JPEG")

    for name in ("upright.jpg", "upright.png"):
        out = write_image(tmp_path / name, data.pixels, exif=data.exif, icc=data.icc, protect=[src])
        with Image.open(out) as im:
            assert im.getexif().get(0x0112) == 1 and im.getexif().get(0x010F) == "TestMake"
        again = read_image(out)
        assert again.pixels.shape == (40, 24, 3)  # not rotated a second time
        assert np.abs(again.pixels[1:5, -5:-1].astype(int) - [255, 0, 0]).max() < 40


def test_write_resets_orientation_given_by_caller(tmp_path, exif_bytes, smooth_rgb8):
    out = write_image(tmp_path / "a.png", smooth_rgb8, exif=exif_bytes)  # exif still says 6
    with Image.open(out) as im:
        assert im.getexif().get(0x0112) == 1
    assert read_image(out).pixels.shape == smooth_rgb8.shape


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_orientations_match_pillow(tmp_path, orientation, rgb8):
    ex = Image.Exif()
    ex[0x0112] = orientation
    src = tmp_path / f"o{orientation}.png"
    Image.fromarray(rgb8).save(src, exif=ex.tobytes())
    with Image.open(src) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    data = read_image(src)
    np.testing.assert_array_equal(data.pixels, expected)
    w, h, _ = probe_image(src)
    assert (w, h) == (expected.shape[1], expected.shape[0])


def test_tiff_orientation_tag_is_applied(tmp_path, rgb8):
    tifffile.imwrite(tmp_path / "o.tif", rgb8, photometric="rgb", extratags=[(274, "H", 1, 8, True)])
    data = read_image(tmp_path / "o.tif")
    np.testing.assert_array_equal(data.pixels, np.rot90(rgb8, 1))
    assert probe_image(tmp_path / "o.tif") == (H, W, "TIFF")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_lzw_tiff_orientations_match_pillow(tmp_path, orientation, rgb8):
    # LZW goes through the OpenCV/Pillow fall-back decoders; the orientation must be applied exactly once.
    src = tmp_path / "o.tif"
    Image.fromarray(rgb8).save(src, compression="tiff_lzw", tiffinfo={274: orientation})
    with Image.open(src) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(read_image(src).pixels, expected)


def add_tiff_tag(path: Path, tag: int, value: int) -> None:
    """Append a copy of IFD0 with an extra SHORT tag to a little-endian classic TIFF and link it from the header."""
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack("<I", data[4:8])
    (n,) = struct.unpack("<H", data[ifd : ifd + 2])
    entries = [bytes(data[ifd + 2 + 12 * i : ifd + 14 + 12 * i]) for i in range(n)]
    entries.append(struct.pack("<HHIHH", tag, 3, 1, value, 0))
    entries.sort(key=lambda e: struct.unpack("<H", e[:2])[0])
    data += b"\0" * (len(data) % 2)
    new_ifd = len(data)
    data += struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", 0)
    data[4:8] = struct.pack("<I", new_ifd)
    path.write_bytes(bytes(data))


def test_lzw_16bit_tiff_orientation(tmp_path, rgb16):
    src = tmp_path / "o.tif"
    cv2.imwrite(str(src), np.ascontiguousarray(rgb16[..., ::-1]))
    add_tiff_tag(src, 274, 6)
    data = read_image(src)
    assert data.bit_depth == 16
    np.testing.assert_array_equal(data.pixels, np.rot90(rgb16, -1))
    assert probe_image(src) == (H, W, "TIFF")


def test_webp_probe_with_exif_orientation(tmp_path, rgb8, exif_bytes):
    Image.fromarray(rgb8).save(tmp_path / "o.webp", lossless=True, exif=exif_bytes)
    assert probe_image(tmp_path / "o.webp") == (H, W, "WEBP")
    data = read_image(tmp_path / "o.webp")
    np.testing.assert_array_equal(data.pixels, np.rot90(rgb8, -1))


# ------------------------------------------------------------------------------------------------------------------
# probing
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix,fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".tif", "TIFF"), (".bmp", "BMP"), (".webp", "WEBP")]
)
def test_probe_image(tmp_path, rgb8, suffix, fmt):
    Image.fromarray(rgb8).save(tmp_path / f"a{suffix}")
    assert probe_image(tmp_path / f"a{suffix}") == (W, H, fmt)


def test_probe_webp_lossy_and_lossless(tmp_path, smooth_rgb8):
    Image.fromarray(smooth_rgb8).save(tmp_path / "l.webp", lossless=True)
    Image.fromarray(smooth_rgb8).save(tmp_path / "y.webp", quality=80)
    assert probe_image(tmp_path / "l.webp") == (W, H, "WEBP")
    assert probe_image(tmp_path / "y.webp") == (W, H, "WEBP")


def test_probe_errors(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        probe_image(tmp_path / "missing.png")
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(ImageReadError, match="not a supported image"):
        probe_image(tmp_path / "t.png")


def test_is_supported():
    assert SUPPORTED_EXTENSIONS == (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
    for name in ("a.jpg", "b.JPEG", "c.Png", "d.tif", "e.TIFF", "f.bmp", "g.webp", Path("x/y.PNG")):
        assert is_supported(name)
    for name in ("a.gif", "b.heic", "c", "d.png.txt", "e.jp2"):
        assert not is_supported(name)


def test_unique_path(tmp_path):
    target = tmp_path / "photo.png"
    assert unique_path(target) == target
    target.write_bytes(b"x")
    assert unique_path(target) == tmp_path / "photo (2).png"
    (tmp_path / "photo (2).png").write_bytes(b"x")
    assert unique_path(target) == tmp_path / "photo (3).png"


# ------------------------------------------------------------------------------------------------------------------
# hostile inputs
# ------------------------------------------------------------------------------------------------------------------


def huge_png(path: Path, width: int = 50_000, height: int = 50_000) -> Path:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )
    return path


def huge_bmp(path: Path) -> Path:
    info = struct.pack("<IiiHHIIiiII", 40, 50_000, 50_000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    path.write_bytes(b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + b"\0" * 16)
    return path


def huge_jpeg(path: Path, smooth: np.ndarray) -> Path:
    buf = io.BytesIO()
    Image.fromarray(smooth).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 50_000, 50_000)
    path.write_bytes(bytes(data))
    return path


def huge_tiff(path: Path) -> Path:
    tifffile.imwrite(path, np.zeros((16, 16), np.uint8))
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack("<I", data[4:8])
    (n,) = struct.unpack("<H", data[ifd : ifd + 2])
    for i in range(n):
        pos = ifd + 2 + 12 * i
        tag, typ = struct.unpack("<HH", data[pos : pos + 4])
        if tag in (256, 257):
            data[pos + 8 : pos + 12] = struct.pack("<HH", 50_000, 0) if typ == 3 else struct.pack("<I", 50_000)
    path.write_bytes(bytes(data))
    return path


def huge_webp(path: Path) -> Path:
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (49_999).to_bytes(3, "little") * 2
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x)
    return path


@pytest.mark.parametrize("maker", ["png", "bmp", "jpeg", "webp", "tiff"])
def test_decompression_bomb_header_is_refused_quickly(tmp_path, maker, smooth_rgb8):
    if maker == "png":
        path = huge_png(tmp_path / "bomb.png")
    elif maker == "bmp":
        path = huge_bmp(tmp_path / "bomb.bmp")
    elif maker == "jpeg":
        path = huge_jpeg(tmp_path / "bomb.jpg", smooth_rgb8)
    elif maker == "tiff":
        path = huge_tiff(tmp_path / "bomb.tif")
    else:
        path = huge_webp(tmp_path / "bomb.webp")
    assert probe_image(path)[:2] == (50_000, 50_000)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        err = assert_read_error(path, "50000×50000", "2500.0 MP", "200.0 MP", "--max-pixels")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - started < 1.0
    assert peak < 5_000_000
    assert "over the limit" in err.reason


def test_max_pixels_is_configurable(tmp_path):
    path = write_image(tmp_path / "a.png", np.zeros((100, 100), np.uint8))
    assert_read_error(path, "100×100", "over the limit", max_pixels=5000)
    assert read_image(path, max_pixels=10_000).pixels.shape == (100, 100)
    assert read_image(path, max_pixels=None).pixels.shape == (100, 100)
    assert DEFAULT_MAX_PIXELS == 200_000_000


def test_pillow_bomb_limit_does_not_interfere(tmp_path, monkeypatch, smooth_rgb8):
    # Even with Pillow's global limit set absurdly low, our own (per call) limit decides.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    Image.fromarray(smooth_rgb8).save(tmp_path / "a.jpg")
    Image.fromarray(smooth_rgb8).save(tmp_path / "a.webp")
    Image.fromarray(smooth_rgb8).save(tmp_path / "a.bmp")
    for name in ("a.jpg", "a.webp", "a.bmp"):
        assert read_image(tmp_path / name).pixels.shape == (H, W, 3)


def test_too_small(tmp_path):
    Image.new("L", (1, 1)).save(tmp_path / "dot.png")
    assert_read_error(tmp_path / "dot.png", "1×1 pixels", "at least 8×8")
    Image.new("RGB", (7, 50)).save(tmp_path / "thin.jpg")
    assert_read_error(tmp_path / "thin.jpg", "7×50", "at least")
    assert MIN_SIDE == 8
    assert read_image(tmp_path / "dot.png", min_side=1).pixels.shape == (1, 1)


def test_missing_file(tmp_path):
    assert_read_error(tmp_path / "nope.jpg", "file not found")
    assert_read_error(tmp_path / "no_folder" / "nope.png", "file not found")


def test_directory(tmp_path):
    (tmp_path / "folder.png").mkdir()
    assert_read_error(tmp_path / "folder.png", "folder")


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    assert_read_error(tmp_path / "empty.png", "file is empty (0 bytes)")


def test_text_file_named_png(tmp_path):
    (tmp_path / "notes.png").write_text("these are not pixels\n")
    assert_read_error(tmp_path / "notes.png", "not a supported image", "text")


def test_random_bytes(tmp_path, rng):
    (tmp_path / "noise.jpg").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    assert_read_error(tmp_path / "noise.jpg", "not a supported image")


def test_gif_is_named(tmp_path):
    Image.new("L", (16, 16)).save(tmp_path / "anim.gif")
    renamed = tmp_path / "anim.png"
    (tmp_path / "anim.gif").rename(renamed)
    assert_read_error(renamed, "not a supported image", "GIF")


def test_unsupported_extension(tmp_path):
    Image.new("L", (16, 16)).save(tmp_path / "a.gif")
    assert_read_error(tmp_path / "a.gif", "unsupported file type", ".gif")


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_jpeg(tmp_path, rgb8, fraction):
    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, "JPEG", quality=95)
    data = buf.getvalue()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * fraction)])
    assert_read_error(tmp_path / "cut.jpg", "truncated or corrupt")


def test_jpeg_cut_in_header(tmp_path, rgb8):
    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[:40])
    assert_read_error(tmp_path / "cut.jpg", "truncated or corrupt")


@pytest.mark.parametrize("fraction", [0.3, 0.7, 0.999])
def test_truncated_png(tmp_path, rgb16, fraction):
    data = write_image(tmp_path / "full.png", rgb16).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: int(len(data) * fraction)])
    assert_read_error(tmp_path / "cut.png", "truncated or corrupt")


def test_png_cut_inside_header(tmp_path):
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0")
    assert_read_error(tmp_path / "cut.png", "truncated or corrupt")


def test_corrupt_png_data(tmp_path, rgb8):
    data = bytearray(write_image(tmp_path / "full.png", rgb8).read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF
    (tmp_path / "bad.png").write_bytes(bytes(data))
    assert_read_error(tmp_path / "bad.png", "truncated or corrupt", "checksum")


def test_truncated_tiff(tmp_path, rgb16):
    tifffile.imwrite(tmp_path / "full.tif", rgb16)  # uncompressed, data after the header
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    assert_read_error(tmp_path / "cut.tif", "truncated or corrupt")
    (tmp_path / "head.tif").write_bytes(data[:6])
    assert_read_error(tmp_path / "head.tif", "truncated or corrupt")


@pytest.mark.parametrize("suffix", [".bmp", ".webp"])
def test_truncated_bmp_and_webp(tmp_path, rgb8, suffix):
    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, "BMP" if suffix == ".bmp" else "WEBP", lossless=True)
    data = buf.getvalue()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    assert_read_error(tmp_path / f"cut{suffix}", "corrupt")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions and a non-root user")
def test_unreadable_file(tmp_path, rgb8):
    path = write_image(tmp_path / "secret.png", rgb8)
    path.chmod(0)
    try:
        assert_read_error(path, "permission denied")
    finally:
        path.chmod(0o644)


# ------------------------------------------------------------------------------------------------------------------
# safe writing
# ------------------------------------------------------------------------------------------------------------------


def test_write_into_missing_folder(tmp_path, rgb8):
    with pytest.raises(ImageWriteError, match="folder does not exist") as info:
        write_image(tmp_path / "missing" / "out.png", rgb8)
    assert "out.png" in str(info.value)
    assert files_in(tmp_path) == []


def test_write_where_parent_is_a_file(tmp_path, rgb8):
    (tmp_path / "file.txt").write_text("x")
    for target in (tmp_path / "file.txt" / "out.png", tmp_path / "file.txt" / "deeper" / "out.tif"):
        with pytest.raises(ImageWriteError, match="is not a folder"):
            write_image(target, rgb8)
    assert files_in(tmp_path) == ["file.txt"]


def test_write_onto_a_folder(tmp_path, rgb8):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(ImageWriteError, match="folder"):
        write_image(tmp_path / "out.png", rgb8, overwrite=True)


def test_existing_target_is_not_overwritten(tmp_path, rgb8, gray8):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match="file exists; not overwritten"):
        write_image(target, rgb8)
    assert target.read_bytes() == b"precious"
    assert files_in(tmp_path) == ["out.png"]
    write_image(target, gray8, overwrite=True)
    np.testing.assert_array_equal(read_image(target).pixels, gray8)
    assert files_in(tmp_path) == ["out.png"]


def test_protected_input_is_never_written(tmp_path, rgb8, gray8):
    src = write_image(tmp_path / "input.png", gray8)
    before = src.read_bytes()
    aliases = [src, str(src), tmp_path / "." / "input.png"]
    link = tmp_path / "link.png"
    try:
        link.symlink_to(src)
        aliases.append(link)
    except OSError:
        pass
    for alias in aliases:
        with pytest.raises(ImageWriteError, match="input file"):
            write_image(alias, rgb8, overwrite=True, protect=[src])
        with pytest.raises(ImageWriteError, match="input file"):
            write_image(src, rgb8, overwrite=True, protect=[alias])
    assert src.read_bytes() == before
    out = write_image(tmp_path / "output.png", rgb8, overwrite=True, protect=[src])
    assert out.exists()


def test_no_temp_files_after_success(tmp_path, rgb16, exif_bytes):
    for name in ("a.png", "a.tif", "a.jpg"):
        write_image(tmp_path / name, rgb16, exif=exif_bytes, icc=srgb_icc_profile())
    assert files_in(tmp_path) == ["a.jpg", "a.png", "a.tif"]


def test_failed_write_leaves_nothing(tmp_path, rgb8, monkeypatch):
    # Simulate the disk filling up at fsync time (after the data was written to the temporary file).
    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    for name in ("a.png", "a.tif", "a.jpg"):
        with pytest.raises(ImageWriteError, match="disk is full"):
            write_image(tmp_path / name, rgb8)
    assert files_in(tmp_path) == []


def test_failed_overwrite_keeps_old_file(tmp_path, rgb8, monkeypatch):
    target = tmp_path / "a.png"
    target.write_bytes(b"old")

    def broken(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(ImageWriteError, match="cannot write"):
        write_image(target, rgb8, overwrite=True)
    assert target.read_bytes() == b"old"
    assert files_in(tmp_path) == ["a.png"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions and a non-root user")
def test_write_permission_denied(tmp_path, rgb8):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ImageWriteError, match="permission denied"):
            write_image(folder / "a.png", rgb8)
    finally:
        folder.chmod(0o755)
    assert files_in(folder) == []


def test_new_file_gets_normal_permissions(tmp_path, rgb8):
    out = write_image(tmp_path / "a.png", rgb8)
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_argument_errors(tmp_path, rgb8):
    with pytest.raises(ImageWriteError, match="unsupported output"):
        write_image(tmp_path / "a.gif", rgb8)
    with pytest.raises(ImageWriteError, match="unsupported output"):
        write_image(tmp_path / "a.png", rgb8, format="GIF")
    with pytest.raises(TypeError):
        write_image(tmp_path / "a.png", rgb8.astype(np.float32))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", rgb8, bit_depth=12)
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.jpg", rgb8, quality=0)
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.jpg", rgb8, exif=b"not exif at all")
    assert files_in(tmp_path) == []
