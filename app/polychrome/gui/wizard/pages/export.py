"""Page 6 · Export: name, card and install of the trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)

from ..controller import TrainingWizardController
from .common import WizardPage, heading


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
