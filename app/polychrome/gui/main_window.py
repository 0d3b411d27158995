"""The main window: composes the queue (left), the comparison view (centre: result, side by side, wipe, with
entropy / ΔE overlays), the temperature slider (bottom), the colour-distribution and metrics docks (right), the
menus and dialogs (export, blind A/B, preferences, About, training wizard), and wires them to the
:class:`ColorizeController` and :class:`CompareController`. No logic of its own."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoGroup, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QWidget,
)

from .. import __version__
from ..core import imageio
from . import theme
from .ab.controller import ABController
from .ab.view import ABDialog
from .compare.controller import CompareController
from .compare.metrics_panel import MetricsPanel
from .compare.tiles import TileController
from .compare.view import MODES, CompareView
from .export.model import SCOPE_ALL, SCOPE_CURRENT
from .export.view import ExportDialog, ExportSummaryDialog
from .hints import install as install_hints
from .logfile import log_file_path
from .logfile import where_text as where_log_text
from .queue.controller import DONE, ColorizeController
from .queue.view import QueueView
from .settings import AppSettings
from .widgets import DistributionDock, ImageView, TemperatureSlider
from .widgets.about import AboutDialog
from .widgets.image_view import zoom_text
from .widgets.settings_dialog import SettingsDialog, provider_choices

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, controller: ColorizeController, settings: Optional[AppSettings] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        controller.setParent(self)
        self.settings = settings
        self.setWindowTitle("Polychrome")
        self.resize(1200, 800)
        self.setAcceptDrops(True)

        # the centre: result / side by side / wipe, with entropy and ΔE overlays (CompareController feeds it)
        self.compare = CompareController(controller, self)
        self.compare_view = CompareView()
        self.image_view: ImageView = self.compare_view.result_view
        self.setCentralWidget(self.compare_view)
        self.tiles = TileController(controller, self.compare_view, self)  # real pixels when zoomed in

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
        self.metrics_panel = MetricsPanel()
        self.metrics_dock = QDockWidget("Metrics", self)
        self.metrics_dock.setObjectName("MetricsDock")
        self.metrics_dock.setWidget(self.metrics_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.metrics_dock)
        self.tabifyDockWidget(self.distribution, self.metrics_dock)
        self.distribution.raise_()
        self.resizeDocks([self.queue_dock, self.distribution], [240, 320], Qt.Orientation.Horizontal)

        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(200)
        self.progress_bar.setFormat("%v / %m")
        self.progress_bar.hide()
        self.statusBar().addPermanentWidget(self.progress_bar)
        self.colourfulness_label = QLabel()
        self.colourfulness_label.setToolTip("Colourfulness of the image at this T (Hasler–Süsstrunk M: about 15 "
                                            "is moderately colourful, 33 quite, 59 highly)")
        self.statusBar().addPermanentWidget(self.colourfulness_label)
        self.zoom_label = QLabel()
        self.zoom_label.setToolTip("Zoom (100 %: one image pixel per screen pixel). View ▸ Fit (Ctrl+0), 100 % "
                                   "(Ctrl+1), Zoom In / Out (Ctrl++ / Ctrl+-); double-click: Fit ↔ 100 %")
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.provider_label = QLabel()
        self.statusBar().addPermanentWidget(self.provider_label)
        self._build_menus()

        # controller → views
        self.compare.views_changed.connect(self.compare_view.set_views)
        self.compare.metrics_changed.connect(self.metrics_panel.set_metrics)
        self.compare.curves_changed.connect(self.metrics_panel.set_curves)
        controller.temperature_changed.connect(self.metrics_panel.set_temperature)
        self.compare_view.overlays_changed.connect(self.compare.set_overlays)
        self.metrics_dock.visibilityChanged.connect(self.compare.set_measuring)
        self.metrics_panel.temperature_requested.connect(lambda T: controller.set_T(T, exact=True))
        controller.distribution_changed.connect(self.distribution.show_distribution)
        controller.distribution_changed.connect(self._show_pin)
        controller.status_changed.connect(self._show_status)
        controller.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        controller.current_changed.connect(self.queue_view.select_row)
        controller.temperature_changed.connect(self.slider.follow)
        controller.running_changed.connect(self._on_running)
        controller.current_changed.connect(self._on_current)
        controller.queue_progress.connect(self._on_queue_progress)
        controller.failed.connect(self.show_error)
        controller.colourfulness_changed.connect(self._show_colourfulness)
        self.error_box: Optional[QMessageBox] = None
        self.export_dialog: Optional[ExportDialog] = None
        self.export_summary: Optional[ExportSummaryDialog] = None
        self.ab_dialog: Optional[ABDialog] = None
        self.wizard = None
        # views → controller
        self.queue_view.row_selected.connect(controller.set_current)
        self.queue_view.remove_requested.connect(controller.remove_rows)
        self.queue_view.clear_finished_requested.connect(controller.clear_finished)
        self.queue_view.clear_requested.connect(controller.clear)
        self.queue_view.retry_requested.connect(controller.retry_rows)
        # dragging: the fast preview of the newest T (coalesced); release/keyboard/reset: the exact render
        self.slider.changed.connect(self._on_slider_drag)
        self.slider.committed.connect(self._on_slider_commit)
        self.compare_view.hovered.connect(self._on_hover)
        self.compare_view.clicked.connect(self._on_click)
        self.compare_view.mode_changed.connect(self._on_mode)
        # the distribution clears when the cursor leaves the images; the hint tool (points, reference) docks beside it
        self.distribution.clear_on_leave(self.compare_view.all_views, lambda: self._on_hover(None, None))
        self.hints = install_hints(self)
        self.compare_view.zoom_changed.connect(lambda _z: self._show_zoom())
        self.tiles.status_changed.connect(lambda _s: self._show_zoom())

        self._show_status(controller.status)
        self._on_running()
        self._restore_layout()
        self.compare.refresh()

    # -- menus ----------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        self.preferences_action = QAction("&Settings…", self)
        self.preferences_action.setShortcuts(  # Ctrl+, everywhere (Linux has no standard key for it)
            [QKeySequence("Ctrl+,")] + [k for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
                                        if k != QKeySequence("Ctrl+,")])
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.preferences_action.triggered.connect(self.show_preferences)
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open Images…", self, shortcut=QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.open_files)
        self.open_folder_action = QAction("Open &Folder…", self)
        self.open_folder_action.triggered.connect(self.open_folder)
        self.export_current_action = QAction("&Export Current…", self, shortcut=QKeySequence.StandardKey.Save)
        self.export_current_action.triggered.connect(self.export_current)
        self.export_all_action = QAction("Export &All Colorized…", self, shortcut=QKeySequence("Ctrl+Shift+S"))
        self.export_all_action.triggered.connect(self.export_all)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for a in (self.open_action, self.open_folder_action):
            file_menu.addAction(a)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(self.export_current_action)
        file_menu.addAction(self.export_all_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        self._build_edit_menu()

        run_menu = self.menuBar().addMenu("&Run")
        self.start_action = QAction("&Colorize Queued", self)
        self.start_action.triggered.connect(self.controller.start)
        self.cancel_action = QAction("C&ancel", self, shortcut=QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.triggered.connect(self.controller.cancel)
        run_menu.addAction(self.start_action)
        run_menu.addAction(self.cancel_action)
        run_menu.addSeparator()
        self.ab_action = QAction("&Blind A/B Test…", self)
        self.ab_action.triggered.connect(self.open_ab)
        run_menu.addAction(self.ab_action)

        self.train_action = QAction("&Train a Model on My Photos…", self)
        self.train_action.triggered.connect(self.open_training_wizard)
        self.import_action = QAction("&Import Original Zhang Model…", self)
        self.import_action.triggered.connect(self.open_import_model)
        self.model_menu = self.menuBar().addMenu("&Model")
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        self._fill_model_menu()

        self.view_menu = view_menu = self.menuBar().addMenu("&View")
        self.fit_action = QAction("&Fit in Window", self, shortcut=QKeySequence("Ctrl+0"))
        self.fit_action.triggered.connect(self.compare_view.fit)
        self.zoom_100_action = QAction("&Actual Pixels (100 %)", self, shortcut=QKeySequence("Ctrl+1"))
        self.zoom_100_action.triggered.connect(self.compare_view.zoom_100)
        self.zoom_in_action = QAction("Zoom &In", self)
        self.zoom_in_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.ZoomIn), QKeySequence("Ctrl+=")])
        self.zoom_in_action.triggered.connect(self.compare_view.zoom_in)
        self.zoom_out_action = QAction("Zoom &Out", self, shortcut=QKeySequence(QKeySequence.StandardKey.ZoomOut))
        self.zoom_out_action.triggered.connect(self.compare_view.zoom_out)
        for a in (self.zoom_in_action, self.zoom_out_action, self.fit_action, self.zoom_100_action):
            view_menu.addAction(a)
        view_menu.addSeparator()
        self.next_action = QAction("&Next Image", self, shortcut=QKeySequence(Qt.Key.Key_PageDown))
        self.next_action.triggered.connect(lambda: self.controller.step_current(1))
        self.previous_action = QAction("&Previous Image", self, shortcut=QKeySequence(Qt.Key.Key_PageUp))
        self.previous_action.triggered.connect(lambda: self.controller.step_current(-1))
        self.reset_T_action = QAction("&Reset Temperature", self, shortcut=QKeySequence("Ctrl+R"))
        self.reset_T_action.triggered.connect(self.slider.reset)
        # what T does, not a promise about vividness (for some models a lower T gives *less* colourful images)
        self.warmer_action = QAction("Toward the &Most Likely Colour (lower T)", self, shortcut=QKeySequence("Ctrl+["))
        self.warmer_action.setStatusTip("Each pixel moves toward the colour the network finds most likely: bolder, "
                                        "can be blotchy")
        self.warmer_action.triggered.connect(lambda: self.controller.nudge_T(-1))
        self.cooler_action = QAction("Toward the &Average Colour (higher T)", self, shortcut=QKeySequence("Ctrl+]"))
        self.cooler_action.setStatusTip("Each pixel moves toward the average of the candidate colours: smoother")
        self.cooler_action.triggered.connect(lambda: self.controller.nudge_T(+1))
        for a in (self.next_action, self.previous_action, self.reset_T_action, self.warmer_action,
                  self.cooler_action):
            view_menu.addAction(a)
        view_menu.addSeparator()
        self.mode_actions = {}
        keys = {"result": "Alt+1", "side by side": "Alt+2", "wipe": "Alt+3"}  # Ctrl+0/1: Fit / 100 %
        for mode in MODES:
            a = QAction(mode.capitalize(), self, shortcut=QKeySequence(keys.get(mode, "")), checkable=True)
            a.setChecked(mode == self.compare_view.mode)
            a.triggered.connect(lambda _c=False, m=mode: self.compare_view.set_mode(m))
            view_menu.addAction(a)
            self.mode_actions[mode] = a
        self._last_compare_mode = "side by side"
        self.compare_toggle_action = QAction("&Toggle Compare", self, shortcut=QKeySequence("Ctrl+K"))
        self.compare_toggle_action.setToolTip("Switch between the result and the last comparison view")
        self.compare_toggle_action.triggered.connect(self.toggle_compare)
        view_menu.addAction(self.compare_toggle_action)
        view_menu.addSeparator()
        for dock in (self.queue_dock, self.distribution, self.metrics_dock):
            view_menu.addAction(dock.toggleViewAction())

        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About Polychrome", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def _build_edit_menu(self) -> None:
        """Edit: Undo / Redo (bound to the active stack of :attr:`undo_group`, see :meth:`register_undo_stack`),
        the queue's Remove / Clear Finished / Clear, and Settings… (Ctrl+,; the app menu on macOS)."""
        self.edit_menu = edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_group = QUndoGroup(self)
        self.undo_action = self.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Undo))
        self.redo_action = self.undo_group.createRedoAction(self, "&Redo")
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        self.redo_action.setShortcuts(redo_keys or [QKeySequence("Ctrl+Shift+Z")])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        for a in self.queue_view.actions_for_menu():
            edit_menu.addAction(a)
        edit_menu.addSeparator()
        edit_menu.addAction(self.preferences_action)

    def register_undo_stack(self, stack: QUndoStack, active: bool = True) -> QUndoStack:
        """Plug an undo stack (e.g. the hint tool's) into Edit ▸ Undo / Redo; ``active``: bind the actions to it
        now (``stack.setActive()`` later switches to it; the group drops a stack when it is deleted)."""
        self.undo_group.addStack(stack)
        if active:
            stack.setActive(True)
        return stack

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
        menu.addAction(self.import_action)
        menu.addAction(self.train_action)  # the menu is rebuilt each time it opens: the fixed actions go back in
        menu.addSeparator()
        menu.addAction(self.preferences_action)

    def open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a Polychrome model", self._last_dir("model"),
                                              "ONNX models (*.onnx)")
        if path:
            self._remember_dir("model", path)
            if self.controller.switch_model(path) and self.settings is not None:
                self.settings.model = path

    def _last_dir(self, what: str) -> str:
        return self.settings.last_dir(what) if self.settings is not None else ""

    def _remember_dir(self, what: str, path: str) -> None:
        if self.settings is not None:
            self.settings.set_last_dir(what, path)

    def open_files(self) -> None:
        exts = " ".join(f"*{e}" for e in imageio.SUPPORTED_EXTENSIONS)
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", self._last_dir("open"),
                                                f"Images ({exts});;All files (*)")
        if files:
            self._remember_dir("open", files[0])
            self.add_paths(files)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", self._last_dir("open"))
        if folder:
            self._remember_dir("open", str(Path(folder) / "x"))
            self.add_paths([folder])

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self.settings.recent_files() if self.settings is not None else []
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
            return
        for i, path in enumerate(recent):
            label = f"&{i + 1} {Path(path).name}" if i < 9 else Path(path).name
            a = menu.addAction(label)
            a.setToolTip(path)
            a.triggered.connect(lambda _c=False, p=path: self.add_paths([p]))
        menu.addSeparator()
        menu.addAction("Clear Recent").triggered.connect(self._clear_recent)

    def _clear_recent(self) -> None:
        if self.settings is not None:
            self.settings.clear_recent()

    def show_preferences(self) -> Optional[SettingsDialog]:
        """The preferences dialog (model, provider, start T); applied when accepted."""
        from ..runtime import providers

        c = self.controller
        current = str(c.model_path) if c.model_path else None
        dlg = SettingsDialog(
            [(f"{name} ({p.name})", str(p)) for name, p in c.available_models()],
            provider_choices(providers.available()),
            model=(self.settings.model if self.settings else None) or current,
            provider=c.provider, start_T=c.start_T, model_default_T=c.default_T,
            provider_status=c.status, parent=self,
            theme=self.settings.theme if self.settings else theme.current,
            session_mode=self.settings.session_mode if self.settings else "restore",
            export_defaults=self.settings.export_dialog_options() if self.settings else None)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(lambda: self.apply_preferences(dlg.values()))
        dlg.open()
        return dlg

    def apply_preferences(self, values: dict) -> None:
        c = self.controller
        c.apply_preferences(values.get("model"), values.get("provider"), values.get("start_T"))
        if values.get("theme"):
            theme.apply_theme(values["theme"])
        if self.settings is not None:
            self.settings.start_T = c.start_T
            self.settings.provider = c.provider
            self.settings.model = values.get("model")
            if values.get("theme"):
                self.settings.theme = values["theme"]
            if values.get("session_mode"):
                self.settings.session_mode = values["session_mode"]
            if values.get("export_defaults") is not None:
                self.settings.set_default_export_options(values["export_defaults"])
            self.settings.sync()

    def restore_session(self) -> List[int]:
        """Bring back the last session (queue, each image's T and extras) and keep saving it from now on; with
        Settings ▸ At start: Ask, the user is asked first. Returns the rows added."""
        from .queue import session as sessions

        c = self.controller
        path = c.enable_session()
        saved, problem = sessions.load(path)
        if problem:
            log.warning("%s", problem)
            self.statusBar().showMessage(problem, 15000)
        if not saved:
            return []
        if self.settings is not None and self.settings.session_mode == "ask":
            n = len(saved.entries)
            answer = QMessageBox.question(
                self, "Reopen the last session?",
                f"The last session had {n} image{'s' if n != 1 else ''} with their temperatures and hints. "
                "Reopen them? (If not, they are forgotten once you change the queue.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
            if answer != QMessageBox.StandardButton.Yes:
                return []
        return c.restore_session(saved)

    def show_about(self) -> AboutDialog:
        c = self.controller
        manifest = c.colorizer.manifest if c.colorizer is not None else None
        dlg = AboutDialog(__version__, manifest, c.model_path, log_file=log_file_path(), parent=self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        return dlg

    def _ask_folder(self, title: str) -> str:
        folder = QFileDialog.getExistingDirectory(self, title, self._last_dir("export"))
        if folder:
            self._remember_dir("export", str(Path(folder) / "x"))
        return folder

    def export_current(self) -> Optional[ExportDialog]:
        it = self.controller.current_item
        if it is None or it.state != DONE:
            self.statusBar().showMessage("Select a colorized image first", 5000)
            return None
        return self.show_export(SCOPE_CURRENT)

    def export_all(self) -> Optional[ExportDialog]:
        if not self.controller.queue.rows_in(DONE):
            self.statusBar().showMessage("Nothing to export yet: no image has been colorized", 5000)
            return None
        return self.show_export(SCOPE_ALL)

    def _export_folder(self) -> Optional[str]:
        """The folder an export dialog offers: the default folder from Settings, else the last one used."""
        if self.settings is None:
            return None
        default = self.settings.default_export_options().get("out_dir")
        if default and Path(default).is_dir():
            return str(default)
        return self._last_dir("export") or None

    def show_export(self, scope: str = SCOPE_ALL) -> ExportDialog:
        """The export dialog (scope, format, bit depth, folder, suffix, ...); the export runs when accepted."""
        c = self.controller
        done = c.queue.rows_in(DONE)
        it = c.current_item
        dlg = ExportDialog(current_path=it.path if it is not None and it.state == DONE else None,
                           count_all=len(done), last_folder=self._export_folder(),
                           defaults=self.settings.export_dialog_options() if self.settings else None, scope=scope,
                           sample_path=c.queue.items[done[0]].path if done else None, parent=self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(lambda: self.run_export(dlg.options()))
        dlg.open()
        self.export_dialog = dlg
        return dlg

    def run_export(self, options: dict) -> Optional[ExportSummaryDialog]:
        """Start an export with ExportDialog.options(); a summary dialog follows its progress and failures."""
        if self.settings is not None:
            self.settings.set_export_options(options)
            if options.get("out_dir"):
                self._remember_dir("export", str(Path(options["out_dir"]) / "x"))
        c = self.controller
        worker, n = c.exporter.run(options)
        if worker is None:
            return None
        names = {r: q.path.name for r, q in enumerate(c.queue.items)}
        summary = ExportSummaryDialog(n, names, self)
        summary.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        summary.track(worker)
        summary.show()
        self.export_summary = summary
        return summary

    def toggle_compare(self) -> None:
        """Result ↔ the comparison view used last (side by side at first)."""
        v = self.compare_view
        v.set_mode(self._last_compare_mode if v.mode == "result" else "result")

    def _on_mode(self, mode: str) -> None:
        if mode != "result":
            self._last_compare_mode = mode
        for m, a in self.mode_actions.items():
            a.setChecked(m == mode)

    def open_import_model(self):
        """Model ▸ Import Original Zhang Model… (gui.import_model): the ECCV16 / SIGGRAPH17 release weights."""
        from .import_model.view import open_import_dialog

        self.import_dialog = open_import_dialog(self)
        return self.import_dialog

    def open_training_wizard(self):
        """The training wizard (Model ▸ Train a Model…); it explains how to add training when torch is missing."""
        try:
            from .wizard import open_training_wizard
        except ImportError as exc:  # the wizard itself never needs torch to open
            self.show_error(f"The training wizard could not be opened: {exc}")
            return None
        dlg = open_training_wizard(self, self.controller)
        self.wizard = dlg
        return dlg

    def open_ab(self) -> Optional[ABDialog]:
        """Blind A/B: two models or two temperatures over the loaded images, unlabeled, in random order."""
        if not self.controller.queue.items:
            self.statusBar().showMessage("Open some images first: the A/B test runs over the loaded images", 5000)
            return None
        dlg = ABDialog(ABController.from_controller(self.controller), self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.controller.failed.connect(self.show_error)
        dlg.open()
        self.ab_dialog = dlg
        return dlg

    def add_paths(self, paths: List[str]) -> None:
        rows, _problems = self.controller.add_paths(paths)
        if self.settings is not None and rows:
            self.settings.add_recent([p for p in paths if Path(p).exists()])

    # -- temperature ------------------------------------------------------------------------------
    def _on_slider_drag(self, T: float) -> None:
        self.controller.drag_T(T)

    def _on_slider_commit(self, T: float) -> None:
        self.controller.set_T(T, exact=True)

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
            self.compare_view.set_message(self.controller.no_model_text())

    def _on_current(self, _row: int) -> None:
        text = self.controller.placeholder_text()
        if text:
            self.compare_view.set_message(text)

    def show_error(self, message: str, details: str = "") -> None:
        """An unexpected error from a worker: a (non-blocking) dialog; the app goes on."""
        box = QMessageBox(QMessageBox.Icon.Critical, "Polychrome — unexpected error",
                          f"{message}\n\nPolychrome keeps running. {where_log_text()}.", parent=self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.error_box = box

    def _show_colourfulness(self, m: float) -> None:
        self.colourfulness_label.setText("" if m != m else f"Colourfulness {m:.1f}")

    def _show_zoom(self) -> None:
        text = zoom_text(self.compare_view.zoom)
        if text and self.tiles.status:
            text += " · full resolution" if self.tiles.status == "full" else " · refining…"
        self.zoom_label.setText(text)

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

    def _shown_shape(self):
        img = self.compare_view.image
        return None if img is None else img.shape[:2]

    def _show_pin(self, _info) -> None:
        yx = self.controller.pin_in_view(self._shown_shape())
        self.compare_view.set_marker(*(yx if yx else (None, None)))

    def _on_hover(self, y, x) -> None:
        self.controller.hover_in_view(y, x, self._shown_shape())

    def _on_click(self, y: float, x: float) -> None:
        self.controller.click_in_view(y, x, self._shown_shape())

    # -- closing ----------------------------------------------------------------------------------
    def closeEvent(self, ev) -> None:  # noqa: N802
        """Cancel any run and wait for the worker before the window goes away."""
        if self.controller.running:
            self.statusBar().showMessage("Cancelling…")
        self.controller.shutdown()
        self.compare.shutdown()
        self.tiles.shutdown()
        if self.settings is not None:
            self.settings.save_window(self.saveGeometry(), self.saveState())
            self.settings.sync()
        super().closeEvent(ev)

    def _restore_layout(self) -> None:
        if self.settings is None:
            return
        geometry, state = self.settings.window_geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
