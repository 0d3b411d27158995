"""Decoding per-pixel bin logits into ab colours at a temperature T (the annealed mean of Zhang et al.).

Logits are laid out bins-first, (Q, h, w), as the model emits them; :class:`LogitsDecoder` re-lays them out
once, pixels-first and contiguous, so every later temperature change is one exp and one small matrix product.
T → 0 gives the mode, T = 1 the mean of the distribution; ``T = 0`` is accepted and returns the mode exactly.
"""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

DEFAULT_T = 0.38
"""The annealing temperature used when a model does not name its own (Zhang et al.'s 0.38)."""

MIN_T = 0.01
MAX_T = 1.0
"""The temperature range the app's controls offer (T → 0 is the mode, T = 1 the mean)."""


def _as_pixels_first(logits: np.ndarray) -> np.ndarray:
    """(Q, h, w) -> (h, w, Q) contiguous float32."""
    if logits.ndim != 3:
        raise ValueError(f"logits must be (Q, h, w), got shape {logits.shape}")
    return np.ascontiguousarray(np.moveaxis(np.asarray(logits, dtype=np.float32), 0, -1))


def softmax_t(z: np.ndarray, T: float, axis: int = -1) -> np.ndarray:
    """softmax(z / T) along ``axis``, stable for small T (max subtracted before the exp)."""
    z = np.asarray(z, dtype=np.float32)
    if T <= 0:
        out = np.zeros_like(z)
        np.put_along_axis(out, np.expand_dims(np.argmax(z, axis=axis), axis), 1.0, axis=axis)
        return out
    m = z.max(axis=axis, keepdims=True)
    e = np.subtract(z, m, dtype=np.float32)
    e *= np.float32(1.0 / T)
    np.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e


class LogitsDecoder:
    """Cached, pixels-first logits of one image with the bin centres they refer to."""

    def __init__(self, logits: np.ndarray, centers: np.ndarray) -> None:
        centers = np.asarray(centers, dtype=np.float32)
        if logits.shape[0] != centers.shape[0]:
            raise ValueError(f"logits have {logits.shape[0]} bins but the table has {centers.shape[0]}")
        self.z = _as_pixels_first(logits)  # (h, w, Q)
        self.zmax = self.z.max(axis=-1, keepdims=True)
        self.z -= self.zmax  # every later softmax starts from max = 0
        self.centers = centers
        self._mode_idx: Optional[np.ndarray] = None
        # [a, b, 1] per bin: one product gives the weighted sums and the normaliser of the annealed mean together
        self._centers1 = np.concatenate([centers, np.ones((len(centers), 1), np.float32)], axis=1)

    @property
    def shape(self) -> Tuple[int, int]:
        return self.z.shape[:2]

    @property
    def Q(self) -> int:
        return self.z.shape[-1]

    def probabilities(self, T: float) -> np.ndarray:
        """(h, w, Q) probabilities at temperature T."""
        if T <= 0:
            return softmax_t(self.z, 0.0)
        e = self.z * np.float32(1.0 / T)
        np.exp(e, out=e)
        e /= e.sum(axis=-1, keepdims=True)
        return e

    def mode_indices(self) -> np.ndarray:
        if self._mode_idx is None:
            self._mode_idx = np.argmax(self.z, axis=-1)
        return self._mode_idx

    def mode(self) -> np.ndarray:
        """(h, w, 2) ab of the most probable bin."""
        return self.centers[self.mode_indices()]

    def annealed_mean(self, T: float) -> np.ndarray:
        """(h, w, 2) annealed-mean ab at temperature T."""
        if T <= 0:
            return self.mode()
        h, w, q = self.z.shape
        # cv2's vectorised exp is several times faster than numpy's (the live T slider calls this on every move)
        e = self.z.reshape(-1, q) * np.float32(1.0 / T)
        # below e^-80 a bin weighs nothing next to the top one (e^0); stopping there keeps exp's results out of the
        # denormal range, where arithmetic is many times slower (small T would otherwise cost ~10 ms a move)
        cv2.max(e, -80.0, dst=e)
        cv2.exp(e, dst=e)
        s = e @ self._centers1  # (N, 3)
        return (s[:, :2] / s[:, 2:]).reshape(h, w, 2)

    def entropy(self, T: float, normalized: bool = True) -> np.ndarray:
        """(h, w) per-pixel entropy of the distribution at T; normalised by log Q to lie in [0, 1]."""
        return entropy(self.probabilities(T), normalized=normalized)

    def pixel(self, y: int, x: int, T: float) -> np.ndarray:
        """(Q,) probabilities of one pixel at T."""
        return softmax_t(self.z[y, x], T)

    def top_k(self, T: float, k: int = 5) -> Tuple[np.ndarray, np.ndarray]:
        return top_k(self.probabilities(T), k)


def annealed_mean(logits: np.ndarray, centers: np.ndarray, T: float) -> np.ndarray:
    """(Q, h, w) logits -> (h, w, 2) annealed-mean ab."""
    return LogitsDecoder(logits, centers).annealed_mean(T)


def mode(logits: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return LogitsDecoder(logits, centers).mode()


def entropy(probs: np.ndarray, normalized: bool = True, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) along ``axis``; divided by log Q when ``normalized``."""
    p = np.asarray(probs, dtype=np.float32)
    logp = np.log(np.maximum(p, np.float32(1e-30)))
    h = -(p * logp).sum(axis=axis)
    if normalized:
        h = h / np.float32(np.log(p.shape[axis]))
    return h.astype(np.float32)


def top_k(probs: np.ndarray, k: int = 5, axis: int = -1) -> Tuple[np.ndarray, np.ndarray]:
    """Indices and probabilities of the k most probable bins, most probable first."""
    p = np.moveaxis(np.asarray(probs), axis, -1)
    k = min(k, p.shape[-1])
    idx = np.argpartition(-p, k - 1, axis=-1)[..., :k]
    val = np.take_along_axis(p, idx, axis=-1)
    order = np.argsort(-val, axis=-1)
    return np.take_along_axis(idx, order, axis=-1), np.take_along_axis(val, order, axis=-1)
