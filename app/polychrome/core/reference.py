"""A reference photo as a global colour hint: its palette reweights the network's distribution, no new inference.

The network gives p(q | pixel) over the ab bins, learnt under the training set's colour prior. A reference photo
(a period photo of the same place, a swatch card) says which colours to expect instead. Its ab histogram over the
model's bins, smoothed, h_ref, replaces the prior:

    p'(q) ∝ p(q) · (h_ref(q) / prior(q))^β

with β the strength (0 = off). In logits this is a per-bin bias, ``z' = z + β · log(h_ref / prior)``, which is
folded into the cached logits once per reference or strength; every temperature afterwards decodes ``z' / T``
exactly as before, so the T slider costs nothing extra and a strength change costs one add over the network's
grid (well under a millisecond for a 2 MP photo's 64×96 cells).

``prior`` is the model's training prior when its metadata carries one, else uniform (p' ∝ p · h_ref^β).
"""

from __future__ import annotations

import copy
from typing import Optional

import cv2
import numpy as np

from .bins import ABBins
from .color import srgb_to_lab
from .decode import LogitsDecoder
from .prior import smooth_prior

FLOOR = 0.03
"""Share of a uniform distribution mixed into h_ref: a bin no reference pixel falls near is discouraged (by up to
about log(1/FLOOR)·β) but never forbidden outright."""
PRIOR_MIX = 0.05
"""Share of a uniform distribution mixed into the prior, so that colours the training data almost never had do not
get unbounded ratios. Chosen on ../shared/data/test (40 photos, v2 model, the ground truth as its own reference):
PRIOR_MIX 0.05 / FLOOR 0.03 at β = 0.5 gave PSNR +2.0 dB with colourfulness 2.0 below the truth's; dividing by a
flatter prior (0.5, 1.0) raised PSNR more but left the result 9–21 less colourful than the truth."""
MAX_LOG_RATIO = 8.0
TAIL, TAIL_SIGMA = 0.1, 30.0
HIST_SIDE = 256


def reference_histogram(rgb: np.ndarray, bins: ABBins, sigma: float = 5.0, max_side: int = HIST_SIDE,
                        tail: float = TAIL, tail_sigma: float = TAIL_SIGMA) -> np.ndarray:
    """(Q,) smoothed distribution of a colour image's ab over ``bins`` (sRGB uint8/uint16/float (H, W, 3)): the
    histogram smoothed by ``sigma`` plus a ``tail`` share smoothed by the broad ``tail_sigma``, so that a colour
    near the reference's palette always weighs more than one far from it (every pixel is pulled toward the palette,
    not only those already close to it)."""
    img = np.asarray(rgb)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f"a reference must be an RGB image, got shape {img.shape}")
    img = img[..., :3]
    H, W = img.shape[:2]
    s = min(1.0, max_side / float(max(H, W)))
    if s < 1.0:
        img = cv2.resize(img, (max(1, int(W * s)), max(1, int(H * s))), interpolation=cv2.INTER_AREA)
    ab = srgb_to_lab(img)[..., 1:].reshape(-1, 2)
    counts = bins.histogram(ab)
    return (1.0 - tail) * smooth_prior(counts, bins, sigma) + tail * smooth_prior(counts, bins, tail_sigma)


def _floored(p: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    p = p / max(float(p.sum()), 1e-300)
    return (1.0 - floor) * p + floor / len(p)


def log_ratio(h_ref: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(Q,) float32 log(h_ref / prior) (h_ref floored, the prior mixed with a uniform), clipped to ±MAX_LOG_RATIO:
    the bias per unit of strength."""
    h_ref, prior = np.asarray(h_ref), np.asarray(prior)
    if h_ref.shape != prior.shape or h_ref.ndim != 1:
        raise ValueError(f"reference histogram {h_ref.shape} and prior {prior.shape} must be the same (Q,)")
    r = np.log(_floored(h_ref)) - np.log(_floored(prior, PRIOR_MIX))
    return np.clip(r, -MAX_LOG_RATIO, MAX_LOG_RATIO).astype(np.float32)


def image_marginal(decoder: LogitsDecoder) -> np.ndarray:
    """(Q,) the mean distribution (T = 1) over the image's cells."""
    return decoder.probabilities(1.0).reshape(-1, decoder.Q).mean(axis=0)


def biased(decoder: LogitsDecoder, bias: Optional[np.ndarray], keep: Optional[np.ndarray] = None) -> LogitsDecoder:
    """A decoder of the same image whose logits are ``z + bias`` ((Q,) per bin; None or constant: ``decoder``
    itself). ``keep``: (h, w) bool cells left as they are — those a colour point covers: a point is an explicit
    local colour, the reference only a global preference. Sharing nothing mutable with ``decoder``: the base stays
    usable for any other strength."""
    if bias is None:
        return decoder
    bias = np.asarray(bias, dtype=np.float32)
    if bias.size and float(bias.max() - bias.min()) < 1e-6:
        return decoder  # a constant shift changes no softmax
    if bias.shape != (decoder.Q,):
        raise ValueError(f"bias has shape {bias.shape}, expected ({decoder.Q},)")
    out = copy.copy(decoder)
    z = decoder.z + bias
    if keep is not None and keep.shape == decoder.shape and keep.any():
        z[keep] = decoder.z[keep]
    zmax = z.max(axis=-1, keepdims=True)
    z -= zmax
    out.z = z
    out.zmax = decoder.zmax + zmax
    out._mode_idx = None
    return out


class Reference:
    """A reference's log ratio against a prior, and the decoders it gives at any strength β."""

    def __init__(self, h_ref: np.ndarray, prior: np.ndarray) -> None:
        self.h_ref = np.asarray(h_ref, dtype=np.float64)
        self.ratio = log_ratio(self.h_ref, prior)

    def bias(self, strength: float) -> np.ndarray:
        return (np.float32(strength) * self.ratio).astype(np.float32)

    def apply(self, decoder: LogitsDecoder, strength: float, keep: Optional[np.ndarray] = None) -> LogitsDecoder:
        return biased(decoder, self.bias(strength) if strength > 0 else None, keep)
