"""The point-hint tool: the hints file, points reaching the network at the right place and size (source pixels →
model input), undo / redo, the app's tool (placing, moving, removing, suggestions, T without inference, models
without hint inputs), the sidecar of an export and the command line's --hints / batch sidecars."""

import json
from pathlib import Path

import numpy as np
import pytest

from onnx_models import conv_model, hint_model
from polychrome.core import imageio
from polychrome.core.hintsfile import (
    HintPoint,
    HintsFile,
    HintsFileError,
    load_hints,
    patch_size,
    radius_for,
    save_hints,
    sidecar_path,
)
from polychrome.gui.hints.model import HintsModel, gamut_image, in_gamut, suggestions
from polychrome.runtime import steer
from polychrome.runtime.colorizer import Colorizer

# -- the file format ------------------------------------------------------------------------------


def test_hints_file_round_trip_keeps_points_reference_and_strength(tmp_path):
    ref = tmp_path / "refs" / "period.jpg"
    f = HintsFile([HintPoint(120.5, 88.0, 52.0, 38.5, 3.0), HintPoint(0, 0, -20, 10, None)], ref, 0.7)
    path = save_hints(tmp_path / "a.hints.json", f)
    raw = json.loads(path.read_text())
    assert raw["reference"] == "refs/period.jpg"  # relative to the file's folder
    assert raw["points"][1] == {"x": 0.0, "y": 0.0, "ab": [-20.0, 10.0]}
    back = load_hints(path)
    assert back.points == f.points
    assert back.reference == ref.resolve() and back.reference_strength == pytest.approx(0.7)
    # unknown keys are ignored, at the top and in points
    raw["future"] = {"x": 1}
    raw["points"][0]["label"] = "door"
    path.write_text(json.dumps(raw))
    assert load_hints(path).points == f.points


@pytest.mark.parametrize("content, field", [
    ("not json", ""),
    ('[1, 2]', ""),
    ('{"points": {}}', "points"),
    ('{"points": [{"x": 1, "y": 2}]}', "points[0].ab"),
    ('{"points": [{"x": "a", "y": 2, "ab": [1, 2]}]}', "points[0].x"),
    ('{"points": [{"x": 1, "y": -2, "ab": [1, 2]}]}', "points[0].y"),
    ('{"points": [{"x": 1, "y": 2, "ab": [1]}]}', "points[0].ab"),
    ('{"points": [{"x": 1, "y": 2, "ab": [1, 500]}]}', "points[0].ab"),
    ('{"points": [{"x": 1, "y": 2, "ab": [1, 2]}, {"x": 1, "y": 2, "ab": [1, 2], "radius": 0}]}',
     "points[1].radius"),
    ('{"points": [], "reference": 5}', "reference"),
    ('{"points": [], "reference_strength": -1}', "reference_strength"),
])
def test_a_bad_hints_file_is_one_error_naming_the_file_and_the_field(tmp_path, content, field):
    path = tmp_path / "bad.hints.json"
    path.write_text(content)
    with pytest.raises(HintsFileError) as e:
        load_hints(path)
    assert str(path) in str(e.value) and e.value.field == field
    if field:
        assert f"({field})" in str(e.value)
    with pytest.raises(HintsFileError, match="not found"):
        load_hints(tmp_path / "missing.json")


def test_radius_in_source_pixels_becomes_the_patch_size_on_the_network_input():
    scale = 256 / 2048  # a 2048-px photo on a 256-px input
    assert patch_size(12.0, scale) == 3
    assert patch_size(0.5, scale) == 1  # at least one input pixel
    assert patch_size(1000.0, scale) == 9  # at most 9
    assert patch_size(None, scale) == 3
    for size in range(1, 10):
        assert patch_size(radius_for(size, scale), scale) == size
    assert sidecar_path("/x/scan.tif") == Path("/x/scan.hints.json")


# -- points reach the network ----------------------------------------------------------------------


@pytest.fixture
def hint_colorizer(tmp_path, bins):
    return Colorizer(hint_model(tmp_path / "hint.onnx", bins), input_size=64)


def moved_cells(pred, base, tol=5.0):
    return set(map(tuple, np.argwhere(np.abs(pred.ab(0.38) - base.ab(0.38)).max(-1) > tol).tolist()))


def test_points_reach_the_network_at_the_right_place_and_size(hint_colorizer):
    gray = np.full((256, 256), 118, np.uint8)  # L* ≈ 50: the model's own colour is neutral
    base = hint_colorizer.predict(gray)  # input 64×64 (scale 1/4), output 16×16 cells of 4 input px
    # radius 8 source px -> a 4-px patch on the input at (16.1, 32.1): rows 14..17, cols 30..33 -> cells 3..4 × 7..8
    pred = steer.with_points(hint_colorizer, base, [HintPoint(x=128, y=64, a=50.0, b=-30.0, radius=8)])
    assert moved_cells(pred, base) == {(3, 7), (3, 8), (4, 7), (4, 8)}
    assert pred.ab(0.38)[3, 7] == pytest.approx([50.0, -30.0], abs=2.0)
    # radius 2 -> a 1-px patch: exactly one cell
    one = steer.with_points(hint_colorizer, base, [HintPoint(x=128, y=64, a=50.0, b=-30.0, radius=2)])
    assert moved_cells(one, base) == {(4, 8)}
    # radius 16 -> an 8-px patch: rows 12..19, cols 28..35 -> cells 3..4 × 7..8 fully and nothing else
    big = steer.with_points(hint_colorizer, base, [HintPoint(x=128, y=64, a=50.0, b=-30.0, radius=16)])
    assert moved_cells(big, base) == {(3, 7), (3, 8), (4, 7), (4, 8)}
    # a point at the bottom-right corner lands in the last cell; one outside the image is refused
    corner = steer.with_points(hint_colorizer, base, [HintPoint(x=255.9, y=255.9, a=-40, b=40, radius=2)])
    assert moved_cells(corner, base) == {(15, 15)}
    with pytest.raises(Exception, match="outside"):
        steer.with_points(hint_colorizer, base, [HintPoint(x=300, y=10, a=0, b=0)])
    assert pred.pixels is base.pixels and pred.L is base.L  # the image is shared, not copied


def test_a_model_without_hint_inputs_refuses_points(tmp_path, bins, gradient_gray):
    col = Colorizer(conv_model(tmp_path / "conv.onnx", bins))
    pred = col.predict(gradient_gray)
    with pytest.raises(Exception, match="does not take colour hints"):
        steer.with_points(col, pred, [HintPoint(5, 5, 10, 10)])


# -- the Qt-free model ---------------------------------------------------------------------------


def test_undo_redo_of_add_move_colour_size_remove_and_clear():
    m = HintsModel(scale=0.25, image_shape=(100, 200))
    m.add(10, 20, 5, 5)
    m.add(50, 60, -5, 30, size=5)
    m.set_color(0, 40, 40)
    m.begin_drag(1)
    for x in range(60, 90, 5):
        m.drag_to(1, 50, x)  # a drag moves many times ...
    assert m.end_drag()
    m.set_size(1, 7)
    m.remove(0)
    m.clear()
    assert m.points == []
    history = []
    while m.can_undo:
        history.append(m.undo_text)
        m.undo()
    assert history == ["Clear Colour Points", "Remove Colour Point", "Change Patch Size", "Move Colour Point",
                       "Change Point Colour", "Add Colour Point", "Add Colour Point"]  # ... one undo step
    assert m.points == []
    for _ in range(5):
        m.redo()
    assert [(p.y, p.x, p.a, p.b, p.size) for p in m.points] == [(10, 20, 40, 40, 3), (50, 85, -5, 30, 7)]
    m.add(1, 1, 0, 0)  # a new edit drops the redo steps
    assert not m.can_redo
    m.add(500, -5, 0, 0)  # clamped onto the image
    assert (m.points[-1].y, m.points[-1].x) == (pytest.approx(100 - 1e-3), 0.0)
    assert m.hit(50, 84, 2) == 1 and m.hit(70, 70, 2) is None
    back = HintsModel.from_extras(m.to_extras(), 0.25, (100, 200))
    assert [(p.y, p.x, p.a, p.b, p.size) for p in back.points] == [
        (pytest.approx(p.y), pytest.approx(p.x), p.a, p.b, p.size) for p in m.points]


def test_suggestions_best_first_and_the_gamut_at_a_lightness(bins):
    p = np.zeros(bins.Q)
    p[[10, 20, 30]] = [0.2, 0.7, 0.1]
    s = suggestions(p, bins.centers)
    assert [round(x[2], 2) for x in s] == [0.7, 0.2, 0.1]
    assert s[0][:2] == tuple(bins.centers[20])
    img = gamut_image(50.0, 64)
    assert img.shape == (64, 64, 4)
    assert img[32, 32, 3] == 255  # neutral exists at every L*
    assert not in_gamut(95.0, 0.0, -80.0)  # a strong blue does not exist that light
    assert in_gamut(30.0, 0.0, -30.0)
    # fewer colours exist near white than at mid-gray
    assert (gamut_image(95.0, 64)[..., 3] > 0).sum() < (img[..., 3] > 0).sum()


# -- the app -----------------------------------------------------------------------------------------

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pytestqt")

WAIT_MS = 30000


@pytest.fixture
def app_window(qtbot, tmp_path):
    made = []

    def make(colorizer, image_shape=(96, 160)):
        from polychrome.gui.main_window import MainWindow
        from polychrome.gui.queue.controller import DONE, ColorizeController
        from polychrome.gui.settings import AppSettings

        w = MainWindow(ColorizeController(colorizer), AppSettings())
        qtbot.addWidget(w)
        made.append(w)
        x = np.linspace(20, 235, image_shape[1], dtype=np.float32)
        img = imageio.write_image(tmp_path / f"gray{len(made)}.png",
                                  np.repeat(x[None, :], image_shape[0], axis=0).astype(np.uint8))
        w.controller.add_paths([str(img)])
        qtbot.waitUntil(lambda: w.controller.queue.counts()[DONE] == 1 and w.controller.prediction is not None,
                        timeout=WAIT_MS)
        return w

    yield make
    for w in made:
        w.hints.shutdown()
        w.controller.shutdown(10000)


def test_placing_a_point_reruns_the_network_and_T_stays_inference_free(qtbot, app_window, hint_colorizer):
    w = app_window(hint_colorizer)
    h = w.hints
    assert h.points_enabled and w.hints_tool_action.isEnabled()
    h.set_active(True)
    base = w.controller.prediction.ab(0.38).copy()  # the fixture adds k·L to a*: compare against it
    runs = hint_colorizer.run_count
    i = h.add_point(48, 80)
    assert i == 0
    qtbot.waitUntil(lambda: not h.busy and getattr(w.controller.prediction, "steered", False), timeout=WAIT_MS)
    assert hint_colorizer.run_count == runs + 1
    info = h.selection_info()
    assert info is not None and len(info["suggestions"]) >= 1
    probs = [s[2] for s in info["suggestions"]]
    assert probs == sorted(probs, reverse=True)
    # choosing a colour re-runs the network with it; the hinted cell takes it
    assert h.set_color(60.0, 40.0)
    qtbot.waitUntil(lambda: not h.busy and w.controller.prediction.ab(0.38)[5, 8][0] > 40, timeout=WAIT_MS)
    assert w.controller.prediction.ab(0.38)[5, 8] - base[5, 8] == pytest.approx([60, 40], abs=3)
    assert w.controller.current_item.extras["hints"]["points"][0]["ab"] == [60.0, 40.0]
    # the T slider decodes the hinted logits: no inference, the hint stays
    runs = hint_colorizer.run_count
    for T in (0.1, 0.5, 0.9):
        w.controller.set_T(T)
        assert w.controller.prediction.ab(T)[5, 8] - base[5, 8] == pytest.approx([60, 40], abs=6)
    assert hint_colorizer.run_count == runs
    # Edit ▸ Undo / Redo (the window's undo group) drive the point history
    assert "Change Point Colour" in w.undo_action.text()
    w.undo_action.trigger()
    qtbot.waitUntil(lambda: not h.busy and w.controller.prediction.ab(0.38)[5, 8][0] < 30, timeout=WAIT_MS)
    assert h.model.points[0].a != 60.0
    w.redo_action.trigger()
    qtbot.waitUntil(lambda: not h.busy and w.controller.prediction.ab(0.38)[5, 8][0] > 40, timeout=WAIT_MS)
    # remove: the cell goes back to the network's own colour
    h.select(0)
    assert h.remove_selected()
    qtbot.waitUntil(lambda: not h.busy and abs(w.controller.prediction.ab(0.38)[5, 8][0]) < 20, timeout=WAIT_MS)
    assert "hints" not in w.controller.current_item.extras


def test_mouse_places_drags_and_removes_points_on_the_image(qtbot, app_window, hint_colorizer):
    from PySide6.QtCore import QPointF, Qt

    w = app_window(hint_colorizer)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    w.compare_view.set_mode("result")
    h, ov = w.hints, w.hints_overlay
    h.set_active(True)
    ov.refresh()

    class Ev:
        def __init__(self, pos, button=Qt.MouseButton.LeftButton, start=False, finish=False, down=None):
            self._pos, self._button, self._start, self._finish = QPointF(*pos), button, start, finish
            self._down = QPointF(*(down or pos))
            self.accepted = None

        def pos(self):
            return self._pos

        def buttonDownPos(self):  # noqa: N802
            return self._down

        def button(self):
            return self._button

        def isStart(self):  # noqa: N802
            return self._start

        def isFinish(self):  # noqa: N802
            return self._finish

        def accept(self):
            self.accepted = True

        def ignore(self):
            self.accepted = False

    shown = w.image_view.image.shape[:2]
    H, W = w.controller.prediction.shape
    ev = Ev((40 * shown[1] / W, 30 * shown[0] / H))
    ov.mouseClickEvent(ev)
    assert ev.accepted and len(h.model.points) == 1
    assert (h.model.points[0].y, h.model.points[0].x) == (pytest.approx(30, abs=0.5), pytest.approx(40, abs=0.5))
    # drag it: one undo step, the network runs once when it is dropped
    qtbot.waitUntil(lambda: not h.busy, timeout=WAIT_MS)
    runs = hint_colorizer.run_count
    start = Ev((40, 30), start=True)
    ov.mouseDragEvent(start)
    assert start.accepted
    for x in (50, 60, 70):
        ov.mouseDragEvent(Ev((x, 30), down=(40, 30)))
    ov.mouseDragEvent(Ev((100, 60), finish=True, down=(40, 30)))
    assert (h.model.points[0].y, h.model.points[0].x) == (pytest.approx(60, abs=0.5), pytest.approx(100, abs=0.5))
    qtbot.waitUntil(lambda: not h.busy, timeout=WAIT_MS)
    assert hint_colorizer.run_count == runs + 1
    # a drag that does not start on a point is left to the view (it pans)
    pan = Ev((10, 80), start=True)
    ov.mouseDragEvent(pan)
    assert pan.accepted is False
    # the wheel over a point changes its patch size
    size = h.model.points[0].size

    class Wheel(Ev):
        def delta(self):
            return 120

    ov.wheelEvent(Wheel((100, 60)))
    assert h.model.points[0].size == size + 1
    # right-click removes it; with the tool off clicks are left to the view (they pin the distribution)
    rc = Ev((100, 60), button=Qt.MouseButton.RightButton)
    ov.mouseClickEvent(rc)
    assert rc.accepted and h.model.points == []
    h.set_active(False)
    off = Ev((40, 30))
    ov.mouseClickEvent(off)
    assert off.accepted is False and h.model.points == []


def test_load_hints_and_a_model_without_hint_inputs(qtbot, app_window, tmp_path, bins):
    col = Colorizer(conv_model(tmp_path / "conv.onnx", bins))
    w = app_window(col)
    h = w.hints
    assert not h.points_enabled and not w.hints_tool_action.isEnabled()
    assert "no colour-hint inputs" in h.points_reason
    assert not w.hints_dock.panel.tool_button.isEnabled()
    assert w.hints_dock.panel.reason_label.text() == h.points_reason
    assert h.add_point(10, 10) is None and h.model.points == []


def test_file_load_hints_and_export_sidecar(qtbot, app_window, hint_colorizer, tmp_path):
    w = app_window(hint_colorizer)
    h = w.hints
    path = save_hints(tmp_path / "in.hints.json", HintsFile([HintPoint(80, 48, -30.0, 50.0, 10.0)]))
    assert h.load_file(str(path))
    qtbot.waitUntil(lambda: not h.busy and w.controller.prediction.ab(0.38)[5, 8][1] > 40, timeout=WAIT_MS)
    assert h.model.points[0].size == patch_size(10.0, h.model.scale)
    bad = tmp_path / "bad.hints.json"
    bad.write_text('{"points": [{"x": 1}]}')
    assert not h.load_file(str(bad))
    far = save_hints(tmp_path / "far.hints.json", HintsFile([HintPoint(5000, 5, 0, 0)]))
    assert not h.load_file(str(far)) and len(h.model.points) == 1
    out = tmp_path / "out"
    out.mkdir()
    worker = w.controller.export(out_dir=str(out), format="png")
    qtbot.waitUntil(lambda: worker.done, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: any(out.glob("*.hints.json")), timeout=WAIT_MS)
    [img] = [p for p in out.glob("*.png")]
    side = sidecar_path(img)
    back = load_hints(side)
    assert [(p.x, p.y, p.a, p.b) for p in back.points] == [(80, 48, -30.0, 50.0)]


# -- the command line ----------------------------------------------------------------------------------


def _lab_at(path, y, x):
    from polychrome.core.color import srgb_to_lab

    px = imageio.read_image(path).pixels
    if px.ndim == 2:  # a neutral result is written as a gray image
        px = np.repeat(px[..., None], 3, axis=2)
    return srgb_to_lab(px[y:y + 1, x:x + 1])[0, 0]


def test_cli_hints_for_one_input_and_sidecars_in_a_batch(tmp_path, bins, capsys):
    from polychrome.cli.main import main

    model = hint_model(tmp_path / "hint.onnx", bins)
    src = tmp_path / "in"
    src.mkdir()
    gray = np.full((128, 128), 118, np.uint8)
    a = imageio.write_image(src / "a.png", gray)
    b = imageio.write_image(src / "b.png", gray)
    hints = save_hints(tmp_path / "h.json", HintsFile([HintPoint(64, 64, 50.0, -30.0, 6.0)]))
    base = ["colorize", "--model", str(model), "--input-size", "64", "--no-progress", "--format", "png"]
    assert main([*base, str(a), "-o", str(tmp_path / "plain")]) == 0
    assert main([*base, str(a), "-o", str(tmp_path / "hinted"), "--hints", str(hints)]) == 0
    plain = _lab_at(tmp_path / "plain" / "a_color.png", 64, 64)
    hinted = _lab_at(tmp_path / "hinted" / "a_color.png", 64, 64)
    assert abs(plain[1]) < 5 and hinted[1] > 30 and hinted[2] < -15
    # far from the point nothing changes
    assert _lab_at(tmp_path / "hinted" / "a_color.png", 5, 5)[1:] == pytest.approx(
        _lab_at(tmp_path / "plain" / "a_color.png", 5, 5)[1:], abs=2)
    # --hints is for one input
    assert main([*base, str(a), str(b), "-o", str(tmp_path / "x"), "--hints", str(hints)]) == 2
    # a batch picks up <stem>.hints.json beside an input; a bad one fails that file only
    save_hints(sidecar_path(a), HintsFile([HintPoint(64, 64, -40.0, 40.0, 6.0)]))
    (src / "b.hints.json").write_text('{"points": [{"x": 1, "y": 1, "ab": "red"}]}')
    capsys.readouterr()
    assert main([*base, str(src), "-o", str(tmp_path / "batch")]) == 1
    assert "2 input(s) steered by the hints file beside them (a.hints.json, b.hints.json)" in capsys.readouterr().err
    side = _lab_at(tmp_path / "batch" / "a_color.png", 64, 64)
    assert side[1] < -25 and side[2] > 25
    assert not (tmp_path / "batch" / "b_color.png").exists()


def test_cli_reference_moves_colours_without_hint_inputs(tmp_path, bins):
    from onnx_models import known_ab_model
    from polychrome.cli.main import main

    model = known_ab_model(tmp_path / "broad.onnx", bins, alpha=0.001)
    img = imageio.write_image(tmp_path / "g.png", np.full((64, 96), 118, np.uint8))
    ref = imageio.write_image(tmp_path / "ref.png", np.broadcast_to(np.array([40, 90, 200], np.uint8),
                                                                     (20, 20, 3)).copy())
    base = ["colorize", str(img), "--model", str(model), "--input-size", "64", "--no-progress", "--format", "png"]
    assert main([*base, "-o", str(tmp_path / "plain")]) == 0
    assert main([*base, "-o", str(tmp_path / "ref"), "--reference", str(ref), "--reference-strength", "1.5"]) == 0
    plain = _lab_at(tmp_path / "plain" / "g_color.png", 30, 40)
    moved = _lab_at(tmp_path / "ref" / "g_color.png", 30, 40)
    assert moved[2] < plain[2] - 15  # toward the blue reference
    assert main([*base, "-o", str(tmp_path / "bad"), "--reference", str(tmp_path / "missing.jpg")]) == 2


def test_a_reference_leaves_the_cells_of_colour_points_alone(tmp_path, bins):
    col = Colorizer(hint_model(tmp_path / "broad_hint.onnx", bins, alpha=0.001), input_size=64)
    base = col.predict(np.full((256, 256), 118, np.uint8))
    hinted = steer.with_points(col, base, [HintPoint(x=128, y=64, a=50.0, b=-30.0, radius=8)])
    ref = steer.reference_for(col, np.broadcast_to(np.array([40, 150, 60], np.uint8), (8, 8, 3)).copy(), hinted)
    out = steer.with_reference(hinted, ref, 1.5)
    assert out.ab(0.38)[3:5, 7:9] == pytest.approx(hinted.ab(0.38)[3:5, 7:9], abs=1e-3)  # the point's cells
    assert out.ab(0.38)[12, 2][0] < hinted.ab(0.38)[12, 2][0] - 15  # elsewhere: toward the green reference


def test_hints_kept_on_the_queue_item_are_applied_when_it_is_colorized(qtbot, tmp_path, hint_colorizer):
    """A restored session brings each image's extras back before it is colorized: its points steer the result."""
    from polychrome.gui.main_window import MainWindow
    from polychrome.gui.queue.controller import DONE, ColorizeController

    w = MainWindow(ColorizeController(hint_colorizer))
    qtbot.addWidget(w)
    img = imageio.write_image(tmp_path / "g.png", np.full((96, 160), 118, np.uint8))
    w.controller.add_paths([str(img)], start=False)
    w.controller.queue.items[0].extras["hints"] = {"points": [{"x": 80, "y": 48, "ab": [-30.0, 50.0], "radius": 4}]}
    w.controller.start()
    try:
        qtbot.waitUntil(lambda: w.controller.queue.counts()[DONE] == 1, timeout=WAIT_MS)
        w.controller.set_current(0)
        qtbot.waitUntil(lambda: getattr(w.controller.prediction, "steered", False) and not w.hints.busy,
                        timeout=WAIT_MS)
        assert len(w.hints.model.points) == 1 and w.hints.model.points[0].b == 50.0
        assert w.controller.prediction.ab(0.38)[5, 8][1] > 40
    finally:
        w.hints.shutdown()
        w.controller.shutdown(10000)
