"""The Compare feature's logic: the result next to the gray input and (for a colour input) the ground truth, metrics
against the ground truth at the current T, the metric-vs-T curves and the entropy / ΔE2000 maps.

:class:`CompareController` follows a :class:`~polychrome.gui.models.ColorizeController` (its previews, current
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

Threads. Nothing heavy runs on the UI thread. A new image's inputs (:class:`CompareData`: the resized ground truth,
gray input and lightness) are built on a worker (:func:`polychrome.gui.workers.call_function`); until they arrive the
views get the result alone. Metrics run on workers (:func:`polychrome.gui.workers.sweep_temperatures`): requests are
coalesced by a short timer (a slider drag queues no work: only the T where the drag rests or ends is measured), at
most one current-T job runs at a time, and the curves run on their own worker once the first current-T metrics are
in. Results are cached per prediction (dropped with it); the curves are cancelled when the image changes (the points
measured so far are kept, the rest is measured when the image comes back); results that arrive for an image or a T
no longer shown are cached, never shown. :meth:`CompareController.set_measuring` switches the metrics and curves off
while nobody looks at them (e.g. the metrics dock is hidden). The entropy map is cheap (decoding on the network's
grid) and is made on the UI thread, only while its overlay is on.
"""

from __future__ import annotations

import functools
import logging
import math
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from ..core.color import NEAR_GRAY_CHROMA, mean_chroma
from ..core.merge import merge_lab, upsample_ab_fixed
from ..core.metrics import METRIC_INFO, compute_all, delta_e_map
from ..runtime.colorizer import PREVIEW_PIXELS
from ..runtime.jobs import SweepPoint, call_function, sweep_temperatures
from .workers import Tasks

log = logging.getLogger(__name__)

METRIC_PIXELS = 250_000  # metrics, curves and maps are computed on images of at most this many pixels
CURVE_TEMPERATURES: Tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.38, 0.45, 0.55, 0.7, 0.85, 1.0)
COALESCE_MS = 50  # T changes closer together than this are measured once
PREPARE, METRICS, CURVES = "prepare", "metrics", "curves"  # task keys (each on its own thread)
ENTROPY_RANGE = (0.0, 1.0)  # normalised entropy: 0 = certain, 1 = uniform over the bins
DELTA_E_RANGE = (0.0, 30.0)  # ΔE2000 colour scale (larger errors saturate)
ENTROPY_COLORMAP = "viridis"
DELTA_E_COLORMAP = "inferno"
METRIC_KEYS: Tuple[str, ...] = tuple(METRIC_INFO)  # psnr, ssim, auc, delta_e, colorfulness, colorfulness_gt, ...
OVERLAYS = ("entropy", "delta_e")

_CV_COLORMAPS = {"viridis": cv2.COLORMAP_VIRIDIS, "inferno": cv2.COLORMAP_INFERNO, "turbo": cv2.COLORMAP_TURBO}


# -- plain numpy helpers ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB lookup table of an OpenCV colour map ("viridis", "inferno", "turbo"); read-only."""
    ramp = np.arange(256, dtype=np.uint8)[:, None]
    lut = np.ascontiguousarray(cv2.applyColorMap(ramp, _CV_COLORMAPS[name])[:, 0, ::-1])
    lut.setflags(write=False)
    return lut


def apply_colormap(values: np.ndarray, vmin: float, vmax: float, name: str) -> np.ndarray:
    """Map a float (H, W) array onto a colour map: uint8 RGB (H, W, 3); values outside [vmin, vmax] saturate."""
    scale = 255.0 / max(float(vmax) - float(vmin), 1e-12)
    idx = np.clip((np.asarray(values, dtype=np.float32) - np.float32(vmin)) * np.float32(scale) + 0.5, 0, 255)
    idx = np.nan_to_num(idx, nan=0.0).astype(np.uint8)
    return colormap_lut(name)[idx]


def legend(name: str, value_range: Tuple[float, float], label: str) -> Dict[str, Any]:
    """A colour bar's description for a view: lookup table, value range and a label."""
    return {"lut": colormap_lut(name), "range": (float(value_range[0]), float(value_range[1])), "label": label}


LEGENDS: Dict[str, Dict[str, Any]] = {
    "entropy": legend(ENTROPY_COLORMAP, ENTROPY_RANGE, "Entropy (uncertainty)"),
    "delta_e": legend(DELTA_E_COLORMAP, DELTA_E_RANGE, "ΔE2000 vs ground truth"),
}


def resize_area(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """``img`` at ``size`` = (h, w) with ``cv2.INTER_AREA`` (unchanged when it already has that size)."""
    if img.shape[:2] == tuple(size):
        return img
    return cv2.resize(img, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """uint8 copy of a uint8 / uint16 / float (0..1) image (uint8 is returned as it is)."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.clip(np.rint(np.asarray(img, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def has_ground_truth(pixels: np.ndarray, threshold: float = NEAR_GRAY_CHROMA) -> bool:
    """True when an input image is in colour (RGB and not near-gray), so its own colours are the ground truth."""
    return pixels.ndim == 3 and pixels.shape[2] == 3 and mean_chroma(pixels) >= threshold


class CompareData:
    """The comparison inputs of one prediction: gray input and ground truth at the preview size, lightness and ground
    truth at the metric size.

    Built on a worker (a fraction of a second for a large scan) and only read afterwards, so the metric workers share
    it safely. It reads the prediction's image, L* and logits but never its preview caches (which the UI thread
    uses); every method is pure decoding and arithmetic: no inference, no state.
    """

    def __init__(self, prediction: Any, preview_pixels: int = PREVIEW_PIXELS,
                 metric_pixels: int = METRIC_PIXELS) -> None:
        self.prediction = prediction
        pixels = prediction.pixels
        self.preview_size: Tuple[int, int] = prediction.preview_size(preview_pixels)
        self.metric_pixels = int(min(metric_pixels, preview_pixels))
        self.metric_size: Tuple[int, int] = prediction.preview_size(self.metric_pixels)
        self.metric_L = resize_area(prediction.L, self.metric_size)
        # the ground truth (source dtype) at the metric size, if the input has colour to compare with
        self.metric_truth: Optional[np.ndarray] = None
        if pixels.ndim == 3:
            small = resize_area(pixels, self.metric_size)
            self.metric_truth = small if has_ground_truth(small) else None
        self.has_truth = self.metric_truth is not None
        # at the preview size: the input's L* without colour (= prediction.gray_preview) and the ground truth, uint8
        gray_L = resize_area(prediction.L, self.preview_size)
        self.gray = merge_lab(gray_L, np.zeros(self.preview_size + (2,), np.int16), np.uint8)
        self.truth = to_uint8(resize_area(pixels, self.preview_size)) if self.has_truth else None

    def result(self, T: float) -> np.ndarray:
        """The result at the metric size: uint8 RGB, equal to ``prediction.preview(T, metric_pixels, exact=True)``."""
        ab = upsample_ab_fixed(self.prediction.ab(T), self.metric_size)
        return merge_lab(self.metric_L, ab, np.uint8)

    def gray_result(self) -> np.ndarray:
        """The gray input at the metric size (uint8 RGB): the baseline that the metrics compare with."""
        return merge_lab(self.metric_L, np.zeros(self.metric_size + (2,), np.int16), np.uint8)

    def metrics(self, T: float) -> Dict[str, float]:
        """``compute_all(result(T), ground truth)`` as a dict (ground truth needed)."""
        return compute_all(self.result(T), self._need_truth()).to_dict()

    def baseline(self) -> Dict[str, float]:
        """The metrics of the gray input itself against the ground truth."""
        return compute_all(self.gray_result(), self._need_truth()).to_dict()

    def measure(self, T: float, with_map: bool = False, with_baseline: bool = False) -> Dict[str, Any]:
        """Metrics at T, and optionally the per-pixel ΔE2000 map (float32, metric size) and the gray baseline."""
        rgb = self.result(T)
        truth = self._need_truth()
        return {
            "metrics": compute_all(rgb, truth).to_dict(),
            "delta_e": delta_e_map(rgb, truth) if with_map else None,
            "baseline": self.baseline() if with_baseline else None,
        }

    def entropy(self, T: float) -> np.ndarray:
        """The normalised entropy at T (0..1), upsampled from the network's grid to the metric size (float32)."""
        e = self.prediction.entropy(T).astype(np.float32)
        h, w = self.metric_size
        return cv2.resize(e, (w, h), interpolation=cv2.INTER_LINEAR)

    def _need_truth(self) -> np.ndarray:
        if self.metric_truth is None:
            raise ValueError("this image has no ground truth (its input is gray)")
        return self.metric_truth


@dataclass
class _Stats:
    """What has been measured for one prediction (no reference to it: kept in a WeakKeyDictionary by it)."""

    points: Dict[float, Dict[str, float]] = field(default_factory=dict)  # T -> metrics
    baseline: Optional[Dict[str, float]] = None
    grid_done: bool = False
    failed: str = ""  # why measuring failed (then nothing more is tried for this prediction)


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
        self._stats: "weakref.WeakKeyDictionary[Any, _Stats]" = weakref.WeakKeyDictionary()
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

    def _current_stats(self) -> Optional[_Stats]:
        if self.data is None or not self.data.has_truth:
            return None
        pred = self.data.prediction
        stats = self._stats.get(pred)
        if stats is None:
            stats = self._stats[pred] = _Stats()
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

        ``result``, ``gray``, ``truth``: at the preview's size (``truth`` None without ground truth);
        ``entropy``, ``delta_e``: colour-mapped maps at the metric size, present only while switched on with
        :meth:`set_overlays` (ΔE only with ground truth; it follows T once measured); ``entropy_T``, ``delta_e_T``:
        the T they show; ``legends``: :data:`LEGENDS` (look-up table, value range and label of each map).
        """
        d = self.data
        out: Dict[str, Any] = {
            "row": self.source.current, "T": self.T, "result": self.result, "gray": None, "truth": None,
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


def format_metric(name: str, value: Optional[float]) -> str:
    """A metric value as the panel shows it (PSNR in dB, ∞ for identical images, — for missing values)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    decimals = {"psnr": 2, "ssim": 4, "auc": 4, "delta_e": 2}.get(name, 1)
    unit = METRIC_INFO[name].unit if name in METRIC_INFO else ""
    return f"{value:.{decimals}f}" + (f" {unit}" if unit else "")
