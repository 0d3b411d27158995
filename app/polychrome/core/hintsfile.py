"""The hints file: colour points (and optionally a reference photo) that belong to one image.

    {"points": [{"x": 120.5, "y": 88.0, "ab": [52.0, 38.5], "radius": 3}],
     "reference": "optional/path.jpg", "reference_strength": 1.0}

``x``, ``y`` are in the source image's pixels after its EXIF orientation is applied, origin top-left; ``ab`` is
CIELAB a*, b*; ``radius`` (optional) is in source pixels. A point covers a square of side ``2·radius`` source
pixels, which becomes a patch of 1–9 pixels on the network's input (:func:`patch_size`). Unknown keys are
ignored (files from later versions still load); anything else wrong is one :class:`HintsFileError` naming the
file and the field. A relative ``reference`` is relative to the hints file's folder.

The app writes such a file beside an export (``photo_color.png`` gets ``photo_color.hints.json``); the command
line reads ``--hints FILE`` or the ``<image stem>.hints.json`` found beside an input (:func:`sidecar_path`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from .errors import PolychromeError
from .fileops import atomic_write_bytes
from .hints import ColorHint

MIN_PATCH, MAX_PATCH = 1, 9
"""The patch sizes a hint covers on the network's input (as in training)."""
DEFAULT_PATCH = 3
AB_LIMIT = 128.0
MAX_STRENGTH = 5.0
SUFFIX = ".hints.json"


class HintsFileError(PolychromeError):
    """A hints file cannot be read or is malformed: the message names the file and the field."""

    def __init__(self, path: object, field_name: str, reason: str) -> None:
        self.path, self.field, self.reason = str(path), field_name, reason
        where = f" ({field_name})" if field_name else ""
        super().__init__(f"{self.path}{where}: {reason}")


@dataclass(frozen=True)
class HintPoint:
    """One colour point in source pixels: (``x``, ``y``) should have colour (``a``, ``b``); ``radius`` in source
    pixels, None: the default patch on the network's input."""

    x: float
    y: float
    a: float
    b: float
    radius: Optional[float] = None

    @property
    def ab(self) -> Tuple[float, float]:
        return (self.a, self.b)


@dataclass
class HintsFile:
    points: List[HintPoint] = field(default_factory=list)
    reference: Optional[Path] = None
    reference_strength: float = 1.0

    @property
    def empty(self) -> bool:
        return not self.points and self.reference is None


# -- geometry: source pixels <-> the network's input --------------------------------------------------------------

def input_scale(image_shape: Tuple[int, int], input_size: int,
                fixed_hw: Optional[Tuple[int, int]] = None) -> float:
    """Network-input pixels per source pixel for an image of ``image_shape`` = (H, W): the long side becomes
    ``input_size`` (or the image fits a fixed (h, w) input), as :meth:`Colorizer.prepare` resizes it."""
    H, W = image_shape
    if fixed_hw:
        return min(fixed_hw[0] / H, fixed_hw[1] / W)
    return float(input_size) / max(H, W)


def patch_size(radius: Optional[float], scale: float) -> int:
    """The patch side (1–9 input pixels) of a point of ``radius`` source pixels at ``scale`` input px per source px."""
    if radius is None:
        return DEFAULT_PATCH
    return int(min(MAX_PATCH, max(MIN_PATCH, round(2.0 * float(radius) * scale))))


def radius_for(size: int, scale: float) -> float:
    """The radius in source pixels that :func:`patch_size` turns back into ``size``."""
    return round(float(size) / (2.0 * scale), 3)


def to_color_hints(points: Sequence[HintPoint], image_shape: Tuple[int, int], scale: float) -> List[ColorHint]:
    """The network's hints (core.hints.ColorHint, full-resolution y, x) for points of an image of ``image_shape``;
    points are clamped onto the image (a point on the right edge of a rounded size still counts)."""
    H, W = image_shape
    out = []
    for p in points:
        y = min(max(float(p.y), 0.0), H - 1e-3)
        x = min(max(float(p.x), 0.0), W - 1e-3)
        out.append(ColorHint(y=y, x=x, a=float(p.a), b=float(p.b), size=patch_size(p.radius, scale)))
    return out


def outside(points: Sequence[HintPoint], image_shape: Tuple[int, int]) -> List[int]:
    """Indices of points that lie outside an image of ``image_shape`` (a hints file made for another image)."""
    H, W = image_shape
    return [i for i, p in enumerate(points) if not (0 <= p.x < W + 0.5 and 0 <= p.y < H + 0.5)]


# -- reading and writing ----------------------------------------------------------------------------------------

def _number(value: Any, path: Path, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise HintsFileError(path, name, f"expected a finite number, found {json.dumps(value)[:40]}")
    return float(value)


def parse_hints(data: Any, path: Path) -> HintsFile:
    """A :class:`HintsFile` from parsed JSON; ``path`` names the file in errors and anchors a relative reference."""
    if not isinstance(data, dict):
        raise HintsFileError(path, "", "expected a JSON object with a 'points' list")
    raw_points = data.get("points", [])
    if not isinstance(raw_points, list):
        raise HintsFileError(path, "points", "expected a list of points")
    points = []
    for i, rp in enumerate(raw_points):
        where = f"points[{i}]"
        if not isinstance(rp, dict):
            raise HintsFileError(path, where, "expected an object with x, y and ab")
        for key in ("x", "y", "ab"):
            if key not in rp:
                raise HintsFileError(path, f"{where}.{key}", "missing")
        x = _number(rp["x"], path, f"{where}.x")
        y = _number(rp["y"], path, f"{where}.y")
        if x < 0 or y < 0:
            raise HintsFileError(path, f"{where}.{'x' if x < 0 else 'y'}", "must not be negative")
        ab = rp["ab"]
        if not isinstance(ab, list) or len(ab) != 2:
            raise HintsFileError(path, f"{where}.ab", "expected two numbers [a*, b*]")
        a = _number(ab[0], path, f"{where}.ab[0]")
        b = _number(ab[1], path, f"{where}.ab[1]")
        if abs(a) > AB_LIMIT or abs(b) > AB_LIMIT:
            raise HintsFileError(path, f"{where}.ab", f"a* and b* must lie within ±{AB_LIMIT:g}")
        radius = None
        if rp.get("radius") is not None:
            radius = _number(rp["radius"], path, f"{where}.radius")
            if radius <= 0:
                raise HintsFileError(path, f"{where}.radius", "must be positive")
        points.append(HintPoint(x, y, a, b, radius))
    reference = None
    if data.get("reference") is not None:
        ref = data["reference"]
        if not isinstance(ref, str) or not ref.strip():
            raise HintsFileError(path, "reference", "expected the path of a colour photo")
        reference = Path(ref).expanduser()
        if not reference.is_absolute():
            reference = (path.parent / reference).resolve()
    strength = 1.0
    if data.get("reference_strength") is not None:
        strength = _number(data["reference_strength"], path, "reference_strength")
        if not 0.0 <= strength <= MAX_STRENGTH:
            raise HintsFileError(path, "reference_strength", f"must lie in [0, {MAX_STRENGTH:g}]")
    return HintsFile(points, reference, strength)


def load_hints(path: str | os.PathLike[str]) -> HintsFile:
    """Read a hints file; any problem is one :class:`HintsFileError` naming the file and the field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HintsFileError(p, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HintsFileError(p, "", f"cannot be read: {exc.__class__.__name__}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise HintsFileError(p, "", f"not valid JSON: {exc}") from None
    return parse_hints(data, p)


def hints_to_json(hints: HintsFile, relative_to: Optional[Path] = None) -> dict[str, Any]:
    """The file's JSON object; the reference is written relative to ``relative_to`` (the file's folder) when it
    lies below it, else absolute."""
    points: list[dict[str, Any]] = []
    out: dict[str, Any] = {"points": points}
    for p in hints.points:
        d: dict[str, Any] = {"x": round(p.x, 2), "y": round(p.y, 2), "ab": [round(p.a, 2), round(p.b, 2)]}
        if p.radius is not None:
            d["radius"] = round(p.radius, 3)
        points.append(d)
    if hints.reference is not None:
        ref = Path(hints.reference)
        if relative_to is not None:
            try:
                ref = ref.resolve().relative_to(Path(relative_to).resolve())
            except ValueError:
                ref = ref.resolve()
        out["reference"] = ref.as_posix()
        out["reference_strength"] = round(float(hints.reference_strength), 3)
    return out


def save_hints(path: str | os.PathLike[str], hints: HintsFile, overwrite: bool = True) -> Path:
    """Write a hints file atomically (temp file, then rename)."""
    p = Path(path)
    text = json.dumps(hints_to_json(hints, p.parent), indent=1) + "\n"
    return atomic_write_bytes(p, text.encode("utf-8"), overwrite=overwrite)


def sidecar_path(image: str | os.PathLike[str]) -> Path:
    """``scan.tif`` -> ``scan.hints.json``: the sidecar beside an image (an input a batch reads it for, or an
    exported file it is written beside)."""
    p = Path(image)
    return p.with_name(p.stem + SUFFIX)
