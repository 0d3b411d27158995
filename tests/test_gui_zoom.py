"""Zoom and the 100 % view (pytest-qt, offscreen): View ▸ Fit / 100 % / Zoom In / Zoom Out and their shortcuts change
the view's scale, double-click toggles Fit / 100 %, the status bar reads the zoom; at 100 % a 24 MP scan shows its
own full-resolution pixels (the screen grabbed and compared with the export's merge); the T slider stays live over
tiles; side by side stacks landscape photos; the first window fits a 1920×1080 screen at 150 % and 200 %."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from polychrome.core import imageio  # noqa: E402
from polychrome.core.merge import merge_full_resolution  # noqa: E402
from polychrome.gui.compare.view import CompareView  # noqa: E402
from polychrome.gui.main_window import MainWindow  # noqa: E402
from polychrome.gui.queue.controller import ColorizeController  # noqa: E402
from polychrome.gui.widgets.image_view import zoom_text  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WAIT_MS = 120000


def scan(path: Path, h: int, w: int, seed: int = 0) -> Path:
    """A gray scan with detail at every scale: soft shapes plus fine lines and grain (what 100 % is for)."""
    rng = np.random.default_rng(seed)
    small = cv2.resize(rng.uniform(30, 220, (12, 18)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    lines = 40.0 * (((xx + yy) // 3) % 2) - 20.0  # a 3-pixel stripe pattern the preview cannot hold
    grain = rng.normal(0, 6, (h, w))
    img = np.clip(small + lines + grain, 0, 255).astype(np.uint8)
    return imageio.write_image(path, img)


def double_click(widget, pos):
    """A real double-click: press, release, then the double-click press and its release."""
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    QTest.mouseDClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)


def grab(view) -> np.ndarray:
    """What the panel's viewport draws, as uint8 RGB (device pixels)."""
    img = view.graphics.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    return np.frombuffer(bytes(img.constBits()), np.uint8).reshape(h, bpl)[:, : w * 3].reshape(h, w, 3).copy()


@pytest.fixture
def window(qtbot, known_model):
    made = []

    def make(path: Path, max_pixels=None, size=(1000, 700)):
        c = ColorizeController(Colorizer(str(known_model)), max_pixels=max_pixels)
        win = MainWindow(c)
        qtbot.addWidget(win)
        win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        c.add_paths([str(path)])
        qtbot.waitUntil(lambda: not c.running and c.prediction is not None and not c.exact_pending, timeout=WAIT_MS)
        qtbot.wait(50)
        made.append(win)
        return win

    yield make
    for win in made:
        win.controller.shutdown()
        win.tiles.shutdown()


def settle(qtbot, win):
    qtbot.wait(20)
    qtbot.waitUntil(lambda: not win.tiles.busy, timeout=WAIT_MS)


def test_zoom_actions_and_shortcuts_change_the_view_scale(window, tmp_path, qtbot):
    win = window(scan(tmp_path / "scan.png", 900, 1400), max_pixels=300_000)
    v, view = win.compare_view, win.compare_view.result_view
    assert view.full_shape == (900, 1400) and view.image.shape[:2] != (900, 1400)  # a preview of the scan
    def fit_zoom():  # the whole scan in the panel, touching it on one axis
        return min(view.viewbox.width() / 1400, view.viewbox.height() / 900) * view.device_pixel_ratio()

    fit = v.zoom
    assert view.fitted and 0.2 < fit < 1.0 and fit == pytest.approx(fit_zoom(), rel=1e-6)
    assert win.zoom_label.text() == zoom_text(fit)
    win.zoom_100_action.trigger()
    assert v.zoom == pytest.approx(1.0, abs=1e-9) and not view.fitted
    qtbot.waitUntil(lambda: win.zoom_label.text().startswith("100 %"), timeout=5000)
    win.resize(1100, 760)  # a resize keeps 100 % (and a fitted view fitted)
    qtbot.waitUntil(lambda: view.viewbox.width() > 0 and v.zoom == pytest.approx(1.0, abs=1e-9), timeout=5000)
    win.zoom_in_action.trigger()
    assert v.zoom == pytest.approx(1.5)
    win.zoom_in_action.trigger()
    assert v.zoom == pytest.approx(2.0)
    win.zoom_out_action.trigger()
    win.zoom_out_action.trigger()
    win.zoom_out_action.trigger()
    assert v.zoom == pytest.approx(2 / 3)
    win.fit_action.trigger()
    assert v.zoom == pytest.approx(fit_zoom(), rel=1e-6) and view.fitted
    # the standard shortcuts
    assert win.fit_action.shortcut().toString() == "Ctrl+0"
    assert win.zoom_100_action.shortcut().toString() == "Ctrl+1"
    assert "Ctrl++" in [k.toString() for k in win.zoom_in_action.shortcuts()]
    assert win.zoom_out_action.shortcut().toString() == "Ctrl+-"
    win.activateWindow()
    qtbot.waitActive(win)
    view.graphics.setFocus()
    QTest.keyClick(view.graphics, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: v.zoom == pytest.approx(1.0), timeout=5000)
    QTest.keyClick(view.graphics, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.fitted, timeout=5000)
    # double-click: 100 % around the pixel clicked, again: fit; no pixel gets pinned on the way
    g = view.graphics
    target = (300.0, 1000.0)  # (y, x) in the scan
    pos = g.mapFromScene(view.viewbox.mapViewToScene(view.to_view(*[t * s for t, s in zip(
        target, (view.image.shape[0] / 900, view.image.shape[1] / 1400))])))
    double_click(g.viewport(), pos)
    qtbot.waitUntil(lambda: v.zoom == pytest.approx(1.0), timeout=5000)
    (x0, x1), (y0, y1) = view.viewbox.viewRange()
    assert (x0 + x1) / 2 == pytest.approx(target[1], abs=2) and (y0 + y1) / 2 == pytest.approx(target[0], abs=2)
    double_click(g.viewport(), pos)
    qtbot.waitUntil(lambda: view.fitted, timeout=5000)
    qtbot.wait(700)  # past the double-click interval: a single click would have pinned by now
    assert win.controller.pinned is None


def test_a_single_click_still_pins_after_the_double_click_interval(window, tmp_path, qtbot):
    win = window(scan(tmp_path / "scan.png", 200, 300))
    view = win.compare_view.result_view
    g = view.graphics
    pos = g.mapFromScene(view.item.mapToScene(150.5, 100.5))
    QTest.mouseClick(g.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    assert win.controller.pinned is None  # not yet: it might be the first click of a double-click
    qtbot.waitUntil(lambda: win.controller.pinned is not None, timeout=5000)
    assert win.controller.pinned == pytest.approx((100.5, 150.5), abs=1)
    assert view.fitted  # a click does not zoom


def test_100_percent_of_a_24_mp_scan_shows_its_full_resolution_pixels(window, tmp_path, qtbot):
    H, W = 4000, 6000
    win = window(scan(tmp_path / "big.png", H, W, seed=3), size=(1100, 750))
    c, v, view = win.controller, win.compare_view, win.compare_view.result_view
    pred = c.prediction
    assert pred.shape == (H, W)
    assert view.image.shape[0] * view.image.shape[1] <= 2_100_000  # the view holds the ≈ 2 MP preview
    export = merge_full_resolution(pred.pixels, pred.ab(c.T), np.uint8)  # what an export writes

    def compare_at(center):
        view.zoom_100(center)
        settle(qtbot, win)
        assert v.zoom == pytest.approx(1.0, abs=1e-9)
        assert win.tiles.status == "full" and view.tiles
        assert "100 %" in win.zoom_label.text() and "full resolution" in win.zoom_label.text()
        shot = grab(view)
        (x0, x1), (y0, y1) = view.viewbox.viewRange()
        top, left = int(round(y0)), int(round(x0))
        assert abs(y0 - top) < 1e-6 and abs(x0 - left) < 1e-6  # image pixels on device pixels
        corner = view.graphics.mapFromScene(view.viewbox.mapViewToScene(QPointF(left, top)))
        assert (corner.x(), corner.y()) == (0, 0)  # the image starts at the panel's corner
        hh, ww = shot.shape[:2]
        want = export[top : top + hh, left : left + ww]
        diff = np.abs(shot[: want.shape[0], : want.shape[1]].astype(int) - want.astype(int))
        return diff, shot, (top, left)

    diff, shot, (top, left) = compare_at((1234.0, 4321.0))
    assert (diff <= 1).mean() > 0.998, f"{(diff > 1).mean():.4f} of the pixels differ from the export's"
    assert (diff > 12).mean() < 1e-4  # a rare pixel at the gamut's edge
    # the preview alone, magnified, is far from that (what the view showed before: blocks)
    view.clear_tiles()
    qtbot.wait(50)
    blocks = grab(view)
    want = export[top : top + blocks.shape[0], left : left + blocks.shape[1]]
    assert np.abs(blocks[: want.shape[0], : want.shape[1]].astype(int) - want.astype(int)).mean() > 4
    # an edge of the scan: the last tile is cut to the image
    diff, _shot, _ = compare_at((H - 10.0, W - 10.0))
    assert (diff <= 1).mean() > 0.998


def test_the_T_slider_stays_live_at_100_percent_and_the_tiles_follow(window, tmp_path, qtbot):
    win = window(scan(tmp_path / "scan.png", 1500, 2000), max_pixels=400_000)
    c, v, view = win.controller, win.compare_view, win.compare_view.result_view
    v.zoom_100()
    settle(qtbot, win)
    before = {k: item.image for k, item in view.tiles.items()}
    assert before and all(k[1] == pytest.approx(c.T) for k in before)
    made = win.tiles.rendered
    c.drag_T(0.9)  # a slider drag: the preview follows at once, the old T's tiles are off
    qtbot.waitUntil(lambda: c.T == pytest.approx(0.9), timeout=5000)
    assert not view.tiles and "refining" in win.zoom_label.text()
    settle(qtbot, win)
    assert view.tiles and all(k[1] == pytest.approx(0.9) for k in view.tiles)
    assert win.tiles.rendered > made
    key = next(iter(view.tiles))
    rect = win.tiles.rect_of(key[2], key[3])
    y0, x0, y1, x1 = rect
    export = merge_full_resolution(c.prediction.pixels, c.prediction.ab(0.9), np.uint8)[y0:y1, x0:x1]
    d = np.abs(view.tiles[key].image.astype(int) - export.astype(int))
    assert (d <= 1).mean() > 0.998 and (d > 12).mean() < 1e-4
    # panning at 100 % asks only for the tiles it lacks; coming back costs nothing (cached)
    made = win.tiles.rendered
    view.viewbox.translateBy(x=700.0)
    settle(qtbot, win)
    assert win.tiles.rendered > made
    made = win.tiles.rendered
    view.viewbox.translateBy(x=-700.0)
    settle(qtbot, win)
    assert win.tiles.rendered == made and win.tiles.status == "full"
    # zoomed out below the preview's scale: no tiles
    win.fit_action.trigger()
    settle(qtbot, win)
    assert not view.tiles and win.tiles.status == ""


def test_side_by_side_stacks_landscape_photos_when_that_is_larger(qtbot):
    v = CompareView()
    qtbot.addWidget(v)
    v.resize(1200, 800)
    v.show()
    qtbot.waitExposed(v)
    wide = np.zeros((200, 600, 3), np.uint8)
    v.set_views({"result": wide, "gray": wide, "truth": None, "has_truth": False, "full_shape": (2000, 6000)})
    v.set_mode("side by side")
    qtbot.wait(50)
    assert v.side_layout.direction() == v.side_layout.Direction.TopToBottom  # 3:1 photos: one above the other
    assert v.gray_view.width() > 1000
    tall = np.zeros((600, 400, 3), np.uint8)
    v.set_views({"result": tall, "gray": tall, "truth": None, "has_truth": False, "full_shape": (600, 400)})
    qtbot.wait(50)
    assert v.side_layout.direction() == v.side_layout.Direction.LeftToRight  # portrait: side by side
    assert v.gray_view.width() < 700
    # zoom in side by side acts on the linked panels; 100 % is the same in both
    v.zoom_100()
    assert v.side_result_view.zoom == pytest.approx(1.0) and v.gray_view.zoom == pytest.approx(1.0, rel=1e-3)


SCREEN_JSON = {"synchronousWindowSystemEvents": False, "windowFrameMargins": False,
               "screens": [{"name": "S", "x": 0, "y": 0, "width": 1920, "height": 1080, "logicalDpi": 96,
                            "logicalBaseDpi": 96, "dpr": 1}]}

FIT_CODE = """
import json
from PySide6.QtWidgets import QApplication
from polychrome.gui.app import create_window
from polychrome.gui.settings import AppSettings
app = QApplication([])
win = create_window(settings=AppSettings())
win.show()
app.processEvents()
s = win.screen()
g, a = win.frameGeometry(), s.availableGeometry()
print(json.dumps({"win": [g.x(), g.y(), g.width(), g.height()], "avail": [a.x(), a.y(), a.width(), a.height()],
                  "dpr": s.devicePixelRatio(), "menu": win.menuBar().isVisible(),
                  "status": win.statusBar().geometry().bottom() <= win.height()}))
win.close()
"""


@pytest.mark.parametrize("factor", [1.0, 1.5, 2.0])
def test_the_first_window_fits_a_1920x1080_screen_at_any_scale_factor(tmp_path, factor):
    cfg = tmp_path / "screen.json"
    cfg.write_text(json.dumps(SCREEN_JSON))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={cfg}", "QT_SCALE_FACTOR": str(factor),
           "POLYCHROME_SETTINGS": str(tmp_path / "fresh.ini"), "PYTHONPATH": str(ROOT / "app")}
    res = subprocess.run([sys.executable, "-c", FIT_CODE], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    x, y, w, h = out["win"]
    ax, ay, aw, ah = out["avail"]
    assert out["dpr"] == pytest.approx(factor)
    assert (aw, ah) == (round(1920 / factor), round(1080 / factor))
    assert ax <= x and ay <= y and x + w <= ax + aw and y + h <= ay + ah, out  # slider and status bar on screen
    assert w * factor <= 1920 and h * factor <= 1080
    assert w >= 0.75 * min(aw, 1400) and h >= 0.75 * min(ah, 900)  # and still uses the room there is
    assert out["status"]


HIDPI_CODE = """
import json, sys
import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from polychrome.gui.widgets.image_view import ImageView
app = QApplication([])
rng = np.random.default_rng(0)
full = rng.integers(0, 256, (600, 900, 3), dtype=np.uint8)  # every pixel its own: any resampling shows
v = ImageView()
v.resize(400, 300)
v.show()
app.processEvents()
v.set_full_shape((600, 900))
v.set_image(np.ascontiguousarray(full[::3, ::3]))  # a 1/3 preview
v.show_tile("all", (0, 0, 600, 900), full)  # full-resolution pixels over it
v.zoom_100((300.0, 450.0))
app.processEvents()
img = v.graphics.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
w, h, bpl = img.width(), img.height(), img.bytesPerLine()
shot = np.frombuffer(bytes(img.constBits()), np.uint8).reshape(h, bpl)[:, : w * 3].reshape(h, w, 3)
(x0, x1), (y0, y1) = v.viewbox.viewRange()
top, left = int(round(y0)), int(round(x0))
want = full[top : top + h, left : left + w]
same = float((shot[: want.shape[0], : want.shape[1]] == want).all(-1).mean())
vp = v.graphics.viewport()
print(json.dumps({"zoom": v.zoom, "dpr": v.device_pixel_ratio(), "grab": [w, h], "logical": [vp.width(), vp.height()],
                  "same": same}))
"""


@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_100_percent_is_one_image_pixel_per_device_pixel_on_a_scaled_desktop(tmp_path, factor):
    cfg = tmp_path / "screen.json"
    cfg.write_text(json.dumps(SCREEN_JSON))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={cfg}", "QT_SCALE_FACTOR": str(factor),
           "PYTHONPATH": str(ROOT / "app")}
    res = subprocess.run([sys.executable, "-c", HIDPI_CODE], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["dpr"] == pytest.approx(factor) and out["zoom"] == pytest.approx(1.0)
    assert out["grab"][0] == pytest.approx(out["logical"][0] * factor, abs=1)  # device pixels grabbed
    assert out["same"] > 0.99, out  # the image's own pixels, one per device pixel
