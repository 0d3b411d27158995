"""The per-pixel colour distribution: the Q bins on the ab plane, each a square at its ab centre coloured as the
bin at L* = 70, sized by its probability at the current T; the annealed mean (cross) and the mode (ring) marked."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QDockWidget, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...core.color import lab_to_srgb

L_DISPLAY = 70.0
MAX_SIZE = 16.0  # pixels of the most probable bin


def bin_colors(centers: np.ndarray, L: float = L_DISPLAY) -> np.ndarray:
    """(Q, 3) uint8 sRGB of each bin centre at lightness L."""
    lab = np.concatenate([np.full((len(centers), 1), L, np.float32), centers.astype(np.float32)], axis=1)
    return (lab_to_srgb(lab) * 255.0 + 0.5).astype(np.uint8)


class _LeaveFilter(QObject):
    """Calls ``on_leave`` when the cursor leaves any of the watched widgets."""

    def __init__(self, on_leave: Callable[[], Any], parent: QObject) -> None:
        super().__init__(parent)
        self.on_leave = on_leave

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802
        if ev.type() == QEvent.Type.Leave:
            self.on_leave()
        return False


class DistributionDock(QDockWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__("Colour distribution", parent)
        self.setObjectName("DistributionDock")
        body = QWidget()
        lay = QVBoxLayout(body)
        self.plot = pg.PlotWidget()
        self.plot.setAspectLocked(True)
        self.plot.setLabel("bottom", "a*")
        self.plot.setLabel("left", "b*")
        self.plot.setXRange(-110, 110)
        self.plot.setYRange(-110, 110)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.bins_item = pg.ScatterPlotItem(symbol="s", pxMode=True, pen=None)
        self.mean_item = pg.ScatterPlotItem(symbol="x", size=14, pen=pg.mkPen("k", width=2), brush=pg.mkBrush("w"))
        self.mode_item = pg.ScatterPlotItem(symbol="o", size=18, pen=pg.mkPen("k", width=2), brush=None)
        for it in (self.bins_item, self.mean_item, self.mode_item):
            self.plot.addItem(it)
        self.info = QLabel("Hover over the image (click to pin a pixel).")
        self.info.setWordWrap(True)
        self.plot.setMinimumSize(160, 160)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        lay.addWidget(self.plot, 1)  # fills the dock: the locked aspect widens the shorter axis's range
        lay.addWidget(self.info)
        self.setWidget(body)
        self.probabilities: Optional[np.ndarray] = None
        self._centers: Optional[np.ndarray] = None
        self._brushes = None

    def clear_on_leave(self, widgets: Iterable[QWidget], on_leave: Callable[[], Any]) -> None:
        """Call ``on_leave`` (which should clear the hovered pixel) when the cursor leaves any of ``widgets`` —
        moving off a view produces no mouse-move, so the plot would otherwise keep the last pixel."""
        self._leave_filter = _LeaveFilter(on_leave, self)
        for w in widgets:
            w.installEventFilter(self._leave_filter)

    def show_distribution(self, info: Optional[dict]) -> None:
        """``info`` as from ColorizeController.distribution_info(); None clears the plot."""
        if info is None:
            if self.probabilities is None:
                return  # nothing shown, nothing to clear (a T change with no pixel under the cursor)
            self.probabilities = None
            self.bins_item.clear()
            self.mean_item.clear()
            self.mode_item.clear()
            self.info.setText("Hover over the image (click to pin a pixel).")
            return
        p = np.asarray(info["probabilities"], dtype=np.float32)
        centers = np.asarray(info["centers"], dtype=np.float32)
        if self._centers is None or self._centers.shape != centers.shape or not np.array_equal(self._centers, centers):
            self._centers = centers
            self._brushes = [pg.mkBrush(*c) for c in bin_colors(centers)]
        self.probabilities = p
        pmax = float(p.max()) if p.size else 1.0
        sizes = MAX_SIZE * np.sqrt(p / max(pmax, 1e-12))  # area ∝ probability
        keep = sizes >= 0.5
        brushes = [b for b, k in zip(self._brushes, keep) if k]
        self.bins_item.setData(x=centers[keep, 0], y=centers[keep, 1], size=sizes[keep], brush=brushes)
        mean, mode = info["mean"], info["mode"]
        self.mean_item.setData(x=[float(mean[0])], y=[float(mean[1])])
        self.mode_item.setData(x=[float(mode[0])], y=[float(mode[1])])
        where = "pinned" if info.get("pinned") else "under the cursor"
        self.info.setText(
            f"Pixel ({int(info['x'])}, {int(info['y'])}) {where}, T = {info['T']:.3f}\n"
            f"mean ab = ({mean[0]:.1f}, {mean[1]:.1f}) · mode ab = ({mode[0]:.0f}, {mode[1]:.0f}) "
            f"p = {p[info['mode_index']]:.2f}"
        )
