"""The image queue: one row per file with its thumbnail (the result at its T; a swatch in the state's colour before
that), its state symbol and, for failures, the reason. Rows can be removed (Delete, the context menu, Edit ▸
Remove), the finished ones or all of them cleared (the latter after asking)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from PySide6.QtCore import QModelIndex, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QMessageBox, QStyledItemDelegate, QWidget

from .model import THUMB_SIDE

PATH_ROLE = Qt.ItemDataRole.UserRole + 3  # ImageQueueModel.PathRole
STATE_ROLE = Qt.ItemDataRole.UserRole + 1  # ImageQueueModel.StateRole


class _FitWidthDelegate(QStyledItemDelegate):
    """Rows as wide as the list (no sideways scrolling): long names are elided in the middle, so the start and the
    extension of a file name stay visible (the tooltip has the full path)."""

    def sizeHint(self, option, index):  # noqa: N802 - Qt API
        hint = super().sizeHint(option, index)
        view = self.parent()
        if view is not None:
            hint.setWidth(min(hint.width(), max(1, view.viewport().width() - 2)))
        return hint


class QueueView(QListView):
    row_selected = Signal(int)
    remove_requested = Signal(object)  # [rows]
    clear_finished_requested = Signal()
    clear_requested = Signal()
    retry_requested = Signal(object)  # [rows] of failed images to try again

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.setSpacing(1)
        self.setMinimumWidth(220)
        self.setItemDelegate(_FitWidthDelegate(self))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self._syncing = False
        self.confirm_clear = True  # ask before clearing the whole queue (tests switch it off)
        self.menu: Optional[QMenu] = None  # the last context menu shown

        self.remove_action = QAction("&Remove from Queue", self)
        self.remove_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Delete),
                                         QKeySequence(Qt.Key.Key_Backspace)])
        # the Delete key removes rows only while the queue has the focus; the menus still name the shortcut
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.addAction(self.remove_action)
        self.clear_finished_action = QAction("Clear &Finished", self)
        self.clear_finished_action.setToolTip("Remove the images that are done or failed from the queue")
        self.clear_finished_action.triggered.connect(self.clear_finished_requested)
        self.clear_action = QAction("&Clear Queue…", self)
        self.clear_action.triggered.connect(self.ask_clear)
        self.retry_action = QAction("&Try Again", self)
        self.retry_action.setToolTip("Queue the selected failed images again")
        self.retry_action.triggered.connect(lambda: self.retry_requested.emit(self._selected_in("error")))
        self.reveal_action = QAction("Show in &Folder", self)
        self.reveal_action.triggered.connect(self.reveal_current)

    def actions_for_menu(self) -> List[QAction]:
        """The queue's actions for the main window's Edit menu."""
        return [self.remove_action, self.clear_finished_action, self.clear_action]

    def setModel(self, model) -> None:  # noqa: N802 - Qt API
        super().setModel(model)
        self.selectionModel().currentChanged.connect(self._on_current)
        for sig in (model.rowsInserted, model.rowsRemoved, model.modelReset, model.dataChanged):
            sig.connect(self._update_actions)
        self.selectionModel().selectionChanged.connect(self._update_actions)
        self._update_actions()

    # -- selection ----------------------------------------------------------------------------------
    def selected_rows(self) -> List[int]:
        rows = sorted({i.row() for i in self.selectionModel().selectedIndexes()}) if self.selectionModel() else []
        if not rows and self.currentIndex().isValid():
            rows = [self.currentIndex().row()]
        return rows

    def _selected_in(self, state: str) -> List[int]:
        m = self.model()
        return [r for r in self.selected_rows() if m.index(r, 0).data(STATE_ROLE) == state]

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self._syncing:
            self.row_selected.emit(current.row())

    def select_row(self, row: int) -> None:
        if self.model() is None or not 0 <= row < self.model().rowCount():
            return
        idx = self.model().index(row, 0)
        if self.currentIndex() != idx or not self.selectionModel().isSelected(idx):
            self._syncing = True
            try:
                self.setCurrentIndex(idx)  # also selects just this row
                self.scrollTo(idx)
            finally:
                self._syncing = False

    def _update_actions(self, *_args) -> None:
        m = self.model()
        n = m.rowCount() if m is not None else 0
        states = [m.index(r, 0).data(STATE_ROLE) for r in range(n)] if n else []
        self.remove_action.setEnabled(bool(self.selected_rows()))
        self.clear_finished_action.setEnabled(any(s in ("done", "error") for s in states))
        self.clear_action.setEnabled(n > 0)
        self.retry_action.setEnabled(bool(self._selected_in("error")) if n else False)
        self.reveal_action.setEnabled(self.currentIndex().isValid())

    # -- actions --------------------------------------------------------------------------------------
    def remove_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            self.remove_requested.emit(rows)

    def ask_clear(self) -> bool:
        n = self.model().rowCount() if self.model() is not None else 0
        if not n:
            return False
        if self.confirm_clear:
            answer = QMessageBox.question(
                self, "Clear the queue", f"Remove all {n} image(s) from the queue? Their temperatures and any "
                "work on them are forgotten; exported files stay where they are.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                return False
        self.clear_requested.emit()
        return True

    def reveal_current(self) -> None:
        idx = self.currentIndex()
        if idx.isValid():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(idx.data(PATH_ROLE)).parent)))

    def context_menu(self) -> QMenu:
        """The right-click menu (built fresh for the rows under the selection)."""
        self._update_actions()
        menu = QMenu(self)
        menu.addAction(self.remove_action)
        if self.retry_action.isEnabled():
            menu.addAction(self.retry_action)
        menu.addAction(self.reveal_action)
        menu.addSeparator()
        menu.addAction(self.clear_finished_action)
        menu.addAction(self.clear_action)
        return menu

    def _context_menu(self, pos) -> None:
        idx = self.indexAt(pos)
        if idx.isValid() and not self.selectionModel().isSelected(idx):
            self.setCurrentIndex(idx)
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.menu = menu
        menu.popup(self.viewport().mapToGlobal(pos))
