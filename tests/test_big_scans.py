"""Big scans: the merge and the encoders in bands equal the whole-image paths (odd sizes, 8 and 16 bit)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from polychrome.core import imageio
from polychrome.core.errors import ImageWriteError
from polychrome.core.imageio import Bands
from polychrome.core.merge import (
    STRIP_ROWS,
    _guided_upsample,
    lightness,
    merge_bands,
    merge_full_resolution,
    merge_lab,
    resized_lightness,
    upsample_ab_fixed,
)


def _gray(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    maxv = 255 if dtype == np.uint8 else 65535
    g = cv2.resize((rng.random((9, 13)) * 0.85 + 0.1).astype(np.float32), (shape[1], shape[0]),
                   interpolation=cv2.INTER_CUBIC)
    g += rng.standard_normal(shape).astype(np.float32) * 0.02
    return np.clip(g * maxv, 0, maxv).astype(dtype)


def _vivid_ab(h=13, w=19, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((h, w, 2)) * 35).astype(np.float32)  # some colours fall outside sRGB


def _whole_image_reference(pixels, ab, method, gamut_map, out_dtype):
    """The previous path: full-resolution L* and full-resolution int16 ab, merged whole."""
    L = lightness(pixels)
    guide = L if method == "guided" else None
    ab_fixed = _guided_upsample(ab, L) if method == "guided" else upsample_ab_fixed(ab, L.shape, method, guide)
    return merge_lab(L, ab_fixed, out_dtype, gamut_map=gamut_map)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("method", ["bicubic", "bilinear", "nearest", "guided"])
def test_bands_equal_whole_and_the_previous_path(dtype, method):
    gray = _gray((203, 311), dtype)  # odd sizes: the last band is short, the upsampling ratio is not whole
    ab = _vivid_ab()
    whole = merge_full_resolution(gray, ab, method=method)
    got = list(merge_bands(gray, ab, method=method))
    assert [y0 for y0, _ in got] == list(range(0, 203, STRIP_ROWS))
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), whole)
    for gamut_map in (True, False):
        ref = _whole_image_reference(gray, ab, method, gamut_map, dtype)
        new = merge_full_resolution(gray, ab, method=method, gamut_map=gamut_map)
        diff = np.abs(ref.astype(np.int64) - new)
        level = 1 if dtype == np.uint8 else 257  # one 8-bit level
        assert diff.max() <= level, (method, gamut_map, diff.max())


def test_bands_of_an_rgb_source_and_a_single_row():
    rng = np.random.default_rng(3)
    rgb = (rng.random((37, 29, 3)) * 255).astype(np.uint8)
    ab = _vivid_ab(5, 7)
    np.testing.assert_array_equal(np.concatenate([b for _, b in merge_bands(rgb, ab)]), merge_full_resolution(rgb, ab))
    one = _gray((1, 57), np.uint8)
    assert np.abs(merge_full_resolution(one, ab).astype(int) - _whole_image_reference(one, ab, "bicubic", True,
                                                                                         np.uint8)).max() <= 1


def test_network_input_from_bands_equals_the_whole_lightness():
    gray = _gray((1001, 777), np.uint16)
    want = cv2.resize(lightness(gray), (64, 83), interpolation=cv2.INTER_AREA)
    got = resized_lightness(gray, (83, 64), cv2.INTER_AREA)
    np.testing.assert_allclose(got, want, atol=1e-3)


@pytest.mark.parametrize("fmt", ["png", "tif", "jpg"])
@pytest.mark.parametrize("shape,dtype", [((1033, 2101), np.uint8), ((1111, 1203, 3), np.uint8),
                                         ((301, 517, 3), np.uint16), ((97, 41), np.uint16)])
def test_band_encoders_write_the_pixels_of_the_whole_image_encoders(tmp_path, fmt, shape, dtype):
    rng = np.random.default_rng(4)
    a = np.clip(np.cumsum(rng.standard_normal(shape), axis=0) * 3 + 128, 0, 255).astype(np.uint8)
    if dtype == np.uint16:
        a = a.astype(np.uint16) * 257 + rng.integers(0, 200, shape).astype(np.uint16)
    icc = imageio.srgb_icc_profile()
    whole = imageio.write_image(tmp_path / f"whole.{fmt}", a, icc=icc)
    bands = Bands(a.shape, a.dtype, (a[y : y + 37] for y in range(0, a.shape[0], 37)))
    banded = imageio.write_image(tmp_path / f"bands.{fmt}", bands, icc=icc)
    w, b = imageio.read_image(whole), imageio.read_image(banded)
    np.testing.assert_array_equal(b.pixels, w.pixels)  # JPEG too: same blocks and tables, restart markers only
    assert b.icc == icc
    if fmt == "jpg":
        np.testing.assert_array_equal(np.asarray(Image.open(banded)), b.pixels)  # a second decoder agrees
        if shape[0] > 1000:
            assert b"\xff\xdd" in banded.read_bytes()  # written in bands with restart markers


def test_bands_that_do_not_add_up_are_refused(tmp_path):
    a = np.zeros((40, 30), np.uint8)
    with pytest.raises(ImageWriteError, match="the bands hold 20 rows, the image has 40"):
        imageio.write_image(tmp_path / "short.png", Bands(a.shape, a.dtype, iter([a[:20]])))
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_colorize_writes_what_the_whole_image_path_writes(tmp_path, known_model, bins):
    from polychrome.runtime.colorizer import Colorizer
    from polychrome.runtime.pipeline import ExportOptions, colorize_file

    src = tmp_path / "scan.tif"
    imageio.write_image(src, _gray((307, 451), np.uint16))
    col = Colorizer(known_model)
    (tmp_path / "out").mkdir()
    out = colorize_file(col, src, ExportOptions(out_dir=tmp_path / "out"))
    image = imageio.read_image(src)
    whole = col.predict(image.pixels).render(col.default_T, out_dtype=np.uint16)
    got = imageio.read_image(out).pixels
    assert got.dtype == np.uint16 and got.shape == whole.shape
    assert np.abs(got.astype(np.int64) - whole).max() <= 257
