"""The desktop app (pytest-qt, offscreen): queue with broken files, cancel, closing mid-run, the T slider without
inference, the colour-distribution dock, the entry point."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402

import slow_colorizer  # noqa: E402
from polychrome.core import imageio  # noqa: E402
from polychrome.core.progress import Cancelled, Progress  # noqa: E402
from polychrome.gui.app import ExceptionHook, create_window, main  # noqa: E402
from polychrome.gui.main_window import MainWindow  # noqa: E402
from polychrome.gui.queue.controller import (  # noqa: E402
    DONE,
    ERROR,
    QUEUED,
    RUNNING,
    ColorizeController,
)
from polychrome.gui.widgets.temperature import T_to_position, position_to_T  # noqa: E402
from polychrome.gui.workers import TaskRunner, Worker  # noqa: E402
from polychrome.runtime import registry  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402
from polychrome.runtime.jobs import QueueJob, colorize_queue, run_to_end  # noqa: E402

WAIT_MS = 30000


@pytest.fixture(autouse=True)
def _log_dir(tmp_path_factory, monkeypatch):
    """The app's log file goes to a temporary folder, never the user's log folder; main() adds it once."""
    from polychrome.gui import logfile

    folder = tmp_path_factory.mktemp("logs")
    monkeypatch.setenv(logfile.ENV, str(folder))
    yield folder
    logfile.uninstall()


def make_images(folder: Path, n: int = 20, broken: int = 2):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    good = []
    for i in range(n - broken):
        x = np.linspace(10, 245, 64, dtype=np.float32)
        img = (np.repeat(x[None, :], 40, axis=0) + rng.uniform(-5, 5, (40, 64))).clip(0, 255).astype(np.uint8)
        good.append(imageio.write_image(folder / f"img{i:02d}.png", img))
    bad = []
    if broken >= 1:
        p = folder / "broken_text.png"
        p.write_text("this is not a PNG")
        bad.append(p)
    if broken >= 2:
        p = folder / "empty.jpg"
        p.write_bytes(b"")
        bad.append(p)
    return good, bad


class SlowColorizer(slow_colorizer.SlowColorizer):
    delay = 0.15


def drop(window: MainWindow, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    ev = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                    Qt.KeyboardModifier.NoModifier)
    window.dropEvent(ev)


@pytest.fixture
def window_for(qtbot):
    made = []

    def make(colorizer):
        from polychrome.gui.settings import AppSettings

        w = MainWindow(ColorizeController(colorizer), AppSettings())  # a per-test ini file (conftest)
        qtbot.addWidget(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.controller.shutdown(10000)


def write_gray(path: Path, h: int, w: int) -> Path:
    x = np.linspace(20, 235, w, dtype=np.float32)
    return imageio.write_image(path, np.repeat(x[None, :], h, axis=0).astype(np.uint8))


def finished(controller, n):
    c = controller.queue.counts()
    return not controller.running and c[DONE] + c[ERROR] == n


# -- the queue ---------------------------------------------------------------------------------

def test_dropping_files_with_broken_ones_ends_with_done_and_error_rows(qtbot, tmp_path, conv_model_path, window_for):
    good, bad = make_images(tmp_path / "in", 20, 2)
    colorizer = Colorizer(str(conv_model_path))
    window = window_for(colorizer)
    drop(window, [tmp_path / "in"])  # a folder: expanded by runtime.pipeline.expand_inputs
    assert window.controller.queue.rowCount() == 20
    qtbot.waitUntil(lambda: finished(window.controller, 20), timeout=WAIT_MS)
    assert window.progress_bar.value() == 20 and window.progress_bar.maximum() == 20
    items = window.controller.queue.items
    assert sum(it.state == DONE for it in items) == 18
    errors = [it for it in items if it.state == ERROR]
    assert sorted(it.path.name for it in errors) == sorted(p.name for p in bad)
    assert all(it.reason for it in errors)
    assert window.controller.held_predictions == window.controller.keep  # the rest were dropped (memory)
    # the error rows show their reason in the list
    model = window.controller.queue
    row = items.index(errors[0])
    assert errors[0].reason in model.data(model.index(row), Qt.ItemDataRole.DisplayRole)
    # the first finished image is shown
    assert window.image_view.image is not None and window.image_view.image.dtype == np.uint8
    # dropping the same files again adds nothing
    drop(window, good[:3])
    assert window.controller.queue.rowCount() == 20


def test_cancel_stops_the_queue(qtbot, tmp_path, conv_model_path, window_for):
    make_images(tmp_path / "in", 20, 0)
    SlowColorizer.delay = 0.4  # slack for a busy machine: the cancel must land while files are left
    window = window_for(SlowColorizer(str(conv_model_path)))
    c = window.controller
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: c.queue.counts()[DONE] >= 2, timeout=WAIT_MS)
    c.cancel()
    qtbot.waitUntil(lambda: not c.running, timeout=WAIT_MS)
    counts = c.queue.counts()
    assert counts[RUNNING] == 0
    assert 2 <= counts[DONE] < 20
    assert counts[QUEUED] == 20 - counts[DONE]
    qtbot.wait(300)  # nothing restarts by itself
    assert not c.running and c.queue.counts() == counts
    # starting again finishes the rest
    assert c.start()
    SlowColorizer.delay = 0.0
    try:
        qtbot.waitUntil(lambda: finished(c, 20), timeout=WAIT_MS)
    finally:
        SlowColorizer.delay = 0.15
    assert c.queue.counts()[DONE] == 20


def test_files_added_during_a_run_are_colorized_too(qtbot, tmp_path, conv_model_path, window_for):
    make_images(tmp_path / "a", 4, 0)
    make_images(tmp_path / "b", 3, 1)
    window = window_for(SlowColorizer(str(conv_model_path)))
    c = window.controller
    c.add_paths([str(tmp_path / "a")])
    assert c.running
    drop(window, [tmp_path / "b"])
    assert c.queue.rowCount() == 7
    qtbot.waitUntil(lambda: finished(c, 7), timeout=WAIT_MS)
    assert c.queue.counts()[DONE] == 6 and c.queue.counts()[ERROR] == 1


def test_closing_the_window_mid_run_cancels_and_joins(qtbot, tmp_path, conv_model_path):
    make_images(tmp_path / "in", 20, 0)
    window = MainWindow(ColorizeController(SlowColorizer(str(conv_model_path))))
    qtbot.addWidget(window)
    window.show()
    c = window.controller
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: c.queue.counts()[DONE] >= 1, timeout=WAIT_MS)
    assert c.running
    t0 = time.monotonic()
    assert window.close()
    assert time.monotonic() - t0 < 5.0
    assert c.runner.pool.activeThreadCount() == 0
    assert c.queue.counts()[RUNNING] == 0
    assert c.queue.counts()[DONE] < 20
    qtbot.wait(50)  # late queued signals are harmless


def test_worker_reports_unexpected_errors_and_runner_joins(qtbot):
    runner = TaskRunner()
    seen = {}

    def boom(progress, cancel):
        raise ValueError("kaput")

    w = Worker(boom)
    w.signals.error.connect(lambda msg, tb: seen.setdefault("error", msg))  # connected before it can fire
    with qtbot.waitSignal(w.signals.finished, timeout=WAIT_MS):
        runner.start(w)
    assert "kaput" in seen["error"]

    def slow(progress, cancel):
        for _ in range(1000):
            progress.step(1)
            cancel.wait(0.01)
        return "never"

    w = runner.run(slow)
    qtbot.wait(50)
    assert runner.shutdown(5000)
    assert w.done


def test_colorize_queue_without_qt(tmp_path, conv_model_path):
    """The queue function is plain Python: per-file errors become states, cancel stops it."""
    good, bad = make_images(tmp_path / "in", 5, 2)
    updates = []
    progress = Progress()
    jobs = [QueueJob(i, p) for i, p in enumerate(good + bad)]
    out = run_to_end(colorize_queue(progress, progress.cancel_token, Colorizer(str(conv_model_path)), jobs),
                     updates.append)
    assert [s for _, s in out] == ["done"] * 3 + ["error"] * 2
    assert [u.state for u in updates] == ["running", "done"] * 3 + ["running", "error"] * 2
    errors = [u.reason for u in updates if u.state == "error"]
    assert len(errors) == 2 and all(errors)
    done = [u for u in updates if u.state == "done"]
    # the source's metadata travels with each prediction, so an export never reads the file again
    assert all(u.prediction is not None and u.source.path == good[i] and u.source.format == "PNG"
               for i, u in enumerate(done))

    cancelled = Progress()
    cancelled.cancel_token.cancel()
    with pytest.raises(Cancelled):
        run_to_end(colorize_queue(cancelled, cancelled.cancel_token, Colorizer(str(conv_model_path)), jobs))


# -- temperature ---------------------------------------------------------------------------------

def test_slider_mapping_is_finer_at_low_T():
    assert position_to_T(0) == pytest.approx(0.01)
    assert position_to_T(1000) == pytest.approx(1.0)
    for T in (0.01, 0.05, 0.2, 0.38, 0.7, 1.0):
        assert position_to_T(T_to_position(T)) == pytest.approx(T, abs=2e-3)
    low = position_to_T(100) - position_to_T(0)
    high = position_to_T(1000) - position_to_T(900)
    assert low < high / 5


def test_moving_the_slider_changes_pixels_without_inference(qtbot, tmp_path, known_model, window_for):
    make_images(tmp_path / "in", 2, 0)
    window = window_for(Colorizer(str(known_model)))
    c = window.controller
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: finished(c, 2), timeout=WAIT_MS)
    assert c.current == 0
    qtbot.waitUntil(lambda: not c.exact_pending, timeout=WAIT_MS)
    slider = window.slider
    assert slider.default_T == pytest.approx(0.38)
    before = window.image_view.image.copy()
    runs = c.colorizer.run_count

    # drag: fast preview while the slider is down, exact render on release
    slider.slider.setSliderDown(True)
    slider.slider.setValue(T_to_position(1.0))
    # drag moves are coalesced: decoded on the next turn of the event loop
    qtbot.waitUntil(lambda: c.T == pytest.approx(1.0, abs=1e-3), timeout=2000)
    dragged = window.image_view.image.copy()
    assert not np.array_equal(dragged, before)
    np.testing.assert_array_equal(dragged, c.prediction.preview(c.T))
    slider.slider.setSliderDown(False)
    exact = c.prediction.preview(c.T, exact=True)
    qtbot.waitUntil(lambda: np.array_equal(window.image_view.image, exact), timeout=WAIT_MS)

    slider.slider.setValue(T_to_position(0.05))  # keyboard-like change: exact
    assert c.T == pytest.approx(0.05, abs=2e-3)
    assert not np.array_equal(window.image_view.image, dragged)
    assert c.colorizer.run_count == runs

    # T is per image; reset goes back to the model's default
    c.set_current(1)
    assert slider.value() == pytest.approx(0.38, abs=2e-3)
    c.set_current(0)
    assert slider.value() == pytest.approx(0.05, abs=2e-3)
    slider.reset_button.click()
    assert c.T == pytest.approx(0.38, abs=2e-3)
    qtbot.waitUntil(lambda: np.array_equal(window.image_view.image, before), timeout=WAIT_MS)
    assert c.colorizer.run_count == runs

    # a T set on the controller (not by the slider) moves the slider too
    c.set_T(0.2)
    assert slider.value() == pytest.approx(0.2, abs=2e-3)


def test_a_stale_exact_render_never_replaces_a_newer_preview(qtbot, tmp_path, known_model, window_for):
    make_images(tmp_path / "in", 1, 0)
    window = window_for(Colorizer(str(known_model)))
    c = window.controller
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: finished(c, 1) and not c.exact_pending, timeout=WAIT_MS)
    c.set_T(0.9, exact=True)
    c.set_T(0.05, exact=False)  # dragging on before the exact render of 0.9 came back
    qtbot.waitUntil(lambda: not c.exact_pending, timeout=WAIT_MS)
    qtbot.wait(50)
    np.testing.assert_array_equal(window.image_view.image, c.prediction.preview(0.05))


# -- distribution dock ----------------------------------------------------------------------------

def test_distribution_dock_shows_the_pixels_probabilities(qtbot, tmp_path, known_model, window_for):
    make_images(tmp_path / "in", 1, 0)
    window = window_for(Colorizer(str(known_model)))
    c = window.controller
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: finished(c, 1), timeout=WAIT_MS)
    pred = c.prediction
    H, W = pred.shape
    img = window.image_view.image
    h, w = img.shape[:2]

    # hovering (in shown-image coordinates) over the bright right side
    window.image_view.hovered.emit(h / 2, w - 3.0)
    y, x = (h / 2) * H / h, (w - 3.0) * W / w
    expected = pred.distribution_at(y, x, c.T)
    np.testing.assert_allclose(window.distribution.probabilities, expected, rtol=1e-5, atol=1e-7)
    assert window.distribution.probabilities.sum() == pytest.approx(1.0, abs=1e-4)

    # pin a dark pixel on the left; hovering elsewhere no longer moves it; T changes are followed
    c.pin(H / 2, 2.0)
    assert len(window.image_view.marker.data) == 1  # the pinned pixel is marked on the image
    window.image_view.hovered.emit(h / 2, w - 3.0)
    expected = pred.distribution_at(H / 2, 2.0, c.T)
    np.testing.assert_allclose(window.distribution.probabilities, expected, rtol=1e-5, atol=1e-7)
    c.set_T(0.9, exact=True)
    expected = pred.distribution_at(H / 2, 2.0, 0.9)
    np.testing.assert_allclose(window.distribution.probabilities, expected, rtol=1e-5, atol=1e-7)
    info = c.distribution_info()
    centers = pred.manifest.bins.centers
    np.testing.assert_allclose(info["mean"], (expected[:, None] * centers).sum(0) / expected.sum(), atol=1e-3)
    np.testing.assert_allclose(info["mode"], centers[np.argmax(expected)])
    # the known-ab model puts dark pixels at negative a*, bright ones at positive a*
    right = pred.distribution_at(H / 2, W - 3.0, 0.9)
    assert (right[:, None] * centers).sum(0)[0] > info["mean"][0]


def test_switching_models_from_the_registry_recolorizes(qtbot, tmp_path, bins, monkeypatch, window_for):
    from onnx_models import conv_model, known_ab_model

    models = tmp_path / "models"
    models.mkdir()
    known = known_ab_model(models / "known.onnx", bins, name="known-ab")
    conv_model(models / "conv.onnx", bins, name="tiny-conv")
    monkeypatch.setenv("POLYCHROME_MODEL_PATH", str(models))
    make_images(tmp_path / "in", 3, 0)
    window = window_for(Colorizer(str(known)))
    c = window.controller
    names = [n for n, _ in c.available_models()]
    assert "known-ab" in names and "tiny-conv" in names
    window._fill_model_menu()
    checked = [a.text() for a in window.model_menu.actions() if a.isChecked()]
    assert len(checked) == 1 and "known-ab" in checked[0]
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: finished(c, 3) and not c.exact_pending, timeout=WAIT_MS)
    old = window.image_view.image.copy()

    action = next(a for a in window.model_menu.actions() if "tiny-conv" in a.text())
    action.trigger()
    assert c.colorizer.manifest.name == "tiny-conv"
    assert "tiny-conv" in window.provider_label.text()
    qtbot.waitUntil(lambda: finished(c, 3) and c.queue.counts()[DONE] == 3, timeout=WAIT_MS)
    assert c.colorizer.run_count >= 3
    qtbot.waitUntil(lambda: window.image_view.image is not None and not c.exact_pending, timeout=WAIT_MS)
    assert not np.array_equal(window.image_view.image, old)
    # a broken model file keeps the current model
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert not c.switch_model(str(bad))
    assert c.colorizer.manifest.name == "tiny-conv"


def test_export_writes_every_image_at_its_own_T_without_inference(qtbot, tmp_path, known_model, window_for):
    make_images(tmp_path / "in", 3, 0)
    window = window_for(Colorizer(str(known_model)))
    c = window.controller
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: finished(c, 3) and not c.exact_pending, timeout=WAIT_MS)
    c.set_current(1)
    c.set_T(0.9, exact=False)
    runs = c.colorizer.run_count
    out = tmp_path / "out"
    out.mkdir()
    dlg = window.export_all()  # the export dialog, as File ▸ Export All opens it
    dlg.folder_edit.setText(str(out))
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        dlg.accept()
    results = sig.args[0]
    assert len(results) == 3 and all(o is not None and not r for _, o, r in results)
    assert c.colorizer.run_count == runs
    written = {row: Path(o) for row, o, _ in results}
    for row, path in written.items():
        assert path.parent == out and path.name.endswith("_color.png")
        it = c.queue.items[row]
        T = 0.9 if row == 1 else c.default_T
        got = imageio.read_image(path).pixels
        np.testing.assert_array_equal(got, it.prediction.render(T, out_dtype=np.uint8))
    # exporting again: the batch record knows it (same model, T, options): nothing rewritten, nothing duplicated
    stamp = written[1].stat().st_mtime_ns
    dlg = window.export_current()
    assert dlg.options()["scope"] == "current" and dlg.options()["out_dir"] == str(out)  # folder remembered
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        dlg.accept()
    (_, again, _), = sig.args[0]
    assert Path(again) == written[1] and written[1].stat().st_mtime_ns == stamp
    # at another T it is another image: a new name, the earlier export is kept
    c.set_T(0.5, exact=False)
    dlg = window.export_current()
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        dlg.accept()
    (_, other, _), = sig.args[0]
    assert Path(other) != written[1] and Path(other).exists() and written[1].stat().st_mtime_ns == stamp
    assert window.export_summary is not None


def test_real_mouse_hover_and_click_on_a_downscaled_preview(qtbot, tmp_path, known_model):
    """End to end: the mouse over the view → image coordinates (preview scaled back to full resolution)."""
    from PySide6.QtTest import QTest

    make_images(tmp_path / "in", 1, 0)  # 40×64
    c = ColorizeController(Colorizer(str(known_model)), max_pixels=20 * 32)  # a half-size preview
    window = MainWindow(c)
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: finished(c, 1) and not c.exact_pending, timeout=WAIT_MS)
    assert window.image_view.image.shape[:2] == (20, 32)
    qtbot.wait(200)  # let the view lay out
    view = window.image_view.graphics
    pos = view.mapFromScene(window.image_view.item.mapToScene(24.5, 10.5))  # preview pixel x=24, y=10
    QTest.mouseMove(view.viewport(), pos)
    qtbot.waitUntil(lambda: c.hover is not None, timeout=5000)
    y, x = c.hover
    assert y == pytest.approx(21, abs=1.0) and x == pytest.approx(49, abs=1.0)
    expected = c.prediction.distribution_at(y, x, c.T)
    np.testing.assert_allclose(window.distribution.probabilities, expected, rtol=1e-5, atol=1e-7)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    qtbot.waitUntil(lambda: c.pinned is not None, timeout=5000)
    assert c.pinned == pytest.approx((y, x), abs=1.0)


def test_only_a_few_predictions_stay_in_memory_and_dropped_ones_come_back(qtbot, tmp_path, known_model):
    make_images(tmp_path / "in", 6, 0)
    c = ColorizeController(Colorizer(str(known_model)), keep=3)
    window = MainWindow(c)
    qtbot.addWidget(window)
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: finished(c, 6), timeout=WAIT_MS)
    assert c.queue.counts()[DONE] == 6
    assert c.held_predictions == 3
    assert c.current == 0 and c.prediction is not None  # the shown image is never dropped
    dropped = [r for r, it in enumerate(c.queue.items) if it.prediction is None]
    runs = c.colorizer.run_count
    c.set_current(dropped[0])  # selecting a dropped image colorizes it again
    qtbot.waitUntil(lambda: finished(c, 6) and c.prediction is not None and not c.exact_pending, timeout=WAIT_MS)
    assert c.colorizer.run_count == runs + 1
    np.testing.assert_array_equal(window.image_view.image, c.prediction.preview(c.T, exact=True))
    assert c.held_predictions == 3
    # export still writes every image (dropped ones are computed again)
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        c.export(None, str(out))
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"img{i:02d}_color.png" for i in range(6))
    assert all(o is not None for _, o, _ in sig.args[0])


# -- the app ----------------------------------------------------------------------------------------

def test_main_opens_and_quits(qtbot, tmp_path, known_model, monkeypatch):
    make_images(tmp_path / "in", 2, 0)
    monkeypatch.setenv("POLYCHROME_DEFAULT_MODEL", str(known_model))
    t0 = time.monotonic()
    assert main(["--quit-after", "300", str(tmp_path / "in")]) == 0
    assert time.monotonic() - t0 < 20
    from polychrome.gui import logfile

    log = Path(os.environ[logfile.ENV]) / "polychrome.log"  # the app writes its log file where it was told
    assert log.is_file() and log == logfile.log_file_path()


def test_no_model_installed_shows_a_message_and_stays_usable(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "shipped_model_dirs", lambda: [])
    make_images(tmp_path / "in", 2, 0)
    window = create_window()
    qtbot.addWidget(window)
    c = window.controller
    assert c.colorizer is None
    assert "No colorization model" in window.provider_label.text()
    assert "No colorization model" in window.image_view.placeholder.text()
    window.add_paths([str(tmp_path / "in")])  # files are listed, nothing runs, nothing crashes
    assert c.queue.rowCount() == 2 and not c.running
    assert c.queue.counts()[QUEUED] == 2
    assert window.close()


def test_excepthook_logs_and_keeps_running(qtbot, caplog):
    hook = ExceptionHook(show_dialog=False).install()
    try:
        import sys

        try:
            raise RuntimeError("surprise")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    finally:
        hook.uninstall()
    assert hook.count == 1
    assert "surprise" in caplog.text


def run_python(code_or_args, env_extra=None, timeout=180):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": os.pathsep.join(
        [str(root / "app"), str(root / "tests"), os.environ.get("PYTHONPATH", "")]), **(env_extra or {})}
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_pyside_passes_bools_through_signals_without_corrupting_refcounts():
    """PySide6 6.12.0 drops a reference to True/False on every bool delivered to a Python slot (Python 3.11):
    the interpreter aborts sooner or later ("bool_dealloc"). Checked in a subprocess so a bad build fails here,
    with a clear message, instead of crashing the test run."""
    code = (
        "import sys\n"
        "from PySide6.QtCore import QObject, Signal, QCoreApplication\n"
        "app = QCoreApplication([])\n"
        "class A(QObject):\n"
        "    s = Signal(bool)\n"
        "a = A(); a.s.connect(lambda v: None)\n"
        "r0 = sys.getrefcount(True)\n"
        "for _ in range(50): a.s.emit(True)\n"
        "print(sys.getrefcount(True) - r0)\n"
    )
    res = run_python(code)
    import PySide6

    assert res.returncode == 0 and res.stdout.strip() == "0", (
        f"PySide6 {PySide6.__version__} corrupts bool refcounts in signals (known in 6.12.0); "
        f"use another version (e.g. PySide6-Essentials<6.12). rc={res.returncode} out={res.stdout!r}"
    )


def test_python_m_polychrome_gui_without_any_model_starts_and_quits(tmp_path):
    empty = tmp_path / "no_models"
    empty.mkdir()
    code = (
        "import sys\n"
        "from polychrome.runtime import registry\n"
        "registry.shipped_model_dirs = lambda: []\n"
        "from polychrome.gui.app import main\n"
        "rc = main(['--quit-after', '800'])\n"
        "from threadpoolctl import threadpool_info\n"
        "print('blas threads', max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'))\n"
        "sys.exit(rc)\n"
    )
    res = run_python(code, {"POLYCHROME_USER_MODELS": str(empty), "OPENBLAS_NUM_THREADS": "2"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Fatal" not in res.stderr
    # the app runs numpy's BLAS on one thread: its idle workers would otherwise spin under every slider move
    assert "blas threads 1" in res.stdout, res.stdout


def test_python_m_polychrome_gui_starts_and_quits(tmp_path, known_model):
    make_images(tmp_path / "in", 2, 1)
    res = run_python(["-m", "polychrome.gui", "--model", str(known_model), "--quit-after", "1500",
                      str(tmp_path / "in")])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Fatal" not in res.stderr


def test_excepthook_dialog_opens_and_the_app_goes_on(qtbot, caplog):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    seen = []

    def close_dialog():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.accept()
        else:
            QTimer.singleShot(50, close_dialog)

    hook = ExceptionHook(show_dialog=True)
    QTimer.singleShot(50, close_dialog)
    try:
        raise KeyError("in a slot")
    except KeyError:
        import sys

        hook(*sys.exc_info())
    assert seen and "in a slot" in seen[0] and "keeps running" in seen[0]
    assert "in a slot" in caplog.text


class WorkerBug(BaseException):
    """Escapes the per-file handling (which catches Exception), as a bug in the queue itself would."""


class BrokenColorizer(Colorizer):
    def predict(self, pixels, progress=None, name=""):
        raise WorkerBug("a bug in the worker")


def test_a_worker_bug_opens_a_dialog_and_the_app_goes_on(qtbot, tmp_path, conv_model_path, window_for, caplog):
    make_images(tmp_path / "in", 3, 0)
    window = window_for(BrokenColorizer(str(conv_model_path)))
    c = window.controller
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: not c.running and window.error_box is not None, timeout=WAIT_MS)
    assert "a bug in the worker" in window.error_box.text()
    assert "a bug in the worker" in caplog.text
    window.error_box.close()
    # the window still works: a good colorizer finishes the (still queued) files
    c.set_colorizer(Colorizer(str(conv_model_path)))
    assert c.start()
    qtbot.waitUntil(lambda: finished(c, 3), timeout=WAIT_MS)
    assert c.queue.counts()[DONE] == 3


def test_selecting_a_failed_row_shows_its_reason(qtbot, tmp_path, conv_model_path, window_for):
    make_images(tmp_path / "in", 3, 1)
    window = window_for(Colorizer(str(conv_model_path)))
    c = window.controller
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: finished(c, 3), timeout=WAIT_MS)
    row = c.queue.rows_in(ERROR)[0]
    window.queue_view.setCurrentIndex(c.queue.index(row))
    assert c.current == row and window.image_view.image is None
    assert c.queue.items[row].reason in window.image_view.placeholder.text()


# -- settings, recent files, preferences, about, navigation ------------------------------------------------------

def test_settings_remember_layout_recent_files_folders_and_start_T(qtbot, tmp_path, known_model):
    from polychrome.gui.settings import AppSettings

    ini = tmp_path / "s.ini"
    imgs = [write_gray(tmp_path / f"g{i}.png", 40, 56) for i in range(3)]
    c = ColorizeController(Colorizer(str(known_model)))
    w = MainWindow(c, AppSettings(str(ini)))
    qtbot.addWidget(w)
    w.resize(720, 540)
    w.add_paths([str(p) for p in imgs[:2]])
    w.add_paths([str(imgs[2])])
    qtbot.waitUntil(lambda: not c.running and c.queue.counts()["done"] == 3, timeout=20000)
    w.distribution.hide()
    w._remember_dir("export", str(tmp_path / "x"))
    w.close()

    s = AppSettings(str(ini))
    assert s.recent_files()[0] == str(imgs[2].resolve())  # newest first
    assert set(s.recent_files()) == {str(p.resolve()) for p in imgs}
    assert s.last_dir("export") == str(tmp_path)
    assert s.last_dir("open") == str(Path.home())  # never set: home
    s.start_T = 0.2
    s.sync()

    c2 = ColorizeController(Colorizer(str(known_model)))
    c2.start_T = AppSettings(str(ini)).start_T
    w2 = MainWindow(c2, AppSettings(str(ini)))
    qtbot.addWidget(w2)
    assert (w2.size().width(), w2.size().height()) == (720, 540)  # geometry restored
    w2.show()
    assert not w2.distribution.isVisible()  # dock layout restored
    assert w2.distribution.toggleViewAction().isChecked() is False
    recent_labels = [a.text() for a in w2.recent_menu.actions() if a.isEnabled()]
    assert recent_labels[0].endswith("g2.png") and "Clear Recent" in recent_labels
    # a recent entry re-opens the file
    w2.recent_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: not c2.running and c2.queue.counts()["done"] == 1, timeout=20000)
    c2.set_current(0)
    assert c2.T == pytest.approx(0.2)  # new images start at the saved start T, not the model's default
    w2.slider.reset()
    assert c2.T == pytest.approx(c2.default_T)
    w2.close()


def test_preferences_dialog_changes_provider_model_and_start_T(qtbot, tmp_path, known_model, bins):
    from polychrome.gui.settings import AppSettings
    from polychrome.gui.widgets.settings_dialog import SettingsDialog

    other = tmp_path / "other.onnx"
    other.write_bytes(Path(known_model).read_bytes())
    c = ColorizeController(Colorizer(str(known_model)))
    settings = AppSettings(str(tmp_path / "s.ini"))
    w = MainWindow(c, settings)
    qtbot.addWidget(w)
    dlg = w.show_preferences()
    assert isinstance(dlg, SettingsDialog)
    assert dlg.provider_combo.itemData(0) == "" and dlg.provider_combo.findData("cpu") > 0
    dlg.provider_combo.setCurrentIndex(dlg.provider_combo.findData("cpu"))
    dlg.t_fixed.setChecked(True)
    dlg.t_spin.setValue(0.25)
    dlg._select(dlg.model_combo, str(other))
    dlg.accept()
    assert c.provider == "cpu" and c.start_T == pytest.approx(0.25)
    assert c.model_path.resolve() == other.resolve()
    assert settings.provider == "cpu" and settings.start_T == pytest.approx(0.25)
    assert settings.model == str(other)
    w.close()


def test_saved_model_is_used_and_a_missing_one_falls_back_to_the_default(qtbot, tmp_path, known_model, monkeypatch):
    from polychrome.gui.app import create_window
    from polychrome.gui.settings import AppSettings

    s = AppSettings(str(tmp_path / "s.ini"))
    s.model = str(known_model)
    w = create_window(settings=s)
    qtbot.addWidget(w)
    assert w.controller.model_path.resolve() == Path(known_model).resolve()
    w.close()
    s.model = str(tmp_path / "gone.onnx")
    monkeypatch.setenv("POLYCHROME_MODEL_PATH", str(Path(known_model).parent))
    w2 = create_window(settings=s)
    qtbot.addWidget(w2)
    assert w2.controller.colorizer is not None  # fell back to a model the registry finds
    w2.close()


def test_about_box_shows_the_model_card_and_licences(qtbot, tmp_path, known_model):
    model = tmp_path / "carded.onnx"
    model.write_bytes(Path(known_model).read_bytes())
    (tmp_path / "carded.md").write_text("# Card\n\nTrained on *test* photos. Licence: CC0.\n")
    c = ColorizeController(Colorizer(str(model)))
    w = MainWindow(c)
    qtbot.addWidget(w)
    dlg = w.show_about()
    text = dlg.model_text.toPlainText()
    assert c.colorizer.manifest.name in text and "Trained on test photos" in text
    assert "Default temperature" in text
    licences = dlg.tabs.widget(2).toPlainText()
    assert "ONNX Runtime" in licences and "LGPL" in licences
    dlg.close()
    w.close()


def test_next_previous_and_slider_drags_are_coalesced(qtbot, tmp_path, known_model):
    imgs = [write_gray(tmp_path / f"n{i}.png", 40, 56) for i in range(3)]
    c = ColorizeController(Colorizer(str(known_model)))
    w = MainWindow(c)
    qtbot.addWidget(w)
    w.add_paths([str(p) for p in imgs])
    qtbot.waitUntil(lambda: not c.running and c.queue.counts()["done"] == 3, timeout=20000)
    c.set_current(0)
    w.next_action.trigger()
    assert c.current == 1
    w.next_action.trigger()
    w.next_action.trigger()
    assert c.current == 2  # stops at the end
    w.previous_action.trigger()
    assert c.current == 1

    qtbot.waitUntil(lambda: not c.exact_pending, timeout=WAIT_MS)  # the exact render of the selection is in
    qtbot.wait(20)
    renders = []
    c.preview_changed.connect(lambda rgb: renders.append(rgb))
    for T in (0.1, 0.2, 0.3, 0.4, 0.5):  # five drag events within one event-loop turn
        w._on_slider_drag(T)
    assert renders == []  # nothing decoded yet
    qtbot.waitUntil(lambda: len(renders) >= 1, timeout=2000)
    qtbot.wait(50)
    assert len(renders) == 1 and c.T == pytest.approx(0.5)  # only the newest T was decoded
    w.close()


def test_the_live_preview_table_is_built_on_a_worker_when_the_app_starts(qtbot, monkeypatch):
    """The fast preview's colour table (about half a second to build) must never be built on the UI thread."""
    import threading

    from polychrome.core import merge

    monkeypatch.setattr(merge, "_TABLE", None)
    built_on = []
    real_build = merge._build_preview_table

    def build():
        built_on.append(threading.current_thread())
        return real_build()

    monkeypatch.setattr(merge, "_build_preview_table", build)
    c = ColorizeController()
    qtbot.waitUntil(merge.preview_table_ready, timeout=WAIT_MS)
    assert len(built_on) == 1 and built_on[0] is not threading.main_thread()
    assert c.shutdown(WAIT_MS)
    ColorizeController().shutdown(WAIT_MS)  # once built, later controllers start nothing more
    assert len(built_on) == 1


def test_the_first_image_shows_before_the_preview_table_is_ready(qtbot, tmp_path, known_model, monkeypatch):
    """An image opened with the app (its table still building) is shown with the exact merge at once; slider moves
    use the fast lookup as soon as the table is there."""
    import threading

    from polychrome.core import merge

    monkeypatch.setattr(merge, "_TABLE", None)
    release = threading.Event()
    real_build = merge._build_preview_table
    monkeypatch.setattr(merge, "_build_preview_table", lambda: (release.wait(WAIT_MS / 1000), real_build())[1])
    make_images(tmp_path / "in", 1, 0)
    c = ColorizeController(Colorizer(str(known_model)))
    shown = []
    c.preview_changed.connect(lambda rgb: shown.append(rgb))
    try:
        c.add_paths([str(tmp_path / "in")])
        qtbot.waitUntil(lambda: finished(c, 1) and shown and shown[-1] is not None, timeout=WAIT_MS)
        assert not merge.preview_table_ready()
        np.testing.assert_array_equal(shown[-1], c.prediction.preview(c.T, exact=True))
    finally:
        release.set()
    qtbot.waitUntil(merge.preview_table_ready, timeout=WAIT_MS)
    c.set_T(0.9)
    np.testing.assert_array_equal(shown[-1], c.prediction.preview(0.9))
    assert not np.array_equal(shown[-1], c.prediction.preview(0.9, exact=True))  # the fast path, not the exact one
    assert c.shutdown(WAIT_MS)
