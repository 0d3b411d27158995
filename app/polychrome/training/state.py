"""What a prepared run trains with, built in one piece: the network, loss, optimizer, schedule, AMP scaler and the
datasets (:class:`TrainState`), plus the two helpers every pass over the network needs (:func:`model_inputs`,
:func:`recalibrate_bn`).

:meth:`polychrome.training.trainer.Trainer.prepare` (or ``load_checkpoint``) creates the state once; nothing in
it is ever None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..core.bins import ABBins
from ..core.errors import ModelError
from .config import TrainConfig, TrainingError
from .data import ColorizationDataset, DegradeConfig, ImageRecord
from .export import BaseModel
from .loss import head_for_loss, make_loss
from .network import ColorizationNet, upgrade_model


@dataclass
class TrainState:
    """The objects a prepared run trains with (see the module docstring)."""

    model: ColorizationNet
    bins: ABBins
    prior: Optional[np.ndarray]  # None only for the regression losses when no photo was sampled
    criterion: nn.Module
    centers: torch.Tensor  # the bins' ab centres on the device
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    use_amp: bool
    amp_dtype: torch.dtype
    train_ds: ColorizationDataset
    val_ds: ColorizationDataset
    base_info: Optional[Dict[str, Any]]  # name and version of the fine-tuned model, if any


def new_model(config: TrainConfig, bins: ABBins, base: Optional[BaseModel]) -> ColorizationNet:
    """The network to train: the base model upgraded to the configured inputs and context, or a fresh one."""
    c = config
    if base is not None:
        try:
            return upgrade_model(base.model, c.hints, c.global_context)
        except ModelError as exc:
            raise TrainingError(f"{c.base_model}: {exc}") from None
    return ColorizationNet(
        bins.Q,
        pretrained=c.pretrained,
        head=head_for_loss(c.loss),
        stride=c.stride,
        width_mult=c.width_mult,
        hints=c.hints,
        global_context=c.global_context,
    )


def _param_groups(model: ColorizationNet, config: TrainConfig, encoder_lr: float) -> list:
    """AdamW groups: encoder / decoder learning rates, no weight decay on biases and norms."""
    enc_ids = {id(p) for p in model.encoder.parameters()}
    groups = []
    for is_enc, lr in ((True, encoder_lr), (False, config.lr)):
        decay, no_decay = [], []
        for p in model.parameters():
            if not p.requires_grad or ((id(p) in enc_ids) != is_enc):
                continue
            (no_decay if p.ndim <= 1 else decay).append(p)
        if decay:
            groups.append({"params": decay, "lr": lr, "weight_decay": config.weight_decay})
        if no_decay:
            groups.append({"params": no_decay, "lr": lr, "weight_decay": 0.0})
    return groups


def _schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up (at most a tenth of the run), then cosine decay to ``lr × min_lr_ratio``."""
    warm = max(0, min(int(config.warmup_steps), total // 10))
    floor = float(config.min_lr_ratio)

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(1, total - warm)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _datasets(
    config: TrainConfig, model: ColorizationNet, train: Sequence[ImageRecord], val: Sequence[ImageRecord]
) -> Tuple[ColorizationDataset, ColorizationDataset]:
    c = config
    deg = DegradeConfig() if c.degrade else DegradeConfig.none()
    crop = dict(crop=c.crop, input_size=int(c.input_size or c.size), scale_range=(c.crop_scale_min, c.crop_scale_max))
    hints = c.hint_config() if model.hints else None
    train_ds = ColorizationDataset(list(train), c.size, train=True, seed=c.seed, degrade=deg, hints=hints, **crop)
    val_ds = ColorizationDataset(list(val), c.size, train=False, seed=c.seed, **crop)
    return train_ds, val_ds


def build_state(
    config: TrainConfig,
    device: torch.device,
    model: ColorizationNet,
    bins: ABBins,
    prior: Optional[np.ndarray],
    records: Tuple[Sequence[ImageRecord], Sequence[ImageRecord]],
    total_steps: int,
    base_info: Optional[Dict[str, Any]] = None,
    fine_tuning: bool = False,
) -> TrainState:
    """Put ``model`` on ``device`` in training mode and build its loss, optimizer, schedule, scaler and datasets
    (``records``: the training and validation photos; ``fine_tuning``: the model came from a base model, so its
    encoder learns slower as a pretrained one does)."""
    c = config
    if model.Q != bins.Q and model.head_type == "classification":
        raise TrainingError(f"the network predicts {model.Q} bins but the table has {bins.Q}")
    model.to(device)
    if c.freeze_encoder:
        model.freeze_encoder(True)
    model.train()
    criterion = make_loss(c.loss, bins, prior, c.lam).to(device)
    centers = torch.from_numpy(bins.centers).to(device)
    enc_lr = c.lr * (c.encoder_lr_mult if (c.pretrained or fine_tuning) else 1.0)
    optimizer = torch.optim.AdamW(_param_groups(model, c, enc_lr), lr=c.lr, betas=(0.9, 0.99))
    scheduler = _schedule(optimizer, c, total_steps)
    use_amp = bool(c.amp and device.type == "cuda")
    amp_dtype = torch.bfloat16 if (use_amp and torch.cuda.is_bf16_supported()) else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    train_ds, val_ds = _datasets(c, model, *records)
    return TrainState(model, bins, prior, criterion, centers, optimizer, scheduler, scaler, use_amp, amp_dtype,
                      train_ds, val_ds, base_info)


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


def recalibrate_bn(model: nn.Module, loader: Any, n_batches: int, device: Optional[torch.device] = None) -> int:
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
