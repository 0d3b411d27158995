"""The app's log file: in the user log folder (platformdirs) or $POLYCHROME_LOG_DIR, rotating; the About box and
the error dialogs say where it is."""

import logging
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from polychrome.gui import logfile  # noqa: E402
from polychrome.gui.app import ExceptionHook  # noqa: E402
from polychrome.gui.main_window import MainWindow  # noqa: E402
from polychrome.gui.queue.controller import ColorizeController  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    folder = tmp_path / "logs here"
    monkeypatch.setenv(logfile.ENV, str(folder))
    yield folder
    logfile.uninstall()


def test_the_log_folder_is_the_user_log_dir_unless_overridden(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv(logfile.ENV, raising=False)
    assert logfile.log_dir() == Path(platformdirs.user_log_dir("polychrome", appauthor=False))
    assert logfile.log_file_path().name == "polychrome.log"
    monkeypatch.setenv(logfile.ENV, str(tmp_path))
    assert logfile.log_file_path() == tmp_path / "polychrome.log"


def test_install_writes_a_rotating_log_file_once(log_dir):
    path = logfile.install(max_bytes=2000, backups=2)
    assert path == log_dir / "polychrome.log" and path.is_file()  # the folder is created
    assert logfile.install() == path  # once per process: no second handler
    assert sum(isinstance(h, logging.handlers.RotatingFileHandler) for h in logging.getLogger().handlers) == 1
    logging.getLogger("polychrome.gui.test").info("hello from the test")
    assert "hello from the test" in path.read_text(encoding="utf-8")
    for i in range(200):
        logging.getLogger("polychrome.gui.test").info("line %d %s", i, "x" * 40)
    assert (log_dir / "polychrome.log.1").is_file()  # rotated...
    assert not (log_dir / "polychrome.log.3").exists()  # ...keeping two old files
    assert path.stat().st_size <= 2000
    logfile.uninstall()
    logging.getLogger("polychrome.gui.test").info("after uninstall")
    assert "after uninstall" not in path.read_text(encoding="utf-8")


def test_an_unwritable_log_folder_leaves_the_app_without_a_log_file(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(logfile.ENV, str(blocker / "logs"))
    assert logfile.install() is None
    logfile.uninstall()


def test_the_about_box_and_the_error_dialog_say_where_the_log_is(qtbot, log_dir, known_model):
    c = ColorizeController(Colorizer(str(known_model)))
    w = MainWindow(c)
    qtbot.addWidget(w)
    dlg = w.show_about()
    assert str(log_dir / "polychrome.log") in dlg.about_text.toPlainText()
    dlg.close()
    w.show_error("something broke", "Traceback ...")
    assert str(log_dir / "polychrome.log") in w.error_box.text()
    w.error_box.close()
    w.close()


def test_the_crash_dialog_says_where_the_log_is(qtbot, log_dir):
    hook = ExceptionHook()
    seen = []

    def close_box():
        for top in QApplication.topLevelWidgets():
            if isinstance(top, QMessageBox) and top.isVisible():
                seen.append(top.text())
                top.close()

    QTimer.singleShot(200, close_box)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        hook(type(exc), exc, exc.__traceback__)
    assert seen and "boom" in seen[0] and str(log_dir / "polychrome.log") in seen[0]
