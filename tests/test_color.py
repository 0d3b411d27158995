"""Checks :mod:`polychrome.core.color` against an independent float64 reference.

The reference below is written directly from the standards, not from the module under test:

* IEC 61966-2-1 (sRGB): the piecewise transfer function (linear segment below 0.04045, slope 1/12.92,
  power 2.4 with offset 0.055 above) and the linear-RGB -> XYZ matrix;
* CIE 15 (CIELAB): f(t) = t^(1/3) above (6/29)^3, the linear segment t / (3 (6/29)^2) + 4/29 below;
  L* = 116 f(Y/Yn) - 16, a* = 500 (f(X/Xn) - f(Y/Yn)), b* = 200 (f(Y/Yn) - f(Z/Zn)).

The white point is the matrix applied to RGB (1, 1, 1), so neutral colours have a* = b* = 0 exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from polychrome.core import color

# ---------------------------------------------------------------------------------------------------------------
# Reference implementation (float64, straight from the formulas)
# ---------------------------------------------------------------------------------------------------------------

_M_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = _M_SRGB_TO_XYZ @ np.ones(3)
_T0 = (6.0 / 29.0) ** 3


def ref_decode(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded value (0..1) -> linear light."""
    v = np.asarray(v, dtype=np.float64)
    out = np.empty_like(v)
    low = v <= 0.04045
    out[low] = v[low] / 12.92
    out[~low] = ((v[~low] + 0.055) / 1.055) ** 2.4
    return out


def ref_f(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    out = np.empty_like(t)
    high = t > _T0
    out[high] = np.cbrt(t[high])
    out[~high] = t[~high] / (3.0 * (6.0 / 29.0) ** 2) + 4.0 / 29.0
    return out


def ref_lab(rgb01: np.ndarray) -> np.ndarray:
    """Float64 sRGB (..., 3) in 0..1 -> CIELAB (..., 3)."""
    lin = ref_decode(rgb01)
    xyz = np.einsum("ij,...j->...i", _M_SRGB_TO_XYZ, lin)
    fx, fy, fz = (ref_f(xyz[..., i] / _WHITE[i]) for i in range(3))
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def ref_lightness(gray01: np.ndarray) -> np.ndarray:
    """L* of a neutral sRGB gray (R = G = B = gray01)."""
    return 116.0 * ref_f(ref_decode(gray01)) - 16.0  # Y/Yn of a neutral is its linear value


def _grid(n: int = 33) -> np.ndarray:
    """Every combination of ``n`` evenly spaced levels per channel, in 0..1, shape (n**3, 3)."""
    lv = np.linspace(0.0, 1.0, n)
    return np.stack(np.meshgrid(lv, lv, lv, indexing="ij"), axis=-1).reshape(-1, 3)


def _max_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


GRID = _grid()
GRID_U8 = np.rint(GRID * 255.0).astype(np.uint8)
GRID_U16 = np.rint(GRID * 65535.0).astype(np.uint16)
ALL_U8 = np.arange(256, dtype=np.uint8)
ALL_U16 = np.arange(65536, dtype=np.uint16)


def test_reference_sanity():
    # The reference itself: white point, continuity of the pieces, known anchor values.
    assert np.allclose(_WHITE, [0.95047, 1.0, 1.08883], atol=1e-6)
    assert abs(0.04045 / 12.92 - ((0.04045 + 0.055) / 1.055) ** 2.4) < 1e-6
    assert abs(_T0 / (3 * (6 / 29) ** 2) + 4 / 29 - 6 / 29) < 1e-15
    assert np.allclose(ref_lab(np.array([1.0, 1.0, 1.0])), [100.0, 0.0, 0.0], atol=1e-12)
    assert np.allclose(ref_lab(np.array([0.0, 0.0, 0.0])), [0.0, 0.0, 0.0], atol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# srgb_to_lab
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inp, ref01",
    [
        pytest.param(GRID.astype(np.float32), GRID.astype(np.float32).astype(np.float64), id="float32"),
        pytest.param(GRID, GRID, id="float64"),
        pytest.param(GRID_U8, GRID_U8 / 255.0, id="uint8"),
        pytest.param(GRID_U16, GRID_U16 / 65535.0, id="uint16"),
    ],
)
def test_srgb_to_lab_matches_reference_on_grid(inp, ref01):
    lab = color.srgb_to_lab(inp)
    assert lab.dtype == np.float32
    assert lab.shape == inp.shape
    assert _max_err(lab, ref_lab(ref01)) < 0.01


def test_srgb_to_lab_all_uint8_and_uint16_grays():
    for grays, scale in ((ALL_U8, 255.0), (ALL_U16, 65535.0)):
        rgb = np.repeat(grays[:, None], 3, axis=1)
        lab = color.srgb_to_lab(rgb)
        assert _max_err(lab[:, 0], ref_lightness(grays / scale)) < 0.01
        assert _max_err(lab[:, 1:], 0.0) < 0.01


def test_srgb_to_lab_every_uint8_value_per_channel():
    # Each channel alone through all 256 codes (the others at 0 and at 255): covers the piecewise knee densely.
    v = np.arange(256)
    for other in (0, 255):
        for ch in range(3):
            rgb = np.full((256, 3), other, dtype=np.uint8)
            rgb[:, ch] = v
            assert _max_err(color.srgb_to_lab(rgb), ref_lab(rgb / 255.0)) < 0.01


def test_srgb_to_lab_keeps_image_shape():
    img = (GRID_U8[:1000].reshape(10, 25, 4, 3)).copy()
    lab = color.srgb_to_lab(img)
    assert lab.shape == img.shape
    assert _max_err(lab, ref_lab(img / 255.0)) < 0.01


def test_srgb_to_lab_rejects_non_rgb():
    with pytest.raises(ValueError):
        color.srgb_to_lab(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(TypeError):
        color.srgb_to_lab(np.zeros((4, 4, 3), dtype=np.int32))


# ---------------------------------------------------------------------------------------------------------------
# Known values
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0), (np.float64, 1.0)])
def test_white_and_black(dtype, top):
    rgb = np.array([[top, top, top], [0, 0, 0]], dtype=dtype)
    lab = color.srgb_to_lab(rgb)
    assert np.allclose(lab[0], [100.0, 0.0, 0.0], atol=1e-3)
    assert np.allclose(lab[1], [0.0, 0.0, 0.0], atol=1e-6)


# Published sRGB (D65) -> CIELAB values (the usual tables, e.g. Lindbloom's calculator with the sRGB matrix).
KNOWN = [
    ((255, 0, 0), (53.2408, 80.0925, 67.2032)),
    ((0, 255, 0), (87.7347, -86.1827, 83.1793)),
    ((0, 0, 255), (32.2970, 79.1875, -107.8602)),
    ((255, 255, 0), (97.1393, -21.5537, 94.4780)),
    ((0, 255, 255), (91.1132, -48.0875, -14.1312)),
    ((255, 0, 255), (60.3199, 98.2542, -60.8430)),
    ((128, 128, 128), (53.5850, 0.0, 0.0)),
]


@pytest.mark.parametrize("rgb, lab", KNOWN)
def test_published_values(rgb, lab):
    got = color.srgb_to_lab(np.array(rgb, dtype=np.uint8))
    assert _max_err(got, lab) < 0.05
    # ... and the uint16 / float encodings of the same colour agree.
    got16 = color.srgb_to_lab(np.array(rgb, dtype=np.uint16) * 257)
    gotf = color.srgb_to_lab(np.array(rgb, dtype=np.float64) / 255.0)
    assert _max_err(got16, got) < 1e-3
    assert _max_err(gotf, got) < 1e-3


# ---------------------------------------------------------------------------------------------------------------
# lab_to_srgb
# ---------------------------------------------------------------------------------------------------------------


def test_round_trip_rgb_lab_rgb():
    for inp, ref01 in ((GRID, GRID), (GRID_U8, GRID_U8 / 255.0), (GRID_U16, GRID_U16 / 65535.0)):
        back = color.lab_to_srgb(color.srgb_to_lab(inp))
        assert back.dtype == np.float32
        assert _max_err(back, ref01) < 1e-4


def test_lab_to_srgb_inverts_reference_lab():
    # Feed the float64 reference Lab in: lab_to_srgb must be the inverse of the standard forward transform.
    back = color.lab_to_srgb(ref_lab(GRID))
    assert _max_err(back, GRID) < 1e-4


def test_lab_to_srgb_clipping():
    lab = np.array([[50.0, 120.0, -120.0], [110.0, 0.0, 0.0], [-5.0, 0.0, 0.0]])
    clipped = color.lab_to_srgb(lab)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    raw = color.lab_to_srgb(lab, clip=False)
    assert raw.min() < 0.0 and raw.max() > 1.0


def test_linear_transfer_functions():
    v = np.linspace(0.0, 1.0, 4097)
    lin = color.srgb_to_linear(v)
    assert _max_err(lin, ref_decode(v)) < 1e-6
    assert _max_err(color.linear_to_srgb(lin), v) < 1e-5
    # Continuity at the knee.
    assert _max_err(color.srgb_to_linear(np.array([0.04045])), 0.04045 / 12.92) < 1e-7


def test_to_float01():
    assert color.to_float01(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert color.to_float01(np.array([0, 65535], np.uint16)).tolist() == [0.0, 1.0]
    f = color.to_float01(np.array([0.25, 0.5]))
    assert f.dtype == np.float32 and f.tolist() == [0.25, 0.5]
    with pytest.raises(TypeError):
        color.to_float01(np.array([1, 2], dtype=np.int64))


# ---------------------------------------------------------------------------------------------------------------
# Gray helpers
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grays, scale",
    [
        pytest.param(ALL_U8, 255.0, id="uint8"),
        pytest.param(ALL_U16, 65535.0, id="uint16"),
        pytest.param(np.linspace(0.0, 1.0, 10001), 1.0, id="float64"),
        pytest.param(np.linspace(0.0, 1.0, 10001).astype(np.float32), 1.0, id="float32"),
    ],
)
def test_gray_to_lightness(grays, scale):
    L = color.gray_to_lightness(grays)
    assert L.dtype == np.float32 and L.shape == grays.shape
    assert _max_err(L, ref_lightness(np.asarray(grays, np.float64) / scale)) < 0.01
    # Same as the L* channel of the gray replicated to three channels.
    lab = color.srgb_to_lab(np.repeat(grays[:, None], 3, axis=1))
    assert _max_err(L, lab[:, 0]) < 0.01
    # Monotone (non-decreasing; strictly increasing in exact arithmetic).
    assert np.all(np.diff(L.astype(np.float64)) >= 0)


def test_gray_to_lightness_2d_image():
    img = (np.arange(64 * 48, dtype=np.uint32) % 65536).astype(np.uint16).reshape(64, 48)
    L = color.gray_to_lightness(img)
    assert L.shape == img.shape
    assert _max_err(L, ref_lightness(img / 65535.0)) < 0.01


def test_lightness_to_gray_inverts_gray_to_lightness():
    # Integer codes come back exactly after rounding; floats to well within a uint16 step.
    for grays, scale in ((ALL_U8, 255.0), (ALL_U16, 65535.0)):
        g = color.lightness_to_gray(color.gray_to_lightness(grays))
        assert g.dtype == np.float32
        assert np.array_equal(np.rint(g.astype(np.float64) * scale).astype(grays.dtype), grays)
    v = np.linspace(0.0, 1.0, 10001)
    assert _max_err(color.lightness_to_gray(color.gray_to_lightness(v)), v) < 1e-5
    # And against the reference L*: lightness_to_gray(ref_L(v)) = v.
    assert _max_err(color.lightness_to_gray(ref_lightness(v)), v) < 1e-5


def test_lightness_to_gray_clips():
    g = color.lightness_to_gray(np.array([-10.0, 0.0, 100.0, 120.0]))
    assert g.tolist() == pytest.approx([0.0, 0.0, 1.0, 1.0], abs=1e-6)


@pytest.mark.parametrize(
    "inp, scale, tol",
    [
        pytest.param(GRID_U8, 255.0, 0.5, id="uint8"),
        pytest.param(GRID_U16, 65535.0, 0.01, id="uint16"),
        pytest.param(GRID, 1.0, 0.01, id="float64"),
    ],
)
def test_rgb_to_gray_keeps_lightness(inp, scale, tol):
    img = inp.reshape(33 * 33, 33, 3)
    gray = color.rgb_to_gray(img)
    assert gray.shape == img.shape[:2]
    if inp.dtype != np.float64:
        assert gray.dtype == inp.dtype
    L_ref = ref_lab(img / scale)[..., 0]
    # L* of the produced neutral gray, by the reference...
    assert _max_err(ref_lightness(gray / scale), L_ref) < tol
    # ... and by the module, via a three-channel neutral image: L* kept, a* = b* = 0.
    lab = color.srgb_to_lab(np.repeat(gray[..., None], 3, axis=-1))
    assert _max_err(lab[..., 0], L_ref) < tol
    assert _max_err(lab[..., 1:], 0.0) < 0.01


def test_rgb_to_gray_of_gray_is_identity():
    img = np.repeat(ALL_U8[:, None], 3, axis=1).reshape(16, 16, 3)
    assert np.array_equal(color.rgb_to_gray(img), img[..., 0])
    img16 = np.repeat(ALL_U16[::257, None], 3, axis=1).reshape(16, 16, 3)
    assert np.array_equal(color.rgb_to_gray(img16), img16[..., 0])


# ---------------------------------------------------------------------------------------------------------------
# Edge cases: out-of-range floats (resize overshoot) and big-endian 16-bit data (Pillow I;16B)
# ---------------------------------------------------------------------------------------------------------------


def test_out_of_range_float_input_warns_nothing():
    v = np.array([[-0.1, 0.5, 1.2]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lab = color.srgb_to_lab(v)
        L = color.gray_to_lightness(v[0, :1])
    # The values themselves are right: the linear segment is used below 0.04045.
    assert _max_err(lab, ref_lab(v)) < 0.01
    assert _max_err(L, ref_lightness(v[0, :1])) < 0.01


def test_big_endian_uint16_is_accepted():
    native = np.array([[0, 1000, 65535]], dtype=np.uint16)
    swapped = native.astype(native.dtype.newbyteorder("S"))
    assert _max_err(color.srgb_to_lab(swapped), color.srgb_to_lab(native)) == 0.0
    assert _max_err(color.gray_to_lightness(swapped), color.gray_to_lightness(native)) == 0.0
