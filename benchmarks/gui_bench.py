"""Desktop-app speed goals (issue 4), each next to a baseline measured in the same run. Prints a table.

  * T change → repainted 2 MP preview ≤ 16 ms p95: the main window's real path (slider value → coalescing timer →
    controller → decode of the cached logits → fast preview → pyqtgraph ImageItem → the viewport's next paint),
    timed from the slider's value to the end of that paint. Baseline: a precomputed frame of the same size handed
    to the same view and painted, i.e. what any display of a new 2 MP frame costs; the ratio says how much the
    temperature change adds.
  * UI event-loop latency while a batch runs ≤ 50 ms: a 5 ms QTimer on the UI thread records how late each tick
    comes while the queue colorizes several 2 MP scans on its worker. Baseline: the same timer with the app idle.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=app .venv/bin/python benchmarks/gui_bench.py [--model M] [--quick]
    .venv/bin/python benchmarks/gui_bench.py --platform xcb [--window 1920x1080]   # a real X11 window (own Xvfb)

Without ``--model`` the default model is used, else a small convolutional fixture model (tests/onnx_models.py).

``--platform xcb`` runs the same goals through Qt's X11 plugin in a real window (on ``$DISPLAY``, else on an Xvfb
started for the run, 1920×1080), and a T step then also includes the trip to the X server: after the paint, a
``QGuiApplication.sync()`` round trip returns once the server has drawn the frame. It also prints where a T step's
time goes: decoding + the fast preview (controller), handing the frame to pyqtgraph (``setImage``: the QImage),
the paint of the viewport (scaling the 2 MP frame to the window), and the transfer to the X server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

def start_xvfb(size: str = "1920x1080") -> object:
    """An Xvfb for this run (DISPLAY set); returns the process (terminated at exit)."""
    import atexit
    import subprocess

    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        os.environ["DISPLAY"] = ":" + f.readline().strip()
    atexit.register(proc.terminate)
    return proc


def pct(values, q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def watch_paints(widget):
    """Installs on ``widget`` (a view's viewport) a filter that counts its paint events and returns it: a frame is
    on screen once its paint has run, so waiting for ``.painted`` to grow waits for the frame."""
    from PySide6.QtCore import QEvent, QObject

    class PaintWatch(QObject):
        painted = 0

        def eventFilter(self, obj, ev):  # noqa: N802
            if ev.type() == QEvent.Type.Paint:
                self.painted += 1
            return False

    watch = PaintWatch()
    widget.installEventFilter(watch)
    return watch


def pick_model(arg, tmp: Path) -> str:
    if arg:
        return arg
    from polychrome.core.errors import PolychromeError
    from polychrome.runtime import registry

    try:
        return str(registry.default_model().path)
    except PolychromeError:
        from onnx_models import conv_model
        from polychrome.core.bins import in_gamut_bins

        return str(conv_model(tmp / "bench_conv.onnx", in_gamut_bins(), hidden=16))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model name or .onnx path")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and a shorter batch")
    ap.add_argument("--repeat", type=int, default=None, help="T changes timed (default 120, quick 30)")
    ap.add_argument("--platform", choices=("offscreen", "xcb"), default=None,
                    help="Qt platform (default: $QT_QPA_PLATFORM, else offscreen); xcb: a real X11 window")
    ap.add_argument("--window", default="1400x900", help="window size WxH (xcb: also the Xvfb screen if started)")
    args = ap.parse_args(argv)
    repeat = args.repeat or (30 if args.quick else 120)
    platform = args.platform or os.environ.get("QT_QPA_PLATFORM", "offscreen").split(":")[0]
    os.environ["QT_QPA_PLATFORM"] = platform
    win_w, win_h = (int(v) for v in args.window.lower().split("x"))
    if platform == "xcb" and not os.environ.get("DISPLAY"):
        start_xvfb(f"{max(win_w, 1920)}x{max(win_h, 1080)}")

    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication
    from run import photo_like_gray

    from polychrome.core import imageio
    from polychrome.gui.main_window import MainWindow
    from polychrome.gui.queue.controller import ColorizeController
    from polychrome.runtime.colorizer import Colorizer
    from polychrome.runtime.providers import limit_blas_threads

    limit_blas_threads()  # as polychrome-gui does at start
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="polychrome-guibench-"))
    model = pick_model(args.model, tmp)
    h, w = 1200, 1680  # 2.0 MP: the preview is shown at full size
    n_batch = 3 if args.quick else 8
    paths = [imageio.write_image(tmp / f"scan{i}.png", photo_like_gray(h, w, seed=i)) for i in range(n_batch + 1)]

    c = ColorizeController(Colorizer(model), max_pixels=h * w)
    win = MainWindow(c)
    win.resize(win_w, win_h)
    win.show()

    def pump_until(cond, timeout=300.0):
        t0 = time.monotonic()
        while not cond() and time.monotonic() - t0 < timeout:
            app.processEvents()
            time.sleep(0.002)

    c.add_paths([str(paths[0])])
    pump_until(lambda: not c.running and c.prediction is not None)
    pump_until(lambda: not c.exact_pending, 30)
    assert c.prediction is not None, "the benchmark image could not be colorized"
    view = win.image_view.graphics.viewport()

    watch = watch_paints(view)
    on_x11 = platform == "xcb"

    def until_painted() -> None:
        # the paint event is delivered (and runs) inside processEvents: once counted, the frame has been drawn into
        # the window's backing store; on X11 the backing store is then flushed to the server, and sync() returns
        # after a round trip, i.e. once the server has the frame
        before, t0 = watch.painted, time.monotonic()
        while watch.painted == before and time.monotonic() - t0 < 10:
            app.processEvents()
        assert watch.painted > before, "the image view never repainted"
        if on_x11:
            QGuiApplication.sync()

    # -- T change → repainted preview ---------------------------------------------------------------
    # Each sample runs the event loop the way a drag does: the slider's value arrives, the coalescing timer fires
    # on the next turn (decode + preview + setImage), and the viewport's next paint draws the new frame. The
    # baseline hands a ready frame of the same size to the same view and waits for the same paint.
    Ts = np.linspace(0.05, 1.0, 37)
    t_change, display = [], []
    frames = [c.prediction.preview(float(T), max_pixels=h * w) for T in Ts[:4]]
    for i in range(repeat + 3):
        T = float(Ts[i % len(Ts)])
        t0 = time.perf_counter()
        win._on_slider_drag(T)  # what a drag delivers; the coalescing timer fires on the next loop turn
        until_painted()
        t1 = time.perf_counter()
        win.image_view.set_image(frames[i % len(frames)])
        until_painted()
        t2 = time.perf_counter()
        if i >= 3:
            t_change.append((t1 - t0) * 1000)
            display.append((t2 - t1) * 1000)
    # where a T step's time goes, stage by stage (same frames, each stage timed on its own)
    stages = {"decode + fast preview": [], "setImage (QImage)": [], "paint (scale to window)": [],
              "transfer to the display": []}
    item = win.image_view.item
    for i in range(max(20, repeat // 2)):
        T = float(Ts[(i * 7) % len(Ts)])
        t0 = time.perf_counter()
        frame = c.prediction.preview(T, max_pixels=h * w)
        t1 = time.perf_counter()
        item.setImage(frame, autoLevels=False, levels=None)  # as ImageView.set_image does
        item.render()  # what paint() does first when the QImage is stale
        t2 = time.perf_counter()
        before = watch.painted
        view.repaint()  # a synchronous paint of the viewport
        t3 = time.perf_counter()
        if on_x11:
            app.processEvents()  # the backing store's flush
            QGuiApplication.sync()
        t4 = time.perf_counter()
        assert watch.painted > before
        for k, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            stages[k].append(dt * 1000)
    view.removeEventFilter(watch)
    shown = win.image_view.image
    assert shown is not None and shown.shape[:2] == (h, w), shown.shape

    # -- event-loop latency --------------------------------------------------------------------------
    def latency(duration_s: float, while_running=None):
        lates = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]
        interval = 5

        def tick():
            now = clock.nsecsElapsed()
            lates.append(max(0.0, (now - last[0]) / 1e6 - interval))
            last[0] = now

        timer = QTimer()
        timer.setInterval(interval)
        timer.timeout.connect(tick)
        timer.start()
        t0 = time.monotonic()
        if while_running is not None:
            while_running()
        while time.monotonic() - t0 < duration_s or (while_running is not None and c.running):
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        return lates[1:]

    idle = latency(2.0 if args.quick else 4.0)
    t_batch = time.monotonic()
    busy = latency(0.5, while_running=lambda: c.add_paths([str(p) for p in paths[1:]]))
    batch_s = time.monotonic() - t_batch
    done = c.queue.counts()["done"]
    c.shutdown(30000)
    win.close()

    rows = [
        ("T change → repainted 2 MP preview", "p50 / p95 ms", statistics.median(t_change), pct(t_change, 0.95),
         "≤ 16 p95", statistics.median(display), pct(display, 0.95), "repaint of a ready 2 MP frame"),
        (f"UI latency, batch of {n_batch} × 2 MP ({batch_s:.1f} s, {done} done)", "p95 / max ms", pct(busy, 0.95),
         max(busy) if busy else 0.0, "≤ 50", pct(idle, 0.95), max(idle) if idle else 0.0, "idle event loop"),
    ]
    vp = view.size()
    print(f"model: {model}   provider: {c.colorizer.provider if c.colorizer else '-'}   cpus: {os.cpu_count()}   "
          f"platform: {platform}   window {win_w}x{win_h}, image viewport {vp.width()}x{vp.height()}")
    print(f"{'goal':58} {'what':13} {'ours':>15} {'budget':>9}   {'baseline':>15}  ratio  baseline is")
    for name, what, a, b, budget, ba, bb, base in rows:
        ratio = b / bb if bb > 0 else float("inf")
        print(f"{name:58} {what:13} {a:7.1f} /{b:6.1f} {budget:>9}   {ba:7.1f} /{bb:6.1f}  {ratio:5.2f}  {base}")
    print("a T step, stage by stage (p50 / p95 ms): " + ";  ".join(
        f"{k} {statistics.median(v):.1f} / {pct(v, 0.95):.1f}" for k, v in stages.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
