"""Blind A/B comparison (pytest-qt, offscreen, real ONNX fixture models, real files): cached predictions are reused,
a second model runs once per image, sides are hidden and mapped back, the tally and the CSV, the dialog."""

import csv
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel  # noqa: E402

import slow_colorizer  # noqa: E402
from polychrome.core import imageio  # noqa: E402
from polychrome.core.errors import ImageWriteError  # noqa: E402
from polychrome.gui.ab import controller as ab_module  # noqa: E402
from polychrome.gui.ab.controller import (  # noqa: E402
    CSV_COLUMNS,
    RESULTS,
    RUNNING,
    ABController,
    Contender,
    sign_test_p,
)
from polychrome.gui.ab.view import ABDialog  # noqa: E402
from polychrome.gui.queue.controller import DONE, ColorizeController  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402

WAIT_MS = 30000


def make_images(folder: Path, n: int):
    """n small gray PNGs, each with its own ramp, so every image (and its colorization) differs."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        lo, hi = 10 + 9 * i, 245 - 7 * i
        x = np.linspace(lo, hi, 64, dtype=np.float32)
        img = (np.repeat(x[None, :], 40, axis=0) + rng.uniform(-4, 4, (40, 64))).clip(0, 255).astype(np.uint8)
        out.append(imageio.write_image(folder / f"img{i:02d}.png", img))
    return out


@pytest.fixture
def colorized(qtbot, tmp_path):
    """A factory: a ColorizeController that has colorized ``n`` images with ``model``."""
    made = []

    def make(model, n, keep=None):
        make_images(tmp_path / "in", n)
        c = ColorizeController(Colorizer(str(model)), keep=keep or max(n, 1))
        made.append(c)
        c.add_paths([str(tmp_path / "in")])
        qtbot.waitUntil(lambda: not c.running and c.queue.counts()[DONE] == n, timeout=WAIT_MS)
        return c

    yield make
    for c in made:
        c.shutdown(10000)


@pytest.fixture
def sessions():
    made = []
    yield made.append
    for ab in made:
        ab.shutdown(10000)


def wait_prepared(qtbot, ab):
    qtbot.waitUntil(lambda: not ab.running and ab.prepared == len(ab.trials), timeout=WAIT_MS)


def item_of(controller, path):
    return next(it for it in controller.queue.items if it.path == path)


def play(ab, plan):
    """Answer every trial with the contender ``plan(trial)`` prefers ("A", "B", "tie" or "skip"); returns what a
    correct tally must then be."""
    expected = {"A": 0, "B": 0, "tie": 0, "skip": 0}
    while ab.state == RUNNING:
        t = ab.current_trial
        want = plan(t)
        choice = "left" if want == t.left else "right" if want in ("A", "B") else want
        assert ab.choose(choice)
        expected[want] += 1
    return expected


# -- the statistics ------------------------------------------------------------------------------------

def test_sign_test_against_known_values():
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(5, 10) == 1.0
    assert sign_test_p(0, 5) == pytest.approx(2 / 32)
    assert sign_test_p(9, 10) == pytest.approx(2 * 11 / 1024)
    assert sign_test_p(1, 10) == sign_test_p(9, 10)
    assert sign_test_p(15, 20) == pytest.approx(0.04138946533203125)  # scipy.stats.binomtest(15, 20).pvalue


# -- the session -----------------------------------------------------------------------------------------

def test_two_temperatures_of_one_model_reuse_the_cache_and_map_choices_back(qtbot, known_model, colorized,
                                                                            sessions):
    n = 8
    c = colorized(known_model, n)
    runs = c.colorizer.run_count
    ab = ABController.from_controller(c)
    sessions(ab)
    assert ab.start(Contender(str(known_model), 0.1), Contender(str(known_model), 0.9), seed=1234)
    assert ab.state == RUNNING and len(ab.trials) == n
    wait_prepared(qtbot, ab)
    assert c.colorizer.run_count == runs  # no inference at all: both sides decode the queue's cached logits
    assert all(t.ready and not t.error for t in ab.trials)

    # a random order and both sides used (balanced: half the trials show A on the left)
    paths = [t.path for t in ab.trials]
    assert sorted(paths) == sorted(it.path for it in c.queue.items)
    assert paths != sorted(paths)
    assert [t.left for t in ab.trials].count("A") == n // 2
    # the same seed gives the same session again
    again = ABController.from_controller(c)
    sessions(again)
    assert again.start(Contender(str(known_model), 0.1), Contender(str(known_model), 0.9), seed=1234)
    assert [(t.path, t.left) for t in again.trials] == [(t.path, t.left) for t in ab.trials]
    again.finish()
    # other seeds give other orders and other sides (never tied to the order or to the image)
    patterns = set()
    for seed in range(1, 7):
        other = ABController.from_controller(c)
        sessions(other)
        assert other.start(Contender(str(known_model), 0.1), Contender(str(known_model), 0.9), seed=seed)
        patterns.add((tuple(t.path for t in other.trials), tuple(t.left for t in other.trials)))
        assert sorted(t.left for t in other.trials) == ["A"] * (n // 2) + ["B"] * (n // 2)
        other.finish()
    assert len({p for p, _ in patterns}) >= 5 and len({sides for _, sides in patterns}) >= 5
    assert len({tuple(left for _, left in sorted(zip(p, sides))) for p, sides in patterns}) >= 5

    # each side shows its own contender's colours; the user prefers A on even images, B on odd ones, with a tie
    # and a skip thrown in
    def plan(t):
        i = int(t.path.stem[3:])
        left, right = ab.current_images()
        pred = item_of(c, t.path).prediction
        want = {s: pred.preview(T, max_pixels=ab.preview_pixels, exact=True) for s, T in (("A", 0.1), ("B", 0.9))}
        assert not np.array_equal(want["A"], want["B"])
        np.testing.assert_array_equal(left, want[t.left])
        np.testing.assert_array_equal(right, want[t.right])
        return {3: "tie", 6: "skip"}.get(i, "A" if i % 2 == 0 else "B")

    assert ab.position() == (1, n)
    expected = play(ab, plan)
    assert ab.state == RESULTS and ab.current_trial is None
    tally = ab.tally()
    assert (tally.wins_a, tally.wins_b, tally.ties, tally.skips) == (
        expected["A"], expected["B"], expected["tie"], expected["skip"]) == (3, 3, 1, 1)
    assert tally.preference_a == pytest.approx(0.5)
    assert tally.p_value == pytest.approx(1.0)
    assert not ab.revealed  # the end of a session shows the tally; the names come with reveal()
    assert "contender A" not in ab.summary() and "T = 0.10" not in ab.summary()
    ab.reveal()
    assert ab.revealed and "Seed 1234" in ab.summary()
    assert c.colorizer.run_count == runs


def test_a_lopsided_preference_is_tallied_for_the_right_contender(qtbot, known_model, colorized, sessions):
    n = 9
    c = colorized(known_model, n)
    ab = ABController.from_controller(c)
    sessions(ab)
    assert ab.start(Contender(str(known_model), 0.05), Contender(str(known_model), 0.7), seed=7)
    wait_prepared(qtbot, ab)
    lefts = [t.left for t in ab.trials]
    assert "A" in lefts and "B" in lefts
    expected = play(ab, lambda t: "B")  # B always, wherever it is shown
    assert expected["B"] == n
    tally = ab.tally()
    assert (tally.wins_a, tally.wins_b) == (0, n)
    assert tally.preference_b == 1.0
    assert tally.p_value == pytest.approx(2 / 2 ** n)
    assert [t.winner for t in ab.trials] == ["B"] * n
    assert [t.choice for t in ab.trials] == ["left" if left == "B" else "right" for left in lefts]


def test_two_models_run_the_second_model_once_per_image(qtbot, known_model, conv_model_path, colorized, sessions):
    n = 6
    c = colorized(known_model, n)
    runs_known = c.colorizer.run_count
    conv = Colorizer(str(conv_model_path))  # the same cached session the A/B controller opens
    runs_conv = conv.run_count
    ab = ABController.from_controller(c)
    sessions(ab)
    assert ab.start(Contender(str(known_model), 0.38), Contender(str(conv_model_path), 0.38), seed=3)
    assert ab.colorizers["A"] is c.colorizer
    assert ab.colorizers["B"].session is conv.session
    wait_prepared(qtbot, ab)
    assert c.colorizer.run_count == runs_known
    assert conv.run_count - runs_conv == n
    for t in ab.trials:  # B's previews are the conv model's colours, A's the cached known-ab ones
        pred = item_of(c, t.path).prediction
        np.testing.assert_array_equal(t.images["A"], pred.preview(0.38, max_pixels=ab.preview_pixels, exact=True))
        ref = conv.predict(imageio.read_image(t.path).pixels)
        np.testing.assert_array_equal(t.images["B"], ref.preview(0.38, max_pixels=ab.preview_pixels, exact=True))
    assert "test-model" in ab.descriptions["A"] and "known.onnx" in ab.descriptions["A"]
    assert "conv.onnx" in ab.descriptions["B"]


def test_dropped_predictions_are_computed_once_for_both_temperatures(qtbot, known_model, colorized, sessions):
    c = colorized(known_model, 6, keep=2)
    dropped = sum(1 for it in c.queue.items if it.prediction is None)
    assert dropped == 4
    runs = c.colorizer.run_count
    ab = ABController.from_controller(c)
    sessions(ab)
    assert ab.start(Contender(str(known_model), 0.2), Contender(str(known_model), 0.8))
    wait_prepared(qtbot, ab)
    assert c.colorizer.run_count - runs == dropped  # one inference per image without a cache, shared by A and B


def test_a_session_over_plain_paths_skips_unreadable_files(qtbot, tmp_path, known_model, sessions):
    good = make_images(tmp_path / "in", 4)
    bad = tmp_path / "in" / "broken.png"
    bad.write_text("not an image")
    colorizer = Colorizer(str(known_model))
    runs = colorizer.run_count
    ab = ABController(good + [bad])
    sessions(ab)
    assert ab.start(Contender(colorizer, 0.1), Contender(colorizer, 0.6), seed=11)
    wait_prepared(qtbot, ab)
    assert colorizer.run_count - runs == 4  # both temperatures from one inference per image
    broken = [t for t in ab.trials if t.error]
    assert [t.path for t in broken] == [bad]
    play(ab, lambda t: "A")
    tally = ab.tally()
    assert (tally.wins_a, tally.failed) == (4, 1)
    rows = ab.records()
    assert [r["choice"] for r in rows if r["image"] == str(bad)] == ["error"]


def test_start_refuses_identical_contenders_and_no_images(qtbot, tmp_path, known_model, sessions):
    messages = []
    ab = ABController(make_images(tmp_path / "in", 2))
    sessions(ab)
    ab.message.connect(messages.append)
    assert not ab.start(Contender(str(known_model), 0.3), Contender(str(known_model), 0.3))
    assert "same" in messages[-1]
    assert not ab.start(Contender(str(tmp_path / "missing.onnx"), 0.3), Contender(str(known_model), 0.5))
    assert "model" in messages[-1]
    empty = ABController([])
    sessions(empty)
    empty.message.connect(messages.append)
    assert not empty.start(Contender(str(known_model), 0.3), Contender(str(known_model), 0.5))
    assert "no images" in messages[-1]


class SlowColorizer(slow_colorizer.SlowColorizer):
    delay = 0.3


def test_cancelling_the_preparation_leaves_out_the_rest(qtbot, tmp_path, known_model, sessions):
    paths = make_images(tmp_path / "in", 6)
    slow = SlowColorizer(str(known_model))
    ab = ABController(paths)
    sessions(ab)
    progress = []
    ab.prepare_progress.connect(lambda done, total: progress.append((done, total)))
    assert ab.start(Contender(slow, 0.1), Contender(slow, 0.6), seed=5)
    assert ab.current_images() is None and not ab.choose("left")  # nothing to judge before it is shown
    qtbot.waitUntil(lambda: ab.current_images() is not None, timeout=WAIT_MS)
    ab.cancel()
    qtbot.waitUntil(lambda: not ab.running, timeout=WAIT_MS)
    ready = [t for t in ab.trials if t.ready]
    assert 1 <= len(ready) < 6
    assert all(t.error == "not prepared (cancelled)" for t in ab.trials if not t.ready)
    assert progress[0] == (0, 6) and all(total == 6 for _, total in progress)
    play(ab, lambda t: "A")
    assert ab.state == RESULTS
    assert ab.tally().wins_a == len(ready) and ab.tally().failed == 6 - len(ready)


def test_undo_and_finishing_early(qtbot, known_model, colorized, sessions):
    c = colorized(known_model, 5)
    ab = ABController.from_controller(c)
    sessions(ab)
    assert ab.start(Contender(str(known_model), 0.1), Contender(str(known_model), 0.9), seed=2)
    wait_prepared(qtbot, ab)
    assert not ab.can_undo
    first = ab.current_trial
    assert ab.choose("left") and ab.current == 1
    assert ab.undo() and ab.current == 0 and first.choice is None
    assert ab.choose("tie") and ab.choose("right")
    ab.finish()
    assert ab.state == RESULTS
    tally = ab.tally()
    assert tally.ties == 1 and tally.decided == 1 and tally.undecided == 3 and tally.failed == 0
    assert [r["trial"] for r in ab.records()] == ["1", "2"]
    assert not ab.choose("left") and not ab.undo()


def test_csv_is_written_atomically_with_one_row_per_trial(qtbot, tmp_path, known_model, colorized, sessions,
                                                          monkeypatch):
    c = colorized(known_model, 4)
    ab = ABController.from_controller(c)
    sessions(ab)
    assert ab.start(Contender(str(known_model), 0.1), Contender(str(known_model), 0.9), seed=99)
    wait_prepared(qtbot, ab)
    choices = ["left", "right", "tie", "skip"]
    for ch in choices:
        assert ab.choose(ch)
    calls = []
    real = imageio.atomic_write_bytes
    monkeypatch.setattr(ab_module.imageio, "atomic_write_bytes",
                        lambda path, data, overwrite=True: calls.append(path) or real(path, data, overwrite))
    out = tmp_path / "results"
    out.mkdir()
    target = out / "ab.csv"
    assert not ab.revealed
    assert ab.export_csv(target) == target
    assert calls == [target]
    assert ab.revealed  # the file names the contenders
    assert sorted(p.name for p in out.iterdir()) == ["ab.csv"]  # no temp file left behind
    with open(target, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == 4
    for row, t, ch in zip(rows, ab.trials, choices):
        assert row["image"] == str(t.path)
        assert row["shown_left"] == t.left
        assert row["choice"] == ch
        assert row["winner"] == {"left": t.left, "right": t.right, "tie": "tie", "skip": ""}[ch]
        assert "T = 0.10" in row["contender_a"] and "T = 0.90" in row["contender_b"]
        assert row["seed"] == "99"
        assert row["timestamp"]
    # an existing file is never replaced unless the user confirmed it
    target.write_text("keep me")
    with pytest.raises(ImageWriteError):
        ab.export_csv(target)
    assert target.read_text() == "keep me"
    ab.export_csv(target, overwrite=True)
    assert target.read_text().startswith("trial,image,")


# -- the dialog -------------------------------------------------------------------------------------------

def test_dialog_buttons_and_shortcuts_record_choices(qtbot, tmp_path, known_model, colorized, monkeypatch):
    from polychrome.runtime import registry

    monkeypatch.setattr(registry, "shipped_model_dirs", lambda: [])  # only the fixture model is on offer
    n = 8
    c = colorized(known_model, n)
    runs = c.colorizer.run_count
    dlg = ABDialog(ABController.from_controller(c))
    qtbot.addWidget(dlg)
    ab = dlg.controller
    dlg.show()
    qtbot.waitExposed(dlg)
    dlg.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dlg, timeout=5000)

    assert dlg.pages.currentWidget() is dlg.setup_page
    assert dlg.model_combos["A"].currentData() == str(known_model)
    dlg.T_spins["A"].setValue(0.1)
    dlg.T_spins["B"].setValue(0.1)
    assert not dlg.start_button.isEnabled()  # identical contenders
    dlg.T_spins["B"].setValue(0.9)
    assert dlg.start_button.isEnabled()
    dlg.seed_edit.setText("4321")
    qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
    assert dlg.pages.currentWidget() is dlg.trial_page
    assert ab.seed == 4321
    qtbot.waitUntil(lambda: dlg.left_view.image is not None and dlg.right_view.image is not None, timeout=WAIT_MS)
    wait_prepared(qtbot, ab)
    assert dlg.position_label.text() == f"Image 1 of {n}"
    left, right = ab.current_images()
    np.testing.assert_array_equal(dlg.left_view.image, left)
    np.testing.assert_array_equal(dlg.right_view.image, right)
    # nothing on the trial page names a contender
    for desc in ab.descriptions.values():
        assert all(desc not in lbl.text() for lbl in dlg.trial_page.findChildren(QLabel))
        assert all("0.10" not in lbl.text() and "0.90" not in lbl.text() for lbl in dlg.trial_page.findChildren(QLabel))

    # one zoom for both views
    dlg.left_view.viewbox.setRange(xRange=(5, 20), yRange=(5, 15), padding=0)
    qtbot.waitUntil(lambda: np.allclose(dlg.right_view.viewbox.viewRange(), dlg.left_view.viewbox.viewRange()),
                    timeout=5000)

    qtbot.mouseClick(dlg.left_button, Qt.MouseButton.LeftButton)
    assert ab.trials[0].choice == "left"
    assert dlg.position_label.text() == f"Image 2 of {n}"
    keys = [(Qt.Key.Key_Right, "right"), (Qt.Key.Key_1, "left"), (Qt.Key.Key_2, "right"), (Qt.Key.Key_T, "tie"),
            (Qt.Key.Key_0, "tie"), (Qt.Key.Key_S, "skip")]
    for i, (key, choice) in enumerate(keys, start=1):
        QTest.keyClick(dlg, key)
        assert ab.trials[i].choice == choice, (key, choice)
    QTest.keyClick(dlg, Qt.Key.Key_Backspace)  # undo the skip
    assert ab.trials[6].choice is None and ab.current == 6
    dlg.skip_button.setFocus()  # keys work whatever has the focus
    QTest.keyClick(dlg.skip_button, Qt.Key.Key_Left)
    assert ab.trials[6].choice == "left"
    for button, choice in ((dlg.tie_button, "tie"),):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert ab.trials[7].choice == choice
    assert c.colorizer.run_count == runs

    # the last choice ends the session: the results page, names hidden until revealed
    assert ab.state == RESULTS
    assert dlg.pages.currentWidget() is dlg.results_page
    tally = ab.tally()
    wins = {"A": 0, "B": 0}
    for t in ab.trials:
        if t.choice in ("left", "right"):
            wins[t.left if t.choice == "left" else t.right] += 1
    assert (tally.wins_a, tally.wins_b, tally.ties, tally.skips) == (wins["A"], wins["B"], 3, 0)
    assert dlg.tally_table.item(0, 0).text() == "Contender A"
    assert dlg.tally_table.item(0, 1).text() == str(wins["A"])
    assert dlg.tally_table.item(1, 1).text() == str(wins["B"])
    assert dlg.trials_table.rowCount() == n and dlg.trials_table.item(0, 4).text() == "hidden"
    qtbot.mouseClick(dlg.reveal_button, Qt.MouseButton.LeftButton)
    assert dlg.tally_table.item(0, 0).text() == ab.descriptions["A"]
    assert dlg.trials_table.item(0, 4).text() == ab.trials[0].left

    target = tmp_path / "from_dialog.csv"
    dlg._ask_save_path = lambda: str(target)
    assert dlg.export_csv() == str(target)
    with open(target, newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == n

    # keys do nothing off the trial page; a new session starts from the setup page
    QTest.keyClick(dlg, Qt.Key.Key_Left)
    assert ab.state == RESULTS
    qtbot.mouseClick(dlg.new_button, Qt.MouseButton.LeftButton)
    assert dlg.pages.currentWidget() is dlg.setup_page
    t0 = time.monotonic()
    dlg.close()
    assert time.monotonic() - t0 < 5


def test_closing_the_dialog_mid_preparation_joins_the_worker(qtbot, tmp_path, known_model):
    paths = make_images(tmp_path / "in", 6)
    slow = SlowColorizer(str(known_model))
    ab = ABController(paths, base_colorizer=slow)
    dlg = ABDialog(ab)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.T_spins["A"].setValue(0.1)
    dlg.T_spins["B"].setValue(0.7)
    assert dlg.start()
    assert not dlg.left_button.isEnabled()  # the first image is still being prepared
    qtbot.waitUntil(lambda: dlg.left_button.isEnabled(), timeout=WAIT_MS)
    assert ab.running
    t0 = time.monotonic()
    dlg.reject()
    assert time.monotonic() - t0 < 5
    assert ab.runner.pool.activeThreadCount() == 0


def test_stop_preparing_in_the_dialog_goes_on_with_what_is_ready(qtbot, tmp_path, known_model):
    paths = make_images(tmp_path / "in", 6)
    ab = ABController(paths, base_colorizer=SlowColorizer(str(known_model)))
    dlg = ABDialog(ab)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.start()
    assert not dlg.stop_button.isHidden() and not dlg.prepare_bar.isHidden()
    qtbot.waitUntil(lambda: dlg.left_button.isEnabled(), timeout=WAIT_MS)
    qtbot.mouseClick(dlg.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not ab.running, timeout=WAIT_MS)
    assert dlg.stop_button.isHidden() and dlg.prepare_bar.isHidden()
    ready = sum(t.ready for t in ab.trials)
    assert 1 <= ready < 6
    for _ in range(ready):
        qtbot.mouseClick(dlg.right_button, Qt.MouseButton.LeftButton)
    assert dlg.pages.currentWidget() is dlg.results_page
    assert ab.tally().decided == ready and ab.tally().failed == 6 - ready
    dlg.accept()


def test_the_setup_offers_the_current_model_first_and_the_registrys_others(qtbot, tmp_path, bins, monkeypatch):
    from onnx_models import conv_model, known_ab_model

    models = tmp_path / "models"
    models.mkdir()
    known = known_ab_model(models / "known.onnx", bins, name="known-ab")
    conv = conv_model(models / "conv.onnx", bins, name="tiny-conv")
    monkeypatch.setenv("POLYCHROME_MODEL_PATH", str(models))
    from polychrome.runtime import registry

    monkeypatch.setattr(registry, "shipped_model_dirs", lambda: [])  # the shipped model would be a third choice
    c = ColorizeController(Colorizer(str(known)))
    ab = ABController.from_controller(c)
    choices = ab.model_choices()
    assert [p for _, p in choices] == [str(known), str(conv)]
    assert "current" in choices[0][0] and "tiny-conv" in choices[1][0]
    dlg = ABDialog(ab)
    qtbot.addWidget(dlg)
    # two models at the same T is a valid first pair; only the images are missing
    assert dlg.model_combos["A"].currentData() == str(known) and dlg.model_combos["B"].currentData() == str(conv)
    assert not dlg.start_button.isEnabled() and dlg.setup_hint.text() == "Open some images first."
    dlg.reject()
    c.shutdown(10000)
