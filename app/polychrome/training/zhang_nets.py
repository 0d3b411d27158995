"""The two networks of Zhang et al. as PyTorch modules whose state-dict keys and shapes are those of the authors'
release files, and the wrappers that export them under Polychrome's model contract.

Written for Polychrome from the papers and the layer tables of the authors' public ``colorizers/eccv16.py`` and
``siggraph17.py`` (BSD-2-Clause); no code is taken from them. Every block is an ``nn.Sequential`` whose child
indices are what the keys carry: a convolution at index i is followed by its ReLU at i + 1, and a block closes
with a BatchNorm.

**ECCV16** ("Colorful Image Colorization", 2016). Input (L* − 50) / 100 [N, 1, H, W].

==========  ==============================================================  ===========
block       layers                                                          resolution
==========  ==============================================================  ===========
model1      conv 1→64, conv 64→64 stride 2, BN                               1/2
model2      conv 64→128, conv 128→128 stride 2, BN                           1/4
model3      conv 128→256, conv 256→256, conv 256→256 stride 2, BN            1/8
model4      3 × conv 512, BN                                                 1/8
model5/6    3 × conv 512 dilation 2, BN                                      1/8
model7      3 × conv 512, BN                                                 1/8
model8      transposed conv 512→256 (4×4, stride 2), 2 × conv 256, 1×1 conv  1/4
            256→313 (the logits)
model_out   1×1 conv 313→2 without bias: its weights are the bin centres / 110 (the annealed mean at T = 1)
==========  ==============================================================  ===========

**SIGGRAPH17** ("Real-Time User-Guided Image Colorization with Learned Deep Priors", 2017). Input: the
concatenation of (L* − 50) / 100, the hint a*, b* / 110 and the hint mask (centred: the authors train with
mask − 0.5, i.e. −0.5 where no hint is given and +0.5 under a hint). The encoder (model1 … model7, 3×3
convolutions, BN closing each block, dilation 2 in model5 and model6) keeps the resolution inside a block and
subsamples by taking every second pixel (``[:, :, ::2, ::2]``) after model1, model2 and model3. The decoder adds
skip connections: model8up (transposed conv 512→256) + model3short8 (conv on model3's features) → model8 (ReLU,
2 × conv 256, BN) at 1/4; model9up + model2short9 → model9 at 1/2; model10up + model1short10 → model10 (ReLU, conv,
LeakyReLU 0.2) at full resolution. Heads: ``model_class`` (1×1 conv 256 → 529 logits over the 23 × 23 grid of
step 10 from −110 to 110, a*-major) on model8's features at 1/4; ``model_out`` (1×1 conv 128 → 2, tanh; × 110
gives ab) at full resolution.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

L_CENT, L_NORM, AB_NORM, MASK_CENT = 50.0, 100.0, 110.0, 0.5
ECCV16_Q = 313
SIGGRAPH17_Q = 529
ALIGN = 8  # three halvings before the decoder: inputs are padded to a multiple of 8


def _block(convs: Sequence[Tuple[int, int, int, int]], norm: Optional[int], lead_relu: bool = False) -> nn.Sequential:
    """``convs``: (in, out, stride, dilation) of 3×3 convolutions, each followed by a ReLU; then BN(``norm``)."""
    layers: List[nn.Module] = [nn.ReLU(inplace=True)] if lead_relu else []
    for cin, cout, stride, dilation in convs:
        layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
    if norm:
        layers.append(nn.BatchNorm2d(norm))
    return nn.Sequential(*layers)


def _up(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)  # exactly ×2


def _trunk(first: int, strided: bool) -> List[nn.Sequential]:
    """model1 … model7: the VGG-like encoder both networks share (ECCV16 downsamples by stride-2 convolutions,
    SIGGRAPH17 by subsampling between the blocks)."""
    s = 2 if strided else 1
    return [
        _block([(first, 64, 1, 1), (64, 64, s, 1)], 64),
        _block([(64, 128, 1, 1), (128, 128, s, 1)], 128),
        _block([(128, 256, 1, 1), (256, 256, 1, 1), (256, 256, s, 1)], 256),
        _block([(256, 512, 1, 1), (512, 512, 1, 1), (512, 512, 1, 1)], 512),
        _block([(512, 512, 1, 2)] * 3, 512),
        _block([(512, 512, 1, 2)] * 3, 512),
        _block([(512, 512, 1, 1)] * 3, 512),
    ]


class ECCV16Layout(nn.Module):
    """The ECCV16 network. ``forward`` takes (L* − 50) / 100 and returns the 313 logits at 1/4 resolution."""

    def __init__(self) -> None:
        super().__init__()
        for i, block in enumerate(_trunk(1, strided=True), 1):
            self.add_module(f"model{i}", block)
        self.model8 = nn.Sequential(
            _up(512, 256), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, ECCV16_Q, 1),
        )
        self.model_out = nn.Conv2d(ECCV16_Q, 2, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 9):
            x = getattr(self, f"model{i}")(x)
        return x

    def bin_centers(self) -> torch.Tensor:
        """(313, 2) ab bin centres: ``model_out``'s weights × 110."""
        return self.model_out.weight.detach()[:, :, 0, 0].t() * AB_NORM


class SIGGRAPH17Layout(nn.Module):
    """The SIGGRAPH17 network. ``forward`` takes the 4-channel input (see the module docstring) and returns the
    529 logits at 1/4 resolution and, with ``regression=True``, also the regression head's ab / 110 at full
    resolution."""

    def __init__(self) -> None:
        super().__init__()
        for i, block in enumerate(_trunk(4, strided=False), 1):
            self.add_module(f"model{i}", block)
        self.model8up = nn.Sequential(_up(512, 256))
        self.model3short8 = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1))
        self.model8 = _block([(256, 256, 1, 1), (256, 256, 1, 1)], 256, lead_relu=True)
        self.model9up = nn.Sequential(_up(256, 128))
        self.model2short9 = nn.Sequential(nn.Conv2d(128, 128, 3, padding=1))
        self.model9 = _block([(128, 128, 1, 1)], 128, lead_relu=True)
        self.model10up = nn.Sequential(_up(128, 128))
        self.model1short10 = nn.Sequential(nn.Conv2d(64, 128, 3, padding=1))
        self.model10 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(128, 128, 3, padding=1), nn.LeakyReLU(0.2))
        self.model_class = nn.Sequential(nn.Conv2d(256, SIGGRAPH17_Q, 1))
        self.model_out = nn.Sequential(nn.Conv2d(128, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor, regression: bool = False):
        c1 = self.model1(x)
        c2 = self.model2(c1[:, :, ::2, ::2])
        c3 = self.model3(c2[:, :, ::2, ::2])
        c7 = self.model7(self.model6(self.model5(self.model4(c3[:, :, ::2, ::2]))))
        c8 = self.model8(self.model8up(c7) + self.model3short8(c3))
        logits = self.model_class(c8)
        if not regression:
            return logits
        c9 = self.model9(self.model9up(c8) + self.model2short9(c2))
        c10 = self.model10(self.model10up(c9) + self.model1short10(c1))
        return logits, self.model_out(c10)


def build_layout(arch: str) -> nn.Module:
    if arch == "eccv16":
        return ECCV16Layout()
    if arch == "siggraph17":
        return SIGGRAPH17Layout()
    raise ValueError(f"unknown architecture {arch!r} (eccv16 or siggraph17)")


class ECCV16Export(nn.Module):
    """Polychrome's contract around ECCV16: input ``L`` = (L* − 50) / 50 (the house normalisation), turned into the
    authors' (L* − 50) / 100 inside the graph; any H, W that are multiples of 4 (padded to 8 at the bottom and
    right by repeating the edge, the logits cropped back to H/4 × W/4)."""

    def __init__(self, net: ECCV16Layout, l_scale: float) -> None:
        super().__init__()
        self.net = net
        self.l_factor = float(l_scale) / L_NORM

    def forward(self, L: torch.Tensor) -> torch.Tensor:  # noqa: N803
        H, W = L.shape[-2], L.shape[-1]
        ph, pw = (ALIGN - H % ALIGN) % ALIGN, (ALIGN - W % ALIGN) % ALIGN
        y = self.net(F.pad(L * self.l_factor, (0, pw, 0, ph), mode="replicate"))
        return y[:, :, : H // 4, : W // 4]


class SIGGRAPH17Export(nn.Module):
    """Polychrome's contract around SIGGRAPH17: inputs ``L`` ((L* − 50) / 50), ``hint_ab`` (a*, b* in CIELAB units,
    0 where no hint) and ``hint_mask`` (1 under a hint, 0 elsewhere), converted inside the graph to the authors'
    (L* − 50) / 100, ab / 110 (masked) and mask − 0.5; output the 529 logits (and with ``regression`` also ``ab``,
    the regression head's a*, b* at full resolution)."""

    def __init__(self, net: SIGGRAPH17Layout, l_scale: float, regression: bool = False) -> None:
        super().__init__()
        self.net = net
        self.l_factor = float(l_scale) / L_NORM
        self.regression = bool(regression)

    def forward(self, L: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor):  # noqa: N803
        H, W = L.shape[-2], L.shape[-1]
        ph, pw = (ALIGN - H % ALIGN) % ALIGN, (ALIGN - W % ALIGN) % ALIGN
        x = F.pad(L * self.l_factor, (0, pw, 0, ph), mode="replicate")
        ab = F.pad(hint_ab * hint_mask * (1.0 / AB_NORM), (0, pw, 0, ph))  # no hint in the padding
        mask = F.pad(hint_mask, (0, pw, 0, ph)) - MASK_CENT
        out = self.net(torch.cat([x, ab, mask], dim=1), regression=self.regression)
        if not self.regression:
            return out[:, :, : H // 4, : W // 4]
        logits, reg = out
        return logits[:, :, : H // 4, : W // 4], reg[:, :, :H, :W] * AB_NORM
