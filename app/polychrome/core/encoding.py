"""Soft-encoding of ab targets: each pixel's ab spreads over its k nearest bins with a Gaussian kernel."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from .bins import ABBins


def soft_encode(
    ab: np.ndarray, bins: ABBins, k: int = 5, sigma: float = 5.0, chunk: int = 65536
) -> Tuple[np.ndarray, np.ndarray]:
    """Sparse soft-encoding of ab values (..., 2).

    Returns ``(indices, weights)``, each (..., k): the k nearest bin indices and their Gaussian weights
    exp(-d²/2σ²), normalised to sum to 1 per pixel.
    """
    ab = np.asarray(ab, dtype=np.float32)
    lead = ab.shape[:-1]
    flat = ab.reshape(-1, 2)
    k = int(min(k, bins.Q))
    c = bins.centers
    c2 = (c * c).sum(1)
    idx = np.empty((flat.shape[0], k), dtype=np.int64)
    wts = np.empty((flat.shape[0], k), dtype=np.float32)
    inv = np.float32(-0.5 / (sigma * sigma))
    for s in range(0, flat.shape[0], chunk):
        x = flat[s : s + chunk]
        d2 = (x * x).sum(1, keepdims=True) - 2.0 * (x @ c.T) + c2[None, :]
        np.maximum(d2, 0.0, out=d2)
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        dk = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(dk, axis=1)
        part = np.take_along_axis(part, order, axis=1)
        dk = np.take_along_axis(dk, order, axis=1)
        w = np.exp((dk - dk[:, :1]) * inv)  # shift by the nearest: same normalised weights, no underflow
        w /= w.sum(1, keepdims=True)
        idx[s : s + chunk] = part
        wts[s : s + chunk] = w
    return idx.reshape(*lead, k), wts.reshape(*lead, k)


def soft_encode_dense(ab: np.ndarray, bins: ABBins, k: int = 5, sigma: float = 5.0) -> np.ndarray:
    """Dense soft-encoding (..., Q) float32: a probability distribution over the bins per pixel."""
    idx, w = soft_encode(ab, bins, k=k, sigma=sigma)
    out = np.zeros(idx.shape[:-1] + (bins.Q,), dtype=np.float32)
    np.put_along_axis(out, idx, w, axis=-1)
    return out
