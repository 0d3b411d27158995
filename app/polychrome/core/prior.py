"""Empirical ab prior over the bins and the class-rebalancing weights of Zhang et al. (2016).

w ∝ ((1 − λ)·p̃ + λ/Q)⁻¹, with p̃ the empirical bin distribution smoothed by a Gaussian (σ = 5 ab units) on the
ab plane, normalised so that the expected weight under p̃ is 1 (Σ_q p̃_q·w_q = 1).
"""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from .bins import ABBins
from .color import srgb_to_lab
from .progress import Progress, ensure_progress


class PriorAccumulator:
    """Counts ab values per bin over many images; cheap to update from a data loader or a folder scan."""

    def __init__(self, bins: ABBins) -> None:
        self.bins = bins
        self.counts = np.zeros(bins.Q, dtype=np.float64)

    def add_ab(self, ab: np.ndarray) -> None:
        self.counts += self.bins.histogram(ab)

    def add_rgb(self, rgb: np.ndarray) -> None:
        self.add_ab(srgb_to_lab(rgb)[..., 1:])

    def prior(self, sigma: float = 5.0) -> np.ndarray:
        return smooth_prior(self.counts, self.bins, sigma)


def empirical_prior(
    images: Iterable[np.ndarray],
    bins: ABBins,
    sigma: float = 5.0,
    progress: Optional[Progress] = None,
) -> np.ndarray:
    """Smoothed bin prior p̃ (Q,) of RGB images."""
    progress = ensure_progress(progress)
    acc = PriorAccumulator(bins)
    for img in images:
        acc.add_rgb(img)
        progress.step()
    return acc.prior(sigma)


def smooth_prior(counts: np.ndarray, bins: ABBins, sigma: float = 5.0) -> np.ndarray:
    """Normalise counts to a distribution and smooth it with a Gaussian kernel over the bin centres."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (bins.Q,):
        raise ValueError(f"counts has shape {counts.shape}, expected ({bins.Q},)")
    total = counts.sum()
    if total <= 0:
        return np.full(bins.Q, 1.0 / bins.Q)
    p = counts / total
    if sigma and sigma > 0:
        c = bins.centers.astype(np.float64)
        d2 = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        kern = np.exp(-d2 / (2.0 * sigma * sigma))
        # Each bin spreads its mass over its neighbours (columns sum to 1), so total mass is kept.
        kern /= kern.sum(axis=0, keepdims=True)
        p = kern @ p
    return p / p.sum()


def rebalance_weights(prior: np.ndarray, lam: float = 0.5) -> np.ndarray:
    """Class-rebalancing weights w (Q,) with Σ p̃·w = 1. ``lam`` = 1 gives uniform weights."""
    prior = np.asarray(prior, dtype=np.float64)
    if not 0.0 <= lam <= 1.0:
        raise ValueError("lambda must lie in [0, 1]")
    q = prior.size
    w = 1.0 / ((1.0 - lam) * prior + lam / q)
    w /= float((prior * w).sum())
    return w
