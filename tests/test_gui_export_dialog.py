"""The export dialog (pytest-qt, offscreen, real ONNX fixture model, real files): its options are ExportOptions,
an export with them writes the chosen format, bit depth and suffix, and nothing existing is ever overwritten
unless asked; the summary lists failures with their reasons."""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from polychrome.core import imageio  # noqa: E402
from polychrome.gui.export.view import (  # noqa: E402
    SCOPE_ALL,
    SCOPE_CURRENT,
    ExportDialog,
    ExportSummaryDialog,
    summarize_results,
)
from polychrome.gui.queue.controller import DONE, ColorizeController  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402
from polychrome.runtime.pipeline import ExportOptions  # noqa: E402

WAIT_MS = 30000


def make_images(folder: Path, n: int):
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        x = np.linspace(15 + 5 * i, 240, 64, dtype=np.float32)
        out.append(imageio.write_image(folder / f"img{i:02d}.png", np.repeat(x[None, :], 40, axis=0).astype(np.uint8)))
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def controller(qtbot, tmp_path, known_model):
    make_images(tmp_path / "in", 3)
    c = ColorizeController(Colorizer(str(known_model)))
    c.add_paths([str(tmp_path / "in")])
    qtbot.waitUntil(lambda: not c.running and c.queue.counts()[DONE] == 3, timeout=WAIT_MS)
    yield c
    c.shutdown(10000)


def dialog(qtbot, **kw) -> ExportDialog:
    dlg = ExportDialog(**kw)
    qtbot.addWidget(dlg)
    return dlg


def export_kwargs(options):
    """What the main window does with the dialog's options: the scope picks the rows, the rest goes to export()."""
    opts = dict(options)
    return opts.pop("scope"), opts


def choose(combo, key):
    i = combo.findData(key)
    assert i >= 0, key
    combo.setCurrentIndex(i)


def test_options_round_trip_into_export_options(qtbot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    src = tmp_path / "photo.png"
    dlg = dialog(qtbot, current_path=src, count_all=5, last_folder=str(out))
    opts = dlg.options()
    # the defaults: every colorized image, full resolution, "_color", never overwrite, the last folder
    assert opts == {"scope": SCOPE_ALL, "out_dir": str(out), "format": "same", "bit_depth": "source",
                    "suffix": "_color", "quality": 95, "upsample": "bicubic", "gamut": "keep-lightness",
                    "overwrite": False, "max_side": None}
    fields = {f.name for f in dataclasses.fields(ExportOptions)}
    _, kw = export_kwargs(opts)
    assert set(kw) <= fields
    eo = ExportOptions(**kw)
    assert eo == ExportOptions(out_dir=str(out))  # the pipeline's own defaults, apart from the folder

    dlg.scope_current.setChecked(True)
    choose(dlg.format_combo, "tiff")
    choose(dlg.bit_combo, "16")
    choose(dlg.upsample_combo, "guided")
    choose(dlg.gamut_combo, "clip")
    dlg.quality_spin.setValue(80)
    dlg.max_side_spin.setValue(2048)
    dlg.suffix_edit.setText("_tinted")
    scope, kw = export_kwargs(dlg.options())
    assert scope == SCOPE_CURRENT
    eo = ExportOptions(**kw)
    assert (eo.format, eo.bit_depth, eo.upsample, eo.gamut, eo.quality, eo.max_side, eo.suffix, eo.overwrite) == (
        "tiff", "16", "guided", "clip", 80, 2048, "_tinted", False)
    assert dlg.export_options() == dataclasses.replace(eo, out_dir=out)
    assert "photo_tinted.tif" in dlg.example_label.text() and str(out) in dlg.example_label.text()

    # remembered options come back (but never "overwrite")
    dlg.overwrite_check.setChecked(True)
    again = dialog(qtbot, current_path=src, count_all=5, defaults=dlg.options(), scope=SCOPE_CURRENT)
    remembered = dlg.options()
    remembered["overwrite"] = False
    assert again.options() == remembered


def test_jpeg_has_no_16_bit_and_quality_only_where_it_applies(qtbot, tmp_path):
    dlg = dialog(qtbot, current_path=tmp_path / "a.tif", count_all=1, last_folder=str(tmp_path))
    choose(dlg.format_combo, "png")
    choose(dlg.bit_combo, "16")
    assert not dlg.quality_spin.isEnabled()
    choose(dlg.format_combo, "jpeg")
    sixteen = dlg.bit_combo.model().item(dlg.bit_combo.findData("16"))
    assert not sixteen.isEnabled()
    assert dlg.bit_combo.currentData() == "8"
    assert dlg.options()["bit_depth"] == "8"
    assert dlg.quality_spin.isEnabled()
    assert dlg.example_label.text().rstrip().endswith("a_color.jpg")
    choose(dlg.format_combo, "tiff")
    assert sixteen.isEnabled()


def test_folder_suffix_and_overwrite_safeguards(qtbot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    src = tmp_path / "photo.png"
    src.write_bytes(b"x")
    (out / "photo_color.png").write_bytes(b"earlier export")
    dlg = dialog(qtbot, current_path=src, count_all=1, last_folder=str(out))
    assert not dlg.overwrite_check.isChecked()
    assert dlg.overwrite_warning.isHidden()
    dlg.overwrite_check.setChecked(True)
    assert not dlg.overwrite_warning.isHidden()
    dlg.overwrite_check.setChecked(False)

    assert "photo_color (2).png" in dlg.example_label.text()
    dlg.overwrite_check.setChecked(True)
    assert "replaced" in dlg.example_label.text()
    dlg.overwrite_check.setChecked(False)

    dlg.folder_edit.setText(str(tmp_path / "nowhere"))
    assert not dlg.export_button.isEnabled() and dlg.problem()
    dlg.folder_edit.setText("")
    assert not dlg.export_button.isEnabled()
    dlg._ask_folder = lambda: str(out)
    dlg.browse()
    assert dlg.folder_edit.text() == str(out) and dlg.export_button.isEnabled()

    dlg.beside_check.setChecked(True)
    assert dlg.options()["out_dir"] is None and not dlg.folder_edit.isEnabled()
    assert dlg.export_button.isEnabled()
    assert str(tmp_path / "photo_color.png") in dlg.example_label.text()
    dlg.suffix_edit.setText("")  # would name the outputs like the originals
    assert not dlg.export_button.isEnabled()
    dlg.suffix_edit.setText("_c")
    assert dlg.export_button.isEnabled()

    nothing = dialog(qtbot, current_path=None, count_all=0)
    assert not nothing.export_button.isEnabled()


def test_an_export_with_the_dialogs_options_writes_tiff_16_and_never_overwrites(qtbot, tmp_path, controller):
    c = controller
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "img00_tint.tif"
    existing.write_bytes(b"an earlier export")
    originals = {it.path: digest(it.path) for it in c.queue.items}
    runs = c.colorizer.run_count

    dlg = dialog(qtbot, current_path=c.current_item.path, count_all=3, last_folder=str(out))
    choose(dlg.format_combo, "tiff")
    choose(dlg.bit_combo, "16")
    dlg.suffix_edit.setText("_tint")
    assert "img00_tint (2).tif" in dlg.example_label.text()
    scope, kw = export_kwargs(dlg.options())
    assert scope == SCOPE_ALL
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        assert c.export(None, **kw) is not None
    results = sig.args[0]
    assert len(results) == 3 and all(o is not None and not r for _, o, r in results)
    written = {c.queue.items[row].path.stem: Path(o) for row, o, _ in results}
    assert written["img00"].name == "img00_tint (2).tif"
    assert written["img01"].name == "img01_tint.tif" and written["img02"].name == "img02_tint.tif"
    assert existing.read_bytes() == b"an earlier export"
    for row, o, _ in results:
        img = imageio.read_image(o)
        assert img.format == "TIFF" and img.bit_depth == 16 and img.pixels.dtype == np.uint16
        it = c.queue.items[row]
        np.testing.assert_array_equal(img.pixels, it.prediction.render(c.default_T, out_dtype=np.uint16))
    assert c.colorizer.run_count == runs  # no inference
    assert {it.path: digest(it.path) for it in c.queue.items} == originals


def test_jpeg_current_image_next_to_the_originals(qtbot, controller):
    c = controller
    c.set_current(1)
    src = c.current_item.path
    original = digest(src)
    dlg = dialog(qtbot, current_path=src, count_all=3, scope=SCOPE_CURRENT)
    dlg.beside_check.setChecked(True)
    choose(dlg.format_combo, "jpeg")
    dlg.quality_spin.setValue(70)
    scope, kw = export_kwargs(dlg.options())
    assert scope == SCOPE_CURRENT and kw["out_dir"] is None
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        c.export([c.current], **kw)
    (row, o, reason), = sig.args[0]
    assert row == 1 and not reason
    assert Path(o) == src.with_name(src.stem + "_color.jpg")
    img = imageio.read_image(o)
    assert img.format == "JPEG" and img.bit_depth == 8
    assert digest(src) == original


def test_overwrite_replaces_an_earlier_export_but_never_the_original(qtbot, tmp_path, controller):
    c = controller
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "img02_color.png"
    earlier.write_bytes(b"an earlier export")
    dlg = dialog(qtbot, current_path=c.queue.items[2].path, count_all=3, last_folder=str(out), scope=SCOPE_CURRENT)
    dlg.overwrite_check.setChecked(True)
    _, kw = export_kwargs(dlg.options())
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        c.export([2], **kw)
    (_, o, reason), = sig.args[0]
    assert not reason and Path(o) == earlier
    assert imageio.read_image(earlier).format == "PNG"

    # into the originals' own folder with no suffix: the originals are protected even with overwrite
    src = c.queue.items[0].path
    original = digest(src)
    kw.update(out_dir=str(src.parent), suffix="", overwrite=True)
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        c.export([0], **kw)
    (_, o, reason), = sig.args[0]
    assert o is None and reason
    assert digest(src) == original


def test_summary_lists_failures_with_reasons(qtbot, tmp_path, controller):
    c = controller
    out = tmp_path / "out"
    out.mkdir()
    broken = c.queue.items[1].path
    # an export writes from the cached prediction and the metadata read with it (the source is not read again)...
    broken.write_text("gone bad since it was colorized")
    c.queue.items[1].prediction = None  # ...except for an image whose prediction was dropped: computed again
    names = {r: it.path.name for r, it in enumerate(c.queue.items)}
    summary = ExportSummaryDialog(3, names)
    qtbot.addWidget(summary)
    worker = c.export(None, str(out))
    summary.track(worker)
    qtbot.waitUntil(lambda: summary.finished_export, timeout=WAIT_MS)
    assert summary.heading.text() == "2 images exported, 1 failed"
    assert len(summary.failures) == 1 and summary.failures[0].startswith("img01.png — ")
    assert len(summary.failures[0]) > len("img01.png — ")  # with its reason
    texts = [summary.list.item(i).text() for i in range(summary.list.count())]
    assert texts[0].startswith("✗ img01.png — ") and len(texts) == 3
    assert sum(t.startswith("✓ ") for t in texts) == 2
    assert summary.close_button.isVisibleTo(summary) and not summary.cancel_button.isVisibleTo(summary)

    head, failures = summarize_results([(0, Path("a.png"), ""), (1, None, "disk full")], {1: "b.png"})
    assert head == "1 image exported, 1 failed" and failures == ["b.png — disk full"]


def test_an_export_never_reads_the_sources_again(qtbot, tmp_path, controller, monkeypatch):
    """The queue keeps each source's metadata (format, bit depth, EXIF, ICC) with its prediction: exporting cached
    results reads no file."""
    c = controller
    assert all(it.source is not None and it.source.path == it.path for it in c.queue.items)
    from polychrome.runtime import jobs

    def no_reading(*a, **kw):
        raise AssertionError("the export read a source file again")

    monkeypatch.setattr(jobs.imageio, "read_image", no_reading)
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(c.exported, timeout=WAIT_MS) as sig:
        c.export(None, str(out))
    results = sig.args[0]
    assert len(results) == 3 and all(o is not None and not reason for _, o, reason in results)
    monkeypatch.undo()
    assert all(imageio.read_image(o).format == "PNG" for _, o, _ in results)
