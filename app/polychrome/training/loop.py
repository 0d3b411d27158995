"""The training loop: configuration, optimisation, validation, checkpoints, cancel and resume, export.

    trainer = Trainer(TrainConfig(data=["photos/"], name="family", epochs=10), progress)
    result = trainer.fit()          # scan, train, validate every epoch, recalibrate BN, export ONNX
    # after a cancel (progress.check() raised Cancelled) or a crash:
    result = Trainer(config, progress).resume(checkpoint_path)

Reproducibility: the epoch's batch order is a pure function of (seed, epoch); each item's crop and damage of
(seed, epoch, index); the network has no dropout. A checkpoint stores the model, the optimizer, scheduler and
AMP scaler, the RNG states, the position (epoch, batch in epoch, global step), the data lists, bins, prior and
config, so a resumed run takes exactly the steps an uninterrupted run would have taken (bit for bit on CPU).

Progress events (``progress.step`` per training step, ``progress.report`` otherwise) carry plain data:

* ``phase="scan"`` / ``"prepare"`` while listing photos and estimating the prior;
* ``phase="train"``: ``epoch`` (1-based), ``epochs``, ``step`` (global, 1-based), ``total_steps``, ``loss`` (this
  step), ``train_loss`` (running mean over the epoch), ``lr``, ``images_per_s``, ``eta_s``;
* ``phase="val"`` (after each epoch; ``final=True`` for the pass after BatchNorm recalibration): ``val_loss``,
  ``metrics`` (means of :func:`polychrome.core.metrics.compute_all` over a few validation photos at the default
  T: psnr, ssim, auc, delta_e, colorfulness, colorfulness_gt, delta_colorfulness), ``colorfulness_ratio``
  (prediction / ground truth — drifting well above 1 is the garish-colour failure of strong rebalancing on small
  data sets), ``warning`` (text or None) and ``samples``: a list of dicts with uint8 RGB arrays ``gray``,
  ``truth`` and ``pred`` and the ``name`` of the photo;
* ``phase="checkpoint"`` with ``path``; ``phase="export"`` with ``path`` and ``size_mb``; ``phase="done"``.

Hooks for interactive front ends (the training wizard) that keep the training itself here:

* ``Trainer(config, progress, step_hook=fn)``: ``fn(trainer)`` runs at every step boundary, before the step's
  update; it may block (a pause) or raise :class:`Cancelled`. Time spent in it does not count towards the ETA.
* :meth:`Trainer.use_scan` hands over a folder scan made beforehand (no second scan), and
  :func:`color_statistics` / :meth:`Trainer.use_color_statistics` compute and hand over the bin table and prior.
* :func:`estimate_epoch_time` times a few real steps of a configured run; :func:`checkpoint_info` and
  :func:`find_checkpoints` describe interrupted runs without building a model.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from .. import __version__
from ..core.bins import ABBins, in_gamut_bins
from ..core.color import lab_to_srgb
from ..core.errors import ImageWriteError, ModelError, PolychromeError
from ..core.merge import merge_lab, upsample_ab_fixed
from ..core.metrics import compute_all
from ..core.prior import PriorAccumulator
from ..core.decode import DEFAULT_T
from ..core.imageio import atomic_write
from ..core.jsonsafe import json_safe
from ..core.progress import Cancelled, Progress, ensure_progress
from .data import (
    CROP_MODES,
    ColorizationDataset,
    HintConfig,
    DegradeConfig,
    ImageRecord,
    ScanReport,
    batches_for_epoch,
    denormalise_L,
    gray_rgb_uint8,
    sample_ab,
    scan_folders,
)
from .export import BaseModel, export_onnx, load_base_model
from .loss import LOSSES, head_for_loss, make_loss, predicted_ab
from .network import ColorizationNet, build_model, upgrade_model

CHECKPOINT_NAME = "last.pt"
CHECKPOINT_FORMAT = 1
GARISH_RATIO = 1.3
MAX_BAD_STEPS = 20
DULL_RATIO = 0.5


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
        if not 0.0 < self.default_T <= 1.0:
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
        try:
            self.hint_config().validate()
        except ValueError as exc:
            raise TrainingError(str(exc)) from None

    def hint_config(self) -> HintConfig:
        return HintConfig(p_none=self.hint_p_none, mean_points=self.hint_mean_points)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
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


def model_inputs(
    model: nn.Module, L: torch.Tensor, hints: Optional[torch.Tensor], device: torch.device
) -> Tuple[torch.Tensor, ...]:
    """The forward arguments for a batch: (L,) or, for a hint-taking network, (L, hint_ab, hint_mask)."""
    L = L.to(device, non_blocking=True)
    if not getattr(model, "hints", False):
        return (L,)
    if hints is None:
        hints = torch.zeros((L.shape[0], 3) + tuple(L.shape[2:]), dtype=L.dtype)
    hints = hints.to(device, non_blocking=True)
    return (L, hints[:, :2], hints[:, 2:3])


# ---------------------------------------------------------------------------------------------------------------
# BatchNorm recalibration
# ---------------------------------------------------------------------------------------------------------------


def recalibrate_bn(model: nn.Module, loader, n_batches: int, device: Optional[torch.device] = None) -> int:
    """Re-estimate the running statistics of the trainable BatchNorm layers on ``n_batches`` training batches.

    Running means/variances tracked with momentum during training lag behind the final weights and are noisy
    with small batches; here they are reset and recomputed as exact averages (momentum=None) with the final
    weights, in train mode. Layers in eval mode during training (a frozen encoder) keep their statistics.
    Returns the number of batches used. The model is left in eval mode.
    """
    was_training = model.training
    model.train()
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    if not bns or n_batches <= 0:
        model.train(was_training)
        return 0
    if device is None:
        device = next(model.parameters()).device
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    used = 0
    try:
        with torch.no_grad():
            for batch in loader:
                if used >= n_batches:
                    break
                if isinstance(batch, (list, tuple)):
                    model(*model_inputs(model, batch[0], batch[3] if len(batch) > 3 else None, device))
                else:
                    model(batch.to(device))
                used += 1
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom
    model.eval()
    return used


# ---------------------------------------------------------------------------------------------------------------
# RNG state as plain data (checkpoints load with weights_only=True)
# ---------------------------------------------------------------------------------------------------------------


def _rng_state() -> Dict[str, Any]:
    np_state = np.random.get_state()
    py = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached": float(np_state[4]),
        },
        "python": {"version": py[0], "state": list(py[1]), "gauss": py[2]},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except RuntimeError:  # a different number of GPUs: not fatal
            pass


def _atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save to a temp file in the target folder, fsync, rename: the old file or the new, never half."""
    try:
        atomic_write(path, lambda fh: torch.save(obj, fh))
    except ImageWriteError as exc:
        reason = exc.reason[len("cannot write: "):] if exc.reason.startswith("cannot write: ") else exc.reason
        raise TrainingError(f"{path}: cannot write the checkpoint: {reason}") from None




# ---------------------------------------------------------------------------------------------------------------
# Data split and colour statistics (shared by the trainer and front ends that show them before training)
# ---------------------------------------------------------------------------------------------------------------


def split_for_training(
    report: ScanReport, config: TrainConfig, val_report: Optional[ScanReport] = None
) -> Tuple[List[ImageRecord], List[ImageRecord]]:
    """(train, val) records of a scan as ``config`` asks: a held-out share of ``report`` or the photos of
    ``val_report`` (the scan of ``config.val_data``), ``max_train_images`` applied, validation thinned evenly to
    ``max_val_images`` (so every source of a folder tree stays represented)."""
    if val_report is not None:
        train = list(report.usable)
        val = list(val_report.usable)
    else:
        train, val = report.split(config.val_fraction)
    if config.max_train_images is not None:
        train = train[: int(config.max_train_images)]
    if len(val) > int(config.max_val_images):
        idx = np.linspace(0, len(val) - 1, int(config.max_val_images)).round().astype(int)
        val = [val[i] for i in idx]
    return train, val


@dataclass
class ColorStatistics:
    """The bin table and priors of a run, as :meth:`Trainer.prepare` would choose them.

    ``prior`` is what the rebalanced loss uses (None for the regression losses when nothing was sampled);
    ``data_prior`` is the training photos' own smoothed prior on ``bins`` (None when the photos were not
    sampled); ``prior_source`` says where ``prior`` came from ("data" or "base").
    """

    bins: ABBins
    prior: Optional[np.ndarray]
    data_prior: Optional[np.ndarray]
    prior_source: str
    n_images: int

    def weights(self, lam: float) -> Optional[np.ndarray]:
        """The class-rebalancing weights of ``prior`` at ``lam`` (None without a prior)."""
        from ..core.prior import rebalance_weights

        return None if self.prior is None else rebalance_weights(self.prior, lam)


def color_statistics(
    config: TrainConfig,
    records: Sequence[ImageRecord],
    base: Optional[BaseModel] = None,
    progress: Optional[Progress] = None,
    always_sample: bool = False,
) -> ColorStatistics:
    """Choose the bin table and estimate the prior for training ``records`` as ``config`` says.

    Fine-tuning (``base`` given) keeps the base model's bins; otherwise ``config.bins`` decides (every in-gamut
    cell, or the cells the photos occupy). The prior is the base model's when ``config.prior_source`` allows it
    and the base stores one, else the photos' own. ``always_sample`` also samples the photos when the base prior is
    used (to show the data's prior next to it).
    """
    c = config
    progress = ensure_progress(progress)
    use_base_prior = base is not None and base.prior is not None and c.prior_source in ("auto", "base")
    if c.prior_source == "base" and not use_base_prior:
        raise TrainingError("prior_source='base' needs a base model that stores its prior")
    need_samples = always_sample or (c.loss == "ce" and not use_base_prior) or (base is None and c.bins == "data")
    samples: List[np.ndarray] = []
    if need_samples:
        progress.report("estimating the colour prior", phase="prepare")
        samples = sample_ab(records, c.prior_images, max_side=max(16, c.size // c.stride), progress=progress)
    if base is not None:
        bins = base.bins
    elif c.bins == "data":
        if not samples:
            raise TrainingError("no readable photos to derive the bins from")
        bins = ABBins.from_ab(samples, min_count=c.bins_min_count, name="data")
    else:
        bins = in_gamut_bins()
    data_prior = None
    if need_samples:  # (no readable photo: a uniform prior, as smooth_prior gives for zero counts)
        acc = PriorAccumulator(bins)
        for ab in samples:
            acc.add_ab(ab)
        data_prior = acc.prior()
    prior = None
    if c.loss == "ce" or samples:
        prior = np.asarray(base.prior, dtype=np.float64) if use_base_prior else data_prior
    return ColorStatistics(bins, prior, data_prior, "base" if use_base_prior else "data", len(samples))


# ---------------------------------------------------------------------------------------------------------------
# Trainer
# ---------------------------------------------------------------------------------------------------------------

StepHook = Callable[["Trainer"], None]


class Trainer:
    """Trains a :class:`ColorizationNet` as configured; see the module docstring for events and guarantees."""

    def __init__(
        self, config: TrainConfig, progress: Optional[Progress] = None, step_hook: Optional[StepHook] = None
    ) -> None:
        self.config = config
        self.progress = ensure_progress(progress)
        self.step_hook = step_hook  # called at every step boundary; may block (pause) or raise Cancelled
        self.device = resolve_device(config.device)
        self.model: Optional[ColorizationNet] = None
        self.bins: Optional[ABBins] = None
        self.prior: Optional[np.ndarray] = None
        self.train_records: List[ImageRecord] = []
        self.val_records: List[ImageRecord] = []
        self.scan_counts: Dict[str, int] = {}
        self.base: Optional[BaseModel] = None
        self.base_info: Optional[Dict[str, Any]] = None
        self.epoch = 0  # epochs completed
        self.batch_in_epoch = 0  # batches of the current epoch already taken
        self.step = 0  # optimizer steps taken
        self.history: List[Dict[str, Any]] = []
        self.last_checkpoint: Optional[Path] = None
        self.output: Optional[Path] = None
        self.step_losses: List[float] = []  # every training step's loss (for tests / plots)
        self._prepared = False
        self._train_seconds = 0.0
        self._bad_steps = 0
        self.hook_seconds = 0.0  # time spent in step_hook during the last fit() (a pause): not in the ETA

    # -- derived ------------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        c = self.config
        return Path(c.checkpoint_dir) if c.checkpoint_dir else default_checkpoint_dir(c.name)

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint_dir / CHECKPOINT_NAME

    @property
    def output_path(self) -> Path:
        c = self.config
        if c.output:
            return Path(c.output)
        return Path(c.out_dir or ".") / f"{c.name}.onnx"

    @property
    def steps_per_epoch(self) -> int:
        return len(batches_for_epoch(len(self.train_records), self.config.batch_size, self.config.seed, 0))

    @property
    def total_steps(self) -> int:
        n = self.steps_per_epoch * self.config.epochs
        if self.config.max_steps is not None:
            n = min(n, int(self.config.max_steps))
        return max(1, n)

    def _sub_progress(self) -> Progress:
        """A progress for a preparatory phase: same callback and cancel token, its own counters."""
        return Progress(self.progress.callback, cancel=self.progress.cancel_token)

    # -- setup --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Scan the data, choose bins and prior, build the model, optimizer and schedule."""
        if self._prepared:
            return
        c = self.config
        c.validate()
        self._seed_everything()
        if c.base_model:
            self._load_base()
        if not self.train_records:
            self._scan()
        self._choose_bins_and_prior()
        self._build()
        self._prepared = True

    def _seed_everything(self) -> None:
        torch.manual_seed(self.config.seed)
        np.random.seed(self.config.seed % 2**32)
        random.seed(self.config.seed)

    def _load_base(self) -> None:
        c = self.config
        self.base = load_base_model(c.base_model)
        head = self.base.arch.get("head", "classification")
        if head != head_for_loss(c.loss):
            raise TrainingError(
                f"{c.base_model}: the base model has a {head} head, which the '{c.loss}' loss cannot train"
            )
        self.base_info = {"name": self.base.manifest.name, "version": self.base.manifest.version}

    def _scan(self) -> None:
        c = self.config
        if not c.data:
            raise TrainingError("no training data given")
        sub = self._sub_progress()
        self.progress.report("scanning photos", phase="scan")
        report = scan_folders(c.data, min_side=c.min_side, progress=sub)
        val_report = scan_folders(c.val_data, min_side=c.min_side, progress=sub) if c.val_data else None
        self.use_scan(report, val_report)

    def use_scan(self, report: ScanReport, val_report: Optional[ScanReport] = None) -> None:
        """Train on the photos of a scan made beforehand (of ``config.data``; ``val_report``: of
        ``config.val_data``) instead of scanning again; split as :func:`split_for_training`. Call before
        :meth:`prepare`."""
        c = self.config
        train, val = split_for_training(report, c, val_report)
        if not train:
            raise TrainingError(f"no usable training photos in {', '.join(c.data)} ({report.summary()})")
        self.scan_counts = report.counts
        self.train_records, self.val_records = train, val
        self.progress.report(
            f"{report.summary()}; {len(train)} for training, {len(val)} for validation",
            phase="scan",
            counts=report.counts,
            n_train=len(train),
            n_val=len(val),
            unreadable=report.unreadable[:50],
        )

    def _choose_bins_and_prior(self) -> None:
        c = self.config
        if self.bins is not None and (self.prior is not None or c.loss != "ce"):
            return  # restored from a checkpoint, or handed over by use_color_statistics
        stats = color_statistics(c, self.train_records, self.base, self._sub_progress())
        self.bins, self.prior = stats.bins, stats.prior

    def use_color_statistics(self, stats: ColorStatistics) -> None:
        """Use a bin table and prior computed beforehand by :func:`color_statistics` (same config and photos)
        instead of sampling the photos again. Call before :meth:`prepare`."""
        if stats.prior is None and self.config.loss == "ce":
            raise TrainingError("the rebalanced cross-entropy needs a prior")
        self.bins, self.prior = stats.bins, stats.prior

    def _build(self) -> None:
        c = self.config
        if self.model is None:
            if self.base is not None:
                try:
                    self.model = upgrade_model(self.base.model, c.hints, c.global_context)
                except ModelError as exc:
                    raise TrainingError(f"{c.base_model}: {exc}") from None
            else:
                self.model = ColorizationNet(
                    self.bins.Q,
                    pretrained=c.pretrained,
                    head=head_for_loss(c.loss),
                    stride=c.stride,
                    width_mult=c.width_mult,
                    hints=c.hints,
                    global_context=c.global_context,
                )
        if self.model.Q != self.bins.Q and self.model.head_type == "classification":
            raise TrainingError(f"the network predicts {self.model.Q} bins but the table has {self.bins.Q}")
        self.model.to(self.device)
        if c.freeze_encoder:
            self.model.freeze_encoder(True)
        self.model.train()
        self.criterion = make_loss(c.loss, self.bins, self.prior, c.lam).to(self.device)
        self.centers = torch.from_numpy(self.bins.centers).to(self.device)

        enc_ids = {id(p) for p in self.model.encoder.parameters()}
        enc_lr = c.lr * (c.encoder_lr_mult if (c.pretrained or self.base is not None) else 1.0)
        groups = []
        for is_enc, lr in ((True, enc_lr), (False, c.lr)):
            decay, no_decay = [], []
            for p in self.model.parameters():
                if not p.requires_grad or ((id(p) in enc_ids) != is_enc):
                    continue
                (no_decay if p.ndim <= 1 else decay).append(p)
            if decay:
                groups.append({"params": decay, "lr": lr, "weight_decay": c.weight_decay})
            if no_decay:
                groups.append({"params": no_decay, "lr": lr, "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(groups, lr=c.lr, betas=(0.9, 0.99))
        total = self.total_steps
        warm = max(0, min(int(c.warmup_steps), total // 10))
        floor = float(c.min_lr_ratio)

        def factor(step: int) -> float:
            if warm and step < warm:
                return (step + 1) / warm
            t = (step - warm) / max(1, total - warm)
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
        self.use_amp = bool(c.amp and self.device.type == "cuda")
        self.amp_dtype = (
            torch.bfloat16 if (self.use_amp and torch.cuda.is_bf16_supported()) else torch.float16
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)

        deg = DegradeConfig() if c.degrade else DegradeConfig.none()
        crop = dict(crop=c.crop, input_size=int(c.input_size or c.size), scale_range=(c.crop_scale_min, c.crop_scale_max))
        hints = c.hint_config() if self.model.hints else None
        self.train_ds = ColorizationDataset(
            self.train_records, c.size, train=True, seed=c.seed, degrade=deg, hints=hints, **crop
        )
        self.val_ds = ColorizationDataset(self.val_records, c.size, train=False, seed=c.seed, **crop)

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "polychrome": __version__,
            "config": self.config.to_dict(),
            "arch": dict(self.model.arch),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "rng": _rng_state(),
            "bins": self.bins.to_dict(),
            "prior": None if self.prior is None else [float(v) for v in self.prior],
            "train_records": [asdict(r) for r in self.train_records],
            "val_records": [asdict(r) for r in self.val_records],
            "scan_counts": dict(self.scan_counts),
            "history": self.history,
            "step_losses": list(self.step_losses),
            "base_info": self.base_info,
            "train_seconds": self._train_seconds,
        }

    def save_checkpoint(self, path: Union[str, Path, None] = None) -> Path:
        """Write the full training state atomically (temp file + rename); returns its path."""
        path = Path(path) if path else self.checkpoint_path
        path.parent.mkdir(parents=True, exist_ok=True)
        state = self.state_dict()
        _atomic_torch_save(state, path)
        self.last_checkpoint = path
        self.progress.report(f"checkpoint saved: {path}", phase="checkpoint", path=str(path), step=self.step)
        return path

    def load_checkpoint(self, path: Union[str, Path]) -> None:
        """Restore a checkpoint (its config wins except for where/how the run executes)."""
        path, ck = read_checkpoint(path)
        runtime = {k: getattr(self.config, k) for k in TrainConfig.RUNTIME_FIELDS}
        cfg = TrainConfig.from_dict(ck["config"])
        for k, v in runtime.items():
            if v is None and k in ("checkpoint_dir", "out_dir", "output", "num_workers"):
                continue  # not given now: keep where the run was writing / how it was loading
            setattr(cfg, k, v)
        if self.config.checkpoint_dir is None:
            cfg.checkpoint_dir = str(path.parent)
        self.config = cfg
        self.device = resolve_device(cfg.device)
        self.bins = ABBins.from_dict(ck["bins"])
        self.prior = None if ck["prior"] is None else np.asarray(ck["prior"], dtype=np.float64)
        self.train_records = [ImageRecord(**r) for r in ck["train_records"]]
        self.val_records = [ImageRecord(**r) for r in ck["val_records"]]
        self.scan_counts = dict(ck.get("scan_counts") or {})
        self.base_info = ck.get("base_info")
        self.model = build_model(ck["arch"], pretrained=False)
        self.model.load_state_dict(ck["model"], strict=True)
        self.base = None
        self._build()
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        if ck.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ck["scaler"])
        self.epoch = int(ck["epoch"])
        self.batch_in_epoch = int(ck["batch_in_epoch"])
        self.step = int(ck["step"])
        self.history = list(ck.get("history") or [])
        self.step_losses = list(ck.get("step_losses") or [])
        self._train_seconds = float(ck.get("train_seconds") or 0.0)
        _set_rng_state(ck["rng"])
        self.last_checkpoint = path
        self._prepared = True

    def resume(self, path: Union[str, Path]) -> TrainResult:
        """Load a checkpoint and continue training to the end (then validate and export as configured)."""
        self.load_checkpoint(path)
        return self.fit()

    # -- training -----------------------------------------------------------------------------
    @property
    def num_workers(self) -> int:
        """Configured worker count; ``None`` means 0 on CPU (the cores are busy training) and up to 8 on CUDA."""
        n = self.config.num_workers
        if n is None:
            return 0 if self.device.type == "cpu" else max(0, min(8, (os.cpu_count() or 1) - 1))
        return max(0, int(n))

    def _loader(self, dataset, batches: Sequence[Sequence[int]]) -> DataLoader:
        workers = self.num_workers
        return DataLoader(
            dataset,
            batch_sampler=[list(b) for b in batches],
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            # no worker_init_fn: PyTorch already gives each worker one thread, and calling into OpenCV's
            # thread pool settings in a forked worker can deadlock
            timeout=0,
        )

    def _train_step(self, L_in: torch.Tensor, ab: torch.Tensor, hints: Optional[torch.Tensor] = None) -> float:
        c = self.config
        inputs = model_inputs(self.model, L_in, hints, self.device)
        ab = ab.to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            out = self.model(*inputs)
        loss = self.criterion(out.float(), ab)
        if not torch.isfinite(loss):
            # Skip the update (the schedule still advances, so the run stays aligned); give up if it persists.
            self._bad_steps += 1
            if self._bad_steps >= MAX_BAD_STEPS:
                raise TrainingError(
                    f"the loss was not finite for {self._bad_steps} steps in a row (step {self.step + 1}); "
                    "try a lower learning rate"
                )
            self.scheduler.step()
            return float("nan")
        self._bad_steps = 0
        self.scaler.scale(loss).backward()
        if c.grad_clip and c.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], c.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return float(loss.detach())

    def fit(self) -> TrainResult:
        """Train to the end (or until cancelled: then a checkpoint is written and Cancelled re-raised)."""
        self.prepare()
        c = self.config
        total = self.total_steps
        spe = self.steps_per_epoch
        self.progress.set_total(total)
        self.progress.done = float(self.step)
        self.progress.report(
            f"training on {len(self.train_records)} photos ({spe} steps per epoch, {total} steps) on {self.device}",
            phase="start",
            n_train=len(self.train_records),
            n_val=len(self.val_records),
            total_steps=total,
            steps_per_epoch=spe,
            step=self.step,
            device=str(self.device),
            parameters=self.model.num_parameters(),
            trainable_parameters=self.model.num_parameters(trainable_only=True),
        )
        t_start = time.monotonic()
        step0 = self.step
        self.hook_seconds = 0.0
        try:
            while self.step < total and self.epoch < c.epochs:
                self.progress.check()
                self.train_ds.set_epoch(self.epoch)
                batches = batches_for_epoch(len(self.train_ds), c.batch_size, c.seed, self.epoch)
                if not batches:
                    raise TrainingError("no training batches")
                running, count = 0.0, 0
                self.model.train()
                for L_in, ab, _, hints in self._loader(self.train_ds, batches[self.batch_in_epoch :]):
                    self.progress.check()
                    if self.step_hook is not None:
                        t_hook = time.monotonic()
                        self.step_hook(self)
                        self.hook_seconds += time.monotonic() - t_hook
                        self.progress.check()
                    t0 = time.monotonic()
                    loss = self._train_step(L_in, ab, hints)
                    dt = time.monotonic() - t0
                    self._train_seconds += dt
                    self.step += 1
                    self.batch_in_epoch += 1
                    self.step_losses.append(loss)
                    if math.isfinite(loss):
                        running += loss
                        count += 1
                    done_here = self.step - step0
                    elapsed = time.monotonic() - t_start - self.hook_seconds
                    eta = elapsed / done_here * (total - self.step) if done_here else None
                    at_epoch_end = self.batch_in_epoch >= len(batches) or self.step >= total
                    if at_epoch_end:
                        self.epoch += 1
                        self.batch_in_epoch = 0
                    if c.checkpoint_every_steps and self.step % int(c.checkpoint_every_steps) == 0 and not at_epoch_end:
                        self.save_checkpoint()
                    self.progress.step(
                        1,
                        f"epoch {min(self.epoch + (0 if at_epoch_end else 1), c.epochs)}/{c.epochs} "
                        f"step {self.step}/{total} loss {loss:.4f}",
                        phase="train",
                        epoch=self.epoch if at_epoch_end else self.epoch + 1,
                        epochs=c.epochs,
                        step=self.step,
                        total_steps=total,
                        loss=loss,
                        train_loss=running / count if count else None,
                        lr=float(self.optimizer.param_groups[-1]["lr"]),
                        images_per_s=L_in.shape[0] / dt if dt > 0 else None,
                        eta_s=eta,
                    )
                    if at_epoch_end:
                        break
                else:
                    # the loader ran out without reaching the epoch end (an epoch with no batches left)
                    if self.batch_in_epoch:
                        self.epoch += 1
                        self.batch_in_epoch = 0
                if self.batch_in_epoch == 0:  # an epoch was completed (or the step budget reached)
                    record = {"epoch": self.epoch, "step": self.step, "train_loss": running / count if count else None}
                    if self.val_records and (
                        self.epoch % max(1, c.val_every_epochs) == 0 or self.step >= total or self.epoch >= c.epochs
                    ):
                        record.update(self.validate())
                    self.history.append(record)
                self.save_checkpoint()
        except Cancelled:
            self.save_checkpoint()
            self.progress.report(
                f"cancelled at step {self.step}; resume from {self.last_checkpoint}",
                phase="cancelled",
                step=self.step,
                checkpoint=str(self.last_checkpoint),
            )
            raise
        return self._finish()

    # -- validation ---------------------------------------------------------------------------
    def validate(self, final: bool = False) -> Dict[str, Any]:
        """Validation loss, image metrics and sample colorizations; reported as a ``phase="val"`` event."""
        c = self.config
        model = self.model
        was_training = model.training
        model.eval()
        n = len(self.val_ds)
        total_loss, total_n = 0.0, 0
        metrics: List[Dict[str, float]] = []
        samples: List[Dict[str, Any]] = []
        head = model.head_type
        idx = list(range(n))
        batches = [idx[i : i + c.batch_size] for i in range(0, n, c.batch_size)]
        try:
            with torch.no_grad():
                seen = 0
                for L_in, ab, L_clean, _ in self._loader(self.val_ds, batches):
                    self.progress.check()
                    x = L_in.to(self.device)
                    with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
                        out = model(*model_inputs(model, x, None, self.device))
                    out = out.float()
                    total_loss += float(self.criterion(out, ab.to(self.device))) * x.shape[0]
                    total_n += x.shape[0]
                    want = min(x.shape[0], max(c.val_metric_images, c.val_samples) - seen)
                    if want > 0:
                        pab = predicted_ab(out[:want], self.centers, head, c.default_T).cpu().numpy()
                        for j in range(want):
                            i = seen + j
                            L = denormalise_L(L_clean[j, 0].numpy())
                            truth_ab = ab[j].numpy().transpose(1, 2, 0)
                            truth = np.clip(np.rint(lab_to_srgb(np.dstack([L, truth_ab])) * 255), 0, 255).astype(np.uint8)
                            ab_fixed = upsample_ab_fixed(np.ascontiguousarray(pab[j].transpose(1, 2, 0)), L.shape)
                            pred = merge_lab(L, ab_fixed, np.uint8)
                            if i < c.val_metric_images:
                                metrics.append(compute_all(pred, truth).to_dict())
                            if i < c.val_samples:
                                samples.append(
                                    {
                                        "name": Path(self.val_records[i].path).name,
                                        "gray": gray_rgb_uint8(L),
                                        "truth": truth,
                                        "pred": pred,
                                    }
                                )
                        seen += want
        finally:
            model.train(was_training)
        out_d: Dict[str, Any] = {"val_loss": total_loss / max(1, total_n)}
        if metrics:
            mean = {k: float(np.nanmean([m[k] for m in metrics])) for k in metrics[0]}
            out_d["metrics"] = mean
            cf, cf_gt = mean["colorfulness"], mean["colorfulness_gt"]
            ratio = cf / cf_gt if cf_gt > 1e-6 else float("nan")
            out_d["colorfulness"] = cf
            out_d["colorfulness_gt"] = cf_gt
            out_d["colorfulness_ratio"] = ratio
            warning = None
            if math.isfinite(ratio) and ratio > GARISH_RATIO:
                warning = (
                    f"predictions are {ratio:.2f}× as colourful as the photos (garish drift); "
                    "consider a larger λ (less rebalancing) or a lower default T"
                )
            elif math.isfinite(ratio) and ratio < DULL_RATIO:
                warning = f"predictions are only {ratio:.2f}× as colourful as the photos (washed out)"
            out_d["warning"] = warning
        msg = f"validation: loss {out_d['val_loss']:.4f}"
        if metrics:
            m = out_d["metrics"]
            msg += (
                f", PSNR {m['psnr']:.2f} dB, AuC {m['auc']:.3f}, colourfulness {m['colorfulness']:.1f} "
                f"(photos {m['colorfulness_gt']:.1f})"
            )
        self.progress.report(
            msg,
            phase="val",
            final=final,
            epoch=self.epoch,
            epochs=c.epochs,
            step=self.step,
            samples=samples,
            **out_d,
        )
        return out_d

    # -- the end -------------------------------------------------------------------------------
    def summary(self, final_val: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The training summary stored in the exported model's metadata (JSON-safe)."""
        c = self.config
        last = final_val or (self.history[-1] if self.history else {})
        return plain({
            "data": [Path(d).name or str(d) for d in c.data],
            "n_train": len(self.train_records),
            "n_val": len(self.val_records),
            "scan": self.scan_counts,
            "epochs": self.epoch,
            "steps": self.step,
            "size": c.size,
            "batch_size": c.batch_size,
            "lr": c.lr,
            "weight_decay": c.weight_decay,
            "loss": c.loss,
            "lambda": c.lam,
            "bins": self.bins.name,
            "Q": self.bins.Q,
            "pretrained_encoder": bool(c.pretrained) if self.base_info is None else None,
            "base_model": self.base_info,
            "freeze_encoder": c.freeze_encoder,
            "degradations": c.degrade,
            "crop": c.crop if c.crop == "photo" else f"inference ×{c.crop_scale_min:g}–{c.crop_scale_max:g}",
            "global_context": bool(self.model.global_context is not None),
            "hints": bool(self.model.hints),
            "hint_p_none": c.hint_p_none if self.model.hints else None,
            "seed": c.seed,
            "device": str(self.device),
            "train_seconds": round(self._train_seconds, 1),
            "val_loss": last.get("val_loss"),
            "metrics": last.get("metrics"),
            "colorfulness_ratio": last.get("colorfulness_ratio"),
            "colorfulness_history": [
                {"epoch": h["epoch"], "pred": h.get("colorfulness"), "truth": h.get("colorfulness_gt")}
                for h in self.history
                if "colorfulness" in h
            ],
            "warning": last.get("warning"),
            "polychrome": __version__,
            "torch": torch.__version__,
        })

    def _finish(self) -> TrainResult:
        c = self.config
        final_val = None
        if c.recalibrate_bn_images > 0:
            self.progress.check()
            self.train_ds.set_epoch(c.epochs + 1)
            nb = max(1, math.ceil(c.recalibrate_bn_images / c.batch_size))
            order = batches_for_epoch(len(self.train_ds), c.batch_size, c.seed, c.epochs + 1, drop_last=False)
            used = recalibrate_bn(self.model, self._loader(self.train_ds, order[:nb]), nb, self.device)
            self.model.train()
            self.progress.report(f"BatchNorm statistics re-estimated on {used} batches", phase="recalibrate")
        if self.val_records:
            final_val = self.validate(final=True)
        summary = self.summary(final_val)
        self.save_checkpoint()
        output = installed = None
        if c.export:
            self.progress.check()
            out = self.output_path
            if out.exists() and not c.overwrite:
                raise TrainingError(f"{out}: file exists; not overwritten (use overwrite / --overwrite)")
            manifest = dict(
                name=c.name,
                version=c.version,
                bins=self.bins,
                input_size=int(c.input_size or c.size),
                default_T=c.default_T if self.model.head_type == "classification" else 1.0,
                license=c.license,
                description=c.description
                or f"Trained with polychrome train on {len(self.train_records)} photos ({c.loss} loss).",
                training=summary,
            )
            self.progress.report(f"exporting {out}", phase="export", path=str(out))
            self.model.eval()
            output = export_onnx(self.model, manifest, out, size=c.size, prior=self.prior, overwrite=True)
            self.output = output
            self.progress.report(
                f"model written: {output} ({output.stat().st_size / 2**20:.1f} MB)",
                phase="export",
                path=str(output),
                size_mb=output.stat().st_size / 2**20,
            )
            if c.install:
                from ..runtime.registry import install_model

                try:
                    installed = install_model(output, name=c.name, overwrite=c.overwrite)
                except ModelError as exc:
                    raise TrainingError(f"{exc} (the trained model is at {output})") from None
                self.progress.report(f"installed as {installed}", phase="export", installed=str(installed))
        self.progress.report("training finished", phase="done", summary=summary, output=str(output) if output else None)
        return TrainResult(output, self.last_checkpoint, summary, self.history, installed)


plain = json_safe  # the old name, kept for callers of training.loop


def summary_json(summary: Dict[str, Any]) -> str:
    return json.dumps(plain(summary), indent=2, default=str)


# ---------------------------------------------------------------------------------------------------------------
# Time estimate and interrupted runs (for front ends; nothing here writes files)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class TimeEstimate:
    """Timing of a few real training steps of a configured run, extrapolated to an epoch and to the run."""

    seconds_per_step: float
    steps_per_epoch: int
    total_steps: int
    epochs: int
    val_seconds: float  # one validation pass (forward only, approximate)
    device: str
    batches_timed: int
    batch_size: int
    finish_seconds: float = 0.0  # after the last step: BatchNorm re-estimation and the final validation


    @property
    def epoch_seconds(self) -> float:
        return self.steps_per_epoch * self.seconds_per_step + self.val_seconds

    @property
    def total_seconds(self) -> float:
        """The whole run but the ONNX export (seconds, a few more)."""
        epochs = max(1, math.ceil(self.total_steps / max(1, self.steps_per_epoch)))
        return self.total_steps * self.seconds_per_step + epochs * self.val_seconds + self.finish_seconds

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.seconds_per_step if self.seconds_per_step > 0 else float("nan")


def estimate_epoch_time(
    config: TrainConfig,
    n_batches: int = 3,
    progress: Optional[Progress] = None,
    report: Optional[ScanReport] = None,
    val_report: Optional[ScanReport] = None,
    colors: Optional[ColorStatistics] = None,
) -> TimeEstimate:
    """Time ``n_batches`` real training steps (data loading included, after one warm-up step) of the run that
    ``config`` describes, on a throwaway :class:`Trainer` (no checkpoint, no export), and one forward batch that
    prices validation and the BatchNorm re-estimation at the end.

    ``report`` / ``val_report`` / ``colors`` hand over a scan and colour statistics made beforehand. The model,
    optimizer and data are the real ones, so the figure includes a frozen encoder, the loss and the device.
    """
    progress = ensure_progress(progress)
    cfg = TrainConfig.from_dict(config.to_dict())
    cfg.export, cfg.install, cfg.checkpoint_every_steps = False, False, 0
    trainer = Trainer(cfg, Progress(progress.callback, cancel=progress.cancel_token))
    if report is not None:
        trainer.use_scan(report, val_report)
    if colors is not None:
        trainer.use_color_statistics(colors)
    trainer.prepare()
    n_batches = max(1, int(n_batches))
    epoch_batches = batches_for_epoch(len(trainer.train_ds), cfg.batch_size, cfg.seed, 0)
    if not epoch_batches:
        raise TrainingError("no training batches")
    # an epoch shorter than the batches to time is timed twice over (the speed is what counts here)
    batches = (epoch_batches * math.ceil((n_batches + 1) / len(epoch_batches)))[: n_batches + 1]
    progress.set_total(len(batches) + (1 if trainer.val_records else 0))
    trainer.train_ds.set_epoch(0)
    trainer.model.train()
    times: List[float] = []
    t = time.monotonic()
    for L_in, ab, _, hints in trainer._loader(trainer.train_ds, batches):
        progress.check()
        trainer._train_step(L_in, ab, hints)
        now = time.monotonic()
        times.append(now - t)
        t = now
        progress.step(1, f"timed step {len(times)} of {len(batches)}: {times[-1]:.2f} s", phase="estimate")
    timed = times[1:] if len(times) > 1 else times  # the first step pays for allocations and caches
    per_step = float(np.mean(timed))
    # one forward batch (data loading included) prices validation and the BatchNorm pass per image
    ds, n_val = (trainer.val_ds, len(trainer.val_records)) if trainer.val_records else (trainer.train_ds, 0)
    first = list(range(min(cfg.batch_size, len(ds))))
    trainer.model.eval()
    with torch.no_grad():
        for L_in, *_ in trainer._loader(ds, [first]):
            trainer.model(*model_inputs(trainer.model, L_in, None, trainer.device))  # warm-up: the first eval-mode pass allocates
        t = time.monotonic()
        for L_in, *_ in trainer._loader(ds, [first]):
            trainer.model(*model_inputs(trainer.model, L_in, None, trainer.device))
    per_image = (time.monotonic() - t) / len(first)
    if n_val:
        progress.step(1, f"timed a validation batch: {per_image * len(first):.2f} s", phase="estimate")
    val_seconds = per_image * n_val
    recal_images = 0
    if cfg.recalibrate_bn_images > 0:
        nb = min(math.ceil(cfg.recalibrate_bn_images / cfg.batch_size),
                 math.ceil(len(trainer.train_records) / cfg.batch_size))
        recal_images = min(nb * cfg.batch_size, len(trainer.train_records))
    return TimeEstimate(
        seconds_per_step=per_step,
        steps_per_epoch=trainer.steps_per_epoch,
        total_steps=trainer.total_steps,
        epochs=cfg.epochs,
        val_seconds=val_seconds,
        device=str(trainer.device),
        batches_timed=len(timed),
        batch_size=cfg.batch_size,
        finish_seconds=per_image * recal_images + val_seconds,
    )


@dataclass
class CheckpointInfo:
    """What an interrupted (or finished) run's checkpoint holds, read without building the network."""

    path: Path
    config: TrainConfig
    step: int
    total_steps: int
    epoch: int
    n_train: int
    n_val: int
    modified: float  # the file's mtime (seconds since the epoch)
    val_paths: List[str] = field(default_factory=list)  # the run's validation photos
    scan_counts: Dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.step >= self.total_steps

    @property
    def name(self) -> str:
        return self.config.name


def read_checkpoint(path: Union[str, Path], mmap: bool = False) -> Tuple[Path, Dict[str, Any]]:
    """Load a Polychrome checkpoint (a file, or a folder holding ``last.pt``) on the CPU; returns the file's path
    and its contents. ``mmap``: map the tensors instead of reading them (enough to look at the metadata).
    Raises :class:`TrainingError` with the reason."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise TrainingError(f"{path}: checkpoint not found")
    try:
        ck = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001
        raise TrainingError(f"{path}: cannot read the checkpoint: {exc}") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path}: not a Polychrome training checkpoint")
    return path, ck


def checkpoint_info(path: Union[str, Path]) -> CheckpointInfo:
    """Describe a checkpoint file (or a folder holding ``last.pt``); raises :class:`TrainingError`."""
    path, ck = read_checkpoint(path, mmap=True)
    cfg = TrainConfig.from_dict(ck["config"])
    n_train = len(ck.get("train_records") or [])
    spe = len(batches_for_epoch(n_train, cfg.batch_size, cfg.seed, 0))
    total = spe * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, int(cfg.max_steps))
    return CheckpointInfo(
        path=path,
        config=cfg,
        step=int(ck["step"]),
        total_steps=max(1, total),
        epoch=int(ck["epoch"]),
        n_train=n_train,
        n_val=len(ck.get("val_records") or []),
        modified=path.stat().st_mtime,
        val_paths=[str(r["path"]) for r in (ck.get("val_records") or [])],
        scan_counts=dict(ck.get("scan_counts") or {}),
    )


def find_checkpoints(root: Union[str, Path], include_finished: bool = False) -> List[CheckpointInfo]:
    """The runs under ``root`` (``root/*/last.pt``), newest first; unfinished ones only unless asked.
    Unreadable checkpoints are left out."""
    root = Path(root)
    out: List[CheckpointInfo] = []
    if not root.is_dir():
        return out
    for ck in root.glob(f"*/{CHECKPOINT_NAME}"):
        try:
            info = checkpoint_info(ck)
        except TrainingError:
            continue
        if include_finished or not info.finished:
            out.append(info)
    return sorted(out, key=lambda i: -i.modified)


def available_devices() -> List[Tuple[str, str]]:
    """(device name for :attr:`TrainConfig.device`, label) of what this PyTorch can train on: the CPU, then
    every CUDA GPU it sees."""
    out = [("cpu", f"CPU ({os.cpu_count() or '?'} cores)")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", f"GPU {i}: {torch.cuda.get_device_name(i)}"))
    return out
