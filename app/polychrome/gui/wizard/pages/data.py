"""Page 1 · Your photos: the folders, the scan (usable, near-gray, too small, unreadable), thumbnails, the split,
interrupted runs to resume.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Sequence, Tuple

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ....core.progress import ProgressEvent
from ....training.jobs import ThumbnailEvent
from ..controller import TrainingWizardController
from .common import PAGE_COLORS, PAGE_TRAIN, ImageGrid, WizardPage, heading


class DataPage(WizardPage):
    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "1 · Your photos",
                         "Choose folders of colour photos (searched recursively). They are only read — never "
                         "changed, moved or copied.")
        c = controller
        self._resume_chosen = False
        root = QHBoxLayout(self)
        left = QVBoxLayout()
        right = QVBoxLayout()
        root.addLayout(left, 5)
        root.addLayout(right, 6)

        left.addWidget(heading("Folders"))
        self.folder_list = QListWidget()
        self.folder_list.setMaximumHeight(90)
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        left.addWidget(self.folder_list)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add Folder…")
        self.remove_button = QPushButton("Remove")
        self.add_button.clicked.connect(self._add_folder)
        self.remove_button.clicked.connect(self._remove_folders)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        left.addLayout(row)

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.progress_label = QLabel("")
        self.progress_label.setStyleSheet("color: #666;")
        left.addWidget(self.progress)
        left.addWidget(self.progress_label)

        counts = QGroupBox("What the scan found")
        form = QFormLayout(counts)
        self.count_labels = {k: QLabel("–") for k in ("usable", "near_gray", "too_small", "unreadable")}
        form.addRow("Usable colour photos:", self.count_labels["usable"])
        form.addRow("Near-gray (no colour to learn):", self.count_labels["near_gray"])
        form.addRow("Too small:", self.count_labels["too_small"])
        form.addRow("Unreadable:", self.count_labels["unreadable"])
        self.val_spin = QSpinBox()
        self.val_spin.setRange(2, 50)
        self.val_spin.setSuffix(" % held out for validation")
        self.val_spin.setValue(int(round(c.settings.val_fraction * 100)))
        self.val_spin.valueChanged.connect(lambda v: c.set_val_fraction(v / 100.0))
        form.addRow("Split:", self.val_spin)
        self.split_label = QLabel("–")
        form.addRow("", self.split_label)
        left.addWidget(counts)

        left.addWidget(heading("Skipped files and why"))
        self.problems = QTableWidget(0, 2)
        self.problems.setHorizontalHeaderLabels(["File", "Reason"])
        self.problems.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.problems.horizontalHeader().setStretchLastSection(True)
        self.problems.verticalHeader().hide()
        self.problems.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        left.addWidget(self.problems, 1)

        right.addWidget(heading("Samples"))
        self.samples = ImageGrid(4)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.samples)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        right.addWidget(scroll, 1)

        self.runs_box = QGroupBox("Interrupted training runs")
        rl = QVBoxLayout(self.runs_box)
        self.runs_list = QListWidget()
        self.runs_list.setMaximumHeight(70)
        self.resume_button = QPushButton("Resume Selected Run")
        self.resume_button.clicked.connect(self._resume_run)
        rl.addWidget(self.runs_list)
        rl.addWidget(self.resume_button, 0, Qt.AlignmentFlag.AlignRight)
        self.runs_box.hide()
        right.addWidget(self.runs_box)

        c.scan_changed.connect(self._refresh)
        c.runs_changed.connect(self._refresh_runs)
        c.job_progress.connect(self._on_progress)
        c.busy_changed.connect(self._refresh_busy)
        self._refresh()

    # -- actions ----------------------------------------------------------------------------------
    def add_folders(self, folders: Sequence[str]) -> None:
        """Add folders (what the Add Folder button does after its dialog) and rescan."""
        current = list(self.c.settings.folders)
        for f in folders:
            if f and f not in current:
                current.append(str(f))
        self._resume_chosen = False
        self.c.set_folders(current)
        self._refresh()

    def _add_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Add a folder of colour photos")
        if d:
            self.add_folders([d])

    def _remove_folders(self) -> None:
        gone = {it.text() for it in self.folder_list.selectedItems()}
        self.c.set_folders([f for f in self.c.settings.folders if f not in gone])
        self._refresh()

    def _resume_run(self) -> None:
        row = self.runs_list.currentRow()
        if 0 <= row < len(self.c.interrupted_runs):
            self.c.choose_run_to_resume(self.c.interrupted_runs[row])
            self._resume_chosen = True
            self.completeChanged.emit()
            self.wizard().next()

    # -- views ------------------------------------------------------------------------------------
    def _on_progress(self, kind: str, ev: ProgressEvent) -> None:
        if kind != "scan":
            return
        if ev.total:
            self.progress.setMaximum(int(ev.total))
            self.progress.setValue(int(min(ev.done, ev.total)))
        if isinstance(ev.data, ThumbnailEvent):
            self.progress_label.setText("reading sample thumbnails…")
        elif ev.message:
            self.progress_label.setText(ev.message)

    def _refresh_busy(self) -> None:
        scanning = self.c.is_running("scan")
        self.progress.setVisible(scanning)
        if not scanning and self.c.scan is not None:
            rep = self.c.scan.report
            self.progress_label.setText(f"scanned {rep.total} image files" +
                                        (f" ({rep.skipped} other files ignored)" if rep.skipped else ""))

    def _refresh(self) -> None:
        c = self.c
        self.folder_list.clear()
        for f in c.settings.folders:
            self.folder_list.addItem(QListWidgetItem(f))
        scan = c.scan
        self.problems.setRowCount(0)
        if scan is None:
            for lab in self.count_labels.values():
                lab.setText("…" if c.is_running("scan") else "–")
            self.split_label.setText("–")
            self.samples.set_images([])
        else:
            rep = scan.report
            counts = rep.counts
            for k, lab in self.count_labels.items():
                lab.setText(str(counts[k]))
            self.count_labels["unreadable"].setStyleSheet("color: #c62828;" if counts["unreadable"] else "")
            train, val = c.split
            self.split_label.setText(f"<b>{len(train)}</b> photos for training, <b>{len(val)}</b> for validation")
            rows: List[Tuple[str, str]] = [(p, r) for p, r in rep.unreadable] + [(p, r) for p, r in rep.too_small]
            rows += [(r.path, f"near-gray (mean chroma {r.chroma:.1f})") for r in rep.near_gray]
            self.problems.setRowCount(len(rows))
            for i, (p, reason) in enumerate(rows):
                item = QTableWidgetItem(Path(p).name)
                item.setToolTip(p)
                self.problems.setItem(i, 0, item)
                self.problems.setItem(i, 1, QTableWidgetItem(reason))
            self.samples.set_images(scan.thumbnails, max_height=110)
        self._refresh_busy()
        self.completeChanged.emit()

    def _refresh_runs(self) -> None:
        runs = self.c.interrupted_runs
        self.runs_list.clear()
        for info in runs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.modified))
            data = ", ".join(Path(d).name for d in info.config.data)
            self.runs_list.addItem(f"{when} — {data}: step {info.step} of {info.total_steps}")
        if runs:
            self.runs_list.setCurrentRow(0)
        self.runs_box.setVisible(bool(runs))

    def on_shown(self) -> None:
        self._refresh()

    def isComplete(self) -> bool:  # noqa: N802
        return self._resume_chosen or (self.c.data_ready and not self.c.is_running("scan"))

    def nextId(self) -> int:  # noqa: N802
        return PAGE_TRAIN if self._resume_chosen else PAGE_COLORS
