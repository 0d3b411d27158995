"""The training wizard's model, in plain Python (no Qt, no PyTorch at import time): what the user chose
(:class:`WizardSettings`), what a run has reported (:class:`RunProgress`, fed by the training core's typed progress
events, :mod:`polychrome.training.events`), the curves it plots, and the helpers the pages draw with.
:mod:`.controller` runs the jobs on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ...training.events import (
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
from ...training.jobs import PausedEvent, ResumedEvent

START_FINETUNE, START_SCRATCH = "finetune", "scratch"
LOSS_LABELS = {
    "ce": "Rebalanced cross-entropy over colour bins (recommended)",
    "l2": "L2 regression (baseline: greyish colours)",
    "mse_l1": "MSE + L1 regression (baseline)",
}
INPUT_SIZES = (128, 160, 192, 224, 256, 320)
EVAL_TEMPERATURES = (0.2, 0.38, 0.6, 1.0)
STAGED_NAME = "trained.onnx"

# training states
IDLE, RUNNING, PAUSED, CANCELLED, FAILED, FINISHED = "idle", "running", "paused", "cancelled", "failed", "finished"


@dataclass
class WizardSettings:
    """Everything the user chooses on the Data, Colours and Settings pages."""

    folders: List[str] = field(default_factory=list)
    val_fraction: float = 0.1
    min_side: int = 64
    start: str = START_SCRATCH  # START_FINETUNE needs a fine-tunable base model
    freeze_encoder: bool = True
    size: int = 192
    epochs: int = 3
    batch_size: int = 16
    loss: str = "ce"
    lam: float = 0.5
    prior_source: str = "data"  # fine-tuning: "data" (the photos' prior) or "base" (the base model's)
    device: str = "cpu"


@dataclass
class TrainingCurves:
    """What the Train page plots: per-step losses, the epoch's running mean and the validation loss (by step)."""

    steps: List[int] = field(default_factory=list)
    loss: List[float] = field(default_factory=list)
    mean_loss: List[float] = field(default_factory=list)
    val_steps: List[int] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)

    def clear_after(self, step: int) -> None:
        """Forget points past ``step`` (a resumed run repeats nothing, but a fresh run starts over)."""
        keep = [i for i, s in enumerate(self.steps) if s <= step]
        self.steps = [self.steps[i] for i in keep]
        self.loss = [self.loss[i] for i in keep]
        self.mean_loss = [self.mean_loss[i] for i in keep]
        vkeep = [i for i, s in enumerate(self.val_steps) if s <= step]
        self.val_steps = [self.val_steps[i] for i in vkeep]
        self.val_loss = [self.val_loss[i] for i in vkeep]


def default_checkpoint_root() -> Path:
    """Where the wizard's runs keep their checkpoints: ``<user cache>/polychrome/checkpoints/wizard``."""
    from ...training.loop import default_checkpoint_dir

    return default_checkpoint_dir("wizard")


def fine_tunable_default_model() -> Tuple[Optional[Path], str]:
    """(path of the shipped default model if it can be fine-tuned, else None; a line saying why not)."""
    from ...core.errors import PolychromeError
    from ...runtime.registry import default_model

    try:
        entry = default_model()
    except PolychromeError as exc:
        return None, str(exc)
    if not is_fine_tunable(entry.path):
        return None, f"the default model {entry.name} carries no trainable weights (not exported by Polychrome)"
    return entry.path, f"{entry.name} ({entry.path.name})"


def is_fine_tunable(path: Path) -> bool:
    """Whether a model file carries the architecture entry that fine-tuning needs (reads only the metadata)."""
    try:
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - unreadable: not usable as a base
        return False
    return any(p.key == "polychrome.arch" for p in proto.metadata_props)


def ab_plane_image(centers: np.ndarray, grid: float, values: np.ndarray, mode: str = "colour"
                   ) -> Tuple[np.ndarray, Tuple[float, float, float, float]]:
    """Paint per-bin ``values`` on the ab plane: (uint8 RGBA image with rows = b from low to high, columns = a,
    cells outside the bin table transparent; extent (a0, a1, b0, b1) in ab units). ``mode="colour"``: each cell
    shows its own colour, brighter the larger the log-value (the prior); ``"heat"``: a dark-to-yellow heat map of
    the log-value (the weights)."""
    from ...core.color import lab_to_srgb

    c = np.asarray(centers, dtype=np.float64)
    idx = np.rint(c / grid).astype(int)
    lo = idx.min(0)
    hi = idx.max(0)
    w, h = int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)
    img = np.zeros((h, w, 4), np.uint8)
    v = np.log10(np.maximum(np.asarray(values, dtype=np.float64), 1e-12))
    finite = v[np.isfinite(v)]
    top = float(finite.max()) if finite.size else 0.0
    bottom = max(float(finite.min()) if finite.size else top - 1, top - 4.0)
    t = np.clip((v - bottom) / max(1e-9, top - bottom), 0.0, 1.0)
    if mode == "colour":
        lab = np.column_stack([np.full(len(c), 70.0), c[:, 0], c[:, 1]])
        rgb = np.clip(lab_to_srgb(lab[None])[0], 0, 1)
        col = 40 / 255 * (1 - t[:, None]) + rgb * t[:, None]
    else:
        stops = np.array([[0.07, 0.04, 0.2], [0.5, 0.1, 0.5], [0.95, 0.45, 0.15], [1.0, 0.95, 0.35]])
        pos = t * (len(stops) - 1)
        i0 = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)
        f = (pos - i0)[:, None]
        col = stops[i0] * (1 - f) + stops[i0 + 1] * f
    rgba = np.column_stack([np.clip(np.rint(col * 255), 0, 255), np.full(len(c), 255)]).astype(np.uint8)
    img[idx[:, 1] - lo[1], idx[:, 0] - lo[0]] = rgba
    extent = ((lo[0] - 0.5) * grid, (hi[0] + 0.5) * grid, (lo[1] - 0.5) * grid, (hi[1] + 0.5) * grid)
    return img, extent


@dataclass
class RunProgress:
    """Where a training run is, as its progress events tell it: step, epoch, time left, the curves, the latest
    validation and samples, and a log of what happened."""

    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    eta_s: Optional[float] = None
    curves: TrainingCurves = field(default_factory=TrainingCurves)
    samples: List[dict] = field(default_factory=list)
    last_val: Dict[str, Any] = field(default_factory=dict)
    log_lines: List[str] = field(default_factory=list)
    checkpoint: Optional[Path] = None  # the latest checkpoint written

    def log(self, line: str) -> None:
        self.log_lines.append(line)

    def apply(self, message: str, event: Any) -> Optional[str]:
        """Take in one progress event of a run (a :mod:`polychrome.training.events` dataclass, or the pause gate's
        :class:`~polychrome.training.jobs.PausedEvent` / ``ResumedEvent``) and its message; returns the run state
        it implies (:data:`PAUSED` or :data:`RUNNING` when the run paused or resumed), else None."""
        if isinstance(event, TrainStepEvent):
            self.step, self.total_steps, self.epoch, self.eta_s = (event.step, event.total_steps, event.epoch,
                                                                   event.eta_s)
            if event.loss is not None and np.isfinite(event.loss):
                self.curves.steps.append(self.step)
                self.curves.loss.append(float(event.loss))
                mean = event.train_loss if event.train_loss is not None else event.loss
                self.curves.mean_loss.append(float(mean))
        elif isinstance(event, StartEvent):
            self.step, self.total_steps = event.step, event.total_steps
            self.log(message)
        elif isinstance(event, ValEvent):
            self.last_val = {k: v for k, v in event.as_dict().items() if k != "samples"}
            if event.samples:
                self.samples = list(event.samples)
            if not event.final:
                self.curves.val_steps.append(int(event.step))
                self.curves.val_loss.append(float(event.val_loss))
            self.log(message)
            if event.warning:
                self.log(f"warning: {event.warning}")
        elif isinstance(event, PausedEvent):
            self.log(f"paused at step {self.step}")
            return PAUSED
        elif isinstance(event, ResumedEvent):
            self.log("resumed")
            return RUNNING
        elif isinstance(event, CheckpointEvent):
            self.checkpoint = Path(event.path)
        elif isinstance(event, (ScanEvent, PhaseEvent, ExportEvent, InstalledEvent, CancelledEvent, DoneEvent)):
            if message and not message.startswith("scanning "):
                self.log(message)
        return None
