"""The Compare feature (pytest-qt, offscreen): metrics against the ground truth that equal core.metrics, following T
without queueing work, curves over T on a worker, linked side-by-side views, the wipe divider, the ΔE and entropy
maps, and gray inputs (no ground truth)."""

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from polychrome.core import imageio  # noqa: E402
from polychrome.core.color import lab_to_srgb  # noqa: E402
from polychrome.core.metrics import METRIC_INFO, compute_all, delta_e_map  # noqa: E402
from polychrome.gui.compare import model as compare_mod  # noqa: E402
from polychrome.gui.compare.controller import (  # noqa: E402
    CURVE_TEMPERATURES,
    DELTA_E_COLORMAP,
    DELTA_E_RANGE,
    ENTROPY_COLORMAP,
    CompareController,
    apply_colormap,
    colormap_lut,
    format_metric,
    has_ground_truth,
)
from polychrome.gui.compare.metrics_panel import GRAY, MetricsPanel  # noqa: E402
from polychrome.gui.compare.view import CompareView  # noqa: E402
from polychrome.gui.queue.controller import DONE, ColorizeController  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402

WAIT_MS = 60000
METRIC_PIXELS = 1500  # the 60×96 test photos are measured at 30×48: the downscaling path is exercised
H, W = 60, 96


def colour_photo(path: Path, hue: float = 0.0) -> Path:
    """A colour photo whose a* grows with the lightness (as the known-ab model predicts) plus a b* wave."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    lab = np.stack([30 + 50 * xx / W, 60 * (xx / W - 0.5), 30 * np.sin(yy / 9 + hue)], -1)
    rgb = (np.clip(lab_to_srgb(lab), 0, 1) * 255 + 0.5).astype(np.uint8)
    return imageio.write_image(path, rgb)


def gray_photo(path: Path) -> Path:
    x = np.linspace(20, 235, W, dtype=np.float32)
    return imageio.write_image(path, np.repeat(x[None], H, axis=0).astype(np.uint8))


class Setup:
    """A ColorizeController with the comparison controller, view and panel wired as the main window wires them."""

    def __init__(self, qtbot, model_path, metric_pixels=METRIC_PIXELS, **compare_kw):
        self.qtbot = qtbot
        self.c = ColorizeController(Colorizer(str(model_path)))
        self.compare = CompareController(self.c, metric_pixels=metric_pixels, **compare_kw)
        self.view = CompareView()
        self.panel = MetricsPanel()
        for w in (self.view, self.panel):
            qtbot.addWidget(w)
            w.resize(900, 500)
            w.show()
        self.compare.views_changed.connect(self.view.set_views)
        self.compare.metrics_changed.connect(self.panel.set_metrics)
        self.compare.curves_changed.connect(self.panel.set_curves)
        self.c.temperature_changed.connect(self.panel.set_temperature)
        self.view.overlays_changed.connect(self.compare.set_overlays)
        self.panel.temperature_requested.connect(self.c.set_T)

    def load(self, *paths):
        self.c.add_paths([str(p) for p in paths])
        self.wait(lambda: self.c.queue.counts()[DONE] == len(paths) and self.c.prediction is not None)

    def wait(self, extra=lambda: True):
        self.qtbot.waitUntil(lambda: not self.c.running and not self.c.exact_pending and not self.compare.busy
                             and extra(), timeout=WAIT_MS)

    def expected(self, T):
        """compute_all, independently: the exact preview at the metric size vs the source resized the same way."""
        pred = self.c.prediction
        result = pred.preview(T, max_pixels=self.compare.metric_pixels, exact=True)
        h, w = result.shape[:2]
        truth = cv2.resize(pred.pixels, (w, h), interpolation=cv2.INTER_AREA)
        return result, truth, compute_all(result, truth).to_dict()

    def close(self):
        self.compare.shutdown(10000)
        self.c.shutdown(10000)


@pytest.fixture
def setup(qtbot, conv_model_path):
    """A tiny random conv net: its colours depend strongly on T (vivid modes at low T, grayish means at T = 1)."""
    made = []

    def make(**kw):
        s = Setup(qtbot, conv_model_path, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def assert_panel_shows(panel, expected):
    for name, value in expected.items():
        assert panel.values[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        assert panel.cell_text(name) == format_metric(name, value)


# -- metrics -----------------------------------------------------------------------------------------------

def test_metrics_panel_equals_core_metrics(setup, tmp_path):
    s = setup()
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait()
    assert s.compare.has_truth
    assert s.compare.metric_size == (30, 48)
    T = s.c.T
    assert T == pytest.approx(0.38)
    result, truth, expected = s.expected(T)
    assert result.shape == (30, 48, 3)
    assert 8 < expected["psnr"] < 60 and 0 < expected["ssim"] < 1 and 0 < expected["auc"] < 1
    assert expected["delta_e"] > 1 and expected["colorfulness_gt"] > 10
    assert_panel_shows(s.panel, expected)
    assert s.panel.shown_T == T
    assert not s.panel.message.isVisibleTo(s.panel)
    # the gray input's own scores, for reference
    gray = s.c.prediction.gray_preview(s.compare.metric_pixels)
    base = compute_all(gray, truth).to_dict()
    for name, value in base.items():
        assert s.panel.baseline[name] == pytest.approx(value, rel=1e-9)
        assert s.panel.cell_text(name, GRAY) == format_metric(name, value)
    assert base["colorfulness"] == pytest.approx(0.0, abs=1e-6) and expected["colorfulness"] > 10
    assert base["delta_e"] != pytest.approx(expected["delta_e"])


def test_changing_T_updates_the_panel_and_moves_the_marker(setup, tmp_path):
    s = setup()
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait()
    before = dict(s.panel.values)
    s.c.set_T(0.9, exact=True)
    assert s.panel.t_marker.value() == pytest.approx(0.9)  # at once, before any metric
    s.wait()
    _, _, expected = s.expected(0.9)
    assert_panel_shows(s.panel, expected)
    assert s.panel.shown_T == pytest.approx(0.9)
    assert expected["colorfulness"] < before["colorfulness"]  # T → 1 is the grayer mean
    assert s.panel.values["delta_e"] != pytest.approx(before["delta_e"])
    # the red dot on the plot sits on the current T's value of the chosen metric
    s.panel.set_metric("delta_e")
    x, y = s.panel.current_point.getData()
    assert list(x) == [pytest.approx(0.9)] and list(y) == [pytest.approx(expected["delta_e"])]
    from polychrome.core.metrics import METRIC_INFO

    # the axis says which metric is plotted (the label is only re-set when the metric changes, not on every T)
    assert METRIC_INFO["delta_e"].short in s.panel.plot.getAxis("left").labelText

    # a drag: many T values in a row queue no work; only where it rests is measured
    measured = []
    real = compare_mod.CompareData.measure
    compare_mod.CompareData.measure = lambda self, T, **kw: (measured.append(T), real(self, T, **kw))[1]
    try:
        drag = np.linspace(0.12, 0.62, 25)
        for T in drag:
            s.c.set_T(float(T), exact=False)
        s.wait()
    finally:
        compare_mod.CompareData.measure = real
    assert measured == [pytest.approx(0.62)]
    assert s.compare.cached_metrics(float(drag[5])) is None
    assert_panel_shows(s.panel, s.expected(0.62)[2])

    # dragging the plot's T marker asks the controller for that T
    s.panel.t_marker.setValue(0.2)
    s.panel.t_marker.sigPositionChangeFinished.emit(s.panel.t_marker)
    assert s.c.T == pytest.approx(0.2)
    s.wait()
    assert_panel_shows(s.panel, s.expected(0.2)[2])


def test_curves_are_measured_on_a_worker_and_hold_the_current_T(setup, tmp_path, monkeypatch):
    threads, prepared_on = set(), set()
    real, real_init = compare_mod.CompareData.metrics, compare_mod.CompareData.__init__

    def metrics(self, T):
        threads.add(threading.current_thread())
        return real(self, T)

    def init(self, *args):
        prepared_on.add(threading.current_thread())
        real_init(self, *args)

    monkeypatch.setattr(compare_mod.CompareData, "metrics", metrics)
    monkeypatch.setattr(compare_mod.CompareData, "__init__", init)
    s = setup()
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait(lambda: s.compare.curves_info() is not None and s.compare.curves_info()["complete"])
    assert threads and threading.main_thread() not in threads
    assert prepared_on and threading.main_thread() not in prepared_on  # the resizing is off the UI thread too
    curves = s.compare.curves_info()
    ts = list(curves["temperatures"])
    assert ts == sorted(ts) and set(CURVE_TEMPERATURES) <= set(ts)
    for T in (0.05, 0.38, 1.0):
        i = ts.index(T)
        expected = s.expected(T)[2]
        for name in METRIC_INFO:
            assert curves["values"][name][i] == pytest.approx(expected[name], rel=1e-9), (T, name)
    # colourfulness falls as T rises (towards the mean), and the plot shows the chosen metric's curve
    cf = curves["values"]["colorfulness"]
    assert cf[0] > cf[-1]
    s.panel.set_metric("colorfulness")
    x, y = s.panel.curve.getData()
    np.testing.assert_allclose(x, curves["temperatures"])
    np.testing.assert_allclose(y, cf)
    assert s.panel.baseline_line.isVisible() and s.panel.baseline_line.value() == pytest.approx(0.0, abs=1e-6)

    # a T off the grid joins the curve once measured, consistent with compute_all
    s.c.set_T(0.6, exact=True)
    s.wait()
    curves = s.compare.curves_info()
    i = list(curves["temperatures"]).index(0.6)
    assert curves["values"]["psnr"][i] == pytest.approx(s.expected(0.6)[2]["psnr"], rel=1e-9)
    assert len(curves["temperatures"]) == len(CURVE_TEMPERATURES) + 1
    assert s.panel.current_value() == pytest.approx(s.expected(0.6)[2]["colorfulness"], rel=1e-9)


def test_curves_of_an_image_left_are_cancelled_and_resumed(setup, tmp_path, monkeypatch):
    real = compare_mod.CompareData.metrics

    def slow(self, T):
        time.sleep(0.1)
        return real(self, T)

    monkeypatch.setattr(compare_mod.CompareData, "metrics", slow)
    s = setup()
    s.load(colour_photo(tmp_path / "a.png"), colour_photo(tmp_path / "b.png", hue=1.5))
    s.c.set_current(1)
    pred = s.c.prediction

    def measured():
        info = s.compare.curves_info()
        return 0 if info is None else len(info["temperatures"])

    s.qtbot.waitUntil(lambda: measured() >= 3, timeout=WAIT_MS)
    stats = s.compare._stats[pred]
    assert not stats.grid_done
    rows = []
    s.compare.curves_changed.connect(lambda info: rows.append(None if info is None else info["row"]))
    s.c.set_current(0)
    s.wait(lambda: s.compare.curves_info()["complete"])
    assert rows[0] is None and set(rows[1:]) == {0}  # cleared, then only image 0: nothing of image 1 came after
    assert not stats.grid_done and len(stats.points) < len(CURVE_TEMPERATURES)  # its sweep was stopped
    kept = dict(stats.points)
    s.c.set_current(1)  # back: only the missing temperatures are measured
    s.wait(lambda: s.compare.curves_info()["complete"])
    assert stats.grid_done and set(CURVE_TEMPERATURES) <= set(stats.points)
    assert all(stats.points[t] is kept[t] for t in kept)


def test_nothing_is_measured_while_measuring_is_off(setup, tmp_path):
    s = setup()
    s.compare.set_measuring(False)  # e.g. the metrics dock is hidden
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait()
    s.c.set_T(0.7)
    s.wait()
    assert s.compare.cached_metrics() is None and s.compare.curves_info()["temperatures"].size == 0
    assert s.panel.values == {} and not s.compare.metrics_info()["pending"]
    s.compare.set_measuring(True)
    s.wait(lambda: s.compare.curves_info()["complete"])
    assert_panel_shows(s.panel, s.expected(0.7)[2])


# -- gray inputs ----------------------------------------------------------------------------------------------

def test_a_gray_input_has_no_ground_truth_and_no_metrics(setup, tmp_path):
    s = setup()
    s.load(gray_photo(tmp_path / "gray.png"))
    s.wait()
    assert not has_ground_truth(s.c.prediction.pixels)
    assert not s.compare.has_truth
    info = s.compare.metrics_info()
    assert info["metrics"] is None and not info["pending"]
    assert s.compare.curves_info() is None
    assert s.panel.message.isVisibleTo(s.panel) and "No ground truth" in s.panel.message.text()
    assert not s.panel.table.isEnabled()
    assert all(s.panel.cell_text(n) == "—" for n in METRIC_INFO)
    assert s.panel.curve.getData()[0] is None or len(s.panel.curve.getData()[0]) == 0
    assert not s.view.overlay_boxes["delta_e"].isEnabled()
    views = s.compare.views()
    assert views["truth"] is None and views["gray"].shape == views["result"].shape
    s.view.set_mode("side by side")
    assert not s.view._truth_box.isVisibleTo(s.view) and s.view.gray_view.isVisibleTo(s.view)
    s.view.set_mode("wipe")  # the result over the gray input
    s.view.wipe_view.set_divider(W / 2)
    comp = s.view.wipe_view.image
    np.testing.assert_array_equal(comp[:, W // 2:], views["gray"][:, W // 2:])
    np.testing.assert_array_equal(comp[:, :W // 2], views["result"][:, :W // 2])
    # a colour photo with hardly any colour (a faint tint) counts as gray too
    faint = np.dstack([np.full((H, W), v, np.uint8) for v in (120, 121, 119)])
    assert not has_ground_truth(faint)
    assert has_ground_truth(imageio.read_image(colour_photo(tmp_path / "c.png")).pixels)


# -- the views ------------------------------------------------------------------------------------------------

def test_side_by_side_views_are_linked(setup, tmp_path, qtbot):
    s = setup()
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait()
    v = s.view
    v.set_mode("side by side")
    qtbot.wait(100)
    views = s.compare.views()
    assert v._truth_box.isVisibleTo(v)
    np.testing.assert_array_equal(v.side_result_view.image, s.c.preview(exact=True))
    np.testing.assert_array_equal(v.gray_view.image, views["gray"])
    np.testing.assert_array_equal(views["gray"], s.c.prediction.gray_preview())  # the input's L*, no colour
    gray = v.gray_view.image.astype(int)
    assert np.abs(gray[..., 0] - gray[..., 2]).max() <= 1  # the gray input is gray
    np.testing.assert_array_equal(v.truth_view.image, s.c.prediction.pixels)  # preview size = source size here

    def ranges():
        return [np.array(x.viewbox.viewRange()) for x in v.side_views]

    start = ranges()
    v.side_result_view.viewbox.scaleBy((0.5, 0.5))  # zoom in on the result
    zoomed = ranges()
    assert zoomed[1][0, 1] - zoomed[1][0, 0] < 0.6 * (start[1][0, 1] - start[1][0, 0])
    for r in zoomed:
        np.testing.assert_allclose(r, zoomed[1], atol=1e-6)
    v.truth_view.viewbox.translateBy(x=7.0, y=3.0)  # pan the ground truth: the others follow
    panned = ranges()
    np.testing.assert_allclose(panned[1], zoomed[1] + [[7.0, 7.0], [3.0, 3.0]], atol=1e-6)
    for r in panned:
        np.testing.assert_allclose(r, panned[1], atol=1e-6)
    # switching to the single view shows the part of the image seen before (the wider view shows more on the sides
    # at the same aspect ratio)
    v.set_mode("result")
    single = np.array(v.result_view.viewbox.viewRange())
    seen = np.clip(panned[1], 0, [[W, W], [H, H]])
    assert seen[0, 1] - seen[0, 0] < W - 20  # zoomed in on a part of the width
    np.testing.assert_allclose(single.mean(1), seen.mean(1), atol=0.5)
    assert (single[:, 0] <= seen[:, 0] + 0.5).all() and (single[:, 1] >= seen[:, 1] - 0.5).all()
    # the whole image seen → the whole image shown
    v.set_mode("side by side")
    v.side_result_view.viewbox.autoRange(padding=0.0)
    v.set_mode("wipe")
    x, y = np.array(v.wipe_view.viewbox.viewRange())
    assert (x[0] <= 0.5 and x[1] >= W - 0.5 and y[0] <= 0.5 and y[1] >= H - 0.5)
    assert min(x[1] - x[0] - W, y[1] - y[0] - H) < 1.0  # and fills the view along one axis


def test_the_wipe_divider_splits_result_and_ground_truth(setup, tmp_path, qtbot):
    s = setup()
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait()
    v = s.view
    modes = []
    v.mode_changed.connect(modes.append)
    v.mode_box.setCurrentIndex(2)  # as the user picks "Wipe"
    assert v.mode == "wipe" and modes == ["wipe"]
    views = s.compare.views()
    result, truth = views["result"], views["truth"]
    assert not np.array_equal(result, truth)
    wipe = v.wipe_view
    assert wipe.divider_x == pytest.approx(W / 2)
    for x in (30, 70):
        wipe.set_divider(x)
        comp = wipe.image
        np.testing.assert_array_equal(comp[:, :x], result[:, :x])
        np.testing.assert_array_equal(comp[:, x:], truth[:, x:])
    qtbot.wait(100)

    # drag the divider with the mouse, from x = 70 to about x = 20
    view = wipe.graphics
    start = view.mapFromScene(wipe.item.mapToScene(70.0, H / 2))
    end = view.mapFromScene(wipe.item.mapToScene(20.0, H / 2))
    vp = view.viewport()
    QTest.mouseMove(vp, start)
    qtbot.wait(20)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for f in np.linspace(0, 1, 8):
        qtbot.wait(20)
        QTest.mouseMove(vp, start + (end - start) * float(f))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    assert wipe.divider_x == pytest.approx(20.0, abs=2.0)
    x = int(round(wipe.divider_x))
    np.testing.assert_array_equal(wipe.image[:, :x], result[:, :x])
    np.testing.assert_array_equal(wipe.image[:, x:], truth[:, x:])

    # the divider keeps its place when T changes; the result side follows T
    s.c.set_T(0.9, exact=True)
    s.wait()
    new = s.compare.views()["result"]
    assert not np.array_equal(new, result)
    np.testing.assert_array_equal(wipe.image[:, :x], new[:, :x])
    np.testing.assert_array_equal(wipe.image[:, x:], truth[:, x:])


def test_hover_and_click_are_reported_in_image_coordinates_from_every_panel(setup, tmp_path, qtbot):
    s = setup()
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait()
    s.view.set_mode("side by side")
    qtbot.wait(100)
    for panel in (s.view.gray_view, s.view.truth_view):
        g = panel.graphics
        pos = g.mapFromScene(panel.item.mapToScene(24.5, 10.5))
        with qtbot.waitSignal(s.view.hovered, timeout=5000,
                              check_params_cb=lambda y, x: y is not None and abs(y - 10.5) < 1 and abs(x - 24.5) < 1):
            QTest.mouseMove(g.viewport(), pos)
        with qtbot.waitSignal(s.view.clicked, timeout=5000) as sig:
            QTest.mouseClick(g.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        assert sig.args == [pytest.approx(10.5, abs=1), pytest.approx(24.5, abs=1)]
    s.view.set_marker(10.0, 24.0)
    assert all(len(v.marker.data) == 1 for v in s.view.all_views)
    assert s.view.image is s.compare.views()["result"]


# -- maps -----------------------------------------------------------------------------------------------------

def test_delta_e_map_shape_range_and_values(setup, tmp_path):
    s = setup()
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait()
    assert s.compare.views()["delta_e"] is None  # only made when asked for
    s.view.overlay_boxes["delta_e"].setChecked(True)
    assert s.compare.overlays == {"entropy": False, "delta_e": True}
    s.wait(lambda: s.compare.views()["delta_e"] is not None)
    views = s.compare.views()
    dmap = views["delta_e"]
    assert dmap.shape == (30, 48, 3) and dmap.dtype == np.uint8 and views["delta_e_T"] == s.c.T
    result, truth, expected = s.expected(s.c.T)
    raw = delta_e_map(result, truth)
    assert raw.shape == (30, 48) and raw.min() >= 0 and np.mean(raw) == pytest.approx(expected["delta_e"], rel=1e-5)
    assert raw.max() > raw.min() + 5
    np.testing.assert_array_equal(dmap, apply_colormap(raw, *DELTA_E_RANGE, DELTA_E_COLORMAP))
    lut = colormap_lut(DELTA_E_COLORMAP)
    assert (dmap.reshape(-1, 3)[:, None] == lut[None]).all(-1).any(-1).all()  # every pixel is a colour-bar colour
    legend = views["legends"]["delta_e"]
    assert legend["range"] == DELTA_E_RANGE and "ΔE" in legend["label"]
    # drawn over the result, stretched to the result's coordinates, with its colour bar
    rv = s.view.result_view
    assert rv.overlay_visible and rv.overlay_image is dmap
    rect = rv.overlay.mapRectToParent(rv.overlay.boundingRect())
    assert (rect.width(), rect.height()) == pytest.approx((W, H))
    assert s.view.legend.isVisibleTo(s.view) and "ΔE" in s.view.legend.title.text()
    # it follows T
    s.c.set_T(1.0, exact=True)
    s.wait(lambda: s.compare.views()["delta_e_T"] == 1.0)
    assert not np.array_equal(s.compare.views()["delta_e"], dmap)


def test_entropy_overlay_toggles_and_follows_T(setup, tmp_path):
    s = setup()
    s.load(gray_photo(tmp_path / "gray.png"))  # the entropy needs no ground truth
    s.wait()
    rv = s.view.result_view
    assert not rv.overlay_visible and s.compare.views()["entropy"] is None
    s.view.overlay_boxes["entropy"].setChecked(True)
    views = s.compare.views()
    emap = views["entropy"]
    assert emap is not None and emap.shape == (30, 48, 3) and emap.dtype == np.uint8
    T = s.c.T
    raw = cv2.resize(s.c.prediction.entropy(T).astype(np.float32), (48, 30), interpolation=cv2.INTER_LINEAR)
    assert 0.0 <= raw.min() and raw.max() <= 1.0
    np.testing.assert_array_equal(emap, apply_colormap(raw, 0.0, 1.0, ENTROPY_COLORMAP))
    assert rv.overlay_visible and rv.overlay_image is emap
    assert s.view.legend.isVisibleTo(s.view) and "Entropy" in s.view.legend.title.text()
    # a higher T spreads the distributions: more entropy, a different map
    s.c.set_T(1.0)
    hot = s.compare.views()["entropy"]
    assert not np.array_equal(hot, emap) and rv.overlay_image is hot
    raw_hot = s.c.prediction.entropy(1.0)
    assert raw_hot.mean() > s.c.prediction.entropy(T).mean()
    # the opacity slider applies to the overlay; unchecking removes it
    s.view.opacity.setValue(25)
    assert rv.overlay.opacity() == pytest.approx(0.25)
    s.view.overlay_boxes["entropy"].setChecked(False)
    assert not rv.overlay_visible and not s.view.legend.isVisibleTo(s.view)
    assert s.compare.views()["entropy"] is None


def test_only_one_overlay_at_a_time(setup, tmp_path):
    s = setup()
    s.load(colour_photo(tmp_path / "photo.png"))
    s.wait()
    s.view.set_overlay("entropy")
    assert s.compare.overlays == {"entropy": True, "delta_e": False}
    s.view.set_overlay("delta_e")
    assert s.view.overlays == {"entropy": False, "delta_e": True}
    assert s.compare.overlays == {"entropy": False, "delta_e": True}
    s.wait(lambda: s.view.active_overlay == "delta_e")
    assert s.view.result_view.overlay_image is s.compare.views()["delta_e"]
