"""The training wizard window: six pages over one :class:`~.controller.TrainingWizardController`.

    wizard = open_training_wizard(main_window, main_window.controller)   # non-modal; returns the TrainingWizard

Without PyTorch the wizard has a single page that says how to install the training extra. Closing the window
while a run trains asks first; a closed run is cancelled after its current step and keeps its checkpoint, which
the Data page offers to resume next time.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget, QWizard

from .controller import TrainingWizardController
from .pages import ALL_PAGES, PAGE_NO_TORCH, PAGE_TRAIN, NoTorchPage, WizardPage


class TrainingWizard(QWizard):
    """Data → Colours → Settings → Train → Evaluate → Export (or the install page without PyTorch)."""

    def __init__(self, controller: Optional[TrainingWizardController] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller if controller is not None else TrainingWizardController(parent=self)
        c = self.controller
        self.setWindowTitle("Train a Model on Your Photos")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        self.resize(1060, 760)
        self.setMinimumSize(900, 640)
        self.pages = {}
        if not c.available:
            page = NoTorchPage(c)
            self.setPage(PAGE_NO_TORCH, page)
            self.pages[PAGE_NO_TORCH] = page
            self.setStartId(PAGE_NO_TORCH)
        else:
            for pid, cls in ALL_PAGES:
                page = cls(c)
                self.setPage(pid, page)
                self.pages[pid] = page
                # after QWizard's own button update (connected by setPage), which re-enables Back
                page.completeChanged.connect(self.sync_buttons)
            self.setStartId(ALL_PAGES[0][0])
            c.find_runs()
        self.currentIdChanged.connect(self._on_page)
        c.training_state_changed.connect(self._schedule_sync)  # bound methods: disconnected when deleted
        c.failed.connect(self._on_failed)
        # asked before closing stops a running training (tests and embedders may swap it)
        self.confirm_stop: Callable[[], bool] = self._ask_stop

    # -- pages ------------------------------------------------------------------------------------
    def _on_page(self, pid: int) -> None:
        page = self.page(pid)
        if isinstance(page, WizardPage):
            page.on_shown()
        self._schedule_sync()

    def _schedule_sync(self) -> None:
        QTimer.singleShot(0, self.sync_buttons)

    def sync_buttons(self) -> None:
        """No going back while a run trains (its settings are in use)."""
        if self.currentId() == PAGE_TRAIN:
            self.button(QWizard.WizardButton.BackButton).setEnabled(not self.controller.training_active)

    def _on_failed(self, message: str, details: str) -> None:
        if self.isVisible() and not message.startswith("train:"):  # training errors show on the Train page
            box = QMessageBox(QMessageBox.Icon.Warning, "Training wizard", message, parent=self)
            box.setDetailedText(details)
            box.open()

    # -- closing ------------------------------------------------------------------------------------
    def _ask_stop(self) -> bool:
        ans = QMessageBox.question(
            self, "Stop training?",
            "A model is being trained. Stop now? A checkpoint is kept, and the wizard offers to resume the run "
            "the next time it opens.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return ans == QMessageBox.StandardButton.Yes

    def reject(self) -> None:  # Cancel button, Escape, closing the window
        if self.controller.training_active and not self.confirm_stop():
            return
        super().reject()

    def done(self, result: int) -> None:  # every way of closing ends here
        self.controller.shutdown()
        super().done(result)


def open_training_wizard(parent: Optional[QWidget] = None, controller=None,
                         wizard_controller: Optional[TrainingWizardController] = None) -> TrainingWizard:
    """Show the training wizard (non-modal) and return it; an open one is raised instead of a second one.

    ``controller``: the app's :class:`~polychrome.gui.queue.controller.ColorizeController`; when given, a model
    installed
    with "use it now" ticked is switched to at once. ``wizard_controller``: a prepared controller (tests).
    """
    if parent is not None:
        for w in parent.findChildren(TrainingWizard):
            if w.isVisible():
                w.raise_()
                w.activateWindow()
                return w
    wizard = TrainingWizard(wizard_controller, parent)
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # a closed wizard frees its photos and curves
    if controller is not None:
        wizard.controller.use_model_requested.connect(controller.switch_model)
    wizard.show()
    return wizard
