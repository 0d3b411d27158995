"""Training losses: soft-encoded, class-rebalanced cross-entropy (Zhang et al. 2016) and regression baselines.

Cross-entropy
    The ab target (full resolution or already on the logits grid) is area-averaged down to the logits grid, then
    soft-encoded: each cell's ab spreads over its ``k`` nearest bins with Gaussian weights exp(−d²/2σ²),
    normalised (the same rule as :func:`polychrome.core.encoding.soft_encode`, vectorised in torch). Each cell
    is weighted by the rebalancing weight w[q*] of its most likely target bin (the nearest one), with w from
    :func:`polychrome.core.prior.rebalance_weights`:

        loss = Σ_cells w[q*] · (−Σ_q t_q log softmax(z)_q) / (number of cells)

Regression baselines
    The network predicts ab / :data:`~polychrome.training.network.AB_SCALE`; ``l2`` is the mean squared error on
    that scale and ``mse_l1`` adds the mean absolute error (a sharper, more robust variant).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.bins import ABBins
from ..core.prior import rebalance_weights
from .network import AB_SCALE

LOSSES = ("ce", "l2", "mse_l1")


def downsample_ab(ab: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Area-average ab [N, 2, H, W] to ``size`` = (h, w) (H, W integer multiples of h, w)."""
    H, W = ab.shape[-2:]
    h, w = size
    if (H, W) == (h, w):
        return ab
    if H % h or W % w or H // h != W // w:
        return F.adaptive_avg_pool2d(ab, (h, w))
    return F.avg_pool2d(ab, kernel_size=H // h)


def soft_encode_torch(
    ab: torch.Tensor, centers: torch.Tensor, k: int = 5, sigma: float = 5.0
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Sparse soft-encoding of ab values [..., 2]: (indices [..., k] int64, weights [..., k] float32).

    Indices are sorted nearest first, so ``indices[..., 0]`` is the bin with the largest target weight.
    """
    lead = ab.shape[:-1]
    x = ab.reshape(-1, 2).float()
    c = centers.to(device=x.device, dtype=torch.float32)
    k = int(min(k, c.shape[0]))
    d2 = (x * x).sum(1, keepdim=True) - 2.0 * (x @ c.t()) + (c * c).sum(1)[None, :]
    d2 = d2.clamp_min(0.0)
    dk, idx = torch.topk(d2, k, dim=1, largest=False, sorted=True)
    w = torch.exp((dk - dk[:, :1]) * (-0.5 / (sigma * sigma)))
    w = w / w.sum(1, keepdim=True)
    return idx.reshape(*lead, k), w.reshape(*lead, k)


class RebalancedCrossEntropy(nn.Module):
    """Class-rebalanced cross-entropy against soft-encoded ab targets."""

    def __init__(
        self,
        bins: ABBins,
        prior: Optional[np.ndarray] = None,
        lam: float = 0.5,
        k: int = 5,
        sigma: float = 5.0,
    ) -> None:
        super().__init__()
        self.k, self.sigma, self.lam = int(k), float(sigma), float(lam)
        self.register_buffer("centers", torch.from_numpy(np.asarray(bins.centers, dtype=np.float32)))
        if prior is None:
            w = np.ones(bins.Q, dtype=np.float32)
        else:
            w = rebalance_weights(np.asarray(prior, dtype=np.float64), lam).astype(np.float32)
        self.register_buffer("weights", torch.from_numpy(w))

    def forward(self, logits: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """logits [N, Q, h, w]; ab [N, 2, H, W] in ab units (any multiple of h, w)."""
        target = downsample_ab(ab.float(), logits.shape[-2:])
        ab_px = target.permute(0, 2, 3, 1)  # [N, h, w, 2]
        idx, wts = soft_encode_torch(ab_px, self.centers, self.k, self.sigma)  # [N, h, w, k]
        logp = F.log_softmax(logits.float(), dim=1).permute(0, 2, 3, 1)  # [N, h, w, Q]
        ce = -(torch.gather(logp, -1, idx) * wts).sum(-1)  # [N, h, w]
        pix_w = self.weights[idx[..., 0]]
        return (pix_w * ce).mean()


class RegressionLoss(nn.Module):
    """``l2``: MSE of ab/AB_SCALE; ``mse_l1``: MSE + L1 on the same scale."""

    def __init__(self, kind: str = "l2") -> None:
        super().__init__()
        if kind not in ("l2", "mse_l1"):
            raise ValueError(f"unknown regression loss {kind!r}")
        self.kind = kind

    def forward(self, pred: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        target = downsample_ab(ab.float(), pred.shape[-2:]) / AB_SCALE
        pred = pred.float()
        loss = F.mse_loss(pred, target)
        if self.kind == "mse_l1":
            loss = loss + F.l1_loss(pred, target)
        return loss


def make_loss(kind: str, bins: ABBins, prior: Optional[np.ndarray], lam: float = 0.5) -> nn.Module:
    if kind == "ce":
        return RebalancedCrossEntropy(bins, prior, lam)
    if kind in ("l2", "mse_l1"):
        return RegressionLoss(kind)
    raise ValueError(f"unknown loss {kind!r}; choose one of {', '.join(LOSSES)}")


def head_for_loss(kind: str) -> str:
    return "classification" if kind == "ce" else "regression"


def predicted_ab(output: torch.Tensor, centers: torch.Tensor, head: str, T: float) -> torch.Tensor:
    """ab [N, 2, h, w] from network output: annealed mean at T (classification) or ×AB_SCALE (regression)."""
    if head == "regression":
        return output.float() * AB_SCALE
    z = output.float()
    if T <= 0:
        idx = z.argmax(1)
        return centers[idx].permute(0, 3, 1, 2)
    p = F.softmax(z / T, dim=1)
    return torch.einsum("nqhw,qc->nchw", p, centers.to(p))
