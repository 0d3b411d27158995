"""The training wizard (pytest-qt, offscreen, real widgets, real training of a tiny network on CPU).

A walk through all six pages on generated colour photos ends with an installed model (with its card) that the
app's ColorizeController switches to and colorizes with; cancelling mid-run writes no model and Resume continues
from the checkpoint; Pause holds the steps; without PyTorch the wizard shows how to install it.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")
torch = pytest.importorskip("torch")

import cv2  # noqa: E402

from polychrome.core import imageio  # noqa: E402
from polychrome.gui.wizard import (  # noqa: E402
    TrainingWizard,
    TrainingWizardController,
    open_training_wizard,
)
from polychrome.gui.wizard.controller import (  # noqa: E402
    CANCELLED,
    FINISHED,
    PAUSED,
    RUNNING,
    START_SCRATCH,
)
from polychrome.gui.wizard.pages import (  # noqa: E402
    PAGE_COLORS,
    PAGE_DATA,
    PAGE_EVALUATE,
    PAGE_EXPORT,
    PAGE_SETTINGS,
    PAGE_TRAIN,
    NoTorchPage,
)
from polychrome.training.events import TrainStepEvent  # noqa: E402

torch.set_num_threads(2)
WAIT_MS = 120_000


def colour_photo(rng: np.random.Generator, size: int = 80) -> np.ndarray:
    """A colourful RGB uint8 image: a blue-to-yellow gradient with red discs and green squares."""
    dark, light = np.array([25, 40, 130]), np.array([240, 225, 110])
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    t = np.clip((xx * np.cos(ang) + yy * np.sin(ang)) * 1.2 + 0.5, 0, 1)[..., None]
    img = np.ascontiguousarray(np.clip(dark * (1 - t) + light * t + rng.normal(0, 4, 3), 0, 255).astype(np.uint8))
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.5:
            cx, cy = (int(v) for v in rng.integers(10, size - 10, 2))
            cv2.circle(img, (cx, cy), int(rng.integers(5, 14)), (205, 35, 35), -1)
        else:
            x0, y0 = (int(v) for v in rng.integers(0, size - 18, 2))
            cv2.rectangle(img, (x0, y0), (x0 + 14, y0 + 14), (45, 175, 60), -1)
    return img


def make_photos(folder: Path, n: int = 12, size: int = 80) -> Path:
    """``n`` colour photos in two sub-folders, plus one unreadable, one too small and one gray file."""
    rng = np.random.default_rng(7)
    for sub in ("garden", "beach"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        imageio.write_image(folder / ("garden" if i % 2 else "beach") / f"photo{i:02d}.png", colour_photo(rng, size))
    (folder / "broken.jpg").write_text("not a JPEG")
    imageio.write_image(folder / "tiny.png", colour_photo(rng, 20))
    imageio.write_image(folder / "gray.png", np.full((size, size, 3), 128, np.uint8))
    return folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return make_photos(tmp_path_factory.mktemp("wizard_photos"))


@pytest.fixture(scope="module")
def base_model(tmp_path_factory, photos) -> Path:
    """A tiny fine-tunable model, exported by the training core the way tests/test_training.py builds one."""
    from polychrome.training.loop import TrainConfig, Trainer

    tmp = tmp_path_factory.mktemp("base")
    cfg = TrainConfig(
        data=[str(photos)], name="tiny-base", output=str(tmp / "tiny-base.onnx"), checkpoint_dir=str(tmp / "ck"),
        size=32, epochs=1, batch_size=4, pretrained=False, width_mult=0.25, val_fraction=0.2, min_side=16,
        prior_images=20, val_metric_images=1, val_samples=1, warmup_steps=1, max_steps=2, recalibrate_bn_images=0,
        checkpoint_every_steps=0, seed=1,
    )
    return Trainer(cfg).fit().output


TINY = dict(prior_images=20, val_metric_images=2, val_samples=2, recalibrate_bn_images=4, warmup_steps=1,
            num_workers=0, checkpoint_every_steps=0, seed=2)


@pytest.fixture
def controller(qtbot, tmp_path, base_model, monkeypatch):
    monkeypatch.setenv("POLYCHROME_CHECKPOINTS", str(tmp_path / "cache"))
    c = TrainingWizardController(base_model=base_model, checkpoint_root=tmp_path / "runs", config_overrides=TINY)
    s = c.settings
    s.size, s.epochs, s.batch_size, s.min_side, s.val_fraction = 64, 1, 4, 32, 0.25
    yield c
    c.shutdown(30000)


def make_wizard(qtbot, c):
    """A wizard closed at teardown without asking (a blocking question would hang a failed test)."""
    wizard = TrainingWizard(c)
    wizard.confirm_stop = lambda: True
    qtbot.addWidget(wizard)
    return wizard


def scanned_controller(qtbot, c, photos):
    c.set_folders([str(photos)])
    qtbot.waitUntil(lambda: c.scan is not None and not c.busy, timeout=WAIT_MS)
    assert c.data_ready
    return c


# -- the walk through every page ------------------------------------------------------------------------


def test_full_walk_ends_with_a_model_the_app_can_use(qtbot, tmp_path, photos, controller, _isolated_user_models):
    from polychrome.gui.queue.controller import DONE, ColorizeController
    from polychrome.runtime import registry
    from polychrome.runtime.session import read_manifest

    app_controller = ColorizeController()  # no model yet: the app starts without one
    wizard = open_training_wizard(None, app_controller, wizard_controller=controller)
    wizard.confirm_stop = lambda: True
    qtbot.addWidget(wizard)
    c = controller
    assert wizard.currentId() == PAGE_DATA

    # 1. data: scan counts, skipped files with reasons, samples, split
    data = wizard.page(PAGE_DATA)
    assert not data.isComplete()
    data.add_folders([str(photos)])
    qtbot.waitUntil(lambda: data.isComplete(), timeout=WAIT_MS)
    counts = c.scan.report.counts
    assert (counts["usable"], counts["near_gray"], counts["too_small"], counts["unreadable"]) == (12, 1, 1, 1)
    assert [data.count_labels[k].text() for k in ("usable", "near_gray", "too_small", "unreadable")] == [
        "12", "1", "1", "1"]
    reasons = {data.problems.item(r, 0).text(): data.problems.item(r, 1).text()
               for r in range(data.problems.rowCount())}
    assert set(reasons) == {"broken.jpg", "tiny.png", "gray.png"} and all(reasons.values())
    assert len(data.samples.labels) == 12
    train, val = c.split
    assert len(train) + len(val) == 12 and len(val) >= 1
    assert f"{len(train)}</b> photos for training" in data.split_label.text()

    # 2. colours: the base model's bins, the data's prior, λ changes the weights
    wizard.next()
    assert wizard.currentId() == PAGE_COLORS
    colors = wizard.page(PAGE_COLORS)
    qtbot.waitUntil(lambda: c.colors is not None and not c.busy, timeout=WAIT_MS)
    from polychrome.training.export import load_base_model

    base = load_base_model(c.base_model)
    assert c.colors.bins == base.bins and colors.table.rowCount() == base.bins.Q
    assert c.colors.data_prior is not None and c.colors.data_prior.sum() == pytest.approx(1.0)
    assert colors.prior_item.image is not None and colors.weights_item.image is not None
    w_half = c.weights().copy()
    colors.lam_slider.setValue(80)
    assert c.settings.lam == pytest.approx(0.8)
    assert not np.allclose(c.weights(), w_half)

    # 3. settings: fine-tune with the encoder frozen; measured time per epoch
    wizard.next()
    assert wizard.currentId() == PAGE_SETTINGS
    settings = wizard.page(PAGE_SETTINGS)
    assert settings.finetune.isChecked() and settings.freeze.isChecked()
    assert settings.device.itemData(0) == "cpu"
    assert settings.size.currentData() == 64  # the controller's setting (tests train tiny crops)
    settings.size.setCurrentIndex(settings.size.findData(128))
    assert c.settings.size == 128
    settings.size.setCurrentIndex(settings.size.findData(64))
    settings.measure.click()
    qtbot.waitUntil(lambda: c.estimate is not None and not c.busy, timeout=WAIT_MS)
    assert c.estimate.seconds_per_step > 0 and c.estimate.steps_per_epoch >= 1
    assert "per epoch" in settings.estimate_label.text()
    assert not list((tmp_path / "runs").glob("**/*.onnx"))  # measuring writes nothing

    # 4. train: curves, validation samples, a model staged in the run folder (not installed yet)
    wizard.next()
    assert wizard.currentId() == PAGE_TRAIN
    page = wizard.page(PAGE_TRAIN)
    assert not page.isComplete()
    page.start_button.click()
    assert c.train_state == RUNNING
    qtbot.waitUntil(lambda: c.train_state == FINISHED and not c.busy, timeout=WAIT_MS)
    assert page.isComplete()
    assert c.curves.steps and c.curves.steps[-1] == c.total_steps and len(c.curves.val_loss) == 1
    assert page.loss_curve.getData()[0] is not None and len(page.val_curve.getData()[0]) == 1
    assert len(page.samples.labels) == 2
    assert c.trained_model.is_file() and c.trained_model.parent.parent == tmp_path / "runs"
    assert c.result.summary["freeze_encoder"] and c.result.summary["base_model"]["name"] == "tiny-base"
    assert not list(_isolated_user_models.glob("*.onnx"))

    # 5. evaluate: the starting model and the new one, side by side at four T
    wizard.next()
    assert wizard.currentId() == PAGE_EVALUATE
    ev_page = wizard.page(PAGE_EVALUATE)
    qtbot.waitUntil(lambda: c.evaluation is not None and not c.busy, timeout=WAIT_MS)
    ev = c.evaluation
    assert list(ev["models"]) == ["start: tiny-base", "new model"] and ev["n"] == len(val)
    assert set(ev["models"]["new model"]) == {0.2, 0.38, 0.6, 1.0}
    assert np.isfinite(ev["models"]["new model"][0.38]["psnr"]) and "psnr" in ev["gray"]
    assert ev_page.table.rowCount() == 5 * 2 and ev_page.table.columnCount() == 2 + 4 + 1  # metric × model, T
    assert len(ev_page.samples.labels) == min(4, len(val))

    # 6. export: name, card, installed in the user folder, in the model picker at once, used at once
    wizard.next()
    assert wizard.currentId() == PAGE_EXPORT
    export = wizard.page(PAGE_EXPORT)
    assert export.name.text() and not export.isComplete()
    export.name.setText("My Garden")
    export.license.setText("private photos")
    installed = []
    c.model_installed.connect(installed.append)
    export.install_button.click()
    qtbot.waitUntil(lambda: c.installed is not None and not c.busy, timeout=WAIT_MS)
    path = _isolated_user_models / "My Garden.onnx"
    assert installed == [path] and c.installed == path and export.isComplete()
    card = (_isolated_user_models / "My Garden.md").read_text(encoding="utf-8")
    assert "# My Garden" in card and str(photos) in card and "fine-tuned from `tiny-base`" in card
    assert "12 usable photos" in card and "private photos" in card and "| PSNR (dB) ↑ | 0.38 |" in card
    m = read_manifest(path)
    assert m.name == "My Garden" and m.license == "private photos" and m.bins == base.bins
    assert sorted(p.name for p in _isolated_user_models.iterdir()) == ["My Garden.md", "My Garden.onnx"]
    assert ("My Garden", path) in app_controller.available_models()
    assert any(e.path == path for e in registry.list_models())

    # "use it now" switched the app to the new model; it colorizes
    qtbot.waitUntil(lambda: app_controller.colorizer is not None, timeout=WAIT_MS)
    assert app_controller.model_path == path
    gray = imageio.write_image(tmp_path / "old.png", np.tile(np.linspace(20, 230, 96).astype(np.uint8), (64, 1)))
    app_controller.add_paths([str(gray)])
    qtbot.waitUntil(lambda: not app_controller.running and app_controller.queue.counts()[DONE] == 1, timeout=WAIT_MS)
    rgb = app_controller.queue.items[0].prediction.render(0.38)
    assert rgb.shape == (64, 96, 3)
    app_controller.shutdown(10000)

    # the same name again is refused unless the user confirms; confirming replaces it
    export.confirm_overwrite = lambda name: False
    assert not export.install()
    export.confirm_overwrite = lambda name: True
    assert export.install()
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT_MS)
    assert sorted(p.name for p in _isolated_user_models.iterdir()) == ["My Garden.md", "My Garden.onnx"]
    assert wizard.button(wizard.WizardButton.FinishButton).isEnabled()


def test_a_second_model_switches_the_app_with_switch_model(qtbot, tmp_path, photos, controller,
                                                            _isolated_user_models):
    """model_installed carries a path ColorizeController.switch_model loads (the lead's wiring)."""
    from polychrome.gui.queue.controller import ColorizeController

    c = scanned_controller(qtbot, controller, photos)
    c.config_overrides["max_steps"] = 1
    assert c.start_training()
    qtbot.waitUntil(lambda: c.train_state == FINISHED and not c.busy, timeout=WAIT_MS)
    assert c.publish("quick", use_now=False)
    qtbot.waitUntil(lambda: c.installed is not None and not c.busy, timeout=WAIT_MS)
    app = ColorizeController()
    assert app.switch_model(c.installed)
    assert app.colorizer.manifest.name == "quick"


# -- cancel, resume, pause ------------------------------------------------------------------------------------


def test_cancel_mid_training_writes_no_model_and_resume_continues(qtbot, tmp_path, photos, controller,
                                                                  _isolated_user_models):
    c = scanned_controller(qtbot, controller, photos)
    c.settings.epochs, c.settings.batch_size = 4, 2  # 4 steps per epoch, 16 in all
    steps = []
    c.training_event.connect(lambda e: isinstance(e, TrainStepEvent) and steps.append(e.step))
    wizard = make_wizard(qtbot, c)
    page = wizard.page(PAGE_TRAIN)
    assert c.start_training()
    qtbot.waitUntil(lambda: c.step >= 3, timeout=WAIT_MS)
    page.cancel_button.click()
    qtbot.waitUntil(lambda: c.train_state == CANCELLED and not c.busy, timeout=WAIT_MS)
    stopped = c.step
    assert 3 <= stopped < c.total_steps == 16
    assert not list(c.run_dir.glob("*.onnx")) and not list(c.run_dir.glob(".*"))  # no model, no temp file
    assert not list(_isolated_user_models.iterdir())
    ck = torch.load(str(c.run_dir / "last.pt"), map_location="cpu", weights_only=True)
    assert ck["step"] == stopped and c.can_resume
    page._refresh()
    assert page.start_button.text() == "Resume Training" and page.start_button.isEnabled()

    # a new wizard session finds the interrupted run
    other = TrainingWizardController(base_model=c.base_model, checkpoint_root=tmp_path / "runs", missing=[])
    other.find_runs()
    qtbot.waitUntil(lambda: not other.busy, timeout=WAIT_MS)
    assert [(r.path, r.step, r.total_steps) for r in other.interrupted_runs] == [(c.run_dir / "last.pt", stopped, 16)]
    other.shutdown()

    del steps[:]
    page.start_button.click()  # resume
    qtbot.waitUntil(lambda: c.train_state == FINISHED and not c.busy, timeout=WAIT_MS)
    assert steps[0] == stopped + 1 and steps[-1] == 16  # the step count continues
    assert c.curves.steps == sorted(set(c.curves.steps)) and len(c.curves.steps) == 16
    assert c.trained_model.is_file() and not c.can_resume
    wizard.close()


def test_resuming_an_interrupted_run_from_the_data_page(qtbot, tmp_path, photos, controller):
    c = scanned_controller(qtbot, controller, photos)
    c.settings.epochs, c.settings.batch_size = 2, 2
    assert c.start_training()
    qtbot.waitUntil(lambda: c.step >= 2, timeout=WAIT_MS)
    c.cancel_training()
    qtbot.waitUntil(lambda: c.train_state == CANCELLED and not c.busy, timeout=WAIT_MS)
    stopped = c.step

    fresh = TrainingWizardController(base_model=c.base_model, checkpoint_root=tmp_path / "runs", missing=[])
    wizard = make_wizard(qtbot, fresh)  # lists interrupted runs on opening
    wizard.show()
    data = wizard.page(PAGE_DATA)
    qtbot.waitUntil(lambda: data.runs_list.count() == 1 and not fresh.busy, timeout=WAIT_MS)
    data.resume_button.click()
    assert wizard.currentId() == PAGE_TRAIN
    steps = []
    fresh.training_event.connect(lambda e: isinstance(e, TrainStepEvent) and steps.append(e.step))
    wizard.page(PAGE_TRAIN).start_button.click()
    qtbot.waitUntil(lambda: fresh.train_state == FINISHED and not fresh.busy, timeout=WAIT_MS)
    assert steps[0] == stopped + 1 and fresh.trained_model.is_file()
    assert fresh.val_paths and fresh.suggested_name()
    fresh.shutdown()
    wizard.close()


def test_pause_holds_the_steps_and_resume_continues(qtbot, photos, controller):
    c = scanned_controller(qtbot, controller, photos)
    c.settings.epochs, c.settings.batch_size = 6, 2
    wizard = make_wizard(qtbot, c)
    page = wizard.page(PAGE_TRAIN)
    assert c.start_training()
    qtbot.waitUntil(lambda: c.step >= 2, timeout=WAIT_MS)
    page.pause_button.click()
    qtbot.waitUntil(lambda: c.train_state == PAUSED, timeout=WAIT_MS)
    assert page.pause_button.text() == "Continue"
    held = c.step
    qtbot.wait(1200)
    assert c.step == held and c.train_state == PAUSED  # no step while paused
    page.pause_button.click()
    qtbot.waitUntil(lambda: c.step > held, timeout=WAIT_MS)
    assert c.train_state == RUNNING
    # cancelling while paused works too (the gate lets the worker see the cancel)
    c.pause_training()
    qtbot.waitUntil(lambda: c.train_state == PAUSED, timeout=WAIT_MS)
    c.cancel_training()
    qtbot.waitUntil(lambda: c.train_state == CANCELLED and not c.busy, timeout=WAIT_MS)
    assert c.can_resume
    wizard.close()


# -- without PyTorch ----------------------------------------------------------------------------------------


def test_without_torch_the_wizard_explains_how_to_install_it(qtbot, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # "import torch" raises ImportError
    c = TrainingWizardController()
    assert "torch" in c.missing and not c.available
    wizard = make_wizard(qtbot, c)
    wizard.show()
    page = wizard.currentPage()
    assert isinstance(page, NoTorchPage) and wizard.pageIds() == [0]
    commands = page.commands.toPlainText()  # this run is from a clone: an editable install of it, with this Python
    assert "download.pytorch.org/whl/cpu" in commands and 'pip install -e ".[train]"' in commands
    assert sys.executable in commands
    assert "torch" in page.text.text()
    wizard.close()


def test_scratch_training_derives_bins_from_the_photos(qtbot, tmp_path, photos, monkeypatch):
    monkeypatch.setenv("POLYCHROME_CHECKPOINTS", str(tmp_path / "cache"))
    c = TrainingWizardController(checkpoint_root=tmp_path / "runs",
                                 config_overrides={**TINY, "pretrained": False, "width_mult": 0.25,
                                                   "bins_min_count": 3})
    c.set_setting("start", START_SCRATCH)  # (the default when no fine-tunable model is shipped)
    assert not c.fine_tuning
    c.settings.size, c.settings.epochs, c.settings.batch_size, c.settings.min_side = 64, 1, 4, 32
    scanned_controller(qtbot, c, photos)
    assert c.ensure_colors()
    qtbot.waitUntil(lambda: c.colors is not None and not c.busy, timeout=WAIT_MS)
    assert c.colors.bins.name == "data" and c.colors.prior_source == "data"
    img, extent = c.prior_image()
    assert img.dtype == np.uint8 and img.ndim == 3 and extent[0] < 0 < extent[1]
    c.shutdown()


def test_the_app_colorizes_while_the_wizard_trains_and_closing_stops_the_run(qtbot, tmp_path, photos, controller,
                                                                             conv_model_path):
    from polychrome.gui.queue.controller import DONE, ColorizeController
    from polychrome.runtime.colorizer import Colorizer

    c = scanned_controller(qtbot, controller, photos)
    c.settings.epochs, c.settings.batch_size = 20, 2  # long enough to still run below
    wizard = open_training_wizard(None, wizard_controller=c)  # deletes itself when closed: no qtbot.addWidget
    wizard.confirm_stop = lambda: True  # never a blocking question in a test
    wizard.next(), wizard.next(), wizard.next()
    assert wizard.currentId() == PAGE_TRAIN
    wizard.page(PAGE_TRAIN).start_button.click()
    qtbot.waitUntil(lambda: c.step >= 1, timeout=WAIT_MS)
    assert not wizard.button(wizard.WizardButton.BackButton).isEnabled()  # no going back mid-run

    app = ColorizeController(Colorizer(str(conv_model_path)))
    gray = imageio.write_image(tmp_path / "g.png", np.tile(np.linspace(20, 230, 64).astype(np.uint8), (48, 1)))
    app.add_paths([str(gray)])
    qtbot.waitUntil(lambda: app.queue.counts()[DONE] == 1, timeout=WAIT_MS)
    assert c.train_state == RUNNING  # the app worked while the model trained
    app.shutdown(10000)

    # closing asks first; "no" keeps training, "yes" stops it after its step with a checkpoint
    wizard.confirm_stop = lambda: False
    wizard.reject()
    assert wizard.isVisible() and c.training_active
    wizard.confirm_stop = lambda: True
    wizard.reject()
    assert not wizard.isVisible() and not c.busy and c.train_state == CANCELLED and c.can_resume
    ck = torch.load(str(c.run_dir / "last.pt"), map_location="cpu", weights_only=True)
    assert 1 <= ck["step"] < c.total_steps and not list(c.run_dir.glob("*.onnx"))
    qtbot.wait(200)  # late events of the stopped worker are ignored; the deleted wizard hears nothing
    assert c.train_state == CANCELLED



def test_importing_the_wizard_does_not_import_torch():
    import subprocess

    code = (
        "import sys\n"
        "import polychrome.gui.wizard, polychrome.gui.wizard.pages, polychrome.gui.workers\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print('ok')\n"
    )
    app = Path(__file__).resolve().parent.parent / "app"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(app)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_run_progress_follows_the_typed_training_events():
    """The wizard's Qt-free run model reads the training core's event dataclasses (no phase dicts)."""
    from polychrome.gui.wizard.model import PAUSED, RUNNING, RunProgress
    from polychrome.training.events import CheckpointEvent, StartEvent, ValEvent
    from polychrome.training.jobs import PausedEvent, ResumedEvent

    run = RunProgress()
    assert run.apply("start", StartEvent(10, 2, 6, 3, 0, "cpu", 100, 50)) is None
    for step, loss in ((1, 2.0), (2, float("nan")), (3, 1.5)):
        run.apply("", TrainStepEvent(1, 2, step, 6, loss, 1.8, 0.01, 5.0, 12.0))
    assert (run.step, run.total_steps, run.epoch, run.eta_s) == (3, 6, 1, 12.0)
    assert run.curves.steps == [1, 3] and run.curves.loss == [2.0, 1.5]  # a skipped (NaN) step is not plotted
    run.apply("val", ValEvent(False, 1, 2, 3, 1.7, samples=[{"name": "a"}], warning="garish"))
    assert run.curves.val_steps == [3] and run.samples == [{"name": "a"}] and run.last_val["val_loss"] == 1.7
    assert "samples" not in run.last_val and run.log_lines[-1] == "warning: garish"
    assert run.apply("paused", PausedEvent()) == PAUSED and run.apply("resumed", ResumedEvent()) == RUNNING
    run.apply("", CheckpointEvent("/tmp/x/last.pt", 3))
    assert str(run.checkpoint) == "/tmp/x/last.pt"
