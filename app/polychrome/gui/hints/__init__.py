"""The hint tool: colour points and a reference photo that steer the network (model: Qt-free points and history;
controller: re-runs and reweighting; view: the points on the image; panel: suggestions, gamut picker, eyedropper,
reference). :func:`install` composes it into the main window."""

from __future__ import annotations

from typing import Any

__all__ = ["install"]


def install(window: Any) -> Any:
    """Add the hint tool to a MainWindow: the dock beside the distribution, the overlay on the result view, File ▸
    Load Hints…, the Edit menu's point actions and Undo / Redo. Returns the HintsController."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QApplication, QFileDialog

    from .controller import HintsController
    from .panel import HintsDock
    from .view import HintOverlay

    c = HintsController(window.controller, window)
    window.hints = c
    c.message.connect(lambda m: window.statusBar().showMessage(m, 8000))
    if hasattr(window, "register_undo_stack"):
        c.stack_registrar = window.register_undo_stack

    dock = window.hints_dock = HintsDock(c, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock, Qt.Orientation.Vertical)  # below the plot
    QTimer.singleShot(0, lambda: window.resizeDocks([window.distribution, dock], [300, 620], Qt.Orientation.Vertical))

    overlay = window.hints_overlay = HintOverlay(c, window.image_view)
    refresh_later = lambda *_a: QTimer.singleShot(0, overlay.refresh)  # noqa: E731 - after the view took the image
    window.controller.preview_changed.connect(refresh_later)
    window.controller.current_changed.connect(refresh_later)

    # while the tool is on, a click places a point instead of pinning the distribution
    try:
        window.compare_view.clicked.disconnect(window._on_click)
    except (RuntimeError, TypeError):
        pass
    window.compare_view.clicked.connect(lambda y, x: None if c.active else window._on_click(y, x))

    tool = window.hints_tool_action = QAction("Colour &Point Tool", window, checkable=True)
    tool.setShortcut(QKeySequence("H"))
    tool.setToolTip("Click the image to place colour points that steer the network")
    tool.toggled.connect(c.set_active)
    c.changed.connect(lambda: (tool.blockSignals(True), tool.setChecked(c.active), tool.blockSignals(False)))
    c.availability_changed.connect(lambda: tool.setEnabled(c.points_enabled))
    tool.setEnabled(c.points_enabled)
    delete = window.delete_point_action = QAction("&Delete Colour Point", window)
    delete.setShortcuts([QKeySequence(QKeySequence.StandardKey.Delete), QKeySequence(Qt.Key.Key_Backspace)])
    delete.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)  # the queue has its own Delete
    delete.triggered.connect(c.remove_selected)
    window.compare_view.addAction(delete)
    clear = window.clear_points_action = QAction("Clear Colour Points", window)
    clear.triggered.connect(c.clear)
    load = window.load_hints_action = QAction("Load &Hints…", window)
    load.setToolTip("Read colour points (and a reference) from a .hints.json file for the current image")

    def load_hints() -> None:
        path, _ = QFileDialog.getOpenFileName(window, "Load hints for this image", "",
                                              "Hints (*.hints.json *.json);;All files (*)")
        if path:
            c.load_file(path)

    load.triggered.connect(load_hints)
    edit = getattr(window, "edit_menu", None)
    if edit is not None:
        edit.addSeparator()
        for a in (tool, delete, clear):
            edit.addAction(a)
    else:
        window.addAction(tool)
    file_menu = window.menuBar().actions()[0].menu() if window.menuBar().actions() else None
    if file_menu is not None:
        file_menu.insertAction(getattr(window, "export_current_action", None), load)
    view_menu = getattr(window, "view_menu", None)
    if view_menu is not None:
        view_menu.addAction(dock.toggleViewAction())
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(c.shutdown)
    c.sync()
    return c
