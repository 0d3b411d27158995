"""The GUI's one task API (gui.workers.Tasks): the latest task per key wins, a superseded task is cancelled and
disconnected (nothing of it reaches the UI), generator jobs report typed partial results, coalesced UI calls keep
only the newest; and the temperature a user drags never comes back into the slider."""

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from polychrome.core import imageio  # noqa: E402
from polychrome.core.progress import Cancelled  # noqa: E402
from polychrome.gui.main_window import MainWindow  # noqa: E402
from polychrome.gui.queue.controller import ColorizeController  # noqa: E402
from polychrome.gui.workers import Tasks, Worker  # noqa: E402
from polychrome.runtime.colorizer import Colorizer  # noqa: E402

WAIT_MS = 20000


def blocking_job(started: threading.Event, release: threading.Event, value):
    """A job that yields one partial result, waits to be released (or cancelled), then returns ``value``."""

    def job(progress, cancel):
        yield f"partial {value}"
        started.set()
        release.wait(10)
        # deliberately no progress.check(): a superseded job that ignores its cancel still must not be heard
        return value

    return job


def test_a_superseded_task_is_cancelled_and_its_results_never_arrive(qtbot):
    tasks = Tasks(lanes=False, threads=2)  # two threads: the old task really runs while the new one does
    got, partial, finished = [], [], []
    s1, r1 = threading.Event(), threading.Event()
    first = tasks.start("render", blocking_job(s1, r1, "old"), on_returned=got.append, on_yielded=partial.append,
                        on_finished=lambda: finished.append("old"))
    assert s1.wait(5)  # the old task is past its partial result and busy
    qtbot.waitUntil(lambda: partial == ["partial old"], timeout=WAIT_MS)

    s2, r2 = threading.Event(), threading.Event()
    second = tasks.start("render", blocking_job(s2, r2, "new"), on_returned=got.append, on_yielded=partial.append,
                         on_finished=lambda: finished.append("new"))
    assert first.cancelled and not second.cancelled  # superseding cancels the old task
    assert tasks.current("render") is second
    r1.set()  # the old task now returns its (stale) result...
    qtbot.waitUntil(lambda: first.done, timeout=WAIT_MS)
    qtbot.wait(50)
    assert got == [] and "old" not in finished  # ...which never reaches the UI
    r2.set()
    qtbot.waitUntil(lambda: got == ["new"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: finished == ["new"], timeout=WAIT_MS)
    assert partial == ["partial old", "partial new"]
    assert not tasks.running("render") and tasks.shutdown(5000)


def test_results_queued_before_the_task_was_superseded_are_dropped(qtbot):
    """A result already on its way to the UI thread when a newer task starts is dropped too."""
    tasks = Tasks()
    got = []
    w = tasks.start("k", lambda progress, cancel: "stale", on_returned=got.append)
    assert tasks.runner("k").wait(5000)  # the worker has returned: its result is queued, not delivered yet
    assert w.done and got == []
    tasks.discard("k")
    qtbot.wait(50)
    assert got == []
    assert tasks.shutdown(5000)


def test_tasks_under_other_keys_and_keyless_tasks_are_not_superseded(qtbot):
    tasks = Tasks()
    got = []
    tasks.start("a", lambda p, c: "a", on_returned=got.append)
    tasks.start("b", lambda p, c: "b", on_returned=got.append)
    tasks.start(None, lambda p, c: "x1", lane="b", on_returned=got.append)
    tasks.start(None, lambda p, c: "x2", lane="b", on_returned=got.append)
    qtbot.waitUntil(lambda: sorted(got) == ["a", "b", "x1", "x2"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not tasks.busy, timeout=WAIT_MS)


def test_cancel_keeps_listening_and_errors_are_typed(qtbot):
    tasks = Tasks()
    events = []

    def slow(progress, cancel):
        for _ in range(500):
            progress.check()
            cancel.wait(0.01)

    tasks.start("job", slow, on_cancelled=lambda: events.append("cancelled"),
                on_finished=lambda: events.append("finished"))
    tasks.cancel("job")
    qtbot.waitUntil(lambda: events == ["cancelled", "finished"], timeout=WAIT_MS)

    def boom(progress, cancel):
        raise ValueError("kaput")

    errors = []
    tasks.start("job", boom, on_error=lambda msg, tb: errors.append((msg, tb)))
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=WAIT_MS)
    assert errors[0][0] == "ValueError: kaput" and "Traceback" in errors[0][1]


def test_a_generator_job_yields_partial_results_then_returns(qtbot):
    def gen(progress, cancel):
        yield "a"
        return "result"

    w = Worker(gen)
    out = []
    w.signals.yielded.connect(out.append)
    w.signals.returned.connect(out.append)
    w.run()
    qtbot.waitUntil(lambda: len(out) == 2, timeout=WAIT_MS)
    assert out == ["a", "result"]


def test_later_runs_only_the_newest_call_per_key(qtbot):
    tasks = Tasks()
    calls = []
    for i in range(5):
        tasks.later("drag", lambda i=i: calls.append(i))
    tasks.later("other", lambda: calls.append("other"), 20)
    assert calls == [] and tasks.pending("drag") and tasks.busy
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=WAIT_MS)
    assert calls == [4, "other"]
    tasks.later("drag", lambda: calls.append("dropped"), 10)
    tasks.drop("drag")
    qtbot.wait(50)
    assert calls == [4, "other"] and not tasks.busy


# -- the controller's exact render --------------------------------------------------------------------


def write_gray(path: Path, h: int = 40, w: int = 56) -> Path:
    x = np.linspace(10, 245, w, dtype=np.float32)
    return imageio.write_image(path, np.repeat(x[None], h, axis=0).astype(np.uint8))


def test_a_stale_exact_render_never_reaches_the_view(qtbot, tmp_path, known_model, monkeypatch):
    """An exact render of an old T still running when T moves on is superseded: its picture is never shown."""
    from polychrome.runtime import jobs

    c = ColorizeController(Colorizer(str(known_model)))
    c.add_paths([str(write_gray(tmp_path / "a.png"))])
    qtbot.waitUntil(lambda: c.prediction is not None and not c.running and not c.exact_pending, timeout=WAIT_MS)
    release, started = threading.Event(), threading.Event()
    real = jobs.render_exact
    stale = object()

    def slow_render(progress, cancel, prediction, T, max_pixels=None):
        if T == pytest.approx(0.2):
            started.set()
            release.wait(10)
            return stale  # what would be shown if the stale render got through
        return real(progress, cancel, prediction, T, max_pixels)

    import polychrome.gui.queue.controller as models

    monkeypatch.setattr(models, "render_exact", slow_render)
    shown = []
    c.preview_changed.connect(shown.append)
    c.set_T(0.2, exact=True)
    assert started.wait(5)
    old = c.tasks.current("exact")
    c.set_T(0.7, exact=True)  # supersedes the render at 0.2
    assert old.cancelled and old.discarded
    release.set()
    qtbot.waitUntil(lambda: not c.exact_pending, timeout=WAIT_MS)
    qtbot.wait(50)
    assert all(s is not stale for s in shown)
    np.testing.assert_array_equal(shown[-1], c.prediction.preview(0.7, exact=True))
    assert c.shutdown(WAIT_MS)


# -- T does not echo back into the slider -------------------------------------------------------------


def test_a_users_slider_move_never_comes_back_as_a_set_value(qtbot, tmp_path, known_model):
    c = ColorizeController(Colorizer(str(known_model)))
    w = MainWindow(c)
    qtbot.addWidget(w)
    c.add_paths([str(write_gray(tmp_path / "a.png"))])
    qtbot.waitUntil(lambda: c.prediction is not None and not c.running and not c.exact_pending, timeout=WAIT_MS)
    calls = []
    real_set = w.slider.slider.setValue
    w.slider.slider.setValue = lambda v: (calls.append(v), real_set(v))[1]
    temperatures = []
    c.temperature_changed.connect(temperatures.append)

    # a drag: the handle is down while it moves, then released
    w.slider.slider.setSliderDown(True)
    for pos in (300, 320, 340):
        w.slider.slider.setSliderPosition(pos)
        qtbot.wait(5)
    w.slider.slider.setSliderDown(False)
    w.slider.slider.sliderReleased.emit()
    # the keyboard moves the value without a drag
    w.slider.slider.triggerAction(w.slider.slider.SliderAction.SliderSingleStepAdd)
    qtbot.waitUntil(lambda: not c.exact_pending, timeout=WAIT_MS)
    assert temperatures and c.T == pytest.approx(w.slider.value())  # the controller followed the user...
    assert calls == []  # ...and nothing was set back into the slider

    # a T set elsewhere (the metrics panel, a shortcut) does move the slider
    c.set_T(0.9, exact=True)
    assert calls and w.slider.value() == pytest.approx(0.9)
    w.close()


def test_the_job_modules_import_without_qt_or_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import polychrome.runtime.jobs, polychrome.training.jobs\n"
        "bad = {'PySide6', 'torch', 'pyqtgraph'} & set(sys.modules)\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    app = Path(__file__).resolve().parent.parent / "app"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(app)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_cancelled_is_what_a_cancelled_generator_job_raises():
    from polychrome.core.progress import Progress
    from polychrome.runtime.jobs import run_to_end, sweep_temperatures

    p = Progress()
    seen = []

    def measure(T):
        if T > 0.3:
            p.cancel_token.cancel()
        return T * 2

    with pytest.raises(Cancelled):
        run_to_end(sweep_temperatures(p, p.cancel_token, measure, [0.1, 0.2, 0.4, 0.8]), seen.append)
    assert [pt.T for pt in seen] == [0.1, 0.2, 0.4]  # the value in hand is delivered, then the sweep stops
