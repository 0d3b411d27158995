"""The training wizard's logic: what the user chose, what the background jobs found, and the run's state.

:class:`TrainingWizardController` holds the wizard's state and starts every long job on a worker
(:mod:`polychrome.training.jobs`: scan, colour statistics, time estimate, training, evaluation, publishing, run on
:mod:`polychrome.gui.workers`; the latest job of each kind wins). Those jobs call the training core — the same
:class:`~polychrome.training.loop.Trainer` that ``polychrome train`` runs — so nothing here trains, scores or writes
models itself. The pages (:mod:`.pages`) only read this object and call its methods; they listen to its signals.

PyTorch is imported lazily (only through :mod:`polychrome.training` inside methods), so the app starts and this
module imports without it; :attr:`TrainingWizardController.missing` lists what training lacks here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...core.progress import ProgressEvent
from ...training.events import CheckpointEvent
from ...training.jobs import (
    PauseGate,
    compute_color_statistics,
    estimate_training_time,
    evaluate_models,
    find_interrupted_runs,
    publish_trained_model,
    scan_training_data,
    train_model,
)
from ..workers import Tasks, Worker
from .model import (  # noqa: F401 - re-exported: the wizard's public names
    CANCELLED,
    EVAL_TEMPERATURES,
    FAILED,
    FINISHED,
    IDLE,
    INPUT_SIZES,
    LOSS_LABELS,
    PAUSED,
    RUNNING,
    START_FINETUNE,
    START_SCRATCH,
    RunProgress,
    TrainingCurves,
    WizardSettings,
    ab_plane_image,
    default_checkpoint_root,
    fine_tunable_default_model,
    is_fine_tunable,
)

log = logging.getLogger(__name__)

STAGED_NAME = "trained.onnx"


def _run_field(name: str) -> property:
    """A controller attribute that lives on its :class:`~.model.RunProgress` (``self.run``)."""
    return property(lambda self: getattr(self.run, name), lambda self, value: setattr(self.run, name, value))


class TrainingWizardController(QObject):
    """State and jobs of the training wizard. Views call in and listen; see the module docstring."""

    busy_changed = Signal()  # read .busy / .job_kind
    job_progress = Signal(str, object)  # job kind, ProgressEvent
    scan_changed = Signal()  # read .scan, .split
    runs_changed = Signal()  # read .interrupted_runs
    colors_changed = Signal()  # read .colors (None while stale)
    estimate_changed = Signal()  # read .estimate (None while stale)
    training_event = Signal(object)  # a run's typed event (training.events: TrainStepEvent, ValEvent, ...)
    training_state_changed = Signal()  # read .train_state
    evaluation_changed = Signal()  # read .evaluation
    model_installed = Signal(object)  # Path of the installed .onnx (it is in the model picker from now on)
    use_model_requested = Signal(object)  # Path: installed with "use it now" ticked (wire to switch_model)
    failed = Signal(str, str)  # job kind + message, traceback
    message = Signal(str)

    def __init__(
        self,
        base_model: Optional[Path] = None,
        checkpoint_root: Optional[Path] = None,
        config_overrides: Optional[Dict[str, Any]] = None,
        missing: Optional[List[str]] = None,
        parent: Optional[QObject] = None,
    ) -> None:
        super().__init__(parent)
        if missing is None:
            from ... import training

            missing = training.missing_dependencies()
        self.missing: List[str] = list(missing)
        self.settings = WizardSettings()
        self.config_overrides: Dict[str, Any] = dict(config_overrides or {})
        self.tasks = Tasks(self, lanes=False, threads=1)  # one thread: the jobs run one after the other
        self._checkpoint_root = Path(checkpoint_root) if checkpoint_root else None
        self.base_model: Optional[Path] = None
        self._base_manifest = None
        self.base_info = "no base model"
        if not self.missing:
            if base_model is not None:
                ok = is_fine_tunable(Path(base_model))
                self.base_model = Path(base_model) if ok else None
                self.base_info = Path(base_model).name + ("" if ok else " cannot be fine-tuned")
            else:
                self.base_model, self.base_info = fine_tunable_default_model()
        if self.base_model is not None:
            self.settings.start = START_FINETUNE
        # results
        self.scan = None  # workers.DataScan
        self.split: Tuple[list, list] = ([], [])
        self.interrupted_runs: list = []  # training.loop.CheckpointInfo, newest first
        self.colors = None  # training.loop.ColorStatistics
        self._colors_key: Optional[tuple] = None
        self._pending_colors_key: Optional[tuple] = None
        self.estimate = None  # training.loop.TimeEstimate
        # the run
        self.gate = PauseGate()
        self.train_state = IDLE
        self.run_dir: Optional[Path] = None
        self.run_config = None  # the TrainConfig of the current run
        self.resume_from: Optional[Path] = None  # a checkpoint to continue (set by an interrupted run or a cancel)
        self.result = None  # training.loop.TrainResult
        self.run = RunProgress()  # step, epoch, curves, samples, log ... as the run's events tell them
        self.error_text = ""
        self.val_paths: List[str] = []
        self.scan_counts: Dict[str, int] = {}
        # evaluation and export
        self.evaluation: Optional[Dict[str, Any]] = None
        self._evaluated_output: Optional[Path] = None
        self.installed: Optional[Path] = None

    # -- basics ---------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether training can run here (PyTorch and ONNX importable)."""
        return not self.missing

    @property
    def checkpoint_root(self) -> Path:
        if self._checkpoint_root is None:
            self._checkpoint_root = default_checkpoint_root()
        return self._checkpoint_root

    @property
    def runner(self):
        """The TaskRunner (thread) every job runs on."""
        return self.tasks.runner()

    @property
    def busy(self) -> bool:
        return bool(self.tasks.keys())

    @property
    def job_kind(self) -> Optional[str]:
        return next(iter(self.tasks.keys()), None)

    def is_running(self, kind: str) -> bool:
        return self.tasks.running(kind)

    def _start(self, kind: str, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None],
               on_progress: Optional[Callable[[ProgressEvent], None]] = None,
               on_cancelled: Optional[Callable[[], None]] = None,
               on_error: Optional[Callable[[str, str], None]] = None, **kwargs: Any) -> Worker:
        """Run ``fn`` on the wizard's worker thread as the job of ``kind``; a job of the same kind still running is
        superseded (cancelled, and nothing of it arrives any more)."""

        def progress(ev: ProgressEvent) -> None:
            self.job_progress.emit(kind, ev)
            if on_progress is not None:
                on_progress(ev)

        def error(msg: str, tb: str) -> None:
            if on_error is not None:
                on_error(msg, tb)
            self.failed.emit(f"{kind}: {msg}", tb)

        w = self.tasks.start(kind, fn, *args, on_progress=progress, on_returned=on_result, on_error=error,
                             on_cancelled=on_cancelled, on_finished=self.busy_changed.emit, **kwargs)
        self.busy_changed.emit()
        return w

    def cancel_job(self, kind: str) -> None:
        self.tasks.cancel(kind)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel every job (a training run stops after its step and checkpoints) and wait for the thread.

        Results still on their way from the cancelled jobs are ignored afterwards; a stopped run can be resumed.
        """
        training = self.tasks.running("train")
        jobs = self.tasks.keys()
        self.runner.cancel_all()  # first: a paused run wakes up to a cancel, not to one more step
        self.gate.resume()
        ok = self.tasks.shutdown(timeout_ms)  # cancels and disconnects every job, then joins the thread
        if ok and jobs:
            if training:
                ck = self.run_dir / "last.pt" if self.run_dir is not None else None
                if ck is not None and ck.is_file():
                    self.resume_from = ck
                self._log(f"stopped at step {self.step}; the checkpoint can be resumed")
                self._set_state(CANCELLED)
            self.busy_changed.emit()
        return ok

    # -- interrupted runs -----------------------------------------------------------------------
    def find_runs(self) -> None:
        """List interrupted runs under the checkpoint folder (on the worker: reading checkpoints takes a while)."""
        if not self.available:
            return

        def done(runs: list) -> None:
            self.interrupted_runs = list(runs)
            self.runs_changed.emit()

        self._start("runs", find_interrupted_runs, str(self.checkpoint_root), on_result=done)

    def choose_run_to_resume(self, info) -> None:
        """Continue an interrupted run (a CheckpointInfo): its data, settings, bins and prior come from the
        checkpoint; the wizard goes straight to training."""
        self.resume_from = Path(info.path)
        self.run_config = info.config
        self.run_dir = Path(info.path).parent
        self.val_paths = list(info.val_paths)
        self.scan_counts = dict(info.scan_counts)
        self.settings.folders = list(info.config.data)
        self.step, self.total_steps = info.step, info.total_steps
        self.curves = TrainingCurves()
        self._set_state(CANCELLED)

    # -- page 1: data ---------------------------------------------------------------------------
    def set_folders(self, folders: Sequence[str]) -> None:
        """Use these photo folders and scan them (on the worker). A finished or stopped run of other data is
        forgotten (its files stay on disk); nothing changes while a run trains."""
        folders = [str(f) for f in folders]
        if self.training_active or (folders == self.settings.folders and self.scan is not None):
            return
        self.settings.folders = folders
        self.resume_from = None
        self.result = self.evaluation = self.installed = None
        self._set_state(IDLE)
        self.scan = None
        self.split = ([], [])
        self._invalidate_colors()
        self.scan_changed.emit()
        if folders:
            self.start_scan()
        else:
            self.cancel_job("scan")

    def set_val_fraction(self, fraction: float) -> None:
        self.settings.val_fraction = float(fraction)
        self._update_split()

    def start_scan(self) -> None:
        def done(scan) -> None:
            self.scan = scan
            self._update_split()

        self._start("scan", scan_training_data, list(self.settings.folders), self.settings.min_side, on_result=done)

    def _update_split(self) -> None:
        if self.scan is None:
            self.split = ([], [])
        else:
            from ...training.loop import split_for_training

            self.split = split_for_training(self.scan.report, self.make_config())
        self.val_paths = [r.path for r in self.split[1]]
        self.scan_counts = dict(self.scan.report.counts) if self.scan is not None else {}
        self._invalidate_colors()
        self.scan_changed.emit()

    @property
    def data_ready(self) -> bool:
        return self.scan is not None and len(self.split[0]) >= 1 and len(self.split[1]) >= 1

    # -- configuration ----------------------------------------------------------------------------
    def set_setting(self, name: str, value: Any) -> None:
        """Change one of :class:`WizardSettings`; statistics and estimates that depend on it become stale."""
        if getattr(self.settings, name) == value:
            return
        setattr(self.settings, name, value)
        if name in ("start", "loss", "prior_source", "size"):
            self._invalidate_colors()
        if name != "lam":
            self._invalidate_estimate()
        if name == "lam" and self.colors is not None:
            self.colors_changed.emit()

    @property
    def base_manifest(self):
        """The base model's manifest (read once), or None without a base model."""
        if self.base_model is None:
            return None
        if self._base_manifest is None:
            from ...runtime.session import read_manifest

            self._base_manifest = read_manifest(self.base_model)
        return self._base_manifest

    @property
    def fine_tuning(self) -> bool:
        return self.settings.start == START_FINETUNE and self.base_model is not None

    def make_config(self, run_dir: Optional[Path] = None):
        """The :class:`~polychrome.training.loop.TrainConfig` for the current settings (``run_dir``: where the
        checkpoint and the exported model go)."""
        from ...training.loop import TrainConfig

        s = self.settings
        kw: Dict[str, Any] = dict(
            data=list(s.folders),
            name=run_dir.name if run_dir else "wizard",
            size=int(s.size),
            epochs=int(s.epochs),
            batch_size=int(s.batch_size),
            loss=s.loss,
            lam=float(s.lam),
            val_fraction=float(s.val_fraction),
            min_side=int(s.min_side),
            device=s.device,
            checkpoint_every_steps=100,
            export=True,
            install=False,
        )
        if self.fine_tuning:
            m = self.base_manifest
            kw.update(
                base_model=str(self.base_model),
                freeze_encoder=bool(s.freeze_encoder),
                prior_source=s.prior_source,
                input_size=int(m.input_size),
                default_T=float(m.default_T),
            )
        else:
            kw.update(bins="data", prior_source="data", pretrained=True, freeze_encoder=False)
        if run_dir is not None:
            kw.update(checkpoint_dir=str(run_dir), output=str(run_dir / STAGED_NAME))
        kw.update(self.config_overrides)
        return TrainConfig(**kw)

    # -- page 2: colours ----------------------------------------------------------------------------
    def _colors_key_now(self) -> tuple:
        c = self.make_config()
        return (tuple(r.path for r in self.split[0]), c.loss, c.bins, c.prior_source, c.size, c.stride,
                c.prior_images, c.bins_min_count, c.base_model)

    def _invalidate_colors(self) -> None:
        if self.colors is not None:
            self.colors = None
            self._colors_key = None
            self.colors_changed.emit()
        self._invalidate_estimate()

    def ensure_colors(self) -> bool:
        """Compute the bin table and priors for the current data and settings unless they are up to date.
        Returns True when a computation was started."""
        if not self.data_ready:
            return False
        key = self._colors_key_now()
        if self.colors is not None and self._colors_key == key:
            return False
        if self.is_running("colors") and self._pending_colors_key == key:
            return False
        self._pending_colors_key = key

        def done(stats) -> None:
            self.colors = stats
            self._colors_key = key
            self.colors_changed.emit()

        base = str(self.base_model) if self.fine_tuning else None
        self._start("colors", compute_color_statistics, self.make_config(), list(self.split[0]), base, on_result=done)
        return True

    def weights(self) -> Optional[np.ndarray]:
        """The class-rebalancing weights at the current λ (None until the colours are computed)."""
        return None if self.colors is None else self.colors.weights(self.settings.lam)

    def prior_image(self):
        """The data's prior on the ab plane (see :func:`ab_plane_image`), or None."""
        c = self.colors
        if c is None:
            return None
        p = c.data_prior if c.data_prior is not None else c.prior
        return None if p is None else ab_plane_image(c.bins.centers, c.bins.grid, p, "colour")

    def weights_image(self):
        w = self.weights()
        if w is None:
            return None
        return ab_plane_image(self.colors.bins.centers, self.colors.bins.grid, w, "heat")

    # -- page 3: settings -----------------------------------------------------------------------------
    def devices(self) -> List[Tuple[str, str]]:
        """(device, label) to train on: the CPU, and every GPU PyTorch sees."""
        from ...training.loop import available_devices

        return available_devices()

    def _invalidate_estimate(self) -> None:
        if self.estimate is not None:
            self.estimate = None
            self.estimate_changed.emit()

    def start_estimate(self, n_batches: int = 3) -> bool:
        """Time a few real training steps with the current settings (on the worker)."""
        if not self.data_ready:
            return False
        colors = self.colors if (self.colors is not None and self._colors_key == self._colors_key_now()) else None

        def done(est) -> None:
            self.estimate = est
            self.estimate_changed.emit()

        self.estimate = None
        self.estimate_changed.emit()
        self._start("estimate", estimate_training_time, self.make_config(), self.scan.report, colors, n_batches,
                    on_result=done)
        return True

    # -- page 4: training -----------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state != self.train_state:
            self.train_state = state
            self.training_state_changed.emit()

    @property
    def training_active(self) -> bool:
        return self.train_state in (RUNNING, PAUSED)

    step = _run_field("step")
    total_steps = _run_field("total_steps")
    epoch = _run_field("epoch")
    eta_s = _run_field("eta_s")
    curves = _run_field("curves")
    samples = _run_field("samples")
    last_val = _run_field("last_val")
    log_lines = _run_field("log_lines")

    def _log(self, line: str) -> None:
        self.run.log(line)

    def start_training(self) -> bool:
        """Start a new run with the current settings, or continue the checkpoint in :attr:`resume_from`."""
        if self.training_active or self.is_running("train"):
            return False
        resume = self.resume_from
        if resume is None:
            if not self.data_ready:
                self.message.emit("Scan the photo folders first")
                return False
            self.run_dir = self.checkpoint_root / time.strftime("run-%Y%m%d-%H%M%S")
            n = 1
            while self.run_dir.exists():
                n += 1
                self.run_dir = self.checkpoint_root / time.strftime(f"run-%Y%m%d-%H%M%S-{n}")
            self.run_config = self.make_config(self.run_dir)
            colors = self.colors if (self.colors is not None and self._colors_key == self._colors_key_now()) else None
            report = self.scan.report
            self.curves = TrainingCurves()
            self.samples = []
            self.log_lines = []
            self.step = 0
        else:
            colors = report = None
            self.curves.clear_after(self.step)
        self.result = None
        self.evaluation = None
        self.installed = None
        self.error_text = ""
        self.gate.resume()
        self._set_state(RUNNING)
        self._log(f"resuming from {resume}" if resume else f"run folder: {self.run_dir}")
        self._start("train", train_model, self.run_config, self.gate, report, colors,
                    str(resume) if resume else None,
                    on_result=self._on_trained, on_progress=self._on_train_progress,
                    on_cancelled=self._on_train_cancelled, on_error=self._on_train_error)
        return True

    def pause_training(self) -> None:
        """Pause at the next step boundary (the worker waits; nothing is lost)."""
        if self.train_state == RUNNING:
            self.gate.pause()

    def resume_training(self) -> None:
        """Continue a paused run (a cancelled one continues with :meth:`start_training`)."""
        if self.gate.paused:
            self.gate.resume()

    def cancel_training(self) -> None:
        """Stop after the current step; the core writes a checkpoint, from which :meth:`start_training` continues."""
        if self.tasks.running("train"):
            self.tasks.cancel("train")
            self.gate.resume()  # a paused worker wakes up and sees the cancel

    def _on_train_progress(self, ev: ProgressEvent) -> None:
        state = self.run.apply(ev.message, ev.data)
        if state is not None:
            self._set_state(state)
        if isinstance(ev.data, CheckpointEvent):
            self.resume_from = self.run.checkpoint
        self.training_event.emit(ev.data)

    def _on_trained(self, result) -> None:
        self.result = result
        self.resume_from = None
        self._set_state(FINISHED)

    def _on_train_cancelled(self) -> None:
        self._log(f"cancelled at step {self.step}; the checkpoint can be resumed")
        self._set_state(CANCELLED)

    def _on_train_error(self, msg: str, _tb: str) -> None:
        self.error_text = msg
        self._log(f"error: {msg}")
        self._set_state(FAILED)

    @property
    def can_resume(self) -> bool:
        return (self.train_state in (CANCELLED, FAILED) and self.resume_from is not None
                and Path(self.resume_from).is_file())

    @property
    def trained_model(self) -> Optional[Path]:
        """The exported model of the finished run (in the run folder, not installed yet)."""
        if self.result is None or self.result.output is None:
            return None
        return Path(self.result.output)

    # -- page 5: evaluation ----------------------------------------------------------------------------
    def starting_model(self) -> Optional[Tuple[str, Path]]:
        """(label, path) of what the new model is compared with: the base model when fine-tuning, else the
        default model if one is installed, else None."""
        cfg = self.run_config
        if cfg is not None and cfg.base_model:
            return f"start: {Path(cfg.base_model).stem}", Path(cfg.base_model)
        from ...core.errors import PolychromeError
        from ...runtime.registry import default_model

        try:
            e = default_model()
        except PolychromeError:
            return None
        return f"default: {e.name}", e.path

    def start_evaluation(self, max_images: int = 100) -> bool:
        """Score the new model against the starting one on the validation photos at a few T (on the worker)."""
        out = self.trained_model
        if out is None or not self.val_paths:
            return False
        if self.evaluation is not None and self._evaluated_output == out:
            return False
        files = list(self.val_paths)
        if len(files) > max_images:
            idx = np.linspace(0, len(files) - 1, max_images).round().astype(int)
            files = [files[i] for i in idx]
        models: List[Tuple[str, str]] = []
        start = self.starting_model()
        if start is not None:
            models.append((start[0], str(start[1])))
        models.append(("new model", str(out)))

        def done(ev: Dict[str, Any]) -> None:
            ev["of"] = len(self.val_paths)
            self.evaluation = ev
            self._evaluated_output = out
            self.evaluation_changed.emit()

        self.evaluation = None
        self.evaluation_changed.emit()
        self._start("evaluate", evaluate_models, models, files, EVAL_TEMPERATURES, on_result=done)
        return True

    # -- page 6: export ----------------------------------------------------------------------------------
    def suggested_name(self) -> str:
        folders = self.settings.folders or (self.run_config.data if self.run_config else [])
        stem = Path(folders[0]).name if folders else "my photos"
        from ...training.publish import name_problem

        name = f"{stem} colours"
        return name if name_problem(name) is None else "my colours"

    def name_problem(self, name: str) -> Optional[str]:
        from ...training.publish import name_problem

        return name_problem(name)

    def name_taken(self, name: str) -> bool:
        from ...training.publish import installed_path

        return installed_path(name).exists()

    def model_card(self, name: str, description: str = "", license: str = "") -> str:
        """The markdown card written beside the installed model."""
        from ...training.publish import model_card_markdown

        summary = self.result.summary if self.result is not None else {}
        folders = self.run_config.data if self.run_config is not None else self.settings.folders
        evaluation = None
        if self.evaluation is not None:
            evaluation = {k: v for k, v in self.evaluation.items() if k in ("temperatures", "models", "gray", "n")}
        return model_card_markdown(name, summary, data=folders, scan_counts=self.scan_counts or None,
                                   description=description, license=license, evaluation=evaluation)

    def publish(self, name: str, description: str = "", license: str = "", overwrite: bool = False,
                use_now: bool = False) -> bool:
        """Install the trained model as ``name`` with its card (on the worker). Emits :attr:`model_installed`
        (and :attr:`use_model_requested` when ``use_now``). Refuses an existing name unless ``overwrite``."""
        src = self.trained_model
        if src is None:
            return False
        problem = self.name_problem(name)
        if problem:
            self.message.emit(problem)
            return False
        if self.name_taken(name) and not overwrite:
            self.message.emit(f"A model named {name!r} is already installed")
            return False
        card = self.model_card(name, description, license)
        folders = ", ".join(Path(f).name for f in (self.run_config.data if self.run_config else []))
        fields = {"description": description or f"Trained with the Polychrome training wizard on {folders}."}
        if license:
            fields["license"] = license

        def done(path) -> None:
            self.installed = Path(path)
            self.model_installed.emit(self.installed)
            if use_now:
                self.use_model_requested.emit(self.installed)

        self._start("publish", publish_trained_model, str(src), name, card, overwrite, None, on_result=done,
                    **fields)
        return True
