"""The queue's controller: the app's logic around the model (the ONNX one), the queue, the current image and T.

:class:`ImageQueueModel` presents the plain :class:`~.model.Queue` to Qt's views (one row per image: state, reason);
:class:`ColorizeController` owns the :class:`~polychrome.runtime.colorizer.Colorizer`, the queue, the current image
and its temperature, runs the jobs of :mod:`polychrome.runtime.jobs` through :class:`~polychrome.gui.workers.Tasks`
and turns predictions into numpy previews for the views. Inference runs only in the queue job; changing T only
decodes the cached logits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from ...core.errors import PolychromeError
from ...core.merge import preview_table_ready
from ...core.metrics import colorfulness
from ...runtime.jobs import (
    QueueJob,
    QueueUpdate,
    colorize_queue,
    prepare_live_preview,
    render_exact,
)
from ...runtime.pipeline import expand_inputs
from ..export.controller import ExportController
from ..workers import Tasks, Worker
from . import session as sessions
from .model import (
    DEFAULT_T,
    DONE,
    ERROR,
    KEEP_PREDICTIONS,
    QUEUED,
    RUNNING,
    STATE_COLOR,
    T_MAX,
    T_MIN,
    THUMB_SIDE,
    Queue,
    QueueItem,
    clamp_T,
    thumbnail_from_prediction,
    thumbnail_from_rgb,
)

log = logging.getLogger(__name__)

QUEUE, RENDER, EXACT, DRAG = "queue", "render", "exact", "drag"  # task keys and lanes
T_STEP = 0.02  # one keyboard step of T (View ▸ Toward the Most Likely Colour / Toward the Average)
SAVE_DELAY_MS = 800  # the session is saved this long after the last change (and when the window closes)
COLOURFULNESS_PIXELS = 16_000  # the status bar's colourfulness is measured on a subsample of the preview
__all__ = ["ColorizeController", "ImageQueueModel", "QueueItem", "QUEUED", "RUNNING", "DONE", "ERROR", "T_MIN",
           "T_MAX"]


class ImageQueueModel(QAbstractListModel):
    StateRole = Qt.ItemDataRole.UserRole + 1
    ReasonRole = Qt.ItemDataRole.UserRole + 2
    PathRole = Qt.ItemDataRole.UserRole + 3

    def __init__(self, parent: Optional[QObject] = None, keep: int = KEEP_PREDICTIONS) -> None:
        super().__init__(parent)
        self.model = Queue(keep)
        self._icons: dict = {}  # id(item) -> ((thumbnail id, state), QIcon)

    @property
    def items(self) -> List[QueueItem]:
        return self.model.items

    # -- Qt model API ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.items)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        it = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return it.label
        if role == Qt.ItemDataRole.ToolTipRole:
            return it.tooltip
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(it)
        if role == self.StateRole:
            return it.state
        if role == self.ReasonRole:
            return it.reason
        if role == self.PathRole:
            return str(it.path)
        return None

    def _icon(self, it: QueueItem) -> QIcon:
        """The row's thumbnail (the result at its T), framed by a bar in the state's colour; a swatch before."""
        key = (id(it.thumbnail), it.state)
        cached = self._icons.get(id(it))
        if cached is not None and cached[0] == key:
            return cached[1]
        side = THUMB_SIDE
        pix = QPixmap(side, side)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        colour = QColor(STATE_COLOR[it.state])
        if it.thumbnail is not None:
            t = np.ascontiguousarray(it.thumbnail)
            h, w = t.shape[:2]
            img = QImage(t.data, w, h, 3 * w, QImage.Format.Format_RGB888)
            p.drawImage((side - w) // 2, (side - h) // 2, img)
            p.fillRect(0, side - 4, side, 4, colour)
        else:
            p.fillRect(side // 4, side // 4, side // 2, side // 2, colour)
        p.end()
        icon = QIcon(pix)
        self._icons[id(it)] = (key, icon)
        return icon

    def set_thumbnail(self, row: int, thumb: Optional[np.ndarray]) -> None:
        if 0 <= row < len(self.items):
            self.items[row].thumbnail = thumb
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    # -- editing ----------------------------------------------------------------------------------
    def add(self, paths: Iterable[Path]) -> List[int]:
        new = self.model.new_paths(paths)
        return self.append([QueueItem(p) for p in new])

    def append(self, items: Sequence[QueueItem]) -> List[int]:
        if not items:
            return []
        first = len(self.items)
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        self.items.extend(items)
        self.endInsertRows()
        return list(range(first, first + len(items)))

    def remove(self, rows: Sequence[int]) -> List[QueueItem]:
        """Take rows out (highest first, so each removal is one ``rowsRemoved`` for the views)."""
        removed = []
        for r in sorted({r for r in rows if 0 <= r < len(self.items)}, reverse=True):
            self.beginRemoveRows(QModelIndex(), r, r)
            removed.extend(self.model.remove([r]))
            self.endRemoveRows()
        for it in removed:
            self._icons.pop(id(it), None)
        return removed[::-1]

    def set_state(self, row: int, state: str, reason: str = "", prediction: Any = None, source: Any = None) -> None:
        it = self.items[row]
        it.state = state
        it.reason = reason
        if prediction is not None:
            it.prediction = prediction
        if source is not None:
            it.source = source
        idx = self.index(row)
        self.dataChanged.emit(idx, idx)

    def rows_in(self, state: str) -> List[int]:
        return self.model.rows_in(state)

    def counts(self) -> dict:
        return self.model.counts()


class ColorizeController(QObject):
    """The app's logic: model, queue, current image, temperature. Views only call in and listen."""

    preview_changed = Signal(object)  # uint8 (h, w, 3) numpy array, or None
    current_changed = Signal(int)
    running_changed = Signal()  # read .running (no bool argument: PySide6 6.12.0 corrupts bool refcounts)
    status_changed = Signal(str)  # the provider line (or why there is no model)
    message = Signal(str)  # transient status-bar messages
    temperature_changed = Signal(float)
    distribution_changed = Signal(object)  # dict from distribution_info(), or None
    failed = Signal(str, str)  # an unexpected error in a worker: message, traceback
    queue_progress = Signal(int, int)  # finished (done + error), total
    exported = Signal(object)  # [(row, output path or None, reason)] when an export finished
    colourfulness_changed = Signal(float)  # Hasler–Süsstrunk M of the shown preview (NaN: no image)

    def __init__(self, colorizer=None, parent: Optional[QObject] = None, max_pixels: Optional[int] = None,
                 keep: int = KEEP_PREDICTIONS) -> None:
        super().__init__(parent)
        self.queue = ImageQueueModel(self, keep)  # keep: predictions held in memory (tens of MB each)
        # one lane (thread) per kind of work: the queue, exact renders (seconds on big images), exports
        self.tasks = Tasks(self)
        if not preview_table_ready():
            self.tasks.start("table", prepare_live_preview, lane=RENDER)
        self.exporter = ExportController(self, self.tasks)  # exports run on their own lane
        self.exporter.exported.connect(self.exported)
        self.colorizer = None
        self.model_error: Optional[str] = None
        self.provider: Optional[str] = None
        self.current: int = -1
        self.preview_max_pixels = max_pixels
        self._cancel_requested = False
        self._run_completed = False
        self.pinned: Optional[Tuple[float, float]] = None
        self.hover: Optional[Tuple[float, float]] = None
        self.start_T: Optional[float] = None  # T new images start at; None: the model's default
        self._job_items: dict = {}  # a run's job row -> its QueueItem (rows move when others are removed)
        self._restart_after_cancel = False
        self.session_file: Optional[Path] = None  # where the session is saved (None: not saved)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_session)
        if colorizer is not None:
            self.set_colorizer(colorizer)

    # -- model ------------------------------------------------------------------------------------
    def set_colorizer(self, colorizer) -> None:
        self.colorizer = colorizer
        self.model_error = None
        self.status_changed.emit(self.status)

    def load_model(self, model=None, provider: Optional[str] = None) -> bool:
        """Open a model (None: the default); on failure remember the reason and stay usable."""
        from ...runtime.colorizer import Colorizer

        self.provider = provider
        try:
            self.set_colorizer(Colorizer(model, provider=provider))
            return True
        except PolychromeError as exc:
            self.colorizer = None
            self.model_error = str(exc)
            self.status_changed.emit(self.status)
            return False

    def available_models(self):
        """Usable models from runtime.registry (name, path), for a model menu."""
        from ...runtime.registry import list_models

        return [(e.name, e.path) for e in list_models() if e.ok]

    @property
    def model_path(self) -> Optional[Path]:
        if self.colorizer is None:
            return None
        p = getattr(self.colorizer.session, "path", None) or self.colorizer.manifest.path
        return Path(p) if p else None

    def switch_model(self, model) -> bool:
        """Use another model: cached predictions belong to the old one, so finished images are queued again."""
        if self.running:
            self.message.emit("Cancel the running queue before switching models")
            return False
        from ...runtime.colorizer import Colorizer

        try:
            colorizer = Colorizer(model, provider=self.provider)
        except PolychromeError as exc:  # keep the model we have
            self.message.emit(f"Could not open the model: {exc}")
            return False
        self.tasks.discard(EXACT)
        self.tasks.runner(RENDER).shutdown()
        self.set_colorizer(colorizer)
        for row, it in enumerate(self.queue.items):
            if it.state == DONE:
                it.forget_result()
                self.queue.set_state(row, QUEUED)
        self.queue.model.forget_recent()
        self.set_current(self.current)
        self.start()
        return True

    @property
    def status(self) -> str:
        if self.colorizer is None:
            return self.model_error or "No model loaded"
        session = getattr(self.colorizer, "session", None)
        sha = f" · sha256 {session.short_sha}" if session is not None and hasattr(session, "short_sha") else ""
        return f"{self.colorizer.manifest.name}{sha} · {self.colorizer.status}"

    @property
    def default_T(self) -> float:
        return float(self.colorizer.default_T) if self.colorizer is not None else DEFAULT_T

    # -- queue ------------------------------------------------------------------------------------
    def add_paths(self, paths: Sequence[str], start: bool = True) -> Tuple[List[int], List[str]]:
        """Add files, folders and globs. A file already in the queue is selected instead (opening it again means
        "show me that one"); a named file that does not exist becomes an error row that says so, so the user sees
        it until they remove it. Returns (new rows, problems)."""
        files, problems = expand_inputs([str(p) for p in paths])
        known = [r for r in (self.queue.model.row_of(f) for f in files) if r >= 0]
        rows = self.queue.add(files)
        missing = [Path(str(p)).expanduser() for p in paths if self._is_missing_file(str(p))]
        missing = [m for m in missing if self.queue.model.row_of(m) < 0]
        if missing:  # listed (red, with the reason) but not selected: the first result is what the user wants to see
            rows += self.queue.append([QueueItem(m, ERROR, "file not found") for m in missing])
            for m in missing:
                self.message.emit(f"{m}: file not found")
        named = {f"{m}: file not found" for m in missing}
        for p in problems:
            if p not in named:
                self.message.emit(p)
        if known and not rows:
            self.set_current(known[-1])
            if len(known) == 1:
                self.message.emit(f"{self.queue.items[known[-1]].path.name} is already in the queue")
        if rows:
            self.session_changed()
        if start and rows:
            self.start()
        return rows, problems

    @staticmethod
    def _is_missing_file(raw: str) -> bool:
        return not any(ch in raw for ch in "*?[") and not Path(raw).expanduser().exists()

    # -- managing the queue -----------------------------------------------------------------------
    def remove_rows(self, rows: Sequence[int]) -> int:
        """Take images out of the queue (their results, T and extras go with them). A running queue goes on
        with the rest: if a removed image is being colorized or waiting, the run is cancelled and restarted."""
        rows = sorted({r for r in rows if 0 <= r < len(self.queue.items)})
        if not rows:
            return 0
        current_item = self.current_item
        pending = any(self.queue.items[r].state in (QUEUED, RUNNING) for r in rows)
        if self.running and pending:
            self._restart_after_cancel = True
            self.tasks.cancel(QUEUE)
        removed = self.queue.remove(rows)
        for it in removed:
            it.prediction = None
        if current_item is not None and current_item in removed:
            n = len(self.queue.items)
            self.set_current(min(rows[0], n - 1) if n else -1)
        elif current_item is not None:
            self.current = self._row_of_item(current_item)
            self.current_changed.emit(self.current)
        c = self.queue.counts()
        self.queue_progress.emit(c[DONE] + c[ERROR], len(self.queue.items))
        self.message.emit(f"Removed {len(removed)} image(s) from the queue")
        self.session_changed()
        return len(removed)

    def retry_rows(self, rows: Sequence[int]) -> int:
        """Queue failed images again (a file that was missing may be back)."""
        rows = [r for r in rows if 0 <= r < len(self.queue.items) and self.queue.items[r].state == ERROR]
        for r in rows:
            self.queue.set_state(r, QUEUED)
        if rows:
            self.start()
        return len(rows)

    def clear_finished(self) -> int:
        """Remove the images that are done or failed."""
        return self.remove_rows([r for r, it in enumerate(self.queue.items) if it.finished])

    def clear(self) -> int:
        """Remove every image."""
        return self.remove_rows(range(len(self.queue.items)))

    def _row_of_item(self, item: QueueItem) -> int:
        return next((i for i, it in enumerate(self.queue.items) if it is item), -1)

    # -- the session ------------------------------------------------------------------------------
    def enable_session(self, path: Optional[Path] = None) -> Path:
        """Save the session (queue, each image's T and extras, the current image) to ``path`` (default:
        :func:`~.session.session_path`) after each change and at :meth:`shutdown`."""
        self.session_file = Path(path) if path is not None else sessions.session_path()
        return self.session_file

    def session_changed(self) -> None:
        """Something worth keeping changed (the queue, a T, an item's extras): save soon (debounced)."""
        if self.session_file is not None:
            self._save_timer.start()

    def save_session(self) -> Optional[Path]:
        self._save_timer.stop()
        if self.session_file is None:
            return None
        try:
            return sessions.save(sessions.from_items(self.queue.items, self.current), self.session_file)
        except (OSError, PolychromeError) as exc:
            log.warning("the session could not be saved: %s", exc)
            self.message.emit(f"The session could not be saved: {exc}")
            return None

    def restore_session(self, session: sessions.Session, start: bool = True) -> List[int]:
        """Put a saved session back: each image with its T and extras, queued again (colorized anew); a file
        that is gone becomes an error row naming the reason."""
        items = []
        for e in session.entries:
            if self.queue.model.row_of(e.path) >= 0:
                continue
            exists = e.path.is_file()
            items.append(QueueItem(e.path, QUEUED if exists else ERROR, "" if exists else "file not found",
                                   T=e.T, extras=dict(e.extras)))
        rows = self.queue.append(items)
        if rows and 0 <= session.current < len(rows):
            self.set_current(rows[session.current])
        elif rows and self.current < 0:
            self.set_current(rows[0])
        if start and rows:
            self.start()
        return rows

    @property
    def runner(self):
        """The queue's TaskRunner (its thread)."""
        return self.tasks.runner(QUEUE)

    @property
    def running(self) -> bool:
        return self.tasks.running(QUEUE)

    def start(self) -> bool:
        """Colorize every queued image (one worker, files one by one)."""
        if self.running:
            return False
        if self.colorizer is None:
            self.message.emit(self.status)
            return False
        rows = self.queue.rows_in(QUEUED)
        if not rows:
            return False
        self._cancel_requested = False
        jobs = [QueueJob(r, self.queue.items[r].path) for r in rows]
        self._job_items = {r: self.queue.items[r] for r in rows}
        self._run_completed = False
        self._restart_after_cancel = False
        self.tasks.start(QUEUE, colorize_queue, self.colorizer, jobs, on_yielded=self._on_update,
                         on_error=self._on_worker_error, on_returned=self._on_result, on_finished=self._on_finished)
        self.running_changed.emit()
        return True

    def cancel(self) -> None:
        self._cancel_requested = True
        self.tasks.cancel(QUEUE)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel and join every worker (the window is closing)."""
        self._cancel_requested = True
        was_running = self.running
        ok = self.tasks.shutdown(timeout_ms)
        for r in self.queue.rows_in(RUNNING):
            self.queue.set_state(r, QUEUED, "cancelled")
        if was_running and not self.running:
            self.running_changed.emit()
        if self.session_file is not None:
            self.save_session()
        return ok

    def _on_update(self, u: QueueUpdate) -> None:
        item = self._job_items.get(u.row)
        row, state = (self._row_of_item(item) if item is not None else -1), u.state
        if row < 0:  # removed from the queue meanwhile
            return
        self.queue.set_state(row, state, u.reason, u.prediction, u.source)
        if state == DONE and u.prediction is not None:
            self.queue.set_thumbnail(row, thumbnail_from_prediction(u.prediction, self.T_of(item)))
        c = self.queue.counts()
        self.queue_progress.emit(c[DONE] + c[ERROR], len(self.queue.items))
        if state == DONE:
            self.message.emit(f"{c[DONE]} done, {c[ERROR]} failed, {c[QUEUED] + c[RUNNING]} to go")
            self._touch(row)
            if self.current < 0 or row == self.current:
                self.set_current(row)

    def _touch(self, row: int) -> None:
        """Mark a row's prediction as just used; the least recently used beyond ``keep`` are dropped."""
        self.queue.model.touch(row, self.current)

    @property
    def keep(self) -> int:
        return self.queue.model.keep

    @property
    def held_predictions(self) -> int:
        return self.queue.model.held_predictions

    def _on_result(self, _finished) -> None:
        self._run_completed = True

    def _on_worker_error(self, message: str, tb: str) -> None:
        log.error("colorizing stopped: %s\n%s", message, tb)
        self.message.emit(f"Colorizing stopped: {message}")
        self.failed.emit(message, tb)

    def _on_finished(self) -> None:
        restart = self._restart_after_cancel and not self._cancel_requested
        self._restart_after_cancel = False
        for r in self.queue.rows_in(RUNNING):
            self.queue.set_state(r, QUEUED, "" if restart else "cancelled")
        self.running_changed.emit()
        if (restart or (self._run_completed and not self._cancel_requested)) and self.queue.rows_in(QUEUED):
            self.start()  # files added while the last run was going (never after a failure: no retry loop)

    # -- export -------------------------------------------------------------------------------------
    def export(self, rows: Optional[Sequence[int]] = None, out_dir: Optional[str] = None,
               **options: Any) -> Optional[Worker]:
        """Write finished images (default: all) at their own T: see
        :meth:`polychrome.gui.export.controller.ExportController.export`."""
        return self.exporter.export(rows, out_dir, **options)

    # -- current image and temperature -----------------------------------------------------------
    @property
    def current_item(self) -> Optional[QueueItem]:
        if 0 <= self.current < len(self.queue.items):
            return self.queue.items[self.current]
        return None

    @property
    def prediction(self):
        it = self.current_item
        return it.prediction if it is not None else None

    def T_of(self, item: Optional[QueueItem]) -> float:  # noqa: N802
        """An image's T: its own once set, else the start T from the settings, else the model's default."""
        if item is not None and item.T is not None:
            return float(item.T)
        if self.start_T is not None:
            return clamp_T(self.start_T)
        return self.default_T

    @property
    def T(self) -> float:
        return self.T_of(self.current_item)

    def set_current(self, row: int) -> None:
        self.current = row if 0 <= row < len(self.queue.items) else -1
        self.pinned = None
        it = self.current_item
        if it is not None:
            if it.prediction is not None:
                self._touch(self.current)
            elif it.state == DONE:  # its prediction was dropped to save memory: colorize it again
                self.queue.set_state(self.current, QUEUED)
                self.start()
        self.current_changed.emit(self.current)
        self.temperature_changed.emit(self.T)
        self.render(exact=True)

    def step_current(self, delta: int) -> None:
        """Select the next (``delta`` > 0) or previous image of the queue."""
        n = len(self.queue.items)
        if n:
            self.set_current(min(n - 1, max(0, (self.current if self.current >= 0 else -1) + delta)))

    def drag_T(self, T: float) -> None:  # noqa: N802
        """A T while the slider is dragged: coalesced, so only the newest T is decoded once the event loop is
        free (a fast drag never queues stale renders); the fast preview only."""
        self.tasks.later(DRAG, lambda: self.set_T(T, exact=False))

    def set_T(self, T: float, exact: bool = False) -> None:  # noqa: N802
        """A new T for the current image: re-decode the cached logits (no inference)."""
        self.tasks.drop(DRAG)  # a drag's pending T is older than this one
        T = clamp_T(T)
        it = self.current_item
        changed = it is not None and it.T != T
        if it is not None:
            it.T = T
        if changed:
            self.temperature_changed.emit(T)  # keeps every view of T (the slider) in step with the controller
            if exact:
                self.session_changed()
        self.render(exact=exact)

    def nudge_T(self, steps: int) -> None:  # noqa: N802
        """A keyboard step of T: ``steps`` × 0.02 (negative: toward the most likely colour), rendered exactly."""
        self.set_T(self.T + T_STEP * steps, exact=True)

    def placeholder_text(self) -> str:
        """What the view shows instead of the current image while it has no result ("" when it has one)."""
        it = self.current_item
        if it is None or it.prediction is not None:
            return ""
        what = f"could not be colorized: {it.reason}" if it.reason else f"is {it.state}"
        return f"{it.path.name} {what}"

    def no_model_text(self) -> str:
        return f"{self.status}\n\nYou can still browse the queue; colorizing needs a model."

    def preview(self, exact: bool = False) -> Optional[np.ndarray]:
        pred = self.prediction
        if pred is None:
            return None
        kw = {"max_pixels": self.preview_max_pixels} if self.preview_max_pixels else {}
        # In the first second after start the fast path's table may still be building on its worker: the exact
        # merge (tens of ms at 2 MP) shows the first image at once instead of waiting for the table.
        return pred.preview(self.T, exact=exact or not preview_table_ready(), **kw)

    def render(self, exact: bool = False) -> None:
        """Show the current image at the current T: the fast preview now; with ``exact`` the exact preview follows
        from a worker (it replaces the fast one only if the image and T are still the same: any newer render
        supersedes it)."""
        self.tasks.discard(EXACT)
        fast = self.preview(False)
        self.preview_changed.emit(fast)
        self._measure(fast)
        self.distribution_changed.emit(self.distribution_info())
        if exact and fast is not None:
            self._start_exact()

    @property
    def exact_pending(self) -> bool:
        return self.tasks.runner(RENDER).busy

    def _start_exact(self) -> None:
        self.tasks.start(EXACT, render_exact, self.prediction, self.T, self.preview_max_pixels, lane=RENDER,
                         on_returned=self._on_exact)

    def _on_exact(self, rgb: Optional[np.ndarray]) -> None:
        if rgb is not None:
            self.preview_changed.emit(rgb)
            self._measure(rgb)
            if self.current >= 0:  # the thumbnail follows the image's T
                self.queue.set_thumbnail(self.current, thumbnail_from_rgb(rgb))

    def _measure(self, rgb: Optional[np.ndarray]) -> None:
        """The shown preview's colourfulness (Hasler–Süsstrunk M) on a strided subsample: well under a ms."""
        if rgb is None:
            self.colourfulness_changed.emit(float("nan"))
            return
        h, w = rgb.shape[:2]
        step = max(1, int((h * w / COLOURFULNESS_PIXELS) ** 0.5))
        self.colourfulness_changed.emit(float(colorfulness(rgb[::step, ::step])))

    # -- preferences ---------------------------------------------------------------------------------
    def apply_preferences(self, model: Optional[str], provider: Optional[str],
                          start_T: Optional[float]) -> None:  # noqa: N803
        """The preferences dialog was accepted: a new model or provider opens the model again; a new start T
        re-shows the current image (an untouched image starts at it)."""
        self.start_T = start_T
        provider_changed = (provider or None) != (self.provider or None)
        current = str(self.model_path) if self.model_path else None
        if provider_changed or (model and model != current):
            self.provider = provider or None
            self.switch_model(model or current)
        else:
            self.set_current(self.current)

    # -- view coordinates ------------------------------------------------------------------------------
    def view_to_image(self, y: float, x: float, shown: Optional[Tuple[int, int]]) -> Optional[Tuple[float, float]]:
        """(y, x) of a view showing the current image at size ``shown`` -> full-resolution (y, x); None without one."""
        pred = self.prediction
        if pred is None or shown is None:
            return None
        H, W = pred.shape
        h, w = shown
        return y * H / h, x * W / w

    def hover_in_view(self, y: Optional[float], x: Optional[float], shown: Optional[Tuple[int, int]]) -> None:
        """The cursor at (y, x) of a view showing the image at size ``shown`` (None: it left the image)."""
        yx = None if y is None else self.view_to_image(y, x, shown)
        self.set_hover(*(yx if yx else (None, None)))

    def click_in_view(self, y: float, x: float, shown: Optional[Tuple[int, int]]) -> None:
        """A click at (y, x) of a view: pins that pixel's distribution, or unpins on a second click."""
        yx = self.view_to_image(y, x, shown)
        if yx is None:
            return
        if self.pinned is not None:
            self.pin(None, None)
        else:
            self.pin(*yx)

    def pin_in_view(self, shown: Optional[Tuple[int, int]]) -> Optional[Tuple[float, float]]:
        """The pinned pixel in the coordinates of a view showing the image at size ``shown``, or None."""
        pred, pin = self.prediction, self.pinned
        if pred is None or shown is None or pin is None:
            return None
        H, W = pred.shape
        h, w = shown
        return pin[0] * h / H, pin[1] * w / W

    # -- per-pixel distribution -------------------------------------------------------------------
    def set_hover(self, y: Optional[float], x: Optional[float]) -> None:
        """Image coordinates (full resolution) under the cursor; ignored while a pixel is pinned."""
        self.hover = None if y is None else (float(y), float(x))
        if self.pinned is None:
            self.distribution_changed.emit(self.distribution_info())

    def pin(self, y: Optional[float], x: Optional[float]) -> None:
        self.pinned = None if y is None else (float(y), float(x))
        self.distribution_changed.emit(self.distribution_info())

    def distribution_info(self, y: Optional[float] = None, x: Optional[float] = None) -> Optional[dict]:
        """Bin probabilities at the current T for a pixel (the pinned one, else the hovered one)."""
        pred = self.prediction
        if pred is None:
            return None
        if y is None:
            where = self.pinned or self.hover
            if where is None:
                return None
            y, x = where
        H, W = pred.shape
        if not (0 <= y < H and 0 <= x < W):
            return None
        T = self.T
        p = pred.distribution_at(y, x, T)
        centers = pred.manifest.bins.centers
        mean = (p[:, None] * centers).sum(0) / max(float(p.sum()), 1e-12)
        mode = int(np.argmax(p))
        return {"y": y, "x": x, "T": T, "probabilities": p, "centers": centers, "mean": mean,
                "mode": centers[mode], "mode_index": mode, "pinned": self.pinned is not None}
