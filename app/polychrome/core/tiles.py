"""Full-resolution tiles of a colorized image, for viewing it at 100 % without merging the whole scan.

A preview is at most ≈ 2 MP, so zooming into a 24 MP scan would magnify its pixels. A viewer instead asks for the
tiles (a fixed grid of :data:`TILE_SIZE` squares over the full-resolution image) that cover what it shows, and gets
each one merged exactly as the export merges the whole image (:func:`polychrome.core.merge.merge_lab`: the pixel's
own L*, bicubic ab, gamut mapping): only the visible part is computed.

The ab of a tile is the bicubic upsampling of the coarse ab, computed for the tile's pixels only
(:func:`upsample_ab_region`); it samples where ``cv2.resize(ab, (W, H), INTER_CUBIC)`` samples, with the same
kernel (a = −0.75) and edge rule (replicated), so a tile equals the same crop of the export's full-resolution merge
up to float rounding (at most one 1/64 ab unit; in practice 8-bit pixels are equal or one level apart).

:func:`render_tiles` is the job (``progress``, ``cancel`` first, one :class:`TileResult` yielded per tile), so the
GUI runs it on a worker and anything else can call it with :func:`polychrome.runtime.jobs.run_to_end`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Generator, Iterable, List, Sequence, Tuple, Union

import numpy as np

from .merge import _AB_FIXED, _vertical_weights, merge_lab
from .pixels import to_uint8
from .progress import CancelToken, Progress

TILE_SIZE = 512  # full-resolution pixels per tile side
KINDS = ("result", "gray", "source")  # what a tile shows: the colorized result, the input's L* alone, the input

Rect = Tuple[int, int, int, int]  # (y0, x0, y1, x1), full-resolution pixels, end exclusive


def tile_rect(shape: Tuple[int, int], ty: int, tx: int, tile: int = TILE_SIZE) -> Rect:
    """The full-resolution rectangle of tile (``ty``, ``tx``) of an image of ``shape`` = (H, W)."""
    H, W = int(shape[0]), int(shape[1])
    y0, x0 = ty * tile, tx * tile
    if not (0 <= y0 < H and 0 <= x0 < W):
        raise ValueError(f"tile ({ty}, {tx}) is outside an image of {H}×{W}")
    return y0, x0, min(H, y0 + tile), min(W, x0 + tile)


def tiles_covering(shape: Tuple[int, int], region: Rect, tile: int = TILE_SIZE) -> List[Tuple[int, int]]:
    """The tiles (``ty``, ``tx``) that cover ``region`` (clipped to the image), rows from the region's centre out,
    so the middle of the view refines first."""
    H, W = int(shape[0]), int(shape[1])
    y0, x0 = max(0, int(np.floor(region[0]))), max(0, int(np.floor(region[1])))
    y1, x1 = min(H, int(np.ceil(region[2]))), min(W, int(np.ceil(region[3])))
    if y1 <= y0 or x1 <= x0:
        return []
    ys = range(y0 // tile, (y1 - 1) // tile + 1)
    xs = range(x0 // tile, (x1 - 1) // tile + 1)
    cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
    keys = [(ty, tx) for ty in ys for tx in xs]
    return sorted(keys, key=lambda k: ((k[0] + 0.5) * tile - cy) ** 2 + ((k[1] + 0.5) * tile - cx) ** 2)


def upsample_ab_region(ab: np.ndarray, size: Tuple[int, int], rect: Rect) -> np.ndarray:
    """The part ``rect`` of the bicubic upsampling of coarse ``ab`` (h, w, 2) to ``size`` = (H, W), as the merge's
    int16 fixed point (1/64 ab unit): ``upsample_ab_fixed(ab, size)[y0:y1, x0:x1]`` without the rest."""
    ab = np.asarray(ab, dtype=np.float32)
    if ab.ndim != 3 or ab.shape[2] != 2:
        raise ValueError(f"ab must be (h, w, 2), got {ab.shape}")
    h, w = ab.shape[:2]
    H, W = int(size[0]), int(size[1])
    y0, x0, y1, x1 = (int(v) for v in rect)
    if (h, w) == (H, W):
        fixed = np.clip(np.rint(ab[y0:y1, x0:x1] * np.float32(_AB_FIXED)), -32768, 32767)
        return fixed.astype(np.int16)
    # the export's own bicubic weights, over only the coarse rows and columns the region touches
    r0, wy = _vertical_weights("bicubic", H, h, y0, y1)  # (th, rows from r0)
    c0, wx = _vertical_weights("bicubic", W, w, x0, x1)  # (tw, columns from c0)
    sub = ab[r0 : r0 + wy.shape[1], c0 : c0 + wx.shape[1]] * np.float32(_AB_FIXED)
    out = np.empty((y1 - y0, x1 - x0, 2), np.int16)
    for c in range(2):
        v = wy @ sub[..., c] @ wx.T
        out[..., c] = np.clip(np.rint(v), -32768, 32767).astype(np.int16)
    return out


def render_region(L: np.ndarray, ab: np.ndarray, rect: Rect, gamut_map: bool = True) -> np.ndarray:
    """uint8 sRGB of ``rect`` of the full-resolution result: the pixels' own L* (``L``, (H, W) float32) with the
    bicubic upsampling of the coarse ``ab``, merged as the export merges (crop of ``merge_full_resolution``)."""
    y0, x0, y1, x1 = rect
    Lr = np.ascontiguousarray(L[y0:y1, x0:x1], dtype=np.float32)
    return merge_lab(Lr, upsample_ab_region(ab, L.shape[:2], rect), np.uint8, threads=1, gamut_map=gamut_map)


def gray_region(L: np.ndarray, rect: Rect) -> np.ndarray:
    """uint8 sRGB of ``rect`` of the input's lightness without colour (what the gray preview shows, at full size)."""
    y0, x0, y1, x1 = rect
    Lr = np.ascontiguousarray(L[y0:y1, x0:x1], dtype=np.float32)
    return merge_lab(Lr, np.zeros(Lr.shape + (2,), np.int16), np.uint8, threads=1)


def source_region(pixels: np.ndarray, rect: Rect) -> np.ndarray:
    """uint8 RGB of ``rect`` of the input itself (a colour input: the ground truth)."""
    y0, x0, y1, x1 = rect
    crop = pixels[y0:y1, x0:x1]
    if crop.ndim == 2:
        crop = np.repeat(crop[..., None], 3, axis=2)
    return np.ascontiguousarray(to_uint8(crop))


@dataclass
class TileRequest:
    kind: str  # one of KINDS
    ty: int
    tx: int
    T: float = 0.0  # for "result"; ignored otherwise


@dataclass
class TileResult:
    request: TileRequest
    rect: Rect
    rgb: np.ndarray  # uint8 (y1 − y0, x1 − x0, 3)


AbSource = Union[np.ndarray, Callable[[float], np.ndarray]]


def render_tiles(
    progress: Progress,
    cancel: CancelToken,
    L: np.ndarray,
    pixels: np.ndarray,
    ab: AbSource,
    requests: Sequence[TileRequest],
    tile: int = TILE_SIZE,
) -> Generator[TileResult, None, int]:
    """Render tiles one by one (checking for cancellation between them), yielding a :class:`TileResult` each.

    ``L``: full-resolution L* (H, W) float32; ``pixels``: the input (for "source" tiles); ``ab``: coarse ab (h, w, 2)
    or a function of T returning it (decoded once per T). Returns the number of tiles rendered."""
    shape = L.shape[:2]
    decoded: Dict[float, np.ndarray] = {}
    progress.set_total(len(requests))
    n = 0
    for req in requests:
        progress.check()
        rect = tile_rect(shape, req.ty, req.tx, tile)
        if req.kind == "result":
            if callable(ab):
                if req.T not in decoded:
                    decoded[req.T] = ab(req.T)
                coarse = decoded[req.T]
            else:
                coarse = ab
            rgb = render_region(L, coarse, rect)
        elif req.kind == "gray":
            rgb = gray_region(L, rect)
        elif req.kind == "source":
            rgb = source_region(pixels, rect)
        else:
            raise ValueError(f"unknown tile kind {req.kind!r}; one of {', '.join(KINDS)}")
        n += 1
        progress.step(1)
        yield TileResult(req, rect, rgb)
    return n


def requests_for(kind: str, keys: Iterable[Tuple[int, int]], T: float = 0.0) -> List[TileRequest]:
    return [TileRequest(kind, ty, tx, float(T)) for ty, tx in keys]
