"""Export dialogs: the options of an export (:class:`ExportDialog`) and its progress and outcome
(:class:`ExportSummaryDialog`).

:meth:`ExportDialog.options` gives the fields of :class:`polychrome.runtime.pipeline.ExportOptions` (plus ``scope``),
ready for ``ColorizeController.export(rows, **options)``. Outputs are full resolution unless a long side is set;
the originals are never overwritten (the pipeline protects them), and an existing output is replaced only when
"Replace existing files" is ticked — otherwise a free name like ``photo_color (2).png`` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from PySide6.QtCore import QRegularExpression, Qt
from PySide6.QtGui import QRegularExpressionValidator, QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...runtime.pipeline import ExportOptions
from .model import (
    BAD_SUFFIX_CHARS,
    BIT_DEPTHS,
    FORMATS,
    GAMUT,
    SCOPE_ALL,
    SCOPE_CURRENT,
    UPSAMPLING,
    example_text,
    setup_problem,
    summarize_results,
    to_export_options,
)


def _fill(combo: QComboBox, choices: Sequence[Tuple[str, str]]) -> None:
    for label, key in choices:
        combo.addItem(label, key)


def _select(combo: QComboBox, key: Any) -> None:
    i = combo.findData(key)
    if i >= 0:
        combo.setCurrentIndex(i)


class OptionFields:
    """The rows of an export's options that the export dialog and the Settings' export tab share: format, bit
    depth, JPEG quality, colour upsampling, out-of-gamut colours and long side, added to ``form`` and set from
    ``d`` (keys of :meth:`values`; missing ones take the built-in defaults)."""

    def __init__(self, form: QFormLayout, d: Mapping[str, Any]) -> None:
        self.format_combo = QComboBox()
        _fill(self.format_combo, FORMATS)
        _select(self.format_combo, d.get("format", "same"))
        form.addRow("Format:", self.format_combo)
        self.bit_combo = QComboBox()
        _fill(self.bit_combo, BIT_DEPTHS)
        _select(self.bit_combo, str(d.get("bit_depth", "source")))
        form.addRow("Bit depth:", self.bit_combo)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(int(d.get("quality", 95) or 95))
        form.addRow("JPEG quality:", self.quality_spin)
        self.upsample_combo = QComboBox()
        _fill(self.upsample_combo, UPSAMPLING)
        _select(self.upsample_combo, d.get("upsample", "bicubic"))
        self.upsample_combo.setToolTip("How the network's coarse colours are brought to the scan's full resolution")
        form.addRow("Colour upsampling:", self.upsample_combo)
        self.gamut_combo = QComboBox()
        _fill(self.gamut_combo, GAMUT)
        _select(self.gamut_combo, d.get("gamut", "keep-lightness"))
        form.addRow("Out-of-gamut colours:", self.gamut_combo)
        self.max_side_spin = QSpinBox()
        self.max_side_spin.setRange(0, 100_000)
        self.max_side_spin.setSingleStep(256)
        self.max_side_spin.setSuffix(" px")
        self.max_side_spin.setSpecialValueText("Full resolution")
        self.max_side_spin.setValue(int(d.get("max_side") or 0))
        self.max_side_spin.setToolTip("Shrink outputs so their long side is at most this; 0 keeps full resolution")
        form.addRow("Long side:", self.max_side_spin)

    def values(self) -> Dict[str, Any]:
        """``format``, ``bit_depth`` (JPEG is 8 bits whatever is chosen), ``quality``, ``upsample``, ``gamut`` and
        ``max_side`` (None: full resolution), as plain values."""
        fmt, bits = self.format_combo.currentData(), self.bit_combo.currentData()
        if fmt == "jpeg" and bits == "16":
            bits = "8"
        return {
            "format": fmt,
            "bit_depth": bits,
            "quality": int(self.quality_spin.value()),
            "upsample": self.upsample_combo.currentData(),
            "gamut": self.gamut_combo.currentData(),
            "max_side": int(self.max_side_spin.value()) or None,
        }


class ExportDialog(QDialog):
    """Options of an export: what (the current image or every colorized one), format, bit depth, JPEG quality,
    upsampling, gamut handling, size, folder and suffix, and whether existing files may be replaced.

    ``current_path``: the current image (None: only "all" is possible); ``count_all``: how many images are
    colorized; ``last_folder``: the folder offered first; ``defaults``: options remembered from last time (keys of
    :meth:`options`); ``scope``: the scope selected first.
    """

    def __init__(
        self,
        current_path: Optional[Path] = None,
        count_all: int = 0,
        last_folder: Optional[str] = None,
        defaults: Optional[Mapping[str, Any]] = None,
        scope: str = SCOPE_ALL,
        sample_path: Optional[Path] = None,
        parent: Optional[QWidget] = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Polychrome — Export")
        self.current_path = Path(current_path) if current_path else None
        self.sample_path = Path(sample_path) if sample_path else self.current_path
        d = dict(defaults or {})
        form = QFormLayout()

        # what
        name = self.current_path.name if self.current_path else "none selected"
        self.scope_current = QRadioButton(f"The current image ({name})")
        self.scope_all = QRadioButton(f"Every colorized image ({count_all})")
        self.scope_current.setEnabled(self.current_path is not None)
        self.scope_all.setEnabled(count_all > 0)
        group = QButtonGroup(self)
        group.addButton(self.scope_current)
        group.addButton(self.scope_all)
        want_current = (scope == SCOPE_CURRENT or count_all <= 0) and self.current_path is not None
        (self.scope_current if want_current else self.scope_all).setChecked(True)
        scope_box = QVBoxLayout()
        scope_box.addWidget(self.scope_current)
        scope_box.addWidget(self.scope_all)
        form.addRow("Export:", scope_box)

        # how
        self.fields = OptionFields(form, d)
        self.format_combo, self.bit_combo = self.fields.format_combo, self.fields.bit_combo
        self.quality_spin, self.upsample_combo = self.fields.quality_spin, self.fields.upsample_combo
        self.gamut_combo, self.max_side_spin = self.fields.gamut_combo, self.fields.max_side_spin

        # where
        self.beside_check = QCheckBox("Next to the originals")
        self.beside_check.setChecked("out_dir" in d and not d.get("out_dir"))  # as chosen last time
        self.folder_edit = QLineEdit(str(last_folder or d.get("out_dir") or ""))
        self.folder_edit.setPlaceholderText("Choose a folder")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setAutoDefault(False)
        self.browse_button.clicked.connect(self.browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        where = QVBoxLayout()
        where.addLayout(folder_row)
        where.addWidget(self.beside_check)
        form.addRow("Folder:", where)
        self.suffix_edit = QLineEdit(str(d.get("suffix", "_color")))
        self.suffix_edit.setValidator(QRegularExpressionValidator(
            QRegularExpression("[^" + QRegularExpression.escape(BAD_SUFFIX_CHARS) + "]*"), self))
        self.suffix_edit.setToolTip("Added to each file's name: photo.tif → photo_color.tif")
        form.addRow("Name suffix:", self.suffix_edit)
        self.overwrite_check = QCheckBox("Replace existing files with the same name")
        self.overwrite_check.setChecked(False)  # never by default, whatever was remembered
        self.overwrite_warning = QLabel("Existing exports with these names will be replaced. "
                                        "The originals are never overwritten.")
        self.overwrite_warning.setWordWrap(True)
        self.overwrite_warning.setStyleSheet("color: #e53935;")
        ow = QVBoxLayout()
        ow.addWidget(self.overwrite_check)
        ow.addWidget(self.overwrite_warning)
        form.addRow("", ow)

        self.example_label = QLabel()
        self.example_label.setWordWrap(True)
        self.example_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label = QLabel()
        self.problem_label.setStyleSheet("color: #e53935;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.example_label)
        lay.addWidget(self.problem_label)
        lay.addWidget(self.buttons)

        for w in (self.format_combo, self.bit_combo, self.upsample_combo, self.gamut_combo):
            w.currentIndexChanged.connect(self._update)
        for w in (self.scope_current, self.scope_all, self.beside_check, self.overwrite_check):
            w.toggled.connect(self._update)
        for w in (self.folder_edit, self.suffix_edit):
            w.textChanged.connect(self._update)
        self.quality_spin.valueChanged.connect(self._update)
        self._update()

    # -- values ------------------------------------------------------------------------------------------
    @property
    def scope(self) -> str:
        return SCOPE_CURRENT if self.scope_current.isChecked() else SCOPE_ALL

    @property
    def out_dir(self) -> Optional[str]:
        """The chosen folder; None: next to each original."""
        if self.beside_check.isChecked():
            return None
        return self.folder_edit.text().strip() or None

    def options(self) -> Dict[str, Any]:
        """``scope`` ("current" | "all"), ``out_dir`` (str, None: next to the originals) and the other
        :class:`~polychrome.runtime.pipeline.ExportOptions` fields; plain values (can be stored as settings)."""
        return {
            "scope": self.scope,
            "out_dir": self.out_dir,
            **self.fields.values(),
            "suffix": self.suffix_edit.text(),
            "overwrite": bool(self.overwrite_check.isChecked()),
        }

    def export_options(self) -> ExportOptions:
        """The options as runtime.pipeline.ExportOptions (without the scope)."""
        return to_export_options(self.options())

    def problem(self) -> str:
        """Why the export cannot start as set up ("" when it can)."""
        return setup_problem(self.scope_current.isEnabled() or self.scope_all.isEnabled(),
                             self.beside_check.isChecked(), self.folder_edit.text(), self.suffix_edit.text())

    def example(self) -> str:
        """Where the first file would go, e.g. ``/out/photo_color.png``, and what happens if that name exists."""
        src = self.current_path if self.scope == SCOPE_CURRENT and self.current_path else self.sample_path
        if src is None:
            return ""
        try:
            opts = self.export_options()
        except (TypeError, ValueError):
            return ""
        return example_text(src, opts)

    # -- view updates --------------------------------------------------------------------------------------
    def showEvent(self, ev) -> None:  # noqa: N802 - Qt API
        self._update()  # files may have appeared since the dialog was made: refresh the example name
        super().showEvent(ev)

    def _update(self, *_args: Any) -> None:
        fmt = self.format_combo.currentData()
        jpeg = fmt == "jpeg"
        model = self.bit_combo.model()
        if isinstance(model, QStandardItemModel):  # JPEG has no 16-bit: grey that choice out
            item = model.item(self.bit_combo.findData("16"))
            if item is not None:
                item.setEnabled(not jpeg)
        if jpeg and self.bit_combo.currentData() == "16":
            _select(self.bit_combo, "8")
        self.bit_combo.setToolTip("JPEG is always 8 bits per channel" if jpeg else "")
        self.quality_spin.setEnabled(fmt in ("jpeg", "same"))
        beside = self.beside_check.isChecked()
        self.folder_edit.setEnabled(not beside)
        self.browse_button.setEnabled(not beside)
        self.overwrite_warning.setVisible(self.overwrite_check.isChecked())
        problem = self.problem()
        self.problem_label.setText(problem)
        self.problem_label.setVisible(bool(problem))
        self.export_button.setEnabled(not problem)
        self.example_label.setText(self.example())

    def _ask_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Export to…", self.folder_edit.text())

    def browse(self) -> None:
        folder = self._ask_folder()
        if folder:
            self.folder_edit.setText(folder)
            self.beside_check.setChecked(False)


FILE_STEPS = 1000  # the summary's bar counts thousandths of a file


class ExportSummaryDialog(QDialog):
    """An export's progress while it runs (with Cancel), then what was written and every failure with its reason.

    ``total``: the number of images; ``names``: row → file name for the list. Call :meth:`track` with the
    :class:`~polychrome.gui.workers.Worker` that ``ColorizeController.export`` returned, or
    :meth:`show_results` with its results."""

    def __init__(self, total: int, names: Optional[Mapping[int, str]] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Polychrome — Export")
        self.names = dict(names or {})
        self.total = int(total)
        self.results: List[Tuple[int, Optional[Path], str]] = []
        self.finished_export = False
        self._worker = None
        self.heading = QLabel(f"Exporting {self.total} image(s)…")
        self.heading.setWordWrap(True)
        self.bar = QProgressBar()  # in thousandths of a file: it moves while a big file is written
        self.bar.setRange(0, max(1, self.total) * FILE_STEPS)
        self._file_fraction = 0.0
        self._set_bar()
        self.current_label = QLabel()
        self.list = QListWidget()
        self.buttons = QDialogButtonBox()
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.clicked.connect(self.accept)
        self.close_button.hide()
        lay = QVBoxLayout(self)
        lay.addWidget(self.heading)
        lay.addWidget(self.bar)
        lay.addWidget(self.current_label)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.buttons)
        self.resize(560, 360)

    def track(self, worker) -> None:
        """Follow a running export worker (progress within each file and per file, then the results, a
        cancellation or an error)."""
        self._worker = worker
        worker.signals.progress.connect(self._on_progress)
        worker.signals.yielded.connect(self._on_exported)
        worker.signals.returned.connect(self.show_results)
        worker.signals.cancelled.connect(self._on_cancelled)
        worker.signals.error.connect(lambda msg, _tb: self._end(f"The export stopped: {msg}"))

    def cancel(self) -> None:
        if self._worker is not None and not self.finished_export:
            self._worker.cancel()
            self.current_label.setText("Cancelling…")
        else:
            self.reject()

    def _set_bar(self) -> None:
        done = len(self.results)
        frac = 0.0 if self.finished_export or done >= self.total else self._file_fraction
        self.bar.setValue(int(round((done + frac) * FILE_STEPS)))
        self.bar.setFormat(f"{done} / {self.total}" + (f"  ·  {frac:.0%} of the next" if frac > 0 else ""))

    def _on_progress(self, ev) -> None:
        """Progress inside a file (``file_fraction``: colouring, then writing per strip)."""
        data = ev.data if isinstance(ev.data, dict) else {}
        frac = data.get("file_fraction")
        if frac is None or self.finished_export:
            return
        self._file_fraction = float(frac)
        row = data.get("row")
        if row is not None:
            name = self.names.get(row, f"image {row + 1}")
            self.current_label.setText(f"{name}: {data.get('stage', '')} {self._file_fraction:.0%}".strip())
        self._set_bar()

    def _on_exported(self, e) -> None:
        """One file of the export (a ``runtime.jobs.Exported``): written, or why not."""
        self.results.append((e.row, Path(e.output) if e.output else None, e.reason))
        self._file_fraction = 0.0
        self._set_bar()
        name = self.names.setdefault(e.row, f"image {e.row + 1}")
        self.current_label.setText(name)

    def _on_cancelled(self) -> None:
        head, _ = summarize_results(self.results, self.names)
        self._end(f"Cancelled after {len(self.results)} of {self.total}: {head}")

    def show_results(self, results: Sequence[Tuple[int, Optional[Path], str]]) -> None:
        """The outcome: a one-line summary, then the failures (with reasons) first and the written files."""
        self.results = [(row, Path(out) if out else None, reason) for row, out, reason in results]
        head, _ = summarize_results(self.results, self.names)
        self._end(head)

    def _end(self, heading: str) -> None:
        self.finished_export = True
        self.heading.setText(heading)
        self._set_bar()
        self.current_label.clear()
        self.list.clear()
        for row, out, reason in self.results:  # failures first, in order
            if out is None:
                item = QListWidgetItem(f"✗ {self.names.get(row, f'image {row + 1}')} — {reason or 'failed'}")
                item.setForeground(Qt.GlobalColor.red)
                self.list.addItem(item)
        for row, out, _reason in self.results:
            if out is not None:
                self.list.addItem(f"✓ {self.names.get(row, f'image {row + 1}')} → {out}")
        self.cancel_button.hide()
        self.close_button.show()

    @property
    def failures(self) -> List[str]:
        return summarize_results(self.results, self.names)[1]


__all__ = ["ExportDialog", "ExportSummaryDialog", "summarize_results", "SCOPE_CURRENT", "SCOPE_ALL"]
