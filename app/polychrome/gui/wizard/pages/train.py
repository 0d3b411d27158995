"""Page 4 · Training: live curves, samples and log with pause / resume / cancel."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
)

from ....core.progress import format_duration
from ....training.events import TrainStepEvent, ValEvent
from ..controller import TrainingWizardController
from ..model import CANCELLED, FAILED, FINISHED, IDLE, PAUSED, RUNNING
from .common import ImageGrid, WizardPage, heading, side_by_side


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
        self.mean_curve = self.plot.plot([], [], pen=pg.mkPen("#1565c0", width=2),
                                         name="training (running mean of the epoch)")
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

    def _on_event(self, event: object) -> None:
        if isinstance(event, TrainStepEvent):
            self._update_status()
            cv = self.c.curves
            if len(cv.steps) < 3000 or cv.steps[-1] % 5 == 0:
                self.loss_curve.setData(cv.steps, cv.loss)
                self.mean_curve.setData(cv.steps, cv.mean_loss)
        elif isinstance(event, ValEvent):
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
