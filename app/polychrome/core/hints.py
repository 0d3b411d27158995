"""Colour hints: points of known a*, b* that steer a hint-taking model (Zhang et al. 2017).

A hint is given in the coordinates of the full-resolution image; :func:`rasterize_hints` turns a list of them
into the two maps a model takes at its input resolution (``hint_ab`` [2, h, w] in ab units, 0 where no hint is
given, and ``hint_mask`` [1, h, w], 1 where one is). :func:`sample_hints` simulates hints from a ground truth
the way training does; :func:`hints_from_truth` picks hints for an evaluation ("what would N correct clicks
give").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class ColorHint:
    """One hint: the pixel (``y``, ``x``) of the full-resolution image should have colour (``a``, ``b``).

    ``size`` is the side of the square it covers on the network's input, in input pixels (1–9 in training).
    """

    y: float
    x: float
    a: float
    b: float
    size: int = 3


def rasterize_hints(
    hints: Sequence[ColorHint], image_shape: Tuple[int, int], input_shape: Tuple[int, int]
) -> Tuple[np.ndarray, np.ndarray]:
    """(hint_ab [2, h, w], hint_mask [1, h, w]) float32 on an ``input_shape`` = (h, w) grid for an image of
    ``image_shape`` = (H, W). Later hints win where patches overlap. Hints outside the image raise ValueError."""
    H, W = image_shape
    h, w = input_shape
    hint_ab = np.zeros((2, h, w), np.float32)
    mask = np.zeros((1, h, w), np.float32)
    for hint in hints:
        if not (0 <= hint.y < H and 0 <= hint.x < W):
            raise ValueError(f"hint at ({hint.y:g}, {hint.x:g}) lies outside the {W}×{H} image")
        cy, cx = (hint.y + 0.5) * h / H, (hint.x + 0.5) * w / W
        side = max(1, int(hint.size))
        y0 = int(np.clip(round(cy - side / 2.0), 0, h - 1))
        x0 = int(np.clip(round(cx - side / 2.0), 0, w - 1))
        hint_ab[0, y0 : y0 + side, x0 : x0 + side] = hint.a
        hint_ab[1, y0 : y0 + side, x0 : x0 + side] = hint.b
        mask[0, y0 : y0 + side, x0 : x0 + side] = 1.0
    return hint_ab, mask


def _patch_hint(ab: np.ndarray, y: int, x: int, p: int, hint_ab: np.ndarray, mask: np.ndarray) -> None:
    patch = ab[y : y + p, x : x + p]
    hint_ab[y : y + p, x : x + p] = patch.reshape(-1, 2).mean(0)
    mask[y : y + p, x : x + p] = 1.0


def sample_hints(
    ab: np.ndarray, rng: np.random.Generator, p_none: float, mean_points: float, max_patch: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Training hints from a ground truth ab (H, W, 2): (hint_ab (H, W, 2), hint_mask (H, W)) float32.

    With probability ``p_none`` none; otherwise a geometric number of points (mean ``mean_points``, at least one),
    each a square of side uniform in [1, ``max_patch``] at a uniform position holding the truth's mean ab there.
    """
    H, W = ab.shape[:2]
    hint_ab = np.zeros((H, W, 2), np.float32)
    mask = np.zeros((H, W), np.float32)
    if rng.random() < p_none:
        return hint_ab, mask
    for _ in range(int(rng.geometric(1.0 / mean_points))):
        p = int(rng.integers(1, max_patch + 1))
        _patch_hint(ab, int(rng.integers(0, max(1, H - p + 1))), int(rng.integers(0, max(1, W - p + 1))), p,
                    hint_ab, mask)
    return hint_ab, mask


def hints_from_truth(
    ab: np.ndarray, n: int, rng: np.random.Generator, patch: int = 3, image_shape: Optional[Tuple[int, int]] = None
) -> List[ColorHint]:
    """``n`` hints at uniform positions of a ground truth ab (h, w, 2), each the mean ab over a ``patch`` square.

    Coordinates refer to an image of ``image_shape`` (default: the ab map's own shape), so hints picked on the
    network's input grid can be handed to :meth:`Colorizer.predict` of the full-resolution image.
    """
    h, w = ab.shape[:2]
    H, W = image_shape or (h, w)
    out = []
    for _ in range(int(n)):
        y = int(rng.integers(0, max(1, h - patch + 1)))
        x = int(rng.integers(0, max(1, w - patch + 1)))
        a, b = ab[y : y + patch, x : x + patch].reshape(-1, 2).mean(0)
        cy, cx = (y + patch / 2.0) * H / h, (x + patch / 2.0) * W / w
        out.append(ColorHint(min(H - 1.0, cy), min(W - 1.0, cx), float(a), float(b), patch))
    return out
