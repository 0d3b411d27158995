"""The main window: composes the queue (left), the image (centre), the temperature slider (bottom) and the
colour-distribution dock (right), and wires them to a :class:`ColorizeController`. No logic of its own."""

from __future__ import annotations

import logging
from typing import List, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QWidget,
)

from ..core import imageio
from .models import ColorizeController
from .widgets import DistributionDock, ImageView, QueueView, TemperatureSlider

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, controller: ColorizeController, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        controller.setParent(self)
        self.setWindowTitle("Polychrome")
        self.resize(1200, 800)
        self.setAcceptDrops(True)

        self.image_view = ImageView()
        self.setCentralWidget(self.image_view)

        self.queue_view = QueueView()
        self.queue_view.setModel(controller.queue)
        self.queue_dock = QDockWidget("Images", self)
        self.queue_dock.setObjectName("QueueDock")
        self.queue_dock.setWidget(self.queue_view)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.queue_dock)

        self.slider = TemperatureSlider()
        self.slider_dock = QDockWidget("Temperature", self)
        self.slider_dock.setObjectName("TemperatureDock")
        self.slider_dock.setWidget(self.slider)
        self.slider_dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.slider_dock.setTitleBarWidget(QWidget())
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.slider_dock)

        self.distribution = DistributionDock(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.distribution)
        self.resizeDocks([self.queue_dock, self.distribution], [240, 320], Qt.Orientation.Horizontal)

        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(200)
        self.progress_bar.setFormat("%v / %m")
        self.progress_bar.hide()
        self.statusBar().addPermanentWidget(self.progress_bar)
        self.provider_label = QLabel()
        self.statusBar().addPermanentWidget(self.provider_label)
        self._build_menus()

        # controller → views
        controller.preview_changed.connect(self.image_view.set_image)
        controller.distribution_changed.connect(self.distribution.show_distribution)
        controller.distribution_changed.connect(self._show_pin)
        controller.status_changed.connect(self._show_status)
        controller.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        controller.current_changed.connect(self.queue_view.select_row)
        controller.temperature_changed.connect(lambda T: self.slider.set_value(T))
        controller.running_changed.connect(self._on_running)
        controller.current_changed.connect(self._on_current)
        controller.queue_progress.connect(self._on_queue_progress)
        controller.failed.connect(self.show_error)
        self.error_box: Optional[QMessageBox] = None
        # views → controller
        self.queue_view.row_selected.connect(controller.set_current)
        self.slider.changed.connect(lambda T: controller.set_T(T, exact=False))
        self.slider.committed.connect(lambda T: controller.set_T(T, exact=True))
        self.image_view.hovered.connect(self._on_hover)
        self.image_view.clicked.connect(self._on_click)

        self._show_status(controller.status)
        self._on_running()

    # -- menus ----------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open Images…", self, shortcut=QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.open_files)
        self.open_folder_action = QAction("Open &Folder…", self)
        self.open_folder_action.triggered.connect(self.open_folder)
        self.export_current_action = QAction("&Export Current…", self, shortcut=QKeySequence.StandardKey.Save)
        self.export_current_action.triggered.connect(self.export_current)
        self.export_all_action = QAction("Export &All Colorized…", self)
        self.export_all_action.triggered.connect(self.export_all)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for a in (self.open_action, self.open_folder_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(self.export_current_action)
        file_menu.addAction(self.export_all_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        run_menu = self.menuBar().addMenu("&Run")
        self.start_action = QAction("&Colorize Queued", self)
        self.start_action.triggered.connect(self.controller.start)
        self.cancel_action = QAction("C&ancel", self, shortcut=QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.triggered.connect(self.controller.cancel)
        run_menu.addAction(self.start_action)
        run_menu.addAction(self.cancel_action)

        self.model_menu = self.menuBar().addMenu("&Model")
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        self._fill_model_menu()

        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.queue_dock, self.distribution):
            view_menu.addAction(dock.toggleViewAction())

    def _fill_model_menu(self) -> None:
        """The usable models of runtime.registry (the current one checked) and "Open Model File…"."""
        menu = self.model_menu
        menu.clear()
        current = self.controller.model_path
        current = current.resolve() if current else None
        models = self.controller.available_models()
        if not models:
            menu.addAction("No models installed").setEnabled(False)
        for name, path in models:
            a = menu.addAction(f"{name}  ({path.name})")
            a.setCheckable(True)
            a.setChecked(current is not None and path.resolve() == current)
            a.triggered.connect(lambda _checked=False, p=path: self.controller.switch_model(p))
        menu.addSeparator()
        menu.addAction("Open Model File…").triggered.connect(self.open_model_file)

    def open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a Polychrome model", "", "ONNX models (*.onnx)")
        if path:
            self.controller.switch_model(path)

    def open_files(self) -> None:
        exts = " ".join(f"*{e}" for e in imageio.SUPPORTED_EXTENSIONS)
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", "", f"Images ({exts});;All files (*)")
        if files:
            self.add_paths(files)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if folder:
            self.add_paths([folder])

    def _ask_folder(self, title: str) -> str:
        return QFileDialog.getExistingDirectory(self, title)

    def export_current(self) -> None:
        it = self.controller.current_item
        if it is None or it.prediction is None:
            self.statusBar().showMessage("Select a colorized image first", 5000)
            return
        folder = self._ask_folder("Export the current image to…")
        if folder:
            self.controller.export([self.controller.current], folder)

    def export_all(self) -> None:
        folder = self._ask_folder("Export every colorized image to…")
        if folder:
            self.controller.export(None, folder)

    def add_paths(self, paths: List[str]) -> None:
        self.controller.add_paths(paths)

    # -- drag and drop ----------------------------------------------------------------------------
    def dragEnterEvent(self, ev) -> None:  # noqa: N802
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dragMoveEvent(self, ev) -> None:  # noqa: N802
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.add_paths(paths)

    # -- controller feedback ----------------------------------------------------------------------
    def _show_status(self, text: str) -> None:
        self.provider_label.setText(text)
        self.slider.set_default(self.controller.default_T)
        if self.controller.colorizer is None:
            self.image_view.set_message(f"{text}\n\nYou can still browse the queue; colorizing needs a model.")

    def _on_current(self, _row: int) -> None:
        it = self.controller.current_item
        if it is not None and it.prediction is None:
            what = f"could not be colorized: {it.reason}" if it.reason else f"is {it.state}"
            self.image_view.set_message(f"{it.path.name} {what}")

    def show_error(self, message: str, details: str = "") -> None:
        """An unexpected error from a worker: a (non-blocking) dialog; the app goes on."""
        box = QMessageBox(QMessageBox.Icon.Critical, "Polychrome — unexpected error",
                          f"{message}\n\nPolychrome keeps running.", parent=self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.error_box = box

    def _on_queue_progress(self, finished: int, total: int) -> None:
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(finished)

    def _on_running(self) -> None:
        running = self.controller.running
        self.progress_bar.setVisible(running)
        if running:
            c = self.controller.queue.counts()
            self._on_queue_progress(c["done"] + c["error"], self.controller.queue.rowCount())
        self.cancel_action.setEnabled(running)
        self.start_action.setEnabled(not running)

    def _full_res(self, y: float, x: float):
        pred = self.controller.prediction
        img = self.image_view.image
        if pred is None or img is None:
            return None
        H, W = pred.shape
        h, w = img.shape[:2]
        return y * H / h, x * W / w

    def _show_pin(self, _info) -> None:
        pred, img, pin = self.controller.prediction, self.image_view.image, self.controller.pinned
        if pred is None or img is None or pin is None:
            self.image_view.set_marker(None, None)
            return
        H, W = pred.shape
        h, w = img.shape[:2]
        self.image_view.set_marker(pin[0] * h / H, pin[1] * w / W)

    def _on_hover(self, y, x) -> None:
        yx = None if y is None else self._full_res(y, x)
        self.controller.set_hover(*(yx if yx else (None, None)))

    def _on_click(self, y: float, x: float) -> None:
        yx = self._full_res(y, x)
        if yx is None:
            return
        if self.controller.pinned is not None:
            self.controller.pin(None, None)  # a second click unpins
        else:
            self.controller.pin(*yx)

    # -- closing ----------------------------------------------------------------------------------
    def closeEvent(self, ev) -> None:  # noqa: N802
        """Cancel any run and wait for the worker before the window goes away."""
        if self.controller.running:
            self.statusBar().showMessage("Cancelling…")
        self.controller.shutdown()
        super().closeEvent(ev)
