"""How long a configured run will take: a few real training steps timed on a throwaway trainer.

For front ends (the wizard's settings page); nothing here writes files.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch

from ..core.progress import Progress, ensure_progress
from .config import TrainConfig, TrainingError
from .data import ScanReport, batches_for_epoch
from .events import PhaseEvent
from .state import model_inputs
from .statistics import ColorStatistics
from .trainer import Trainer


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
        progress.step_event(1, f"timed step {len(times)} of {len(batches)}: {times[-1]:.2f} s", PhaseEvent("estimate"))
    timed = times[1:] if len(times) > 1 else times  # the first step pays for allocations and caches
    per_step = float(np.mean(timed))
    # one forward batch (data loading included) prices validation and the BatchNorm pass per image
    ds, n_val = (trainer.val_ds, len(trainer.val_records)) if trainer.val_records else (trainer.train_ds, 0)
    first = list(range(min(cfg.batch_size, len(ds))))
    trainer.model.eval()
    with torch.no_grad():
        for L_in, *_ in trainer._loader(ds, [first]):
            # warm-up: the first eval-mode pass allocates
            trainer.model(*model_inputs(trainer.model, L_in, None, trainer.device))
        t = time.monotonic()
        for L_in, *_ in trainer._loader(ds, [first]):
            trainer.model(*model_inputs(trainer.model, L_in, None, trainer.device))
    per_image = (time.monotonic() - t) / len(first)
    if n_val:
        progress.step_event(1, f"timed a validation batch: {per_image * len(first):.2f} s", PhaseEvent("estimate"))
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
