"""The desktop app's entry point: ``main(argv)`` → QApplication, the main window, an exception hook.

    polychrome-gui [--model NAME|PATH] [--provider NAME] [--quit-after MS] [FILES/FOLDERS ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from typing import List, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from ..runtime.providers import limit_blas_threads
from . import logfile
from .main_window import MainWindow
from .queue.controller import ColorizeController
from .settings import AppSettings
from .startup import apply_app_icon, watch_first_show

log = logging.getLogger("polychrome.gui")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polychrome-gui", description="Polychrome: colorize grayscale photos.")
    p.add_argument("inputs", nargs="*", help="images or folders to open")
    p.add_argument("--model", default=None, help="model name or .onnx path (default: the default model)")
    p.add_argument("--provider", default=None, help="execution provider (cpu, cuda, ...)")
    p.add_argument("--quit-after", type=int, default=None, metavar="MS",
                   help="close the window after MS milliseconds (smoke tests)")
    return p


class ExceptionHook:
    """sys.excepthook for the GUI: log the traceback, show a dialog, keep the app running."""

    def __init__(self, show_dialog: bool = True) -> None:
        self.show_dialog = show_dialog
        self.previous = sys.excepthook
        self.count = 0
        self._showing = False
        self.box: Optional[QMessageBox] = None  # the last dialog shown

    def __call__(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self.previous(exc_type, exc, tb)
            return
        self.count += 1
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error:\n%s", text)
        if not self.show_dialog or self._showing or QApplication.instance() is None:
            return
        self._showing = True
        try:
            box = QMessageBox(QMessageBox.Icon.Critical, "Polychrome — unexpected error",
                              f"Something went wrong: {exc_type.__name__}: {exc}\n\nPolychrome keeps running. "
                              f"{logfile.where_text()}.")
            self.box = box
            box.setDetailedText(text)
            box.exec()
        finally:
            self._showing = False

    def install(self) -> ExceptionHook:
        sys.excepthook = self
        return self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self.previous


def create_window(model=None, provider: Optional[str] = None, inputs: Optional[List[str]] = None,
                  settings: Optional[AppSettings] = None) -> MainWindow:
    """The controller (model loaded, or the reason it could not be) and its window; QApplication must exist.

    Without an explicit ``model``/``provider`` the ones saved in ``settings`` are used; a saved model that no
    longer opens falls back to the default model (and the status bar says why)."""
    controller = ColorizeController()
    if settings is not None:
        controller.start_T = settings.start_T
        provider = provider or settings.provider
    saved = settings.model if (settings is not None and model is None) else None
    if not (saved and controller.load_model(saved, provider)):
        controller.load_model(model, provider)
        if saved:
            controller.message.emit(f"The saved model {saved} could not be opened; using the default model")
    window = MainWindow(controller, settings)
    if inputs:
        window.add_paths(list(inputs))
    return window


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logfile.install()  # $POLYCHROME_LOG_DIR, else the user log folder; rotating
    limit_blas_threads()  # spinning OpenBLAS threads would slow every slider move on a machine with few cores
    if QApplication.instance() is None:  # HiDPI: fractional scale factors (125 %, 150 %) as the screen says
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Polychrome")
    app.setOrganizationName("Polychrome")
    apply_app_icon(app)
    hook = ExceptionHook().install()
    try:
        window = create_window(args.model, args.provider, args.inputs, AppSettings())
        watch_first_show(window)  # $POLYCHROME_STARTUP_TIMING: print the cold-start time
        window.show()
        if args.quit_after is not None:
            QTimer.singleShot(max(0, args.quit_after), window.close)
        return int(app.exec())
    finally:
        hook.uninstall()


if __name__ == "__main__":
    sys.exit(main())
