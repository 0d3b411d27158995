"""Full-resolution tiles for the comparison views: real pixels at 100 % (and wherever the preview is magnified).

The views show a preview of at most ≈ 2 MP. When a panel's zoom is above the preview's scale (one preview pixel
would cover more than one device pixel), :class:`TileController` asks :func:`polychrome.core.tiles.render_tiles`
(on a worker) for the full-resolution tiles that cover what the panel shows — the result merged exactly as the
export merges it, the input's lightness for the gray panel, the input itself for the ground truth — caches them
(least recently used out, within a byte budget) and lays them over the preview (:meth:`ImageView.show_tile`).

Temperature: while T moves the preview stays live (the result tiles of another T are taken off at once, so the
slider is never dead at 100 %); tiles for the new T are made once T rests for :data:`DELAY_MS` and replace the
preview piece by piece, middle first. Panning or zooming asks for the missing tiles only; a running job that
already covers them goes on, otherwise it is superseded (the tiles it finished stay cached).

The wipe view shows the preview only (its composite is made of two images at preview size).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...core.tiles import TILE_SIZE, TileRequest, TileResult, render_tiles, tile_rect, tiles_covering
from ..widgets.image_view import ImageView
from ..workers import Tasks

log = logging.getLogger(__name__)

DELAY_MS = 120  # tiles are asked for once the view and T have rested this long
BUDGET_BYTES = 256 * 1024 * 1024  # tile cache
MAX_TILES = 96  # never more tiles than this for one panel (a 4K screen at 100 % needs about 40)
TILES = "tiles"  # task key
NONE, REFINING, FULL = "", "refining", "full"  # status: no tiles needed, some still coming, all shown

CacheKey = Tuple[str, Optional[float], int, int]  # (kind, T or None, ty, tx)


class TileController(QObject):
    """Lays full-resolution tiles over the panels of a :class:`~.view.CompareView` that magnify the preview."""

    status_changed = Signal(str)  # NONE, REFINING or FULL for the main panel

    def __init__(self, source: Any, view: Any, parent: Optional[QObject] = None, tile: int = TILE_SIZE,
                 budget_bytes: int = BUDGET_BYTES, delay_ms: int = DELAY_MS) -> None:
        super().__init__(parent if parent is not None else source)
        self.source = source  # the ColorizeController: prediction, T, preview_changed
        self.view = view  # the CompareView
        self.tile = int(tile)
        self.budget_bytes = int(budget_bytes)
        self.delay_ms = int(delay_ms)
        self.cache: OrderedDict[CacheKey, Tuple[Tuple[int, int, int, int], np.ndarray]] = OrderedDict()
        self.cache_bytes = 0
        self.rendered = 0  # tiles computed so far (tests, benchmarks)
        self.status = NONE
        self._prediction: Any = None
        self._T: Optional[float] = None
        self.tasks = Tasks(self)
        self.kinds: Dict[ImageView, str] = {view.result_view: "result", view.side_result_view: "result",
                                            view.gray_view: "gray", view.truth_view: "source"}
        source.preview_changed.connect(self._on_preview)
        view.view_changed.connect(self.schedule)

    # -- state ------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while an update waits or tiles are being made (tests wait for this to end)."""
        return self.tasks.busy

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        return self.tasks.shutdown(timeout_ms)

    def schedule(self) -> None:
        """Look at the panels again once things rest (coalesced)."""
        self.tasks.later("update", self.update, self.delay_ms)

    # -- following the image and T ----------------------------------------------------------------
    def _on_preview(self, _rgb: Any) -> None:
        pred, T = self.source.prediction, float(self.source.T)
        if pred is not self._prediction:
            self._prediction = pred
            self.tasks.discard(TILES)
            self.cache.clear()
            self.cache_bytes = 0
            for v in self.kinds:
                v.clear_tiles()
        elif T != self._T:
            self.tasks.discard(TILES)
            for v, kind in self.kinds.items():
                if kind == "result":  # another T's colours: off at once, the live preview shows through
                    v.clear_tiles()
        self._T = T
        self._set_status(self._status_now())
        self.schedule()

    # -- the work -----------------------------------------------------------------------------------
    def _wanted(self) -> Dict[ImageView, List[CacheKey]]:
        """For each panel on screen: the cache keys of the tiles it needs now (empty: the preview is enough)."""
        pred = self.source.prediction
        T = float(self.source.T)
        out: Dict[ImageView, List[CacheKey]] = {}
        visible = set(self.view.visible_views()) if pred is not None else set()
        for v, kind in self.kinds.items():
            keys: List[CacheKey] = []
            if v in visible and v.image is not None and v.full_shape == tuple(pred.shape):
                z = v.zoom
                region = v.visible_region()
                if z is not None and region is not None and z > v.preview_scale * 1.001:
                    grid = tiles_covering(pred.shape, region, self.tile)
                    if len(grid) <= MAX_TILES:
                        keys = [(kind, T if kind == "result" else None, ty, tx) for ty, tx in grid]
                    else:
                        log.warning("%d tiles would be needed for one panel: showing the preview", len(grid))
            out[v] = keys
        return out

    def update(self) -> None:
        """Show the cached tiles the panels need, drop the ones out of sight, and make the missing ones."""
        pred = self.source.prediction
        wanted = self._wanted()
        missing: List[CacheKey] = []
        for v, keys in wanted.items():
            self._show(v, keys)
            missing.extend(k for k in keys if k not in self.cache and k not in missing)
        self._set_status(self._status_now(wanted))
        if not missing or pred is None:
            return
        running = self.tasks.current(TILES)
        tag = running.tag if running is not None else None
        if tag is not None and tag[0] is pred and set(missing) <= tag[1]:
            return  # the job on its way makes them
        requests = [TileRequest(kind, ty, tx, T if T is not None else 0.0) for kind, T, ty, tx in missing]
        self.tasks.start(TILES, render_tiles, pred.L, pred.pixels, pred.ab, requests, self.tile,
                         tag=(pred, set(missing)),
                         on_yielded=lambda res, p=pred: self._on_tile(p, res),
                         on_error=self._on_error)

    def _show(self, v: ImageView, keys: List[CacheKey]) -> None:
        wanted = set(keys)
        v.remove_tiles([k for k in v.tiles if k not in wanted])
        for k in keys:
            hit = self.cache.get(k)
            if hit is not None and k not in v.tiles:
                self.cache.move_to_end(k)
                v.show_tile(k, *hit)

    def _on_tile(self, pred: Any, res: TileResult) -> None:
        if pred is not self.source.prediction:
            return
        req = res.request
        key: CacheKey = (req.kind, float(req.T) if req.kind == "result" else None, req.ty, req.tx)
        self._store(key, res.rect, res.rgb)
        self.rendered += 1
        wanted = self._wanted()
        for v, keys in wanted.items():
            if key in keys:
                v.show_tile(key, res.rect, res.rgb)
        self._set_status(self._status_now(wanted))

    def _store(self, key: CacheKey, rect: Tuple[int, int, int, int], rgb: np.ndarray) -> None:
        old = self.cache.pop(key, None)
        if old is not None:
            self.cache_bytes -= old[1].nbytes
        self.cache[key] = (rect, rgb)
        self.cache_bytes += rgb.nbytes
        while self.cache_bytes > self.budget_bytes and len(self.cache) > 1:
            _k, (_r, dropped) = self.cache.popitem(last=False)
            self.cache_bytes -= dropped.nbytes

    def _on_error(self, message: str, tb: str) -> None:
        log.error("full-resolution tiles failed: %s\n%s", message, tb)
        self.source.message.emit(f"Full-resolution view unavailable: {message}")

    # -- status -------------------------------------------------------------------------------------
    def _status_now(self, wanted: Optional[Dict[ImageView, List[CacheKey]]] = None) -> str:
        wanted = self._wanted() if wanted is None else wanted
        keys = wanted.get(self.view.main_view, [])
        if not keys:
            return NONE
        shown = self.view.main_view.tiles
        return FULL if all(k in shown for k in keys) else REFINING

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)

    def tile_of(self, kind: str, ty: int, tx: int) -> Optional[np.ndarray]:
        """A cached tile's pixels at the current T (tests)."""
        T = float(self.source.T) if kind == "result" else None
        hit = self.cache.get((kind, T, ty, tx))
        return None if hit is None else hit[1]

    def rect_of(self, ty: int, tx: int) -> Tuple[int, int, int, int]:
        pred = self.source.prediction
        return tile_rect(pred.shape, ty, tx, self.tile)


__all__ = ["TileController", "DELAY_MS", "NONE", "REFINING", "FULL"]
