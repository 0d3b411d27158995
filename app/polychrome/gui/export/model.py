"""The export feature's model, in plain Python (no Qt): the choices the dialog offers, the options it gives
(:class:`~polychrome.runtime.pipeline.ExportOptions` fields plus the scope), why a set-up cannot start, where the
first file would go, and the summary of an export's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ...core import imageio
from ...runtime.pipeline import ExportOptions, output_path

SCOPE_CURRENT, SCOPE_ALL = "current", "all"
FORMATS = [("Same as the source", "same"), ("PNG", "png"), ("TIFF", "tiff"), ("JPEG", "jpeg")]
BIT_DEPTHS = [("Same as the source", "source"), ("8 bits per channel", "8"), ("16 bits per channel", "16")]
UPSAMPLING = [("Bicubic", "bicubic"), ("Bilinear", "bilinear"), ("Guided (follows the scan's edges)", "guided")]
GAMUT = [("Keep lightness (desaturate out-of-gamut colours)", "keep-lightness"), ("Clip channels (faster)", "clip")]
FORMAT_OF_SUFFIX = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".png": "PNG",
                    ".bmp": "BMP", ".webp": "WEBP"}
BAD_SUFFIX_CHARS = '/\\:*?"<>|'



def split_options(options: Mapping[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """The dialog's options → (scope, keyword arguments of ``ColorizeController.export``)."""
    opts = dict(options)
    scope = opts.pop("scope", SCOPE_ALL)
    return scope, opts


def to_export_options(options: Mapping[str, Any]) -> ExportOptions:
    """The dialog's options as runtime.pipeline.ExportOptions (without the scope)."""
    _scope, o = split_options(options)
    out_dir = o.pop("out_dir", None)
    return ExportOptions(out_dir=Path(out_dir) if out_dir else None, **o)


def setup_problem(anything: bool, beside: bool, folder: str, suffix: str) -> str:
    """Why the export cannot start as set up ("" when it can): ``anything`` to export, outputs ``beside`` the
    originals or in ``folder``, the name ``suffix``."""
    if not anything:
        return "Nothing is colorized yet."
    if not beside:
        folder = folder.strip()
        if not folder:
            return "Choose a folder, or export next to the originals."
        if not Path(folder).is_dir():
            return "That folder does not exist."
    if any(ch in suffix for ch in BAD_SUFFIX_CHARS):
        return f"The suffix cannot contain any of {BAD_SUFFIX_CHARS}"
    if not suffix and beside:
        return "Next to the originals, a name suffix is needed (originals are never replaced)."
    return ""


def example_text(src: Path, opts: ExportOptions) -> str:
    """Where ``src`` would go, e.g. ``Example: /out/photo_color.png``, and what happens if that name exists."""
    target, _fmt = output_path(src, FORMAT_OF_SUFFIX.get(src.suffix.lower(), "PNG"), opts)
    text = f"Example: {target}"
    if target.exists() or target == src:
        if opts.overwrite and target != src:
            text += "  — exists and will be replaced"
        else:
            text += f"  — taken, so it will be saved as {imageio.unique_path(target).name}"
    return text


def summarize_results(results: Sequence[Tuple[int, Optional[Path], str]],
                      names: Optional[Mapping[int, str]] = None) -> Tuple[str, List[str]]:
    """("3 images exported, 1 failed", ["name — reason", ...]) for ColorizeController.export's results."""
    names = names or {}
    failures = [f"{names.get(row, f'image {row + 1}')} — {reason or 'failed'}"
                for row, out, reason in results if out is None]
    ok = len(results) - len(failures)
    head = f"{ok} image{'s' if ok != 1 else ''} exported"
    if failures:
        head += f", {len(failures)} failed"
    return head, failures
