"""The app's colorizing jobs, written once in plain Python: no Qt, no threads.

Every job takes the core :class:`~polychrome.core.progress.Progress` and
:class:`~polychrome.core.progress.CancelToken` first (``progress.check()`` raises
:class:`~polychrome.core.progress.Cancelled`), so the GUI runs it on a worker thread
(:mod:`polychrome.gui.workers`) and anything else can simply call it. A job that produces results one by one is a
generator: it *yields* a typed partial result per file (:class:`QueueUpdate`, :class:`Exported`,
:class:`SweepPoint`, :class:`ABPrepared`) and *returns* the summary (superqt's ``yielded`` / ``returned`` model).
:func:`run_to_end` drives such a generator without a GUI.

* :func:`colorize_queue` — read and colorize files one by one (the queue); the source's metadata (format, bit depth,
  EXIF, ICC: :class:`~polychrome.core.imageio.ImageInfo`) comes back with each prediction, so an export never
  reads the file again;
* :func:`render_exact` — the exact preview of a cached prediction at T (decoding only);
* :func:`export_predictions` — write cached predictions at their own T with the export options;
* :func:`sweep_temperatures` — measure a function of T over a list of temperatures;
* :func:`ab_prepare` — both contenders' previews of each image of a blind A/B session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Generator,
    Hashable,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

import numpy as np

from ..core import imageio, merge
from ..core.errors import user_message
from ..core.progress import Cancelled, CancelToken, Progress

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, ERROR = "queued", "running", "done", "error"

Y = TypeVar("Y")
R = TypeVar("R")


def run_to_end(gen: Generator[Y, None, R], on_item: Optional[Callable[[Y], Any]] = None) -> R:
    """Drive a job generator without a GUI: hand every partial result to ``on_item``; return the job's result."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_item is not None:
            on_item(item)


# -- the colorize queue ---------------------------------------------------------------------------


@dataclass
class QueueJob:
    row: int
    path: Path


@dataclass
class QueueUpdate:
    """A queue row's new state: ``running`` when its file starts, then ``done`` (with the prediction and the
    source's metadata) or ``error`` (with the reason); ``queued`` again when cancelled while running."""

    row: int
    state: str
    reason: str = ""
    prediction: Any = None  # runtime.colorizer.Prediction when done
    source: Optional[imageio.ImageInfo] = None  # when done: the source's metadata (``ImageData.info``)


def colorize_queue(
    progress: Progress,
    cancel: CancelToken,
    colorizer: Any,
    jobs: Sequence[QueueJob],
    max_pixels: Optional[int] = imageio.DEFAULT_MAX_PIXELS,
) -> Generator[QueueUpdate, None, List[Tuple[int, str]]]:
    """Colorize files one by one with ``colorizer.predict``, yielding a :class:`QueueUpdate` per state change.

    A per-file failure never stops the queue; cancelling does, between files and inside ``predict``
    (``progress.check()``). Returns ``[(row, state)]`` of the jobs that finished.
    """
    progress.set_total(len(jobs))
    finished: List[Tuple[int, str]] = []
    for job in jobs:
        progress.check()
        yield QueueUpdate(job.row, RUNNING)
        progress.report(str(job.path), row=job.row)
        try:
            image = imageio.read_image(job.path, max_pixels=max_pixels)
            progress.check()
            pred = colorizer.predict(image.pixels, progress=progress, name=str(job.path))
        except Cancelled:
            yield QueueUpdate(job.row, QUEUED, "cancelled")
            raise
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the queue
            finished.append((job.row, ERROR))
            yield QueueUpdate(job.row, ERROR, user_message(exc))
            progress.step(1, str(job.path), row=job.row)
            continue
        finished.append((job.row, DONE))
        yield QueueUpdate(job.row, DONE, prediction=pred, source=image.info)
        progress.step(1, str(job.path), row=job.row)
    return finished


def prepare_live_preview(progress: Progress, cancel: CancelToken) -> None:
    """Build the live preview's colour table (once per process, well under a second) before the first slider
    move or first preview needs it, so the UI thread never waits for it."""
    progress.check()
    merge.preview_table()


def render_exact(progress: Progress, cancel: CancelToken, prediction: Any, T: float,
                 max_pixels: Optional[int] = None) -> np.ndarray:
    """The exact (gamut-mapped, bicubic) preview of a cached prediction at T — decoding only, no inference."""
    progress.check()
    kw = {"max_pixels": max_pixels} if max_pixels else {}
    rgb = prediction.preview(T, exact=True, **kw)
    progress.check()
    return rgb


# -- export ---------------------------------------------------------------------------------------


@dataclass
class ExportJob:
    row: int
    path: Path  # the source image
    prediction: Any  # its cached runtime.colorizer.Prediction, or None: computed again
    T: float
    source: Optional[imageio.ImageInfo] = None  # the source's metadata (kept from the queue); None: read the file
    hints: Any = None  # the image's core.hintsfile.HintsFile: steers a recomputed prediction, written beside the output


@dataclass
class Exported:
    """One file of an export: where it was written, or why not; ``skipped``: it was exported before with the
    same model, T, options and result (the batch record says so) and ``output`` is that earlier file."""

    row: int
    output: Optional[Path]
    reason: str = ""
    skipped: bool = False


def export_predictions(
    progress: Progress, cancel: CancelToken, jobs: Sequence[ExportJob], opts: Any, colorizer: Any = None,
    redo: bool = False,
) -> Generator[Exported, None, List[Tuple[int, Optional[Path], str]]]:
    """Write each cached prediction at its own T with :func:`polychrome.runtime.pipeline.write_prediction` (the one
    write path the CLI uses too) — no inference and no reading, except for a job whose prediction was dropped
    (``prediction`` None), which is read and computed again with ``colorizer``.

    Exports go through the same batch record and plan as ``polychrome colorize``
    (:func:`polychrome.runtime.batch.plan_run`): an image exported before with the same model, T, options and
    prediction is skipped (``redo``: written again), our own earlier output of it is replaced rather than
    duplicated, and stale temp files of an interrupted export are removed. Yields an :class:`Exported` per file;
    returns ``[(row, output or None, reason)]`` (a skipped image: its earlier output and the reason).
    """
    from . import pipeline
    from .batch import plan_run, source_key

    opts.validate()
    specs = {source_key(job.path): _export_spec(job, opts, colorizer) for job in jobs}
    by_path = {source_key(job.path): job for job in jobs}
    progress.set_total(len(jobs))
    out: List[Tuple[int, Optional[Path], str]] = []
    with plan_run([Path(job.path) for job in jobs], lambda p: specs[source_key(p)], opts.out_dir,
                  redo=redo) as plan:
        plan.mark_run(["polychrome-gui", "export"], engine="app")
        for item in plan.skipped:
            job = by_path[source_key(item.source)]
            out.append((job.row, item.output, item.reason))
            yield Exported(job.row, item.output, item.reason, skipped=True)
            progress.step(1, str(job.path), row=job.row)
        for item in plan.todo:
            job = by_path[source_key(item.source)]
            progress.check()
            try:
                pred, source = job.prediction, job.source
                if pred is None or source is None:
                    image = imageio.read_image(job.path, max_pixels=opts.max_pixels)
                    source = image.info
                    if pred is None:
                        if colorizer is None:
                            raise RuntimeError("no cached result and no model to compute it")
                        pred = colorizer.predict(image.pixels, progress=progress, name=str(job.path))
                        if job.hints is not None:  # the cached, steered prediction was dropped: steer it again
                            from .steer import steer

                            pred = steer(colorizer, pred, job.hints, progress=progress)
                target, overwrite = pipeline.claim_output(plan, item, opts, source.format)

                def file_progress(frac: float, stage: str, row: int = job.row, name: str = job.path.name) -> None:
                    # inside a file: the bar moves while a big TIFF is written, and Cancel stops the write
                    progress.report(f"{name}: {stage}", row=row, file_fraction=frac, stage=stage)
                    progress.check()

                written = pipeline.write_prediction(pred, source, opts, job.T, out_path=target, overwrite=overwrite,
                                                    progress=file_progress)
                if job.hints is not None and not job.hints.empty:
                    _write_hints_sidecar(written, job.hints, overwrite)
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the export
                reason = user_message(exc)
                plan.mark_failed(item, reason)
                out.append((job.row, None, reason))
                yield Exported(job.row, None, reason)
                progress.step(1, str(job.path), row=job.row)
                continue
            plan.mark_done(item, written)
            out.append((job.row, written, ""))
            yield Exported(job.row, written)
            progress.step(1, str(job.path), row=job.row)
    return out


def _write_hints_sidecar(written: Path, hints: Any, overwrite: bool) -> Path:
    """``photo_color.png`` gets ``photo_color.hints.json`` (core.hintsfile), never over a file it did not write."""
    from ..core.fileops import unique_path
    from ..core.hintsfile import save_hints, sidecar_path

    side = sidecar_path(written)
    if side.exists() and not overwrite:
        side = unique_path(side)
    return save_hints(side, hints, overwrite=overwrite)


def _export_spec(job: ExportJob, opts: Any, colorizer: Any) -> Any:
    """The batch record's spec of one export: the model (its sha256), the job's T, the options and a digest of
    the prediction itself (hints or a reference change it without changing T or the options)."""
    from . import pipeline
    from .session import file_sha256

    pred = job.prediction
    manifest = pred.manifest if pred is not None else colorizer.manifest
    path = getattr(manifest, "path", None)
    if colorizer is not None and colorizer.manifest is manifest:
        sha = colorizer.session.sha256
    else:
        sha = file_sha256(path) if path is not None else "unknown"
    extra = {"prediction": pipeline.prediction_digest(pred)} if pred is not None else {}
    size = getattr(colorizer, "input_size", None) if colorizer is not None else None
    return pipeline.model_run_spec(manifest, sha, opts, size, job.T, **extra)


# -- comparison metrics ------------------------------------------------------------------------------


@dataclass
class SweepPoint:
    T: float
    value: Any


def sweep_temperatures(
    progress: Progress, cancel: CancelToken, measure: Callable[[float], Any], temperatures: Sequence[float]
) -> Generator[SweepPoint, None, List[Tuple[float, Any]]]:
    """Call ``measure(T)`` for every T in turn (decoding and metrics only, no inference).

    ``measure`` is a plain function of T that only reads its inputs (e.g. ``CompareData.measure``). Each value is
    yielded as soon as it is ready (:class:`SweepPoint`), so a plot can fill in while the sweep goes on; cancelling
    stops between two temperatures. Returns ``[(T, value)]`` in the order given.
    """
    progress.set_total(len(temperatures))
    out: List[Tuple[float, Any]] = []
    for T in temperatures:
        progress.check()
        value = measure(float(T))
        out.append((float(T), value))
        yield SweepPoint(float(T), value)
        progress.step(1, f"T = {float(T):.3g}")
    return out


def call_function(progress: Progress, cancel: CancelToken, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a plain computation ``fn(*args)`` and return its result (off the UI thread, on a worker).

    ``fn`` has no progress of its own, so it cannot stop midway; cancelled before it starts it is never called,
    cancelled while it runs the job ends as cancelled instead of returning.
    """
    progress.check()
    out = fn(*args)
    progress.check()
    return out


# -- blind A/B ---------------------------------------------------------------------------------------


@dataclass
class ABSide:
    """One contender of a blind A/B session, as the preparing job sees it."""

    name: str  # "A" or "B"
    key: Hashable  # the model's identity: sides with the same key share one prediction per image
    colorizer: Any  # the runtime.colorizer.Colorizer that computes a prediction no cache holds
    T: float


@dataclass
class ABJob:
    trial: int  # the trial's position in the session
    path: Path
    cached: Dict[Hashable, Any] = field(default_factory=dict)  # model key -> cached Prediction of this image


@dataclass
class ABPrepared:
    """One trial's previews ({side name: uint8 RGB}), or why the image could not be prepared."""

    trial: int
    images: Optional[Dict[str, np.ndarray]] = None
    reason: str = ""


def _private_prediction(prediction: Any) -> Any:
    """A Prediction sharing ``prediction``'s image and logits but with preview caches of its own, so rendering it
    here never races with the UI thread rendering the original (its caches are rebuilt on a size change)."""
    from .colorizer import Prediction

    logits = np.moveaxis(prediction.decoder.z, -1, 0)  # (Q, h, w); shifted by the max, which softmax ignores
    return Prediction(prediction.pixels, prediction.L, logits, prediction.manifest)


def ab_prepare(
    progress: Progress,
    cancel: CancelToken,
    jobs: Sequence[ABJob],
    sides: Sequence[ABSide],
    preview_pixels: int,
    max_pixels: Optional[int] = imageio.DEFAULT_MAX_PIXELS,
) -> Generator[ABPrepared, None, List[Tuple[int, str]]]:
    """Render every contender's exact preview of each image, job by job (the session's trial order).

    A model with a cached prediction of the image is only decoded (no inference); any other model runs once per
    image (two sides of one model share it), and its prediction is dropped as soon as the previews exist. Yields an
    :class:`ABPrepared` per image; one bad image never stops the others, cancelling does. Returns
    ``[(trial, reason or "")]``.
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
            reason = user_message(exc)
            out.append((job.trial, reason))
            yield ABPrepared(job.trial, reason=reason)
            progress.step(1, str(job.path))
            continue
        out.append((job.trial, ""))
        yield ABPrepared(job.trial, images=images)
        progress.step(1, str(job.path))
    return out
