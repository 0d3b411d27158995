"""The metrics panel (for a dock): the result's scores against the ground truth at the current T next to those of the
gray input, and one metric plotted against T with the current T marked.

A view only: it shows the dicts of ``CompareController.metrics_changed`` / ``curves_changed``
(:meth:`MetricsPanel.set_metrics`, :meth:`MetricsPanel.set_curves`) and the T of ``temperature_changed``
(:meth:`MetricsPanel.set_temperature`); dragging the T marker asks for a new T (``temperature_requested``).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.decode import DEFAULT_T, MAX_T, MIN_T
from ...core.metrics import METRIC_INFO
from .model import format_metric

ROWS = tuple(METRIC_INFO)  # table rows, in core.metrics order
PLOTTABLE = tuple(k for k in ROWS if k != "colorfulness_gt")  # the ground truth's own value does not vary with T
RESULT, GRAY = 0, 1  # table columns


def _row_label(name: str) -> str:
    info = METRIC_INFO[name]
    arrow = {True: " ↑", False: " ↓"}.get(info.higher_is_better, "")
    return info.label + arrow


class MetricsPanel(QWidget):
    """PSNR, SSIM, AuC, ΔE2000 and colourfulness of the result vs. the ground truth, and a metric against T."""

    temperature_requested = Signal(float)  # the T marker was dragged to this T

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.values: Dict[str, float] = {}  # the result's metrics shown (at ``shown_T``)
        self.baseline: Dict[str, float] = {}  # the gray input's metrics shown
        self.shown_T: Optional[float] = None
        self.T: Optional[float] = None
        self.curves: Optional[Dict[str, Any]] = None
        self._row: Any = None  # the image whose values are shown

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.status = QLabel()
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setHorizontalHeaderLabels(["Result", "Gray input"])
        self.table.setVerticalHeaderLabels([_row_label(k) for k in ROWS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for r, name in enumerate(ROWS):
            self.table.verticalHeaderItem(r).setToolTip(METRIC_INFO[name].description)
            for c in (RESULT, GRAY):
                item = QTableWidgetItem("—")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.setMinimumHeight(self.table.verticalHeader().length() + self.table.horizontalHeader().height() + 4)

        self.metric_box = QComboBox()
        for k in PLOTTABLE:
            self.metric_box.addItem(METRIC_INFO[k].label, k)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(160)
        self.plot.setLabel("bottom", "T")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setXRange(0.0, 1.0, padding=0.02)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.curve = pg.PlotDataItem([], [], pen=pg.mkPen("#1e88e5", width=2), symbol="o", symbolSize=5,
                                    symbolBrush="#1e88e5", symbolPen=None)
        self.baseline_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#9e9e9e", width=1,
                                                                                  style=Qt.PenStyle.DashLine))
        self.baseline_line.hide()
        self.current_point = pg.ScatterPlotItem(size=10, pen=pg.mkPen("w", width=1), brush=pg.mkBrush("#e53935"))
        self.t_marker = pg.InfiniteLine(pos=DEFAULT_T, angle=90, movable=True, bounds=(MIN_T, MAX_T),
                                        pen=pg.mkPen("#e53935", width=2), hoverPen=pg.mkPen("#ff8a80", width=3))
        for it in (self.curve, self.baseline_line, self.current_point, self.t_marker):
            self.plot.addItem(it)

        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("Plot:"))
        chooser.addWidget(self.metric_box, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.message)
        lay.addWidget(self.status)
        lay.addWidget(self.table)
        lay.addLayout(chooser)
        lay.addWidget(self.plot, 1)

        self._labelled: Optional[str] = None
        self.metric_box.currentIndexChanged.connect(lambda _i: self._draw_curve())
        self.t_marker.sigPositionChangeFinished.connect(
            lambda line: self.temperature_requested.emit(float(line.value())))
        self.set_metrics(None)

    # -- state --------------------------------------------------------------------------------------
    @property
    def selected_metric(self) -> str:
        return self.metric_box.currentData()

    def set_metric(self, name: str) -> None:
        """Plot metric ``name`` (one of :data:`PLOTTABLE`)."""
        self.metric_box.setCurrentIndex(PLOTTABLE.index(name))

    def cell_text(self, name: str, column: int = RESULT) -> str:
        return self.table.item(ROWS.index(name), column).text()

    # -- slots ----------------------------------------------------------------------------------------
    def set_temperature(self, T: float) -> None:
        """Move the T marker (and the current-value dot) to T."""
        self.T = float(T)
        self.t_marker.blockSignals(True)
        self.t_marker.setValue(self.T)
        self.t_marker.blockSignals(False)
        self._draw_current()

    def set_metrics(self, info: Optional[Dict[str, Any]]) -> None:
        """Show a ``CompareController.metrics_info()`` dict (None: nothing to show)."""
        info = info or {"has_truth": False, "message": "No colorized image selected."}
        has_truth = bool(info.get("has_truth"))
        self.message.setText(info.get("message", ""))
        self.message.setVisible(bool(info.get("message")))
        for w in (self.table, self.metric_box, self.plot):
            w.setEnabled(has_truth)
        if info.get("T") is not None:
            self.set_temperature(info["T"])
        if info.get("row") != self._row:  # another image: its values are still to come
            self._row = info.get("row")
            self.values, self.baseline, self.shown_T = {}, {}, None
        if not has_truth:
            self.values, self.baseline, self.shown_T = {}, {}, None
            self.status.setText("")
            self._fill()
            self.set_curves(None)
            return
        if info.get("metrics") is not None:
            self.values = dict(info["metrics"])
            self.shown_T = float(info["T"])
        if info.get("baseline") is not None:
            self.baseline = dict(info["baseline"])
        size = info.get("size")
        where = f" on {size[1]}×{size[0]} px" if size else ""
        if info.get("pending"):
            self.status.setText(f"Measuring at T = {info['T']:.2f}…")
        else:
            self.status.setText(f"At T = {info['T']:.2f}{where}, against the input's own colours")
        self._fill()

    def set_curves(self, curves: Optional[Dict[str, Any]]) -> None:
        """Show a ``CompareController.curves_info()`` dict (None clears the plot)."""
        self.curves = curves
        if curves is not None and curves.get("T") is not None:
            self.set_temperature(curves["T"])
        self._draw_curve()

    # -- drawing ----------------------------------------------------------------------------------------
    def _fill(self) -> None:
        for r, name in enumerate(ROWS):
            self.table.item(r, RESULT).setText(format_metric(name, self.values.get(name)))
            self.table.item(r, GRAY).setText(format_metric(name, self.baseline.get(name)))

    def _draw_curve(self) -> None:
        name = self.selected_metric
        info = METRIC_INFO[name]
        if self._labelled != name:  # a new axis label re-lays the plot out: only when the metric changes
            self.plot.setLabel("left", info.short, units=info.unit or None)
            self._labelled = name
        c = self.curves
        if c is None or len(c["temperatures"]) == 0:
            if self.curve.xData is not None:  # an empty plot stays as it is while T moves
                self.curve.setData([], [])
            self.baseline_line.hide()
            self._draw_current()
            return
        t = np.asarray(c["temperatures"], dtype=np.float64)
        y = np.asarray(c["values"][name], dtype=np.float64)
        ok = np.isfinite(y)
        self.curve.setData(t[ok], y[ok])
        base = (c.get("baseline") or {}).get(name)
        if base is not None and math.isfinite(base):
            self.baseline_line.setValue(base)
            self.baseline_line.show()
        else:
            self.baseline_line.hide()
        self._draw_current()

    def current_value(self) -> Optional[float]:
        """The selected metric's value at the marker's T, if measured (what the red dot shows)."""
        c = self.curves
        if c is None or self.T is None:
            return None
        t = np.asarray(c["temperatures"], dtype=np.float64)
        hit = np.flatnonzero(t == self.T)
        if hit.size == 0:
            return None
        v = float(c["values"][self.selected_metric][hit[0]])
        return v if math.isfinite(v) else None

    def _draw_current(self) -> None:
        v = self.current_value()
        if v is None:
            if len(self.current_point.data):
                self.current_point.clear()
        else:
            self.current_point.setData(x=[self.T], y=[v])
