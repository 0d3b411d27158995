"""Hint tool speed goals (issue 15), each next to a baseline measured in the same run. Prints a table.

  * A colour point → repainted 2 MP preview ≤ 300 ms: the main window's real path from the mouse release (the
    hint overlay's click that places a point, or the drop of a dragged point) → the hint map → one inference on a
    worker with the cached L* → the steered prediction on the queue item → the fast preview → the viewport's next
    paint. Baseline: the bare inference of the same image (``ModelSession.run`` on the prepared input) plus the
    repaint of a ready 2 MP frame — the floor any re-run of the network costs; the ratio is what the tool adds.
  * Reference strength slider → repainted 2 MP preview ≤ 16 ms p95: the bias on the cached logits (no inference)
    → decode → fast preview → paint. Baseline: a T change through the same window (the app's live T path).
  * Both check that T changes afterwards run no inference.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/hints_bench.py [--model M] [--quick]

Without ``--model``: /work/runs/v2/polychrome-lite0-v2.onnx if present, else the default model. The point section
needs a hint-taking model (it is skipped with the reason otherwise); the reference section works with any model.
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
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

V2 = Path("/work/runs/v2/polychrome-lite0-v2.onnx")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model name or .onnx path")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args(argv)
    n_points = 8 if args.quick else 20
    n_slider = 30 if args.quick else 100

    from gui_bench import pct, watch_paints
    from PySide6.QtWidgets import QApplication
    from run import photo_like_gray

    from polychrome.core import imageio
    from polychrome.gui.main_window import MainWindow
    from polychrome.gui.queue.controller import ColorizeController
    from polychrome.runtime.colorizer import Colorizer
    from polychrome.runtime.providers import limit_blas_threads

    limit_blas_threads()
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="polychrome-hintbench-"))
    model = args.model or (str(V2) if V2.is_file() else None)
    h, w = 1200, 1680  # 2.0 MP
    rgb = photo_like_gray(h, w, seed=3)
    path = imageio.write_image(tmp / "scan.png", rgb)
    ref_rgb = np.zeros((120, 160, 3), np.uint8)
    ref_rgb[..., 0], ref_rgb[..., 1], ref_rgb[..., 2] = 200, 120, 60  # a warm, sepia-like swatch card
    ref_rgb[:, 80:] = (60, 110, 190)
    ref_path = imageio.write_image(tmp / "ref.png", ref_rgb)

    colorizer = Colorizer(model)
    c = ColorizeController(colorizer, max_pixels=h * w)
    win = MainWindow(c)
    win.resize(1400, 900)
    win.show()
    hc = win.hints

    def pump_until(cond, timeout=120.0):
        t0 = time.monotonic()
        while not cond() and time.monotonic() - t0 < timeout:
            app.processEvents()
            time.sleep(0.001)
        return cond()

    c.add_paths([str(path)])
    assert pump_until(lambda: not c.running and c.prediction is not None), "the image could not be colorized"
    pump_until(lambda: not c.exact_pending, 30)
    view = win.image_view.graphics.viewport()

    watch = watch_paints(view)

    def until_painted(before: int) -> None:
        t0 = time.monotonic()
        while watch.painted == before and time.monotonic() - t0 < 10:
            app.processEvents()

    rng = np.random.default_rng(0)
    rows = []

    # -- baseline: bare inference + repaint of a ready frame ---------------------------------------------------
    pred0 = c.prediction
    prep = colorizer.prepare(pred0.L)
    frame = pred0.preview(0.38, max_pixels=h * w)
    infer, display = [], []
    for _ in range(max(3, n_points // 2)):
        t0 = time.perf_counter()
        if colorizer.takes_hints:
            ab, mask = colorizer.hint_maps([], pred0.shape, prep)
            colorizer.session.run(prep.tensor, ab, mask)
        else:
            colorizer.session.run(prep.tensor)
        infer.append((time.perf_counter() - t0) * 1000)
        before = watch.painted
        t0 = time.perf_counter()
        win.image_view.set_image(frame if len(display) % 2 else frame[::-1].copy())
        until_painted(before)
        display.append((time.perf_counter() - t0) * 1000)
    floor = statistics.median(infer) + statistics.median(display)

    # -- a colour point → repainted preview ---------------------------------------------------------------------
    if hc.points_enabled:
        hc.set_active(True)
        lat = []
        for i in range(n_points + 2):
            y, x = float(rng.uniform(0, h)), float(rng.uniform(0, w))
            done_before = hc.inference_runs
            before = watch.painted
            t0 = time.perf_counter()
            if i % 2 == 0 or not hc.model.points:
                hc.add_point(y, x)  # the click's release places a point: what the overlay calls
            else:  # the drop of a dragged point
                j = len(hc.model.points) - 1
                hc.begin_drag(j)
                hc.drag_to(j, y, x)
                hc.end_drag()
            ok = pump_until(lambda n=done_before: hc.inference_runs > n and not hc.busy, 30)
            until_painted(before if watch.painted == before else watch.painted)
            t1 = time.perf_counter()
            assert ok, "the hinted preview never came"
            if i >= 2:
                lat.append((t1 - t0) * 1000)
        runs = colorizer.run_count
        for T in (0.2, 0.5, 0.9):
            c.set_T(T)
        assert colorizer.run_count == runs, "a T change ran the network"
        rows.append((f"colour point → repainted 2 MP preview ({len(hc.model.points)} points)", "p50 / p95 ms",
                     statistics.median(lat), pct(lat, 0.95), "≤ 300", statistics.median(infer),
                     floor, "inference + repaint of a ready frame"))
        hc.clear()
        pump_until(lambda: not hc.busy, 30)
        hc.set_active(False)
    else:
        print(f"points skipped: {hc.points_reason}")

    # -- reference strength slider -----------------------------------------------------------------------------
    hc.set_reference(str(ref_path))
    assert pump_until(lambda: hc.reference_rgb is not None and not hc.busy, 30), "the reference was not read"
    pump_until(lambda: not c.exact_pending, 30)
    runs = colorizer.run_count
    slider, tchange = [], []
    betas = np.linspace(0.0, 2.0, 21)
    Ts = np.linspace(0.1, 0.9, 17)
    for i in range(n_slider + 3):
        before = watch.painted
        t0 = time.perf_counter()
        hc.set_strength(float(betas[i % len(betas)]), exact=False)
        until_painted(before)
        t1 = time.perf_counter()
        before = watch.painted
        win._on_slider_drag(float(Ts[i % len(Ts)]))
        until_painted(before)
        t2 = time.perf_counter()
        if i >= 3:
            slider.append((t1 - t0) * 1000)
            tchange.append((t2 - t1) * 1000)
    assert colorizer.run_count == runs, "the reference slider ran the network"
    rows.append(("reference strength → repainted 2 MP preview", "p50 / p95 ms", statistics.median(slider),
                 pct(slider, 0.95), "≤ 16 p95", statistics.median(tchange), pct(tchange, 0.95),
                 "T change → repaint (same window)"))
    view.removeEventFilter(watch)
    hc.shutdown()
    c.shutdown(30000)
    win.close()

    print(f"model: {model or 'default'}   provider: {colorizer.provider}   cpus: {os.cpu_count()}   "
          f"image: {w}×{h}   inference p50 {statistics.median(infer):.0f} ms")
    print(f"{'goal':58} {'what':13} {'ours':>15} {'budget':>9}   {'baseline':>15}  ratio  baseline is")
    for name, what, a, b, budget, ba, bb, base in rows:
        ratio = b / bb if bb > 0 else float("inf")
        print(f"{name:58} {what:13} {a:7.1f} /{b:6.1f} {budget:>9}   {ba:7.1f} /{bb:6.1f}  {ratio:5.2f}  {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
