"""The Compare feature's logic: the result next to the gray input and (for a colour input) the ground truth, metrics
against the ground truth at the current T, the metric-vs-T curves and the entropy / ΔE2000 maps.

:class:`CompareController` follows a :class:`~polychrome.gui.queue.controller.ColorizeController` (its previews, current
image and T) and turns them into plain data for the views:

* ``views_changed(dict)`` — the images to show (see :meth:`CompareController.views`): the result (the controller's
  own preview), the gray input and the ground truth at the preview's size, and — when switched on with
  :meth:`CompareController.set_overlays` — the colour-mapped entropy map at T and the ΔE2000 error map, at the
  metric size (the views stretch them over the result);
* ``metrics_changed(dict)`` — PSNR, SSIM, AuC, ΔE2000 and colourfulness at the current T and for the gray input,
  from :func:`polychrome.core.metrics.compute_all` (see :meth:`CompareController.metrics_info`);
* ``curves_changed(dict)`` — every metric over a grid of T (see :meth:`CompareController.curves_info`).

Sizes. The metrics, the curves and both maps are computed at the **metric size**: the image scaled to at most
:data:`METRIC_PIXELS` (0.25 MP, never more than the preview) exactly as ``Prediction.preview(T, max_pixels=...,
exact=True)`` scales it, against the source pixels resized the same way (``cv2.INTER_AREA``, source dtype kept).
Computing all metrics there takes ~0.1–0.2 s, so a new T stays responsive.

Threads. Nothing heavy runs on the UI thread; every job goes through :class:`~polychrome.gui.workers.Tasks`, so the
latest task of each key wins. A new image's inputs (:class:`~.model.CompareData`: the resized ground truth, gray
input and lightness) are built on a worker (:func:`polychrome.runtime.jobs.call_function`, key ``prepare``); until
they arrive the views get the result alone. Metrics run on workers (:func:`polychrome.runtime.jobs.sweep_temperatures`):
requests are coalesced (:meth:`Tasks.later`: a slider drag queues no work, only the T where the drag rests or ends
is measured) and a newer T supersedes the measurement of an older one (key ``metrics``); the curves run on their
own worker once the current-T metrics are in (key ``curves``). Results are cached per prediction (dropped with it);
the curves of an image left are superseded (the points measured so far are kept, the rest is measured when the
image comes back); nothing of a superseded task is shown. :meth:`CompareController.set_measuring` switches the
metrics and curves off while nobody looks at them (e.g. the metrics dock is hidden). The entropy map is cheap
(decoding on the network's grid) and is made on the UI thread, only while its overlay is on.
"""

from __future__ import annotations

import functools
import logging
import weakref
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...runtime.colorizer import PREVIEW_PIXELS
from ...runtime.jobs import SweepPoint, call_function, sweep_temperatures
from ..workers import Tasks
from .model import (  # noqa: F401 - re-exported: the feature's public names
    CURVE_TEMPERATURES,
    DELTA_E_COLORMAP,
    DELTA_E_RANGE,
    ENTROPY_COLORMAP,
    ENTROPY_RANGE,
    LEGENDS,
    METRIC_KEYS,
    METRIC_PIXELS,
    OVERLAYS,
    CompareData,
    Stats,
    apply_colormap,
    colormap_lut,
    format_metric,
    has_ground_truth,
    resize_area,
)

log = logging.getLogger(__name__)

COALESCE_MS = 50  # T changes closer together than this are measured once
PREPARE, METRICS, CURVES = "prepare", "metrics", "curves"  # task keys (each on its own thread)


# -- the controller ---------------------------------------------------------------------------------------


class CompareController(QObject):
    """Comparison views, metrics and curves for the current image of a ColorizeController. Views only listen."""

    views_changed = Signal(object)  # dict from views()
    metrics_changed = Signal(object)  # dict from metrics_info()
    curves_changed = Signal(object)  # dict from curves_info()

    def __init__(self, source: Any, parent: Optional[QObject] = None, metric_pixels: int = METRIC_PIXELS,
                 temperatures: Sequence[float] = CURVE_TEMPERATURES, coalesce_ms: int = COALESCE_MS) -> None:
        super().__init__(parent if parent is not None else source)
        self.source = source
        self.metric_pixels = int(metric_pixels)
        self.temperatures: Tuple[float, ...] = tuple(sorted(float(t) for t in temperatures))
        self.data: Optional[CompareData] = None
        self.result: Optional[np.ndarray] = None  # the controller's latest preview
        self.overlays: Dict[str, bool] = {name: False for name in OVERLAYS}
        self.measuring = True  # metrics and curves wanted (e.g. while the metrics panel is visible)
        self._stats: weakref.WeakKeyDictionary[Any, Stats] = weakref.WeakKeyDictionary()
        self._entropy: Optional[Tuple[float, np.ndarray]] = None  # (T, colour-mapped) for the current data
        self._delta_e: Optional[Tuple[float, np.ndarray]] = None  # (T, colour-mapped)
        self.coalesce_ms = int(coalesce_ms)
        self.tasks = Tasks(self)  # latest task per key wins: PREPARE, METRICS, CURVES
        source.preview_changed.connect(self._on_preview)
        source.current_changed.connect(self._on_current)
        if source.prediction is not None:
            self._on_preview(source.preview())

    # -- state ------------------------------------------------------------------------------------
    @property
    def prediction(self) -> Any:
        return self.data.prediction if self.data is not None else None

    @property
    def has_truth(self) -> bool:
        """Whether the current image's input was in colour (so it is its own ground truth)."""
        return self.data is not None and self.data.has_truth

    @property
    def T(self) -> float:
        return float(self.source.T)

    @property
    def preview_pixels(self) -> int:
        return int(self.source.preview_max_pixels or PREVIEW_PIXELS)

    @property
    def metric_size(self) -> Optional[Tuple[int, int]]:
        return self.data.metric_size if self.data is not None else None

    @property
    def busy(self) -> bool:
        """True while a measurement is waiting or running (tests wait for this to end)."""
        return self.tasks.busy

    def cached_metrics(self, T: Optional[float] = None) -> Optional[Dict[str, float]]:
        """The metrics already measured for the current image at T (default: the current T), or None."""
        stats = self._current_stats()
        if stats is None:
            return None
        return stats.points.get(self.T if T is None else float(T))

    def _current_stats(self) -> Optional[Stats]:
        if self.data is None or not self.data.has_truth:
            return None
        pred = self.data.prediction
        stats = self._stats.get(pred)
        if stats is None:
            stats = self._stats[pred] = Stats()
        return stats

    # -- slots ------------------------------------------------------------------------------------
    def set_overlays(self, overlays: Dict[str, Any]) -> None:
        """Which maps to produce: ``{"entropy": bool, "delta_e": bool}`` (missing keys keep their state)."""
        for name in OVERLAYS:
            if name in overlays:
                self.overlays[name] = bool(overlays[name])
        self.views_changed.emit(self.views())
        self._request_metrics()

    def set_measuring(self, on: Any) -> None:
        """Measure the metrics and curves (True, the default) or not (False: e.g. while the metrics panel is
        hidden, so no CPU goes into numbers nobody sees; the ΔE map is still measured while its overlay is on)."""
        self.measuring = bool(on)
        if not self.measuring:
            self.tasks.discard(CURVES)  # the points measured so far stay cached
        self._request_metrics()

    def refresh(self) -> None:
        """Emit everything again (e.g. after a view was created late)."""
        self.views_changed.emit(self.views())
        self.metrics_changed.emit(self.metrics_info())
        self.curves_changed.emit(self.curves_info())

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel and join the metric workers (the window is closing)."""
        return self.tasks.shutdown(timeout_ms)

    # -- following the ColorizeController ---------------------------------------------------------
    def _on_current(self, _row: int) -> None:
        sweep = self.tasks.current(CURVES)
        if sweep is not None and sweep.tag is not self.source.prediction:
            self.tasks.discard(CURVES)  # its points stay cached; the rest is measured when the image returns

    def _on_preview(self, rgb: Optional[np.ndarray]) -> None:
        pred = self.source.prediction
        self.result = rgb if pred is not None else None
        current = self.data is not None and self.data.prediction is pred and (
            self.data.preview_size == pred.preview_size(self.preview_pixels))
        if not current and self.data is not None:  # another image: nothing of the old one may show
            self.data = None
            self._entropy = self._delta_e = None
            self.curves_changed.emit(self.curves_info())
        if not current and pred is not None:
            self._prepare(pred)
        elif pred is None:
            self.tasks.discard(PREPARE)
        self.views_changed.emit(self.views())
        self._request_metrics()

    def _prepare(self, pred: Any) -> None:
        """Build the new image's CompareData on a worker (the result shows at once, the comparison follows)."""
        running = self.tasks.current(PREPARE)
        if running is not None and running.tag is pred:
            return
        # an older image's preparation is superseded: its result never arrives
        self.tasks.start(PREPARE, call_function, CompareData, pred, self.preview_pixels, self.metric_pixels,
                         tag=pred, on_returned=self._on_prepared, on_error=self._on_prepare_error)

    def _on_prepared(self, data: CompareData) -> None:
        pred = data.prediction
        if pred is not self.source.prediction or data.preview_size != pred.preview_size(self.preview_pixels):
            return  # the image (or the preview size) changed meanwhile; its own preparation is on the way
        self.data = data
        self._entropy = self._delta_e = None
        self.views_changed.emit(self.views())
        self.curves_changed.emit(self.curves_info())
        self._request_metrics()

    def _on_prepare_error(self, message: str, tb: str) -> None:
        log.error("preparing the comparison failed: %s\n%s", message, tb)
        self.source.message.emit(f"Comparison unavailable: {message}")

    # -- what the views get -----------------------------------------------------------------------
    def views(self) -> Dict[str, Any]:
        """The images to show, all uint8 RGB or None.

        ``result``, ``gray``, ``truth``: at the preview's size (``truth`` None without ground truth); ``full_shape``:
        the full-resolution (H, W) they preview (the views' coordinates);
        ``entropy``, ``delta_e``: colour-mapped maps at the metric size, present only while switched on with
        :meth:`set_overlays` (ΔE only with ground truth; it follows T once measured); ``entropy_T``, ``delta_e_T``:
        the T they show; ``legends``: :data:`LEGENDS` (look-up table, value range and label of each map).
        """
        d = self.data
        pred = self.source.prediction
        out: Dict[str, Any] = {
            "row": self.source.current, "T": self.T, "result": self.result, "gray": None, "truth": None,
            "full_shape": tuple(pred.shape) if pred is not None and self.result is not None else None,
            "has_truth": self.has_truth, "entropy": None, "entropy_T": None, "delta_e": None, "delta_e_T": None,
            "legends": LEGENDS,
        }
        if d is None or self.result is None:
            return out
        shape = self.result.shape[:2]
        out["gray"] = d.gray if d.gray.shape[:2] == shape else resize_area(d.gray, shape)
        if d.truth is not None:
            out["truth"] = d.truth if d.truth.shape[:2] == shape else resize_area(d.truth, shape)
        if self.overlays["entropy"]:
            T = self.T
            if self._entropy is None or self._entropy[0] != T:
                self._entropy = (T, apply_colormap(d.entropy(T), *ENTROPY_RANGE, ENTROPY_COLORMAP))
            out["entropy_T"], out["entropy"] = self._entropy
        if self.overlays["delta_e"] and self._delta_e is not None:
            out["delta_e_T"], out["delta_e"] = self._delta_e
        return out

    def metrics_info(self) -> Dict[str, Any]:
        """The metrics panel's content.

        ``has_truth``; ``message`` (why there are no metrics, or ""); ``T``; ``metrics``: {name: value} at T from
        :func:`~polychrome.core.metrics.compute_all` (None until measured); ``baseline``: the gray input's metrics;
        ``pending``: a measurement for T is still to come; ``size``: the metric size (h, w).
        """
        d = self.data
        info: Dict[str, Any] = {"row": self.source.current, "T": self.T, "has_truth": self.has_truth,
                                "message": "", "metrics": None, "baseline": None, "pending": False,
                                "size": d.metric_size if d is not None else None}
        if d is None and self.tasks.running(PREPARE):
            info["pending"] = True
            info["message"] = "Preparing the comparison…"
        elif d is None:
            info["message"] = "No colorized image selected."
        elif not d.has_truth:
            info["message"] = "No ground truth for this image: its input is grayscale, so there is nothing to " \
                              "compare the colours with."
        else:
            stats = self._current_stats()
            info["metrics"] = stats.points.get(self.T)
            info["baseline"] = stats.baseline
            info["pending"] = info["metrics"] is None and not stats.failed and self.measuring
            if stats.failed:
                info["message"] = f"The metrics could not be computed: {stats.failed}"
        return info

    def curves_info(self) -> Optional[Dict[str, Any]]:
        """Every metric against T for the current image (None without ground truth).

        ``temperatures``: sorted float64 array of the T measured so far (the grid :attr:`temperatures` plus every
        T measured for the panel); ``values``: {name: float64 array along ``temperatures``}; ``baseline``: the gray
        input's metrics (or None); ``complete``: the whole grid is measured; ``T``: the current T.
        """
        stats = self._current_stats()
        if stats is None:
            return None
        ts = sorted(stats.points)
        values = {k: np.array([stats.points[t][k] for t in ts], dtype=np.float64) for k in METRIC_KEYS}
        return {"row": self.source.current, "T": self.T, "temperatures": np.array(ts, dtype=np.float64),
                "values": values, "baseline": stats.baseline, "complete": stats.grid_done,
                "grid": self.temperatures}

    # -- measuring --------------------------------------------------------------------------------
    def _needs_measuring(self) -> bool:
        stats = self._current_stats()
        if stats is None or stats.failed:
            return False
        T = self.T
        if self.measuring and (T not in stats.points or stats.baseline is None):
            return True
        return self.overlays["delta_e"] and (self._delta_e is None or self._delta_e[0] != T)

    def _request_metrics(self) -> None:
        """Show what is known for the current T now; measure the rest after the coalescing delay."""
        self.metrics_changed.emit(self.metrics_info())
        if self._needs_measuring():
            # restarted by every change: a drag is measured where it rests
            self.tasks.later(METRICS, self._start_metrics, self.coalesce_ms)
        else:
            self.tasks.drop(METRICS)
            self._ensure_curves()

    def _start_metrics(self) -> None:
        if not self._needs_measuring():
            return
        d, stats, T = self.data, self._current_stats(), self.T
        with_map = self.overlays["delta_e"]
        measure = functools.partial(d.measure, with_map=with_map, with_baseline=stats.baseline is None)
        pred = d.prediction
        # a measurement of an older T (or image) is superseded: only the T that is shown now is measured
        self.tasks.start(METRICS, sweep_temperatures, measure, [T],
                         on_yielded=lambda point, p=pred: self._on_metrics(p, point),
                         on_error=lambda msg, tb, p=pred: self._on_error(p, msg, tb),
                         on_finished=self._on_metrics_finished)

    def _on_metrics(self, pred: Any, point: SweepPoint) -> None:
        T, value = point.T, point.value
        stats = self._stats.get(pred)
        if stats is None:  # the prediction is gone
            return
        stats.points[T] = value["metrics"]
        if value["baseline"] is not None:
            stats.baseline = value["baseline"]
        if self.data is None or self.data.prediction is not pred:
            return
        if value["delta_e"] is not None:
            self._delta_e = (T, apply_colormap(value["delta_e"], *DELTA_E_RANGE, DELTA_E_COLORMAP))
            if self.overlays["delta_e"]:
                self.views_changed.emit(self.views())
        self.metrics_changed.emit(self.metrics_info())
        self.curves_changed.emit(self.curves_info())

    def _on_metrics_finished(self) -> None:
        if not self._needs_measuring():
            self._ensure_curves()

    def _ensure_curves(self) -> None:
        """Measure the grid of T for the current image on the curves worker (only the points still missing)."""
        stats = self._current_stats()
        if stats is None or stats.grid_done or stats.failed or not self.measuring:
            return
        pred = self.data.prediction
        sweep = self.tasks.current(CURVES)
        if sweep is not None and sweep.tag is pred:
            return  # already on it
        missing = [t for t in self.temperatures if t not in stats.points]
        if not missing:
            stats.grid_done = True
            self.curves_changed.emit(self.curves_info())
            return
        # another image's sweep is superseded (its points so far stay cached)
        self.tasks.start(CURVES, sweep_temperatures, self.data.metrics, missing, tag=pred,
                         on_yielded=lambda point, p=pred: self._on_curve_point(p, point),
                         on_returned=lambda _res, p=pred: self._on_curves_done(p),
                         on_error=lambda msg, tb, p=pred: self._on_error(p, msg, tb))

    def _on_curve_point(self, pred: Any, point: SweepPoint) -> None:
        stats = self._stats.get(pred)
        if stats is None:
            return
        stats.points[point.T] = point.value
        if self.data is not None and self.data.prediction is pred:
            self.curves_changed.emit(self.curves_info())
            if point.T == self.T:
                self.metrics_changed.emit(self.metrics_info())

    def _on_curves_done(self, pred: Any) -> None:
        stats = self._stats.get(pred)
        if stats is None:
            return
        stats.grid_done = all(t in stats.points for t in self.temperatures)
        if self.data is not None and self.data.prediction is pred:
            self.curves_changed.emit(self.curves_info())

    def _on_error(self, pred: Any, message: str, tb: str) -> None:
        """A measurement failed: say so once and measure nothing more for this prediction (no retry loop)."""
        log.error("comparison metrics failed: %s\n%s", message, tb)
        stats = self._stats.get(pred)
        if stats is not None:
            stats.failed = message
        self.source.message.emit(f"Comparison metrics failed: {message}")
        if self.data is not None and self.data.prediction is pred:
            self.metrics_changed.emit(self.metrics_info())


