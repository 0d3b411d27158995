"""The hint tool's controller: colour points and a reference photo for the current image of the queue.

Each image keeps a :class:`~.model.HintsModel` (its points with their undo history, its reference and strength);
the points' JSON travels on the queue item (``item.extras["hints"]``: saved with the session, written beside an
export). A change of the points re-runs the network on the image's cached L* with the new hint map on a worker
(:func:`polychrome.runtime.steer.with_points`; the latest change wins) and puts the result on the queue item, so the
preview, the T slider, the distribution dock and the export all see the steered prediction; a reference photo or its
strength only biases the cached logits (:func:`polychrome.runtime.steer.with_reference`): no inference.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ...core.decode import softmax_t
from ...core.errors import PolychromeError, user_message
from ...core.hintsfile import HintsFile, load_hints, parse_hints
from ...core.progress import CancelToken, Progress
from ...core.reference import Reference
from ...runtime import steer
from ..workers import Tasks
from .model import EXTRAS_KEY, HintsModel, Point, lightness_at, nearest_in_gamut, suggestions

log = logging.getLogger(__name__)

POINTS, REFERENCE = "hint-points", "hint-reference"  # task keys (and lanes)


def _hinted_job(progress: Progress, cancel: CancelToken, colorizer: Any, prediction: Any,
                file: HintsFile) -> Any:
    return steer.with_points(colorizer, prediction, file.points, progress)


def _reference_job(progress: Progress, cancel: CancelToken, colorizer: Any, path: str,
                   prediction: Any) -> Tuple[Reference, np.ndarray]:
    rgb = steer.read_reference(path)
    progress.check()
    ref = steer.reference_for(colorizer, rgb, prediction)
    return ref, rgb


class _Step(QUndoCommand):
    """One step of a HintsModel's own history, on a QUndoStack so Edit ▸ Undo / Redo drive it. The edit is done
    when the step is pushed; undo / redo replay the model's history."""

    def __init__(self, controller: HintsController, model: HintsModel, text: str) -> None:
        super().__init__(text)
        self.c, self.m, self.pushed = controller, model, False

    def redo(self) -> None:
        if not self.pushed:
            self.pushed = True
            return
        if self.m.redo():
            self.c._after_history(self.m)

    def undo(self) -> None:
        if self.m.undo():
            self.c._after_history(self.m)


class HintsController(QObject):
    """Points and reference of the current image; views call in and listen."""

    changed = Signal()  # points, selection, visibility, undo state: redraw
    availability_changed = Signal()  # read .points_enabled / .points_reason
    selection_changed = Signal(object)  # dict(L, a, b, size, suggestions=[(a, b, p)]) of the selected point, or None
    reference_changed = Signal()  # the reference (path, thumbnail) or its strength
    busy_changed = Signal()
    message = Signal(str)
    latency_measured = Signal(float)  # ms from the committed change to the repainted preview

    def __init__(self, queue_controller: Any, parent: Optional[QObject] = None) -> None:
        super().__init__(parent if parent is not None else queue_controller)
        self.qc = queue_controller
        self.tasks = Tasks(self)
        self.active = False  # the point tool is on (clicks place points instead of pinning)
        self._models: Dict[int, Tuple[Any, HintsModel]] = {}  # id(queue item) -> (item, model)
        self._empty = HintsModel()
        self._point_logits: Dict[Tuple[int, int, int], np.ndarray] = {}  # the distribution a point was placed on
        self._references: Dict[Tuple[str, int], Tuple[Reference, np.ndarray]] = {}
        self.reference_rgb: Optional[np.ndarray] = None  # the current reference's pixels (the eyedropper shows it)
        self._t0: Optional[float] = None
        self.last_latency_ms: Optional[float] = None
        self.inference_runs = 0
        self.stack_registrar: Optional[Any] = None  # window.register_undo_stack, to plug into Edit ▸ Undo
        self._stacks: Dict[int, QUndoStack] = {}
        self._commands: List[QUndoCommand] = []
        queue_controller.current_changed.connect(lambda _row: self.sync())
        queue_controller.status_changed.connect(lambda _s: self._on_model())
        queue_controller.temperature_changed.connect(lambda _T: self._emit_selection())

    # -- state -------------------------------------------------------------------------------------
    @property
    def item(self) -> Any:
        return self.qc.current_item

    @property
    def prediction(self) -> Any:
        it = self.item
        return it.prediction if it is not None else None

    @property
    def colorizer(self) -> Any:
        return self.qc.colorizer

    @property
    def model(self) -> HintsModel:
        """The current image's hints (an empty, detached model when there is no image)."""
        it = self.item
        return self._empty if it is None else self.model_of(it)

    def model_of(self, it: Any) -> HintsModel:
        """A queue item's hints, made from its extras on first use (points wait for the image's size: their
        radii in source pixels become patch sizes with the model's scale)."""
        entry = self._models.get(id(it))
        if entry is None or entry[0] is not it:
            m = HintsModel()
            m.pending = (it.extras.get(EXTRAS_KEY) if hasattr(it, "extras") else None) or None
            entry = self._models[id(it)] = (it, m)
        m = entry[1]
        pred = it.prediction
        if pred is not None and self.colorizer is not None and m.image_shape != pred.shape:
            m.image_shape = pred.shape
            m.scale = steer.point_scale(self.colorizer, pred.shape)
        if m.pending is not None and m.image_shape is not None:
            data, m.pending = m.pending, None
            try:
                m.load_file(parse_hints(data, Path(it.path).with_name(Path(it.path).stem + ".hints.json")),
                            undoable=False)
            except PolychromeError as exc:
                self.message.emit(f"{Path(it.path).name}: its saved hints were ignored: {exc}")
        return m

    @property
    def points_enabled(self) -> bool:
        return self.colorizer is not None and bool(self.colorizer.takes_hints)

    @property
    def points_reason(self) -> str:
        """Why the point tool is off ("" when it is on)."""
        c = self.colorizer
        if c is None:
            return "No model is loaded."
        if not c.takes_hints:
            return (f"The model “{c.manifest.name}” has no colour-hint inputs, so it cannot take colour points. "
                    "Choose a hint-taking model (Model menu). A reference photo works with every model.")
        return ""

    @property
    def busy(self) -> bool:
        return self.tasks.running(POINTS) or self.tasks.running(REFERENCE)

    def set_active(self, on: bool) -> None:
        self.active = bool(on) and self.points_enabled
        self.changed.emit()

    def _on_model(self) -> None:
        self._references.clear()
        if not self.points_enabled:
            self.active = False
        self.availability_changed.emit()
        self.sync()

    # -- the current image ---------------------------------------------------------------------------
    def sync(self) -> None:
        """The current image changed (or got its prediction): a fresh queue result gets its hints applied."""
        m = self.model
        pred = self.prediction
        if pred is not None and getattr(pred, "steered", None) is None and (m.points or m.reference):
            self._apply(pred)
        self.reference_rgb = self._cached_reference_rgb(m.reference)
        if m.reference and self.reference_rgb is None and pred is not None and getattr(pred, "steered", None):
            self._load_reference(m.reference, self._unsteered(pred))
        self._activate_stack()
        self.changed.emit()
        self.reference_changed.emit()
        self._emit_selection()

    def _save(self) -> None:
        it = self.item
        if it is None or not hasattr(it, "extras"):
            return
        data = self.model.to_extras()
        if data == it.extras.get(EXTRAS_KEY):
            return
        if data is None:
            it.extras.pop(EXTRAS_KEY, None)
        else:
            it.extras[EXTRAS_KEY] = data
        saved = getattr(self.qc, "session_changed", None)  # the session (queue, T, extras) is saved, debounced
        if callable(saved):
            saved()

    def _unsteered(self, pred: Any) -> Any:
        """The network's output the current steering was built on (the hinted, unbiased prediction)."""
        return getattr(pred, "steered_from", None) or pred

    def _apply(self, pred: Optional[Any] = None) -> None:
        """Bring the current image's prediction in line with its points and reference: a new inference when the
        points changed, else only the reference's bias."""
        it, m = self.item, self.model
        pred = pred if pred is not None else self.prediction
        if it is None or pred is None or self.colorizer is None:
            return
        hinted = self._unsteered(pred)
        if m.points and not self.points_enabled:
            self.message.emit(self.points_reason)
        need_points = self.points_enabled and getattr(hinted, "hints_version", None) != self._points_key(m)
        if need_points and (m.points or getattr(hinted, "hints_version", None) is not None):
            self._run_points(hinted)
            return
        self._finish(hinted)

    def _points_key(self, m: HintsModel) -> Tuple[Point, ...]:
        return tuple(m.points)

    def _run_points(self, source: Any) -> None:
        m = self.model
        file = m.to_file()
        key = self._points_key(m)
        it = self.item
        self.inference_runs += 1
        self.tasks.start(POINTS, _hinted_job, self.colorizer, source, file, lane=POINTS,
                         on_returned=lambda hinted, it=it, key=key: self._on_hinted(it, key, hinted),
                         on_error=self._on_error, on_finished=self.busy_changed.emit)
        self.busy_changed.emit()

    def _on_hinted(self, it: Any, key: Tuple[Point, ...], hinted: Any) -> None:
        hinted.hints_version = key
        if it is not self.item:  # the user went on to another image: keep the result on its item
            self._finish(hinted, it, render=False)
            return
        self._finish(hinted)

    def _finish(self, hinted: Any, it: Optional[Any] = None, render: bool = True) -> None:
        """Apply the reference (if any) to the hinted prediction and put the result on the item."""
        it = it if it is not None else self.item
        m = self.model_of(it)
        ref = self._reference_now(m.reference, hinted)
        if m.reference and ref is None:
            self._load_reference(m.reference, hinted)
        final = steer.with_reference(hinted, ref, m.strength) if ref is not None else hinted
        if final is hinted:
            final = steer.with_decoder(hinted, hinted.decoder)  # a marked copy: this one is ours
        final.steered = True
        final.steered_from = hinted
        it.prediction = final
        if render and it is self.item:
            self.qc.render(exact=True)
            steer.share_preview_cache(final)
            if self._t0 is not None:
                self.last_latency_ms = (time.perf_counter() - self._t0) * 1000.0
                self._t0 = None
                self.latency_measured.emit(self.last_latency_ms)
            self._emit_selection()

    def _on_error(self, message: str, _tb: str) -> None:
        self.message.emit(f"Colour points could not be applied: {message}")

    # -- points ----------------------------------------------------------------------------------------
    def _commit(self) -> None:
        """The points changed: save them on the item, redraw, and re-run the network (latest change wins)."""
        self._t0 = time.perf_counter()
        self._save()
        self.changed.emit()
        self._apply()
        self._emit_selection()

    def _cell_logits(self, y: float, x: float) -> Optional[np.ndarray]:
        pred = self.prediction
        if pred is None:
            return None
        cy, cx = pred.cell_of(y, x)
        return np.array(self._unsteered(pred).decoder.z[cy, cx])

    def _logits_key(self, p: Point) -> Tuple[int, int, int]:
        return (id(self.model), int(round(p.y)), int(round(p.x)))

    def add_point(self, y: float, x: float) -> Optional[int]:
        """Place a point at full-resolution (y, x), coloured as the result is there now (at the current T)."""
        if not self.points_enabled:
            self.message.emit(self.points_reason)
            return None
        pred = self.prediction
        if pred is None:
            return None
        H, W = pred.shape
        if not (0 <= y < H and 0 <= x < W):
            return None
        z = self._cell_logits(y, x)
        p = softmax_t(z, self.qc.T)
        c = pred.manifest.bins.centers
        a, b = (p[:, None] * c).sum(0) / max(float(p.sum()), 1e-12)
        L = lightness_at(pred.L, y, x)
        a, b = nearest_in_gamut(L, float(a), float(b))
        i = self.model.add(y, x, round(a, 1), round(b, 1))
        self._point_logits[self._logits_key(self.model.points[i])] = z
        self._record()
        self._commit()
        return i

    def select(self, index: Optional[int]) -> None:
        self.model.select(index)
        self.changed.emit()
        self._emit_selection()

    def remove_point(self, index: Optional[int] = None) -> bool:
        m = self.model
        index = m.selected if index is None else index
        if index is None or not m.remove(index):
            return False
        self._record()
        self._commit()
        return True

    def remove_selected(self) -> bool:
        return self.remove_point(None)

    def clear(self) -> bool:
        if not self.model.clear():
            return False
        self._record()
        self._commit()
        return True

    def set_color(self, a: float, b: float, index: Optional[int] = None) -> bool:
        m = self.model
        index = m.selected if index is None else index
        if index is None or not m.set_color(index, a, b):
            return False
        self._record()
        self._commit()
        return True

    def set_size(self, size: int, index: Optional[int] = None) -> bool:
        m = self.model
        index = m.selected if index is None else index
        if index is None or not m.set_size(index, size):
            self._emit_selection()
            return False
        self._record()
        self._commit()
        return True

    def step_size(self, index: int, steps: int) -> bool:
        m = self.model
        if not 0 <= index < len(m.points):
            return False
        m.select(index)
        return self.set_size(m.points[index].size + int(steps), index)

    def begin_drag(self, index: int) -> None:
        self.model.begin_drag(index)
        self.changed.emit()

    def drag_to(self, index: int, y: float, x: float) -> None:
        self.model.drag_to(index, y, x)
        self.changed.emit()

    def end_drag(self) -> bool:
        m = self.model
        if not m.end_drag():
            return False
        if m.selected is not None:
            p = m.points[m.selected]
            z = self._cell_logits(p.y, p.x)
            if z is not None:
                self._point_logits[self._logits_key(p)] = z
        self._record()
        self._commit()
        return True

    def stack(self, model: Optional[HintsModel] = None) -> Optional[QUndoStack]:
        """The Edit menu's undo stack of an image's hints (made and registered on first use; None without a
        registrar, e.g. in a bare controller)."""
        m = model if model is not None else self.model
        if self.stack_registrar is None or m is self._empty:
            return None
        st = self._stacks.get(id(m))
        if st is None:
            st = self._stacks[id(m)] = QUndoStack(self)
            self.stack_registrar(st, True)
        return st

    def _activate_stack(self) -> None:
        st = self.stack()
        if st is not None:
            st.setActive(True)

    def _record(self) -> None:
        """The model just took an undoable step: mirror it on the Edit menu's stack."""
        m = self.model
        st = self.stack(m)
        if st is not None:
            cmd = _Step(self, m, m.undo_text)
            self._commands.append(cmd)  # PySide: the Python side of a pushed command must stay referenced
            del self._commands[:-2000]
            st.push(cmd)

    def _after_history(self, m: HintsModel) -> None:
        if m is self.model:
            self._commit()

    def undo(self) -> bool:
        st = self.stack()
        if st is not None:
            if not st.canUndo():
                return False
            st.undo()
            return True
        if not self.model.undo():
            return False
        self._commit()
        return True

    def redo(self) -> bool:
        st = self.stack()
        if st is not None:
            if not st.canRedo():
                return False
            st.redo()
            return True
        if not self.model.redo():
            return False
        self._commit()
        return True

    def set_visible(self, visible: bool) -> None:
        self.model.visible = bool(visible)
        self.changed.emit()

    # -- files ------------------------------------------------------------------------------------------
    def load_file(self, path: str) -> bool:
        """File ▸ Load Hints…: the file's points (and reference) replace the current image's (one undo step)."""
        if self.item is None or self.prediction is None:
            self.message.emit("Select a colorized image first: hints belong to an image")
            return False
        try:
            f = load_hints(path)
        except PolychromeError as exc:
            self.message.emit(str(exc))
            return False
        H, W = self.prediction.shape
        bad = [p for p in f.points if not (p.x < W + 0.5 and p.y < H + 0.5)]
        if bad:
            self.message.emit(f"{path}: {len(bad)} point(s) lie outside this {W}×{H} image: not loaded")
            return False
        if f.points and not self.points_enabled:
            self.message.emit(f"{Path(path).name}: {self.points_reason}")
        self.model.load_file(f)
        self._record()
        self.reference_rgb = self._cached_reference_rgb(self.model.reference)
        self.reference_changed.emit()
        self._commit()
        self.message.emit(f"Loaded {len(f.points)} colour point(s) from {Path(path).name}")
        return True

    # -- suggestions ---------------------------------------------------------------------------------------
    def selection_info(self) -> Optional[Dict[str, Any]]:
        """The selected point: its lightness, colour, size and the network's suggestions at the current T."""
        m, pred = self.model, self.prediction
        if pred is None or m.selected is None or m.selected >= len(m.points):
            return None
        p = m.points[m.selected]
        z = self._point_logits.get(self._logits_key(p))
        if z is None:
            z = self._cell_logits(p.y, p.x)
        probs = softmax_t(z, self.qc.T)
        sugg = suggestions(probs, pred.manifest.bins.centers)
        return {"index": m.selected, "y": p.y, "x": p.x, "L": lightness_at(pred.L, p.y, p.x), "a": p.a, "b": p.b,
                "size": p.size, "suggestions": sugg, "T": self.qc.T}

    def _emit_selection(self) -> None:
        self.selection_changed.emit(self.selection_info())

    # -- reference ------------------------------------------------------------------------------------------
    def _ref_key(self, path: str) -> Tuple[str, int]:
        return (str(path), id(self.colorizer.session) if self.colorizer is not None else 0)

    def _cached_reference_rgb(self, path: Optional[str]) -> Optional[np.ndarray]:
        if not path:
            return None
        got = self._references.get(self._ref_key(path))
        return got[1] if got is not None else None

    def _reference_now(self, path: Optional[str], hinted: Any) -> Optional[Reference]:
        if not path or self.colorizer is None:
            return None
        got = self._references.get(self._ref_key(path))
        return got[0] if got is not None else None

    def _load_reference(self, path: str, prediction: Any) -> None:
        it = self.item

        def done(result: Tuple[Reference, np.ndarray]) -> None:
            self._references[self._ref_key(path)] = result
            if it is self.item and self.model.reference == path:
                self.reference_rgb = result[1]
                self.reference_changed.emit()
                self._apply()

        def failed(message: str, _tb: str) -> None:
            self.message.emit(f"The reference photo could not be used: {message}")
            if it is self.item and self.model.reference == path:
                self.model.reference = None
                self._save()
                self.reference_rgb = None
                self.reference_changed.emit()

        self.tasks.start(REFERENCE, _reference_job, self.colorizer, path, prediction, lane=REFERENCE,
                         on_returned=done, on_error=failed, on_finished=self.busy_changed.emit)
        self.busy_changed.emit()

    def set_reference(self, path: Optional[str]) -> None:
        """Choose (or with None, drop) the current image's reference photo; it is read on a worker."""
        m = self.model
        m.reference = str(path) if path else None
        self._save()
        self.reference_rgb = self._cached_reference_rgb(m.reference)
        self.reference_changed.emit()
        if self.prediction is not None:
            self._t0 = time.perf_counter()
            self._apply()

    def drag_strength(self, strength: float) -> None:
        """A strength while the slider is dragged: coalesced like T's drag (only the newest value is shown once the
        event loop is free)."""
        self.tasks.later("strength-drag", lambda: self.set_strength(strength, exact=False))

    def set_strength(self, strength: float, exact: bool = False) -> None:
        """The strength slider: re-bias the cached logits (no inference) and show the fast preview (``exact``: the
        exact one follows)."""
        self.tasks.drop("strength-drag")
        m = self.model
        m.strength = float(max(0.0, strength))
        if exact:  # while the slider is dragged the item's extras wait for its release
            self._save()
        pred = self.prediction
        if pred is None or not m.reference:
            self.reference_changed.emit()
            return
        hinted = self._unsteered(pred)
        ref = self._reference_now(m.reference, hinted)
        if ref is None:
            return
        final = steer.with_reference(hinted, ref, m.strength)
        if final is hinted:
            final = steer.with_decoder(hinted, hinted.decoder)
        final.steered, final.steered_from = True, hinted
        self.item.prediction = final
        self.qc.render(exact=exact)
        steer.share_preview_cache(final)
        if m.selected is not None:
            self._emit_selection()

    def eyedropper(self, rgb: np.ndarray, y: float, x: float) -> Optional[Tuple[float, float]]:
        """The mean ab of a 5×5 patch of a colour image at (y, x), given to the selected point (kept in gamut at
        the point's own lightness)."""
        from .model import patch_ab

        a, b = patch_ab(rgb, y, x)
        info = self.selection_info()
        if info is not None:
            a, b = nearest_in_gamut(info["L"], a, b)
            self.set_color(round(a, 1), round(b, 1))
        return a, b

    def shutdown(self) -> None:
        self.tasks.shutdown()

    # -- for the view -----------------------------------------------------------------------------------------
    def points_in_view(self, shown: Optional[Tuple[int, int]]) -> List[Tuple[float, float, int, Tuple[int, int, int],
                                                                             float]]:
        """(y, x, size in view px, sRGB, L*) of each point in the coordinates of a view showing the image at
        ``shown`` = (h, w)."""
        pred, m = self.prediction, self.model
        if pred is None or shown is None:
            return []
        from .model import swatch_rgb

        H, W = pred.shape
        h, w = shown
        out = []
        for p in m.points:
            L = lightness_at(pred.L, p.y, p.x)
            side = p.size / m.scale * (w / W) if m.scale > 0 else 1.0
            out.append((p.y * h / H, p.x * w / W, side, swatch_rgb(max(L, 35.0), p.a, p.b), L))
        return out

    def view_to_image(self, y: float, x: float, shown: Tuple[int, int]) -> Optional[Tuple[float, float]]:
        return self.qc.view_to_image(y, x, shown)

    @staticmethod
    def user_message(exc: BaseException) -> str:
        return user_message(exc)
