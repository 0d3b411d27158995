"""The small views the wizard's pages share: images and grids, ab-plane plots, headings, and :class:`WizardPage`."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ....core.progress import format_duration
from ..controller import TrainingWizardController

PAGE_NO_TORCH, PAGE_DATA, PAGE_COLORS, PAGE_SETTINGS, PAGE_TRAIN, PAGE_EVALUATE, PAGE_EXPORT = range(7)


def rgb_pixmap(rgb: np.ndarray) -> QPixmap:
    """uint8 RGB (H, W, 3) numpy array -> QPixmap (copied)."""
    a = np.ascontiguousarray(rgb[..., :3].astype(np.uint8, copy=False))
    img = QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(img.copy())


def side_by_side(images: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Images of one height placed left to right with a white gap (heights are matched by cropping)."""
    h = min(im.shape[0] for im in images)
    parts: List[np.ndarray] = []
    for i, im in enumerate(images):
        if i:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
        parts.append(np.ascontiguousarray(im[:h, :, :3]).astype(np.uint8))
    return np.concatenate(parts, axis=1)


class NumberItem(QTableWidgetItem):
    """A table cell showing formatted text that sorts by its number."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.value = float(value)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < getattr(other, "value", 0.0)


class ImageGrid(QWidget):
    """Captioned images in a grid (thumbnails, sample colorizations)."""

    def __init__(self, columns: int = 4, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.labels: List[QLabel] = []

    def set_images(self, items: Sequence[Tuple[str, np.ndarray]], max_height: int = 120) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.labels = []
        for i, (caption, rgb) in enumerate(items):
            cell = QWidget()
            lay = QVBoxLayout(cell)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(2)
            pic = QLabel()
            pm = rgb_pixmap(rgb)
            if pm.height() != max_height:
                pm = pm.scaledToHeight(max_height, Qt.TransformationMode.SmoothTransformation)
            pic.setPixmap(pm)
            pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text = QLabel(caption)
            text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text.setStyleSheet("color: #555; font-size: 11px;")
            text.setMaximumWidth(max(80, pm.width()))
            lay.addWidget(pic)
            lay.addWidget(text)
            lay.addStretch(1)
            self.grid.addWidget(cell, i // self.columns, i % self.columns, Qt.AlignmentFlag.AlignTop)
            self.labels.append(pic)


def ab_plot(title: str) -> Tuple[pg.PlotWidget, pg.ImageItem]:
    """A square plot of the ab plane (a* right, b* up) holding one image."""
    w = pg.PlotWidget()
    w.setBackground("w")
    w.setTitle(title, color="#333", size="10pt")
    item = pg.ImageItem(axisOrder="row-major")
    w.addItem(item)
    w.setAspectLocked(True)
    w.setLabel("bottom", "a*")
    w.setLabel("left", "b*")
    w.showGrid(x=True, y=True, alpha=0.15)
    w.setMouseEnabled(False, False)
    w.hideButtons()
    w.setMinimumSize(240, 240)
    return w, item


def set_ab_image(item: pg.ImageItem, plot: pg.PlotWidget, image: Optional[Tuple[np.ndarray, tuple]]) -> None:
    if image is None:
        item.clear()
        return
    rgb, (a0, a1, b0, b1) = image
    item.setImage(rgb, levels=(0, 255))
    item.setRect(QRectF(a0, b0, a1 - a0, b1 - b0))
    plot.setRange(xRange=(a0, a1), yRange=(b0, b1), padding=0.02)


def short_duration(seconds: float) -> str:
    """format_duration, with "<1s" instead of "0s"."""
    return "<1s" if seconds is not None and 0 <= seconds < 0.5 else format_duration(seconds)


def heading(text: str) -> QLabel:
    lab = QLabel(text)
    f = lab.font()
    f.setBold(True)
    lab.setFont(f)
    return lab


class WizardPage(QWizardPage):
    """Base page: holds the controller; :meth:`on_shown` is called whenever the page becomes current."""

    def __init__(self, controller: TrainingWizardController, title: str, subtitle: str = "") -> None:
        super().__init__()
        self.c = controller
        self.setTitle(title)
        if subtitle:
            self.setSubTitle(subtitle)

    def on_shown(self) -> None:
        """Catch up with the controller (the page just became current)."""
