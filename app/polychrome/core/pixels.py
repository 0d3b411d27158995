"""Pixel-array conversions shared by every layer: bit depth and fit-to-size shrinking."""

from __future__ import annotations

import cv2
import numpy as np


def to_uint8(img: np.ndarray) -> np.ndarray:
    """uint8 version of a uint8 / uint16 / float (0..1) image; uint8 is returned as it is.

    uint16 is rounded to nearest, ``round(x / 257)`` computed exactly as ``(x + 128) // 257`` (257 is odd, so there
    are no ties); floats are scaled by 255, rounded and clipped.
    """
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.clip(np.rint(np.asarray(img, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def convert_bit_depth(arr: np.ndarray, bit_depth: int) -> np.ndarray:
    """uint8/uint16 ``arr`` at ``bit_depth`` 8 or 16: down by :func:`to_uint8`'s rounding, up by ``x * 257``."""
    if bit_depth == 8 and arr.dtype == np.uint16:
        return to_uint8(arr)
    if bit_depth == 16 and arr.dtype == np.uint8:
        return arr.astype(np.uint16) * np.uint16(257)
    return arr


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(h, w) scaled so the long side is at most ``max_side`` (each side rounded, at least 1); unchanged if it fits."""
    s = max_side / max(height, width)
    if s >= 1:
        return height, width
    return max(1, round(height * s)), max(1, round(width * s))


def fit_max_side(img: np.ndarray, max_side: int | None) -> np.ndarray:
    """``img`` shrunk with ``cv2.INTER_AREA`` so its long side is at most ``max_side`` (None or 0: unchanged).

    Images that already fit are returned as they are (never enlarged).
    """
    if not max_side:
        return img
    h, w = img.shape[:2]
    size = fit_size(h, w, max_side)
    if size == (h, w):
        return img
    return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
