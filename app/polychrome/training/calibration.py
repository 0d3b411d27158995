"""Fixed layers an exported model applies to the network's logits (torch; imported by export only).

Two corrections, both chosen on ``val/`` and written into the ONNX graph, so every runtime (app, CLI, batch, Ray)
gets them without knowing they exist; their settings are stored in the model's metadata
(``polychrome.calibration``).

* **Prior correction** (``prior_alpha``). Training with class rebalancing (Zhang et al. 2016) weights each target
  bin by w ∝ ((1 − λ) p̃ + λ / Q)⁻¹, so the network learns a distribution tilted by w toward rare, saturated
  colours. Adding ``alpha · log((1 − λ) p̃ + λ / Q)`` to the logits undoes that tilt by a fraction ``alpha``
  (0: the rebalanced network as trained, 1: the calibrated estimate). It costs one bias per bin.
* **Hint propagation** (``hint_gamma`` > 0, hint-taking models). The learned hint branches move colours only near
  a hint. This layer spreads each hint's ab over the logits grid by lightness-guided diffusion (in the spirit of
  Levin, Lischinski & Weiss, "Colorization using Optimization", 2004): ``iters`` Jacobi steps of a normalised
  average over the 8-neighbourhood, weighted by ``exp(−ΔL*² / 2σ_L²)``, hinted cells clamped, a decay ``rho`` per
  step. The spread colour ``ab_p`` with confidence ``c`` (1 at a hint, falling with distance and across edges)
  adds ``−gamma · c · |center_q − ab_p|² / 2σ_ab²`` to the logits: the network's distribution is pulled toward the
  hint's colour where the hint applies and left alone elsewhere (no hints: no change at all).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .network import L_OFFSET, L_SCALE

_SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


@dataclass(frozen=True)
class Calibration:
    """The settings of the fixed output layers (see the module docstring); the defaults were chosen on val/."""

    prior_alpha: float = 0.0
    lam: float = 0.5  # the λ the network was trained with (the prior correction needs it)
    hint_gamma: float = 0.0  # 0: no hint propagation
    hint_rho: float = 0.99
    hint_sigma_L: float = 10.0
    hint_iters: int = 40
    hint_sigma_ab: float = 10.0

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})

    @property
    def active(self) -> bool:
        return self.prior_alpha != 0.0 or self.hint_gamma > 0.0


def prior_bias(prior: np.ndarray, lam: float, alpha: float) -> np.ndarray:
    """(Q,) ``alpha · log((1 − λ) p̃ + λ / Q)``, the prior correction added to the logits."""
    p = np.asarray(prior, dtype=np.float64).ravel()
    p = p / p.sum()
    return (alpha * np.log((1.0 - lam) * p + lam / p.size)).astype(np.float32)


def _neighbours(x: torch.Tensor) -> torch.Tensor:
    """[N, C, h, w] -> [N, 9, C, h, w]: the 3×3 neighbourhood of every cell (edges replicated)."""
    h, w = x.shape[-2], x.shape[-1]
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return torch.stack([p[:, :, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _SHIFTS], dim=1)


class HintPropagation(nn.Module):
    """Lightness-guided spread of colour hints over the logits grid (see the module docstring)."""

    def __init__(self, centers: np.ndarray, stride: int, cal: Calibration) -> None:
        super().__init__()
        c = torch.from_numpy(np.asarray(centers, dtype=np.float32))
        self.register_buffer("centers", c.view(1, -1, 2, 1, 1), persistent=False)
        self.stride = int(stride)
        self.gamma = float(cal.hint_gamma)
        self.rho = float(cal.hint_rho)
        self.inv_2sl2 = 1.0 / (2.0 * cal.hint_sigma_L**2)
        self.inv_2sab2 = 1.0 / (2.0 * cal.hint_sigma_ab**2)
        self.iters = int(cal.hint_iters)

    def spread(
        self, L: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor, h: int, w: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Confidence [N, 1, h, w] and spread ab [N, 2, h, w] on the logits grid."""
        s = self.stride
        Lg = F.avg_pool2d(L, s)[:, :, :h, :w] * L_SCALE + L_OFFSET
        mask = hint_mask.to(L.dtype)
        mg = F.avg_pool2d(mask, s)[:, :, :h, :w]
        abg = F.avg_pool2d(hint_ab.to(L.dtype) * mask, s)[:, :, :h, :w] / mg.clamp(min=1e-6)
        m = (mg > 0).to(L.dtype)
        weights = torch.exp(-((_neighbours(Lg) - Lg.unsqueeze(1)) ** 2) * self.inv_2sl2)  # [N, 9, 1, h, w]
        weights = weights / weights.sum(dim=1, keepdim=True)
        clamp = torch.cat([m, abg * m], dim=1)  # confidence, ab · confidence: held at the hinted cells
        state = clamp
        free = (1.0 - m) * self.rho
        for _ in range(self.iters):
            state = clamp + free * (weights * _neighbours(state)).sum(dim=1)
        conf = state[:, :1]
        return conf, state[:, 1:] / conf.clamp(min=1e-6)

    def forward(
        self, logits: torch.Tensor, L: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor
    ) -> torch.Tensor:
        h, w = logits.shape[-2], logits.shape[-1]
        conf, ab = self.spread(L, hint_ab, hint_mask, h, w)
        d2 = ((ab.unsqueeze(1) - self.centers) ** 2).sum(dim=2)  # [N, Q, h, w]
        return logits - (self.gamma * self.inv_2sab2) * conf * d2


class CalibratedOutput(nn.Module):
    """The fixed layers after the network: the prior bias and, for hint models, the hint propagation."""

    def __init__(
        self, cal: Calibration, centers: np.ndarray, stride: int, prior: Optional[np.ndarray], hints: bool
    ) -> None:
        super().__init__()
        self.cal = cal
        bias = np.zeros(len(centers), np.float32)
        if cal.prior_alpha:
            if prior is None:
                raise ValueError("the prior correction needs the training prior")
            bias = prior_bias(prior, cal.lam, cal.prior_alpha)
        self.register_buffer("bias", torch.from_numpy(bias).view(1, -1, 1, 1), persistent=False)
        self.propagation = HintPropagation(centers, stride, cal) if hints and cal.hint_gamma > 0 else None

    def forward(
        self,
        logits: torch.Tensor,
        L: torch.Tensor,
        hint_ab: Optional[torch.Tensor] = None,
        hint_mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        if self.cal.prior_alpha:
            logits = logits + self.bias
        if self.propagation is not None and hint_ab is not None and hint_mask is not None:
            logits = self.propagation(logits, L, hint_ab, hint_mask)
        return logits
