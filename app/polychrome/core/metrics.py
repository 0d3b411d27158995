"""Image-quality metrics for judging a colorization against the original colour photo.

Every function takes NumPy arrays. Unless said otherwise an image is sRGB, shape ``(H, W, 3)``, and may be uint8
(0..255), uint16 (0..65535) or float (0..1); the two images compared need not share a dtype, because everything is
first brought to a common scale. Lab values come from :func:`polychrome.core.color.srgb_to_lab` (D65).

Metrics:

* :func:`psnr` -- peak signal-to-noise ratio on RGB scaled to 0..1 (dB, higher is better);
* :func:`ssim` -- structural similarity (Wang et al. 2004), mean over RGB channels (higher is better);
* :func:`delta_e2000` / :func:`mean_delta_e2000` / :func:`delta_e_map` -- CIEDE2000 colour difference
  (Sharma, Wu & Dalal 2005; lower is better);
* :func:`ab_error_auc` / :func:`ab_error_curve` -- the raw-accuracy AuC of Zhang, Isola & Efros (2016): the share
  of pixels whose ab error is within a threshold, swept over 0..150 and averaged (higher is better);
* :func:`colorfulness` / :func:`delta_colorfulness` / :func:`relative_colorfulness` -- Hasler & Suesstrunk
  (2003) colourfulness and its difference / ratio to the ground truth.

:func:`compute_all` bundles them into an :class:`ImageMetrics`; :data:`METRIC_INFO` gives human labels and the
direction of each metric for tables and plots. Only NumPy and OpenCV are used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, NamedTuple, Optional, Tuple

import cv2
import numpy as np
from numpy.typing import ArrayLike

from .color import srgb_to_lab

__all__ = [
    "psnr",
    "ssim",
    "delta_e2000",
    "mean_delta_e2000",
    "delta_e_map",
    "ab_error_curve",
    "ab_error_auc",
    "auc_thresholds",
    "colorfulness",
    "delta_colorfulness",
    "relative_colorfulness",
    "ImageMetrics",
    "compute_all",
    "MetricInfo",
    "METRIC_INFO",
    "METRIC_NAMES",
    "HIGHER_IS_BETTER",
]


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------


def _unit_float64(img: np.ndarray) -> np.ndarray:
    """Scale an image to float64 on 0..1: uint8 / 255, uint16 / 65535, floats unchanged (not clipped).

    Byte order does not matter (16-bit PNGs read through Pillow arrive big-endian).
    """
    img = np.asarray(img)
    if img.dtype.kind == "u" and img.dtype.itemsize == 1:
        return img / 255.0
    if img.dtype.kind == "u" and img.dtype.itemsize == 2:
        return img / 65535.0
    if img.dtype.kind == "f":
        return img.astype(np.float64, copy=False)
    raise TypeError(f"unsupported image dtype {img.dtype} (expected uint8, uint16 or float)")


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB -> Lab via :func:`srgb_to_lab`, with non-native byte orders converted first (it only takes native)."""
    rgb = np.asarray(rgb)
    if not rgb.dtype.isnative:
        rgb = rgb.astype(rgb.dtype.newbyteorder("="))
    return srgb_to_lab(rgb)


def _same_shape(a: np.ndarray, b: np.ndarray, what: str = "images") -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"{what} differ in shape: {np.shape(a)} vs {np.shape(b)}")


def _check_rgb(img: np.ndarray, name: str) -> None:
    if np.ndim(img) < 1 or np.shape(img)[-1] != 3:
        raise ValueError(f"{name} must be an (..., 3) RGB array, got shape {np.shape(img)}")


# ---------------------------------------------------------------------------------------------------------------
# PSNR
# ---------------------------------------------------------------------------------------------------------------


def psnr(pred: np.ndarray, target: np.ndarray, data_range: Optional[float] = None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``.

    Both images are scaled to 0..1 first (see the module doc), so ``data_range`` defaults to 1 whatever the dtype
    and a uint8 image scores the same as its float equivalent. Works on any shape (RGB or gray) as long as the two
    shapes match. Returns ``inf`` for identical images.
    """
    _same_shape(pred, target)
    x = _unit_float64(pred)
    y = _unit_float64(target)
    if x.size == 0:
        raise ValueError("cannot compute PSNR of empty images")
    diff = x - y
    mse = float(np.mean(np.square(diff, out=diff)))
    if mse == 0.0:
        return math.inf
    peak = 1.0 if data_range is None else float(data_range)
    return 10.0 * math.log10(peak * peak / mse)


# ---------------------------------------------------------------------------------------------------------------
# SSIM
# ---------------------------------------------------------------------------------------------------------------

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _gauss(img: np.ndarray) -> np.ndarray:
    # cv2 builds the same normalised, truncated 11x11 Gaussian as MATLAB's fspecial('gaussian', 11, 1.5).
    size = (SSIM_WINDOW, SSIM_WINDOW)
    return cv2.GaussianBlur(img, size, SSIM_SIGMA, sigmaY=SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def _ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The SSIM map of two float64 (H, W) or (H, W, C) images on a 0..1 scale, window-centred at every pixel."""
    c1 = SSIM_K1**2  # (K1 L)^2 with dynamic range L = 1
    c2 = SSIM_K2**2
    mu_x = _gauss(x)
    mu_y = _gauss(y)
    mu_xx = mu_x * mu_x
    mu_yy = mu_y * mu_y
    mu_xy = mu_x * mu_y
    var_x = _gauss(x * x) - mu_xx
    var_y = _gauss(y * y) - mu_yy
    cov = _gauss(x * y) - mu_xy
    num = (2.0 * mu_xy + c1) * (2.0 * cov + c2)
    den = (mu_xx + mu_yy + c1) * (var_x + var_y + c2)
    return num / den


_SSIM_BLOCK = 1 << 19  # values per horizontal strip (~4 MB per float64 temporary)


def _ssim_mean(x: np.ndarray, y: np.ndarray) -> float:
    """Mean SSIM over the windows that lie wholly inside the image, all channels together.

    Only those "valid" windows (as in Wang et al.'s reference code) count, so the border extrapolation never
    enters the score; an image smaller than the window falls back to the full, border-padded map. The valid map is
    built in horizontal strips that carry a halo of ``SSIM_WINDOW // 2`` rows on each side: every output row then
    sees exactly the rows it would in the whole image, while the temporaries stay small.
    """
    pad = SSIM_WINDOW // 2
    h, w = x.shape[:2]
    if h <= 2 * pad or w <= 2 * pad:
        return float(np.mean(_ssim_map(x, y)))
    per_row = x[0].size
    rows = max(16, _SSIM_BLOCK // per_row)
    total = 0.0
    for r0 in range(pad, h - pad, rows):  # output rows r0 .. r1 - 1 of the valid region
        r1 = min(r0 + rows, h - pad)
        smap = _ssim_map(x[r0 - pad : r1 + pad], y[r0 - pad : r1 + pad])
        total += float(np.sum(smap[pad:-pad, pad:-pad], dtype=np.float64))
    return total / ((h - 2 * pad) * (w - 2 * pad) * (x.size // (h * w)))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Structural similarity index (Wang, Bovik, Sheikh & Simoncelli 2004).

    Gaussian window 11x11 with sigma 1.5, K1 = 0.01, K2 = 0.03, on images scaled to 0..1 (dynamic range 1). The
    SSIM map is averaged over the windows that fit inside the image; for RGB (or any ``(H, W, C)``) input the score
    is the mean over channels, and a gray ``(H, W)`` image is scored as one channel. No down-sampling is applied.
    Returns 1.0 for identical images.
    """
    _same_shape(pred, target)
    x = _unit_float64(pred)
    y = _unit_float64(target)
    if x.ndim not in (2, 3):
        raise ValueError(f"SSIM needs (H, W) or (H, W, C) images, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("cannot compute SSIM of empty images")
    return _ssim_mean(x, y)  # OpenCV blurs all channels of an (H, W, C) image at once


# ---------------------------------------------------------------------------------------------------------------
# CIEDE2000
# ---------------------------------------------------------------------------------------------------------------

_POW25_7 = 25.0**7
_COS30, _SIN30 = math.cos(math.radians(30.0)), math.sin(math.radians(30.0))
_COS6, _SIN6 = math.cos(math.radians(6.0)), math.sin(math.radians(6.0))
_COS63, _SIN63 = math.cos(math.radians(63.0)), math.sin(math.radians(63.0))
_CHUNK = 65536  # pixels per block: keeps the ~40 temporaries in cache instead of streaming 2 MP arrays


def _pow7(x: np.ndarray) -> np.ndarray:
    x2 = x * x
    return x2 * x2 * x2 * x  # several times faster than x**7, which goes through pow()


def _chroma(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(a * a + b * b)  # np.hypot is much slower, and Lab values are far from overflowing


# NumPy's float32 sine and cosine are vectorised and several times faster than the float64 ones; the weighting
# functions T and R_T tolerate their ~1e-7 error (see the precision note of delta_e2000).


def _sin32(x: np.ndarray) -> np.ndarray:
    """sin(x) through float32 (for |x| <= ~pi/2, where the argument's rounding error is relative)."""
    return np.sin(x.astype(np.float32)).astype(np.float64)


def _cos_sin32(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(cos x, sin x) for x in radians on [0, 2 pi), through float32 with the argument's rounding corrected.

    x = hi + lo with hi = float32(x); cos x = cos hi - lo sin hi and sin x = sin hi + lo cos hi to first order
    (|lo| <= 2.4e-7, so the neglected term is ~3e-14). This leaves only the float32 evaluation error, ~6e-8.
    """
    hi = x.astype(np.float32)
    lo = x - hi
    c = np.cos(hi).astype(np.float64)
    s = np.sin(hi).astype(np.float64)
    return c - lo * s, s + lo * c


def _hue_degrees(b: np.ndarray, a: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Hue angle atan2(b, a) in degrees on [0, 360); 0 where the chroma is 0 (the CIEDE2000 convention)."""
    h = np.degrees(np.arctan2(b, a))
    h[h < 0.0] += 360.0
    h[h >= 360.0] -= 360.0  # a tiny negative angle + 360 can round up to 360 exactly
    h[chroma == 0.0] = 0.0
    return h


def _hue_weight_t(h_mean_deg: np.ndarray) -> np.ndarray:
    """T = 1 - 0.17 cos(h - 30) + 0.24 cos(2h) + 0.32 cos(3h + 6) - 0.20 cos(4h - 63), angles in degrees.

    Evaluated from one cos/sin pair with the multiple-angle identities instead of four separate cosines.
    """
    hr = np.radians(h_mean_deg)
    c1, s1 = _cos_sin32(hr)
    c2 = 2.0 * c1 * c1 - 1.0
    s2 = 2.0 * s1 * c1
    c3 = c1 * (2.0 * c2 - 1.0)  # cos 3h = cos h (2 cos 2h - 1)
    s3 = s1 * (2.0 * c2 + 1.0)  # sin 3h = sin h (2 cos 2h + 1)
    c4 = 2.0 * c2 * c2 - 1.0
    s4 = 2.0 * s2 * c2
    return (
        1.0
        - 0.17 * (c1 * _COS30 + s1 * _SIN30)
        + 0.24 * c2
        + 0.32 * (c3 * _COS6 - s3 * _SIN6)
        - 0.20 * (c4 * _COS63 + s4 * _SIN63)
    )


def _ciede2000_rows(lab1: np.ndarray, lab2: np.ndarray, kL: float, kC: float, kH: float) -> np.ndarray:
    """CIEDE2000 of two (n, 3) Lab blocks -> (n,) float64. See :func:`delta_e2000`."""
    L1, a1, b1 = (lab1[:, i].astype(np.float64) for i in range(3))
    L2, a2, b2 = (lab2[:, i].astype(np.float64) for i in range(3))

    # 1. a' (a* stretched near the neutral axis), C', h'.
    c7 = _pow7(0.5 * (_chroma(a1, b1) + _chroma(a2, b2)))
    g1 = 1.5 - 0.5 * np.sqrt(c7 / (c7 + _POW25_7))  # 1 + G
    a1p = g1 * a1
    a2p = g1 * a2
    c1p = _chroma(a1p, b1)
    c2p = _chroma(a2p, b2)
    h1p = _hue_degrees(b1, a1p, c1p)
    h2p = _hue_degrees(b2, a2p, c2p)

    # 2. Differences in lightness, chroma and hue.
    dLp = L2 - L1
    dCp = c2p - c1p
    cprod = c1p * c2p
    achromatic = cprod == 0.0
    raw_dh = h2p - h1p
    dhp = raw_dh.copy()
    dhp[dhp > 180.0] -= 360.0
    dhp[dhp < -180.0] += 360.0
    # Exactly opposite hues (|h'1 - h'2| = 180, where the formula is discontinuous) would otherwise fall on either
    # side of the branch by a rounding of atan2; detect them exactly and apply the |difference| <= 180 branch.
    opposite = (a1p * b2 == b1 * a2p) & (a1p * a2p + b1 * b2 < 0.0)
    dhp[opposite] = np.copysign(180.0, raw_dh[opposite])
    dhp[achromatic] = 0.0
    dHp = 2.0 * np.sqrt(cprod) * np.sin(np.radians(0.5 * dhp))  # a difference term: full float64

    # 3. Means and the weighting functions.
    Lp_mean = 0.5 * (L1 + L2)
    cp_mean = 0.5 * (c1p + c2p)
    hsum = h1p + h2p
    hp_mean = 0.5 * hsum
    far = (np.abs(raw_dh) > 180.0) & ~opposite  # the mean hue lies on the other side of the circle
    hp_mean[far & (hsum < 360.0)] += 180.0
    hp_mean[far & (hsum >= 360.0)] -= 180.0
    hp_mean[achromatic] = hsum[achromatic]
    t = _hue_weight_t(hp_mean)
    d_theta = 30.0 * np.exp(-np.square((hp_mean - 275.0) * (1.0 / 25.0)))
    cp7 = _pow7(cp_mean)
    r_c = 2.0 * np.sqrt(cp7 / (cp7 + _POW25_7))
    l50 = np.square(Lp_mean - 50.0)
    s_l = 1.0 + 0.015 * l50 / np.sqrt(20.0 + l50)
    s_c = 1.0 + 0.045 * cp_mean
    s_h = 1.0 + 0.015 * cp_mean * t
    r_t = -_sin32(np.radians(2.0 * d_theta)) * r_c

    # 4. Combine. |R_T| <= sqrt(3) < 2, so the radicand is never negative in exact arithmetic; clamp rounding.
    tl = dLp / (kL * s_l)
    tc = dCp / (kC * s_c)
    th = dHp / (kH * s_h)
    radicand = tl * tl + tc * tc + th * th + r_t * tc * th
    return np.sqrt(np.maximum(radicand, 0.0))


def delta_e2000(
    lab1: np.ndarray, lab2: np.ndarray, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0
) -> np.ndarray:
    """CIEDE2000 colour difference between Lab arrays ``(..., 3)``, element by element (float64 out).

    Follows Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
    supplementary test data, and mathematical observations", including their conventions for the hue terms:

    * h' = 0 when a' = b = 0;
    * delta h' = 0 when either chroma C'1, C'2 is 0, otherwise h'2 - h'1 brought into [-180, 180];
    * the mean hue is h'1 + h'2 when a chroma is 0, their average when |h'1 - h'2| <= 180, and otherwise the
      average shifted by +180 (sum < 360) or -180 (sum >= 360). Exactly opposite hues (a'2, b2 a negative
      multiple of a'1, b1) are recognised exactly, so they take the "<= 180" branch whatever atan2 rounds to.

    The two arrays broadcast against each other; the result has their broadcast shape without the last axis
    (a 0-d array for a single pair). ``kL``, ``kC``, ``kH`` are the parametric weights (1 for reference
    conditions). Symmetric in its arguments.

    Precision: everything is float64 except the cosines and sines inside the weights T and R_T, which go through
    float32 (several times faster); the result stays within ~2e-7 relative of an all-float64 evaluation, finer
    than the float32 Lab that images give (a float32 L* near 50 is itself only good to ~4e-6).
    """
    lab1 = np.asarray(lab1)
    lab2 = np.asarray(lab2)
    if lab1.shape[-1:] != (3,) or lab2.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) Lab arrays, got shapes {lab1.shape} and {lab2.shape}")
    shape = np.broadcast_shapes(lab1.shape, lab2.shape)
    rows1 = np.broadcast_to(lab1, shape).reshape(-1, 3)
    rows2 = np.broadcast_to(lab2, shape).reshape(-1, 3)
    n = rows1.shape[0]
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        out[start:stop] = _ciede2000_rows(rows1[start:stop], rows2[start:stop], kL, kC, kH)
    return out.reshape(shape[:-1])


def delta_e_map(pred_rgb: np.ndarray, target_rgb: np.ndarray) -> np.ndarray:
    """Per-pixel CIEDE2000 between two sRGB images, float32 of shape ``(H, W)`` (for error-map display)."""
    _same_shape(pred_rgb, target_rgb)
    _check_rgb(pred_rgb, "pred_rgb")
    return delta_e2000(_lab(pred_rgb), _lab(target_rgb)).astype(np.float32)


def mean_delta_e2000(pred_rgb: np.ndarray, target_rgb: np.ndarray) -> float:
    """Mean CIEDE2000 over the pixels of two sRGB images (lower is better; 0 for identical images)."""
    _same_shape(pred_rgb, target_rgb)
    _check_rgb(pred_rgb, "pred_rgb")
    return float(np.mean(delta_e2000(_lab(pred_rgb), _lab(target_rgb))))


# ---------------------------------------------------------------------------------------------------------------
# AuC of the cumulative ab-error curve (Zhang et al. 2016)
# ---------------------------------------------------------------------------------------------------------------


def auc_thresholds(max_threshold: float = 150.0, step: float = 1.0) -> np.ndarray:
    """The thresholds 0, step, 2 step, ... up to ``max_threshold`` (included when it is a multiple of ``step``)."""
    if step <= 0 or max_threshold < 0:
        raise ValueError("need step > 0 and max_threshold >= 0")
    n = int(math.floor(max_threshold / step + 1e-9))
    return step * np.arange(n + 1, dtype=np.float64)


def ab_error_curve(pred_ab: np.ndarray, target_ab: np.ndarray, thresholds: ArrayLike) -> np.ndarray:
    """Fraction of pixels whose Euclidean ab error is <= each threshold (float64, same length as ``thresholds``).

    ``pred_ab`` and ``target_ab`` are ``(..., 2)`` arrays of (a*, b*) of equal shape. Pixels whose error is NaN
    never count as within a threshold.
    """
    pred_ab = np.asarray(pred_ab)
    target_ab = np.asarray(target_ab)
    _same_shape(pred_ab, target_ab, "ab arrays")
    if pred_ab.shape[-1:] != (2,):
        raise ValueError(f"expected (..., 2) ab arrays, got shape {pred_ab.shape}")
    thr = np.asarray(thresholds, dtype=np.float64).ravel()
    da = pred_ab[..., 0].astype(np.float64) - target_ab[..., 0]
    db = pred_ab[..., 1].astype(np.float64) - target_ab[..., 1]
    err = _chroma(da, db).ravel()
    if err.size == 0:
        raise ValueError("cannot compute the ab error curve of empty arrays")
    order = np.argsort(thr, kind="stable")
    sorted_thr = thr[order]
    # For each pixel, the first (sorted) threshold it does not exceed: err <= t_i  <=>  idx <= i. Counting pixels
    # per index and accumulating gives the counts for every threshold with one O(N log T) pass (no sort of N).
    idx = np.searchsorted(sorted_thr, err, side="left")
    counts = np.cumsum(np.bincount(idx, minlength=thr.size + 1)[: thr.size])
    curve = np.empty(thr.size, dtype=np.float64)
    curve[order] = counts / float(err.size)
    return curve


def ab_error_auc(
    pred_ab: np.ndarray, target_ab: np.ndarray, max_threshold: float = 150.0, step: float = 1.0
) -> float:
    """Area under the cumulative ab-error curve, normalised to [0, 1] (Zhang, Isola & Efros 2016).

    The curve is :func:`ab_error_curve` at the thresholds ``0, step, ..., max_threshold`` (151 values by default);
    the AuC is the mean of those fractions. Identical ab gives 1.0; a constant error ``e`` (with ``step`` = 1 and
    ``e`` an integer in 0..150) gives ``(max_threshold - e + 1) / (max_threshold + 1)`` = ``(151 - e) / 151``.
    """
    return float(np.mean(ab_error_curve(pred_ab, target_ab, auc_thresholds(max_threshold, step))))


# ---------------------------------------------------------------------------------------------------------------
# Colourfulness (Hasler & Suesstrunk 2003)
# ---------------------------------------------------------------------------------------------------------------


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness ``M`` of an sRGB image on the 0..255 scale.

    With rg = R - G and yb = (R + G) / 2 - B over all pixels:
    ``M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)`` (population standard deviations).
    uint16 and float inputs are rescaled to 0..255 first. A gray ``(H, W)`` image has colourfulness 0.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        _unit_float64(rgb)  # dtype check only
        return 0.0
    _check_rgb(rgb, "rgb")
    if rgb.size == 0:
        raise ValueError("cannot compute the colourfulness of an empty image")
    px = _unit_float64(rgb).reshape(-1, 3)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    rg = (r - g) * 255.0
    yb = (0.5 * (r + g) - b) * 255.0
    sigma = math.sqrt(float(np.var(rg)) + float(np.var(yb)))
    mu = math.hypot(float(np.mean(rg)), float(np.mean(yb)))
    return sigma + 0.3 * mu


def delta_colorfulness(pred_rgb: np.ndarray, target_rgb: np.ndarray) -> float:
    """Signed colourfulness difference ``colorfulness(pred) - colorfulness(target)`` (0 is best; < 0 = duller)."""
    return colorfulness(pred_rgb) - colorfulness(target_rgb)


def relative_colorfulness(pred_rgb: np.ndarray, target_rgb: np.ndarray) -> float:
    """Colourfulness ratio ``colorfulness(pred) / colorfulness(target)`` (1 is best); NaN if the target's is 0."""
    return _ratio(colorfulness(pred_rgb), colorfulness(target_rgb))


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0.0 else math.nan


# ---------------------------------------------------------------------------------------------------------------
# All at once
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ImageMetrics:
    """Scores of one colorized image against its ground truth (see :data:`METRIC_INFO` for labels)."""

    psnr: float
    ssim: float
    auc: float
    delta_e: float
    colorfulness: float
    colorfulness_gt: float
    delta_colorfulness: float

    @property
    def relative_colorfulness(self) -> float:
        """``colorfulness / colorfulness_gt`` (NaN when the ground truth has no colour)."""
        return _ratio(self.colorfulness, self.colorfulness_gt)

    def to_dict(self) -> Dict[str, float]:
        """The fields as a plain ``{name: float}`` dict, in :data:`METRIC_NAMES` order."""
        return {k: float(v) for k, v in asdict(self).items()}


def compute_all(pred_rgb: np.ndarray, target_rgb: np.ndarray) -> ImageMetrics:
    """Every metric of this module for a colorized image ``pred_rgb`` and its ground truth ``target_rgb``.

    Both are sRGB ``(H, W, 3)`` of the same shape (dtypes may differ). Lab is computed once per image and shared
    by ΔE2000 and the AuC, which is taken over the a*b* channels of the two images.
    """
    _same_shape(pred_rgb, target_rgb)
    _check_rgb(pred_rgb, "pred_rgb")
    if np.ndim(pred_rgb) != 3:
        raise ValueError(f"expected (H, W, 3) images, got shape {np.shape(pred_rgb)}")
    lab_p = _lab(pred_rgb)
    lab_t = _lab(target_rgb)
    cf = colorfulness(pred_rgb)
    cf_gt = colorfulness(target_rgb)
    return ImageMetrics(
        psnr=psnr(pred_rgb, target_rgb),
        ssim=ssim(pred_rgb, target_rgb),
        auc=ab_error_auc(lab_p[..., 1:], lab_t[..., 1:]),
        delta_e=float(np.mean(delta_e2000(lab_p, lab_t))),
        colorfulness=cf,
        colorfulness_gt=cf_gt,
        delta_colorfulness=cf - cf_gt,
    )


# ---------------------------------------------------------------------------------------------------------------
# Labels for tables and plots
# ---------------------------------------------------------------------------------------------------------------


class MetricInfo(NamedTuple):
    """How to present one metric.

    ``higher_is_better`` is True / False for scores with a direction and None for values without one (the ground
    truth's own colourfulness, or a signed difference whose best value is 0).
    """

    label: str
    short: str
    unit: str
    higher_is_better: Optional[bool]
    description: str


METRIC_INFO: Dict[str, MetricInfo] = {
    "psnr": MetricInfo("PSNR", "PSNR", "dB", True, "Peak signal-to-noise ratio on RGB (0..1)"),
    "ssim": MetricInfo("SSIM", "SSIM", "", True, "Structural similarity, mean over RGB channels"),
    "auc": MetricInfo("AuC (ab error ≤ 0..150)", "AuC", "", True, "Area under the cumulative ab-error curve"),
    "delta_e": MetricInfo("Mean ΔE2000", "ΔE00", "", False, "Mean CIEDE2000 colour difference"),
    "colorfulness": MetricInfo("Colorfulness", "CF", "", True, "Hasler & Süsstrunk colourfulness of the result"),
    "colorfulness_gt": MetricInfo(
        "Colorfulness (ground truth)", "CF gt", "", None, "Hasler & Süsstrunk colourfulness of the original"
    ),
    "delta_colorfulness": MetricInfo(
        "ΔColorfulness", "ΔCF", "", None, "Colourfulness of the result minus that of the original (best at 0)"
    ),
}
"""Presentation data for each :class:`ImageMetrics` field, in field order."""

METRIC_NAMES: Dict[str, str] = {k: v.label for k, v in METRIC_INFO.items()}
"""Field name -> human label."""

HIGHER_IS_BETTER: Dict[str, Optional[bool]] = {k: v.higher_is_better for k, v in METRIC_INFO.items()}
"""Field name -> True (higher is better), False (lower is better) or None (no direction)."""
