"""Scoring colorization models on colour photos: the one evaluation routine of the CLI, the model-card command and
the training wizard.

Every photo is turned gray with its own L* (:func:`polychrome.core.color.rgb_to_gray`), colorized once per model,
and each temperature is a decode of that one :class:`~polychrome.runtime.colorizer.Prediction`, rendered at full
resolution in the photo's own bit depth and scored against the original with
:func:`polychrome.core.metrics.compute_all`. The gray input itself (ab = 0) is scored as the baseline. A model that
takes hints can also be scored with N hints sampled from the photo's own colours (:func:`truth_hints`).

* :func:`score_photo` scores one photo for a list of :class:`EvalModel`;
* :func:`evaluate` runs it over photos grouped by source and collects one record per photo and variant;
* :func:`summarize` gives group means, :func:`sweep` the colourfulness and PSNR per T;
* :func:`evaluate_side_by_side` is the training wizard's job (models by path, a few thumbnails).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

import cv2
import numpy as np

from ..core import imageio
from ..core.color import rgb_to_gray, srgb_to_lab
from ..core.errors import PolychromeError, user_message
from ..core.hints import ColorHint, hints_from_truth
from ..core.merge import lightness
from ..core.metrics import METRIC_INFO, colorfulness, compute_all, psnr
from ..core.pixels import fit_max_side, to_uint8
from ..core.progress import Cancelled, Progress, ensure_progress
from .colorizer import Colorizer

GRAY = "gray"  # the baseline's variant key
METRIC_KEYS = tuple(METRIC_INFO)  # the fields of ImageMetrics, averaged per group
SWEEP_TEMPERATURES = tuple(round(0.1 + 0.05 * i, 2) for i in range(19))  # 0.10, 0.15, ..., 1.00
GROUPS: Dict[str, Tuple[str, ...]] = {
    "scenes": ("bsds500_val", "cid22_val", "intel"),
    "faces": ("lfw", "utkface"),
}

T_ = TypeVar("T_")
Log = Callable[[str], None]


def _no_log(text: str) -> None:
    pass


# -- photos ---------------------------------------------------------------------------------------------------


def evenly_spaced(items: Iterable[T_], n: Optional[int]) -> List[T_]:
    """``n`` items spread evenly over ``items`` (the centres of n equal slices); all of them if n is None or large."""
    seq = list(items)
    if n is None or n >= len(seq):
        return seq
    if n <= 0:
        return []
    return [seq[int((i + 0.5) * len(seq) / n)] for i in range(n)]


def list_sources(data_dir: Path, max_per_source: Optional[int] = None) -> Dict[str, List[Path]]:
    """First-level subfolders of ``data_dir`` -> their supported image files (sorted, evenly subsampled)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PolychromeError(f"{data_dir}: data folder not found")
    sources: Dict[str, List[Path]] = {}
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            f for f in folder.iterdir() if f.is_file() and imageio.is_supported(f) and not f.name.startswith(".")
        )
        if files:
            sources[folder.name] = evenly_spaced(files, max_per_source)
    if not sources:
        raise PolychromeError(f"{data_dir}: no subfolders with images (expected one folder per source)")
    return sources


def group_members(sources: Iterable[str]) -> Dict[str, List[str]]:
    """Group name -> its sources, in table order: "all", "scenes", "faces" (if present), then each source."""
    names = list(sources)
    groups = {"all": names}
    for name, members in GROUPS.items():
        present = [s for s in members if s in names]
        if present:
            groups[name] = present
    for s in names:
        groups.setdefault(s, [s])
    return groups


def read_ground_truth(path: Path, max_pixels: Optional[int] = imageio.DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The colour photo as (H, W, 3) uint8/uint16; raises PolychromeError for unreadable or gray files."""
    image = imageio.read_image(path, max_pixels=max_pixels)
    if image.is_gray:
        raise PolychromeError("is a grayscale image; evaluation needs colour photos")
    return image.pixels


# -- models and variants --------------------------------------------------------------------------------------


def t_key(T: float) -> str:
    return f"{float(T):g}"


@dataclass(frozen=True)
class Variant:
    """One row of the tables: the gray baseline (model None) or a model decoded at temperature T."""

    model: Optional[str]
    T: Optional[float] = None
    is_default: bool = False
    hints: int = 0  # colour hints sampled from the ground truth (0: none)

    @property
    def key(self) -> str:
        if self.model is None or self.T is None:
            return GRAY
        return f"{self.model}{f'+{self.hints}h' if self.hints else ''}@{t_key(self.T)}"

    @property
    def method(self) -> str:
        if self.model is None:
            return "gray (ab = 0)"
        return f"{self.model} + {self.hints} true hints" if self.hints else self.model

    @property
    def t_text(self) -> str:
        if self.model is None or self.T is None:
            return "–"
        return f"{self.T:g} (default)" if self.is_default else f"{self.T:g}"


@dataclass
class EvalModel:
    """A model to evaluate under a name, with the temperatures it is decoded at."""

    name: str
    colorizer: Colorizer
    temperatures: Tuple[float, ...]
    hints: int = 0  # also score the default T with this many ground-truth hints (hint-taking models only)

    @property
    def default_T(self) -> float:
        return float(self.colorizer.default_T)

    @property
    def variants(self) -> List[Variant]:
        out = [Variant(self.name, T, math.isclose(T, self.default_T)) for T in self.temperatures]
        if self.hints and self.colorizer.takes_hints:
            out.append(Variant(self.name, self.default_T, False, self.hints))
        return out

    @property
    def default_variant(self) -> Variant:
        return Variant(self.name, self.default_T, True)

    def describe(self) -> Dict[str, object]:
        m = self.colorizer.manifest
        return {
            "name": self.name,
            "model_name": m.name,
            "version": m.version,
            "path": str(m.path or ""),
            "default_T": self.default_T,
            "input_size": self.colorizer.input_size,
            "temperatures": list(self.temperatures),
        }


def all_variants(models: Sequence[EvalModel]) -> List[Variant]:
    return [Variant(None)] + [v for m in models for v in m.variants]


# -- scoring --------------------------------------------------------------------------------------------------


def to_rgb_unit(rgb: np.ndarray) -> np.ndarray:
    scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
    return rgb.astype(np.float32) * np.float32(1.0 / scale)


def truth_hints(colorizer: Colorizer, rgb: np.ndarray, n: int, name: str) -> List[ColorHint]:
    """``n`` hints from the photo's own colours, picked on the network's input grid (3×3 patches, positions
    seeded by the file name, so every model and run gets the same clicks)."""
    prep = colorizer.prepare(lightness(rgb))
    h, w = prep.size
    small = cv2.resize(to_rgb_unit(rgb), (w, h), interpolation=cv2.INTER_AREA)
    ab = srgb_to_lab(small)[..., 1:]
    seed = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big")
    return hints_from_truth(ab, n, np.random.default_rng(seed), patch=3, image_shape=rgb.shape[:2])


@dataclass
class PhotoScore:
    """The metrics of one photo per variant key (GRAY included) and, when asked for, each model's render at its
    default T (the photo's bit depth)."""

    metrics: Dict[str, Dict[str, float]]
    renders: Dict[str, np.ndarray] = field(default_factory=dict)


def score_photo(
    models: Sequence[EvalModel],
    rgb: np.ndarray,
    name: str = "",
    keep_renders: bool = False,
    on_model: Optional[Callable[[EvalModel], None]] = None,
) -> PhotoScore:
    """Score colour photo ``rgb`` for the gray baseline and every variant of every model (one inference per model,
    a second one only for a hinted variant). ``name`` seeds the hints; ``on_model`` is called after each model."""
    if rgb.ndim != 3:
        raise PolychromeError("evaluation needs a colour photo (it is compared against its own colours)")
    gray = rgb_to_gray(rgb)
    score = PhotoScore({GRAY: compute_all(np.dstack([gray] * 3), rgb).to_dict()})
    for model in models:
        pred = model.colorizer.predict(gray, name=name)
        for variant in model.variants:
            T = model.default_T if variant.T is None else variant.T
            if variant.hints:  # steered by hints taken from the ground truth
                hints = truth_hints(model.colorizer, rgb, variant.hints, Path(name).name)
                col = model.colorizer.predict(gray, hints=hints).render(T, out_dtype=rgb.dtype)
            else:
                col = pred.render(T, out_dtype=rgb.dtype)
            score.metrics[variant.key] = compute_all(col, rgb).to_dict()
            if keep_renders and variant.is_default:
                score.renders[model.name] = col
        if keep_renders and model.name not in score.renders:
            score.renders[model.name] = pred.render(model.default_T, out_dtype=rgb.dtype)
        if on_model is not None:
            on_model(model)
    return score


@dataclass
class Rendered:
    """A photo kept for a contact sheet: its source, file name, gray input, ground truth and model renders."""

    source: str
    file: str
    gray: np.ndarray
    truth: np.ndarray
    renders: Dict[str, np.ndarray]


@dataclass(frozen=True)
class Skipped:
    """A photo that could not be scored, and why."""

    source: str
    path: Path
    reason: str

    def record(self) -> Dict[str, str]:
        return {"source": self.source, "file": self.path.name, "reason": self.reason}


@dataclass
class Evaluation:
    records: List[Dict[str, Any]] = field(default_factory=list)  # one per photo and variant
    skipped: List[Skipped] = field(default_factory=list)
    kept: List[Rendered] = field(default_factory=list)  # the photos asked for by ``keep``
    counts: Dict[str, int] = field(default_factory=dict)  # photos evaluated per source


def evaluate(
    models: Sequence[EvalModel],
    sources: Mapping[str, Sequence[Path]],
    keep: Callable[[str, Path], bool] = lambda source, path: False,
    progress: Optional[Progress] = None,
    log: Log = _no_log,
    max_pixels: Optional[int] = imageio.DEFAULT_MAX_PIXELS,
    max_kept: Optional[int] = None,
) -> Evaluation:
    """Score every photo of ``sources`` (source name -> files) with :func:`score_photo`.

    Unreadable and gray photos are skipped with their reason. ``keep(source, path)`` selects the photos whose
    renders are kept (for a contact sheet or thumbnails), at most ``max_kept`` of them. ``progress`` advances one
    step per photo and model; ``log`` gets a line every 25 photos. Cancelling stops between models.
    """
    progress = ensure_progress(progress)
    n_models = max(1, len(models))
    total = sum(len(files) for files in sources.values())
    progress.set_total(total * n_models)
    result = Evaluation()
    t0 = time.monotonic()
    done = 0
    for source, files in sources.items():
        result.counts[source] = 0
        for path in files:
            done += 1
            progress.check()
            wanted = keep(source, Path(path)) and (max_kept is None or len(result.kept) < max_kept)
            _evaluate_one(models, source, Path(path), wanted, progress, log, max_pixels, result)
            if done % 25 == 0 or done == total:
                log(f"[{done}/{total}] {source}/{Path(path).name}  ({time.monotonic() - t0:.0f} s)")
    return result


def _evaluate_one(
    models: Sequence[EvalModel],
    source: str,
    path: Path,
    keep: bool,
    progress: Progress,
    log: Log,
    max_pixels: Optional[int],
    result: Evaluation,
) -> None:
    def step(model: EvalModel) -> None:
        progress.step(1, f"{model.name}: {path.name}", phase="evaluate")

    try:
        rgb = read_ground_truth(path, max_pixels)
        score = score_photo(models, rgb, str(path), keep, on_model=step)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad photo never stops the evaluation
        reason = user_message(exc)
        result.skipped.append(Skipped(source, path, reason))
        log(f"skipped {source}/{path.name}: {reason}")
        progress.step(max(1, len(models)), f"{path.name}: {reason}", phase="evaluate")
        return
    base = {"source": source, "file": path.name}
    result.records += [{**base, "variant": key, **metrics} for key, metrics in score.metrics.items()]
    result.counts[source] += 1
    if score.renders:
        result.kept.append(Rendered(source, path.name, np.dstack([rgb_to_gray(rgb)] * 3), rgb, score.renders))


# -- summaries ------------------------------------------------------------------------------------------------


def finite_mean(values: Iterable[Any]) -> float:
    """Mean of the finite values (an identical pair has PSNR = inf); NaN if there are none."""
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    return float(np.mean(v)) if v else math.nan


def variant_means(rows: Sequence[Mapping[str, Any]]) -> Dict[str, float]:
    """{"n", the mean of each metric, "rel_colorfulness" = mean CF / mean CF gt} of some records."""
    means = {k: finite_mean(r[k] for r in rows) for k in METRIC_KEYS}
    cf_gt = means["colorfulness_gt"]
    means["rel_colorfulness"] = means["colorfulness"] / cf_gt if cf_gt else math.nan
    return {"n": len(rows), **means}


def summarize(
    records: Sequence[Mapping[str, Any]], groups: Mapping[str, Sequence[str]], variants: Sequence[Variant]
) -> Dict[str, Dict[str, Dict[str, float]]]:
    """group -> variant key -> :func:`variant_means` of the group's records of that variant."""
    summary: Dict[str, Dict[str, Dict[str, float]]] = {}
    for group, members in groups.items():
        members_set = set(members)
        table: Dict[str, Dict[str, float]] = {}
        for v in variants:
            rows = [r for r in records if r["variant"] == v.key and r["source"] in members_set]
            if rows:
                table[v.key] = variant_means(rows)
        if table:
            summary[group] = table
    return summary


def sweep(
    model: EvalModel,
    sources: Mapping[str, Sequence[Path]],
    temperatures: Sequence[float] = SWEEP_TEMPERATURES,
    log: Log = _no_log,
) -> Dict[str, Any]:
    """Mean relative colourfulness (mean CF / mean CF gt) and mean PSNR of ``model`` at each T; one inference per
    photo. Returns {"rows": [{"T", "rel_colorfulness", "colorfulness", "psnr"}], "gray_psnr", "colorfulness_gt",
    "n", "best_T", "default_T"} where best_T has the relative colourfulness nearest 1."""
    cf: Dict[float, List[float]] = {T: [] for T in temperatures}
    ps: Dict[float, List[float]] = {T: [] for T in temperatures}
    cf_gt: List[float] = []
    gray_psnr: List[float] = []
    files = [(s, Path(p)) for s, paths in sources.items() for p in paths]
    for k, (source, path) in enumerate(files, 1):
        try:
            rgb = read_ground_truth(path)
        except PolychromeError as exc:
            log(f"skipped {source}/{path.name}: {user_message(exc)}")
            continue
        gray = rgb_to_gray(rgb)
        cf_gt.append(colorfulness(rgb))
        gray_psnr.append(psnr(np.dstack([gray] * 3), rgb))
        pred = model.colorizer.predict(gray, name=str(path))
        for T in temperatures:
            col = pred.render(T, out_dtype=rgb.dtype)
            cf[T].append(colorfulness(col))
            ps[T].append(psnr(col, rgb))
        if k % 25 == 0 or k == len(files):
            log(f"[{k}/{len(files)}] {source}/{path.name}")
    if not cf_gt:
        raise PolychromeError("no photo could be evaluated")
    mean_gt = finite_mean(cf_gt)
    rows = [
        {"T": T, "rel_colorfulness": finite_mean(cf[T]) / mean_gt, "colorfulness": finite_mean(cf[T]),
         "psnr": finite_mean(ps[T])}
        for T in temperatures
    ]
    best = min(rows, key=lambda r: (abs(r["rel_colorfulness"] - 1.0), -r["psnr"]))
    return {"rows": rows, "gray_psnr": finite_mean(gray_psnr), "colorfulness_gt": mean_gt, "n": len(cf_gt),
            "best_T": best["T"], "default_T": model.default_T}


# -- the training wizard's side-by-side evaluation ------------------------------------------------------------


def _plain_means(means: Mapping[str, float]) -> Dict[str, float]:
    return {k: v for k, v in means.items() if k in METRIC_KEYS}


def evaluate_side_by_side(
    progress: Optional[Progress],
    models: Sequence[Tuple[str, str]],
    files: Sequence[str],
    temperatures: Sequence[float],
    n_samples: int = 4,
    sample_side: int = 160,
) -> Dict[str, Any]:
    """Score each model (label, .onnx path) on the colour photos ``files`` side by side at each T, plus the gray
    input as the baseline (the wizard's evaluation page).

    Returns ``{"temperatures", "n", "models": {label: {T: mean metrics}}, "gray": mean metrics, "errors":
    [(file, reason)], "samples": [{"name", "gray", "truth", label: uint8 RGB at the model's default T}]}``; the
    samples (the first ``n_samples`` photos) are at most ``sample_side`` px. One progress step per photo and model.
    """
    temps = tuple(float(t) for t in temperatures)
    evals = [EvalModel(label, Colorizer(path), temps) for label, path in models]
    paths = [Path(f) for f in files]
    ev = evaluate(evals, {"": paths}, keep=lambda source, path: True, progress=progress, max_kept=n_samples)
    variants = all_variants(evals)
    table = summarize(ev.records, {"all": [""]}, variants).get("all", {})
    out_models = {
        m.name: {float(v.T): _plain_means(table[v.key]) for v in m.variants if v.key in table and v.T is not None}
        for m in evals
    }
    samples = [_sample(k, sample_side) for k in ev.kept]
    return {
        "temperatures": list(temps),
        "n": len(paths) - len(ev.skipped),
        "models": out_models,
        "gray": _plain_means(table[GRAY]) if GRAY in table else {},
        "errors": [(str(s.path), s.reason) for s in ev.skipped],
        "samples": samples,
    }


def _sample(kept: Rendered, side: int) -> Dict[str, Any]:
    def thumb(img: np.ndarray) -> np.ndarray:
        return to_uint8(fit_max_side(img, side))

    return {"name": kept.file, "gray": thumb(kept.gray), "truth": thumb(kept.truth),
            **{label: thumb(img) for label, img in kept.renders.items()}}
