"""The Compare feature's model, in plain Python (no Qt): the comparison inputs of a prediction
(:class:`CompareData`), what has been measured for it (:class:`Stats`), colour maps, legends and number formats.

Everything is numpy and OpenCV: pure decoding and arithmetic on a prediction, no inference and no state beyond
the measurements. :mod:`.controller` runs it on workers and feeds the views.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

from ...core.color import NEAR_GRAY_CHROMA, mean_chroma
from ...core.merge import merge_lab, upsample_ab_fixed
from ...core.metrics import METRIC_INFO, compute_all, delta_e_map
from ...core.pixels import to_uint8
from ...runtime.colorizer import PREVIEW_PIXELS

log = logging.getLogger(__name__)

METRIC_PIXELS = 250_000  # metrics, curves and maps are computed on images of at most this many pixels
CURVE_TEMPERATURES: Tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.38, 0.45, 0.55, 0.7, 0.85, 1.0)
ENTROPY_RANGE = (0.0, 1.0)  # normalised entropy: 0 = certain, 1 = uniform over the bins
DELTA_E_RANGE = (0.0, 30.0)  # ΔE2000 colour scale (larger errors saturate)
ENTROPY_COLORMAP = "viridis"
DELTA_E_COLORMAP = "inferno"
METRIC_KEYS: Tuple[str, ...] = tuple(METRIC_INFO)  # psnr, ssim, auc, delta_e, colorfulness, colorfulness_gt, ...
OVERLAYS = ("entropy", "delta_e")

_CV_COLORMAPS = {"viridis": cv2.COLORMAP_VIRIDIS, "inferno": cv2.COLORMAP_INFERNO, "turbo": cv2.COLORMAP_TURBO}


# -- plain numpy helpers ----------------------------------------------------------------------------------


@functools.cache
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
class Stats:
    """What has been measured for one prediction (no reference to it: kept in a WeakKeyDictionary by it)."""

    points: Dict[float, Dict[str, float]] = field(default_factory=dict)  # T -> metrics
    baseline: Optional[Dict[str, float]] = None
    grid_done: bool = False
    failed: str = ""  # why measuring failed (then nothing more is tried for this prediction)



def format_metric(name: str, value: Optional[float]) -> str:
    """A metric value as the panel shows it (PSNR in dB, ∞ for identical images, — for missing values)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    decimals = {"psnr": 2, "ssim": 4, "auc": 4, "delta_e": 2}.get(name, 1)
    unit = METRIC_INFO[name].unit if name in METRIC_INFO else ""
    return f"{value:.{decimals}f}" + (f" {unit}" if unit else "")
