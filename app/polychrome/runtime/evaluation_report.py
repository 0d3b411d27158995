"""The model-card report of an evaluation: markdown tables per group, the verdict against the quality targets,
strict JSON with one line per photo, the contact sheet and the temperature-sweep table.

The numbers come from :mod:`polychrome.runtime.evaluation`; this module only formats them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..core.jsonsafe import json_safe
from ..core.metrics import METRIC_INFO
from ..core.pixels import to_uint8
from .evaluation import GRAY, GROUPS, EvalModel, Rendered, Variant

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


# -- verdict -----------------------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    passed: bool
    text: str


def verdict(summary_all: Dict[str, Dict[str, float]], models: Sequence[EvalModel]) -> List[Check]:
    """The targets, judged on all photos with the model at its default T."""
    gray = summary_all[GRAY]
    ours = summary_all[models[0].default_variant.key]
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
            cf, cf_l2 = ours["colorfulness"], summary_all[m.default_variant.key]["colorfulness"]
            checks.append(Check("vs_l2", cf > cf_l2, f"CF {cf:.1f} vs {m.name} {cf_l2:.1f} (more colourful)"))
            break
    return checks


def verdict_line(checks: Sequence[Check]) -> str:
    passed = sum(c.passed for c in checks)
    head = "PASS" if passed == len(checks) else "FAIL"
    parts = "; ".join(f"{c.text} {'ok' if c.passed else 'MISSED'}" for c in checks)
    return f"verdict: {head} ({passed}/{len(checks)} targets) -- {parts}"


# -- tables ------------------------------------------------------------------------------------------------------


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
    models: Sequence[EvalModel],
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
        n = int(next(iter(table.values()))["n"])
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


def sweep_table(result: Dict[str, Any]) -> str:
    lines = ["| T | CF / gt | CF | PSNR (dB) | PSNR − gray (dB) |", "|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        mark = " ←" if r["T"] == result["best_T"] else ""
        lines.append(
            f"| {r['T']:.2f}{mark} | {r['rel_colorfulness']:.3f} | {r['colorfulness']:.1f} | {r['psnr']:.2f} "
            f"| {r['psnr'] - result['gray_psnr']:+.2f} |"
        )
    return "\n".join(lines)


# -- contact sheet -----------------------------------------------------------------------------------------------


def sheet_labels(models: Sequence[EvalModel]) -> List[str]:
    """Contact-sheet column headers (ASCII: cv2.putText draws no other characters)."""
    return ["gray input", "ground truth"] + [f"{m.name} T={m.default_T:g}" for m in models]


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


def put_text(
    img: np.ndarray, text: str, x: int, y: int, max_width: int, scale: float = 0.55, center: bool = False
) -> None:
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


def sheet_cells(row: Rendered, models: Sequence[EvalModel]) -> List[np.ndarray]:
    """The uint8 images of one contact-sheet row: gray input, ground truth, each model at its default T."""
    return [to_uint8(img) for img in [row.gray, row.truth, *(row.renders[m.name] for m in models)]]


def contact_sheet(rows: Sequence[Rendered], models: Sequence[EvalModel]) -> np.ndarray:
    """uint8 RGB contact sheet: a header row of column labels, then per photo a caption and letterboxed cells."""
    labels = sheet_labels(models)
    cell, width, height = sheet_geometry(len(rows), len(labels))
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = SHEET_BACKGROUND
    for j, label in enumerate(labels):
        x = SHEET_GAP + j * (cell + SHEET_GAP)
        put_text(sheet, label, x, SHEET_HEADER - 12, cell, scale=0.6, center=True)
    for i, row in enumerate(rows):
        top = SHEET_HEADER + i * (SHEET_CAPTION + cell + SHEET_GAP)
        put_text(sheet, f"{row.source} / {row.file}", SHEET_GAP, top + SHEET_CAPTION - 6, width - 2 * SHEET_GAP, 0.45)
        for j, img in enumerate(sheet_cells(row, models)):
            x = SHEET_GAP + j * (cell + SHEET_GAP)
            sheet[top + SHEET_CAPTION : top + SHEET_CAPTION + cell, x : x + cell] = letterbox(img, cell)
    return sheet
