"""All of the GUI's threading lives here.

A :class:`Worker` runs a plain Python function ``fn(progress, cancel, *args)`` on a thread of a
:class:`TaskRunner`'s pool. The function sees only the core :class:`~polychrome.core.progress.Progress` and
:class:`~polychrome.core.progress.CancelToken`; the worker adapts them to Qt signals, which are delivered on the UI
thread (queued connections). Results cross threads as plain Python objects and numpy arrays — never Qt images.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..core import imageio, merge
from ..core.errors import ImageReadError, ImageWriteError, PolychromeError
from ..core.progress import Cancelled, CancelToken, Progress, ProgressEvent

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """Signals of one :class:`Worker` (a QRunnable cannot have signals itself)."""

    started = Signal()
    progress = Signal(object)  # ProgressEvent
    result = Signal(object)  # whatever fn returned
    error = Signal(str, str)  # one-line message, traceback text
    cancelled = Signal()
    finished = Signal()  # always last, after result / error / cancelled


class Worker(QRunnable):
    """Runs ``fn(progress, cancel, *args, **kwargs)`` on a pool thread and reports through :attr:`signals`."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the TaskRunner keeps it alive until ``finished`` arrives
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.cancel_token = CancelToken()
        self.signals = WorkerSignals()
        self.done = False

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def _on_progress(self, event: ProgressEvent) -> None:
        self.signals.progress.emit(event)

    def run(self) -> None:  # on the pool thread
        progress = Progress(callback=self._on_progress, cancel=self.cancel_token)
        self.signals.started.emit()
        try:
            progress.check()
            res = self.fn(progress, self.cancel_token, *self.args, **self.kwargs)
        except Cancelled:
            self.signals.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - reported to the UI, never lost
            msg = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PolychromeError) else str(exc)
            tb = traceback.format_exc()
            log.error("worker failed: %s\n%s", msg, tb)
            self.signals.error.emit(msg, tb)
        else:
            self.signals.result.emit(res)
        finally:
            self.done = True
            self.signals.finished.emit()


class TaskRunner(QObject):
    """Owns a thread pool and the workers running on it; cancels and joins them on shutdown."""

    def __init__(self, max_threads: int = 1, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, max_threads))
        self._active: Set[Worker] = set()

    def start(self, worker: Worker) -> Worker:
        self._active.add(worker)
        worker.signals.finished.connect(lambda w=worker: self._active.discard(w))
        self.pool.start(worker)
        return worker

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Worker:
        return self.start(Worker(fn, *args, **kwargs))

    @property
    def busy(self) -> bool:
        """True until every worker's ``finished`` has been delivered on the UI thread (so its results are too)."""
        return bool(self._active)

    def cancel_all(self) -> None:
        for w in list(self._active):
            w.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every worker has returned (True) or the timeout passed (False)."""
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and join the threads (used when the window closes)."""
        self.pool.clear()  # workers not started yet never start
        self.cancel_all()
        ok = self.wait(timeout_ms)
        for w in list(self._active):
            if w.done:
                try:
                    w.signals.disconnect()
                except (RuntimeError, TypeError):
                    pass
        self._active = {w for w in self._active if not w.done}
        return ok


# -- the colorize queue ---------------------------------------------------------------------------

@dataclass
class QueueJob:
    row: int
    path: Path


def describe_error(exc: BaseException) -> str:
    """A one-line, user-facing reason for a per-file failure."""
    if isinstance(exc, (ImageReadError, ImageWriteError)):
        return exc.reason
    if isinstance(exc, PolychromeError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory for this image"
    return f"unexpected error: {type(exc).__name__}: {exc}"


def colorize_queue(
    progress: Progress,
    cancel: CancelToken,
    colorizer,
    jobs: Sequence[QueueJob],
    max_pixels: Optional[int] = imageio.DEFAULT_MAX_PIXELS,
) -> List[Tuple[int, str]]:
    """Colorize files one by one with ``colorizer.predict``; reports each file through ``progress``.

    For every job ``progress`` reports ``data={"row", "state": "running"}`` first, then ``state`` "done" (with
    ``prediction``) or "error" (with ``reason``). A per-file failure never stops the queue; cancelling does, between
    files and inside ``predict`` (``progress.check()``). Returns ``[(row, state)]`` of the jobs that finished.
    """
    progress.set_total(len(jobs))
    finished: List[Tuple[int, str]] = []
    for job in jobs:
        progress.check()
        progress.report(str(job.path), row=job.row, state="running")
        try:
            image = imageio.read_image(job.path, max_pixels=max_pixels)
            progress.check()
            pred = colorizer.predict(image.pixels, progress=progress, name=str(job.path))
        except Cancelled:
            progress.report(str(job.path), row=job.row, state="queued", reason="cancelled")
            raise
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the queue
            reason = describe_error(exc)
            finished.append((job.row, "error"))
            progress.step(1, str(job.path), row=job.row, state="error", reason=reason)
            continue
        finished.append((job.row, "done"))
        progress.step(1, str(job.path), row=job.row, state="done", prediction=pred)
    return finished


def prepare_live_preview(progress: Progress, cancel: CancelToken) -> None:
    """Build the live preview's colour table (once per process, well under a second) before the first slider
    move or first preview needs it, so the UI thread never waits for it."""
    progress.check()
    merge.preview_table()


def render_exact(progress: Progress, cancel: CancelToken, prediction, T: float, max_pixels: Optional[int] = None):
    """The exact (gamut-mapped, bicubic) preview of a cached prediction at T — decoding only, no inference."""
    progress.check()
    kw = {"max_pixels": max_pixels} if max_pixels else {}
    rgb = prediction.preview(T, exact=True, **kw)
    progress.check()
    return rgb


@dataclass
class ExportJob:
    row: int
    path: Path  # the source image
    prediction: Any  # its cached runtime.colorizer.Prediction, or None: computed again
    T: float


def export_predictions(
    progress: Progress, cancel: CancelToken, jobs: Sequence[ExportJob], opts, colorizer=None
) -> List[Tuple[int, Optional[Path], str]]:
    """Write each cached prediction at its own T with the export options of runtime.pipeline — no inference,
    except for a job whose prediction was dropped (``prediction`` None), which ``colorizer`` computes again.

    The source is read again for its metadata (format, bit depth, EXIF, ICC). Reports ``row`` with ``output`` or
    ``reason`` per file; returns ``[(row, output or None, reason)]``.
    """
    import numpy as np

    from ..runtime import pipeline

    progress.set_total(len(jobs))
    out: List[Tuple[int, Optional[Path], str]] = []
    for job in jobs:
        progress.check()
        try:
            image = imageio.read_image(job.path, max_pixels=opts.max_pixels)
            target, fmt = pipeline.output_path(job.path, image.format, opts)
            bits = pipeline.target_bits(image, opts, fmt)
            pred = job.prediction
            if pred is None:
                if colorizer is None:
                    raise RuntimeError("no cached result and no model to compute it")
                pred = colorizer.predict(image.pixels, progress=progress, name=str(job.path))
            rgb = pred.render(job.T, out_dtype=np.uint16 if bits == 16 else np.uint8, method=opts.upsample,
                                        max_side=opts.max_side, gamut_map=opts.gamut != "clip")
            progress.check()
            if not opts.overwrite:
                target = imageio.unique_path(target)
            written = imageio.write_image(target, rgb, format=fmt, bit_depth=bits, quality=opts.quality,
                                          exif=image.exif, icc=pipeline.output_icc(image), overwrite=opts.overwrite,
                                          protect=(job.path,))
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the export
            reason = describe_error(exc)
            out.append((job.row, None, reason))
            progress.step(1, str(job.path), row=job.row, reason=reason)
            continue
        out.append((job.row, written, ""))
        progress.step(1, str(job.path), row=job.row, output=str(written))
    return out


# -- comparison metrics ------------------------------------------------------------------------------

def sweep_temperatures(
    progress: Progress, cancel: CancelToken, measure: Callable[[float], Any], temperatures: Sequence[float]
) -> List[Tuple[float, Any]]:
    """Call ``measure(T)`` for every T in turn (decoding and metrics only, no inference).

    ``measure`` is a plain function of T that only reads its inputs (e.g. ``gui.compare.CompareData.measure``).
    Each value is reported as soon as it is ready (``data={"T", "value"}``), so a plot can fill in while the sweep
    goes on; cancelling stops between two temperatures. Returns ``[(T, value)]`` in the order given.
    """
    progress.set_total(len(temperatures))
    out: List[Tuple[float, Any]] = []
    for T in temperatures:
        progress.check()
        value = measure(float(T))
        out.append((float(T), value))
        progress.step(1, f"T = {float(T):.3g}", T=float(T), value=value)
    return out


# -- blind A/B ---------------------------------------------------------------------------------------

@dataclass
class ABSide:
    """One contender of a blind A/B session, as the preparing worker sees it."""

    name: str  # "A" or "B"
    key: Hashable  # the model's identity: sides with the same key share one prediction per image
    colorizer: Any  # the runtime.colorizer.Colorizer that computes a prediction no cache holds
    T: float


@dataclass
class ABJob:
    trial: int  # the trial's position in the session
    path: Path
    cached: Dict[Hashable, Any]  # model key -> this image's cached Prediction (no inference for that model)


def _private_prediction(prediction):
    """A Prediction sharing ``prediction``'s image and logits but with preview caches of its own, so rendering it
    here never races with the UI thread rendering the original (its caches are rebuilt on a size change)."""
    import numpy as np

    from ..runtime.colorizer import Prediction

    logits = np.moveaxis(prediction.decoder.z, -1, 0)  # (Q, h, w); shifted by the max, which softmax ignores
    return Prediction(prediction.pixels, prediction.L, logits, prediction.manifest)


def ab_prepare(
    progress: Progress,
    cancel: CancelToken,
    jobs: Sequence[ABJob],
    sides: Sequence[ABSide],
    preview_pixels: int,
    max_pixels: Optional[int] = imageio.DEFAULT_MAX_PIXELS,
) -> List[Tuple[int, str]]:
    """Render every contender's exact preview of each image, job by job (the session's trial order).

    A model with a cached prediction of the image is only decoded (no inference); any other model runs once per
    image (two sides of one model share it), and its prediction is dropped as soon as the previews exist. Reports
    per image ``data={"trial", "images": {side name: uint8 RGB}}`` or, for a file that fails, ``{"trial",
    "reason"}``; one bad image never stops the others, cancelling does. Returns ``[(trial, reason or "")]``.
    """
    progress.set_total(len(jobs))
    out: List[Tuple[int, str]] = []
    for job in jobs:
        progress.check()
        try:
            image = None
            predictions: Dict[Hashable, Any] = {}
            images: Dict[str, Any] = {}
            for side in sides:
                pred = predictions.get(side.key)
                if pred is None:
                    cached = job.cached.get(side.key)
                    if cached is not None:
                        pred = _private_prediction(cached)
                    else:
                        if image is None:
                            image = imageio.read_image(job.path, max_pixels=max_pixels)
                            progress.check()
                        pred = side.colorizer.predict(image.pixels, progress=progress, name=str(job.path))
                    predictions[side.key] = pred
                images[side.name] = pred.preview(side.T, max_pixels=preview_pixels, exact=True)
                progress.check()
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the session
            reason = describe_error(exc)
            out.append((job.trial, reason))
            progress.step(1, str(job.path), trial=job.trial, reason=reason)
            continue
        out.append((job.trial, ""))
        progress.step(1, str(job.path), trial=job.trial, images=images)
    return out


# -- the training wizard -------------------------------------------------------------------------------
# Plain functions around the training core (polychrome.training, imported inside each function so the app
# starts without PyTorch) and the pause gate the training loop's step hook waits on.


class PauseGate:
    """Pauses a training worker at its next step boundary (the Trainer's ``step_hook``) until resumed.

    ``pause()`` / ``resume()`` may be called from any thread. While paused, :meth:`wait` blocks the worker, waking
    up to return as soon as the job is cancelled (the training loop then raises ``Cancelled`` and checkpoints).
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
        """Block while paused (reporting ``phase="paused"`` then ``"resumed"``); return at once if not paused."""
        if self._running.is_set():
            return
        progress.report("paused", phase="paused")
        while not self._running.wait(self.poll_s):
            if progress.cancelled:
                return
        progress.report("resumed", phase="resumed")


@dataclass
class DataScan:
    """The result of :func:`scan_training_data`: the core's ScanReport and a few thumbnails of usable photos."""

    report: Any  # polychrome.training.data.ScanReport
    thumbnails: List[Tuple[str, Any]]  # (file name, uint8 RGB array)


def _thumbnail(path: str, side: int):
    import cv2
    import numpy as np

    from ..training.data import read_pixels

    px = read_pixels(path)
    if px.dtype == np.uint16:
        px = (px // 257).astype(np.uint8)
    if px.ndim == 2:
        px = np.repeat(px[..., None], 3, axis=2)
    h, w = px.shape[:2]
    s = side / max(h, w)
    if s < 1:
        px = cv2.resize(px, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(px)


def scan_training_data(
    progress: Progress, cancel: CancelToken, folders: Sequence[str], min_side: int, n_thumbnails: int = 12,
    thumbnail_side: int = 112,
) -> DataScan:
    """Scan the photo folders with the training core (:func:`polychrome.training.data.scan_folders`: usable,
    near-gray, too small, unreadable with reasons), then read thumbnails of ``n_thumbnails`` usable photos spread
    evenly over the collection. Progress: one step per file (``phase="scan"``), then per thumbnail."""
    from ..training.data import scan_folders

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
            progress.report(f"thumbnail {rec.rel}", phase="thumbnails")
    return DataScan(report, thumbs)


def compute_color_statistics(
    progress: Progress, cancel: CancelToken, config, records: Sequence[Any], base_model: Optional[str] = None
):
    """The bin table and priors a run would use (:func:`polychrome.training.loop.color_statistics`), with the
    photos' own prior always sampled so it can be shown. ``base_model``: the .onnx a fine-tune starts from."""
    from ..training.export import load_base_model
    from ..training.loop import color_statistics

    base = load_base_model(base_model) if base_model else None
    progress.check()
    return color_statistics(config, records, base, progress, always_sample=True)


def estimate_training_time(progress: Progress, cancel: CancelToken, config, report=None, colors=None,
                           n_batches: int = 3):
    """Time a few real training steps of the configured run (:func:`polychrome.training.loop.estimate_epoch_time`)."""
    from ..training.loop import estimate_epoch_time

    return estimate_epoch_time(config, n_batches=n_batches, progress=progress, report=report, colors=colors)


def train_model(
    progress: Progress,
    cancel: CancelToken,
    config,
    gate: Optional[PauseGate] = None,
    report=None,
    colors=None,
    resume_from: Optional[str] = None,
):
    """Run :meth:`polychrome.training.loop.Trainer.fit` (or ``resume`` from a checkpoint) exactly as
    ``polychrome train`` does, with ``gate`` pausing it between steps. Cancelling stops after the current step
    and writes a checkpoint (the core's guarantee); no model file is written then. Returns the TrainResult."""
    from ..training.loop import Trainer

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
    """Score each model (label, .onnx path) on the colour photos ``files`` side by side at each T with
    :func:`polychrome.runtime.pipeline.evaluate_image` (photo → gray with its own L* → colorize → metrics), plus
    the gray input as the baseline.

    Returns ``{"temperatures", "n", "models": {label: {T: mean metrics}}, "gray": mean metrics, "errors":
    [(file, reason)], "samples": [{"name", "gray", "truth", label: uint8 RGB at the model's default T}]}``.
    Reports one step per photo and model.
    """
    import numpy as np

    from ..core.color import rgb_to_gray
    from ..runtime.colorizer import Colorizer
    from ..runtime.pipeline import EvalRow, evaluate_image, summarize

    temps = [float(t) for t in temperatures]
    colorizers = [(label, Colorizer(path)) for label, path in models]
    rows: Dict[str, List[Any]] = {label: [] for label, _ in models}
    gray_rows: List[Any] = []
    errors: List[Tuple[str, str]] = []
    samples: List[Dict[str, Any]] = []
    progress.set_total(len(files) * max(1, len(colorizers)))
    for f in files:
        progress.check()
        try:
            image = imageio.read_image(f)
            if image.is_gray:
                raise PolychromeError("a grayscale photo cannot be scored")
            rgb = image.pixels
            sample: Optional[Dict[str, Any]] = None
            if len(samples) < n_samples:
                h, w = rgb.shape[:2]
                s = min(1.0, sample_side / max(h, w))
                size = (max(1, round(w * s)), max(1, round(h * s)))
                import cv2

                small = rgb if s >= 1 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
                if small.dtype == np.uint16:
                    small = (small // 257).astype(np.uint8)
                g = rgb_to_gray(small)
                sample = {"name": Path(f).name, "truth": small, "gray": np.dstack([g] * 3)}
            for label, col in colorizers:
                per_T, base = evaluate_image(col, rgb, temps)
                rows[label] += [EvalRow(Path(f), T, m) for T, m in per_T.items()]
                if label == colorizers[0][0]:
                    gray_rows.append(EvalRow(Path(f), 0.0, {**base, "baseline": 1.0}))
                if sample is not None:
                    pred = col.predict(rgb_to_gray(sample["truth"]))
                    sample[label] = pred.render(col.default_T, out_dtype=np.uint8)
                progress.step(1, f"{label}: {Path(f).name}", phase="evaluate")
            if sample is not None:
                samples.append(sample)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad photo never stops the evaluation
            errors.append((str(f), describe_error(exc)))
            progress.step(len(colorizers), f"{Path(f).name}: {describe_error(exc)}", phase="evaluate")
    out_models: Dict[str, Dict[float, Dict[str, float]]] = {}
    for label, _ in models:
        out_models[label] = {d["T"]: {k: v for k, v in d.items() if k not in ("T", "n")} for d in summarize(rows[label])}
    gray = summarize(gray_rows)
    return {
        "temperatures": temps,
        "n": len(files) - len(errors),
        "models": out_models,
        "gray": {k: v for k, v in gray[0].items() if k not in ("T", "n")} if gray else {},
        "errors": errors,
        "samples": samples,
    }


def publish_trained_model(
    progress: Progress, cancel: CancelToken, src: str, name: str, card: str, overwrite: bool = False,
    training_updates: Optional[Dict[str, Any]] = None, **fields: str,
) -> Path:
    """Install a trained model under its final name with its card
    (:func:`polychrome.training.publish.publish_model`); returns the installed path."""
    from ..training.publish import publish_model

    progress.check()
    progress.report(f"installing {name}", phase="publish")
    return publish_model(src, name, card, overwrite=overwrite, training_updates=training_updates, **fields)


def find_interrupted_runs(progress: Progress, cancel: CancelToken, root: str):
    """Interrupted runs under ``root`` (:func:`polychrome.training.loop.find_checkpoints`), newest first."""
    from ..training.loop import find_checkpoints

    return find_checkpoints(root)


# -- plain computations ------------------------------------------------------------------------------

def call_function(progress: Progress, cancel: CancelToken, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a plain computation ``fn(*args)`` off the UI thread and return its result.

    ``fn`` has no progress of its own, so it cannot stop midway; a worker cancelled before it starts never calls it,
    and one cancelled while it runs reports ``cancelled`` instead of the result. For preparations that take a
    fraction of a second (e.g. resizing a large image for ``gui.compare.CompareData``).
    """
    progress.check()
    out = fn(*args)
    progress.check()
    return out
