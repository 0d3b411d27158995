"""The import dialog's model, in plain Python (no Qt, no torch): the form's fields, the architecture and name a
chosen file suggests, why the form cannot start, the job's arguments, and the text shown when the job ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from ...core.errors import ModelError
from ...training.zhang import ARCHS, ImportedModel, check_name, guess_arch

ARCH_CHOICES = [(a.title, a.key) for a in ARCHS.values()]


def where_to_get_them() -> str:
    """One paragraph naming the release files and where the authors publish them (HTML)."""
    items = "".join(f"<li><b>{a.key}</b>: <a href=\"{a.url}\">{a.release_file}</a></li>" for a in ARCHS.values())
    return ("Import the authors' PyTorch release weights of Zhang et al. (download them from the authors' site; "
            f"Polychrome does not ship them):<ul>{items}</ul>"
            "The file is read as weights only (nothing in it is run), checked against the network's layout, "
            "converted to ONNX and verified against PyTorch.")


@dataclass
class ImportForm:
    arch: str = "eccv16"
    weights: str = ""
    name: str = ""
    install: bool = True
    output: str = ""  # also write the .onnx file here ("" = only install)
    regression: bool = False  # SIGGRAPH17: also export the regression output 'ab'
    name_edited: bool = False  # the user typed a name: a newly chosen file no longer replaces it

    def choose_weights(self, path: str) -> None:
        """A file was chosen: take the architecture its name suggests and, unless typed, the default name."""
        self.weights = path
        guessed = guess_arch(path)
        if guessed:
            self.arch = guessed
        if not self.name_edited:
            self.name = ARCHS[self.arch].default_name

    def choose_arch(self, arch: str) -> None:
        if arch not in ARCHS:
            raise ValueError(arch)
        self.arch = arch
        if not self.name_edited:
            self.name = ARCHS[arch].default_name
        if not ARCHS[arch].hints:
            self.regression = False

    def problem(self) -> str:
        """Why the import cannot start as set up ("" when it can)."""
        if not self.weights:
            return "Choose the weights file (.pth)."
        if not Path(self.weights).is_file():
            return f"{self.weights}: file not found."
        try:
            check_name(self.name or ARCHS[self.arch].default_name)
        except ModelError as exc:
            return str(exc)
        if not self.install and not self.output:
            return "Install the model or choose where to save the .onnx file."
        if self.output and not self.output.lower().endswith(".onnx"):
            return "The model file name must end in .onnx."
        return ""

    def job_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments of ``import_original_model`` after (progress, cancel)."""
        return {
            "arch": self.arch,
            "weights": self.weights,
            "output": self.output or None,
            "name": self.name or ARCHS[self.arch].default_name,
            "install": self.install,
            "regression": self.regression and ARCHS[self.arch].hints,
        }


def result_text(res: ImportedModel) -> str:
    """What the dialog says after a successful import (plain text, one line per fact)."""
    lines: List[str] = [f"Imported {res.name} ({res.arch}, {res.Q} colour bins)."]
    if res.installed is not None:
        lines.append(f"Installed in your models folder: {res.installed}")
    if res.path is not None:
        lines.append(f"Saved as {res.path}")
    lines.append(f"Source SHA-256: {res.sha256}")
    lines += [f"Warning: {w}" for w in res.warnings]
    return "\n".join(lines)


def progress_text(message: str, fraction: Optional[float]) -> str:
    pct = f" ({int(round(100 * fraction))} %)" if fraction is not None else ""
    return (message[:1].upper() + message[1:] if message else "Working") + pct
