"""The import dialog (Model ▸ Import Original Zhang Model…): the weights file, the network, the name, install /
save as, progress with Cancel, the result or the one-line reason, and "Use This Model" once it is imported."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...training.zhang import ARCHS
from .controller import ImportController
from .model import ARCH_CHOICES, result_text, where_to_get_them


class ImportModelDialog(QDialog):
    def __init__(self, parent: Optional[QWidget] = None, window: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("ImportModelDialog")
        self.setWindowTitle("Import Original Zhang Model")
        self.window_ = window  # the main window: its controller switches models, its settings remember folders
        self.controller = ImportController(self)
        form = self.controller.form
        lay = QVBoxLayout(self)
        intro = QLabel(where_to_get_them())
        intro.setWordWrap(True)
        intro.setOpenExternalLinks(True)
        lay.addWidget(intro)

        fields = QFormLayout()
        row = QHBoxLayout()
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("colorization_release_v2-9b330a0b.pth or siggraph17-df00044c.pth")
        self.weights_edit.editingFinished.connect(lambda: self.set_weights(self.weights_edit.text().strip()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse_weights)
        row.addWidget(self.weights_edit, 1)
        row.addWidget(browse)
        fields.addRow("Weights file:", row)
        self.arch_combo = QComboBox()
        for title, key in ARCH_CHOICES:
            self.arch_combo.addItem(title, key)
        self.arch_combo.currentIndexChanged.connect(lambda _i: self.set_arch(self.arch_combo.currentData()))
        fields.addRow("Network:", self.arch_combo)
        self.name_edit = QLineEdit(ARCHS[form.arch].default_name)
        self.name_edit.textEdited.connect(self._name_edited)
        fields.addRow("Model name:", self.name_edit)
        self.install_check = QCheckBox("Install into my models folder (it then appears in the Model menu)")
        self.install_check.setChecked(form.install)
        self.install_check.toggled.connect(self._install_toggled)
        fields.addRow("", self.install_check)
        out_row = QHBoxLayout()
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("optional: also save the .onnx file here")
        self.output_edit.textChanged.connect(self._output_changed)
        save_as = QPushButton("Save As…")
        save_as.clicked.connect(self.browse_output)
        out_row.addWidget(self.output_edit, 1)
        out_row.addWidget(save_as)
        fields.addRow("Model file:", out_row)
        self.regression_check = QCheckBox("Also export the regression output 'ab' (SIGGRAPH17; slower inference)")
        self.regression_check.toggled.connect(lambda on: setattr(form, "regression", bool(on)))
        fields.addRow("", self.regression_check)
        lay.addLayout(fields)

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)

        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.use_button = self.buttons.addButton("Use This Model", QDialogButtonBox.ButtonRole.ApplyRole)
        self.cancel_button = self.buttons.addButton("Cancel Import", QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.import_button.clicked.connect(self.start)
        self.use_button.clicked.connect(self.use_model)
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.close_button.clicked.connect(self.close)
        lay.addWidget(self.buttons)

        c = self.controller
        c.progressed.connect(self._on_progress)
        c.imported.connect(self._on_imported)
        c.failed.connect(self._on_failed)
        c.cancelled.connect(lambda: self.status.setText("Cancelled; nothing was written."))
        c.running_changed.connect(self._update_buttons)
        self._torch_missing = self._check_dependencies()
        self._update_buttons(False)
        self.resize(620, 0)

    # -- form -------------------------------------------------------------------------------------
    def _check_dependencies(self) -> bool:
        from ...training import INSTALL_HINT, missing_dependencies

        missing = missing_dependencies()
        if missing:
            self.status.setText(f"Importing needs {' and '.join(missing)} (the 'train' extra).\n{INSTALL_HINT}")
        return bool(missing)

    def set_weights(self, path: str) -> None:
        form = self.controller.form
        if path == form.weights:
            return
        form.choose_weights(path)
        self.weights_edit.setText(path)
        self._sync()

    def set_arch(self, arch: str) -> None:
        self.controller.form.choose_arch(arch)
        self._sync()

    def _sync(self) -> None:
        form = self.controller.form
        i = self.arch_combo.findData(form.arch)
        if i != self.arch_combo.currentIndex():
            self.arch_combo.blockSignals(True)
            self.arch_combo.setCurrentIndex(i)
            self.arch_combo.blockSignals(False)
        if self.name_edit.text() != form.name:
            self.name_edit.setText(form.name)
        hints = ARCHS[form.arch].hints
        self.regression_check.setEnabled(hints)
        if not hints:
            self.regression_check.setChecked(False)
        self._update_buttons(self.controller.running)

    def _name_edited(self, text: str) -> None:
        form = self.controller.form
        form.name, form.name_edited = text.strip(), bool(text.strip())
        self._update_buttons(self.controller.running)

    def _install_toggled(self, on: bool) -> None:
        self.controller.form.install = bool(on)
        self._update_buttons(self.controller.running)

    def _output_changed(self, text: str) -> None:
        self.controller.form.output = text.strip()
        self._update_buttons(self.controller.running)

    def _last_dir(self) -> str:
        s = getattr(self.window_, "settings", None)
        return s.last_dir("zhang-weights") if s is not None else ""

    def browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the release weights", self._last_dir(),
                                              "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            s = getattr(self.window_, "settings", None)
            if s is not None:
                s.set_last_dir("zhang-weights", path)
            self.set_weights(path)

    def browse_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the model as", self.controller.form.name + ".onnx",
                                              "ONNX models (*.onnx)")
        if path:
            self.output_edit.setText(path if path.lower().endswith(".onnx") else path + ".onnx")

    def _update_buttons(self, running: bool) -> None:
        why = self.controller.form.problem()
        self.import_button.setEnabled(not running and not why and not self._torch_missing)
        self.import_button.setToolTip(why)
        self.cancel_button.setEnabled(running)
        res = self.controller.result
        self.use_button.setEnabled(not running and res is not None and self.window_ is not None)
        for w in (self.weights_edit, self.arch_combo, self.name_edit, self.install_check, self.output_edit):
            w.setEnabled(not running)

    # -- the job ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.progress.setValue(0)
        self.status.setText("Starting…")
        self.controller.start()

    def _on_progress(self, text: str, fraction: float) -> None:
        self.status.setText(text)
        if fraction >= 0:
            self.progress.setValue(int(round(100 * fraction)))

    def _on_imported(self, res: Any) -> None:
        self.progress.setValue(100)
        self.status.setText(result_text(res))
        self._update_buttons(False)

    def _on_failed(self, message: str) -> None:
        self.progress.setValue(0)
        self.status.setText(f"Not imported: {message}")

    def use_model(self) -> bool:
        """Switch the main window to the imported model."""
        res = self.controller.result
        if res is None or self.window_ is None:
            return False
        ok = bool(self.window_.controller.switch_model(str(res.model_path)))
        s = getattr(self.window_, "settings", None)
        if ok and s is not None:
            s.model = str(res.model_path)
        return ok

    def closeEvent(self, ev) -> None:  # noqa: N802
        self.controller.shutdown(30000)
        super().closeEvent(ev)


def open_import_dialog(window: Any) -> ImportModelDialog:
    """Open (non-modal) the import dialog over the main window."""
    dlg = ImportModelDialog(window, window)
    dlg.show()
    dlg.raise_()
    return dlg
