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


def better_value(values, higher, target=None):
    """The better of the models' values of one metric at one T (what the table bolds): the highest (``higher``
    True), the lowest (False), or for colourfulness (``higher`` None) the one nearest ``target`` (the originals'
    colourfulness). None when fewer than two values can be compared or there is no target."""
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    if len(finite) < 2:
        return None
    if higher is None:
        if target is None or not np.isfinite(target):
            return None
        return min(finite, key=lambda v: abs(v - float(target)))
    return max(finite) if higher else min(finite)


def caption(n: int, of: int, models: int, truth_colorfulness: str, errors: int = 0) -> str:
    """The line above the table; it promises bold values only where the table has them (two models to compare)."""
    text = f"On <b>{n}</b> validation photo{'s' if n != 1 else ''}" + (f" (of {of})" if of != n else "") + "."
    if models > 1:
        text += (" The better model per metric and T is in <b>bold green</b> (for colourfulness: the one nearer "
                 f"the originals' {truth_colorfulness}).")
    if errors:
        text += f" {errors} photo(s) could not be scored."
    return text


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
        target = gray.get("colorfulness_gt")
        for key, title, fmt, higher in METRICS:
            best = {}
            for T in temps:  # the better model per T (colourfulness: the one nearer the originals')
                b = better_value([ev["models"][lab].get(T, {}).get(key) for lab in labels], higher, target)
                if b is not None:
                    best[T] = b
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
                        if T in best and v is not None and float(v) == best[T]:
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
        self.status.setText(caption(n, of, len(labels), self._truth_colorfulness(ev), len(errs)))
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
