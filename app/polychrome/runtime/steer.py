"""Steering a prediction: colour points (one new inference on the cached lightness) and a reference photo (a bias
on the cached logits, no inference). The CLI and the app's hint tool both go through here.

    base = colorizer.predict(pixels)                         # the queue's prediction
    hinted = with_points(colorizer, base, points)            # one inference with the hint map, same L* and caches
    ref = reference_for(colorizer, "period.jpg", hinted)     # the reference's log ratio over the model's bins
    final = with_reference(hinted, ref, strength=1.0)        # no inference; T decodes it as before
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import weakref
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..core import imageio
from ..core.decode import LogitsDecoder
from ..core.errors import ImageReadError, ModelError, PolychromeError
from ..core.hints import ColorHint, rasterize_hints
from ..core.hintsfile import (
    HintPoint,
    HintsFile,
    hints_to_json,
    input_scale,
    load_hints,
    outside,
    sidecar_path,
    to_color_hints,
)
from ..core.progress import Progress, ensure_progress
from ..core.reference import Reference, reference_histogram
from .colorizer import Colorizer, Prediction
from .manifest import PREFIX, ModelManifest

REFERENCE_MAX_PIXELS = 100_000_000
_PRIORS: weakref.WeakKeyDictionary[Any, Optional[np.ndarray]] = weakref.WeakKeyDictionary()  # per model session


_PREVIEW_CACHE = ("_preview_L", "_preview_size", "_preview_merger")


def with_decoder(prediction: Prediction, decoder: LogitsDecoder) -> Prediction:
    """The same image (pixels, L*, preview caches shared) decoded from other logits: no copy of the image.

    The preview's lightness and its merge table depend only on L*: they are shared with ``prediction`` (made on it
    first if it has none yet), so a new strength or new hints never rebuild them (≈ 10 ms at 2 MP)."""
    out = copy.copy(prediction)
    out.decoder = decoder
    out._share_preview_with = weakref.ref(prediction)  # type: ignore[attr-defined] # no chain of old decoders
    return out


def share_preview_cache(prediction: Prediction) -> None:
    """After ``prediction`` (made by :func:`with_decoder`) built its preview caches, hand them back to the
    prediction it was made from, so the next one made from it starts with them."""
    ref = getattr(prediction, "_share_preview_with", None)
    src = ref() if ref is not None else None
    if src is None:
        return
    for name in _PREVIEW_CACHE:
        if getattr(src, name, None) is None and getattr(prediction, name, None) is not None:
            setattr(src, name, getattr(prediction, name))


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
    out = with_decoder(prediction, LogitsDecoder(logits, prediction.manifest.bins.centers))
    out.hint_cells = hint_cells(hints, shape, out.grid_shape, colorizer.manifest.stride)  # type: ignore[attr-defined]
    return out


def hint_cells(hints: Sequence[ColorHint], image_shape: Tuple[int, int], grid: Tuple[int, int],
               stride: int) -> Optional[np.ndarray]:
    """(h, w) bool: the network's output cells a hint patch covers (None without hints)."""
    if not hints:
        return None
    ch, cw = grid
    _, mask = rasterize_hints(hints, image_shape, (ch * stride, cw * stride))
    return np.asarray(mask[0].reshape(ch, stride, cw, stride).max(axis=(1, 3)) > 0)


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
    keep = getattr(prediction, "hint_cells", None)  # cells a colour point covers keep the point's colour
    return with_decoder(prediction, reference.apply(prediction.decoder, strength, keep))


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


def _source_of(name: str) -> Optional[Path]:
    """The input file behind a prediction's ``name`` (a path, or a batch label "path (page N)")."""
    if not name:
        return None
    return Path(re.sub(r" \(page \d+\)$", "", name))


class SteeringColorizer:
    """A :class:`Colorizer` whose predictions are steered per input file — the command line's ``--hints FILE``
    (for one input), else the ``<image stem>.hints.json`` found beside each input, and ``--reference PHOTO``
    [``--reference-strength β``] (the hints file can name a reference too; the command line's wins). Anything else
    is the colorizer's own (``__getattr__``). A bad sidecar or a point outside its image fails that file only, with
    the reason."""

    def __init__(self, colorizer: Colorizer, hints: Optional[HintsFile] = None,
                 reference: Union[None, str, os.PathLike[str]] = None, strength: Optional[float] = None,
                 sidecars: bool = True) -> None:
        self.colorizer = colorizer
        self.hints = hints
        self.reference = Path(reference) if reference is not None else None
        self.strength = strength
        self.sidecars = sidecars
        self._references: dict[tuple[str, float], Reference] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.colorizer, name)

    def hints_for(self, source: Optional[Path]) -> Optional[HintsFile]:
        if self.hints is not None:
            return self.hints
        if self.sidecars and source is not None:
            side = sidecar_path(source)
            if side.is_file():
                return load_hints(side)
        return None

    def digest_for(self, source: Optional[Path]) -> str:
        """What steers ``source`` (hints and reference), as a short digest for the batch record ("" for nothing):
        a changed sidecar or reference means the output is made again."""
        try:
            hints = self.hints_for(source)
        except PolychromeError:
            return "unreadable-hints"
        data: dict[str, Any] = hints_to_json(hints) if hints is not None else {}
        ref = self.reference if self.reference is not None else (hints.reference if hints is not None else None)
        if ref is not None:
            data["reference"] = str(ref)
            try:
                data["reference_mtime"] = Path(ref).stat().st_mtime_ns
            except OSError:
                pass
            data["reference_strength"] = self.strength if self.strength is not None else (
                hints.reference_strength if hints is not None else 1.0)
        if not data or data == {"points": []}:
            return ""
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def predict(self, pixels: np.ndarray, progress: Optional[Progress] = None, name: str = "",
                hints: Optional[Sequence[Any]] = None) -> Prediction:
        source = _source_of(name)
        file = self.hints_for(source)
        color_hints = hints
        if file is not None and file.points and not hints:
            shape = pixels.shape[:2]
            bad = outside(file.points, shape)
            if bad:
                p = file.points[bad[0]]
                raise ModelError(f"{name}: hint point {bad[0] + 1} at ({p.x:g}, {p.y:g}) lies outside the "
                                 f"{shape[1]}×{shape[0]} image")
            if not self.colorizer.takes_hints:
                raise ModelError(f"{name}: has colour points but the model "
                                 f"'{self.colorizer.manifest.name}' does not take colour hints")
            color_hints = to_color_hints(file.points, shape, point_scale(self.colorizer, shape))
        pred = self.colorizer.predict(pixels, progress=progress, name=name, hints=color_hints or None)
        if color_hints:
            pred.hint_cells = hint_cells(color_hints, pred.shape, pred.grid_shape,  # type: ignore[attr-defined]
                                         self.colorizer.manifest.stride)
        ref_path = self.reference if self.reference is not None else (file.reference if file is not None else None)
        if ref_path is None:
            return pred
        beta = self.strength if self.strength is not None else (file.reference_strength if file is not None else 1.0)
        key = (str(ref_path), 0.0)
        ref = self._references.get(key)
        if ref is None:
            ref = self._references[key] = reference_for(self.colorizer, ref_path, pred)
        return with_reference(pred, ref, float(beta))


class CliSteering:
    """The command line's steering for a batch: wraps the colorizer and gives the batch record a spec per input
    that includes what steers it."""

    def __init__(self, hints: Optional[HintsFile], reference: Union[None, str, os.PathLike[str]],
                 strength: Optional[float]) -> None:
        self.hints, self.reference, self.strength = hints, reference, strength
        self._probe = SteeringColorizer(None, hints, reference, strength)  # type: ignore[arg-type] # digests only

    def wrap(self, colorizer: Colorizer) -> SteeringColorizer:
        return SteeringColorizer(colorizer, self.hints, self.reference, self.strength)

    def spec_for(self, spec: Any, manifest: Any, sha256: str, opts: Any, input_size: Optional[int]) -> Any:
        """A function of the source giving ``spec``, or for a steered input the same spec with its digest."""
        from .pipeline import model_run_spec

        def one(source: Any) -> Any:
            path = source[0] if isinstance(source, tuple) else source
            digest = self._probe.digest_for(Path(path))
            if not digest:
                return spec
            return model_run_spec(manifest, sha256, opts, input_size, spec.T, steering=digest)

        return one
