"""The comparison views: the result alone (optionally with the entropy or ΔE2000 map over it), the gray input, the
result and the ground truth side by side with zoom and pan linked, and a wipe view with a draggable divider.

Views only: :class:`CompareView` shows the dict of ``CompareController.views_changed`` (:meth:`CompareView.set_views`)
and reports what the user did (mode, overlays, hover and clicks in the shown arrays' coordinates, which are the
same for every panel since all of them have the preview's size).

Zoom: every panel's coordinates are the full-resolution image's pixels (``views["full_shape"]``), so Fit, 100 %,
Zoom In / Out (:meth:`CompareView.fit` ...) mean the same in every mode, and the tiles of
:class:`~.tiles.TileController` show real pixels wherever the preview would be magnified. Side by side lays the
panels out in a row or, when that shows them larger (landscape photos in a wide window), in a column.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..widgets.image_view import ZOOM_STEPS, ImageView

MODES: Tuple[str, ...] = ("result", "side by side", "wipe")
MODE_LABELS = {"result": "Result", "side by side": "Side by side", "wipe": "Wipe"}
OVERLAY_LABELS = {"entropy": "Entropy", "delta_e": "ΔE error"}
DEFAULT_OPACITY = 0.6


class OverlayImageView(ImageView):
    """An :class:`ImageView` that can draw a semi-transparent map over its image, stretched over the whole image
    whatever the map's resolution (so coordinates stay those of the image)."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setZValue(5)  # over the image, under the pin marker
        self.overlay.setOpacity(DEFAULT_OPACITY)
        self.overlay.hide()
        self.viewbox.addItem(self.overlay)
        self.overlay_image: Optional[np.ndarray] = None

    def set_image(self, rgb: Optional[np.ndarray]) -> None:
        super().set_image(rgb)
        self._place_overlay()

    def set_overlay(self, rgb: Optional[np.ndarray]) -> None:
        """Draw ``rgb`` (uint8 (h, w, 3), any size) over the image; None removes it."""
        if rgb is not self.overlay_image:
            self.overlay_image = rgb
            if rgb is not None:
                self.overlay.setImage(rgb, autoLevels=False, levels=None)  # uint8 RGB straight into a QImage
        self._place_overlay()

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay.setOpacity(float(opacity))

    @property
    def overlay_visible(self) -> bool:
        return self.overlay.isVisible()

    def _place_overlay(self) -> None:
        if self.overlay_image is None or self.image is None:
            self.overlay.hide()
            return
        self.overlay.setRect(self.image_rect())
        self.overlay.show()


class WipeView(ImageView):
    """One image made of two: ``left`` to the left of a draggable vertical divider, ``right`` from it on.

    The composite is an ordinary array (:attr:`image`), so hover and click coordinates are the images' own."""

    divider_moved = Signal(float)  # the divider's x in image columns

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.left: Optional[np.ndarray] = None
        self.right: Optional[np.ndarray] = None
        self.fraction = 0.5  # divider position as a share of the width, kept across images
        self.divider = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen("w", width=2),
                                       hoverPen=pg.mkPen("#ffca28", width=3))
        self.divider.setZValue(20)
        self.divider.hide()
        self.viewbox.addItem(self.divider)
        self.divider.sigPositionChanged.connect(self._on_divider)
        self._divider_full: Optional[Tuple[int, int]] = None

    @property
    def divider_x(self) -> float:
        """The divider's place in image (shown array) columns."""
        return float(self.divider.value()) * self._columns_per_unit()

    def _columns_per_unit(self) -> float:
        full = self.full_shape
        if self.left is None or full is None or not full[1]:
            return 1.0
        return self.left.shape[1] / float(full[1])

    def set_pair(self, left: Optional[np.ndarray], right: Optional[np.ndarray]) -> None:
        """Show ``left`` | ``right`` (uint8 RGB of one shape; a missing or mismatched ``right`` shows ``left`` only)."""
        if left is None:
            self.left = self.right = None
            self.divider.hide()
            self.set_image(None)
            return
        if right is None or right.shape != left.shape:
            right = left
        resized = self.left is None or self.left.shape != left.shape or self._divider_full != self.full_shape
        self.left, self.right = left, right
        if resized:
            self._divider_full = self.full_shape
            W = float((self.full_shape or left.shape[:2])[1])
            self.divider.setBounds((0, W))
            self.divider.blockSignals(True)
            self.divider.setValue(self.fraction * W)
            self.divider.blockSignals(False)
        self.divider.show()
        self._compose()

    def set_divider(self, x: float) -> None:
        """Move the divider to image column ``x`` (as dragging it does)."""
        self.divider.setValue(float(x) / self._columns_per_unit())

    def composite(self) -> Optional[np.ndarray]:
        """The array shown: columns left of the divider from ``left``, the rest from ``right``."""
        if self.left is None:
            return None
        x = int(round(min(max(self.divider_x, 0.0), self.left.shape[1])))
        out = self.right.copy()
        out[:, :x] = self.left[:, :x]
        return out

    def _compose(self) -> None:
        super().set_image(self.composite())

    def _on_divider(self) -> None:
        if self.left is None:
            return
        self.fraction = self.divider_x / max(1, self.left.shape[1])
        self._compose()
        self.divider_moved.emit(self.divider_x)


class ColorLegend(QWidget):
    """A colour bar: the map's label, its gradient and the values at both ends."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.low = QLabel()
        self.bar = QLabel()
        self.high = QLabel()
        for w in (self.title, self.low, self.bar, self.high):
            lay.addWidget(w)
        self.legend: Optional[Dict[str, Any]] = None
        self.hide()

    def set_legend(self, legend: Optional[Dict[str, Any]]) -> None:
        """``legend``: {"lut": (256, 3) uint8, "range": (low, high), "label": str}; None hides the bar."""
        self.legend = legend
        if legend is None:
            self.hide()
            return
        lut = np.ascontiguousarray(np.repeat(np.asarray(legend["lut"], np.uint8)[None], 12, axis=0))
        img = QImage(lut.data, lut.shape[1], lut.shape[0], lut.strides[0], QImage.Format.Format_RGB888).copy()
        self.bar.setPixmap(QPixmap.fromImage(img).scaled(140, 12))
        low, high = legend["range"]
        self.title.setText(legend["label"])
        self.low.setText(f"{low:g}")
        self.high.setText(f"≥ {high:g}" if high > 1 else f"{high:g}")
        self.show()


class _Resizing(QWidget):
    """A plain container that calls ``on_resize`` after each resize (the side-by-side page re-arranges itself)."""

    def __init__(self, on_resize, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._on_resize = on_resize

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        self._on_resize()


def _titled(title: str, view: QWidget) -> Tuple[QWidget, QLabel]:
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    label = QLabel(title)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    lay.addWidget(label)
    lay.addWidget(view, 1)
    return box, label


class CompareView(QWidget):
    """The central image area with its comparison modes.

    Drop-in for :class:`ImageView` where the main window needs it (``image``, ``set_image``, ``set_message``,
    ``set_marker``, ``hovered``, ``clicked``); the comparison content comes from :meth:`set_views`.
    """

    hovered = Signal(object, object)  # (y, x) in the shown arrays' coordinates, or (None, None)
    clicked = Signal(float, float)  # (y, x)
    mode_changed = Signal(str)  # one of MODES
    overlays_changed = Signal(object)  # {"entropy": bool, "delta_e": bool} → CompareController.set_overlays
    zoom_changed = Signal(object)  # the main panel's zoom (device pixels per image pixel), or None without image
    view_changed = Signal()  # what some panel shows changed (zoom, pan, size, mode): tiles may be needed

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._views: Dict[str, Any] = {}
        self._mode = MODES[0]

        # the toolbar: mode, overlays, opacity, colour bar
        self.mode_box = QComboBox()
        for m in MODES:
            self.mode_box.addItem(MODE_LABELS[m], m)
        self.overlay_boxes: Dict[str, QCheckBox] = {name: QCheckBox(text) for name, text in OVERLAY_LABELS.items()}
        self.overlay_boxes["delta_e"].setEnabled(False)
        self.overlay_boxes["delta_e"].setToolTip("Needs a colour input (its own colours are the ground truth)")
        self.overlay_boxes["entropy"].setToolTip("The network's uncertainty per pixel at the current T")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(DEFAULT_OPACITY * 100))
        self.opacity.setMaximumWidth(100)
        self.opacity.setToolTip("Opacity of the map over the result")
        self.opacity.setAccessibleName("Overlay opacity")
        self.opacity_label = QLabel("&Opacity:")
        self.opacity_label.setBuddy(self.opacity)
        self.opacity_label.setToolTip(self.opacity.toolTip())
        self.legend = ColorLegend()
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("View:"))
        bar.addWidget(self.mode_box)
        bar.addSpacing(12)
        for box in self.overlay_boxes.values():
            bar.addWidget(box)
        bar.addWidget(self.opacity_label)
        bar.addWidget(self.opacity)
        bar.addSpacing(12)
        bar.addWidget(self.legend)
        bar.addStretch(1)

        # the pages
        self.result_view = OverlayImageView()
        self.gray_view = ImageView()
        self.side_result_view = OverlayImageView()
        self.truth_view = ImageView()
        self.wipe_view = WipeView()
        self.side_views: List[ImageView] = [self.gray_view, self.side_result_view, self.truth_view]
        for v in (self.gray_view, self.truth_view):
            v.viewbox.setXLink(self.side_result_view.viewbox)
            v.viewbox.setYLink(self.side_result_view.viewbox)
        side = _Resizing(self._arrange_side)
        self.side_layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, side)
        self.side_layout.setContentsMargins(0, 0, 0, 0)
        self._truth_box: Optional[QWidget] = None
        self._title_height = 0
        for v, title in zip(self.side_views, ("Gray input", "Result", "Ground truth")):
            box, label = _titled(title, v)
            self._title_height = label.sizeHint().height() + 2
            self.side_layout.addWidget(box, 1)
            if v is self.truth_view:
                self._truth_box = box
        wipe, self.wipe_label = _titled("◀ Result  |  Gray input ▶", self.wipe_view)
        self.stack = QStackedWidget()
        self._pages = {"result": self.result_view, "side by side": side, "wipe": wipe}
        for m in MODES:
            self.stack.addWidget(self._pages[m])

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addWidget(self.stack, 1)

        for v in self.all_views:
            v.hovered.connect(self.hovered)
            v.clicked.connect(self.clicked)
            v.view_changed.connect(lambda v=v: self._on_view_changed(v))
        self.mode_box.currentIndexChanged.connect(lambda i: self.set_mode(self.mode_box.itemData(i)))
        for name, box in self.overlay_boxes.items():
            box.toggled.connect(lambda _on, n=name: self._on_overlay_toggled(n))
        self.opacity.valueChanged.connect(self._on_opacity)

    # -- state ------------------------------------------------------------------------------------
    @property
    def all_views(self) -> List[ImageView]:
        return [self.result_view, *self.side_views, self.wipe_view]

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def image(self) -> Optional[np.ndarray]:
        """The result array shown (all panels share its size, hence its coordinates)."""
        return self._views.get("result")

    @property
    def overlays(self) -> Dict[str, bool]:
        return {name: box.isChecked() for name, box in self.overlay_boxes.items()}

    @property
    def active_overlay(self) -> Optional[str]:
        """The map drawn over the result: the checked overlay, if the controller has sent its image."""
        for name, on in self.overlays.items():
            if on and self._views.get(name) is not None:
                return name
        return None

    # -- slots ------------------------------------------------------------------------------------
    def set_views(self, views: Optional[Dict[str, Any]]) -> None:
        """Show a ``CompareController.views()`` dict (None clears everything)."""
        self._views = dict(views or {})
        has_truth = bool(self._views.get("has_truth"))
        self.overlay_boxes["delta_e"].setEnabled(has_truth)  # a checked box stays checked for the next colour input
        if self._truth_box is not None:
            self._truth_box.setVisible(has_truth)
            self._arrange_side()
        self.wipe_label.setText("◀ Result  |  " + ("Ground truth" if has_truth else "Gray input") + " ▶")
        self._refresh()

    def set_image(self, rgb: Optional[np.ndarray]) -> None:
        """Only a new result (as ImageView.set_image); the other panels keep what they had."""
        self._views["result"] = rgb
        self._refresh()

    def set_message(self, text: str) -> None:
        for v in self.all_views:
            v.set_message(text)

    def set_marker(self, y: Optional[float], x: Optional[float]) -> None:
        for v in self.all_views:
            v.set_marker(y, x)

    def set_mode(self, mode: str) -> None:
        """Switch to one of :data:`MODES`, keeping the zoom and pan of the view left."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        if mode == self._mode:
            return
        before = self._main_view(self._mode)
        self._mode = mode
        self.mode_box.blockSignals(True)
        self.mode_box.setCurrentIndex(MODES.index(mode))
        self.mode_box.blockSignals(False)
        self.stack.setCurrentWidget(self._pages[mode])
        self._refresh()
        if mode == "side by side":
            self._arrange_side()
        self._carry_zoom(before, self._main_view(mode))
        self.mode_changed.emit(mode)
        self.zoom_changed.emit(self.zoom)

    def set_overlay(self, name: Optional[str]) -> None:
        """Check one overlay ("entropy" / "delta_e") or none (None), as the check boxes do."""
        for n, box in self.overlay_boxes.items():
            box.setChecked(n == name)

    # -- internals ----------------------------------------------------------------------------------
    def _main_view(self, mode: str) -> ImageView:
        return {"result": self.result_view, "side by side": self.side_result_view, "wipe": self.wipe_view}[mode]

    @staticmethod
    def _carry_zoom(before: ImageView, after: ImageView) -> None:
        """Show in ``after`` the part of the image that ``before`` showed (the whole image if it showed all of it;
        the aspect lock widens the other axis to fit the new view's shape; a zoom like 100 % is kept as it is)."""
        if before.image is None or after.image is None or before.full_shape != after.full_shape:
            return
        if before.fitted:
            after.fit()
            return
        h, w = before.full_shape or (0, 0)
        (x0, x1), (y0, y1) = before.viewbox.viewRange()
        x0, x1, y0, y1 = max(x0, 0.0), min(x1, float(w)), max(y0, 0.0), min(y1, float(h))
        if x1 - x0 < 1.0 or y1 - y0 < 1.0:  # the image was out of sight: just show it
            after.fit()
            return
        zoom = before.zoom
        if zoom is not None and any(abs(zoom - s) < 1e-6 for s in ZOOM_STEPS):  # a zoom step (100 %): kept
            after.set_zoom(zoom, ((y0 + y1) / 2.0, (x0 + x1) / 2.0))
            return
        after.viewbox.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)
        after.fitted = False

    # -- zoom -------------------------------------------------------------------------------------
    @property
    def main_view(self) -> ImageView:
        """The panel that zoom actions and the zoom readout refer to (the result's, in every mode)."""
        return self._main_view(self._mode)

    @property
    def zoom(self) -> Optional[float]:
        return self.main_view.zoom

    def fit(self) -> None:
        self.main_view.fit()

    def zoom_100(self) -> None:
        self.main_view.zoom_100()

    def zoom_in(self) -> None:
        self.main_view.zoom_in()

    def zoom_out(self) -> None:
        self.main_view.zoom_out()

    def visible_views(self) -> List[ImageView]:
        """The panels on screen in the current mode (tiles are made for these only)."""
        if self._mode == "result":
            return [self.result_view]
        if self._mode == "side by side":
            return [v for v in self.side_views if v.image is not None and (v is not self.truth_view or (
                self._truth_box is not None and not self._truth_box.isHidden()))]
        return [self.wipe_view]

    def _on_view_changed(self, view: ImageView) -> None:
        if view is self.main_view:
            self.zoom_changed.emit(view.zoom)
        self.view_changed.emit()

    def _arrange_side(self) -> None:
        """Side by side: the panels in a row, or in a column where that shows them larger (landscape photos)."""
        shape = self.side_result_view.full_shape
        n = len(self.visible_views()) if self._mode == "side by side" else 2 + int(bool(self._views.get("has_truth")))
        if shape is None or n < 2:
            return
        H, W = shape
        area = self.side_layout.parentWidget().size() if self.side_layout.parentWidget() else self.size()
        aw, ah = float(area.width()), float(area.height())
        t = self._title_height
        row = min(aw / n / W, max(1.0, ah - t) / H)
        column = min(aw / W, max(1.0, ah / n - t) / H)
        direction = QBoxLayout.Direction.TopToBottom if column > row * 1.02 else QBoxLayout.Direction.LeftToRight
        if direction != self.side_layout.direction():
            self.side_layout.setDirection(direction)

    def _on_overlay_toggled(self, name: str) -> None:
        if self.overlay_boxes[name].isChecked():  # one map at a time
            for other, box in self.overlay_boxes.items():
                if other != name and box.isChecked():
                    box.blockSignals(True)
                    box.setChecked(False)
                    box.blockSignals(False)
        self._refresh()
        self.overlays_changed.emit(self.overlays)

    def _on_opacity(self, value: int) -> None:
        for v in (self.result_view, self.side_result_view):
            v.set_overlay_opacity(value / 100.0)

    def _refresh(self) -> None:
        """Update the visible page only (hidden pages are filled when they are shown)."""
        d = self._views
        result = d.get("result")
        name = self.active_overlay
        overlay = d.get(name) if name else None
        self.legend.set_legend(d.get("legends", {}).get(name) if name and self._mode != "wipe" else None)
        if self._mode == "result":
            self._set(self.result_view, result)
            self.result_view.set_overlay(overlay)
        elif self._mode == "side by side":
            self._set(self.gray_view, d.get("gray") if result is not None else None)
            self._set(self.side_result_view, result)
            self.side_result_view.set_overlay(overlay)
            self._set(self.truth_view, d.get("truth") if result is not None else None)
            self._arrange_side()
        else:
            under = d.get("truth") if d.get("truth") is not None else d.get("gray")
            self.wipe_view.set_full_shape(self._full_shape(result))
            self.wipe_view.set_pair(result, under)
        self.view_changed.emit()

    def _full_shape(self, rgb: Optional[np.ndarray]) -> Optional[Tuple[int, int]]:
        full = self._views.get("full_shape")
        if rgb is None or full is None:
            return None
        return int(full[0]), int(full[1])

    def _set(self, view: ImageView, rgb: Optional[np.ndarray]) -> None:
        view.set_full_shape(self._full_shape(rgb))
        if rgb is not view.image:
            view.set_image(rgb)
