"""Steering a prediction: colour points (one new inference on the cached lightness) and a reference photo (a bias
on the cached logits, no inference). The CLI and the app's hint tool both go through here.

    base = colorizer.predict(pixels)                         # the queue's prediction
    hinted = with_points(colorizer, base, points)            # one inference with the hint map, same L* and caches
    ref = reference_for(colorizer, "period.jpg", hinted)     # the reference's log ratio over the model's bins
    final = with_reference(hinted, ref, strength=1.0)        # no inference; T decodes it as before
"""

from __future__ import annotations

import copy
import json
import os
import weakref
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..core import imageio
from ..core.decode import LogitsDecoder
from ..core.errors import ImageReadError, ModelError
from ..core.hintsfile import HintPoint, HintsFile, input_scale, outside, to_color_hints
from ..core.progress import Progress, ensure_progress
from ..core.reference import Reference, reference_histogram
from .colorizer import Colorizer, Prediction
from .manifest import PREFIX, ModelManifest

REFERENCE_MAX_PIXELS = 100_000_000
_PRIORS: weakref.WeakKeyDictionary[Any, Optional[np.ndarray]] = weakref.WeakKeyDictionary()  # per model session


def with_decoder(prediction: Prediction, decoder: LogitsDecoder) -> Prediction:
    """The same image (pixels, L*, preview caches shared) decoded from other logits: no copy of the image."""
    out = copy.copy(prediction)
    out.decoder = decoder
    return out


def point_scale(colorizer: Colorizer, image_shape: Tuple[int, int]) -> float:
    """Network-input pixels per source pixel for this model and image (radius in source px -> patch size)."""
    m = colorizer.manifest
    return input_scale(image_shape, colorizer.input_size, m.fixed_hw)


def with_points(colorizer: Colorizer, prediction: Prediction, points: Sequence[HintPoint],
                progress: Optional[Progress] = None) -> Prediction:
    """``prediction``'s image run through the network again with ``points`` as hints (one inference on its cached
    L*); no points: the network's unhinted output. Points outside the image raise ModelError."""
    progress = ensure_progress(progress)
    if points and not colorizer.takes_hints:
        raise ModelError(f"{colorizer.manifest.path or colorizer.manifest.name}: this model does not take colour "
                         "hints")
    shape = prediction.shape
    bad = outside(points, shape)
    if bad:
        p = points[bad[0]]
        raise ModelError(f"hint point {bad[0] + 1} at ({p.x:g}, {p.y:g}) lies outside the "
                         f"{shape[1]}×{shape[0]} image")
    hints = to_color_hints(points, shape, point_scale(colorizer, shape))
    progress.check()
    logits = colorizer.logits_for(prediction.L, hints or None)
    progress.check()
    return with_decoder(prediction, LogitsDecoder(logits, prediction.manifest.bins.centers))


def model_prior(colorizer: Colorizer) -> Optional[np.ndarray]:
    """The training colour prior the model's metadata carries (``polychrome.prior``), or None."""
    key = colorizer.session
    if key in _PRIORS:
        return _PRIORS[key]
    prior: Optional[np.ndarray] = None
    try:
        meta = colorizer.session.session.get_modelmeta().custom_metadata_map
        raw = meta.get(PREFIX + "prior")
        if raw:
            arr = np.asarray(json.loads(raw), dtype=np.float64)
            if arr.shape == (colorizer.manifest.Q,) and np.all(np.isfinite(arr)) and arr.sum() > 0:
                prior = arr / arr.sum()
    except (AttributeError, ValueError, TypeError):
        prior = None
    _PRIORS[key] = prior
    return prior


def read_reference(path: Union[str, os.PathLike[str]]) -> np.ndarray:
    """A reference photo's RGB pixels (EXIF orientation applied); a gray one is refused with the reason."""
    image = imageio.read_image(Path(path), max_pixels=REFERENCE_MAX_PIXELS)
    px = image.pixels
    if px.ndim != 3 or px.shape[2] < 3:
        raise ImageReadError(path, "a reference must be a colour photo, this one is grayscale")
    return px[..., :3]


def reference_for(colorizer_or_manifest: Any, reference: Union[str, os.PathLike[str], np.ndarray],
                  prediction: Optional[Prediction] = None) -> Reference:
    """The :class:`~polychrome.core.reference.Reference` of a photo (path or RGB array) for a model: its smoothed
    histogram over the model's bins against the model's training prior (uniform for a model without one;
    ``prediction`` is accepted for callers that have one at hand)."""
    colorizer = colorizer_or_manifest if isinstance(colorizer_or_manifest, Colorizer) else None
    manifest: ModelManifest = colorizer.manifest if colorizer is not None else colorizer_or_manifest
    rgb = reference if isinstance(reference, np.ndarray) else read_reference(reference)
    h_ref = reference_histogram(rgb, manifest.bins)
    prior = model_prior(colorizer) if colorizer is not None else None
    if prior is None:
        prior = np.full(manifest.Q, 1.0 / manifest.Q)
    return Reference(h_ref, prior)


def with_reference(prediction: Prediction, reference: Optional[Reference], strength: float) -> Prediction:
    """``prediction`` reweighted by a reference at ``strength`` β (no inference; β = 0 or None: itself)."""
    if reference is None or strength <= 0:
        return prediction
    return with_decoder(prediction, reference.apply(prediction.decoder, strength))


def steer(colorizer: Colorizer, prediction: Prediction, hints: Optional[HintsFile],
          reference: Union[None, str, os.PathLike[str]] = None, strength: Optional[float] = None,
          progress: Optional[Progress] = None) -> Prediction:
    """A prediction steered by a hints file's points and reference (``reference`` / ``strength`` given here win
    over the file's): the CLI's path."""
    out = prediction
    if hints is not None and hints.points:
        out = with_points(colorizer, prediction, hints.points, progress)
    ref_path = reference if reference is not None else (hints.reference if hints is not None else None)
    if ref_path is not None:
        beta = strength if strength is not None else (hints.reference_strength if hints is not None else 1.0)
        out = with_reference(out, reference_for(colorizer, ref_path, out), float(beta))
    return out
