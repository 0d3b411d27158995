"""The image queue: one row per file with its state (colour swatch + symbol) and, for failures, the reason."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget


class QueueView(QListView):
    row_selected = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformItemSizes(True)
        self.setMinimumWidth(220)
        self._syncing = False

    def setModel(self, model) -> None:  # noqa: N802 - Qt API
        super().setModel(model)
        self.selectionModel().currentChanged.connect(self._on_current)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self._syncing:
            self.row_selected.emit(current.row())

    def select_row(self, row: int) -> None:
        if self.model() is None or not 0 <= row < self.model().rowCount():
            return
        idx = self.model().index(row, 0)
        if self.currentIndex() != idx:
            self._syncing = True
            try:
                self.setCurrentIndex(idx)
            finally:
                self._syncing = False
