"""The page shown instead of the wizard when PyTorch (or ONNX) cannot be imported."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout

from ..controller import TrainingWizardController
from .common import WizardPage


class NoTorchPage(WizardPage):
    """Shown instead of the wizard when PyTorch (or ONNX) cannot be imported."""

    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "Training is not installed",
                         "Training your own model needs the optional training extra (PyTorch and ONNX).")
        from .... import training

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
