"""File-level work shared by the CLI and the GUI: expand inputs, colorize files, write outputs, evaluate.

Every per-file failure becomes a :class:`FileResult` with a one-line reason; a batch never stops on a bad
file, only on cancellation. Outputs are written atomically and never replace an input or an existing file
(unless ``overwrite`` is asked for, which still never touches inputs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple, Union

import numpy as np

from ..core import imageio
from ..core.errors import PolychromeError, user_message
from ..core.fileops import same_file
from ..core.progress import Cancelled, Progress, ensure_progress
from .batch import Plan, PlanItem, RunSpec, plan_run
from .colorizer import Colorizer, Prediction
from .evaluation import GRAY, EvalModel, evaluate, score_photo
from .inputs import EMPTY, Skipped, collect_inputs

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

    def problems(self) -> List[str]:
        """What is wrong with these options, one line each (empty: fine). Checked before any model is loaded."""
        out: List[str] = []
        if self.format.lower() not in ("same", "png", "tiff", "tif", "jpeg", "jpg"):
            out.append(f"unknown output format {self.format!r} (png, tiff, jpeg or same)")
        if str(self.bit_depth) not in ("source", "8", "16"):
            out.append(f"bit depth must be source, 8 or 16, not {self.bit_depth!r}")
        if not isinstance(self.quality, int) or not 1 <= self.quality <= 100:
            out.append(f"JPEG quality must be 1..100, not {self.quality!r}")
        if self.upsample not in ("bicubic", "bilinear", "guided"):
            out.append(f"upsampling must be bicubic, bilinear or guided, not {self.upsample!r}")
        if self.gamut not in ("keep-lightness", "clip"):
            out.append(f"gamut handling must be keep-lightness or clip, not {self.gamut!r}")
        if self.max_side is not None and (not isinstance(self.max_side, int) or self.max_side < MIN_MAX_SIDE):
            out.append(f"--max-side must be at least {MIN_MAX_SIDE} pixels, not {self.max_side!r}")
        if not self.max_pixels or self.max_pixels <= 0:
            out.append(f"--max-pixels must be positive, not {self.max_pixels!r}")
        if any(sep and sep in self.suffix for sep in (os.sep, os.altsep, "\0")):
            out.append(f"the suffix {self.suffix!r} must not contain a path separator")
        if self.temperature is not None:
            from ..core.decode import MAX_T

            if not 0.0 < float(self.temperature) <= MAX_T:
                out.append(f"temperature must lie in (0, {MAX_T:g}], not {self.temperature!r}")
        return out

    def validate(self) -> None:
        """Raise PolychromeError naming every problem of :meth:`problems`."""
        bad = self.problems()
        if bad:
            raise PolychromeError("; ".join(bad))


MIN_MAX_SIDE = 8

DONE, FAILED, SKIPPED = "done", "failed", "skipped"


@dataclass
class FileResult:
    source: Path
    output: Optional[Path] = None
    error: Optional[str] = None
    status: str = ""  # done | failed | skipped ("" : derived from error)
    reason: str = ""  # skipped: why; done: why it was (re)done
    warnings: List[str] = field(default_factory=list)
    page: Optional[int] = None

    def __post_init__(self) -> None:
        if not self.status:
            self.status = DONE if self.error is None else FAILED

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BatchResult:
    results: List[FileResult] = field(default_factory=list)
    input_errors: List[str] = field(default_factory=list)
    cancelled: bool = False
    skipped: List[FileResult] = field(default_factory=list)  # done earlier (the plan's skips)
    left: List[Path] = field(default_factory=list)  # not reached (cancelled)
    stale_temps_removed: List[Path] = field(default_factory=list)

    @property
    def failed(self) -> List[FileResult]:
        return [r for r in self.results if not r.ok]

    @property
    def succeeded(self) -> List[FileResult]:
        return [r for r in self.results if r.ok]

    @property
    def warnings(self) -> List[Tuple[Path, str]]:
        return [(r.source, w) for r in self.results for w in r.warnings]


def expand_inputs(paths: Iterable[str], recursive: bool = True, out_dir: Optional[Path] = None,
                  suffix: str = "_color") -> Tuple[List[Path], List[str]]:
    """Files, folders (searched for supported images) and glob patterns -> (unique files, problems: one line per
    name that gave nothing — not found, no match, unreadable, a folder without images).
    :func:`polychrome.runtime.inputs.collect_inputs` also lists every entry left out and why (kinds, counts)."""
    found = collect_inputs(paths, recursive=recursive, out_dir=out_dir, suffix=suffix)
    return found.files, [s.line() for s in found.skipped if s.is_error or s.kind == EMPTY]


FORMAT_OF_EXTENSION = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg",
                       ".bmp": "png", ".webp": "png"}


def output_format(opts: ExportOptions, image_format: Optional[str] = None, src: Optional[Path] = None) -> str:
    """The output format: the options' own, or for ``same`` the source's (decoded format, else its extension)."""
    fmt = opts.format.lower()
    if fmt == "same":
        if image_format:
            fmt = FORMAT_OF_SOURCE.get(image_format.upper(), "png")
        else:
            fmt = FORMAT_OF_EXTENSION.get(Path(src or "").suffix.lower(), "png")
    fmt = {"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt)
    if fmt not in FORMAT_EXT:
        raise PolychromeError(f"unknown output format {opts.format!r} (png, tiff, jpeg or same)")
    return fmt


def output_path(src: Path, image_format: Optional[str], opts: ExportOptions,
                page: Optional[int] = None) -> Tuple[Path, str]:
    """The output's intended name (before any ``(2)``) and format. A page of a multi-page source (``page``,
    0-based) is named ``<stem>_p<n><suffix>`` (n from 1)."""
    fmt = output_format(opts, image_format, src)
    folder = Path(opts.out_dir) if opts.out_dir else src.parent
    stem = src.stem if page is None else f"{src.stem}_p{page + 1}"
    return folder / f"{stem}{opts.suffix}{FORMAT_EXT[fmt]}", fmt


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


RENDER_SHARE = 0.1  # of a file's export time: colouring at full resolution; the rest is encoding and writing


def write_prediction(
    prediction: Prediction,
    source: SourceImage,
    opts: ExportOptions,
    T: Optional[float] = None,
    out_path: Optional[Path] = None,
    overwrite: Optional[bool] = None,
    progress: Optional[Callable[[float, str], None]] = None,
) -> Path:
    """Write the colorized output of ``source`` (an image already read, or its ``info``) from its ``prediction``.

    The output is rendered at ``T`` (None: ``opts.temperature``, else the model's default) with the options'
    format, bit depth, size, upsampling and gamut mapping; the source's EXIF goes along, its RGB profile too (a
    gray profile becomes sRGB). Named after the source in ``opts.out_dir`` (or beside it), written atomically and
    never over the source; an existing file gets a free ``name (2).ext`` unless ``opts.overwrite``. ``out_path``
    (with ``overwrite``) writes exactly there instead — a name already chosen and claimed in a batch record
    (:func:`claim_output`); its extension gives the format. Raises PolychromeError subclasses with user-facing
    reasons. ``progress(fraction, stage)`` follows the file (colouring, then writing: per strip for TIFF); it may
    raise core.progress.Cancelled to stop, which leaves nothing behind.
    """
    if source.path is None:
        raise ValueError("the source image has no path to name the output after")
    src = Path(source.path)
    if out_path is None:
        out_path, fmt = output_path(src, source.format, opts)
        overwrite = opts.overwrite
        if not overwrite:
            out_path = imageio.unique_path(out_path)
    else:
        out_path = Path(out_path)
        fmt = FORMAT_OF_EXTENSION.get(out_path.suffix.lower()) or output_format(opts, source.format, src)
        overwrite = opts.overwrite if overwrite is None else overwrite
    if T is None:
        T = prediction.manifest.default_T if opts.temperature is None else float(opts.temperature)
    bits = target_bits(source, opts, fmt)
    if progress is not None:
        progress(0.0, "colouring")
    # rendered band by band as the encoder writes: no full-resolution output array (bounded memory for big scans)
    rgb = prediction.render_bands(T, out_dtype=np.uint16 if bits == 16 else np.uint8, method=opts.upsample,
                                  max_side=opts.max_side, gamut_map=opts.gamut != "clip")
    report = progress
    written = None if report is None else (lambda f: report(RENDER_SHARE + (1.0 - RENDER_SHARE) * f, "writing"))
    return imageio.write_image(
        out_path,
        rgb,
        format=fmt,
        bit_depth=bits,
        quality=opts.quality,
        exif=source.exif,
        icc=output_icc(source),
        overwrite=bool(overwrite),
        protect=(src,),
        progress=written,
    )


def colorize_file(colorizer: Colorizer, src: Path, opts: ExportOptions, progress: Optional[Progress] = None) -> Path:
    """Read → colorize → write one file (:func:`write_prediction`), with no batch record. Raises PolychromeError
    subclasses with user-facing reasons."""
    image = imageio.read_image(src, max_pixels=opts.max_pixels)
    output_path(Path(src), image.format, opts)  # a bad output format fails before the inference
    pred = colorizer.predict(image.pixels, progress=progress, name=str(src))
    T = colorizer.default_T if opts.temperature is None else float(opts.temperature)
    return write_prediction(pred, image, opts, T)


# -- batches with a record ------------------------------------------------------------------------------------


def spec_options(opts: ExportOptions, input_size: Optional[int] = None, **extra: Any) -> Dict[str, Any]:
    """The options that decide an output's pixels and name (the batch record's options; not the folder, not
    --overwrite). ``extra``: more such options (e.g. the hints file and its sha256)."""
    d: Dict[str, Any] = {
        "format": opts.format.lower(), "bit_depth": str(opts.bit_depth), "suffix": opts.suffix,
        "quality": opts.quality, "upsample": opts.upsample, "gamut": opts.gamut, "max_side": opts.max_side,
    }
    if input_size is not None:
        d["input_size"] = int(input_size)
    d.update(extra)
    return d


def run_spec(colorizer: Any, opts: ExportOptions, T: Optional[float] = None, **extra: Any) -> RunSpec:
    """The :class:`~polychrome.runtime.batch.RunSpec` of colorizing with ``colorizer`` and ``opts`` at ``T``
    (None: the options' T, else the model's default)."""
    return model_run_spec(colorizer.manifest, colorizer.session.sha256, opts, getattr(colorizer, "input_size", None),
                          T, **extra)


def model_run_spec(manifest: Any, sha256: str, opts: ExportOptions, input_size: Optional[int] = None,
                   T: Optional[float] = None, **extra: Any) -> RunSpec:
    """:func:`run_spec` from a model's manifest and sha256, before (or without) loading the model: a re-run
    whose work is all done never loads it."""
    if T is None:
        T = manifest.default_T if opts.temperature is None else float(opts.temperature)
    size = int(input_size or manifest.input_size)
    return RunSpec(manifest.name, manifest.version, sha256, float(T), spec_options(opts, size, **extra))


def prediction_digest(prediction: Any) -> str:
    """A short digest of a prediction's logits: two exports of equal digests, T and options are the same image."""
    import hashlib

    z = np.ascontiguousarray(prediction.decoder.z)
    return hashlib.sha256(z.tobytes()).hexdigest()[:16]


def claim_output(plan: Plan, item: PlanItem, opts: ExportOptions,
                 image_format: Optional[str] = None) -> Tuple[Path, bool]:
    """Choose ``item``'s output name and claim it in the record, before anything is written: the intended name,
    or our own earlier output of the same source and spec (replaced), or the first free ``name (n)``. Returns
    (path, overwrite). Run by the process that holds the plan (the driver, for the Ray engine)."""
    target, _ = output_path(item.source, image_format, opts, item.page)
    overwrite = opts.overwrite
    if item.replace is not None and same_file(target, item.replace):
        overwrite = True  # our own output of this source under this spec, unchanged since written
    elif not overwrite:
        target = plan.free_name(target)
    plan.claim(item, target)
    return target, overwrite


def _multi_page_warning(src: Path, image_format: str, all_pages: bool) -> Optional[str]:
    if all_pages or image_format not in ("TIFF", "PNG", "WEBP"):
        return None
    n = imageio.page_count(src)
    if n <= 1:
        return None
    what = "pages" if image_format == "TIFF" else "frames"
    return f"has {n} {what}; only the first is colorized (--all-pages colorizes each)"


def process_item(colorizer: Colorizer, plan: Plan, item: PlanItem, opts: ExportOptions,
                 progress: Optional[Progress] = None, all_pages: bool = False) -> FileResult:
    """Read → colorize → claim the output name → write one plan item, and record the outcome. Per-file failures
    become a failed :class:`FileResult` (and a ``failed`` record line); Cancelled propagates."""
    src = item.source
    try:
        image = imageio.read_image(src, max_pixels=opts.max_pixels, page=item.page)
        if progress is not None:
            progress.check()
        output_path(src, image.format, opts, item.page)  # a bad output format fails before the inference
        pred = colorizer.predict(image.pixels, progress=progress, name=item.label)
        target, overwrite = claim_output(plan, item, opts, image.format)
        written = write_prediction(pred, image, opts, item.spec.T, out_path=target, overwrite=overwrite)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - a batch must survive anything one file does
        reason = user_message(exc)
        plan.mark_failed(item, reason)
        return FileResult(src, error=reason, reason=item.reason, page=item.page)
    plan.mark_done(item, written)
    warn = _multi_page_warning(src, image.format, all_pages) if item.page is None else None
    return FileResult(src, written, reason=item.reason, warnings=[warn] if warn else [], page=item.page)


def expand_pages(files: Sequence[Path]) -> List[Union[Path, Tuple[Path, Optional[int]]]]:
    """For --all-pages: each multi-page TIFF / animated PNG or WebP as (path, page) pairs, others as they are."""
    out: List[Union[Path, Tuple[Path, Optional[int]]]] = []
    for f in files:
        n = imageio.page_count(f)
        if n > 1:
            out.extend((Path(f), i) for i in range(n))
        else:
            out.append(Path(f))
    return out


def run_plan(
    colorizer: Colorizer,
    plan: Plan,
    opts: ExportOptions,
    progress: Optional[Progress] = None,
    on_result: Optional[Callable[[FileResult], None]] = None,
    all_pages: bool = False,
) -> BatchResult:
    """Colorize a plan's items to do (the local engine); each failure is recorded and the batch goes on.
    Cancel stops between files (and inside an inference); what was not reached is listed in ``left``."""
    progress = ensure_progress(progress)
    todo = plan.todo
    progress.set_total(len(todo))
    batch = BatchResult(stale_temps_removed=plan.stale_temps_removed)
    batch.skipped = [FileResult(i.source, i.output, status=SKIPPED, reason=i.reason, page=i.page)
                     for i in plan.skipped]
    for item in todo:
        try:
            progress.check()
            res = process_item(colorizer, plan, item, opts, progress, all_pages)
            batch.results.append(res)
            if on_result:
                on_result(res)
            progress.step(1, message=item.label, ok=res.ok)  # checks for cancellation too
        except Cancelled:
            batch.cancelled = True
            break
    batch.left = [i.source for i in todo if not i.status]
    return batch


def run_batch(
    colorizer: Colorizer,
    files: Sequence[Path],
    opts: ExportOptions,
    progress: Optional[Progress] = None,
    on_result: Optional[Callable[[FileResult], None]] = None,
    redo: bool = False,
    all_pages: bool = False,
) -> BatchResult:
    """Colorize many files with a batch record in each output folder: what is done with the same model and
    options is skipped (``redo``: done again), the rest is done; each failure is recorded and the batch goes on."""
    opts.validate()
    sources = expand_pages(files) if all_pages else [Path(f) for f in files]
    with plan_run(sources, run_spec(colorizer, opts), opts.out_dir, redo=redo) as plan:
        plan.mark_run()
        return run_plan(colorizer, plan, opts, progress, on_result, all_pages)


def write_report(path: Path, batch: BatchResult, skipped_inputs: Sequence[Skipped] = ()) -> Path:
    """``--report``: a CSV of the whole run, one row per entry: source, page, output, status, reason."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["source", "page", "output", "status", "reason"])
    for s in skipped_inputs:
        w.writerow([str(s.path), "", "", "skipped", f"{s.kind}: {s.reason}"])
    for r in batch.skipped:
        w.writerow([str(r.source), _page(r.page), str(r.output or ""), "skipped", r.reason])
    for r in batch.results:
        reason = r.error if not r.ok else "; ".join([r.reason, *r.warnings])
        w.writerow([str(r.source), _page(r.page), str(r.output or ""), r.status, reason])
    for src in batch.left:
        w.writerow([str(src), "", "", "left", "not reached: the run was interrupted"])
    return imageio.atomic_write_bytes(Path(path), buf.getvalue().encode("utf-8"))


def _page(page: Optional[int]) -> str:
    return "" if page is None else str(page + 1)


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
