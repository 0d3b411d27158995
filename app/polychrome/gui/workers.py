"""All of the GUI's threading lives here.

A :class:`Worker` runs a plain Python function ``fn(progress, cancel, *args)`` on a thread of a
:class:`TaskRunner`'s pool. The function sees only the core :class:`~polychrome.core.progress.Progress` and
:class:`~polychrome.core.progress.CancelToken`; the worker adapts them to Qt signals, which are delivered on the UI
thread (queued connections). Results cross threads as plain Python objects and numpy arrays — never Qt images.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Set, Tuple

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..core import imageio
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
