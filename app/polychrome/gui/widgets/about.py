"""The About box: the app's version, the model in use with its card (data, licence, recipe, metrics) and the
licences of what Polychrome is built on."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

THIRD_PARTY = [
    ("Qt / PySide6", "LGPL-3.0"),
    ("pyqtgraph", "MIT"),
    ("ONNX Runtime", "MIT"),
    ("NumPy", "BSD-3-Clause"),
    ("OpenCV", "Apache-2.0"),
    ("Pillow", "MIT-CMU (HPND)"),
    ("tifffile", "BSD-3-Clause"),
    ("platformdirs", "MIT"),
    ("threadpoolctl", "BSD-3-Clause"),
    ("PyTorch (training only)", "BSD-3-Clause"),
    ("EfficientNet-Lite0 ImageNet weights (training only)", "Apache-2.0"),
]


def model_card_path(model_path: Optional[Path]) -> Optional[Path]:
    """The card of a model file: ``NAME.md`` beside it, else the folder's README.md if it describes this model."""
    if model_path is None:
        return None
    p = Path(model_path)
    own = p.with_suffix(".md")
    if own.is_file():
        return own
    readme = p.parent / "README.md"
    try:
        if readme.is_file() and p.name in readme.read_text(encoding="utf-8", errors="replace"):
            return readme
    except OSError:
        return None
    return None


def model_markdown(manifest, model_path: Optional[Path]) -> str:
    """Markdown for the model tab: the manifest's summary, then the card file when there is one."""
    if manifest is None:
        return "No model is loaded."
    lines = [f"## {manifest.name} {manifest.version}", ""]
    if manifest.description:
        lines += [manifest.description, ""]
    lines += [f"- Bins: Q = {manifest.Q}; input size {manifest.input_size} px; output stride {manifest.stride}",
              f"- Default temperature: {manifest.default_T:g}"]
    if model_path:
        lines.append(f"- File: `{model_path}`")
    lines += ["", f"**Licence / terms:** {manifest.license or 'not stated'}", ""]
    card = model_card_path(model_path)
    if card is not None:
        try:
            lines += ["---", "", card.read_text(encoding="utf-8", errors="replace")]
        except OSError as exc:
            lines.append(f"(the model card {card} could not be read: {exc})")
    return "\n".join(lines)


class AboutDialog(QDialog):
    def __init__(self, version: str, manifest=None, model_path: Optional[Path] = None,
                 log_file: Optional[Path] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Polychrome")
        self.resize(720, 560)
        tabs = QTabWidget()
        about = QTextBrowser()
        about.setOpenExternalLinks(True)
        about.setMarkdown(
            f"# Polychrome {version}\n\n"
            "Colorize grayscale photographs: the network predicts, for every pixel, a distribution over "
            "quantised ab colours (Zhang, Isola & Efros, *Colorful Image Colorization*, ECCV 2016); the "
            "temperature T moves each pixel between its most likely colour (T → 0) and the average of the "
            "candidate colours (T = 1). Your scan's own "
            "full-resolution lightness is always kept.\n\n"
            "Open source; the licence is in the LICENSE file shipped with the application."
            + (f"\n\nLog file: `{log_file}`" if log_file is not None else ""))
        self.about_text = about
        self.model_text = QTextBrowser()
        self.model_text.setOpenExternalLinks(True)
        self.model_text.setMarkdown(model_markdown(manifest, model_path))
        licences = QTextBrowser()
        licences.setMarkdown("## Built on\n\n| Component | Licence |\n|---|---|\n" +
                             "\n".join(f"| {n} | {lic} |" for n, lic in THIRD_PARTY))
        tabs.addTab(about, "Polychrome")
        tabs.addTab(self.model_text, "Model")
        tabs.addTab(licences, "Licences")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay = QVBoxLayout(self)
        lay.addWidget(tabs)
        lay.addWidget(buttons)
        self.tabs = tabs
