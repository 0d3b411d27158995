"""The training wizard's pages: views of :class:`~.controller.TrainingWizardController`, no logic of their own.

Each page reads the controller, calls its methods and listens to its signals. :meth:`WizardPage.on_shown` runs
every time a page becomes the current one (going forward or back), so a page whose inputs changed elsewhere
catches up then.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ...core.progress import ProgressEvent, format_duration
from .controller import (
    CANCELLED,
    FAILED,
    FINISHED,
    IDLE,
    INPUT_SIZES,
    LOSS_LABELS,
    PAUSED,
    RUNNING,
    START_FINETUNE,
    START_SCRATCH,
    TrainingWizardController,
)

PAGE_NO_TORCH, PAGE_DATA, PAGE_COLORS, PAGE_SETTINGS, PAGE_TRAIN, PAGE_EVALUATE, PAGE_EXPORT = range(7)


# ---------------------------------------------------------------------------------------------------------------
# small views
# ---------------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------------
# no torch
# ---------------------------------------------------------------------------------------------------------------


class NoTorchPage(WizardPage):
    """Shown instead of the wizard when PyTorch (or ONNX) cannot be imported."""

    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "Training is not installed",
                         "Training your own model needs the optional training extra (PyTorch and ONNX).")
        from ... import training

        lay = QVBoxLayout(self)
        missing = ", ".join(controller.missing) or "nothing"
        self.text = QLabel(
            "Polychrome can fine-tune its colorization model on your own photos, or train one from scratch, "
            "but this installation lacks the packages that training needs "
            f"(<b>{missing}</b> could not be imported).<br><br>"
            "Colorizing with the installed models works as before. To enable training, install the "
            "<b>train</b> extra into the Python environment that runs Polychrome:")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.commands = QPlainTextEdit(training.INSTALL_HINT)
        self.commands.setReadOnly(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.commands.setFont(mono)
        self.commands.setMaximumHeight(130)
        after = QLabel("Then restart Polychrome and open the training wizard again.")
        lay.addWidget(self.text)
        lay.addWidget(self.commands)
        lay.addWidget(after)
        lay.addStretch(1)
        self.setFinalPage(True)


# ---------------------------------------------------------------------------------------------------------------
# 1. data
# ---------------------------------------------------------------------------------------------------------------


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
        if ev.data.get("phase") == "thumbnails":
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


# ---------------------------------------------------------------------------------------------------------------
# 2. colours
# ---------------------------------------------------------------------------------------------------------------


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
        from ...core.color import lab_to_srgb

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


# ---------------------------------------------------------------------------------------------------------------
# 3. settings
# ---------------------------------------------------------------------------------------------------------------


class SettingsPage(WizardPage):
    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "3 · Settings",
                         "Where training starts, how long it runs and on what. Measure the time per epoch before "
                         "you start: it runs a few real training steps.")
        c = controller
        s = c.settings
        root = QVBoxLayout(self)

        start = QGroupBox("Start from")
        sl = QVBoxLayout(start)
        self.finetune = QRadioButton(f"Fine-tune the shipped model — {c.base_info}" if c.base_model is not None
                                     else "Fine-tune the shipped model (not available: none that can be fine-tuned "
                                          "is installed)")
        self.freeze = QCheckBox("Freeze the encoder (train only the decoder: faster, keeps what the model knows)")
        self.scratch = QRadioButton("Train from scratch (ImageNet-pretrained encoder; bins from your photos)")
        group = QButtonGroup(self)
        group.addButton(self.finetune)
        group.addButton(self.scratch)
        self.finetune.setEnabled(c.base_model is not None)
        if c.base_model is None:
            self.finetune.setToolTip(f"No fine-tunable model: {c.base_info}")
        (self.finetune if c.fine_tuning else self.scratch).setChecked(True)
        self.freeze.setChecked(s.freeze_encoder)
        sl.addWidget(self.finetune)
        fl = QHBoxLayout()
        fl.addSpacing(24)
        fl.addWidget(self.freeze)
        sl.addLayout(fl)
        sl.addWidget(self.scratch)
        self.finetune.toggled.connect(self._on_start)
        self.freeze.toggled.connect(lambda v: c.set_setting("freeze_encoder", bool(v)))
        root.addWidget(start)

        box = QGroupBox("Training")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.size = QComboBox()
        for px in sorted(set(INPUT_SIZES) | {int(s.size)}):
            self.size.addItem(f"{px} × {px} px crops", px)
        self.size.setCurrentIndex(max(0, self.size.findData(s.size)))
        self.size.currentIndexChanged.connect(lambda _i: c.set_setting("size", int(self.size.currentData())))
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(s.epochs)
        self.epochs.valueChanged.connect(lambda v: c.set_setting("epochs", int(v)))
        self.batch = QSpinBox()
        self.batch.setRange(1, 128)
        self.batch.setValue(s.batch_size)
        self.batch.valueChanged.connect(lambda v: c.set_setting("batch_size", int(v)))
        self.loss = QComboBox()
        for key, label in LOSS_LABELS.items():
            self.loss.addItem(label, key)
        self.loss.setCurrentIndex(max(0, self.loss.findData(s.loss)))
        self.loss.currentIndexChanged.connect(lambda _i: c.set_setting("loss", self.loss.currentData()))
        self.device = QComboBox()
        self.device.currentIndexChanged.connect(
            lambda _i: self.device.currentData() and c.set_setting("device", self.device.currentData()))
        for w in (self.size, self.epochs, self.batch, self.loss, self.device):
            w.setMinimumWidth(340)
        form.addRow("Input size:", self.size)
        form.addRow("Epochs:", self.epochs)
        form.addRow("Photos per step:", self.batch)
        form.addRow("Loss:", self.loss)
        form.addRow("Device:", self.device)
        root.addWidget(box)

        est = QGroupBox("Time")
        el = QVBoxLayout(est)
        row = QHBoxLayout()
        self.measure = QPushButton("Measure Time per Epoch")
        self.measure.clicked.connect(lambda: c.start_estimate())
        self.measure_progress = QProgressBar()
        self.measure_progress.hide()
        row.addWidget(self.measure)
        row.addWidget(self.measure_progress, 1)
        row.addStretch(0)
        el.addLayout(row)
        self.estimate_label = QLabel("")
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setTextFormat(Qt.TextFormat.RichText)
        el.addWidget(self.estimate_label)
        root.addWidget(est)
        root.addStretch(1)

        c.estimate_changed.connect(self._refresh_estimate)
        c.busy_changed.connect(self._refresh_busy)
        c.job_progress.connect(self._on_progress)
        self._on_start(self.finetune.isChecked())
        self._refresh_estimate()

    def _on_start(self, finetune: bool) -> None:
        self.freeze.setEnabled(bool(finetune))
        self.c.set_setting("start", START_FINETUNE if finetune else START_SCRATCH)

    def _on_progress(self, kind: str, ev: ProgressEvent) -> None:
        if kind == "estimate" and ev.total:
            self.measure_progress.setMaximum(int(ev.total))
            self.measure_progress.setValue(int(min(ev.done, ev.total)))
            self.measure_progress.setFormat(ev.message if ev.data.get("phase") == "estimate" else "preparing…")

    def _refresh_busy(self) -> None:
        running = self.c.is_running("estimate")
        self.measure_progress.setVisible(running)
        if running:
            self.measure_progress.setRange(0, 0)
            self.measure_progress.setFormat("loading the model and the photos…")
        self.measure.setEnabled(not running and self.c.data_ready)

    def _refresh_estimate(self) -> None:
        e = self.c.estimate
        if e is None:
            self.estimate_label.setText(
                "Not measured yet for these settings." if not self.c.is_running("estimate") else "Measuring…")
            return
        s = self.c.settings
        self.estimate_label.setText(
            f"<b>{short_duration(e.epoch_seconds)} per epoch</b> "
            f"({e.steps_per_epoch} steps × {e.seconds_per_step:.2f} s, {e.images_per_second:.1f} photos/s, "
            f"validation {short_duration(e.val_seconds)}); "
            f"<b>{s.epochs} epoch{'s' if s.epochs != 1 else ''} ≈ {short_duration(e.total_seconds)}</b> "
            f"with the final BatchNorm pass and validation ({short_duration(e.finish_seconds)}), plus the export. "
            f"Measured on {e.device} with {e.batches_timed} batch{'es' if e.batches_timed != 1 else ''}.")

    def on_shown(self) -> None:
        if self.device.count() == 0:
            for dev, label in self.c.devices():
                self.device.addItem(label, dev)
            self.device.setCurrentIndex(max(0, self.device.findData(self.c.settings.device)))
        self._refresh_busy()
        self._refresh_estimate()


# ---------------------------------------------------------------------------------------------------------------
# 4. train
# ---------------------------------------------------------------------------------------------------------------


class TrainPage(WizardPage):
    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "4 · Training",
                         "Training runs in the background; the app stays usable. Pause at any time; Cancel keeps "
                         "a checkpoint that Resume continues from.")
        c = controller
        root = QVBoxLayout(self)
        row = QHBoxLayout()
        self.start_button = QPushButton("Start Training")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.start_button.clicked.connect(self._start)
        self.pause_button.clicked.connect(self._pause_or_resume)
        self.cancel_button.clicked.connect(c.cancel_training)
        for b in (self.start_button, self.pause_button, self.cancel_button):
            row.addWidget(b)
        self.status = QLabel("")
        row.addWidget(self.status, 1)
        root.addLayout(row)
        self.progress = QProgressBar()
        root.addWidget(self.progress)

        mid = QHBoxLayout()
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setTitle("Loss", color="#333", size="10pt")
        self.plot.setLabel("bottom", "step")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(-10, 10))
        self.loss_curve = self.plot.plot([], [], pen=pg.mkPen("#90caf9", width=1), name="training (step)")
        self.mean_curve = self.plot.plot([], [], pen=pg.mkPen("#1565c0", width=2), name="training (running mean of the epoch)")
        self.val_curve = self.plot.plot([], [], pen=pg.mkPen("#e65100", width=2), symbol="o", symbolSize=8,
                                        symbolBrush="#e65100", name="validation")
        self.plot.setMinimumHeight(220)
        mid.addWidget(self.plot, 3)
        samples_box = QVBoxLayout()
        samples_box.addWidget(heading("Validation photos: gray · model · original"))
        self.samples = ImageGrid(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.samples)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        samples_box.addWidget(scroll, 1)
        mid.addLayout(samples_box, 2)
        root.addLayout(mid, 1)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(90)
        root.addWidget(self.log)

        c.training_event.connect(self._on_event)
        c.training_state_changed.connect(self._refresh)
        self._shown_samples = None
        self._refresh()

    def _start(self) -> None:
        self.c.start_training()

    def _pause_or_resume(self) -> None:
        if self.c.train_state == PAUSED or self.c.gate.paused:
            self.c.resume_training()
        else:
            self.c.pause_training()
        self._refresh()

    def _on_event(self, d: dict) -> None:
        phase = d.get("phase")
        if phase == "train":
            self._update_status()
            cv = self.c.curves
            if len(cv.steps) < 3000 or cv.steps[-1] % 5 == 0:
                self.loss_curve.setData(cv.steps, cv.loss)
                self.mean_curve.setData(cv.steps, cv.mean_loss)
        elif phase == "val":
            cv = self.c.curves
            self.val_curve.setData(cv.val_steps, cv.val_loss)
            self._show_samples()
        self._sync_log()

    def _sync_log(self) -> None:
        lines = self.c.log_lines
        have = self.log.blockCount() if self.log.toPlainText() else 0
        for line in lines[have:]:
            self.log.appendPlainText(line)

    def _show_samples(self) -> None:
        samples = self.c.samples
        if samples is self._shown_samples:
            return
        self._shown_samples = samples
        self.samples.set_images([(s["name"], side_by_side([s["gray"], s["pred"], s["truth"]])) for s in samples],
                                max_height=96)

    def _update_status(self) -> None:
        c = self.c
        if c.total_steps:
            self.progress.setMaximum(c.total_steps)
            self.progress.setValue(min(c.step, c.total_steps))
        state = {RUNNING: "training", PAUSED: "paused", CANCELLED: "cancelled", FAILED: "failed",
                 FINISHED: "finished", IDLE: "not started"}[c.train_state]
        cv = c.curves
        loss = f" · loss {cv.mean_loss[-1]:.3f}" if cv.mean_loss else ""
        epochs = c.run_config.epochs if c.run_config is not None else c.settings.epochs
        parts = [f"<b>{state}</b>"]
        if c.total_steps:
            parts.append(f"epoch {max(1, c.epoch)}/{epochs} · step {c.step}/{c.total_steps}{loss}")
        if c.train_state == RUNNING and c.eta_s is not None:
            parts.append(f"ETA {format_duration(c.eta_s)}")
        if c.train_state == FAILED and c.error_text:
            parts.append(c.error_text)
        self.status.setText(" · ".join(parts))

    def _refresh(self) -> None:
        c = self.c
        st = c.train_state
        active = st in (RUNNING, PAUSED)
        self.start_button.setEnabled(not active)
        self.start_button.setText("Resume Training" if c.can_resume
                                  else "Train Again" if st == FINISHED else "Start Training")
        self.pause_button.setEnabled(active)
        self.pause_button.setText("Continue" if st == PAUSED else "Pause")
        self.cancel_button.setEnabled(active)
        cv = c.curves
        self.loss_curve.setData(cv.steps, cv.loss)
        self.mean_curve.setData(cv.steps, cv.mean_loss)
        self.val_curve.setData(cv.val_steps, cv.val_loss)
        self._show_samples()
        self._update_status()
        self._sync_log()
        self.completeChanged.emit()
        w = self.wizard()
        if w is not None and hasattr(w, "sync_buttons"):
            w.sync_buttons()

    def on_shown(self) -> None:
        self._refresh()

    def isComplete(self) -> bool:  # noqa: N802
        return self.c.train_state == FINISHED


# ---------------------------------------------------------------------------------------------------------------
# 5. evaluate
# ---------------------------------------------------------------------------------------------------------------

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
            f"{self._truth_colorfulness(ev)} is better." + (f" {len(errs)} photo(s) could not be scored." if errs else ""))
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


# ---------------------------------------------------------------------------------------------------------------
# 6. export
# ---------------------------------------------------------------------------------------------------------------


class ExportPage(WizardPage):
    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "6 · Export",
                         "Name the model. It is installed in your models folder with its model card and appears "
                         "in the Model menu at once.")
        c = controller
        root = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.textChanged.connect(self._on_name)
        self.description = QLineEdit()
        self.description.setPlaceholderText("one line for the model picker and the About box (optional)")
        self.license = QLineEdit()
        self.license.setPlaceholderText("what your photos allow, e.g. 'private use only'")
        self.use_now = QCheckBox("Use it now in the main window")
        self.use_now.setChecked(True)
        form.addRow("Name:", self.name)
        form.addRow("Description:", self.description)
        form.addRow("Licence / terms:", self.license)
        form.addRow("", self.use_now)
        root.addLayout(form)
        row = QHBoxLayout()
        self.install_button = QPushButton("Install Model")
        self.install_button.clicked.connect(self.install)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.install_button)
        row.addWidget(self.status, 1)
        root.addLayout(row)
        root.addWidget(heading("Model card (written as NAME.md beside the model)"))
        self.card = QTextBrowser()
        root.addWidget(self.card, 1)
        for w in (self.description, self.license):
            w.textChanged.connect(self._preview_card)
        # asked before an installed model is replaced; tests and embedders may swap it
        self.confirm_overwrite: Callable[[str], bool] = self._ask_overwrite
        c.model_installed.connect(self._on_installed)
        c.busy_changed.connect(self._refresh)
        c.message.connect(self._on_message)

    def _ask_overwrite(self, name: str) -> bool:
        ans = QMessageBox.question(self, "Replace the model?",
                                   f"A model named “{name}” is already installed. Replace it?",
                                   QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                   QMessageBox.StandardButton.No)
        return ans == QMessageBox.StandardButton.Yes

    def _on_message(self, text: str) -> None:
        if self.isVisible():
            self.status.setText(text)

    def _on_name(self, _text: str = "") -> None:
        name = self.name.text()
        problem = self.c.name_problem(name)
        if problem:
            self.status.setText(f"<span style='color:#c62828'>{problem}</span>")
        elif self.c.name_taken(name):
            self.status.setText("<span style='color:#e65100'>a model of this name is installed; installing "
                                "asks before replacing it</span>")
        elif self.c.installed is None:
            self.status.setText("")
        self._preview_card()
        self._refresh()

    def _preview_card(self) -> None:
        name = self.name.text().strip() or "model"
        self.card.setMarkdown(self.c.model_card(name, self.description.text(), self.license.text()))

    def install(self) -> bool:
        """Install under the typed name (asking before replacing an installed model of that name)."""
        name = self.name.text()
        overwrite = False
        if self.c.name_problem(name) is None and self.c.name_taken(name):
            if not self.confirm_overwrite(name):
                self.status.setText("Not installed: choose another name.")
                return False
            overwrite = True
        ok = self.c.publish(name, self.description.text(), self.license.text(), overwrite=overwrite,
                            use_now=self.use_now.isChecked())
        if ok:
            self.status.setText("Installing…")
        return ok

    def _on_installed(self, path: Path) -> None:
        self.status.setText(f"<span style='color:#1b5e20'>Installed: {path}</span><br>It is in the Model menu now.")
        self.completeChanged.emit()
        self._refresh()

    def _refresh(self) -> None:
        busy = self.c.is_running("publish")
        self.install_button.setEnabled(not busy and self.c.trained_model is not None
                                       and self.c.name_problem(self.name.text()) is None)
        self.completeChanged.emit()

    def on_shown(self) -> None:
        if not self.name.text():
            self.name.setText(self.c.suggested_name())
        self._preview_card()
        self._refresh()

    def isComplete(self) -> bool:  # noqa: N802
        return self.c.installed is not None


ALL_PAGES: List[Tuple[int, Any]] = [
    (PAGE_DATA, DataPage),
    (PAGE_COLORS, ColorsPage),
    (PAGE_SETTINGS, SettingsPage),
    (PAGE_TRAIN, TrainPage),
    (PAGE_EVALUATE, EvaluatePage),
    (PAGE_EXPORT, ExportPage),
]
