"""What a training run computes and where it runs: :class:`TrainConfig`, the result of a run, devices.

Importing this module imports torch (through the loss table); front ends that must not (the ``train`` argument
parser) import it when the command runs.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from ..core.decode import DEFAULT_T, MAX_T
from ..core.errors import PolychromeError
from .data import CROP_MODES, HintConfig
from .loss import LOSSES

# strength of the exported hint propagation (training.calibration), chosen on val/ with the v2 model
HINT_GAMMA = 60.0


class TrainingError(PolychromeError):
    """Training cannot start or continue (no usable photos, incompatible base model, bad checkpoint ...)."""


@dataclass
class TrainConfig:
    data: List[str] = field(default_factory=list)  # folders (or files) of colour photos
    name: str = "custom"  # model name (manifest) and default file / checkpoint folder name
    out_dir: Optional[str] = None  # folder for <name>.onnx (default: the current folder)
    output: Optional[str] = None  # explicit .onnx path (wins over out_dir)
    size: int = 256  # training crop side (multiple of 32)
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    encoder_lr_mult: float = 0.3  # a pretrained encoder learns slower than the fresh decoder
    weight_decay: float = 1e-4
    warmup_steps: int = 200  # capped at a tenth of the run
    min_lr_ratio: float = 0.02  # cosine decays to lr × this
    grad_clip: float = 1.0
    loss: str = "ce"  # "ce" (rebalanced cross-entropy), "l2", "mse_l1"
    lam: float = 0.5  # rebalancing λ (1 = no rebalancing)
    bins: str = "in_gamut"  # "in_gamut" or "data" (cells the training photos occupy)
    bins_min_count: int = 20  # data bins: a cell needs this many samples (noise removal)
    prior_source: str = "auto"  # "data", "base" (fine-tuning) or "auto" (base if fine-tuning and stored, else data)
    prior_images: int = 500  # photos sampled for the prior / data bins
    freeze_encoder: bool = False
    pretrained: bool = True  # ImageNet EfficientNet-Lite0 encoder (False: from scratch)
    width_mult: float = 1.0  # thinner network (tests, experiments); only 1.0 can be pretrained
    stride: int = 4  # output stride: 4 (default) or 2
    base_model: Optional[str] = None  # .onnx exported by polychrome train: fine-tune it
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1" ...
    amp: bool = True  # mixed precision (CUDA only)
    val_fraction: float = 0.05  # share of ``data`` held out, unless ``val_data`` is given
    val_data: List[str] = field(default_factory=list)  # separate validation folders (then nothing is held out)
    max_train_images: Optional[int] = None
    max_val_images: int = 256
    val_metric_images: int = 8  # photos scored with the image metrics each epoch
    val_samples: int = 4  # sample colorizations sent with each validation event
    val_every_epochs: int = 1
    min_side: int = 64  # photos with a shorter side are skipped
    degrade: bool = True  # scan-like damage on the training input
    crop: str = "photo"  # "photo" (square of the photo's short side) or "inference" (at the app's input scale)
    crop_scale_min: float = 0.75  # "inference" crops: the long side is input_size × [min, max] (multi-scale)
    crop_scale_max: float = 1.25
    global_context: bool = False  # fuse the pooled deepest features (ImageNet head) into the decoder
    hints: bool = False  # the network takes colour hints (hint_ab, hint_mask); trained with simulated hints
    hint_p_none: float = 0.55  # share of training samples without any hint
    hint_mean_points: float = 8.0  # mean number of hint points (geometric) in samples that have hints
    # fixed output layers of the export (training.calibration), chosen on val/ for the shipped model
    prior_alpha: Optional[float] = None  # undo this share of the rebalancing tilt in the exported logits (0..1);
    # None: the base model's (fine-tuning), else 0
    hint_gamma: float = HINT_GAMMA  # strength of the lightness-guided hint propagation (0: off; hint models)
    checkpoint_dir: Optional[str] = None  # default: <user cache>/polychrome/checkpoints/<name>
    checkpoint_every_steps: int = 500  # also saved at every epoch end and on cancel
    num_workers: Optional[int] = None  # data-loading processes; None: 0 on CPU, up to 8 on CUDA
    default_T: float = DEFAULT_T
    input_size: Optional[int] = None  # long side the app feeds the model (default: size)
    max_steps: Optional[int] = None  # stop (and export) after this many steps in total
    recalibrate_bn_images: int = 256  # crops for re-estimating BatchNorm statistics before export (0: off)
    export: bool = True
    install: bool = False  # copy the exported model into the per-user models folder
    overwrite: bool = False  # replace an existing output / installed model
    version: str = "1.0"
    license: str = ""
    description: str = ""

    # fields that may differ when resuming (where/how the run executes, not what it computes)
    RUNTIME_FIELDS = (
        "device", "num_workers", "checkpoint_dir", "checkpoint_every_steps", "out_dir", "output", "install",
        "overwrite", "export",
    )

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise TrainingError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.size < 32 or self.size % 32:
            raise TrainingError(f"size must be a multiple of 32 (got {self.size})")
        if self.stride not in (2, 4):
            raise TrainingError("stride must be 2 or 4")
        if self.batch_size < 1 or self.epochs < 1:
            raise TrainingError("batch size and epochs must be at least 1")
        if not 0.0 <= self.lam <= 1.0:
            raise TrainingError("lambda must lie in [0, 1]")
        if not 0.0 <= self.val_fraction < 1.0:
            raise TrainingError("val_fraction must lie in [0, 1)")
        if not 0.0 < self.default_T <= MAX_T:
            raise TrainingError("default_T must lie in (0, 1]")
        if self.bins not in ("in_gamut", "data"):
            raise TrainingError("bins must be 'in_gamut' or 'data'")
        if self.prior_source not in ("auto", "data", "base"):
            raise TrainingError("prior_source must be 'auto', 'data' or 'base'")
        if self.pretrained and self.width_mult != 1.0 and not self.base_model:
            raise TrainingError("a pretrained encoder needs width_mult 1.0 (or train from scratch)")
        if self.crop not in CROP_MODES:
            raise TrainingError(f"crop must be one of {', '.join(CROP_MODES)}")
        if not 0.1 <= self.crop_scale_min <= self.crop_scale_max <= 4.0:
            raise TrainingError("crop scales need 0.1 ≤ min ≤ max ≤ 4")
        if self.prior_alpha is not None and not 0.0 <= self.prior_alpha <= 1.0:
            raise TrainingError("prior_alpha must lie in [0, 1]")
        if not 0.0 <= self.hint_gamma <= 1000.0:
            raise TrainingError("hint_gamma must lie in [0, 1000]")
        try:
            self.hint_config().validate()
        except ValueError as exc:
            raise TrainingError(str(exc)) from None

    def calibration(self) -> Any:
        """The export's fixed output layers (:class:`~polychrome.training.calibration.Calibration`)."""
        from .calibration import Calibration

        gamma = self.hint_gamma if self.hints else 0.0
        return Calibration(prior_alpha=self.prior_alpha or 0.0, lam=self.lam, hint_gamma=gamma)

    def hint_config(self) -> HintConfig:
        return HintConfig(p_none=self.hint_p_none, mean_points=self.hint_mean_points)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainResult:
    output: Optional[Path]
    checkpoint: Optional[Path]
    summary: Dict[str, Any]
    history: List[Dict[str, Any]]
    installed: Optional[Path] = None


def default_checkpoint_dir(name: str) -> Path:
    """<user cache>/polychrome/checkpoints/<name> (``$POLYCHROME_CHECKPOINTS`` overrides the parent)."""
    env = os.environ.get("POLYCHROME_CHECKPOINTS")
    if env:
        return Path(env) / name
    import platformdirs

    return Path(platformdirs.user_cache_dir("polychrome", appauthor=False)) / "checkpoints" / name


def resolve_device(name: str) -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError("CUDA was asked for but this PyTorch has no usable CUDA device")
    return dev


def available_devices() -> List[Tuple[str, str]]:
    """(device name for :attr:`TrainConfig.device`, label) of what this PyTorch can train on: the CPU, then
    every CUDA GPU it sees."""
    out = [("cpu", f"CPU ({os.cpu_count() or '?'} cores)")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", f"GPU {i}: {torch.cuda.get_device_name(i)}"))
    return out
