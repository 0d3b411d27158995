"""An image view: a pyqtgraph ImageItem in a ViewBox with a locked aspect ratio (pan with drag, zoom with wheel),
with zoom steps (fit, 100 %, in, out; double-click toggles fit / 100 %) and full-resolution tiles over the preview.

Coordinates. The view's own coordinates are the **full-resolution image's pixels** (``full_shape``, which defaults
to the shown array's shape): the shown array (a preview of at most ≈ 2 MP) is stretched over them, and tiles of
the full-resolution image (:meth:`ImageView.show_tile`) are placed at their own pixels, so at 100 % one image pixel
is one device pixel. Hover, click and marker coordinates stay those of the shown array (as before), whatever its
size.

Zoom is *device pixels per full-resolution pixel* (1.0 = 100 %: one image pixel on one physical screen pixel, also
on a 150 % or 200 % scaled desktop).
"""

from __future__ import annotations

from typing import Dict, Hashable, Iterable, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QStackedLayout, QWidget

# the zoom steps of Zoom In / Zoom Out (device pixels per image pixel)
ZOOM_STEPS: Tuple[float, ...] = (1 / 32, 1 / 24, 1 / 16, 1 / 12, 1 / 8, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 1.5,
                                 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
TILE_Z = 1  # tiles lie over the preview (z 0), under overlays (5) and the pin marker (10)

Rect = Tuple[int, int, int, int]  # (y0, x0, y1, x1) in full-resolution pixels


def zoom_text(zoom: Optional[float]) -> str:
    """A zoom as the status bar shows it: "100 %", "33.3 %", "1600 %"."""
    if zoom is None:
        return ""
    pct = zoom * 100.0
    return f"{pct:.0f} %" if pct >= 99.5 or abs(pct - round(pct)) < 0.05 else f"{pct:.1f} %"


class ImageView(QWidget):
    """Shows a uint8 RGB array. Reports the pixel under the cursor and clicks in the shown array's coordinates."""

    hovered = Signal(object, object)  # (y, x) floats in array coordinates, or (None, None) when outside
    clicked = Signal(float, float)  # (y, x)
    view_changed = Signal()  # the zoom or the visible part changed (pan, zoom, resize, new image size)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)  # the image reaches the panel's edges
        self.viewbox = self.graphics.addViewBox()
        self.viewbox.setAspectLocked(True)
        self.viewbox.invertY(True)
        self.viewbox.setMenuEnabled(False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.item)
        self.marker = pg.ScatterPlotItem(symbol="+", size=18, pen=pg.mkPen("w", width=2), brush=None)
        self.marker.setZValue(10)
        self.viewbox.addItem(self.marker)
        self.placeholder = QLabel("Open images (File ▸ Open) or drop files and folders here.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.placeholder)
        self._stack.addWidget(self.graphics)
        self.image: Optional[np.ndarray] = None
        self._full_shape: Optional[Tuple[int, int]] = None
        self._placed: Optional[Tuple[Tuple[int, ...], Tuple[int, int]]] = None  # (array shape, full shape) placed
        self._fit_target: Optional[list] = None  # the view's target range when it was last fitted
        self._zoom_target: Optional[Tuple[float, list]] = None  # (zoom, target range) set by set_zoom
        self.tiles: Dict[Hashable, pg.ImageItem] = {}
        self._pending_click: Optional[Tuple[float, float]] = None
        self._click_timer = QTimer(self)
        self._click_timer.setSingleShot(True)
        self._click_timer.timeout.connect(self._emit_click)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.viewbox.sigRangeChanged.connect(self._on_range_changed)
        self.viewbox.sigResized.connect(self._on_resized)

    # -- content --------------------------------------------------------------------------------
    def set_message(self, text: str) -> None:
        self.placeholder.setText(text)
        if self.image is None:
            self._stack.setCurrentWidget(self.placeholder)

    @property
    def full_shape(self) -> Optional[Tuple[int, int]]:
        """(H, W) of the full-resolution image the shown array previews (the array's own shape if not set)."""
        if self._full_shape is not None:
            return self._full_shape
        return None if self.image is None else (int(self.image.shape[0]), int(self.image.shape[1]))

    def set_full_shape(self, shape: Optional[Tuple[int, int]]) -> None:
        """The full-resolution size (H, W) behind the shown array (None: the array is the image)."""
        self._full_shape = None if shape is None else (int(shape[0]), int(shape[1]))
        self._place()

    def image_rect(self) -> QRectF:
        shape = self.full_shape or (0, 0)
        return QRectF(0.0, 0.0, float(shape[1]), float(shape[0]))

    @property
    def preview_scale(self) -> float:
        """Shown-array pixels per full-resolution pixel (1 when the array is the full image)."""
        full = self.full_shape
        if self.image is None or full is None:
            return 1.0
        return self.image.shape[1] / float(full[1])

    def set_image(self, rgb: Optional[np.ndarray]) -> None:
        """Show ``rgb`` (uint8 (h, w, 3)); None clears the view. Keeps the zoom when the size is unchanged."""
        if rgb is None:
            self.image = None
            self.item.clear()
            self.marker.clear()
            self.clear_tiles()
            self._placed = None
            self._stack.setCurrentWidget(self.placeholder)
            return
        self.image = rgb
        # uint8 RGB with levels=None goes straight into a QImage; levels=(0, 255) would make pyqtgraph rescale
        # every pixel first (≈ 15 ms for 2 MP on two cores)
        self.item.setImage(rgb, autoLevels=False, levels=None)
        self._stack.setCurrentWidget(self.graphics)
        self._place()

    def _place(self) -> None:
        """Stretch the shown array over the full-resolution coordinates; a new size fits the view to it."""
        if self.image is None:
            return
        key = (tuple(self.image.shape), self.full_shape)
        if key == self._placed:
            return
        new_full = self._placed is None or self._placed[1] != key[1]
        self._placed = key
        self.item.setRect(self.image_rect())
        if new_full:
            self.clear_tiles()
            self.fit()
        else:
            self.view_changed.emit()

    def set_marker(self, y: Optional[float], x: Optional[float]) -> None:
        """Mark a pixel (array coordinates) — the pinned one — or clear the mark with None."""
        if y is None or x is None:
            self.marker.clear()
        else:
            p = self.to_view(float(y), float(x))
            self.marker.setData(x=[p.x()], y=[p.y()])

    def to_view(self, y: float, x: float) -> QPointF:
        """Array coordinates → the view's (full-resolution) coordinates."""
        full = self.full_shape
        if self.image is None or full is None:
            return QPointF(x, y)
        h, w = self.image.shape[:2]
        return QPointF(x * full[1] / w, y * full[0] / h)

    # -- zoom -----------------------------------------------------------------------------------
    def device_pixel_ratio(self) -> float:
        return float(self.graphics.devicePixelRatioF())

    @property
    def zoom(self) -> Optional[float]:
        """Device pixels per full-resolution image pixel (1.0 = 100 %), or None without an image."""
        if self.image is None:
            return None
        (x0, x1), _ = self.viewbox.viewRange()
        width = float(self.viewbox.width())  # logical pixels
        if x1 <= x0 or width <= 0:
            return None
        return self.device_pixel_ratio() * width / (x1 - x0)

    @property
    def fitted(self) -> bool:
        """Whether the view shows the whole image as :meth:`fit` left it (then a resize fits it again); any zoom or
        pan since (by the user, a linked view or code) ends that."""
        if self._fit_target is None:
            return False
        return bool(np.allclose(self.viewbox.targetRange(), self._fit_target, rtol=0, atol=1e-6))

    @fitted.setter
    def fitted(self, value: bool) -> None:
        self._fit_target = self.viewbox.targetRange() if value else None

    def fit(self) -> None:
        """Show the whole image (and keep it whole when the view is resized, until the view zooms or pans)."""
        if self.image is None:
            return
        self.viewbox.autoRange(padding=0.0)
        self.fitted = True
        self.view_changed.emit()

    def set_zoom(self, zoom: float, center: Optional[Tuple[float, float]] = None) -> None:
        """Zoom to ``zoom`` device pixels per image pixel around ``center`` = (y, x) in full-resolution pixels
        (default: the middle of what is shown). Whole zooms put image pixels on whole device pixels."""
        if self.image is None or zoom <= 0:
            return
        vw, vh = float(self.viewbox.width()), float(self.viewbox.height())
        if vw <= 0 or vh <= 0:
            return
        dpr = self.device_pixel_ratio()
        ww, hh = vw * dpr / zoom, vh * dpr / zoom  # the view's extent in image pixels
        if center is None:
            (x0, x1), (y0, y1) = self.viewbox.viewRange()
            cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
        else:
            cy, cx = center
        left, top = cx - ww / 2.0, cy - hh / 2.0
        if zoom >= 1.0 and abs(zoom - round(zoom)) < 1e-9:  # device-pixel aligned: no resampling of the pixels
            left, top = round(left * zoom) / zoom, round(top * zoom) / zoom
        self.viewbox.setRange(xRange=(left, left + ww), yRange=(top, top + hh), padding=0.0)
        self.fitted = False
        self._zoom_target = (float(zoom), self.viewbox.targetRange())
        self.view_changed.emit()

    @property
    def held_zoom(self) -> Optional[float]:
        """The zoom :meth:`set_zoom` set, while the view has not been zoomed or panned otherwise since (a resize
        keeps it: 100 % stays 100 %)."""
        if self._zoom_target is None:
            return None
        zoom, target = self._zoom_target
        return zoom if np.allclose(self.viewbox.targetRange(), target, rtol=0, atol=1e-6) else None

    def zoom_100(self, center: Optional[Tuple[float, float]] = None) -> None:
        self.set_zoom(1.0, center)

    def zoom_in(self) -> None:
        z = self.zoom
        if z is not None:
            self.set_zoom(next((s for s in ZOOM_STEPS if s > z * 1.01), ZOOM_STEPS[-1]))

    def zoom_out(self) -> None:
        z = self.zoom
        if z is not None:
            self.set_zoom(next((s for s in reversed(ZOOM_STEPS) if s < z / 1.01), ZOOM_STEPS[0]))

    def toggle_fit(self, center: Optional[Tuple[float, float]] = None) -> None:
        """Fit ↔ 100 % (around ``center``, full-resolution (y, x)), as a double-click does."""
        z = self.zoom
        if z is not None and not self.fitted and abs(z - 1.0) < 1e-3:
            self.fit()
        else:
            self.zoom_100(center)

    def visible_region(self) -> Optional[Rect]:
        """The part of the full-resolution image in sight, (y0, x0, y1, x1), or None if nothing is."""
        full = self.full_shape
        if self.image is None or full is None:
            return None
        (x0, x1), (y0, y1) = self.viewbox.viewRange()
        H, W = full
        y0i, x0i = max(0, int(np.floor(y0))), max(0, int(np.floor(x0)))
        y1i, x1i = min(H, int(np.ceil(y1))), min(W, int(np.ceil(x1)))
        if y1i <= y0i or x1i <= x0i:
            return None
        return y0i, x0i, y1i, x1i

    # -- full-resolution tiles ------------------------------------------------------------------
    def show_tile(self, key: Hashable, rect: Rect, rgb: np.ndarray) -> None:
        """Lay full-resolution pixels ``rgb`` (uint8 (y1 − y0, x1 − x0, 3)) over the preview at ``rect``."""
        item = self.tiles.get(key)
        if item is None:
            item = self.tiles[key] = pg.ImageItem(axisOrder="row-major")
            item.setZValue(TILE_Z)
            self.viewbox.addItem(item)
        item.setImage(rgb, autoLevels=False, levels=None)
        y0, x0, y1, x1 = rect
        item.setRect(QRectF(float(x0), float(y0), float(x1 - x0), float(y1 - y0)))

    def remove_tiles(self, keys: Iterable[Hashable]) -> None:
        for key in list(keys):
            item = self.tiles.pop(key, None)
            if item is not None:
                self.viewbox.removeItem(item)

    def clear_tiles(self) -> None:
        self.remove_tiles(list(self.tiles))

    # -- events ---------------------------------------------------------------------------------
    def _on_range_changed(self, *_args) -> None:
        self.view_changed.emit()

    def _on_resized(self, *_args) -> None:
        held = self.held_zoom
        if self.fitted and self.image is not None:
            self.fit()
        elif held is not None and self.image is not None:
            (x0, x1), (y0, y1) = self._zoom_target[1]
            self.set_zoom(held, ((y0 + y1) / 2.0, (x0 + x1) / 2.0))
        else:
            self.view_changed.emit()

    def _to_image(self, scene_pos: QPointF):
        if self.image is None:
            return None
        p = self.item.mapFromScene(scene_pos)
        y, x = p.y(), p.x()
        h, w = self.image.shape[:2]
        if 0 <= y < h and 0 <= x < w:
            return y, x
        return None

    def _on_mouse_moved(self, pos: QPointF) -> None:
        yx = self._to_image(pos)
        self.hovered.emit(*(yx if yx else (None, None)))

    def _on_mouse_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        if ev.double():  # fit ↔ 100 % around the pixel double-clicked; the click before it pins nothing
            self._click_timer.stop()
            self._pending_click = None
            p = self.viewbox.mapSceneToView(ev.scenePos())
            self.toggle_fit((p.y(), p.x()))
            ev.accept()
            return
        yx = self._to_image(ev.scenePos())
        if yx:
            # a single click waits out the double-click interval, so a double-click never pins a pixel first
            self._pending_click = yx
            self._click_timer.start(QApplication.doubleClickInterval())

    def _emit_click(self) -> None:
        yx, self._pending_click = self._pending_click, None
        if yx is not None:
            self.clicked.emit(*yx)
