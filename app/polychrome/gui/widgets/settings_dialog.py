"""Settings (Edit ▸ Settings…, Ctrl+,; the application menu on macOS), in three tabs:

* General — the model, the execution provider, the temperature new images start at, and whether the last session
  comes back by itself or after asking;
* Appearance — the colour theme (same as the system, light, dark), applied at once when accepted;
* Export — the options a new export starts with (format, bit depth, JPEG quality, upsampling, gamut, size, where,
  suffix).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.decode import DEFAULT_T, MAX_T, MIN_T
from ..export.view import OptionFields

AUTO = ""
THEME_CHOICES = [("Same as the system", "system"), ("Light", "light"), ("Dark", "dark")]
SESSION_CHOICES = [("Reopen the last session's images", "restore"), ("Ask whether to reopen them", "ask")]


def _combo(choices: Sequence[Tuple[str, str]], current: Any) -> QComboBox:
    c = QComboBox()
    for label, key in choices:
        c.addItem(label, key)
    i = c.findData(current)
    c.setCurrentIndex(max(0, i))
    return c


class SettingsDialog(QDialog):
    """``models``: (label, path) pairs; ``providers``: (key, label) pairs with key "" meaning automatic;
    ``theme``: "system" | "light" | "dark"; ``session_mode``: "restore" | "ask"; ``export_defaults``: export options
    (keys of the export dialog's ``options()``).

    :meth:`values` returns ``{"model": path or None, "provider": key or None, "start_T": float or None, "theme": str,
    "session_mode": str, "export_defaults": dict}``."""

    def __init__(
        self,
        models: Sequence[Tuple[str, str]],
        providers: Sequence[Tuple[str, str]],
        model: Optional[str] = None,
        provider: Optional[str] = None,
        start_T: Optional[float] = None,  # noqa: N803
        model_default_T: float = DEFAULT_T,  # noqa: N803
        provider_status: str = "",
        parent: Optional[QWidget] = None,
        theme: str = "system",
        session_mode: str = "restore",
        export_defaults: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Polychrome — Settings")
        self.tabs = QTabWidget()
        general = QWidget()
        form = QFormLayout(general)

        self.model_combo = QComboBox()
        self.model_combo.addItem("Default model", None)
        for label, path in models:
            self.model_combo.addItem(label, str(path))
        self._select(self.model_combo, model)
        form.addRow("Model:", self.model_combo)

        self.provider_combo = QComboBox()
        for key, label in providers:
            self.provider_combo.addItem(label, key)
        self._select(self.provider_combo, provider or AUTO)
        form.addRow("Runs on:", self.provider_combo)
        if provider_status:
            status = QLabel(provider_status)
            status.setWordWrap(True)
            status.setStyleSheet("color: palette(mid);")
            form.addRow("", status)

        self.t_default = QRadioButton(f"the model's default ({model_default_T:.2f})")
        self.t_fixed = QRadioButton("this value:")
        group = QButtonGroup(self)
        group.addButton(self.t_default)
        group.addButton(self.t_fixed)
        self.t_spin = QDoubleSpinBox()
        self.t_spin.setRange(MIN_T, MAX_T)
        self.t_spin.setDecimals(2)
        self.t_spin.setSingleStep(0.02)
        self.t_spin.setValue(model_default_T if start_T is None else float(start_T))
        (self.t_default if start_T is None else self.t_fixed).setChecked(True)
        self.t_spin.setEnabled(start_T is not None)
        self.t_fixed.toggled.connect(self.t_spin.setEnabled)
        t_row = QWidget()
        t_lay = QVBoxLayout(t_row)
        t_lay.setContentsMargins(0, 0, 0, 0)
        t_lay.addWidget(self.t_default)
        fixed = QHBoxLayout()
        fixed.addWidget(self.t_fixed)
        fixed.addWidget(self.t_spin)
        fixed.addStretch(1)
        t_lay.addLayout(fixed)
        form.addRow("New images start at T =", t_row)
        self.session_combo = _combo(SESSION_CHOICES, session_mode)
        self.session_combo.setToolTip("The queue, each image's temperature and its hints are kept between runs")
        form.addRow("At start:", self.session_combo)
        self.tabs.addTab(general, "General")

        appearance = QWidget()
        aform = QFormLayout(appearance)
        self.theme_combo = _combo(THEME_CHOICES, theme)
        aform.addRow("Theme:", self.theme_combo)
        note = QLabel("Photographs are always shown on a neutral gray.")
        note.setStyleSheet("color: palette(mid);")
        aform.addRow("", note)
        self.tabs.addTab(appearance, "Appearance")

        self.tabs.addTab(self._export_tab(dict(export_defaults or {})), "Export")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs)
        lay.addWidget(buttons)

    def _export_tab(self, d: Dict[str, Any]) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.addRow(QLabel("A new export starts with these options."))
        self.export_fields = OptionFields(form, d)
        self.format_combo, self.bit_combo = self.export_fields.format_combo, self.export_fields.bit_combo
        self.quality_spin, self.upsample_combo = self.export_fields.quality_spin, self.export_fields.upsample_combo
        self.gamut_combo, self.max_side_spin = self.export_fields.gamut_combo, self.export_fields.max_side_spin
        self.beside_check = QCheckBox("Next to the originals")
        self.beside_check.setChecked("out_dir" in d and not d.get("out_dir"))
        self.folder_edit = QLineEdit(str(d.get("out_dir") or ""))
        self.folder_edit.setPlaceholderText("Ask each time")
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        where = QVBoxLayout()
        where.addLayout(row)
        where.addWidget(self.beside_check)
        self.beside_check.toggled.connect(lambda on: self.folder_edit.setEnabled(not on))
        self.folder_edit.setEnabled(not self.beside_check.isChecked())
        form.addRow("Folder:", where)
        self.suffix_edit = QLineEdit(str(d.get("suffix", "_color")))
        form.addRow("Name suffix:", self.suffix_edit)
        return page

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Default export folder",
                                                  self.folder_edit.text() or str(Path.home()))
        if folder:
            self.folder_edit.setText(folder)

    def export_defaults(self) -> Dict[str, Any]:
        """The export tab as export-dialog options (no scope; ``out_dir`` only when chosen)."""
        d: Dict[str, Any] = {**self.export_fields.values(), "suffix": self.suffix_edit.text()}
        if self.beside_check.isChecked():
            d["out_dir"] = None
        elif self.folder_edit.text().strip():
            d["out_dir"] = self.folder_edit.text().strip()
        return d

    @staticmethod
    def _select(combo: QComboBox, data) -> None:
        i = combo.findData(data)
        if i < 0 and data:  # a model file not in the registry list: show it anyway
            combo.addItem(str(data), data)
            i = combo.count() - 1
        combo.setCurrentIndex(max(0, i))

    def values(self) -> dict:
        return {
            "model": self.model_combo.currentData() or None,
            "provider": self.provider_combo.currentData() or None,
            "start_T": float(self.t_spin.value()) if self.t_fixed.isChecked() else None,
            "theme": self.theme_combo.currentData(),
            "session_mode": self.session_combo.currentData(),
            "export_defaults": self.export_defaults(),
        }


def provider_choices(available: List[str]) -> List[Tuple[str, str]]:
    """(key, label) for the provider combo: automatic first, then what onnxruntime offers here."""
    from ...runtime import providers as P

    out = [(AUTO, "Automatic (best available, CPU as fallback)")]
    keys = {P.CPU: "cpu", P.CUDA: "cuda", P.DML: "directml", P.COREML: "coreml"}
    for name in P.PREFERENCE:
        if name in available:
            out.append((keys[name], P.FRIENDLY[name]))
    return out
