"""Tests for :mod:`polychrome.core.metrics`."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from polychrome.core import metrics as M
from polychrome.core.color import srgb_to_lab

# ---------------------------------------------------------------------------------------------------------------
# CIEDE2000
# ---------------------------------------------------------------------------------------------------------------

# All 34 test pairs of Sharma, Wu & Dalal, "The CIEDE2000 Color-Difference Formula: Implementation Notes,
# Supplementary Test Data, and Mathematical Observations", Color Res. Appl. 30(1), 2005 (Table 1):
# (L1, a1, b1, L2, a2, b2, ΔE00), kL = kC = kH = 1.
SHARMA_2005 = [
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]
_TABLE = np.array(SHARMA_2005, dtype=np.float64)
LAB1, LAB2, DE_PUBLISHED = _TABLE[:, 0:3], _TABLE[:, 3:6], _TABLE[:, 6]


def test_sharma_table_is_complete():
    assert len(SHARMA_2005) == 34


def test_delta_e2000_published_pairs_vectorised():
    de = M.delta_e2000(LAB1, LAB2)
    assert de.dtype == np.float64 and de.shape == (34,)
    # The table gives 4 decimals: agree to within half a unit of the last place.
    np.testing.assert_allclose(de, DE_PUBLISHED, rtol=0, atol=5e-5)
    np.testing.assert_array_equal(np.round(de, 4), DE_PUBLISHED)


@pytest.mark.parametrize("i", range(34), ids=[f"pair{i + 1}" for i in range(34)])
def test_delta_e2000_published_pair_and_symmetry(i):
    forward = M.delta_e2000(LAB1[i], LAB2[i])
    backward = M.delta_e2000(LAB2[i], LAB1[i])
    assert forward.shape == ()
    assert float(forward) == pytest.approx(DE_PUBLISHED[i], abs=5e-5)
    assert float(backward) == pytest.approx(float(forward), abs=1e-12)


def _ref_ciede2000(lab1, lab2, kL=1.0, kC=1.0, kH=1.0) -> float:
    """Scalar pure-Python CIEDE2000, written line by line from Sharma et al. (2005), eqs. (1)-(17)."""
    L1, a1, b1 = (float(v) for v in lab1)
    L2, a2, b2 = (float(v) for v in lab2)
    C1, C2 = math.sqrt(a1 * a1 + b1 * b1), math.sqrt(a2 * a2 + b2 * b2)
    Cb = (C1 + C2) / 2.0
    G = 0.5 * (1.0 - math.sqrt(Cb**7 / (Cb**7 + 25.0**7)))
    a1p, a2p = (1.0 + G) * a1, (1.0 + G) * a2
    C1p, C2p = math.sqrt(a1p * a1p + b1 * b1), math.sqrt(a2p * a2p + b2 * b2)

    def hue(b, ap):
        if b == 0.0 and ap == 0.0:
            return 0.0
        return math.degrees(math.atan2(b, ap)) % 360.0

    h1p, h2p = hue(b1, a1p), hue(b2, a2p)
    dLp = L2 - L1
    dCp = C2p - C1p
    if C1p * C2p == 0.0:
        dhp = 0.0
    elif h2p - h1p > 180.0:
        dhp = h2p - h1p - 360.0
    elif h2p - h1p < -180.0:
        dhp = h2p - h1p + 360.0
    else:
        dhp = h2p - h1p
    dHp = 2.0 * math.sqrt(C1p * C2p) * math.sin(math.radians(dhp / 2.0))
    Lbp = (L1 + L2) / 2.0
    Cbp = (C1p + C2p) / 2.0
    if C1p * C2p == 0.0:
        hbp = h1p + h2p
    elif abs(h1p - h2p) <= 180.0:
        hbp = (h1p + h2p) / 2.0
    elif h1p + h2p < 360.0:
        hbp = (h1p + h2p + 360.0) / 2.0
    else:
        hbp = (h1p + h2p - 360.0) / 2.0
    T = (
        1.0
        - 0.17 * math.cos(math.radians(hbp - 30.0))
        + 0.24 * math.cos(math.radians(2.0 * hbp))
        + 0.32 * math.cos(math.radians(3.0 * hbp + 6.0))
        - 0.20 * math.cos(math.radians(4.0 * hbp - 63.0))
    )
    dtheta = 30.0 * math.exp(-(((hbp - 275.0) / 25.0) ** 2))
    RC = 2.0 * math.sqrt(Cbp**7 / (Cbp**7 + 25.0**7))
    SL = 1.0 + 0.015 * (Lbp - 50.0) ** 2 / math.sqrt(20.0 + (Lbp - 50.0) ** 2)
    SC = 1.0 + 0.045 * Cbp
    SH = 1.0 + 0.015 * Cbp * T
    RT = -math.sin(math.radians(2.0 * dtheta)) * RC
    x, y, z = dLp / (kL * SL), dCp / (kC * SC), dHp / (kH * SH)
    return math.sqrt(x * x + y * y + z * z + RT * y * z)


def test_scalar_reference_reproduces_published_table():
    # The in-test reference is itself checked against the published data before it is used as an oracle.
    ref = [_ref_ciede2000(p[0:3], p[3:6]) for p in SHARMA_2005]
    np.testing.assert_allclose(ref, DE_PUBLISHED, atol=5e-5)


def _random_lab_pairs(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    lab1 = np.column_stack([rng.uniform(0, 100, n), rng.uniform(-110, 110, n), rng.uniform(-110, 110, n)])
    lab2 = lab1 + rng.normal(0.0, 8.0, (n, 3))
    # Edge cases mixed in: zero chroma on either side, nearly opposite hues (0.01° off, on both sides of the
    # discontinuity at 180°), exactly opposite hues on the axes (where atan2 is exact), equal colours, hue across
    # 0°/360°.
    lab1[:50, 1:] = 0.0
    lab2[50:100, 1:] = 0.0
    turn = np.radians(180.0 + 0.01 * rng.choice([-1.0, 1.0], 50))
    cos_t, sin_t = np.cos(turn), np.sin(turn)
    a, b = lab1[100:150, 1], lab1[100:150, 2]
    lab2[100:150, 1:] = np.column_stack([a * cos_t - b * sin_t, a * sin_t + b * cos_t])
    axis = rng.choice([-1.0, 1.0], 25) * rng.uniform(1, 60, 25)
    lab1[125:150, 1:], lab2[125:150, 1:] = 0.0, 0.0
    lab1[125:138, 1], lab2[125:138, 1] = axis[:13], -axis[:13]
    lab1[138:150, 2], lab2[138:150, 2] = axis[13:], -axis[13:]
    lab2[150:200] = lab1[150:200]
    lab1[200:250, 1:] = np.column_stack([rng.uniform(5, 40, 50), rng.uniform(0.0, 0.5, 50)])
    lab2[200:250, 1:] = np.column_stack([rng.uniform(5, 40, 50), -rng.uniform(0.0, 0.5, 50)])
    return lab1, lab2


def test_delta_e2000_matches_scalar_reference_on_random_and_edge_pairs():
    lab1, lab2 = _random_lab_pairs(3000)
    got = M.delta_e2000(lab1, lab2)
    ref = np.array([_ref_ciede2000(p, q) for p, q in zip(lab1, lab2)])
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(M.delta_e2000(lab2, lab1), got, rtol=0, atol=1e-10)
    assert np.all(got[150:200] == 0.0)


def test_delta_e2000_exactly_opposite_hues_take_the_continuous_branch():
    # For (a', b) and its exact negative, |h'1 - h'2| = 180: Sharma et al. put this on the "<= 180" side (plain
    # average of the hues), whatever atan2 happens to round to. That side is the limit of a pair whose hue
    # difference is just below 180, so the result must be continuous with such a pair.
    rng = np.random.default_rng(11)
    n = 200
    lab1 = np.column_stack([rng.uniform(0, 100, n), rng.uniform(-80, 80, n), rng.uniform(-80, 80, n)])
    lab2 = np.column_stack([rng.uniform(0, 100, n), -lab1[:, 1], -lab1[:, 2]])
    got = M.delta_e2000(lab1, lab2)
    np.testing.assert_allclose(M.delta_e2000(lab2, lab1), got, atol=1e-10)
    for p, q, de in zip(lab1, lab2, got):
        # Turn q by 1e-7 degrees so that the hue difference becomes 180 - 1e-7 (same sign as h'2 - h'1).
        h1 = math.degrees(math.atan2(p[2], p[1])) % 360.0
        h2 = math.degrees(math.atan2(q[2], q[1])) % 360.0
        eps = math.radians(-1e-7 if h2 > h1 else 1e-7)
        q_near = [q[0], q[1] * math.cos(eps) - q[2] * math.sin(eps), q[1] * math.sin(eps) + q[2] * math.cos(eps)]
        assert de == pytest.approx(_ref_ciede2000(p, q_near), rel=1e-6)


def test_delta_e2000_parametric_weights():
    lab1, lab2 = _random_lab_pairs(500, seed=7)
    for kL, kC, kH in ((2.0, 1.0, 1.0), (1.0, 2.0, 0.5), (1.5, 1.0, 3.0)):
        got = M.delta_e2000(lab1, lab2, kL=kL, kC=kC, kH=kH)
        ref = [_ref_ciede2000(p, q, kL, kC, kH) for p, q in zip(lab1, lab2)]
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    # A pure lightness difference scales exactly with 1 / kL.
    a, b = np.array([40.0, 10.0, -5.0]), np.array([55.0, 10.0, -5.0])
    assert float(M.delta_e2000(a, b, kL=2.0)) == pytest.approx(float(M.delta_e2000(a, b)) / 2.0, rel=1e-12)


def test_delta_e2000_shapes_broadcasting_and_blocks():
    rng = np.random.default_rng(3)
    # More pixels than one internal block, as an image: the block loop must not change any value.
    hw = (300, 310)
    img1 = np.stack([rng.uniform(0, 100, hw), rng.normal(0, 30, hw), rng.normal(0, 30, hw)], -1)
    img2 = img1 + rng.normal(0, 3, img1.shape)
    de = M.delta_e2000(img1, img2)
    assert de.shape == (300, 310) and de.dtype == np.float64
    np.testing.assert_array_equal(de.ravel(), M.delta_e2000(img1.reshape(-1, 3), img2.reshape(-1, 3)))
    sample = [(17, 5), (299, 309), (150, 0)]
    for i, j in sample:
        assert de[i, j] == pytest.approx(_ref_ciede2000(img1[i, j], img2[i, j]), abs=1e-6)
    # One colour against a whole image broadcasts; float32 input is accepted.
    ref_colour = np.array([50.0, 0.0, 0.0])
    de_b = M.delta_e2000(ref_colour, img2.astype(np.float32))
    assert de_b.shape == (300, 310)
    assert de_b[4, 4] == pytest.approx(_ref_ciede2000(ref_colour, img2[4, 4].astype(np.float32)), abs=1e-6)
    assert M.delta_e2000(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0,)
    with pytest.raises(ValueError):
        M.delta_e2000(np.zeros((4, 2)), np.zeros((4, 2)))


def test_delta_e_map_and_mean():
    rng = np.random.default_rng(5)
    target = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    pred = np.clip(target.astype(int) + rng.integers(-30, 31, target.shape), 0, 255).astype(np.uint8)
    emap = M.delta_e_map(pred, target)
    assert emap.shape == (40, 50) and emap.dtype == np.float32
    expected = M.delta_e2000(srgb_to_lab(pred), srgb_to_lab(target))
    np.testing.assert_allclose(emap, expected, rtol=1e-6)
    assert M.mean_delta_e2000(pred, target) == pytest.approx(float(expected.mean()), rel=1e-12)
    assert M.mean_delta_e2000(target, target) == 0.0
    assert M.mean_delta_e2000(pred, target) == pytest.approx(M.mean_delta_e2000(target, pred), rel=1e-9)
    with pytest.raises(ValueError):
        M.mean_delta_e2000(pred, target[:-1])


# ---------------------------------------------------------------------------------------------------------------
# PSNR
# ---------------------------------------------------------------------------------------------------------------


def test_psnr_known_value_and_identity():
    target = np.full((16, 16, 3), 0.25)
    assert M.psnr(target + 0.1, target) == pytest.approx(20.0, abs=1e-9)  # MSE 0.01 -> 20 dB
    assert M.psnr(target + 0.01, target) == pytest.approx(40.0, abs=1e-9)
    assert M.psnr(target, target) == math.inf
    u8 = np.full((8, 8, 3), 100, np.uint8)
    assert M.psnr(u8, u8) == math.inf
    # MSE = (10 / 255)^2 -> 20 log10(25.5)
    assert M.psnr(u8 + 10, u8) == pytest.approx(20.0 * math.log10(25.5), abs=1e-9)


def test_psnr_data_range():
    target = np.full((4, 4), 0.5)
    assert M.psnr(target + 0.1, target, data_range=2.0) == pytest.approx(20.0 + 20.0 * math.log10(2.0), abs=1e-9)
    assert M.psnr(target + 0.1, target, data_range=1.0) == pytest.approx(20.0, abs=1e-9)


def test_psnr_is_dtype_independent():
    rng = np.random.default_rng(0)
    a8 = rng.integers(0, 256, (32, 24, 3), dtype=np.uint8)
    b8 = rng.integers(0, 256, (32, 24, 3), dtype=np.uint8)
    expected = M.psnr(a8, b8)
    assert M.psnr(a8 / 255.0, b8 / 255.0) == pytest.approx(expected, abs=1e-9)
    a32, b32 = (a8 / 255.0).astype(np.float32), (b8 / 255.0).astype(np.float32)
    assert M.psnr(a32, b32) == pytest.approx(expected, abs=1e-5)
    assert M.psnr(a8.astype(np.uint16) * 257, b8.astype(np.uint16) * 257) == pytest.approx(expected, abs=1e-9)
    assert M.psnr(a8, b8.astype(np.uint16) * 257) == pytest.approx(expected, abs=1e-9)  # mixed dtypes
    # Against a direct formula.
    mse = np.mean((a8 / 255.0 - b8 / 255.0) ** 2)
    assert expected == pytest.approx(10 * math.log10(1.0 / mse), abs=1e-9)


def test_psnr_rejects_bad_input():
    with pytest.raises(ValueError):
        M.psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(TypeError):
        M.psnr(np.zeros((4, 4), np.int32), np.zeros((4, 4), np.int32))


# ---------------------------------------------------------------------------------------------------------------
# SSIM
# ---------------------------------------------------------------------------------------------------------------


def _ref_ssim_gray(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. (2004) SSIM, float64, 11x11 Gaussian window (sigma 1.5), valid windows only, range 1."""
    r = np.arange(11) - 5.0
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    w /= w.sum()
    wx = sliding_window_view(x, (11, 11))
    wy = sliding_window_view(y, (11, 11))
    mx = np.einsum("ijkl,kl->ij", wx, w)
    my = np.einsum("ijkl,kl->ij", wy, w)
    sxx = np.einsum("ijkl,kl->ij", (wx - mx[..., None, None]) ** 2, w)
    syy = np.einsum("ijkl,kl->ij", (wy - my[..., None, None]) ** 2, w)
    sxy = np.einsum("ijkl,kl->ij", (wx - mx[..., None, None]) * (wy - my[..., None, None]), w)
    c1, c2 = 0.01**2, 0.03**2
    smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return float(smap.mean())


def _test_image(h=48, w=40, seed=0) -> np.ndarray:
    """A float RGB image with gradients, edges and texture, values in 0..1."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([xx, yy, 0.5 + 0.4 * np.sin(8 * xx + 5 * yy)], -1)
    base[h // 3 : h // 2, w // 4 : w // 2] = [0.9, 0.2, 0.1]
    return np.clip(base * 0.8 + 0.2 * rng.random((h, w, 3)), 0.0, 1.0)


def test_ssim_identical_is_one():
    img = _test_image()
    assert M.ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    u8 = np.rint(img * 255).astype(np.uint8)
    assert M.ssim(u8, u8) == pytest.approx(1.0, abs=1e-12)
    assert M.ssim(u8[..., 0], u8[..., 0]) == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_reference():
    rng = np.random.default_rng(1)
    x = _test_image()
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    ref = np.mean([_ref_ssim_gray(x[..., c], y[..., c]) for c in range(3)])
    assert M.ssim(x, y) == pytest.approx(ref, abs=1e-3)
    assert M.ssim(x[..., 1], y[..., 1]) == pytest.approx(_ref_ssim_gray(x[..., 1], y[..., 1]), abs=1e-3)
    # Integer input is scaled to 0..1 first, so uint8 matches the float reference of the same values.
    x8, y8 = np.rint(x * 255).astype(np.uint8), np.rint(y * 255).astype(np.uint8)
    ref8 = np.mean([_ref_ssim_gray(x8[..., c] / 255.0, y8[..., c] / 255.0) for c in range(3)])
    assert M.ssim(x8, y8) == pytest.approx(ref8, abs=1e-3)


def test_ssim_in_strips_equals_whole_image(monkeypatch):
    # Large images are processed in horizontal strips with a halo; force many small strips (16 rows, the last one
    # partial) and check against the whole-image reference.
    rng = np.random.default_rng(3)
    x = _test_image(71, 45, seed=4)
    y = np.clip(x + rng.normal(0, 0.08, x.shape), 0, 1)
    ref = np.mean([_ref_ssim_gray(x[..., c], y[..., c]) for c in range(3)])
    monkeypatch.setattr(M, "_SSIM_BLOCK", 1)
    assert M.ssim(x, y) == pytest.approx(ref, abs=1e-9)
    assert M.ssim(x[..., 0], y[..., 0]) == pytest.approx(_ref_ssim_gray(x[..., 0], y[..., 0]), abs=1e-9)


def test_ssim_small_images():
    # Smaller than the window: the full (border-padded) map is used; still 1 for identical images.
    x = _test_image(8, 9)
    assert M.ssim(x, x) == pytest.approx(1.0)
    assert M.ssim(x, 1.0 - x) < 0.9


def test_ssim_decreases_with_noise():
    rng = np.random.default_rng(2)
    x = _test_image(64, 64)
    noise = rng.normal(0, 1, x.shape)
    scores = [M.ssim(x + s * noise, x) for s in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.4)]
    assert scores[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(scores, scores[1:]))
    assert scores[-1] < 0.5


def test_ssim_rejects_mismatch():
    with pytest.raises(ValueError):
        M.ssim(np.zeros((20, 20, 3)), np.zeros((20, 21, 3)))


# ---------------------------------------------------------------------------------------------------------------
# AuC of the ab error curve
# ---------------------------------------------------------------------------------------------------------------


def _ab(shape=(20, 30), seed=0) -> np.ndarray:
    # Multiples of 1/8, so that adding the integer shifts below is exact.
    return np.round(np.random.default_rng(seed).uniform(-80, 80, shape + (2,)) * 8.0) / 8.0


def test_auc_identical_is_one():
    ab = _ab()
    assert M.ab_error_auc(ab, ab) == 1.0


@pytest.mark.parametrize("k", [0, 1, 3, 10, 15])
def test_auc_constant_error(k):
    # A shift of (6k, 8k) is an error of exactly 10k. It lies within thresholds t = 10k..150, i.e. 151 - 10k of the
    # 151 thresholds 0..150, so the mean fraction is (150 - e + 1) / 151.
    target = _ab()
    pred = target + np.array([6.0 * k, 8.0 * k])
    e = 10 * k
    assert M.ab_error_auc(pred, target) == pytest.approx((150 - e + 1) / 151, abs=1e-12)


def test_auc_non_integer_and_large_errors():
    target = _ab()
    # Error 10.5 first counts at t = 11: (150 - 11 + 1) / 151.
    assert M.ab_error_auc(target + [10.5, 0.0], target) == pytest.approx(140 / 151, abs=1e-12)
    assert M.ab_error_auc(target + [151.0, 0.0], target) == 0.0
    # Half the pixels exact, half off by 200 -> 0.5.
    pred = target.copy()
    pred[:10] += [200.0, 0.0]
    assert M.ab_error_auc(pred, target) == pytest.approx(0.5, abs=1e-12)
    # Other threshold grids: 0..100 in steps of 2 (51 thresholds); error 10 counts from t = 10 on (46 of them).
    assert M.ab_error_auc(target + [6.0, 8.0], target, max_threshold=100, step=2) == pytest.approx(46 / 51)


def test_auc_is_monotone_in_error():
    target = _ab()
    rng = np.random.default_rng(4)
    direction = rng.normal(size=target.shape)
    values = [M.ab_error_auc(target + s * direction, target) for s in (0, 1, 2, 5, 10, 20, 40, 80)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert values[0] == 1.0 and values[-1] < values[1]


def test_ab_error_curve_matches_brute_force():
    rng = np.random.default_rng(6)
    target = rng.uniform(-100, 100, (5000, 2))
    pred = target + rng.normal(0, 30, target.shape)
    pred[:20] = target[:20] + [3.0, 4.0]  # errors exactly on a threshold count as within it
    thr = np.array([5.0, 0.0, 150.0, 12.5, 5.0, 60.0, 1000.0])  # unsorted, with a duplicate
    err = np.sqrt(((pred - target) ** 2).sum(-1))
    brute = (err[:, None] <= thr[None, :]).mean(axis=0)
    curve = M.ab_error_curve(pred, target, thr)
    assert curve.dtype == np.float64 and curve.shape == thr.shape
    np.testing.assert_array_equal(curve, brute)
    # The AuC is the mean of the curve at 0..150.
    full = M.ab_error_curve(pred, target, np.arange(151.0))
    assert np.all(np.diff(full) >= 0)
    assert M.ab_error_auc(pred, target) == pytest.approx(float(full.mean()), abs=1e-15)
    assert M.auc_thresholds().tolist() == list(range(151))


def test_ab_error_curve_rejects_bad_input():
    with pytest.raises(ValueError):
        M.ab_error_curve(np.zeros((4, 3)), np.zeros((4, 3)), [1.0])
    with pytest.raises(ValueError):
        M.ab_error_curve(np.zeros((4, 2)), np.zeros((5, 2)), [1.0])


# ---------------------------------------------------------------------------------------------------------------
# Colourfulness
# ---------------------------------------------------------------------------------------------------------------


def test_colorfulness_of_gray_is_zero():
    g = np.random.default_rng(0).integers(0, 256, (20, 20), dtype=np.uint8)
    assert M.colorfulness(np.repeat(g[..., None], 3, -1)) == 0.0
    assert M.colorfulness(g) == 0.0
    assert M.colorfulness(np.full((5, 5, 3), 0.3)) == pytest.approx(0.0, abs=1e-12)


def test_colorfulness_two_colour_image_by_hand():
    # Half pure red (255, 0, 0), half pure blue (0, 0, 255).
    #   red:  rg = 255, yb = 127.5        blue: rg = 0, yb = -255
    #   mean rg = 127.5, mean yb = -63.75; std rg = 127.5, std yb = (127.5 + 255) / 2 = 191.25
    #   M = sqrt(127.5^2 + 191.25^2) + 0.3 sqrt(127.5^2 + 63.75^2) = 127.5 (sqrt(3.25) + 0.3 sqrt(1.25))
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, :3] = [255, 0, 0]
    img[:, 3:] = [0, 0, 255]
    expected = 127.5 * (math.sqrt(3.25) + 0.3 * math.sqrt(1.25))
    assert expected == pytest.approx(272.6187, abs=1e-4)
    assert M.colorfulness(img) == pytest.approx(expected, rel=1e-12)
    # Same image in other encodings.
    assert M.colorfulness(img / 255.0) == pytest.approx(expected, rel=1e-12)
    assert M.colorfulness(img.astype(np.uint16) * 257) == pytest.approx(expected, rel=1e-12)
    # A uniform colour only has the mean term: pure red -> 0.3 * sqrt(255^2 + 127.5^2).
    red = np.zeros((3, 3, 3), np.uint8)
    red[...] = [255, 0, 0]
    assert M.colorfulness(red) == pytest.approx(0.3 * math.hypot(255.0, 127.5), rel=1e-12)


def test_colorfulness_grows_with_saturation():
    img = _test_image()
    gray = img.mean(axis=-1, keepdims=True)
    values = [M.colorfulness(np.clip(gray + s * (img - gray), 0, 1)) for s in (0.0, 0.25, 0.5, 1.0, 1.5)]
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert all(a < b for a, b in zip(values, values[1:]))


def test_delta_and_relative_colorfulness():
    img = _test_image()
    dull = 0.5 * img + 0.5 * img.mean(axis=-1, keepdims=True)
    gray = np.repeat(img.mean(axis=-1, keepdims=True), 3, -1)
    assert M.delta_colorfulness(img, img) == 0.0
    assert M.relative_colorfulness(img, img) == pytest.approx(1.0)
    assert M.delta_colorfulness(dull, img) == pytest.approx(M.colorfulness(dull) - M.colorfulness(img))
    assert M.delta_colorfulness(dull, img) < 0
    assert M.relative_colorfulness(dull, img) == pytest.approx(M.colorfulness(dull) / M.colorfulness(img))
    assert 0 < M.relative_colorfulness(dull, img) < 1
    assert math.isnan(M.relative_colorfulness(img, gray))
    assert math.isnan(M.relative_colorfulness(gray, gray))


# ---------------------------------------------------------------------------------------------------------------
# compute_all and presentation data
# ---------------------------------------------------------------------------------------------------------------

FIELDS = ["psnr", "ssim", "auc", "delta_e", "colorfulness", "colorfulness_gt", "delta_colorfulness"]


def _pair():
    rng = np.random.default_rng(8)
    target = np.rint(_test_image(48, 64) * 255).astype(np.uint8)
    pred = np.clip(target.astype(int) + rng.integers(-25, 26, target.shape), 0, 255).astype(np.uint8)
    return pred, target


def test_compute_all_consistent_with_individual_functions():
    pred, target = _pair()
    m = M.compute_all(pred, target)
    assert isinstance(m, M.ImageMetrics)
    d = m.to_dict()
    assert list(d) == FIELDS
    assert all(type(v) is float for v in d.values())
    assert d["psnr"] == pytest.approx(M.psnr(pred, target), rel=1e-12)
    assert d["ssim"] == pytest.approx(M.ssim(pred, target), rel=1e-12)
    assert d["delta_e"] == pytest.approx(M.mean_delta_e2000(pred, target), rel=1e-12)
    lab_p, lab_t = srgb_to_lab(pred), srgb_to_lab(target)
    assert d["auc"] == pytest.approx(M.ab_error_auc(lab_p[..., 1:], lab_t[..., 1:]), rel=1e-12)
    assert d["colorfulness"] == pytest.approx(M.colorfulness(pred), rel=1e-12)
    assert d["colorfulness_gt"] == pytest.approx(M.colorfulness(target), rel=1e-12)
    assert d["delta_colorfulness"] == pytest.approx(M.delta_colorfulness(pred, target), rel=1e-9)
    assert m.relative_colorfulness == pytest.approx(M.relative_colorfulness(pred, target), rel=1e-12)
    assert 0 < d["auc"] < 1 and 0 < d["ssim"] < 1 and d["delta_e"] > 0


def test_compute_all_identical_and_mixed_dtypes():
    _, target = _pair()
    m = M.compute_all(target, target)
    assert m.psnr == math.inf and m.ssim == pytest.approx(1.0) and m.auc == 1.0
    assert m.delta_e == 0.0 and m.delta_colorfulness == 0.0
    # A float copy of a uint8 image scores (almost) the same as the image itself. (Its Lab differs by float32
    # rounding, which only matters at the AuC threshold 0, one of 151.)
    m2 = M.compute_all(target / 255.0, target)
    assert m2.psnr == math.inf and m2.delta_e < 1e-3 and m2.auc >= 1.0 - 1.0 / 151 - 1e-12
    with pytest.raises(ValueError):
        M.compute_all(target, target[:, :-1])
    with pytest.raises(ValueError):
        M.compute_all(target[..., 0], target[..., 0])


def test_non_native_byte_order_is_accepted():
    # 16-bit PNGs read through Pillow come back as big-endian uint16 ('>u2').
    pred, target = _pair()
    pred16, target16 = pred.astype(np.uint16) * 257, target.astype(np.uint16) * 257
    swapped_p = pred16.astype(pred16.dtype.newbyteorder("S"))
    swapped_t = target16.astype(target16.dtype.newbyteorder("S"))
    assert not swapped_p.dtype.isnative and np.array_equal(swapped_p, pred16)
    expected = M.compute_all(pred16, target16).to_dict()
    assert M.compute_all(swapped_p, swapped_t).to_dict() == pytest.approx(expected)
    np.testing.assert_array_equal(M.delta_e_map(swapped_p, swapped_t), M.delta_e_map(pred16, target16))


def test_metric_info_tables():
    assert [f.name for f in dataclasses.fields(M.ImageMetrics)] == FIELDS
    assert list(M.METRIC_INFO) == FIELDS
    assert list(M.METRIC_NAMES) == FIELDS
    assert list(M.HIGHER_IS_BETTER) == FIELDS
    for key, info in M.METRIC_INFO.items():
        assert info.label and info.short and M.METRIC_NAMES[key] == info.label
        assert info.higher_is_better in (True, False, None)
    assert M.HIGHER_IS_BETTER["psnr"] is True and M.HIGHER_IS_BETTER["ssim"] is True
    assert M.HIGHER_IS_BETTER["auc"] is True and M.HIGHER_IS_BETTER["delta_e"] is False
    assert M.HIGHER_IS_BETTER["delta_colorfulness"] is None
