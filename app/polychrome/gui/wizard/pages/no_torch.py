"""The page shown instead of the wizard when PyTorch (or ONNX) cannot be imported, with the commands that add
training to *this* installation: run with this Python, from a clone (an editable install of the checkout) or from a
wheel (the training extra's own requirements, read from the installed package's metadata, so no package index needs
to know Polychrome)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout

from ..controller import TrainingWizardController
from .common import WizardPage

TORCH_CPU = "torch --index-url https://download.pytorch.org/whl/cpu"


def _quote(word: str) -> str:
    return subprocess.list2cmdline([word]) if os.name == "nt" else shlex.quote(word)


def _checkout() -> Optional[Path]:
    """The clone this Polychrome runs from (a pyproject.toml naming it above the package), or None (a wheel)."""
    root = Path(__file__).resolve().parents[5]  # app/polychrome/gui/wizard/pages/no_torch.py -> the repository
    pyproject = root / "pyproject.toml"
    try:
        return root if pyproject.is_file() and 'name = "polychrome"' in pyproject.read_text("utf-8") else None
    except OSError:
        return None


def _train_requirements() -> List[str]:
    """The 'train' extra's requirements of the installed distribution (without the extra marker)."""
    try:
        from importlib.metadata import requires

        reqs = requires("polychrome") or []
    except Exception:  # noqa: BLE001 - not installed as a distribution: fall back to the extra's name
        return []
    out = []
    for r in reqs:
        req, _, marker = r.partition(";")
        if "extra" in marker and "train" in marker:
            out.append(req.strip())
    return out


def install_commands(python: str = sys.executable, checkout: Optional[Path] = None,
                     requirements: Optional[Sequence[str]] = None, from_clone: Optional[bool] = None) -> List[str]:
    """Shell lines that add training to this installation: the CPU build of PyTorch first (a plain ``torch``
    requirement pulls the CUDA build, several GB), then from a clone ``pip install -e ".[train]"`` in the checkout,
    or from a wheel the extra's requirements themselves."""
    py = _quote(python)
    if from_clone is None:
        checkout = checkout if checkout is not None else _checkout()
        from_clone = checkout is not None
    lines = [f"{py} -m pip install {TORCH_CPU}"]
    if from_clone:
        lines.append(f"cd {_quote(str(checkout))}" if checkout is not None else "cd <your clone of Polychrome>")
        lines.append(f'{py} -m pip install -e ".[train]"')
    else:
        reqs = list(requirements) if requirements is not None else _train_requirements()
        if reqs:
            lines.append(f"{py} -m pip install " + " ".join(_quote(r) for r in reqs))
        else:
            lines.append(f'{py} -m pip install "polychrome[train]"')
    return lines


class NoTorchPage(WizardPage):
    """Shown instead of the wizard when PyTorch (or ONNX) cannot be imported."""

    def __init__(self, controller: TrainingWizardController) -> None:
        super().__init__(controller, "Training is not installed",
                         "Training your own model needs the optional training extra (PyTorch and ONNX).")
        lay = QVBoxLayout(self)
        missing = ", ".join(controller.missing) or "nothing"
        self.text = QLabel(
            "Polychrome can fine-tune its colorization model on your own photos, or train one from scratch, "
            "but this installation lacks the packages that training needs "
            f"(<b>{missing}</b> could not be imported).<br><br>"
            "Colorizing with the installed models works as before. To enable training, install the "
            "<b>train</b> extra into the Python environment that runs Polychrome (these commands use it; with a "
            "CUDA GPU, take the CUDA build of PyTorch from pytorch.org instead of the first line):")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.commands = QPlainTextEdit("\n".join(install_commands()))
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
