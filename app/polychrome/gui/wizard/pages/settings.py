"""Page 3 · Settings: start (fine-tune or scratch), size, epochs, batch, loss, device, and a measured time per
epoch."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
)

from ....core.progress import ProgressEvent
from ....training.events import PhaseEvent
from ..controller import TrainingWizardController
from ..model import INPUT_SIZES, LOSS_LABELS, START_FINETUNE, START_SCRATCH
from .common import WizardPage, short_duration


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
            timing = isinstance(ev.data, PhaseEvent) and ev.data.phase == "estimate"
            self.measure_progress.setFormat(ev.message if timing else "preparing…")

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
