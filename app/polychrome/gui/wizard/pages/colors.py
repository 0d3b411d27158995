"""Page 2 · Colours: the bin table, the photos' colour prior and the class-rebalancing weights."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSlider,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ..controller import TrainingWizardController
from .common import NumberItem, WizardPage, ab_plot, heading, set_ab_image


class ColorsPage(WizardPage):
    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "2 · Colours",
                         "How often each colour occurs in your photos, and how much the rebalanced loss weighs it "
                         "(rare, saturated colours get more weight so that the model dares to use them).")
        c = controller
        root = QVBoxLayout(self)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        root.addWidget(self.info)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        root.addWidget(self.progress)

        row = QHBoxLayout()
        self.prior_plot, self.prior_item = ab_plot("Colour prior of your photos (log scale)")
        self.weights_plot, self.weights_item = ab_plot("Rebalancing weights (log scale)")
        row.addWidget(self.prior_plot, 1)
        row.addWidget(self.weights_plot, 1)

        side = QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        lam_box = QGroupBox("Rebalancing λ")
        ll = QVBoxLayout(lam_box)
        self.lam_slider = QSlider(Qt.Orientation.Horizontal)
        self.lam_slider.setRange(0, 100)
        self.lam_slider.setValue(int(round(c.settings.lam * 100)))
        self.lam_label = QLabel("")
        self.lam_slider.valueChanged.connect(self._on_lam)
        help_ = QLabel("0: rare colours weigh most (vivid; garish on small data sets)\n"
                       "1: no rebalancing (safe, greyish). 0.5: the paper's choice.")
        help_.setStyleSheet("color: #666; font-size: 11px;")
        help_.setWordWrap(True)
        ll.addWidget(self.lam_slider)
        ll.addWidget(self.lam_label)
        ll.addWidget(help_)
        side.addWidget(lam_box)
        self.prior_source = QComboBox()
        self.prior_source.addItem("your photos' prior", "data")
        self.prior_source.addItem("the base model's prior", "base")
        self.prior_source.currentIndexChanged.connect(
            lambda _i: c.set_setting("prior_source", self.prior_source.currentData()) or c.ensure_colors())
        self.prior_source_label = QLabel("Rebalance with:")
        side.addWidget(self.prior_source_label)
        side.addWidget(self.prior_source)
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        self.stats.setStyleSheet("color: #444;")
        side.addWidget(self.stats)
        side.addWidget(heading("Bin table"))
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["bin", "a*", "b*", "colour", "prior %", "weight"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        side.addWidget(self.table, 1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(340)
        row.addWidget(side_widget)
        root.addLayout(row, 1)

        self._sorted_once = False
        c.colors_changed.connect(self._refresh)
        c.busy_changed.connect(self._refresh_busy)
        self._on_lam(self.lam_slider.value())

    def _on_lam(self, v: int) -> None:
        self.lam_label.setText(f"λ = {v / 100:.2f}")
        self.c.set_setting("lam", v / 100.0)

    def _refresh_busy(self) -> None:
        self.progress.setVisible(self.c.is_running("colors"))

    def _refresh(self) -> None:
        c = self.c
        stats = c.colors
        ft = c.fine_tuning
        self.prior_source.setVisible(ft)
        self.prior_source_label.setVisible(ft)
        idx = self.prior_source.findData(c.settings.prior_source)
        if idx >= 0 and idx != self.prior_source.currentIndex():
            self.prior_source.blockSignals(True)
            self.prior_source.setCurrentIndex(idx)
            self.prior_source.blockSignals(False)
        if stats is None:
            self.info.setText("Computing the colour statistics of your photos…" if c.is_running("colors")
                              else "The colour statistics appear once the photos are scanned.")
            set_ab_image(self.prior_item, self.prior_plot, None)
            set_ab_image(self.weights_item, self.weights_plot, None)
            self.table.setRowCount(0)
            self.stats.setText("")
            self._refresh_busy()
            return
        where = ("the base model's table (fine-tuning keeps its bins)" if ft
                 else "derived from your photos (the ab cells they occupy)")
        note = "" if c.settings.loss == "ce" else (
            " <i>The regression loss chosen in Settings does not use the weights.</i>")
        self.info.setText(f"<b>Q = {stats.bins.Q}</b> colour bins of {stats.bins.grid:g} ab units: {where}. "
                          f"Prior from {stats.n_images} photos.{note}")
        set_ab_image(self.prior_item, self.prior_plot, c.prior_image())
        set_ab_image(self.weights_item, self.weights_plot, c.weights_image())
        prior = stats.data_prior if stats.data_prior is not None else stats.prior
        w = c.weights()
        centers = stats.bins.centers
        self.table.setUpdatesEnabled(False)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(stats.bins.Q)
        from ....core.color import lab_to_srgb

        lab = np.column_stack([np.full(len(centers), 70.0), centers[:, 0], centers[:, 1]])
        swatches = np.clip(np.rint(lab_to_srgb(lab[None])[0] * 255), 0, 255).astype(int)
        for q in range(stats.bins.Q):
            p_q = float(prior[q]) if prior is not None else float("nan")
            w_q = float(w[q]) if w is not None else float("nan")
            cells = [NumberItem(str(q), q), NumberItem(f"{centers[q, 0]:g}", centers[q, 0]),
                     NumberItem(f"{centers[q, 1]:g}", centers[q, 1]), NumberItem("", q),
                     NumberItem("–" if prior is None else f"{100 * p_q:.3f}", p_q),
                     NumberItem("–" if w is None else f"{w_q:.2f}", w_q)]
            cells[3].setBackground(QColor(*swatches[q]))
            for j, item in enumerate(cells):
                self.table.setItem(q, j, item)
        self.table.setSortingEnabled(True)
        if self._sorted_once is False:  # the most frequent colours first, until the user sorts otherwise
            self.table.sortItems(4, Qt.SortOrder.DescendingOrder)
            self._sorted_once = True
        self.table.setUpdatesEnabled(True)
        if w is not None and prior is not None:
            used = prior > 1e-4
            self.stats.setText(
                f"{int(used.sum())} of {stats.bins.Q} bins hold 0.01 % of the pixels or more. Weights range "
                f"{w.min():.2f} … {w.max():.1f} (mean under the prior = 1): dark cells are frequent colours, "
                "yellow ones rare.")
        else:
            self.stats.setText("")
        self._refresh_busy()

    def on_shown(self) -> None:
        self.c.ensure_colors()
        self._refresh()

    def isComplete(self) -> bool:  # noqa: N802
        return self.c.data_ready
