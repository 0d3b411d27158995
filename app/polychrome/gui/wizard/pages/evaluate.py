"""Page 5 · Evaluation: the new model against the starting one on the validation photos."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QProgressBar,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ....core.progress import ProgressEvent
from ..controller import TrainingWizardController
from .common import ImageGrid, WizardPage, heading, side_by_side

METRICS = (("psnr", "PSNR (dB)", "{:.2f}", True), ("ssim", "SSIM", "{:.3f}", True),
           ("auc", "AuC", "{:.3f}", True), ("delta_e", "ΔE2000", "{:.2f}", False),
           ("colorfulness", "colourfulness", "{:.1f}", None))


class EvaluatePage(WizardPage):
    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "5 · Evaluation",
                         "The new model and the one it started from, on your validation photos (turned gray, "
                         "colorized, compared with the originals) at a few temperatures T.")
        c = controller
        root = QVBoxLayout(self)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        root.addWidget(self.status)
        self.progress = QProgressBar()
        self.progress.hide()
        root.addWidget(self.progress)
        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        root.addWidget(self.table)
        self.samples_title = heading("")
        root.addWidget(self.samples_title)
        self.samples = ImageGrid(2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.samples)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        root.addWidget(scroll, 1)
        c.evaluation_changed.connect(self._refresh)
        c.busy_changed.connect(self._refresh_busy)
        c.job_progress.connect(self._on_progress)

    def _on_progress(self, kind: str, ev: ProgressEvent) -> None:
        if kind == "evaluate" and ev.total:
            self.progress.setMaximum(int(ev.total))
            self.progress.setValue(int(min(ev.done, ev.total)))

    def _refresh_busy(self) -> None:
        self.progress.setVisible(self.c.is_running("evaluate"))
        self.completeChanged.emit()

    def _refresh(self) -> None:
        ev = self.c.evaluation
        if ev is None:
            self.status.setText("Scoring the models on the validation photos…" if self.c.is_running("evaluate")
                                else "Evaluation starts when training has finished.")
            self.table.setRowCount(0)
            self.samples.set_images([])
            self.samples_title.setText("")
            self._refresh_busy()
            return
        labels = list(ev["models"])
        temps = ev["temperatures"]
        gray = ev.get("gray") or {}
        cols = ["metric", "model"] + [f"T = {T:g}" for T in temps] + ["gray input"]
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        self.table.setRowCount(len(METRICS) * len(labels))
        bold = QFont(self.table.font())
        bold.setBold(True)
        r = 0
        for key, title, fmt, higher in METRICS:
            best = {}
            for T in temps:  # the better model per T (none for colourfulness: nearer the photos is better)
                vals = [ev["models"][lab].get(T, {}).get(key) for lab in labels]
                finite = [v for v in vals if v is not None and np.isfinite(v)]
                if higher is not None and len(finite) > 1:
                    best[T] = max(finite) if higher else min(finite)
            for i, lab in enumerate(labels):
                cells = [title if i == 0 else "", lab]
                for T in temps:
                    v = ev["models"][lab].get(T, {}).get(key)
                    cells.append("–" if v is None or not np.isfinite(v) else fmt.format(v))
                g = gray.get(key)
                cells.append(fmt.format(g) if i == 0 and g is not None and np.isfinite(g) else "")
                for j, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if j >= 2:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    if 2 <= j < 2 + len(temps):
                        T = temps[j - 2]
                        v = ev["models"][lab].get(T, {}).get(key)
                        if T in best and v == best[T]:
                            item.setFont(bold)
                            item.setForeground(QColor("#1b5e20"))
                    if j == len(cells) - 1:
                        item.setForeground(QColor("#666"))
                    self.table.setItem(r, j, item)
                r += 1
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setFixedHeight(header.height() + 22 * self.table.rowCount() + 2 * self.table.frameWidth() + 2)
        n, of = ev.get("n", 0), ev.get("of", ev.get("n", 0))
        errs = ev.get("errors") or []
        self.status.setText(
            f"On <b>{n}</b> validation photo{'s' if n != 1 else ''}" + (f" (of {of})" if of != n else "") +
            ". The better model per metric and T in bold green; for colourfulness, nearer the originals' "
            f"{self._truth_colorfulness(ev)} is better."
            + (f" {len(errs)} photo(s) could not be scored." if errs else ""))
        self.samples_title.setText("Gray · " + " · ".join(labels) + " · original   (at each model's default T)")
        items = []
        for s in ev.get("samples", []):
            row = [s["gray"]] + [s[lab] for lab in labels if lab in s] + [s["truth"]]
            items.append((s["name"], side_by_side(row)))
        self.samples.set_images(items, max_height=110)
        self._refresh_busy()

    @staticmethod
    def _truth_colorfulness(ev: dict) -> str:
        gray = ev.get("gray") or {}
        v = gray.get("colorfulness_gt")
        return f"{v:.1f}" if v is not None and np.isfinite(v) else "–"

    def on_shown(self) -> None:
        self.c.start_evaluation()
        self._refresh()

    def isComplete(self) -> bool:  # noqa: N802
        return not self.c.is_running("evaluate")
