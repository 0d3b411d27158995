"""Preferences: the model, the execution provider and the temperature new images start at."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ...core.decode import DEFAULT_T, MAX_T, MIN_T

AUTO = ""


class SettingsDialog(QDialog):
    """``models``: (label, path) pairs; ``providers``: (key, label) pairs with key "" meaning automatic.

    :meth:`values` returns ``{"model": path or None, "provider": key or None, "start_T": float or None}``."""

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
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Polychrome — Preferences")
        form = QFormLayout()

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

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

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
