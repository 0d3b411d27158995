"""The queue as a photographer manages it (pytest-qt, offscreen, a real onnxruntime model): remove selected (Delete
and the context menu), clear finished, clear, thumbnails, re-opening a loaded file selects it, a missing file stays
as an error row, the session (queue, each image's T, extras) comes back at the next start; the Edit menu's undo hook;
T typed in the spin box reaches the pixels; the T menu names what T does; the status bar's colourfulness."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QUndoCommand, QUndoStack  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

import slow_colorizer  # noqa: E402
from polychrome.core import imageio  # noqa: E402
from polychrome.gui.app import create_window  # noqa: E402
from polychrome.gui.main_window import MainWindow  # noqa: E402
from polychrome.gui.queue import session as sessions  # noqa: E402
from polychrome.gui.queue.controller import DONE, ERROR, QUEUED, ColorizeController  # noqa: E402
from polychrome.gui.settings import AppSettings  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402

WAIT_MS = 30000


@pytest.fixture(autouse=True)
def _log_dir(tmp_path_factory, monkeypatch):
    from polychrome.gui import logfile

    monkeypatch.setenv(logfile.ENV, str(tmp_path_factory.mktemp("logs")))
    yield
    logfile.uninstall()


def gray(path: Path, h: int = 40, w: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = np.linspace(10, 245, w, dtype=np.float32)
    img = (np.repeat(x[None, :], h, axis=0) + rng.uniform(-5, 5, (h, w))).clip(0, 255).astype(np.uint8)
    return imageio.write_image(path, img)


@pytest.fixture
def window(qtbot, known_model):
    w = MainWindow(ColorizeController(Colorizer(known_model)), AppSettings())
    w.queue_view.confirm_clear = False
    qtbot.addWidget(w)
    yield w
    w.controller.shutdown(10000)


def load(qtbot, w, paths):
    w.add_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: not w.controller.running and all(
        it.state in (DONE, ERROR) for it in w.controller.queue.items), timeout=WAIT_MS)


def names(w):
    return [it.path.name for it in w.controller.queue.items]


def test_delete_key_removes_the_selected_rows_and_the_rest_keep_their_results(qtbot, tmp_path, window):
    files = [gray(tmp_path / f"p{i}.png", seed=i) for i in range(4)]
    load(qtbot, window, files)
    c = window.controller
    c.set_T(0.2, exact=True)  # a T of its own for p0 (the current image)
    c.set_current(2)
    c.set_T(0.7, exact=True)
    view = window.queue_view
    view.select_row(1)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert names(window) == ["p0.png", "p2.png", "p3.png"]
    assert view.model().rowCount() == 3
    # the others keep their result and their own T; the current image follows its item, not its old row number
    assert [it.state for it in c.queue.items] == [DONE] * 3
    assert c.queue.items[0].T == pytest.approx(0.2) and c.queue.items[1].T == pytest.approx(0.7)
    assert c.current_item.path.name == "p2.png" and c.T == pytest.approx(0.7)
    # several rows at once (extended selection) through Edit ▸ Remove
    view.selectAll()
    window.queue_view.remove_action.trigger()
    assert names(window) == [] and c.current == -1


def test_clear_finished_keeps_queued_images_and_clear_empties_the_queue(qtbot, tmp_path, window):
    ok = [gray(tmp_path / f"a{i}.png", seed=i) for i in range(2)]
    bad = tmp_path / "broken.png"
    bad.write_text("not a png")
    load(qtbot, window, ok + [bad])
    c = window.controller
    c.queue.append([type(c.queue.items[0])(tmp_path / "later.png")])  # one still waiting (queued)
    assert window.queue_view.clear_finished_action.isEnabled()
    window.queue_view.clear_finished_action.trigger()
    assert names(window) == ["later.png"] and c.queue.items[0].state == QUEUED
    window.queue_view.clear_action.trigger()
    assert names(window) == [] and not window.queue_view.clear_action.isEnabled()


def test_clearing_asks_first_and_cancel_keeps_everything(qtbot, tmp_path, window, monkeypatch):
    load(qtbot, window, [gray(tmp_path / "a.png")])
    window.queue_view.confirm_clear = True
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel)
    window.queue_view.clear_action.trigger()
    assert asked and names(window) == ["a.png"]


def test_context_menu_offers_remove_retry_reveal_and_clear_and_its_remove_works(qtbot, tmp_path, window):
    good = gray(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_text("x")
    load(qtbot, window, [good, bad])
    view = window.queue_view
    view.select_row(1)  # the failed one
    menu = view.context_menu()
    texts = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Remove from Queue", "Try Again", "Show in Folder", "Clear Finished", "Clear Queue…"]
    # the real right-click path: a menu pops up at the row
    rect = view.visualRect(view.model().index(0, 0))
    view.customContextMenuRequested.emit(rect.center())
    assert view.menu is not None and view.menu.isVisible()
    assert view.currentIndex().row() == 0  # right-clicking an unselected row selects it
    view.menu.close()
    view.select_row(1)
    next(a for a in view.context_menu().actions() if a.text() == "&Remove from Queue").trigger()
    assert names(window) == ["good.png"]


def test_try_again_requeues_a_failed_image(qtbot, tmp_path, window):
    missing = tmp_path / "later.png"
    load(qtbot, window, [missing])
    c = window.controller
    assert c.queue.items[0].state == ERROR and "not found" in c.queue.items[0].reason
    gray(missing)  # the file is back (a drive mounted again)
    window.queue_view.select_row(0)
    window.queue_view.retry_action.trigger()
    qtbot.waitUntil(lambda: c.queue.items[0].state == DONE, timeout=WAIT_MS)


def test_rows_show_a_thumbnail_of_the_result_at_its_T(qtbot, tmp_path, window):
    load(qtbot, window, [gray(tmp_path / "wide.png", 40, 120)])
    c = window.controller
    it = c.queue.items[0]
    assert it.thumbnail is not None and it.thumbnail.shape[1] == 56 and it.thumbnail.shape[0] < 56
    first = it.thumbnail.copy()
    icon = c.queue.data(c.queue.index(0), Qt.ItemDataRole.DecorationRole)
    img = icon.pixmap(56, 56).toImage()
    centre = img.pixelColor(28, 28)
    assert (centre.red(), centre.green(), centre.blue()) != (0, 0, 0) and centre.alpha() == 255
    c.set_T(0.05, exact=True)
    qtbot.waitUntil(lambda: not np.array_equal(it.thumbnail, first), timeout=WAIT_MS)


def test_reopening_a_loaded_file_selects_it_instead_of_adding_it_again(qtbot, tmp_path, window):
    files = [gray(tmp_path / f"p{i}.png", seed=i) for i in range(3)]
    load(qtbot, window, files)
    window.controller.set_current(2)
    window.add_paths([str(tmp_path / "." / "p1.png")])  # the same file, spelt differently
    assert names(window) == ["p0.png", "p1.png", "p2.png"]
    assert window.controller.current == 1 and window.queue_view.currentIndex().row() == 1


def test_a_missing_file_on_the_command_line_stays_as_an_error_row(qtbot, tmp_path, known_model):
    good = gray(tmp_path / "good.png")
    w = create_window(str(known_model), inputs=[str(tmp_path / "gone.tif"), str(good)], settings=AppSettings())
    qtbot.addWidget(w)
    try:
        c = w.controller
        qtbot.waitUntil(lambda: not c.running and c.queue.counts()[DONE] == 1, timeout=WAIT_MS)
        row = [i for i, it in enumerate(c.queue.items) if it.path.name == "gone.tif"]
        assert row, names(w)
        it = c.queue.items[row[0]]
        assert it.state == ERROR and it.reason == "file not found"
        label = c.queue.data(c.queue.index(row[0]), Qt.ItemDataRole.DisplayRole)
        assert "gone.tif" in label and "file not found" in label
        assert c.current_item.path.name == "good.png"  # the first result is shown, not the error row
    finally:
        w.controller.shutdown(10000)


def test_session_round_trip_restores_queue_T_extras_and_current_with_missing_files_as_errors(qtbot, tmp_path,
                                                                                           known_model):
    files = [gray(tmp_path / f"s{i}.png", seed=i) for i in range(3)]
    w = create_window(str(known_model), settings=AppSettings())
    qtbot.addWidget(w)
    path = w.controller.enable_session()
    assert path.parent == Path(AppSettings().qs.fileName()).parent  # beside the test's settings file
    load(qtbot, w, files)
    c = w.controller
    c.set_current(1)
    c.set_T(0.15, exact=True)
    c.current_item.extras["hints"] = [{"y": 0.5, "x": 0.25, "ab": [10.0, -20.0]}]
    c.session_changed()
    w.close()  # saves at shutdown
    data = json.loads(path.read_text())
    assert [Path(e["path"]).name for e in data["items"]] == ["s0.png", "s1.png", "s2.png"]
    files[2].unlink()  # gone before the next start

    w2 = create_window(str(known_model), settings=AppSettings())
    qtbot.addWidget(w2)
    try:
        rows = w2.restore_session()
        c2 = w2.controller
        assert rows == [0, 1, 2]
        # at once, before any reading: the missing file is an error row that says why
        assert c2.queue.items[2].state == ERROR and c2.queue.items[2].reason == "file not found"
        qtbot.waitUntil(lambda: not c2.running and c2.queue.items[0].state == DONE, timeout=WAIT_MS)
        assert [it.path.name for it in c2.queue.items] == ["s0.png", "s1.png", "s2.png"]
        assert c2.queue.items[1].T == pytest.approx(0.15) and c2.queue.items[0].T is None
        assert c2.queue.items[1].extras == {"hints": [{"y": 0.5, "x": 0.25, "ab": [10.0, -20.0]}]}
        assert c2.queue.items[2].state == ERROR and c2.queue.items[2].reason == "file not found"
        assert c2.current == 1 and w2.slider.value() == pytest.approx(0.15)
    finally:
        c2.shutdown(10000)


def test_session_ask_mode_asks_and_no_leaves_the_queue_empty(qtbot, tmp_path, known_model, monkeypatch):
    f = gray(tmp_path / "a.png")
    s = AppSettings()
    sessions.save(sessions.Session([sessions.SessionEntry(f, 0.3)]), sessions.session_path())
    s.session_mode = "ask"
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    w = create_window(str(known_model), settings=s)
    qtbot.addWidget(w)
    assert w.restore_session() == [] and asked and "1 image" in asked[0]
    assert w.controller.queue.rowCount() == 0
    w.controller.shutdown(10000)


def test_session_file_is_written_atomically_and_a_corrupt_one_is_reported_not_fatal(tmp_path):
    p = tmp_path / "session.json"
    sessions.save(sessions.Session([sessions.SessionEntry(tmp_path / "x.png", 0.5, {"k": [1, 2]})], 0), p)
    assert not [q for q in tmp_path.iterdir() if q.name != "session.json"]  # no temp file left behind
    back, problem = sessions.load(p)
    assert problem == "" and back.entries[0].T == 0.5 and back.entries[0].extras == {"k": [1, 2]} and back.current == 0
    p.write_text("{ not json")
    back, problem = sessions.load(p)
    assert not back and "could not be read" in problem and str(p) in problem
    assert sessions.load(tmp_path / "none.json") == (sessions.Session(), "")


def test_edit_menu_undo_redo_follow_a_registered_stack(qtbot, window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[:2] == ["File", "Edit"]
    assert not window.undo_action.isEnabled()
    stack = window.register_undo_stack(QUndoStack(window))
    seen = []

    class Add(QUndoCommand):
        def __init__(self):
            super().__init__("Add Hint")

        def redo(self):
            seen.append("redo")

        def undo(self):
            seen.append("undo")

    stack.push(Add())
    assert window.undo_action.isEnabled() and "Add Hint" in window.undo_action.text()
    window.undo_action.trigger()
    assert seen == ["redo", "undo"] and window.redo_action.isEnabled()
    window.redo_action.trigger()
    assert seen == ["redo", "undo", "redo"]
    edit = window.edit_menu
    assert window.preferences_action in edit.actions()
    assert "Ctrl+," in [k.toString() for k in window.preferences_action.shortcuts()]


def test_typed_T_reaches_the_render(qtbot, tmp_path, window):
    load(qtbot, window, [gray(tmp_path / "a.png")])
    c = window.controller
    shown = []
    c.preview_changed.connect(lambda rgb: shown.append(rgb))
    spin = window.slider.spin
    spin.selectAll()
    qtbot.keyClicks(spin.lineEdit(), "0.05")
    assert c.T != pytest.approx(0.05)  # nothing happens while typing
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert c.T == pytest.approx(0.05) and c.current_item.T == pytest.approx(0.05)
    assert window.slider.value() == pytest.approx(0.05)
    expected = c.prediction.preview(0.05, exact=True)
    qtbot.waitUntil(lambda: any(np.array_equal(s, expected) for s in shown if s is not None), timeout=WAIT_MS)
    # the slider moving elsewhere (keyboard step) shows in the spin box
    c.nudge_T(+1)
    assert spin.value() == pytest.approx(0.07)


def test_temperature_menu_names_what_T_does_and_the_status_bar_shows_colourfulness(qtbot, tmp_path, window):
    texts = [a.text().replace("&", "") for a in window.view_menu.actions()]
    assert "Toward the Most Likely Colour (lower T)" in texts and "Toward the Average Colour (higher T)" in texts
    assert not any("Vivid" in t or "Muted" in t for t in texts)
    load(qtbot, window, [gray(tmp_path / "a.png")])
    c = window.controller
    from polychrome.core.metrics import colorfulness

    c.set_T(1.0, exact=True)
    qtbot.waitUntil(lambda: not c.exact_pending, timeout=WAIT_MS)
    m1 = colorfulness(c.prediction.preview(1.0, exact=True))
    assert window.colourfulness_label.text() == f"Colourfulness {m1:.1f}"
    c.set_T(0.05, exact=True)
    qtbot.waitUntil(lambda: not c.exact_pending, timeout=WAIT_MS)
    m2 = colorfulness(c.prediction.preview(0.05, exact=True))
    assert abs(m1 - m2) > 0.5 and window.colourfulness_label.text() == f"Colourfulness {m2:.1f}"
    c.clear()
    assert window.colourfulness_label.text() == ""


class SlowColorizer(slow_colorizer.SlowColorizer):
    delay = 0.25


@pytest.mark.parametrize("remove", ["finished", "pending"])
def test_removing_rows_during_a_run_keeps_each_result_on_its_own_image(qtbot, tmp_path, known_model, remove):
    files = [gray(tmp_path / f"r{i}.png", 32 + 8 * i, 48, seed=i) for i in range(5)]  # heights tell them apart
    w = MainWindow(ColorizeController(SlowColorizer(known_model)), AppSettings())
    qtbot.addWidget(w)
    c = w.controller
    try:
        w.add_paths([str(p) for p in files])
        qtbot.waitUntil(lambda: c.queue.items[0].state == DONE and c.running, timeout=WAIT_MS)
        if remove == "finished":
            c.remove_rows([0])  # rows move up under the running job
            gone = {"r0.png"}
        else:
            c.remove_rows([3])  # waiting: the run restarts without it
            gone = {"r3.png"}
        qtbot.waitUntil(lambda: not c.running and all(it.state == DONE for it in c.queue.items), timeout=WAIT_MS)
        assert {it.path.name for it in c.queue.items} == {f.name for f in files} - gone
        for it in c.queue.items:
            h = 32 + 8 * int(it.path.stem[1:])
            assert it.prediction is not None and it.prediction.shape == (h, 48), it.path.name
            assert it.reason == ""
    finally:
        c.shutdown(10000)
