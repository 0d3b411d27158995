#!/usr/bin/env python3
"""Evaluate a Polychrome model on the validation photos: tables for a model card, a verdict and a contact sheet.

Every validation photo is turned gray with its own L* (:func:`polychrome.core.color.rgb_to_gray`), colorized, and
scored against the original with :func:`polychrome.core.metrics.compute_all` -- the recipe of
:func:`polychrome.runtime.pipeline.evaluate_image`. Each model runs once per photo; every temperature is only a
decode of the cached :class:`~polychrome.runtime.colorizer.Prediction`. The gray input itself (ab = 0) is scored
as the baseline.

Usage (from the repository root)::

    PYTHONPATH=app .venv/bin/python tools/evaluate_model.py --model MODEL.onnx [--compare NAME=PATH ...]
        [--data DIR] [--temperatures 0.2,0.38,0.6,1.0] [--max-per-source N] [--out DIR] [--input-size PX]
        [--compare-all-T] [--sheet-per-source K] [--sweep]

Groups: every first-level subfolder of ``--data`` (a "source"), "scenes" (bsds500_val, cid22_val, intel), "faces"
(lfw, utkface) and "all". Every group mean weighs photos equally (so "all" leans towards the larger folders unless
``--max-per-source`` evens them out).

Outputs, in ``--out`` (default ``./eval_<model stem>``):

* ``metrics.md`` -- one markdown table per group (rows: gray baseline, the model at each T, each ``--compare`` model
  at its default T), ready to paste into a model card, plus the verdict;
* ``metrics.json`` -- the settings, the group means (raw metric values: AuC as a fraction 0..1), the verdict, and
  every photo's metrics for every variant (exactly :meth:`ImageMetrics.to_dict`);
* ``contact_sheet.png`` -- rows of photos (``--sheet-per-source`` per source, evenly spaced), columns: gray input,
  ground truth, the model at its default T, each compare model at its default T.

Stdout gets the table of all photos and a one-line verdict against the targets: PSNR >= gray + 1 dB, colourfulness
within 20 % of the ground truth's, AuC >= gray + 1.5 points (percent), and more colourful than the compare model
named "L2" when there is one. The exit status does not depend on the verdict (0 = evaluated, 1 = error).

``--sweep`` instead decodes the model at T = 0.10, 0.15, ..., 1.00 on the same subset and prints the mean relative
colourfulness and PSNR per T, with the T whose colourfulness is nearest the ground truth's (to choose a default T).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
try:
    import polychrome  # noqa: F401
except ImportError:  # run without PYTHONPATH=app
    sys.path.insert(0, str(ROOT / "app"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from polychrome.core import imageio  # noqa: E402
from polychrome.core.jsonsafe import json_safe  # noqa: E402
from polychrome.core.pixels import to_uint8  # noqa: E402
from polychrome.core.color import rgb_to_gray, srgb_to_lab  # noqa: E402
from polychrome.core.hints import ColorHint, hints_from_truth  # noqa: E402
from polychrome.core.merge import lightness  # noqa: E402
from polychrome.core.errors import PolychromeError  # noqa: E402
from polychrome.core.metrics import METRIC_INFO, colorfulness, compute_all, psnr  # noqa: E402
from polychrome.runtime.colorizer import Colorizer, Prediction  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "val"
DEFAULT_TEMPERATURES = (0.2, 0.38, 0.6, 1.0)
SWEEP_TEMPERATURES = tuple(round(0.1 + 0.05 * i, 2) for i in range(19))  # 0.10, 0.15, ..., 1.00
GROUPS: Dict[str, Tuple[str, ...]] = {
    "scenes": ("bsds500_val", "cid22_val", "intel"),
    "faces": ("lfw", "utkface"),
}
GRAY = "gray"  # the baseline's variant key
OURS = "ours"  # the evaluated model's name in tables
L2_NAME = "L2"  # the compare model the colourfulness target refers to (matched case-insensitively)

# Targets of the verdict.
TARGET_PSNR_GAIN_DB = 1.0
TARGET_CF_TOLERANCE = 0.20
TARGET_AUC_GAIN_POINTS = 1.5

# Table columns: (metric key, scale for display, number format). "rel_colorfulness" is mean CF / mean CF gt.
COLUMNS: Tuple[Tuple[str, float, str], ...] = (
    ("psnr", 1.0, "{:.2f}"),
    ("ssim", 1.0, "{:.4f}"),
    ("auc", 100.0, "{:.2f}"),
    ("delta_e", 1.0, "{:.2f}"),
    ("colorfulness", 1.0, "{:.1f}"),
    ("colorfulness_gt", 1.0, "{:.1f}"),
    ("rel_colorfulness", 1.0, "{:.2f}"),
)
METRIC_KEYS = tuple(METRIC_INFO)  # the fields of ImageMetrics, averaged per group

# Contact sheet layout (pixels).
SHEET_MAX_WIDTH = 2400
SHEET_MAX_CELL = 256
SHEET_GAP = 8
SHEET_HEADER = 40
SHEET_CAPTION = 22
SHEET_BACKGROUND = (255, 255, 255)
SHEET_LETTERBOX = (224, 224, 224)
SHEET_TEXT = (20, 20, 20)
FONT = cv2.FONT_HERSHEY_SIMPLEX


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------


def evenly_spaced(items: Sequence, n: Optional[int]) -> list:
    """``n`` items spread evenly over ``items`` (the centres of n equal slices); all of them if n is None or large."""
    items = list(items)
    if n is None or n >= len(items):
        return items
    if n <= 0:
        return []
    return [items[int((i + 0.5) * len(items) / n)] for i in range(n)]


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
    sources = list(sources)
    groups = {"all": sources}
    for name, members in GROUPS.items():
        present = [s for s in members if s in sources]
        if present:
            groups[name] = present
    for s in sources:
        groups.setdefault(s, [s])
    return groups


def parse_temperatures(text: str) -> Tuple[float, ...]:
    try:
        temps = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not temps or any(not (0.0 < t <= 10.0) for t in temps):
        raise argparse.ArgumentTypeError("temperatures must be > 0 (e.g. 0.2,0.38,0.6,1.0)")
    return temps


def parse_compare(text: str) -> Tuple[str, str]:
    name, sep, path = text.partition("=")
    name = name.strip()
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    if name.lower() in (GRAY, OURS):
        raise argparse.ArgumentTypeError(f"{name!r} is reserved; choose another name")
    return name, path


# ---------------------------------------------------------------------------------------------------------------
# Models and variants
# ---------------------------------------------------------------------------------------------------------------


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
        if self.model is None:
            return GRAY
        return f"{self.model}{f'+{self.hints}h' if self.hints else ''}@{t_key(self.T)}"

    @property
    def method(self) -> str:
        if self.model is None:
            return "gray (ab = 0)"
        return f"{self.model} + {self.hints} true hints" if self.hints else self.model

    @property
    def t_text(self) -> str:
        if self.model is None:
            return "–"
        return f"{self.T:g} (default)" if self.is_default else f"{self.T:g}"


@dataclass
class Model:
    """A model to evaluate, with the temperatures it is decoded at."""

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


def load_models(
    model: str,
    compare: Sequence[Tuple[str, str]] = (),
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    input_size: Optional[int] = None,
    compare_all_T: bool = False,
    hints: int = 0,
) -> List[Model]:
    """The evaluated model ("ours", at ``temperatures`` plus its default T, and with ``hints`` ground-truth hints
    if it takes hints) and the compare models (default T)."""
    ours = Colorizer(model, input_size=input_size)
    models = [Model(OURS, ours, tuple(sorted(set(map(float, temperatures)) | {float(ours.default_T)})), hints)]
    seen = {OURS}
    for name, path in compare:
        if name in seen:
            raise PolychromeError(f"--compare name {name!r} given twice")
        seen.add(name)
        col = Colorizer(path, input_size=input_size)
        temps = {float(col.default_T)} | (set(map(float, temperatures)) if compare_all_T else set())
        models.append(Model(name, col, tuple(sorted(temps))))
    return models


def all_variants(models: Sequence[Model]) -> List[Variant]:
    return [Variant(None)] + [v for m in models for v in m.variants]


def default_variant(model: Model) -> Variant:
    return Variant(model.name, model.default_T, True)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class SheetRow:
    """One contact-sheet row: uint8 RGB images keyed by column label."""

    source: str
    file: str
    cells: Dict[str, np.ndarray]


@dataclass
class Evaluation:
    records: List[Dict[str, object]] = field(default_factory=list)  # one per photo and variant
    skipped: List[Dict[str, str]] = field(default_factory=list)
    sheet: List[SheetRow] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)  # photos evaluated per source


def read_ground_truth(path: Path) -> np.ndarray:
    """The colour photo as (H, W, 3) uint8/uint16; raises PolychromeError for unreadable or gray files."""
    image = imageio.read_image(path)
    if image.is_gray:
        raise PolychromeError("is a grayscale image; evaluation needs colour photos")
    return image.pixels


def truth_hints(colorizer: Colorizer, rgb: np.ndarray, n: int, name: str) -> List[ColorHint]:
    """``n`` hints from the photo's own colours, picked on the network's input grid (3×3 patches, positions
    seeded by the file name, so every model and run gets the same clicks)."""
    prep = colorizer.prepare(lightness(rgb))
    h, w = prep.size
    small = cv2.resize(to_rgb_unit(rgb), (w, h), interpolation=cv2.INTER_AREA)
    ab = srgb_to_lab(small)[..., 1:]
    seed = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big")
    return hints_from_truth(ab, n, np.random.default_rng(seed), patch=3, image_shape=rgb.shape[:2])


def to_rgb_unit(rgb: np.ndarray) -> np.ndarray:
    scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
    return rgb.astype(np.float32) * np.float32(1.0 / scale)


def sheet_labels(models: Sequence[Model]) -> List[str]:
    """Contact-sheet column headers (ASCII: cv2.putText draws no other characters)."""
    return ["gray input", "ground truth"] + [f"{m.name} T={m.default_T:g}" for m in models]


def evaluate(
    models: Sequence[Model],
    sources: Dict[str, List[Path]],
    sheet_per_source: int = 2,
    log: Callable[[str], None] = lambda s: None,
) -> Evaluation:
    """Score every photo of ``sources`` for the gray baseline and every variant of every model.

    Each model runs once per photo (:meth:`Colorizer.predict` on the gray version); each temperature is a decode of
    that prediction, rendered at full resolution in the photo's own bit depth and scored with ``compute_all``.
    """
    result = Evaluation()
    labels = sheet_labels(models)
    total = sum(len(files) for files in sources.values())
    done = 0
    t0 = time.monotonic()
    for source, files in sources.items():
        on_sheet = set(evenly_spaced(files, sheet_per_source))
        result.counts[source] = 0
        for path in files:
            done += 1
            try:
                rgb = read_ground_truth(path)
            except PolychromeError as exc:
                reason = getattr(exc, "reason", None) or str(exc)
                result.skipped.append({"source": source, "file": path.name, "reason": reason})
                log(f"skipped {source}/{path.name}: {reason}")
                continue
            gray = rgb_to_gray(rgb)
            base = {"source": source, "file": path.name}
            result.records.append({**base, "variant": GRAY, **compute_all(np.dstack([gray] * 3), rgb).to_dict()})
            renders: Dict[str, np.ndarray] = {}
            for model in models:
                pred: Prediction = model.colorizer.predict(gray, name=str(path))  # the one inference
                for variant in model.variants:
                    if variant.hints:  # a second inference, steered by hints taken from the ground truth
                        hints = truth_hints(model.colorizer, rgb, variant.hints, path.name)
                        col = model.colorizer.predict(gray, hints=hints).render(variant.T, out_dtype=rgb.dtype)
                    else:
                        col = pred.render(variant.T, out_dtype=rgb.dtype)
                    result.records.append({**base, "variant": variant.key, **compute_all(col, rgb).to_dict()})
                    if variant.is_default:
                        renders[model.name] = col
            result.counts[source] += 1
            if path in on_sheet:
                cells = [np.dstack([gray] * 3), rgb] + [renders[m.name] for m in models]
                result.sheet.append(SheetRow(source, path.name, {k: to_uint8(v) for k, v in zip(labels, cells)}))
            if done % 25 == 0 or done == total:
                log(f"[{done}/{total}] {source}/{path.name}  ({time.monotonic() - t0:.0f} s)")
    if not result.records:
        raise PolychromeError("no photo could be evaluated")
    return result


def finite_mean(values: Iterable[float]) -> float:
    """Mean of the finite values (an identical pair has PSNR = inf); NaN if there are none."""
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    return float(np.mean(v)) if v else math.nan


def summarize(
    records: Sequence[Dict[str, object]], groups: Dict[str, List[str]], variants: Sequence[Variant]
) -> Dict[str, Dict[str, Dict[str, float]]]:
    """group -> variant key -> {"n", the mean of each metric, "rel_colorfulness" = mean CF / mean CF gt}."""
    summary: Dict[str, Dict[str, Dict[str, float]]] = {}
    for group, members in groups.items():
        members_set = set(members)
        table: Dict[str, Dict[str, float]] = {}
        for v in variants:
            rows = [r for r in records if r["variant"] == v.key and r["source"] in members_set]
            if not rows:
                continue
            means = {k: finite_mean(r[k] for r in rows) for k in METRIC_KEYS}
            cf_gt = means["colorfulness_gt"]
            means["rel_colorfulness"] = means["colorfulness"] / cf_gt if cf_gt else math.nan
            table[v.key] = {"n": len(rows), **means}
        if table:
            summary[group] = table
    return summary


# ---------------------------------------------------------------------------------------------------------------
# Verdict
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    passed: bool
    text: str


def verdict(summary_all: Dict[str, Dict[str, float]], models: Sequence[Model]) -> List[Check]:
    """The targets, judged on all photos with the model at its default T."""
    gray = summary_all[GRAY]
    ours = summary_all[default_variant(models[0]).key]
    checks = []
    gain = ours["psnr"] - gray["psnr"]
    text = f"PSNR {gain:+.2f} dB vs gray (>= +{TARGET_PSNR_GAIN_DB:g})"
    checks.append(Check("psnr", gain >= TARGET_PSNR_GAIN_DB, text))
    rel = ours["rel_colorfulness"]
    lo, hi = 1.0 - TARGET_CF_TOLERANCE, 1.0 + TARGET_CF_TOLERANCE
    checks.append(Check("colorfulness", bool(lo <= rel <= hi), f"CF/gt {rel:.2f} ({lo:.2f}..{hi:.2f})"))
    gain = 100.0 * (ours["auc"] - gray["auc"])
    text = f"AuC {gain:+.2f} pts vs gray (>= +{TARGET_AUC_GAIN_POINTS:g})"
    checks.append(Check("auc", gain >= TARGET_AUC_GAIN_POINTS, text))
    for m in models[1:]:
        if m.name.lower() == L2_NAME.lower():
            cf, cf_l2 = ours["colorfulness"], summary_all[default_variant(m).key]["colorfulness"]
            checks.append(Check("vs_l2", cf > cf_l2, f"CF {cf:.1f} vs {m.name} {cf_l2:.1f} (more colourful)"))
            break
    return checks


def verdict_line(checks: Sequence[Check]) -> str:
    passed = sum(c.passed for c in checks)
    head = "PASS" if passed == len(checks) else "FAIL"
    parts = "; ".join(f"{c.text} {'ok' if c.passed else 'MISSED'}" for c in checks)
    return f"verdict: {head} ({passed}/{len(checks)} targets) -- {parts}"


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------


def column_header(key: str) -> str:
    if key == "rel_colorfulness":
        return "CF / gt"
    info = METRIC_INFO[key]
    unit = "%" if key == "auc" else info.unit
    text = f"{info.short} ({unit})" if unit else info.short
    # Colourfulness should match the ground truth's rather than grow without bound: no arrow for it.
    better = None if key == "colorfulness" else info.higher_is_better
    return text + {True: " ↑", False: " ↓", None: ""}[better]


def markdown_table(table: Dict[str, Dict[str, float]], variants: Sequence[Variant]) -> str:
    """A markdown table: one row per variant present in ``table``, the COLUMNS as columns."""
    header = ["Method", "T"] + [column_header(k) for k, _, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * len(COLUMNS)) + "|"]
    for v in variants:
        row = table.get(v.key)
        if row is None:
            continue
        cells = [v.method, v.t_text]
        for key, scale, fmt in COLUMNS:
            value = row[key]
            cells.append(fmt.format(value * scale) if math.isfinite(value) else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def group_title(group: str, members: Sequence[str], n: int) -> str:
    if group == "all":
        return f"All photos (n = {n})"
    if group in GROUPS:
        return f"{group.capitalize()}: {', '.join(members)} (n = {n})"
    return f"{group} (n = {n})"


def render_markdown(
    summary: Dict[str, Dict[str, Dict[str, float]]],
    groups: Dict[str, List[str]],
    variants: Sequence[Variant],
    models: Sequence[Model],
    data_dir: Path,
    counts: Dict[str, int],
    max_per_source: Optional[int],
    checks: Sequence[Check],
) -> str:
    ours = models[0]
    m = ours.colorizer.manifest
    lines = [f"# Evaluation of {m.name} {m.version}", ""]
    lines.append(f"Model `{m.path}` (default T = {ours.default_T:g}, input size {ours.colorizer.input_size} px).")
    for c in models[1:]:
        cm = c.colorizer.manifest
        lines.append(f"Compared with {c.name}: {cm.name} {cm.version}, `{cm.path}` (default T = {c.default_T:g}).")
    per_source = ", ".join(f"{s} {n}" for s, n in counts.items())
    subset = f", at most {max_per_source} per source (evenly spaced)" if max_per_source else ""
    lines += [
        "",
        f"Data: `{data_dir}`: {sum(counts.values())} photos ({per_source}){subset}.",
        "",
        "Each photo is turned gray with its own L*, colorized, and compared with the original; "
        "\"gray (ab = 0)\" scores the gray input itself. Means over photos. "
        "AuC: area under the cumulative ab-error curve (thresholds 0..150), in percent. "
        "ΔE00: mean CIEDE2000. CF: Hasler & Süsstrunk colourfulness of the result; CF gt: of the originals; "
        "CF / gt = mean CF / mean CF gt (1 is best). ↑ higher is better, ↓ lower is better.",
        "",
        f"**{verdict_line(checks)}**",
    ]
    for group, table in summary.items():
        n = next(iter(table.values()))["n"]
        lines += ["", f"## {group_title(group, groups[group], n)}", "", markdown_table(table, variants)]
    return "\n".join(lines) + "\n"


def dump_json(report: Dict[str, object], one_line_lists: Tuple[str, ...] = ("images", "skipped")) -> str:
    """Indented JSON, except that the long per-photo lists named in ``one_line_lists`` get one line per item."""
    report = json_safe(report)
    parts = []
    for key, value in report.items():
        if key in one_line_lists and isinstance(value, list):
            items = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
            text = f"[\n{items}\n ]" if value else "[]"
        else:
            text = json.dumps(value, indent=1, ensure_ascii=False).replace("\n", "\n ")
        parts.append(f" {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


# ---------------------------------------------------------------------------------------------------------------
# Contact sheet
# ---------------------------------------------------------------------------------------------------------------


def sheet_geometry(n_rows: int, n_cols: int) -> Tuple[int, int, int]:
    """(cell side, sheet width, sheet height) for a contact sheet of ``n_rows`` x ``n_cols`` square cells."""
    cell = min(SHEET_MAX_CELL, (SHEET_MAX_WIDTH - SHEET_GAP * (n_cols + 1)) // n_cols)
    width = n_cols * cell + (n_cols + 1) * SHEET_GAP
    height = SHEET_HEADER + n_rows * (SHEET_CAPTION + cell + SHEET_GAP)
    return cell, width, height


def letterbox(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` scaled to fit a ``side`` x ``side`` cell (aspect kept), centred on the letterbox colour."""
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    small = cv2.resize(rgb, (nw, nh), interpolation=interp)
    cell = np.empty((side, side, 3), np.uint8)
    cell[:] = SHEET_LETTERBOX
    y, x = (side - nh) // 2, (side - nw) // 2
    cell[y : y + nh, x : x + nw] = small
    return cell


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def put_text(img: np.ndarray, text: str, x: int, y: int, max_width: int, scale: float = 0.55, center: bool = False):
    """Draw one line of text with its baseline at y, shrunk until it fits ``max_width``."""
    text = _ascii(text)
    thickness = 1
    while True:
        (tw, _), _ = cv2.getTextSize(text, FONT, scale, thickness)
        if tw <= max_width or scale <= 0.3:
            break
        scale *= 0.9
    if tw > max_width:  # still too wide at the smallest size: cut the text
        while text and cv2.getTextSize(text + "..", FONT, scale, thickness)[0][0] > max_width:
            text = text[:-1]
        text += ".."
        tw = cv2.getTextSize(text, FONT, scale, thickness)[0][0]
    if center:
        x += max(0, (max_width - tw) // 2)
    cv2.putText(img, text, (x, y), FONT, scale, SHEET_TEXT, thickness, cv2.LINE_AA)


def contact_sheet(rows: Sequence[SheetRow], labels: Sequence[str]) -> np.ndarray:
    """uint8 RGB contact sheet: a header row of column labels, then per photo a caption and letterboxed cells."""
    cell, width, height = sheet_geometry(len(rows), len(labels))
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = SHEET_BACKGROUND
    for j, label in enumerate(labels):
        x = SHEET_GAP + j * (cell + SHEET_GAP)
        put_text(sheet, label, x, SHEET_HEADER - 12, cell, scale=0.6, center=True)
    for i, row in enumerate(rows):
        top = SHEET_HEADER + i * (SHEET_CAPTION + cell + SHEET_GAP)
        put_text(sheet, f"{row.source} / {row.file}", SHEET_GAP, top + SHEET_CAPTION - 6, width - 2 * SHEET_GAP, 0.45)
        for j, label in enumerate(labels):
            x = SHEET_GAP + j * (cell + SHEET_GAP)
            sheet[top + SHEET_CAPTION : top + SHEET_CAPTION + cell, x : x + cell] = letterbox(row.cells[label], cell)
    return sheet


# ---------------------------------------------------------------------------------------------------------------
# Temperature sweep
# ---------------------------------------------------------------------------------------------------------------


def sweep(
    model: Model,
    sources: Dict[str, List[Path]],
    temperatures: Sequence[float] = SWEEP_TEMPERATURES,
    log: Callable[[str], None] = lambda s: None,
) -> Dict[str, object]:
    """Mean relative colourfulness (mean CF / mean CF gt) and mean PSNR of ``model`` at each T; one inference per
    photo. Returns {"rows": [{"T", "rel_colorfulness", "colorfulness", "psnr"}], "gray_psnr", "colorfulness_gt",
    "n", "best_T"} where best_T has the relative colourfulness nearest 1."""
    cf = {T: [] for T in temperatures}
    ps = {T: [] for T in temperatures}
    cf_gt: List[float] = []
    gray_psnr: List[float] = []
    files = [(s, p) for s, paths in sources.items() for p in paths]
    for k, (source, path) in enumerate(files, 1):
        try:
            rgb = read_ground_truth(path)
        except PolychromeError as exc:
            log(f"skipped {source}/{path.name}: {getattr(exc, 'reason', None) or exc}")
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


def sweep_table(result: Dict[str, object]) -> str:
    lines = ["| T | CF / gt | CF | PSNR (dB) | PSNR − gray (dB) |", "|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        mark = " ←" if r["T"] == result["best_T"] else ""
        lines.append(
            f"| {r['T']:.2f}{mark} | {r['rel_colorfulness']:.3f} | {r['colorfulness']:.1f} | {r['psnr']:.2f} "
            f"| {r['psnr'] - result['gray_psnr']:+.2f} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evaluate_model.py",
        description="Evaluate a Polychrome model on validation photos (one folder per source): markdown/JSON "
        "tables, a contact sheet and a verdict against the targets.",
    )
    p.add_argument("--model", required=True, help="the model to evaluate (.onnx path or installed model name)")
    p.add_argument("--compare", action="append", type=parse_compare, default=[], metavar="NAME=PATH",
                   help="another model to compare with, at its default T (repeatable; name one 'L2' for the "
                   "colourfulness target)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="folder with one subfolder of colour photos per source (default: %(default)s)")
    p.add_argument("--temperatures", type=parse_temperatures, default=DEFAULT_TEMPERATURES,
                   help="temperatures for the model, comma-separated; its default T is always added "
                   "(default: 0.2,0.38,0.6,1.0)")
    p.add_argument("--max-per-source", type=int, default=None, metavar="N",
                   help="evaluate at most N photos per source, evenly spaced (default: all)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for metrics.md, metrics.json and contact_sheet.png (default: ./eval_<model stem>)")
    p.add_argument("--input-size", type=int, default=None, metavar="PX",
                   help="network input size (long side) for every model (default: each model's own)")
    p.add_argument("--compare-all-T", action="store_true",
                   help="also decode the compare models at every --temperatures value")
    p.add_argument("--sheet-per-source", type=int, default=2, metavar="K",
                   help="photos per source on the contact sheet (default: %(default)s)")
    p.add_argument("--hints", type=int, default=0, metavar="N",
                   help="also score the model at its default T with N hints taken from each photo's own colours "
                   "(hint-taking models only; default: 0)")
    p.add_argument("--sweep", action="store_true",
                   help="only sweep T = 0.10..1.00 for the model: mean CF / gt and PSNR per T (no tables)")
    return p


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_per_source is not None and args.max_per_source < 1:
        _log("error: --max-per-source must be at least 1")
        return 2
    try:
        sources = list_sources(args.data, args.max_per_source)
        models = load_models(
            args.model, args.compare, args.temperatures, args.input_size, args.compare_all_T, max(0, args.hints)
        )
        if args.sweep:
            return _run_sweep(args, models[0], sources)
        return _run_evaluation(args, models, sources)
    except PolychromeError as exc:
        _log(f"error: {exc}")
        return 1


def _run_sweep(args, model: Model, sources: Dict[str, List[Path]]) -> int:
    result = sweep(model, sources, log=_log)
    print(f"Temperature sweep of {model.colorizer.manifest.name} on {result['n']} photos "
          f"(ground-truth CF {result['colorfulness_gt']:.1f}, gray PSNR {result['gray_psnr']:.2f} dB):")
    print(sweep_table(result))
    best = next(r for r in result["rows"] if r["T"] == result["best_T"])
    print(f"suggested default T = {result['best_T']:.2f} (CF / gt = {best['rel_colorfulness']:.3f}; "
          f"the model's current default is {model.default_T:g})")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "sweep.json").write_text(json.dumps(json_safe(result), indent=2) + "\n", encoding="utf-8")
    return 0


def _run_evaluation(args, models: List[Model], sources: Dict[str, List[Path]]) -> int:
    out: Path = args.out if args.out is not None else Path(f"eval_{Path(args.model).stem}")
    out.mkdir(parents=True, exist_ok=True)
    ev = evaluate(models, sources, args.sheet_per_source, log=_log)
    counts = {s: n for s, n in ev.counts.items() if n}
    groups = group_members(counts)
    variants = all_variants(models)
    summary = summarize(ev.records, groups, variants)
    checks = verdict(summary["all"], models)

    md = render_markdown(summary, groups, variants, models, args.data, counts, args.max_per_source, checks)
    (out / "metrics.md").write_text(md, encoding="utf-8")
    report = {
        "tool": "tools/evaluate_model.py",
        "models": [m.describe() for m in models],
        "data": str(args.data),
        "max_per_source": args.max_per_source,
        "counts": counts,
        "groups": groups,
        "variants": [{"key": v.key, "model": v.model, "T": v.T, "default": v.is_default} for v in variants],
        "notes": "means over photos of polychrome.core.metrics.compute_all; auc as a fraction (0..1); "
        "rel_colorfulness = mean colorfulness / mean colorfulness_gt",
        "summary": summary,
        "verdict": {"passed": all(c.passed for c in checks), "line": verdict_line(checks),
                    "checks": [{"name": c.name, "passed": c.passed, "text": c.text} for c in checks]},
        "images": ev.records,
        "skipped": ev.skipped,
    }
    (out / "metrics.json").write_text(dump_json(report), encoding="utf-8")
    if ev.sheet:
        imageio.write_image(out / "contact_sheet.png", contact_sheet(ev.sheet, sheet_labels(models)), overwrite=True)

    print(f"## {group_title('all', groups['all'], summary['all'][GRAY]['n'])}\n")
    print(markdown_table(summary["all"], variants))
    print()
    print(verdict_line(checks))
    _log(f"wrote {out / 'metrics.md'}, {out / 'metrics.json'}" + (f", {out / 'contact_sheet.png'}" if ev.sheet else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.stdout.reconfigure(errors="replace")  # type: ignore[attr-defined]
    except AttributeError:
        pass
    sys.exit(main())
