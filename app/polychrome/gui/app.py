"""The desktop app's entry point: ``main(argv)`` → QApplication, the main window, an exception hook.

    polychrome-gui [--model NAME|PATH] [--provider NAME] [--quit-after MS] [FILES/FOLDERS ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from typing import List, Optional

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ..runtime.providers import limit_blas_threads
from . import logfile, theme
from .main_window import MainWindow
from .queue.controller import ColorizeController
from .settings import AppSettings
from .startup import apply_app_icon, watch_first_show

log = logging.getLogger("polychrome.gui")

FIRST_SIZE = QSize(1400, 900)  # the first window's size where the screen has room (logical pixels)
SCREEN_SHARE = 0.92  # at most this share of the available screen (the rest: window frame and title bar)
FRAME_ALLOWANCE = QSize(16, 48)  # decorations a window manager adds outside the client area (before they are known)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polychrome-gui", description="Polychrome: colorize grayscale photos.")
    p.add_argument("inputs", nargs="*", help="images or folders to open")
    p.add_argument("--model", default=None, help="model name or .onnx path (default: the default model)")
    p.add_argument("--provider", default=None, help="execution provider (cpu, cuda, ...)")
    p.add_argument("--no-session", action="store_true",
                   help="start with an empty queue and do not save the session (the last one is kept)")
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


def first_size(available: QSize, preferred: QSize = FIRST_SIZE, minimum: Optional[QSize] = None) -> QSize:
    """The client size of a window opened for the first time on a screen whose available geometry is ``available``
    (logical pixels, i.e. after the scale factor): ``preferred`` where it fits, else at most :data:`SCREEN_SHARE` of
    the screen less :data:`FRAME_ALLOWANCE`, and never below ``minimum`` (the layout's minimum, if it fits)."""
    minimum = minimum or QSize(0, 0)
    room_w = int(available.width() * SCREEN_SHARE) - FRAME_ALLOWANCE.width()
    room_h = int(available.height() * SCREEN_SHARE) - FRAME_ALLOWANCE.height()
    w = min(preferred.width(), room_w)
    h = min(preferred.height(), room_h)
    return QSize(max(w, min(minimum.width(), available.width())), max(h, min(minimum.height(), available.height())))


def fit_to_screen(window: QWidget, restored: bool = False) -> QRect:
    """Size and place a top-level window so that it fits its screen's available geometry, at any scale factor.

    A first window (``restored`` False) gets :func:`first_size`, centred; a restored geometry is kept where it fits
    and otherwise shrunk and moved onto the screen (the screen or its scaling may have changed since). Returns the
    new geometry (client area, logical pixels)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return window.geometry()
    avail = screen.availableGeometry()
    minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
    if restored:
        size = window.size().boundedTo(QSize(avail.width() - FRAME_ALLOWANCE.width(),
                                             avail.height() - FRAME_ALLOWANCE.height()))
    else:
        size = first_size(avail.size(), minimum=minimum)
    if minimum.width() > size.width() or minimum.height() > size.height():
        # a layout that cannot shrink that far would grow the window past the screen again: let it shrink
        window.setMinimumSize(QSize(min(minimum.width(), size.width()), min(minimum.height(), size.height())))
    window.resize(size)
    geo = window.geometry()
    if restored and avail.contains(geo):
        return geo
    x = avail.x() + max(0, (avail.width() - size.width()) // 2)
    y = avail.y() + max(0, (avail.height() - size.height() - FRAME_ALLOWANCE.height()) // 2)
    if restored:
        x = min(max(geo.x(), avail.x()), avail.right() - size.width())
        y = min(max(geo.y(), avail.y()), avail.bottom() - size.height())
    window.move(x, y)
    return window.geometry()


def create_window(model=None, provider: Optional[str] = None, inputs: Optional[List[str]] = None,
                  settings: Optional[AppSettings] = None, session: bool = False) -> MainWindow:
    """The controller (model loaded, or the reason it could not be) and its window; QApplication must exist.

    Without an explicit ``model``/``provider`` the ones saved in ``settings`` are used; a saved model that no
    longer opens falls back to the default model (and the status bar says why). With ``session`` the last session
    comes back (or the user is asked, as set) before ``inputs`` are added, and it is saved from then on."""
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
    fit_to_screen(window, restored=settings is not None and settings.window_geometry() is not None)
    if session:
        window.restore_session()
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
        settings = AppSettings()
        theme.apply_theme(settings.theme, app)
        window = create_window(args.model, args.provider, args.inputs, settings, session=not args.no_session)
        theme.style_pyqtgraph(app)  # the window's views exist now: plots and the gray around photos
        watch_first_show(window)  # $POLYCHROME_STARTUP_TIMING: print the cold-start time
        window.show()
        if args.quit_after is not None:
            QTimer.singleShot(max(0, args.quit_after), window.close)
        return int(app.exec())
    finally:
        hook.uninstall()


if __name__ == "__main__":
    sys.exit(main())
