"""Settings (Edit ▸ Settings…, Ctrl+,): they persist, the theme applies app-wide (pyqtgraph views included), the
export dialog starts from the default export options; and the small things: the overlay opacity slider's label,
the wizard's no-torch install command and evaluation caption, the A/B CSV dialog's folder."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pyqtgraph = pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from polychrome.core import imageio  # noqa: E402
from polychrome.gui import theme  # noqa: E402
from polychrome.gui.main_window import MainWindow  # noqa: E402
from polychrome.gui.queue.controller import ColorizeController  # noqa: E402
from polychrome.gui.settings import AppSettings  # noqa: E402
from polychrome.gui.widgets.settings_dialog import SettingsDialog  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402


@pytest.fixture(autouse=True)
def _log_dir_and_system_theme(tmp_path_factory, monkeypatch):
    from polychrome.gui import logfile

    monkeypatch.setenv(logfile.ENV, str(tmp_path_factory.mktemp("logs")))
    yield
    logfile.uninstall()
    theme.apply_theme("system")  # never leak a dark palette into other tests


def make_window(qtbot, model, ini):
    w = MainWindow(ColorizeController(Colorizer(str(model))), AppSettings(str(ini)))
    qtbot.addWidget(w)
    return w


def test_ctrl_comma_opens_settings_and_accepted_values_persist(qtbot, tmp_path, known_model):
    ini = tmp_path / "s.ini"
    w = make_window(qtbot, known_model, ini)
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    qtbot.keyClick(w, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dlg = next(d for d in w.findChildren(SettingsDialog) if d.isVisible())
    assert [dlg.tabs.tabText(i) for i in range(dlg.tabs.count())] == ["General", "Appearance", "Export"]
    dlg.theme_combo.setCurrentIndex(dlg.theme_combo.findData("dark"))
    dlg.session_combo.setCurrentIndex(dlg.session_combo.findData("ask"))
    dlg.format_combo.setCurrentIndex(dlg.format_combo.findData("tiff"))
    dlg.bit_combo.setCurrentIndex(dlg.bit_combo.findData("16"))
    dlg.suffix_edit.setText("_col")
    dlg.beside_check.setChecked(True)
    dlg.accept()
    w.close()

    s = AppSettings(str(ini))
    assert s.theme == "dark" and s.session_mode == "ask"
    d = s.default_export_options()
    assert d["format"] == "tiff" and d["bit_depth"] == "16" and d["suffix"] == "_col" and d["out_dir"] is None
    # the next settings dialog shows them again
    w2 = make_window(qtbot, known_model, ini)
    dlg2 = w2.show_preferences()
    assert dlg2.theme_combo.currentData() == "dark" and dlg2.session_combo.currentData() == "ask"
    assert dlg2.format_combo.currentData() == "tiff" and dlg2.beside_check.isChecked()
    dlg2.reject()


def test_export_dialog_starts_from_the_default_export_options(qtbot, tmp_path, known_model):
    ini = tmp_path / "s.ini"
    s = AppSettings(str(ini))
    s.set_export_options({"format": "png", "suffix": "_last"})  # what the last export remembered
    s.set_default_export_options({"format": "jpeg", "bit_depth": "8", "quality": 80, "suffix": "_x",
                                  "out_dir": None})
    s.sync()
    w = make_window(qtbot, known_model, ini)
    img = imageio.write_image(tmp_path / "a.png", np.full((32, 48), 128, np.uint8))
    w.add_paths([str(img)])
    qtbot.waitUntil(lambda: w.controller.queue.counts()["done"] == 1, timeout=30000)
    dlg = w.show_export()
    o = dlg.options()
    assert o["format"] == "jpeg" and o["quality"] == 80 and o["suffix"] == "_x" and o["out_dir"] is None
    dlg.reject()
    # a default folder from Settings is what the dialog offers, over the last folder used
    (tmp_path / "exports").mkdir()
    w._remember_dir("export", str(tmp_path / "x"))
    w.settings.set_default_export_options({"format": "png", "out_dir": str(tmp_path / "exports")})
    dlg = w.show_export()
    assert dlg.options()["out_dir"] == str(tmp_path / "exports") and dlg.options()["format"] == "png"
    dlg.reject()
    w.controller.shutdown(10000)


def test_dark_theme_applies_to_the_whole_app_and_pyqtgraph_views_and_system_restores(qtbot, tmp_path, known_model):
    w = make_window(qtbot, known_model, tmp_path / "s.ini")
    app = QApplication.instance()
    before = app.palette().color(QPalette.ColorRole.Window)
    w.apply_preferences({"model": None, "provider": None, "start_T": None, "theme": "dark"})
    assert app.style().name().lower() == "fusion"
    win = app.palette().color(QPalette.ColorRole.Window)
    assert win.lightness() < 80
    qtbot.waitUntil(lambda: w.palette().color(QPalette.ColorRole.Window) == win)  # every widget follows
    assert w.queue_view.palette().color(QPalette.ColorRole.Base).lightness() < 60
    plot = w.distribution.plot  # a pyqtgraph PlotWidget
    assert plot.backgroundBrush().color() == app.palette().color(QPalette.ColorRole.Base)
    axis = plot.getPlotItem().getAxis("bottom")
    assert axis.pen().color() == app.palette().color(QPalette.ColorRole.Text)
    views = [v for v in w.findChildren(pyqtgraph.GraphicsView) if not isinstance(v, pyqtgraph.PlotWidget)]
    assert views and all(v.backgroundBrush().color().lightness() < 60 for v in views)  # neutral dark gray
    c = views[0].backgroundBrush().color()
    assert c.red() == c.green() == c.blue()
    assert AppSettings(str(tmp_path / "s.ini")).theme == "dark"
    w.apply_preferences({"model": None, "provider": None, "start_T": None, "theme": "system"})
    assert app.palette().color(QPalette.ColorRole.Window) == before


def test_light_theme_gives_light_plots(qtbot, tmp_path, known_model):
    w = make_window(qtbot, known_model, tmp_path / "s.ini")
    theme.apply_theme("light")
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() > 180
    assert w.distribution.plot.backgroundBrush().color().lightness() > 200


def test_overlay_opacity_slider_has_a_label(qtbot):
    from PySide6.QtWidgets import QLabel

    from polychrome.gui.compare.view import CompareView

    v = CompareView()
    qtbot.addWidget(v)
    slider = v.opacity
    buddies = [lab for lab in v.findChildren(QLabel) if lab.buddy() is slider]
    assert buddies and "opacity" in buddies[0].text().lower().replace("&", "")
    assert slider.accessibleName()


def test_no_torch_page_gives_install_commands_for_a_clone_and_a_wheel(qtbot, tmp_path):
    from polychrome.gui.wizard.pages import no_torch

    clone = no_torch.install_commands("/venv/bin/python", checkout=tmp_path / "my clone")
    assert clone[0] == "/venv/bin/python -m pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert clone[1] == f"cd '{tmp_path / 'my clone'}'" and clone[2] == '/venv/bin/python -m pip install -e ".[train]"'
    wheel = no_torch.install_commands("/venv/bin/python", from_clone=False, requirements=["torch>=2.2", "onnx>=1.15"])
    assert wheel[1] == "/venv/bin/python -m pip install 'torch>=2.2' 'onnx>=1.15'"  # no index needs to know us
    # this checkout is detected as a clone, and the installed metadata names the extra's requirements
    assert no_torch._checkout() is not None and (no_torch._checkout() / "pyproject.toml").is_file()
    assert any(r.startswith("onnx") for r in no_torch._train_requirements())
    assert "pip install -e" in "\n".join(no_torch.install_commands())


def test_wizard_evaluation_bolds_what_its_caption_promises():
    from polychrome.gui.wizard.pages import evaluate

    assert evaluate.better_value([20.0, 21.0], True) == 21.0
    assert evaluate.better_value([10.0, 11.0], False) == 10.0
    # colourfulness: the caption promises "the one nearer the originals'": that one is bold
    assert evaluate.better_value([30.0, 14.0], None, target=18.0) == 14.0
    assert evaluate.better_value([30.0], True) is None  # one model: nothing to bold ...
    assert "bold" not in evaluate.caption(5, 5, 1, "18.0")  # ... and the caption promises none
    two = evaluate.caption(5, 6, 2, "18.0")
    assert "bold" in two and "nearer the originals' 18.0" in two and "(of 6)" in two


def test_ab_csv_dialog_starts_in_the_documents_folder(qtbot, monkeypatch, tmp_path):
    from polychrome.gui.ab import view as ab_view

    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOCUMENTS_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.chdir(tmp_path)  # the folder the app was started in must not matter
    assert Path(ab_view.csv_start_path("votes.csv")) == home / "Documents" / "votes.csv"
    (home / "Documents").rmdir()  # no documents folder: the home folder
    assert Path(ab_view.csv_start_path("votes.csv")) == home / "votes.csv"


# -- export progress inside a long file ------------------------------------------------------------------------

def big_rgb16(h=1200, w=1600, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 60000, w, dtype=np.float32)[None, :, None]
    return (base + rng.normal(0, 900, (h, w, 3))).clip(0, 65535).astype(np.uint16)


def test_a_tiff_write_reports_progress_per_strip_and_can_be_cancelled_leaving_nothing(tmp_path):
    from polychrome.core.progress import Cancelled

    rgb = big_rgb16()
    seen = []
    out = imageio.write_image(tmp_path / "a.tif", rgb, progress=seen.append)
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(set(seen)) > 20  # it moves during the file
    assert np.array_equal(imageio.read_image(out).pixels, rgb)  # the strips make the same image

    def stop(frac):
        if frac > 0.3:
            raise Cancelled("cancelled by the user")

    with pytest.raises(Cancelled):
        imageio.write_image(tmp_path / "b.tif", rgb, progress=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif"]  # no output, no temp file


def test_export_summary_bar_moves_inside_a_long_file(qtbot, tmp_path, known_model):
    from polychrome.gui.export.view import FILE_STEPS

    src = imageio.write_image(tmp_path / "scan.tif", big_rgb16()[..., 0])  # 16-bit gray "scan"
    w = make_window(qtbot, known_model, tmp_path / "s.ini")
    w.add_paths([str(src)])
    qtbot.waitUntil(lambda: w.controller.queue.counts()["done"] == 1, timeout=30000)
    out = tmp_path / "out"
    out.mkdir()
    summary = w.run_export({"scope": "all", "out_dir": str(out), "format": "tiff", "bit_depth": "16",
                            "suffix": "_c"})
    values = []
    summary.bar.valueChanged.connect(values.append)
    qtbot.waitUntil(lambda: summary.finished_export, timeout=60000)
    inside = [v for v in values if 0 < v < FILE_STEPS]
    assert len(inside) >= 5, values  # the bar moved while the one file was being written
    assert values == sorted(values) and summary.bar.value() == FILE_STEPS
    assert [p.suffix for p in out.iterdir() if p.suffix == ".tif"] == [".tif"]
    w.controller.shutdown(10000)
