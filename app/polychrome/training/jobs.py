"""The training wizard's jobs, written once in plain Python: no Qt, no threads, and no PyTorch at import time.

Every job takes the core :class:`~polychrome.core.progress.Progress` and
:class:`~polychrome.core.progress.CancelToken` first, so the GUI runs it on a worker
(:mod:`polychrome.gui.workers`) and a script can call it directly. Each one imports the training core
(:mod:`polychrome.training.loop` and friends, which import torch) inside the function, so importing this module
costs nothing and the app starts without PyTorch.

* :func:`scan_training_data` — scan photo folders (usable, near-gray, too small, unreadable) and read thumbnails;
* :func:`compute_color_statistics` — the bin table and priors a run would use;
* :func:`estimate_training_time` — time a few real training steps;
* :func:`train_model` — ``Trainer.fit`` / ``resume`` exactly as ``polychrome train``, paused by a :class:`PauseGate`;
* :func:`evaluate_models` — score models side by side on colour photos at a few T, with sample images;
* :func:`publish_trained_model` — install a trained model under its name with its card;
* :func:`find_interrupted_runs` — checkpoints of runs that can be resumed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.progress import CancelToken, Progress
from .events import PhaseEvent, TrainingEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PausedEvent(TrainingEvent):
    """The run waits at a step boundary (:class:`PauseGate`)."""

    phase: str = "paused"


@dataclass(frozen=True, eq=False)
class ResumedEvent(TrainingEvent):
    """The paused run goes on."""

    phase: str = "resumed"


@dataclass(frozen=True, eq=False)
class ThumbnailEvent(TrainingEvent):
    """:func:`scan_training_data` read the thumbnail of one usable photo (``rel``: its path in the folders)."""

    rel: str
    phase: str = "thumbnails"


class PauseGate:
    """Pauses a training job at its next step boundary (the Trainer's ``step_hook``) until resumed.

    ``pause()`` / ``resume()`` may be called from any thread. While paused, :meth:`wait` blocks the job, waking up to
    return as soon as the job is cancelled (the training loop then raises ``Cancelled`` and checkpoints).
    """

    def __init__(self, poll_s: float = 0.05) -> None:
        self._running = threading.Event()
        self._running.set()
        self.poll_s = poll_s

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait(self, progress: Progress) -> None:
        """Block while paused (reporting a :class:`PausedEvent`, then a :class:`ResumedEvent`); return at once if
        not paused."""
        if self._running.is_set():
            return
        progress.report_event("paused", PausedEvent())
        while not self._running.wait(self.poll_s):
            if progress.cancelled:
                return
        progress.report_event("resumed", ResumedEvent())


@dataclass
class DataScan:
    """The result of :func:`scan_training_data`: the core's ScanReport and a few thumbnails of usable photos."""

    report: Any  # polychrome.training.data.ScanReport
    thumbnails: List[Tuple[str, Any]]  # (file name, uint8 RGB array)


def _thumbnail(path: str, side: int) -> Any:
    import numpy as np

    from ..core.pixels import fit_max_side, to_uint8
    from .data import read_pixels

    px = fit_max_side(to_uint8(read_pixels(path)), side)
    if px.ndim == 2:
        px = np.repeat(px[..., None], 3, axis=2)
    return np.ascontiguousarray(px)


def scan_training_data(
    progress: Progress, cancel: CancelToken, folders: Sequence[str], min_side: int, n_thumbnails: int = 12,
    thumbnail_side: int = 112,
) -> DataScan:
    """Scan the photo folders with the training core (:func:`polychrome.training.data.scan_folders`: usable,
    near-gray, too small, unreadable with reasons), then read thumbnails of ``n_thumbnails`` usable photos spread
    evenly over the collection. Progress: one step per file, then a :class:`ThumbnailEvent` per thumbnail."""
    from .data import scan_folders

    report = scan_folders(list(folders), min_side=min_side, progress=progress)
    usable = report.usable
    thumbs: List[Tuple[str, Any]] = []
    if usable and n_thumbnails > 0:
        k = min(len(usable), n_thumbnails)
        picks = sorted({round(i * (len(usable) - 1) / max(1, k - 1)) for i in range(k)})
        for i in picks:
            progress.check()
            rec = usable[i]
            try:
                thumbs.append((Path(rec.path).name, _thumbnail(rec.path, thumbnail_side)))
            except Exception as exc:  # noqa: BLE001 - a thumbnail is decoration; the scan result stands
                log.info("no thumbnail for %s: %s", rec.path, exc)
            progress.report_event(f"thumbnail {rec.rel}", ThumbnailEvent(str(rec.rel)))
    return DataScan(report, thumbs)


def compute_color_statistics(
    progress: Progress, cancel: CancelToken, config: Any, records: Sequence[Any], base_model: Optional[str] = None
) -> Any:
    """The bin table and priors a run would use (:func:`polychrome.training.loop.color_statistics`), with the
    photos' own prior always sampled so it can be shown. ``base_model``: the .onnx a fine-tune starts from."""
    from .export import load_base_model
    from .loop import color_statistics

    base = load_base_model(base_model) if base_model else None
    progress.check()
    return color_statistics(config, records, base, progress, always_sample=True)


def estimate_training_time(progress: Progress, cancel: CancelToken, config: Any, report: Any = None,
                           colors: Any = None, n_batches: int = 3) -> Any:
    """Time a few real training steps of the configured run (:func:`polychrome.training.loop.estimate_epoch_time`)."""
    from .loop import estimate_epoch_time

    return estimate_epoch_time(config, n_batches=n_batches, progress=progress, report=report, colors=colors)


def train_model(
    progress: Progress,
    cancel: CancelToken,
    config: Any,
    gate: Optional[PauseGate] = None,
    report: Any = None,
    colors: Any = None,
    resume_from: Optional[str] = None,
) -> Any:
    """Run :meth:`polychrome.training.loop.Trainer.fit` (or ``resume`` from a checkpoint) exactly as
    ``polychrome train`` does, with ``gate`` pausing it between steps. Cancelling stops after the current step
    and writes a checkpoint (the core's guarantee); no model file is written then. Returns the TrainResult."""
    from .loop import Trainer

    hook = (lambda _trainer: gate.wait(progress)) if gate is not None else None
    trainer = Trainer(config, progress, step_hook=hook)
    if resume_from:
        return trainer.resume(resume_from)
    if report is not None:
        trainer.use_scan(report)
    if colors is not None:
        trainer.use_color_statistics(colors)
    return trainer.fit()


def evaluate_models(
    progress: Progress,
    cancel: CancelToken,
    models: Sequence[Tuple[str, str]],
    files: Sequence[str],
    temperatures: Sequence[float],
    n_samples: int = 4,
    sample_side: int = 160,
) -> Dict[str, Any]:
    """Score each model (label, .onnx path) on the colour photos ``files`` side by side at each T, plus the gray
    input as the baseline, with the one evaluation routine the CLI and the model tools use
    (:func:`polychrome.runtime.evaluation.evaluate_side_by_side`).

    Returns ``{"temperatures", "n", "models": {label: {T: mean metrics}}, "gray": mean metrics, "errors":
    [(file, reason)], "samples": [{"name", "gray", "truth", label: uint8 RGB at the model's default T}]}``.
    Reports one step per photo and model.
    """
    from ..runtime.evaluation import evaluate_side_by_side

    progress.check()
    return evaluate_side_by_side(progress, models, files, temperatures, n_samples=n_samples,
                                 sample_side=sample_side)


def publish_trained_model(
    progress: Progress, cancel: CancelToken, src: str, name: str, card: str, overwrite: bool = False,
    training_updates: Optional[Dict[str, Any]] = None, **fields: str,
) -> Path:
    """Install a trained model under its final name with its card
    (:func:`polychrome.training.publish.publish_model`); returns the installed path."""
    from .publish import publish_model

    progress.check()
    progress.report_event(f"installing {name}", PhaseEvent("publish"))
    return publish_model(src, name, card, overwrite=overwrite, training_updates=training_updates, **fields)


def find_interrupted_runs(progress: Progress, cancel: CancelToken, root: str) -> Any:
    """Interrupted runs under ``root`` (:func:`polychrome.training.loop.find_checkpoints`), newest first."""
    from .loop import find_checkpoints

    return find_checkpoints(root)
