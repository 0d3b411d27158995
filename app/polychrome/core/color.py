"""sRGB <-> CIELAB (D65, 2° observer), vectorised in float32.

Inputs may be uint8 (0..255), uint16 (0..65535) or float (0..1). Lab is float32 with L* in 0..100 and a*, b*
roughly in -128..127. The white point is the sRGB matrix applied to (1, 1, 1), so neutral RGB maps to a* = b* = 0
exactly. Everything here is the CIE/IEC 61966-2-1 formulas; the fast integer paths used for previews and exports
live in :mod:`polychrome.core.merge`.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
from numpy.typing import DTypeLike

from .pixels import fit_max_side

# IEC 61966-2-1 (sRGB) linear RGB -> XYZ, D65.
RGB2XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)
XYZ2RGB = np.linalg.inv(RGB2XYZ)
WHITE_D65 = RGB2XYZ.sum(axis=1)  # (0.9504700, 1.0000001, 1.0888300)

_EPS = (6.0 / 29.0) ** 3  # 0.008856...
_KAPPA_SLOPE = 1.0 / (3.0 * (6.0 / 29.0) ** 2)  # 7.787...
_DELTA = 6.0 / 29.0

# Lab <-> XYZ/white in one matrix, so per-pixel work is two small matmuls.
_RGB2XYZN = (RGB2XYZ / WHITE_D65[:, None]).astype(np.float32)
_XYZN2RGB = np.linalg.inv(RGB2XYZ / WHITE_D65[:, None]).astype(np.float32)

NEAR_GRAY_CHROMA = 3.0  # mean |ab| below this: an image carries (almost) no colour


def to_float01(img: np.ndarray) -> np.ndarray:
    """Scale integer images to float32 0..1 (uint8 /255, uint16 /65535); floats pass through as float32."""
    if not img.dtype.isnative:
        img = img.astype(img.dtype.newbyteorder("="))
    if img.dtype == np.uint8:
        return img.astype(np.float32) * np.float32(1.0 / 255.0)
    if img.dtype == np.uint16:
        return img.astype(np.float32) * np.float32(1.0 / 65535.0)
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float32, copy=False)
    raise TypeError(f"unsupported image dtype {img.dtype}")


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float32)
    hi = ((np.maximum(c, np.float32(0.04045)) + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4)
    return np.where(c <= 0.04045, c / np.float32(12.92), hi).astype(np.float32)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float32)
    cc = np.maximum(c, 0.0)
    return np.where(
        c <= 0.0031308, c * np.float32(12.92), np.float32(1.055) * cc ** np.float32(1.0 / 2.4) - np.float32(0.055)
    ).astype(np.float32)


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _EPS, np.cbrt(t), t * np.float32(_KAPPA_SLOPE) + np.float32(4.0 / 29.0)).astype(np.float32)


def _finv(f: np.ndarray) -> np.ndarray:
    return np.where(f > _DELTA, f * f * f, (f - np.float32(4.0 / 29.0)) / np.float32(_KAPPA_SLOPE)).astype(np.float32)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB image (..., 3) -> Lab float32 (..., 3)."""
    rgb = to_float01(np.asarray(rgb))
    if rgb.shape[-1] != 3:
        raise ValueError(f"expected (..., 3) RGB, got shape {rgb.shape}")
    lin = srgb_to_linear(rgb)
    xyz = lin @ _RGB2XYZN.T  # already divided by the white point
    f = _f(xyz)
    lab = np.empty(rgb.shape, dtype=np.float32)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_srgb(lab: np.ndarray, clip: bool = True) -> np.ndarray:
    """Lab (..., 3) -> sRGB float32 (..., 3), 0..1 when ``clip`` (out-of-gamut colours are clipped per channel)."""
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + np.float32(16.0)) / np.float32(116.0)
    f = np.stack([fy + lab[..., 1] / np.float32(500.0), fy, fy - lab[..., 2] / np.float32(200.0)], axis=-1)
    xyz = _finv(f)
    lin = xyz @ _XYZN2RGB.T
    rgb = linear_to_srgb(lin)
    if clip:
        np.clip(rgb, 0.0, 1.0, out=rgb)
    return rgb


def gray_to_lightness(gray: np.ndarray) -> np.ndarray:
    """L* of a neutral sRGB gray image (uint8, uint16 or float 0..1), float32.

    Integer inputs go through an exact lookup table (65,536 entries at most), so a 24 MP 16-bit scan costs one
    table lookup per pixel.
    """
    gray = np.asarray(gray)
    if not gray.dtype.isnative:
        gray = gray.astype(gray.dtype.newbyteorder("="))
    if gray.dtype in (np.uint8, np.uint16):
        return _lightness_lut(gray.dtype)[gray]
    y = srgb_to_linear(to_float01(gray))
    return (116.0 * _f(y) - 16.0).astype(np.float32)


def lightness_to_gray(L: np.ndarray) -> np.ndarray:
    """Inverse of :func:`gray_to_lightness`: L* -> neutral sRGB value 0..1 (float32)."""
    y = _finv((np.asarray(L, dtype=np.float32) + np.float32(16.0)) / np.float32(116.0))
    return np.clip(linear_to_srgb(y), 0.0, 1.0)


_LUTS: Dict[str, np.ndarray] = {}


def _lightness_lut(dtype: DTypeLike) -> np.ndarray:
    key = np.dtype(dtype).str
    lut = _LUTS.get(key)
    if lut is None:
        n = 256 if np.dtype(dtype) == np.uint8 else 65536
        v = np.arange(n, dtype=np.float64) / (n - 1)
        lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
        f = np.where(lin > _EPS, np.cbrt(lin), lin * _KAPPA_SLOPE + 4.0 / 29.0)
        lut = (116.0 * f - 16.0).astype(np.float32)
        _LUTS[key] = lut
    return lut


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """The neutral gray with the same L* as each pixel (how a colour photo is 'turned gray'), same dtype as input."""
    rgb = np.asarray(rgb)
    L = srgb_to_lab(rgb)[..., 0]
    g = lightness_to_gray(L)
    if rgb.dtype == np.uint8:
        return np.clip(np.rint(g * 255.0), 0, 255).astype(np.uint8)
    if rgb.dtype == np.uint16:
        return np.clip(np.rint(g * 65535.0), 0, 65535).astype(np.uint16)
    return g


def mean_chroma(pixels: np.ndarray, max_side: int = 96) -> float:
    """Mean |ab| (CIELAB chroma) of an image, measured on a copy of at most ``max_side`` px; 0 for a 2-D gray image.

    Below :data:`NEAR_GRAY_CHROMA` an image counts as near-gray: training skips it, and the app has no ground
    truth for it."""
    if pixels.ndim != 3:
        return 0.0
    x = fit_max_side(np.clip(to_float01(pixels), 0.0, 1.0), max_side)
    ab = srgb_to_lab(x)[..., 1:]
    return float(np.sqrt((ab * ab).sum(-1)).mean())
