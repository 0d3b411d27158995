"""File-level work shared by the CLI and the GUI: expand inputs, colorize files, write outputs, evaluate.

Every per-file failure becomes a :class:`FileResult` with a one-line reason; a batch never stops on a bad
file, only on cancellation. Outputs are written atomically and never replace an input or an existing file
(unless ``overwrite`` is asked for, which still never touches inputs).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple, Union

import numpy as np

from ..core import imageio
from ..core.errors import PolychromeError, user_message
from ..core.progress import Cancelled, Progress, ensure_progress
from .colorizer import Colorizer, Prediction
from .evaluation import GRAY, EvalModel, evaluate, score_photo

FORMAT_EXT = {"png": ".png", "tiff": ".tif", "jpeg": ".jpg"}
FORMAT_OF_SOURCE = {"PNG": "png", "TIFF": "tiff", "JPEG": "jpeg", "BMP": "png", "WEBP": "png", "MPO": "jpeg"}


@dataclass
class ExportOptions:
    out_dir: Optional[Path] = None  # None: next to each input
    temperature: Optional[float] = None  # None: the model's default
    format: str = "same"  # same | png | tiff | jpeg
    bit_depth: str = "source"  # source | 8 | 16
    suffix: str = "_color"
    quality: int = 95
    upsample: str = "bicubic"
    gamut: str = "keep-lightness"  # keep-lightness | clip
    max_side: Optional[int] = None
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS
    overwrite: bool = False


@dataclass
class FileResult:
    source: Path
    output: Optional[Path] = None
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BatchResult:
    results: List[FileResult] = field(default_factory=list)
    input_errors: List[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def failed(self) -> List[FileResult]:
        return [r for r in self.results if not r.ok]

    @property
    def succeeded(self) -> List[FileResult]:
        return [r for r in self.results if r.ok]


def expand_inputs(paths: Iterable[str], recursive: bool = True) -> Tuple[List[Path], List[str]]:
    """Files, folders (searched for supported images) and glob patterns -> (sorted unique files, problems)."""
    files: List[Path] = []
    problems: List[str] = []
    seen = set()

    def add(p: Path) -> None:
        key = os.path.normcase(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            it = p.rglob("*") if recursive else p.glob("*")
            found = sorted(f for f in it if f.is_file() and imageio.is_supported(f) and not f.name.startswith("."))
            if not found:
                problems.append(f"{p}: folder contains no supported images")
            for f in found:
                add(f)
        elif p.exists():
            add(p)  # even an unsupported extension: reading it gives the user a precise reason
        elif any(ch in str(raw) for ch in "*?["):
            matched = sorted(Path(m) for m in glob.glob(str(raw), recursive=True))
            matched = [m for m in matched if m.is_file()]
            if not matched:
                problems.append(f"{raw}: no files match")
            for m in matched:
                add(m)
        else:
            problems.append(f"{p}: file not found")
    return files, problems


def output_path(src: Path, image_format: str, opts: ExportOptions) -> Tuple[Path, str]:
    fmt = opts.format.lower()
    if fmt == "same":
        fmt = FORMAT_OF_SOURCE.get(image_format.upper(), "png")
    if fmt in ("jpg",):
        fmt = "jpeg"
    if fmt in ("tif",):
        fmt = "tiff"
    if fmt not in FORMAT_EXT:
        raise PolychromeError(f"unknown output format {opts.format!r} (png, tiff, jpeg or same)")
    folder = Path(opts.out_dir) if opts.out_dir else src.parent
    return folder / f"{src.stem}{opts.suffix}{FORMAT_EXT[fmt]}", fmt


class SourceImage(Protocol):
    """What an output needs to know about its source: :class:`~polychrome.core.imageio.ImageData` (a read image)
    or its pixel-free :class:`~polychrome.core.imageio.ImageInfo` (``image.info``)."""

    @property
    def path(self) -> Optional[Path]: ...
    @property
    def format(self) -> str: ...
    @property
    def bit_depth(self) -> int: ...
    @property
    def exif(self) -> Optional[bytes]: ...
    @property
    def icc(self) -> Optional[bytes]: ...
    @property
    def icc_colorspace(self) -> Optional[str]: ...


def target_bits(image: SourceImage, opts: ExportOptions, fmt: str) -> int:
    if fmt == "jpeg":
        return 8
    if opts.bit_depth in ("8", "16"):
        return int(opts.bit_depth)
    return 16 if image.bit_depth > 8 else 8


def output_icc(image: SourceImage) -> Optional[bytes]:
    """The ICC profile for the colour output: the source's RGB profile as it is; a gray profile cannot describe
    RGB data, so a gray-profiled scan gets sRGB (the space our Lab → RGB conversion produces)."""
    if image.icc is None:
        return None
    if image.icc_colorspace in ("RGB", "RGB "):
        return image.icc
    return imageio.srgb_icc_profile()


def write_prediction(
    prediction: Prediction, source: SourceImage, opts: ExportOptions, T: Optional[float] = None
) -> Path:
    """Write the colorized output of ``source`` (an image already read, or its ``info``) from its ``prediction``.

    The output is rendered at ``T`` (None: ``opts.temperature``, else the model's default) with the options'
    format, bit depth, size, upsampling and gamut mapping; the source's EXIF goes along, its RGB profile too (a
    gray profile becomes sRGB). Named after the source in ``opts.out_dir`` (or beside it), written atomically and
    never over the source; an existing file gets a free ``name (2).ext`` unless ``opts.overwrite``. Raises
    PolychromeError subclasses with user-facing reasons.
    """
    if source.path is None:
        raise ValueError("the source image has no path to name the output after")
    src = Path(source.path)
    out_path, fmt = output_path(src, source.format, opts)
    if T is None:
        T = prediction.manifest.default_T if opts.temperature is None else float(opts.temperature)
    bits = target_bits(source, opts, fmt)
    rgb = prediction.render(T, out_dtype=np.uint16 if bits == 16 else np.uint8, method=opts.upsample,
                            max_side=opts.max_side, gamut_map=opts.gamut != "clip")
    if not opts.overwrite:
        out_path = imageio.unique_path(out_path)
    return imageio.write_image(
        out_path,
        rgb,
        format=fmt,
        bit_depth=bits,
        quality=opts.quality,
        exif=source.exif,
        icc=output_icc(source),
        overwrite=opts.overwrite,
        protect=(src,),
    )


def colorize_file(colorizer: Colorizer, src: Path, opts: ExportOptions, progress: Optional[Progress] = None) -> Path:
    """Read → colorize → write one file (:func:`write_prediction`). Raises PolychromeError subclasses with
    user-facing reasons."""
    image = imageio.read_image(src, max_pixels=opts.max_pixels)
    output_path(Path(src), image.format, opts)  # a bad output format fails before the inference
    pred = colorizer.predict(image.pixels, progress=progress, name=str(src))
    T = colorizer.default_T if opts.temperature is None else float(opts.temperature)
    return write_prediction(pred, image, opts, T)


def run_batch(
    colorizer: Colorizer,
    files: Sequence[Path],
    opts: ExportOptions,
    progress: Optional[Progress] = None,
    on_result: Optional[Callable[[FileResult], None]] = None,
) -> BatchResult:
    """Colorize many files; each failure is recorded and the batch goes on. Cancel stops between files."""
    progress = ensure_progress(progress)
    progress.set_total(len(files))
    batch = BatchResult()
    try:
        for src in files:
            progress.check()
            try:
                out = colorize_file(colorizer, Path(src), opts)
                res = FileResult(Path(src), out)
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - a batch must survive anything one file does
                res = FileResult(Path(src), error=user_message(exc))
            batch.results.append(res)
            if on_result:
                on_result(res)
            progress.step(1, message=str(src), ok=res.ok)
    except Cancelled:
        batch.cancelled = True
    return batch


# -- evaluation ----------------------------------------------------------------------------------

@dataclass
class EvalRow:
    source: Path
    T: float
    metrics: Dict[str, float]


def evaluate_image(
    colorizer: Colorizer, rgb: np.ndarray, temperatures: Sequence[float]
) -> Tuple[Dict[float, Dict[str, float]], Dict[str, float]]:
    """Colour photo → gray (same L*) → colorize once → metrics at each T; plus the gray baseline's metrics
    (:func:`polychrome.runtime.evaluation.score_photo`)."""
    model = EvalModel("model", colorizer, tuple(float(T) for T in temperatures))
    score = score_photo([model], rgb)
    return {float(v.T or 0.0): score.metrics[v.key] for v in model.variants}, score.metrics[GRAY]


def evaluate_files(
    colorizer: Colorizer,
    files: Sequence[Path],
    temperatures: Sequence[float],
    progress: Optional[Progress] = None,
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS,
) -> Tuple[List[EvalRow], List[FileResult]]:
    """Score ``colorizer`` on colour photos with :func:`polychrome.runtime.evaluation.evaluate`: per photo a row
    per T and the gray baseline's row (T 0, ``baseline`` 1); unusable photos become errors."""
    model = EvalModel("model", colorizer, tuple(float(T) for T in temperatures))
    ev = evaluate([model], {str(src): [Path(src)] for src in files}, progress=progress, max_pixels=max_pixels)
    per_photo: Dict[str, List[EvalRow]] = {}
    baselines: Dict[str, EvalRow] = {}
    for rec in ev.records:
        src = rec["source"]
        metrics = {k: v for k, v in rec.items() if k not in ("source", "file", "variant")}
        if rec["variant"] == GRAY:
            baselines[src] = EvalRow(Path(src), 0.0, {**metrics, "baseline": 1.0})
        else:
            per_photo.setdefault(src, []).append(EvalRow(Path(src), _variant_T(model, rec["variant"]), metrics))
    rows = [row for src, base in baselines.items() for row in [*per_photo.get(src, []), base]]
    errors = [FileResult(s.path, error=s.reason) for s in ev.skipped]
    return rows, errors


def _variant_T(model: EvalModel, key: str) -> float:
    return next(float(v.T or 0.0) for v in model.variants if v.key == key)


def summarize(rows: Sequence[EvalRow]) -> List[Dict[str, Any]]:
    """Mean of every metric per T (the gray baseline as T = 'gray')."""
    groups: Dict[Union[str, float], List[Dict[str, float]]] = {}
    for r in rows:
        key: Union[str, float] = "gray" if r.metrics.get("baseline") else r.T
        groups.setdefault(key, []).append(r.metrics)
    out: List[Dict[str, Any]] = []
    for key, ms in groups.items():
        keys = [k for k in ms[0] if k != "baseline"]
        mean = {k: float(np.nanmean([m[k] for m in ms if np.isfinite(m.get(k, np.nan))] or [np.nan])) for k in keys}
        out.append({"T": key, "n": len(ms), **mean})
    return sorted(out, key=lambda d: (d["T"] != "gray", d["T"] if d["T"] != "gray" else 0))
