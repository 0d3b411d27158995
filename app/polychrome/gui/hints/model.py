"""The hint tool's model, in plain Python (no Qt): one image's colour points with an undo / redo history, its
reference photo and strength, and the pure helpers the panel draws from (suggested colours, the ab gamut at a
lightness, the eyedropper's patch mean).

Points are kept in the source image's pixels (full resolution, after EXIF orientation) with their patch size on the
network's input (1–9); :meth:`HintsModel.to_file` / :meth:`HintsModel.load_file` convert to and from the hints
file's radius in source pixels with the model's scale (input pixels per source pixel).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...core.color import lab_to_srgb, srgb_to_lab
from ...core.hintsfile import (
    DEFAULT_PATCH,
    MAX_PATCH,
    MIN_PATCH,
    HintPoint,
    HintsFile,
    hints_to_json,
    parse_hints,
    patch_size,
    radius_for,
)

EXTRAS_KEY = "hints"  # the queue item's extras entry (the hints file's JSON, saved with the session)
HISTORY = 200


@dataclass(frozen=True)
class Point:
    y: float
    x: float
    a: float
    b: float
    size: int = DEFAULT_PATCH


@dataclass(frozen=True)
class _Snapshot:
    points: Tuple[Point, ...]
    selected: Optional[int]
    label: str


def clamp_size(size: int) -> int:
    return int(min(MAX_PATCH, max(MIN_PATCH, int(size))))


class HintsModel:
    """One image's points, the selected one, the undo / redo stacks, the reference and its strength.

    Every edit that changes the hint map bumps :attr:`version` (the controller re-runs the network for a new
    version); a drag moves a point many times but is one undo step (:meth:`begin_drag` … :meth:`end_drag`).
    """

    def __init__(self, scale: float = 1.0, image_shape: Optional[Tuple[int, int]] = None) -> None:
        self.points: List[Point] = []
        self.selected: Optional[int] = None
        self.scale = float(scale)  # network-input pixels per source pixel
        self.image_shape = image_shape  # (H, W) of the source image, when known
        self.new_size = DEFAULT_PATCH  # the patch size a new point gets
        self.visible = True
        self.reference: Optional[str] = None
        self.strength = 1.0
        self.version = 0
        self._undo: List[_Snapshot] = []
        self._redo: List[_Snapshot] = []
        self._drag: Optional[_Snapshot] = None
        self.pending: Any = None  # hints JSON from the queue item, read once the image's size is known

    # -- history ------------------------------------------------------------------------------------
    def _snapshot(self, label: str) -> _Snapshot:
        return _Snapshot(tuple(self.points), self.selected, label)

    def _push(self, label: str) -> None:
        self._undo.append(self._snapshot(label))
        del self._undo[:-HISTORY]
        self._redo.clear()

    def _restore(self, snap: _Snapshot) -> None:
        self.points = list(snap.points)
        self.selected = snap.selected if snap.selected is not None and snap.selected < len(self.points) else None
        self.version += 1

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].label if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].label if self._redo else ""

    def undo(self) -> bool:
        if not self._undo:
            return False
        snap = self._undo.pop()
        self._redo.append(_Snapshot(tuple(self.points), self.selected, snap.label))
        self._restore(snap)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        snap = self._redo.pop()
        self._undo.append(_Snapshot(tuple(self.points), self.selected, snap.label))
        self._restore(snap)
        return True

    # -- edits --------------------------------------------------------------------------------------
    def _clamp_xy(self, y: float, x: float) -> Tuple[float, float]:
        if self.image_shape is None:
            return float(y), float(x)
        H, W = self.image_shape
        return float(min(max(y, 0.0), H - 1e-3)), float(min(max(x, 0.0), W - 1e-3))

    def add(self, y: float, x: float, a: float, b: float, size: Optional[int] = None) -> int:
        """Place a point (source pixels) of colour (a, b); it becomes the selected one. Returns its index."""
        self._push("Add Colour Point")
        y, x = self._clamp_xy(y, x)
        self.points.append(Point(y, x, float(a), float(b), clamp_size(size or self.new_size)))
        self.selected = len(self.points) - 1
        self.version += 1
        return self.selected

    def remove(self, index: int) -> bool:
        if not 0 <= index < len(self.points):
            return False
        self._push("Remove Colour Point")
        del self.points[index]
        if self.selected is not None:
            if self.selected == index:
                self.selected = None
            elif self.selected > index:
                self.selected -= 1
        self.version += 1
        return True

    def clear(self) -> bool:
        if not self.points:
            return False
        self._push("Clear Colour Points")
        self.points = []
        self.selected = None
        self.version += 1
        return True

    def select(self, index: Optional[int]) -> None:
        self.selected = index if index is not None and 0 <= index < len(self.points) else None

    def set_color(self, index: int, a: float, b: float) -> bool:
        if not 0 <= index < len(self.points):
            return False
        p = self.points[index]
        if (p.a, p.b) == (float(a), float(b)):
            return False
        self._push("Change Point Colour")
        self.points[index] = replace(p, a=float(a), b=float(b))
        self.version += 1
        return True

    def set_size(self, index: int, size: int) -> bool:
        size = clamp_size(size)
        self.new_size = size
        if not 0 <= index < len(self.points) or self.points[index].size == size:
            return False
        self._push("Change Patch Size")
        self.points[index] = replace(self.points[index], size=size)
        self.version += 1
        return True

    def begin_drag(self, index: int) -> None:
        self._drag = self._snapshot("Move Colour Point")
        self.selected = index

    def drag_to(self, index: int, y: float, x: float) -> None:
        """Move a point while dragging (no undo step, no new version: the network runs when it is dropped)."""
        if 0 <= index < len(self.points):
            y, x = self._clamp_xy(y, x)
            self.points[index] = replace(self.points[index], y=y, x=x)

    def end_drag(self) -> bool:
        """The drag is over: one undo step if the point moved; True if it did (re-run the network)."""
        snap, self._drag = self._drag, None
        if snap is None or snap.points == tuple(self.points):
            return False
        self._undo.append(snap)
        del self._undo[:-HISTORY]
        self._redo.clear()
        self.version += 1
        return True

    def hit(self, y: float, x: float, tolerance: float) -> Optional[int]:
        """The point nearest (y, x) within ``tolerance`` source pixels (the topmost, i.e. last, on a tie)."""
        best, best_d = None, float(tolerance)
        for i, p in enumerate(self.points):
            d = max(abs(p.y - y), abs(p.x - x))
            if d <= best_d:
                best, best_d = i, d
        return best

    # -- files and the queue item ---------------------------------------------------------------------
    def to_file(self) -> HintsFile:
        pts = [HintPoint(p.x, p.y, p.a, p.b, radius_for(p.size, self.scale)) for p in self.points]
        ref = Path(self.reference) if self.reference else None
        return HintsFile(pts, ref, self.strength)

    def load_file(self, hints: HintsFile, undoable: bool = True) -> None:
        """Take a hints file's points (and its reference, if it names one)."""
        if undoable:
            self._push("Load Hints")
        self.points = []
        for p in hints.points:
            y, x = self._clamp_xy(p.y, p.x)
            self.points.append(Point(y, x, p.a, p.b, patch_size(p.radius, self.scale)))
        self.selected = None
        if hints.reference is not None:
            self.reference = str(hints.reference)
            self.strength = float(hints.reference_strength)
        self.version += 1

    def to_extras(self) -> Optional[Dict[str, Any]]:
        """The JSON kept on the queue item (None when there is nothing to keep)."""
        f = self.to_file()
        return None if f.empty else hints_to_json(f)

    @classmethod
    def from_extras(cls, data: Any, scale: float, image_shape: Optional[Tuple[int, int]] = None,
                    where: Path = Path("session")) -> HintsModel:
        m = cls(scale, image_shape)
        if data is not None:
            m.load_file(parse_hints(data, where / "hints.json"), undoable=False)
        return m


# -- the panel's colours --------------------------------------------------------------------------------------

def suggestions(probabilities: np.ndarray, centers: np.ndarray, k: int = 6,
                min_share: float = 0.01) -> List[Tuple[float, float, float]]:
    """The ``k`` most probable bins of a pixel's distribution as (a, b, probability), best first (bins below
    ``min_share`` are left out, the best one never)."""
    p = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-p)[:k]
    out = []
    for i, q in enumerate(order):
        if i and p[q] < min_share:
            break
        out.append((float(centers[q, 0]), float(centers[q, 1]), float(p[q])))
    return out


AB_RANGE = 110.0


def in_gamut(L: float, a: np.ndarray, b: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    """Whether (L, a, b) is an sRGB colour (no channel clipped)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float32), np.asarray(b, np.float32))
    lab = np.stack([np.full(a.shape, L, np.float32), a, b], axis=-1)
    rgb = lab_to_srgb(lab, clip=False)
    return np.all((rgb >= -tolerance) & (rgb <= 1 + tolerance), axis=-1)


def gamut_image(L: float, side: int = 220) -> np.ndarray:
    """(side, side, 4) uint8 RGBA of the ab plane (a* to the right, b* up, ±AB_RANGE) at lightness L: each
    colour as itself where it exists in sRGB, transparent where it does not."""
    t = np.linspace(-AB_RANGE, AB_RANGE, side, dtype=np.float32)
    a = np.broadcast_to(t[None, :], (side, side))
    b = np.broadcast_to(t[::-1, None], (side, side))
    lab = np.stack([np.full((side, side), L, np.float32), a, b], axis=-1)
    rgb = lab_to_srgb(lab, clip=False)
    ok = np.all((rgb >= -1e-3) & (rgb <= 1 + 1e-3), axis=-1)
    out = np.zeros((side, side, 4), np.uint8)
    out[..., :3] = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    out[..., 3] = np.where(ok, 255, 0).astype(np.uint8)
    return out


def nearest_in_gamut(L: float, a: float, b: float) -> Tuple[float, float]:
    """(a, b) itself if it exists at L, else the in-gamut colour of the same hue with the most chroma."""
    if bool(in_gamut(L, np.float32(a), np.float32(b))):
        return float(a), float(b)
    for s in np.linspace(1.0, 0.0, 101):
        if bool(in_gamut(L, np.float32(a * s), np.float32(b * s))):
            return float(a * s), float(b * s)
    return 0.0, 0.0


def swatch_rgb(L: float, a: float, b: float) -> Tuple[int, int, int]:
    """8-bit sRGB of a colour (clipped), for drawing swatches."""
    rgb = lab_to_srgb(np.array([L, a, b], np.float32))
    return tuple(int(v * 255 + 0.5) for v in rgb)  # type: ignore[return-value]


def patch_ab(rgb: np.ndarray, y: float, x: float, patch: int = 5) -> Tuple[float, float]:
    """The mean (a*, b*) of a ``patch``² square of an sRGB image around (y, x): the eyedropper."""
    H, W = rgb.shape[:2]
    r = patch // 2
    y0, x0 = int(min(max(round(y) - r, 0), max(0, H - patch))), int(min(max(round(x) - r, 0), max(0, W - patch)))
    block = np.asarray(rgb[y0:y0 + patch, x0:x0 + patch, :3])
    ab = srgb_to_lab(block)[..., 1:].reshape(-1, 2).mean(0)
    return float(ab[0]), float(ab[1])


def lightness_at(L: np.ndarray, y: float, x: float) -> float:
    """L* of the source at full-resolution (y, x)."""
    H, W = L.shape
    return float(L[int(min(max(y, 0), H - 1)), int(min(max(x, 0), W - 1))])


def describe(points: Sequence[Point]) -> str:
    n = len(points)
    return "no colour points" if n == 0 else f"{n} colour point{'s' if n != 1 else ''}"
