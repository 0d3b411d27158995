"""An image view: a pyqtgraph ImageItem in a ViewBox with a locked aspect ratio (pan with drag, zoom with wheel)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget


class ImageView(QWidget):
    """Shows a uint8 RGB array. Reports the pixel under the cursor and clicks in the shown array's coordinates."""

    hovered = Signal(object, object)  # (y, x) floats in array coordinates, or (None, None) when outside
    clicked = Signal(float, float)  # (y, x)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
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
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def set_message(self, text: str) -> None:
        self.placeholder.setText(text)
        if self.image is None:
            self._stack.setCurrentWidget(self.placeholder)

    def set_image(self, rgb: Optional[np.ndarray]) -> None:
        """Show ``rgb`` (uint8 (h, w, 3)); None clears the view. Keeps the zoom when the size is unchanged."""
        if rgb is None:
            self.image = None
            self.item.clear()
            self.marker.clear()
            self._stack.setCurrentWidget(self.placeholder)
            return
        same_size = self.image is not None and self.image.shape == rgb.shape
        self.image = rgb
        # uint8 RGB with levels=None goes straight into a QImage; levels=(0, 255) would make pyqtgraph rescale
        # every pixel first (≈ 15 ms for 2 MP on two cores)
        self.item.setImage(rgb, autoLevels=False, levels=None)
        self._stack.setCurrentWidget(self.graphics)
        if not same_size:
            self.viewbox.autoRange(padding=0.0)

    def set_marker(self, y: Optional[float], x: Optional[float]) -> None:
        """Mark a pixel (array coordinates) — the pinned one — or clear the mark with None."""
        if y is None or x is None:
            self.marker.clear()
        else:
            self.marker.setData(x=[float(x)], y=[float(y)])

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
        yx = self._to_image(ev.scenePos())
        if yx:
            self.clicked.emit(*yx)
