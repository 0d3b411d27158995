"""Quantised ab bins: the Q classes the network predicts a distribution over.

Bins are the centres of grid cells of side ``grid`` (10 by default) on the ab plane, in any order (the order
of the network's output channels). Any such table works at run time; these are built in:

* :meth:`ABBins.in_gamut` — every cell that some in-gamut sRGB colour falls in (Q = 261 at grid 10);
* :meth:`ABBins.from_ab` / :meth:`ABBins.from_images` — the cells a set of photos actually occupies (a
  data-derived table, e.g. fewer bins on a face data set);
* :meth:`ABBins.full_grid` — every cell of a square (Q = 23² = 529 for ±110 at grid 10: Zhang et al. 2017's
  SIGGRAPH table);
* :meth:`ABBins.from_centers` — a table read from a network's weights (Zhang et al. 2016's 313 bins), snapped
  onto its grid after checking that it lies on it.

A table travels with every model (JSON in the ONNX metadata) so decoding always uses the bins the model was
trained with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Tuple, Union

import numpy as np

from .color import srgb_to_lab

AB_LIMIT = 130.0  # the lookup table covers a*, b* in [-AB_LIMIT, AB_LIMIT]


class ABBins:
    """An ordered table of ab bin centres (Q, 2) on a regular grid."""

    def __init__(self, centers: np.ndarray, grid: float = 10.0, name: str = "custom") -> None:
        centers = np.asarray(centers, dtype=np.float32).reshape(-1, 2)
        if len(centers) < 2:
            raise ValueError("a bin table needs at least 2 bins")
        cells = centers / np.float32(grid)
        if not np.allclose(cells, np.round(cells), atol=1e-3):
            raise ValueError(f"bin centres must lie on the grid of {grid}")
        if len(np.unique(np.round(cells).astype(np.int64), axis=0)) != len(centers):
            raise ValueError("bin centres must be unique")
        self.centers = centers
        self.grid = float(grid)
        self.name = name
        self._lut: Optional[np.ndarray] = None

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def in_gamut(cls, grid: float = 10.0, levels: int = 256) -> ABBins:
        """Cells that some sRGB colour falls in.

        The extreme ab values of the sRGB gamut lie on the surface of the RGB cube, so its six faces are sampled
        on a ``levels``² lattice (plus a coarse interior lattice) and quantised. At grid 10 this gives Q = 261.
        (Zhang et al. ship a 313-bin table whose exact construction is not published; it contains a ring of
        cells outside the sRGB gamut. Models carry their own table, so either works at run time.)
        """
        v = np.linspace(0.0, 1.0, levels, dtype=np.float32)
        u, w = (m.ravel() for m in np.meshgrid(v, v, indexing="ij"))
        faces = []
        for axis in range(3):
            for val in (0.0, 1.0):
                f = np.empty((u.size, 3), dtype=np.float32)
                others = [k for k in range(3) if k != axis]
                f[:, axis] = val
                f[:, others[0]] = u
                f[:, others[1]] = w
                faces.append(f)
        c = np.linspace(0.0, 1.0, 24, dtype=np.float32)
        faces.append(np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1).reshape(-1, 3))
        ab = srgb_to_lab(np.concatenate(faces))[:, 1:]
        return cls.from_ab(ab, grid=grid, name=f"in-gamut-{grid:g}")

    @classmethod
    def from_ab(
        cls,
        ab: Union[np.ndarray, Iterable[np.ndarray]],
        grid: float = 10.0,
        min_count: int = 1,
        name: str = "data",
    ) -> ABBins:
        """Cells occupied by at least ``min_count`` of the given ab samples ((..., 2) arrays)."""
        counts: Dict[Tuple[int, int], int] = {}
        arrays = [ab] if isinstance(ab, np.ndarray) else ab
        for arr in arrays:
            cells = np.round(np.asarray(arr, dtype=np.float32).reshape(-1, 2) / grid).astype(np.int64)
            uniq, n = np.unique(cells, axis=0, return_counts=True)
            for (ca, cb), k in zip(uniq.tolist(), n.tolist()):
                counts[(ca, cb)] = counts.get((ca, cb), 0) + k
        keep = sorted(c for c, k in counts.items() if k >= min_count)
        # Neutral must always be representable, or a gray pixel could never decode to gray.
        if (0, 0) not in keep:
            keep.append((0, 0))
            keep.sort()
        centers = np.array(keep, dtype=np.float32) * np.float32(grid)
        return cls(centers, grid=grid, name=name)

    @classmethod
    def full_grid(cls, limit: float = 110.0, grid: float = 10.0, name: Optional[str] = None) -> ABBins:
        """Every cell centre of the square [-limit, limit]² (limit a multiple of ``grid``), a*-major: bin
        ``i·n + j`` is (−limit + i·grid, −limit + j·grid) with n = 2·limit/grid + 1 — the order of the SIGGRAPH17
        network's classes (Q = 529 at ±110, grid 10)."""
        n = int(round(2.0 * limit / grid)) + 1
        if limit <= 0 or abs(limit / grid - round(limit / grid)) > 1e-6:
            raise ValueError(f"limit {limit:g} is not a positive multiple of the grid {grid:g}")
        v = np.arange(n, dtype=np.float32) * np.float32(grid) - np.float32(limit)
        a, b = np.meshgrid(v, v, indexing="ij")
        return cls(np.stack([a.ravel(), b.ravel()], axis=1), grid=grid, name=name or f"grid-{limit:g}-{grid:g}")

    @classmethod
    def from_centers(
        cls, centers: np.ndarray, grid: float = 10.0, tolerance: float = 0.05, name: str = "custom"
    ) -> ABBins:
        """A table from centres computed from weights, e.g. ECCV16's ``model_out`` × 110: each centre must lie
        within ``tolerance`` ab units of a grid point (float32 rounding) and is snapped onto it; ``ValueError``
        names the first that does not."""
        c = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
        if not np.all(np.isfinite(c)):
            raise ValueError("the bin centres are not all finite numbers")
        snapped = np.round(c / grid) * grid
        off = np.abs(c - snapped).max(axis=1)
        bad = np.nonzero(off > tolerance)[0]
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"bin {k} at ({c[k, 0]:.3f}, {c[k, 1]:.3f}) is {off[k]:.3f} ab units off the grid of {grid:g} "
                f"({bad.size} of {len(c)} bins are off it)"
            )
        return cls(snapped.astype(np.float32), grid=grid, name=name)

    @classmethod
    def from_images(
        cls, images: Iterable[np.ndarray], grid: float = 10.0, min_count: int = 1, name: str = "data"
    ) -> ABBins:
        """Cells occupied by the pixels of RGB images (any dtype accepted by :func:`srgb_to_lab`)."""
        return cls.from_ab((srgb_to_lab(img)[..., 1:] for img in images), grid=grid, min_count=min_count, name=name)

    # -- properties ---------------------------------------------------------------------------
    @property
    def Q(self) -> int:
        return int(len(self.centers))

    def __len__(self) -> int:
        return self.Q

    def __repr__(self) -> str:
        return f"ABBins(name={self.name!r}, Q={self.Q}, grid={self.grid:g})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ABBins)
            and self.grid == other.grid
            and self.centers.shape == other.centers.shape
            and np.array_equal(self.centers, other.centers)
        )

    @property
    def neutral_index(self) -> int:
        d = np.abs(self.centers).sum(axis=1)
        return int(np.argmin(d))

    # -- lookup -------------------------------------------------------------------------------
    def _cell_lut(self) -> np.ndarray:
        """(n, n) table over grid cells in [-AB_LIMIT, AB_LIMIT]²: the bin index of each cell, -1 where none."""
        if self._lut is None:
            r = int(np.ceil(AB_LIMIT / self.grid))
            lut = np.full((2 * r + 1, 2 * r + 1), -1, dtype=np.int32)
            cells = np.rint(self.centers / self.grid).astype(np.int64) + r
            ok = np.all((cells >= 0) & (cells <= 2 * r), axis=1)
            lut[cells[ok, 0], cells[ok, 1]] = np.nonzero(ok)[0]
            self._lut = lut
            self._lut_r = r
        return self._lut

    def nearest(self, ab: np.ndarray) -> np.ndarray:
        """Index of the nearest bin centre for each ab value (..., 2).

        Values inside an occupied cell are looked up in O(1); the rest (outside the table) are resolved exactly
        against all centres.
        """
        lut = self._cell_lut()
        r = self._lut_r
        ab = np.asarray(ab, dtype=np.float32)
        ia = np.clip(np.rint(ab[..., 0] / self.grid).astype(np.int64) + r, 0, 2 * r)
        ib = np.clip(np.rint(ab[..., 1] / self.grid).astype(np.int64) + r, 0, 2 * r)
        idx = lut[ia, ib]
        miss = idx < 0
        if miss.any():
            pts = ab[miss]
            d = ((pts[:, None, :] - self.centers[None, :, :]) ** 2).sum(-1)
            idx[miss] = np.argmin(d, axis=1)
        return idx

    def histogram(self, ab: np.ndarray) -> np.ndarray:
        """Counts (Q,) of ab values per bin."""
        return np.bincount(self.nearest(ab).ravel(), minlength=self.Q).astype(np.float64)

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        return {"grid": self.grid, "name": self.name, "centers": self.centers.round(3).tolist()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> ABBins:
        if "centers" not in d:
            raise ValueError("bin table has no 'centers'")
        return cls(
            np.asarray(d["centers"], dtype=np.float32), grid=float(d.get("grid", 10.0)), name=d.get("name", "custom")
        )

    @classmethod
    def from_json(cls, text: str) -> ABBins:
        return cls.from_dict(json.loads(text))

    def save(self, path: Union[str, Path]) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Union[str, Path]) -> ABBins:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


_IN_GAMUT: Dict[float, ABBins] = {}


def in_gamut_bins(grid: float = 10.0) -> ABBins:
    """The cached in-gamut table (Q=261 at grid 10)."""
    b = _IN_GAMUT.get(grid)
    if b is None:
        b = _IN_GAMUT[grid] = ABBins.in_gamut(grid)
    return b
