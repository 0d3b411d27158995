"""The trainer: prepare a run, train epoch by epoch, validate, checkpoint, cancel and resume, export.

    trainer = Trainer(TrainConfig(data=["photos/"], name="family", epochs=10), progress)
    result = trainer.fit()          # scan, train, validate every epoch, recalibrate BN, export ONNX
    # after a cancel (progress.check() raised Cancelled) or a crash:
    result = Trainer(config, progress).resume(checkpoint_path)

:meth:`Trainer.prepare` builds everything a run trains with in one :class:`~polychrome.training.state.TrainState`;
:meth:`Trainer.fit` is a loop of :meth:`Trainer.train_one_epoch` and :meth:`Trainer.validate`.

Reproducibility: the epoch's batch order is a pure function of (seed, epoch); each item's crop and damage of
(seed, epoch, index); the network has no dropout. A checkpoint stores the model, the optimizer, scheduler and
AMP scaler, the RNG states, the position (epoch, batch in epoch, global step), the data lists, bins, prior and
config, so a resumed run takes exactly the steps an uninterrupted run would have taken (bit for bit on CPU).

Progress: every event's ``data`` is a typed event of :mod:`polychrome.training.events` (``TrainStepEvent`` per
step, ``ValEvent`` after each validation, ``ScanEvent``, ``StartEvent``, ``CheckpointEvent``, ``ExportEvent``,
``DoneEvent`` ...), readable as the older ``phase`` dicts too.

Hooks for interactive front ends (the training wizard) that keep the training itself here:

* ``Trainer(config, progress, step_hook=fn)``: ``fn(trainer)`` runs at every step boundary, before the step's
  update; it may block (a pause) or raise :class:`Cancelled`. Time spent in it does not count towards the ETA.
* :meth:`Trainer.use_scan` hands over a folder scan made beforehand (no second scan), and
  :func:`~polychrome.training.statistics.color_statistics` / :meth:`Trainer.use_color_statistics` compute and
  hand over the bin table and prior.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from .. import __version__
from ..core.bins import ABBins
from ..core.color import lab_to_srgb
from ..core.errors import ModelError
from ..core.jsonsafe import json_safe
from ..core.merge import merge_lab, upsample_ab_fixed
from ..core.metrics import compute_all
from ..core.progress import Cancelled, Progress, ensure_progress
from .checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    read_checkpoint,
    rng_state,
    save_checkpoint_file,
    set_rng_state,
)
from .config import TrainConfig, TrainingError, TrainResult, default_checkpoint_dir, resolve_device
from .data import ImageRecord, ScanReport, batches_for_epoch, denormalise_L, gray_rgb_uint8, scan_folders
from .events import (
    CancelledEvent,
    CheckpointEvent,
    DoneEvent,
    ExportEvent,
    InstalledEvent,
    PhaseEvent,
    ScanEvent,
    StartEvent,
    TrainStepEvent,
    ValEvent,
)
from .export import BaseModel, export_onnx, load_base_model
from .loss import head_for_loss, predicted_ab
from .network import ColorizationNet, build_model
from .state import TrainState, build_state, model_inputs, new_model, recalibrate_bn
from .statistics import ColorStatistics, color_statistics, split_for_training

GARISH_RATIO = 1.3
MAX_BAD_STEPS = 20
DULL_RATIO = 0.5

StepHook = Callable[["Trainer"], None]


def colorfulness_warning(ratio: float) -> Optional[str]:
    """The warning for predictions much more (garish drift) or much less colourful than the photos, or None."""
    if math.isfinite(ratio) and ratio > GARISH_RATIO:
        return (
            f"predictions are {ratio:.2f}× as colourful as the photos (garish drift); "
            "consider a larger λ (less rebalancing) or a lower default T"
        )
    if math.isfinite(ratio) and ratio < DULL_RATIO:
        return f"predictions are only {ratio:.2f}× as colourful as the photos (washed out)"
    return None


def val_image(
    L_norm: np.ndarray, truth_ab: np.ndarray, pred_ab: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L*, truth, prediction) of one validation crop: uint8 sRGB ground truth and the prediction merged at full
    resolution as the app does (``L_norm``: the network's clean input; ab as (h, w, 2))."""
    L = denormalise_L(L_norm)
    truth = np.clip(np.rint(lab_to_srgb(np.dstack([L, truth_ab])) * 255), 0, 255).astype(np.uint8)
    ab_fixed = upsample_ab_fixed(np.ascontiguousarray(pred_ab), L.shape)
    return L, truth, merge_lab(L, ab_fixed, np.uint8)


def val_summary(val_loss: float, metrics: List[Dict[str, float]]) -> Dict[str, Any]:
    """``{"val_loss"}`` plus, with metric photos, their mean ``metrics``, the colourfulness of predictions and
    photos, their ratio and the :func:`colorfulness_warning`."""
    out: Dict[str, Any] = {"val_loss": val_loss}
    if metrics:
        mean = {k: float(np.nanmean([m[k] for m in metrics])) for k in metrics[0]}
        cf, cf_gt = mean["colorfulness"], mean["colorfulness_gt"]
        ratio = cf / cf_gt if cf_gt > 1e-6 else float("nan")
        out.update(metrics=mean, colorfulness=cf, colorfulness_gt=cf_gt, colorfulness_ratio=ratio,
                   warning=colorfulness_warning(ratio))
    return out


def _val_message(out: Dict[str, Any]) -> str:
    msg = f"validation: loss {out['val_loss']:.4f}"
    if "metrics" in out:
        m = out["metrics"]
        msg += (
            f", PSNR {m['psnr']:.2f} dB, AuC {m['auc']:.3f}, colourfulness {m['colorfulness']:.1f} "
            f"(photos {m['colorfulness_gt']:.1f})"
        )
    return msg


class Trainer:
    """Trains a :class:`ColorizationNet` as configured; see the module docstring for events and guarantees."""

    def __init__(
        self, config: TrainConfig, progress: Optional[Progress] = None, step_hook: Optional[StepHook] = None
    ) -> None:
        self.config = config
        self.progress = ensure_progress(progress)
        self.step_hook = step_hook  # called at every step boundary; may block (pause) or raise Cancelled
        self.device = resolve_device(config.device)
        self.train_records: List[ImageRecord] = []
        self.val_records: List[ImageRecord] = []
        self.scan_counts: Dict[str, int] = {}
        self.epoch = 0  # epochs completed
        self.batch_in_epoch = 0  # batches of the current epoch already taken
        self.step = 0  # optimizer steps taken
        self.history: List[Dict[str, Any]] = []
        self.last_checkpoint: Optional[Path] = None  # None until a checkpoint is written
        self.output: Optional[Path] = None  # None until the model is exported
        self.step_losses: List[float] = []  # every training step's loss (for tests / plots)
        self.hook_seconds = 0.0  # time spent in step_hook during the last fit() (a pause): not in the ETA
        self._train_seconds = 0.0
        self._bad_steps = 0
        self._run_start = (0.0, 0)  # (monotonic time, step) when fit() started: for the ETA
        self._colors: Optional[ColorStatistics] = None  # handed over by use_color_statistics
        self._state: Optional[TrainState] = None  # built once by prepare() or load_checkpoint()

    # -- the prepared state -------------------------------------------------------------------
    @property
    def state(self) -> TrainState:
        """Everything the run trains with; raises TrainingError before :meth:`prepare`."""
        if self._state is None:
            raise TrainingError("the trainer is not prepared: call prepare() first (fit() does)")
        return self._state

    @property
    def model(self) -> ColorizationNet:
        return self.state.model

    @property
    def bins(self) -> ABBins:
        return self.state.bins

    @property
    def prior(self) -> Optional[np.ndarray]:
        return self.state.prior

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.state.optimizer

    @property
    def train_ds(self) -> Any:
        return self.state.train_ds

    @property
    def val_ds(self) -> Any:
        return self.state.val_ds

    @property
    def base_info(self) -> Optional[Dict[str, Any]]:
        return self.state.base_info

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
        """Scan the data, choose bins and prior, build the model, optimizer and schedule (once)."""
        if self._state is not None:
            return
        c = self.config
        c.validate()
        self._seed_everything()
        base = self._load_base() if c.base_model else None
        if not self.train_records:
            self._scan()
        colors = self._colors or color_statistics(c, self.train_records, base, self._sub_progress())
        model = new_model(c, colors.bins, base)
        base_info = None if base is None else {"name": base.manifest.name, "version": base.manifest.version}
        self._state = build_state(c, self.device, model, colors.bins, colors.prior,
                                  (self.train_records, self.val_records), self.total_steps, base_info,
                                  fine_tuning=base is not None)

    def _seed_everything(self) -> None:
        torch.manual_seed(self.config.seed)
        np.random.seed(self.config.seed % 2**32)
        random.seed(self.config.seed)

    def _load_base(self) -> BaseModel:
        c = self.config
        base = load_base_model(c.base_model)
        head = base.arch.get("head", "classification")
        if head != head_for_loss(c.loss):
            raise TrainingError(
                f"{c.base_model}: the base model has a {head} head, which the '{c.loss}' loss cannot train"
            )
        # fine-tuning keeps what the base model has: its hint inputs (trained on with simulated hints), its global
        # context and, unless asked otherwise, its output layers' prior correction
        c.hints = c.hints or bool(base.arch.get("hints"))
        c.global_context = c.global_context or bool(base.arch.get("global_context"))
        if c.prior_alpha is None and base.calibration is not None:
            c.prior_alpha = base.calibration.prior_alpha
        return base

    def _scan(self) -> None:
        c = self.config
        if not c.data:
            raise TrainingError("no training data given")
        sub = self._sub_progress()
        self.progress.report_event("scanning photos", PhaseEvent("scan"))
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
        self.progress.report_event(
            f"{report.summary()}; {len(train)} for training, {len(val)} for validation",
            ScanEvent(report.counts, len(train), len(val), report.unreadable[:50]),
        )

    def use_color_statistics(self, stats: ColorStatistics) -> None:
        """Use a bin table and prior computed beforehand by :func:`color_statistics` (same config and photos)
        instead of sampling the photos again. Call before :meth:`prepare`."""
        if stats.prior is None and self.config.loss == "ce":
            raise TrainingError("the rebalanced cross-entropy needs a prior")
        self._colors = stats

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        s = self.state
        return {
            "format": CHECKPOINT_FORMAT,
            "polychrome": __version__,
            "config": self.config.to_dict(),
            "arch": dict(s.model.arch),
            "model": s.model.state_dict(),
            "optimizer": s.optimizer.state_dict(),
            "scheduler": s.scheduler.state_dict(),
            "scaler": s.scaler.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "rng": rng_state(),
            "bins": s.bins.to_dict(),
            "prior": None if s.prior is None else [float(v) for v in s.prior],
            "train_records": [asdict(r) for r in self.train_records],
            "val_records": [asdict(r) for r in self.val_records],
            "scan_counts": dict(self.scan_counts),
            "history": self.history,
            "step_losses": list(self.step_losses),
            "base_info": s.base_info,
            "train_seconds": self._train_seconds,
        }

    def save_checkpoint(self, path: Union[str, Path, None] = None) -> Path:
        """Write the full training state atomically (temp file + rename); returns its path."""
        path = Path(path) if path else self.checkpoint_path
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint_file(self.state_dict(), path)
        self.last_checkpoint = path
        self.progress.report_event(f"checkpoint saved: {path}", CheckpointEvent(str(path), self.step))
        return path

    def _resumed_config(self, saved: Dict[str, Any], path: Path) -> TrainConfig:
        """The checkpoint's config, with this trainer's choices of where/how the run executes."""
        cfg = TrainConfig.from_dict(saved)
        for k in TrainConfig.RUNTIME_FIELDS:
            v = getattr(self.config, k)
            if v is None and k in ("checkpoint_dir", "out_dir", "output", "num_workers"):
                continue  # not given now: keep where the run was writing / how it was loading
            setattr(cfg, k, v)
        if self.config.checkpoint_dir is None:
            cfg.checkpoint_dir = str(path.parent)
        return cfg

    def load_checkpoint(self, path: Union[str, Path]) -> None:
        """Restore a checkpoint (its config wins except for where/how the run executes)."""
        path, ck = read_checkpoint(path)
        self.config = self._resumed_config(ck["config"], path)
        self.device = resolve_device(self.config.device)
        bins = ABBins.from_dict(ck["bins"])
        prior = None if ck["prior"] is None else np.asarray(ck["prior"], dtype=np.float64)
        self.train_records = [ImageRecord(**r) for r in ck["train_records"]]
        self.val_records = [ImageRecord(**r) for r in ck["val_records"]]
        self.scan_counts = dict(ck.get("scan_counts") or {})
        model = build_model(ck["arch"], pretrained=False)
        model.load_state_dict(ck["model"], strict=True)
        s = self._state = build_state(self.config, self.device, model, bins, prior,
                                      (self.train_records, self.val_records), self.total_steps, ck.get("base_info"))
        s.optimizer.load_state_dict(ck["optimizer"])
        s.scheduler.load_state_dict(ck["scheduler"])
        if ck.get("scaler") and s.scaler.is_enabled():
            s.scaler.load_state_dict(ck["scaler"])
        self.epoch = int(ck["epoch"])
        self.batch_in_epoch = int(ck["batch_in_epoch"])
        self.step = int(ck["step"])
        self.history = list(ck.get("history") or [])
        self.step_losses = list(ck.get("step_losses") or [])
        self._train_seconds = float(ck.get("train_seconds") or 0.0)
        set_rng_state(ck["rng"])
        self.last_checkpoint = path

    def resume(self, path: Union[str, Path]) -> TrainResult:
        """Load a checkpoint and continue training to the end (then validate and export as configured)."""
        self.load_checkpoint(path)
        return self.fit()

    # -- one step -----------------------------------------------------------------------------
    @property
    def num_workers(self) -> int:
        """Configured worker count; ``None`` means 0 on CPU (the cores are busy training) and up to 8 on CUDA."""
        n = self.config.num_workers
        if n is None:
            return 0 if self.device.type == "cpu" else max(0, min(8, (os.cpu_count() or 1) - 1))
        return max(0, int(n))

    def _loader(self, dataset: Any, batches: Sequence[Sequence[int]]) -> DataLoader:
        return DataLoader(
            dataset,
            batch_sampler=[list(b) for b in batches],
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            # no worker_init_fn: PyTorch already gives each worker one thread, and calling into OpenCV's
            # thread pool settings in a forked worker can deadlock
            timeout=0,
        )

    def _train_step(self, L_in: torch.Tensor, ab: torch.Tensor, hints: Optional[torch.Tensor] = None) -> float:
        c, s = self.config, self.state
        inputs = model_inputs(s.model, L_in, hints, self.device)
        ab = ab.to(self.device, non_blocking=True)
        s.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=s.amp_dtype, enabled=s.use_amp):
            out = s.model(*inputs)
        loss = s.criterion(out.float(), ab)
        if not torch.isfinite(loss):
            # Skip the update (the schedule still advances, so the run stays aligned); give up if it persists.
            self._bad_steps += 1
            if self._bad_steps >= MAX_BAD_STEPS:
                raise TrainingError(
                    f"the loss was not finite for {self._bad_steps} steps in a row (step {self.step + 1}); "
                    "try a lower learning rate"
                )
            s.scheduler.step()
            return float("nan")
        self._bad_steps = 0
        s.scaler.scale(loss).backward()
        if c.grad_clip and c.grad_clip > 0:
            s.scaler.unscale_(s.optimizer)
            nn.utils.clip_grad_norm_([p for p in s.model.parameters() if p.requires_grad], c.grad_clip)
        s.scaler.step(s.optimizer)
        s.scaler.update()
        s.scheduler.step()
        return float(loss.detach())

    def _run_hook(self) -> None:
        if self.step_hook is not None:
            t_hook = time.monotonic()
            self.step_hook(self)
            self.hook_seconds += time.monotonic() - t_hook
            self.progress.check()

    def _eta(self, total: int) -> Optional[float]:
        t_start, step0 = self._run_start
        done_here = self.step - step0
        elapsed = time.monotonic() - t_start - self.hook_seconds
        return elapsed / done_here * (total - self.step) if done_here else None

    # -- training -----------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train to the end (or until cancelled: then a checkpoint is written and Cancelled re-raised)."""
        self.prepare()
        c = self.config
        total = self.total_steps
        self._report_start(total)
        self._run_start = (time.monotonic(), self.step)
        self.hook_seconds = 0.0
        try:
            while self.step < total and self.epoch < c.epochs:
                self.progress.check()
                train_loss = self.train_one_epoch()
                if self.batch_in_epoch == 0:  # an epoch was completed (or the step budget reached)
                    self._end_epoch(train_loss, total)
                self.save_checkpoint()
        except Cancelled:
            self.save_checkpoint()
            self.progress.report_event(
                f"cancelled at step {self.step}; resume from {self.last_checkpoint}",
                CancelledEvent(self.step, str(self.last_checkpoint)),
            )
            raise
        return self._finish()

    def _report_start(self, total: int) -> None:
        spe, model = self.steps_per_epoch, self.state.model
        self.progress.set_total(total)
        self.progress.done = float(self.step)
        self.progress.report_event(
            f"training on {len(self.train_records)} photos ({spe} steps per epoch, {total} steps) on {self.device}",
            StartEvent(len(self.train_records), len(self.val_records), total, spe, self.step, str(self.device),
                       model.num_parameters(), model.num_parameters(trainable_only=True)),
        )

    def train_one_epoch(self) -> Optional[float]:
        """Train on the rest of the current epoch's batches, or up to the step budget; returns the mean finite loss
        of the steps taken (None if none). Advances ``epoch`` when the epoch ends; checkpoints every
        ``checkpoint_every_steps`` inside it; one :class:`TrainStepEvent` per step."""
        c, s = self.config, self.state
        total = self.total_steps
        s.train_ds.set_epoch(self.epoch)
        batches = batches_for_epoch(len(s.train_ds), c.batch_size, c.seed, self.epoch)
        if not batches:
            raise TrainingError("no training batches")
        running, count = 0.0, 0
        s.model.train()
        for L_in, ab, _, hints in self._loader(s.train_ds, batches[self.batch_in_epoch :]):
            self.progress.check()
            self._run_hook()
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
            eta = self._eta(total)
            at_epoch_end = self.batch_in_epoch >= len(batches) or self.step >= total
            if at_epoch_end:
                self.epoch += 1
                self.batch_in_epoch = 0
            if c.checkpoint_every_steps and self.step % int(c.checkpoint_every_steps) == 0 and not at_epoch_end:
                self.save_checkpoint()
            epoch = self.epoch if at_epoch_end else self.epoch + 1
            self.progress.step_event(
                1,
                f"epoch {min(epoch, c.epochs)}/{c.epochs} step {self.step}/{total} loss {loss:.4f}",
                TrainStepEvent(epoch, c.epochs, self.step, total, loss, running / count if count else None,
                               float(s.optimizer.param_groups[-1]["lr"]),
                               L_in.shape[0] / dt if dt > 0 else None, eta),
            )
            if at_epoch_end:
                break
        else:
            # the loader ran out without reaching the epoch end (an epoch with no batches left)
            if self.batch_in_epoch:
                self.epoch += 1
                self.batch_in_epoch = 0
        return running / count if count else None

    def _end_epoch(self, train_loss: Optional[float], total: int) -> None:
        c = self.config
        record: Dict[str, Any] = {"epoch": self.epoch, "step": self.step, "train_loss": train_loss}
        due = self.epoch % max(1, c.val_every_epochs) == 0 or self.step >= total or self.epoch >= c.epochs
        if self.val_records and due:
            record.update(self.validate())
        self.history.append(record)

    # -- validation ---------------------------------------------------------------------------
    def validate(self, final: bool = False) -> Dict[str, Any]:
        """Validation loss, image metrics and sample colorizations; reported as a :class:`ValEvent`. Returns
        :func:`val_summary` (what the run's history keeps)."""
        c, model = self.config, self.state.model
        was_training = model.training
        model.eval()
        try:
            val_loss, metrics, samples = self._val_pass()
        finally:
            model.train(was_training)
        out = val_summary(val_loss, metrics)
        self.progress.report_event(
            _val_message(out), ValEvent(final, self.epoch, c.epochs, self.step, samples=samples, **out)
        )
        return out

    def _val_pass(self) -> Tuple[float, List[Dict[str, float]], List[Dict[str, Any]]]:
        """(mean loss, metrics of the first photos, sample colorizations) over the validation set."""
        c, s = self.config, self.state
        n = len(s.val_ds)
        idx = list(range(n))
        batches = [idx[i : i + c.batch_size] for i in range(0, n, c.batch_size)]
        total_loss, total_n, seen = 0.0, 0, 0
        metrics: List[Dict[str, float]] = []
        samples: List[Dict[str, Any]] = []
        with torch.no_grad():
            for L_in, ab, L_clean, _ in self._loader(s.val_ds, batches):
                self.progress.check()
                x = L_in.to(self.device)
                with torch.autocast(device_type=self.device.type, dtype=s.amp_dtype, enabled=s.use_amp):
                    out = s.model(*model_inputs(s.model, x, None, self.device))
                out = out.float()
                total_loss += float(s.criterion(out, ab.to(self.device))) * x.shape[0]
                total_n += x.shape[0]
                want = min(x.shape[0], max(c.val_metric_images, c.val_samples) - seen)
                if want > 0:
                    pab = predicted_ab(out[:want], s.centers, s.model.head_type, c.default_T).cpu().numpy()
                    for j in range(want):
                        self._score_val_image(seen + j, L_clean[j, 0].numpy(), ab[j].numpy(), pab[j], metrics, samples)
                    seen += want
        return total_loss / max(1, total_n), metrics, samples

    def _score_val_image(self, i: int, L_norm: np.ndarray, truth_ab: np.ndarray, pred_ab: np.ndarray,
                         metrics: List[Dict[str, float]], samples: List[Dict[str, Any]]) -> None:
        c = self.config
        L, truth, pred = val_image(L_norm, truth_ab.transpose(1, 2, 0), pred_ab.transpose(1, 2, 0))
        if i < c.val_metric_images:
            metrics.append(compute_all(pred, truth).to_dict())
        if i < c.val_samples:
            name = Path(self.val_records[i].path).name
            samples.append({"name": name, "gray": gray_rgb_uint8(L), "truth": truth, "pred": pred})

    # -- the end -------------------------------------------------------------------------------
    def summary(self, final_val: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The training summary stored in the exported model's metadata (JSON-safe)."""
        c, s = self.config, self.state
        last = final_val or (self.history[-1] if self.history else {})
        return json_safe({
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
            "bins": s.bins.name,
            "Q": s.bins.Q,
            "pretrained_encoder": bool(c.pretrained) if s.base_info is None else None,
            "base_model": s.base_info,
            "freeze_encoder": c.freeze_encoder,
            "degradations": c.degrade,
            "crop": c.crop if c.crop == "photo" else f"inference ×{c.crop_scale_min:g}–{c.crop_scale_max:g}",
            "global_context": bool(s.model.global_context is not None),
            "hints": bool(s.model.hints),
            "hint_p_none": c.hint_p_none if s.model.hints else None,
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

    def _recalibrate(self) -> None:
        c, s = self.config, self.state
        self.progress.check()
        s.train_ds.set_epoch(c.epochs + 1)
        nb = max(1, math.ceil(c.recalibrate_bn_images / c.batch_size))
        order = batches_for_epoch(len(s.train_ds), c.batch_size, c.seed, c.epochs + 1, drop_last=False)
        used = recalibrate_bn(s.model, self._loader(s.train_ds, order[:nb]), nb, self.device)
        s.model.train()
        self.progress.report_event(f"BatchNorm statistics re-estimated on {used} batches", PhaseEvent("recalibrate"))

    def _finish(self) -> TrainResult:
        c = self.config
        if c.recalibrate_bn_images > 0:
            self._recalibrate()
        final_val = self.validate(final=True) if self.val_records else None
        summary = self.summary(final_val)
        self.save_checkpoint()
        output = installed = None
        if c.export:
            output = self._export(summary)
            installed = self._install(output) if c.install else None
        self.progress.report_event(
            "training finished", DoneEvent(summary, str(output) if output else None)
        )
        return TrainResult(output, self.last_checkpoint, summary, self.history, installed)

    def _export(self, summary: Dict[str, Any]) -> Path:
        c, s = self.config, self.state
        self.progress.check()
        out = self.output_path
        if out.exists() and not c.overwrite:
            raise TrainingError(f"{out}: file exists; not overwritten (use overwrite / --overwrite)")
        manifest = dict(
            name=c.name,
            version=c.version,
            bins=s.bins,
            input_size=int(c.input_size or c.size),
            default_T=c.default_T if s.model.head_type == "classification" else 1.0,
            license=c.license,
            description=c.description
            or f"Trained with polychrome train on {len(self.train_records)} photos ({c.loss} loss).",
            training=summary,
        )
        self.progress.report_event(f"exporting {out}", ExportEvent(str(out)))
        s.model.eval()
        output = export_onnx(
            s.model, manifest, out, size=c.size, prior=s.prior, overwrite=True,
            calibration=c.calibration() if s.model.head_type == "classification" else None,
        )
        self.output = output
        size_mb = output.stat().st_size / 2**20
        self.progress.report_event(f"model written: {output} ({size_mb:.1f} MB)", ExportEvent(str(output), size_mb))
        return output

    def _install(self, output: Path) -> Path:
        from ..runtime.registry import install_model

        c = self.config
        try:
            installed = install_model(output, name=c.name, overwrite=c.overwrite)
        except ModelError as exc:
            raise TrainingError(f"{exc} (the trained model is at {output})") from None
        self.progress.report_event(f"installed as {installed}", InstalledEvent(str(installed)))
        return installed
