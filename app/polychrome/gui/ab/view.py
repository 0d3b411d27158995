"""The blind A/B dialog: a view of an :class:`~polychrome.gui.ab.ABController`, in three pages.

* setup — a model and a temperature for contender A and for contender B, an optional seed;
* trials — the two results side by side, unlabeled, with one zoom and pan for both; "Left is better" (← or 1),
  "Right is better" (→ or 2), "Tie" (↓, T or 0), "Skip" (S), "Undo" (Backspace or Ctrl+Z), "image 3 of 18";
* results — the tally with the sign test, the trials, "Reveal" (which contender was which) and "Export CSV…".

Everything it shows comes from the controller; every button only calls into it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from PySide6.QtCore import QRegularExpression, QStandardPaths
from PySide6.QtGui import QKeySequence, QRegularExpressionValidator, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import PolychromeError
from ..widgets.image_view import ImageView
from .controller import ABController
from .model import LEFT, RESULTS, RIGHT, RUNNING, SETUP, SKIP, TIE, Contender

SHORTCUTS: Dict[str, List[str]] = {
    LEFT: ["Left", "1"],
    RIGHT: ["Right", "2"],
    TIE: ["Down", "T", "0"],
    SKIP: ["S"],
    "undo": ["Backspace", "Ctrl+Z"],
}


def csv_start_path(name: str) -> str:
    """Where a save dialog for a results file starts: the user's documents folder (home if there is none), never
    the working directory the app happened to be started in."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    folder = Path(docs) if docs and Path(docs).is_dir() else Path.home()
    return str(folder / name)


class ABDialog(QDialog):
    """Blind A/B comparison of two models or two temperatures over the loaded images."""

    def __init__(self, controller: ABController, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        controller.setParent(self)
        self.setWindowTitle("Polychrome — Blind A/B comparison")
        self.resize(1200, 760)
        self.pages = QStackedWidget()
        self.setup_page = self._build_setup()
        self.trial_page = self._build_trials()
        self.results_page = self._build_results()
        for page in (self.setup_page, self.trial_page, self.results_page):
            self.pages.addWidget(page)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.pages, 1)
        lay.addWidget(self.status_label)
        self._shown_trial = -2

        controller.state_changed.connect(self._on_state)
        controller.trial_changed.connect(self._show_trial)
        controller.prepare_progress.connect(self._on_prepare_progress)
        controller.reveal_changed.connect(self._fill_results)
        controller.message.connect(self.status_label.setText)
        self._on_state(controller.state)

    # -- setup page ---------------------------------------------------------------------------------------
    def _build_setup(self) -> QWidget:
        page = QWidget()
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Model</b>"), 0, 1)
        grid.addWidget(QLabel("<b>Temperature</b>"), 0, 2)
        self.model_combos: Dict[str, QComboBox] = {}
        self.T_spins: Dict[str, QDoubleSpinBox] = {}
        choices = self.controller.model_choices()
        default_T = self.controller.default_T
        other_T = 0.6 if default_T <= 0.45 else 0.2
        for row, side in enumerate(("A", "B"), start=1):
            combo = QComboBox()
            for label, path in choices:
                combo.addItem(label, path)
            spin = QDoubleSpinBox()
            spin.setRange(0.01, 1.0)
            spin.setDecimals(2)
            spin.setSingleStep(0.02)
            spin.setValue(default_T)
            grid.addWidget(QLabel(f"Contender {side}"), row, 0)
            grid.addWidget(combo, row, 1)
            grid.addWidget(spin, row, 2)
            self.model_combos[side], self.T_spins[side] = combo, spin
        # A sensible first pair: another model if there is one, else another temperature of the current model.
        if self.model_combos["B"].count() > 1:
            self.model_combos["B"].setCurrentIndex(1)
        else:
            self.T_spins["B"].setValue(other_T)
        grid.setColumnStretch(1, 1)

        self.seed_edit = QLineEdit()
        self.seed_edit.setPlaceholderText("random")
        self.seed_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}"), self))
        self.seed_edit.setToolTip("The same seed gives the same order and sides again (recorded in the CSV)")
        seed_row = QHBoxLayout()
        seed_row.addWidget(QLabel("Seed:"))
        seed_row.addWidget(self.seed_edit)
        seed_row.addStretch(1)

        images = self.controller.images()
        cached = sum(1 for _, pred in images if pred is not None)
        self.images_label = QLabel(
            f"{len(images)} image(s) will be shown in a random order, the two results side by side without "
            f"names and on random sides. {cached} already colorized with the current model need no new "
            "inference for it.")
        self.images_label.setWordWrap(True)
        self.setup_hint = QLabel()
        self.setup_hint.setStyleSheet("color: #e53935;")
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        close = QPushButton("Close")
        close.setAutoDefault(False)
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.setup_hint, 1)
        buttons.addWidget(close)
        buttons.addWidget(self.start_button)

        lay = QVBoxLayout(page)
        intro = QLabel("Choose two models, or two temperatures of one model. You will see both results of each "
                       "image, unlabeled, and pick the one you prefer; which was which is revealed at the end.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        lay.addLayout(grid)
        lay.addLayout(seed_row)
        lay.addWidget(self.images_label)
        lay.addStretch(1)
        lay.addLayout(buttons)
        for side in "AB":
            self.model_combos[side].currentIndexChanged.connect(self._validate_setup)
            self.T_spins[side].valueChanged.connect(self._validate_setup)
        self._validate_setup()
        return page

    def contenders(self) -> Dict[str, Contender]:
        """The contenders as chosen in the setup page."""
        return {s: Contender(self.model_combos[s].currentData(), float(self.T_spins[s].value())) for s in "AB"}

    def _validate_setup(self) -> None:
        c = self.contenders()
        problem = ""
        if self.model_combos["A"].count() == 0:
            problem = "No model is available."
        elif c["A"].model == c["B"].model and abs(c["A"].T - c["B"].T) < 1e-9:
            problem = "Choose two different models or two different temperatures."
        elif not self.controller.images():
            problem = "Open some images first."
        self.setup_hint.setText(problem)
        self.start_button.setEnabled(not problem)

    def start(self) -> bool:
        text = self.seed_edit.text().strip()
        c = self.contenders()
        return self.controller.start(c["A"], c["B"], seed=int(text) if text else None)

    # -- trial page ---------------------------------------------------------------------------------------
    def _build_trials(self) -> QWidget:
        page = QWidget()
        self.position_label = QLabel()
        font = self.position_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.position_label.setFont(font)
        self.prepare_bar = QProgressBar()
        self.prepare_bar.setFormat("Preparing %v / %m")
        self.prepare_bar.setMaximumWidth(260)
        self.stop_button = QPushButton("Stop preparing")
        self.stop_button.setToolTip("Images not prepared yet are left out of the session")
        self.stop_button.clicked.connect(self.controller.cancel)
        top = QHBoxLayout()
        top.addWidget(self.position_label, 1)
        top.addWidget(self.prepare_bar)
        top.addWidget(self.stop_button)

        self.left_view = ImageView()
        self.right_view = ImageView()
        self.right_view.viewbox.setXLink(self.left_view.viewbox)  # one zoom and pan for both
        self.right_view.viewbox.setYLink(self.left_view.viewbox)
        views = QHBoxLayout()
        views.addWidget(self.left_view, 1)
        views.addWidget(self.right_view, 1)

        self.left_button = QPushButton("◀  Left is better  (← / 1)")
        self.tie_button = QPushButton("Tie  (↓ / T / 0)")
        self.skip_button = QPushButton("Skip  (S)")
        self.right_button = QPushButton("Right is better  (→ / 2)  ▶")
        self.undo_button = QPushButton("Undo  (Backspace)")
        self.finish_button = QPushButton("End session")
        self.finish_button.setToolTip("Stop here and show the results")
        self.choice_buttons = {LEFT: self.left_button, TIE: self.tie_button, SKIP: self.skip_button,
                               RIGHT: self.right_button}
        for choice, button in self.choice_buttons.items():
            button.setAutoDefault(False)  # Enter never casts a vote
            button.clicked.connect(lambda _c=False, ch=choice: self.choose(ch))
        for button in (self.undo_button, self.finish_button):
            button.setAutoDefault(False)
        self.undo_button.clicked.connect(self.undo)
        self.finish_button.clicked.connect(self.controller.finish)
        row = QHBoxLayout()
        row.addWidget(self.undo_button)
        row.addStretch(1)
        row.addWidget(self.left_button, 2)
        row.addWidget(self.tie_button, 1)
        row.addWidget(self.skip_button, 1)
        row.addWidget(self.right_button, 2)
        row.addStretch(1)
        row.addWidget(self.finish_button)

        self.shortcuts: List[QShortcut] = []
        for action, keys in SHORTCUTS.items():
            for key in keys:
                sc = QShortcut(QKeySequence(key), self)
                sc.activated.connect(self.undo if action == "undo" else (lambda a=action: self.choose(a)))
                self.shortcuts.append(sc)

        lay = QVBoxLayout(page)
        lay.addLayout(top)
        lay.addLayout(views, 1)
        lay.addLayout(row)
        return page

    def choose(self, choice: str) -> bool:
        return self.controller.choose(choice)

    def undo(self) -> bool:
        return self.controller.undo()

    def _on_prepare_progress(self, done: int, total: int) -> None:
        self.prepare_bar.setRange(0, max(1, total))
        self.prepare_bar.setValue(done)
        preparing = done < total and self.controller.running
        self.prepare_bar.setVisible(preparing)
        self.stop_button.setVisible(preparing)

    def _show_trial(self, index: int) -> None:
        if self.controller.state != RUNNING:
            return
        k, n = self.controller.position()
        self.position_label.setText(f"Image {k} of {n}")
        images = self.controller.current_images()
        ready = images is not None
        for button in self.choice_buttons.values():
            button.setEnabled(ready)
        self.undo_button.setEnabled(self.controller.can_undo)
        if not ready:
            for view in (self.left_view, self.right_view):
                view.set_message("Preparing this image…")
                view.set_image(None)
            self._shown_trial = -2
            return
        self.left_view.set_image(images[0])
        self.right_view.set_image(images[1])
        if index != self._shown_trial:  # a new image: show it whole
            self.left_view.viewbox.autoRange(padding=0.0)
            self._shown_trial = index

    # -- results page -------------------------------------------------------------------------------------
    def _build_results(self) -> QWidget:
        page = QWidget()
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.tally_table = QTableWidget(0, 3)
        self.tally_table.setHorizontalHeaderLabels(["", "Count", "Share of decided"])
        self.trials_table = QTableWidget(0, 5)
        self.trials_table.setHorizontalHeaderLabels(["#", "Image", "Choice", "Winner", "Shown left"])
        for table in (self.tally_table, self.trials_table):
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.verticalHeader().setVisible(False)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tally_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.trials_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.tally_table.setMaximumHeight(200)
        self.reveal_button = QPushButton("Reveal which was which")
        self.reveal_button.clicked.connect(self.controller.reveal)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.export_csv)
        self.new_button = QPushButton("New session")
        self.new_button.clicked.connect(self.controller.reset)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        for b in (self.reveal_button, self.export_button, self.new_button, close):
            b.setAutoDefault(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reveal_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(self.new_button)
        buttons.addWidget(close)
        lay = QVBoxLayout(page)
        lay.addWidget(self.summary_label)
        lay.addWidget(self.tally_table)
        lay.addWidget(self.trials_table, 1)
        lay.addLayout(buttons)
        return page

    def _fill_results(self) -> None:
        c = self.controller
        tl = c.tally()
        names = c.descriptions if c.revealed else {"A": "Contender A", "B": "Contender B"}

        def share(x: Optional[float]) -> str:
            return "" if x is None else f"{x:.0%}"

        rows = [(names.get("A", "A"), tl.wins_a, share(tl.preference_a)),
                (names.get("B", "B"), tl.wins_b, share(tl.preference_b)),
                ("Ties", tl.ties, ""), ("Skipped", tl.skips, "")]
        if tl.failed:
            rows.append(("Could not be prepared", tl.failed, ""))
        if tl.undecided:
            rows.append(("Not reached", tl.undecided, ""))
        self.tally_table.setRowCount(len(rows))
        for r, (label, count, pct) in enumerate(rows):
            for col, text in enumerate((label, str(count), pct)):
                self.tally_table.setItem(r, col, QTableWidgetItem(text))
        records = c.records()
        self.trials_table.setRowCount(len(records))
        for r, rec in enumerate(records):
            left = rec["shown_left"] if c.revealed else "hidden"
            winner = rec["winner"] if c.revealed or rec["winner"] in ("", "tie") else f"contender {rec['winner']}"
            for col, text in enumerate((rec["trial"], rec["image"], rec["choice"], winner, left)):
                self.trials_table.setItem(r, col, QTableWidgetItem(text))
        self.summary_label.setText(c.summary())
        self.reveal_button.setEnabled(not c.revealed)

    def _ask_save_path(self) -> str:
        """The CSV's path from a save dialog (which asks before replacing an existing file); "" if cancelled."""
        dlg = QFileDialog(self, "Export the A/B results", csv_start_path("ab_results.csv"), "CSV files (*.csv)")
        dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dlg.setDefaultSuffix("csv")
        if dlg.exec() != QDialog.DialogCode.Accepted or not dlg.selectedFiles():
            return ""
        return dlg.selectedFiles()[0]

    def export_csv(self) -> Optional[str]:
        """Ask where, then write the CSV; the save dialog already confirmed replacing an existing file."""
        path = self._ask_save_path()
        if not path:
            return None
        try:
            written = self.controller.export_csv(path, overwrite=True)
        except PolychromeError as exc:
            QMessageBox.warning(self, "Export CSV", f"Could not write the CSV: {exc}")
            return None
        self.status_label.setText(f"Saved {written}")
        return str(written)

    # -- state -------------------------------------------------------------------------------------------
    def _on_state(self, state: str) -> None:
        page = {SETUP: self.setup_page, RUNNING: self.trial_page, RESULTS: self.results_page}[state]
        self.pages.setCurrentWidget(page)
        for sc in self.shortcuts:
            sc.setEnabled(state == RUNNING)  # arrows and letters keep their usual meaning on the other pages
        if state == SETUP:
            self._validate_setup()
        elif state == RUNNING:
            self._shown_trial = -2
            self._show_trial(self.controller.current)
        else:
            self._fill_results()

    def done(self, result: int) -> None:  # noqa: D401 - Qt API
        """Closing (any way): stop and join the worker first."""
        self.controller.shutdown()
        super().done(result)
