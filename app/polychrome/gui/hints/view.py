"""The hint tool on the image: colour points drawn as small swatches over the result (each with the outline of the
patch it covers on the network's input), placed, moved and removed with the mouse while the tool is on.

Click: place a point (or select one); drag a point: move it (the network runs when it is dropped); right-click or
Delete: remove it; the wheel over a point: its patch size (1–9). Elsewhere the view pans and zooms as always.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter

SWATCH = 14  # screen pixels
HIT = 11  # screen pixels around a swatch that grab it


class HintOverlay(pg.GraphicsObject):
    """Drawn in the coordinates of the image view's array (the shown preview); talks to a HintsController."""

    def __init__(self, controller: Any, image_view: Any) -> None:
        super().__init__()
        self.controller = controller
        self.image_view = image_view
        self.setZValue(20)
        self._rect = QRectF()
        self._drag_index: Optional[int] = None
        self.setAcceptHoverEvents(True)
        # the overlay only takes the mouse: without contents Qt never paints it, so a T step repaints no more
        self.setFlag(self.GraphicsItemFlag.ItemHasNoContents, True)
        image_view.viewbox.addItem(self)
        self.patches = pg.ScatterPlotItem(pxMode=False, brush=None,
                                          pen=pg.mkPen(QColor(255, 255, 255, 210), width=1, style=Qt.PenStyle.DashLine))
        self.swatches = pg.ScatterPlotItem(pxMode=True)
        self.rings = pg.ScatterPlotItem(pxMode=True, brush=None, pen=pg.mkPen(QColor(0, 0, 0), width=2))
        for item, z in ((self.patches, 18), (self.rings, 19), (self.swatches, 19.5)):
            item.setZValue(z)
            item.setVisible(False)  # shown only while there are points to draw
            image_view.viewbox.addItem(item)
        controller.changed.connect(self.refresh)

    # -- geometry ---------------------------------------------------------------------------------
    def shown(self) -> Optional[Tuple[int, int]]:
        img = self.image_view.image
        return None if img is None else img.shape[:2]

    def refresh(self) -> None:
        shown = self.shown()
        rect = QRectF(0, 0, shown[1], shown[0]) if shown else QRectF()
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.setCursor(Qt.CursorShape.CrossCursor if self.controller.active else Qt.CursorShape.ArrowCursor)
        self._redraw()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(self._rect)

    # -- drawing (two scatter items: the swatches at a fixed screen size, the patch outlines in image units) --
    def paint(self, painter: QPainter, *_args: Any) -> None:
        return  # the overlay itself only takes the mouse

    def _redraw(self) -> None:
        c = self.controller
        m = c.model
        pts = c.points_in_view(self.shown()) if m.visible else []
        items = (self.swatches, self.rings, self.patches)
        if not pts:
            for item in items:
                if item.isVisible():  # nothing to draw: hidden items cost a repaint nothing
                    item.setData([], [])
                    item.setVisible(False)
            return
        for item in items:
            item.setVisible(True)
        ys = [p[0] for p in pts]
        xs = [p[1] for p in pts]
        brushes = [pg.mkBrush(*p[3]) for p in pts]
        sel = [i == m.selected for i in range(len(pts))]
        pens = [pg.mkPen(QColor(255, 214, 0), width=3) if s else pg.mkPen(QColor(255, 255, 255), width=1.5)
                for s in sel]
        sizes = [SWATCH + 4 if s else SWATCH for s in sel]
        self.swatches.setData(x=xs, y=ys, brush=brushes, pen=pens, size=sizes, symbol="s")
        self.rings.setData(x=xs, y=ys, size=[s + 4 for s in sizes], symbol="s")  # dark outline on light images
        self.patches.setData(x=xs, y=ys, size=[max(1.0, p[2]) for p in pts], symbol="s")

    # -- mouse ------------------------------------------------------------------------------------
    def _image_pos(self, pos: QPointF) -> Optional[Tuple[float, float]]:
        shown = self.shown()
        if shown is None:
            return None
        return self.controller.view_to_image(pos.y(), pos.x(), shown)

    def _hit(self, pos: QPointF) -> Optional[int]:
        yx = self._image_pos(pos)
        shown = self.shown()
        pred = self.controller.prediction
        if yx is None or shown is None or pred is None or not self.controller.model.visible:
            return None
        px = self.pixelWidth() or 1.0  # view pixels per screen pixel
        tolerance = HIT * px * pred.shape[1] / shown[1]
        return self.controller.model.hit(yx[0], yx[1], tolerance)

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802
        c = self.controller
        if not c.active:
            ev.ignore()
            return
        hit = self._hit(ev.pos())
        if ev.button() == Qt.MouseButton.LeftButton:
            if hit is not None:
                c.select(hit)
            else:
                yx = self._image_pos(ev.pos())
                if yx is not None:
                    c.add_point(*yx)
            ev.accept()
        elif ev.button() == Qt.MouseButton.RightButton and hit is not None:
            c.remove_point(hit)
            ev.accept()
        else:
            ev.ignore()

    def mouseDragEvent(self, ev: Any) -> None:  # noqa: N802
        c = self.controller
        if ev.button() != Qt.MouseButton.LeftButton or not c.active:
            ev.ignore()
            return
        if ev.isStart():
            hit = self._hit(ev.buttonDownPos())
            if hit is None:
                ev.ignore()  # not on a point: the view pans
                return
            self._drag_index = hit
            c.begin_drag(hit)
        if self._drag_index is None:
            ev.ignore()
            return
        ev.accept()
        yx = self._image_pos(ev.pos())
        if yx is not None:
            c.drag_to(self._drag_index, *yx)
        if ev.isFinish():
            self._drag_index = None
            c.end_drag()

    def wheelEvent(self, ev: Any) -> None:  # noqa: N802
        c = self.controller
        hit = self._hit(ev.pos()) if c.active else None
        if hit is None:
            ev.ignore()  # the view zooms
            return
        c.step_size(hit, 1 if ev.delta() > 0 else -1)
        ev.accept()
