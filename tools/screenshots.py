"""Screenshots of the desktop app as a user sees it (offscreen by default; under Xvfb if DISPLAY is set).

    PYTHONPATH=app .venv/bin/python tools/screenshots.py --model MODEL.onnx [--out shots/] [IMAGES_OR_FOLDERS ...]

Loads the images (default: the bundled sample photo), waits for the colorization, and writes one PNG per view:
``main.png`` (default T), ``main_T010.png`` (vivid, T = 0.1), ``main_T100.png`` (the mean, T = 1),
``distribution.png`` (a pixel pinned in the middle of the image, the dock showing its distribution),
``side_by_side.png``, ``wipe.png``, ``entropy.png`` and ``delta_e.png`` (overlays), ``metrics.png`` (the metrics
dock with its metric-vs-T plot), and the dialogs ``export_dialog.png``, ``ab_dialog.png``, ``preferences.png``,
``about.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="*", help="images or folders (default: resources/sample.jpg)")
    ap.add_argument("--model", help="model name or .onnx path (default: the default model)")
    ap.add_argument("--out", default="shots", help="folder for the PNGs (default: ./shots)")
    ap.add_argument("--size", default="1400x850", help="window size WxH")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for colorization")
    args = ap.parse_args(argv)

    import tempfile

    from PySide6.QtWidgets import QApplication

    from polychrome.gui.main_window import MainWindow
    from polychrome.gui.queue.controller import ColorizeController
    from polychrome.gui.settings import AppSettings
    from polychrome.runtime.colorizer import Colorizer

    app = QApplication.instance() or QApplication([])
    w, h = (int(v) for v in args.size.lower().split("x"))
    settings = AppSettings(str(Path(tempfile.mkdtemp()) / "shots.ini"))  # never the user's own settings
    window = MainWindow(ColorizeController(Colorizer(args.model)), settings)
    window.resize(w, h)
    window.show()
    c = window.controller
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def pump(seconds: float, until=None) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            app.processEvents()
            if until is not None and until():
                return
            time.sleep(0.02)

    c.add_paths([str(p) for p in (args.inputs or [ROOT / "resources" / "sample.jpg"])])
    pump(args.timeout, until=lambda: not c.running and c.prediction is not None)
    if c.prediction is None:
        print("no image could be colorized", file=sys.stderr)
        return 1
    shots = []
    for name, T in (("main.png", c.colorizer.default_T), ("main_T010.png", 0.1), ("main_T100.png", 1.0)):
        c.set_T(T, exact=True)
        pump(5.0, until=lambda: not getattr(c, "exact_pending", False))
        pump(0.3)
        window.grab().save(str(out / name))
        shots.append(name)
    H, W = c.prediction.shape
    c.set_T(c.colorizer.default_T, exact=True)
    c.pin(H * 0.5, W * 0.5)
    pump(1.0)
    window.grab().save(str(out / "distribution.png"))
    shots.append("distribution.png")
    c.pin(None, None)

    def shot(name: str, widget=None, wait: float = 1.0) -> None:
        pump(wait, until=lambda: not window.compare.busy and not c.exact_pending)
        pump(0.3)
        (widget or window).grab().save(str(out / name))
        shots.append(name)

    window.metrics_dock.raise_()
    shot("metrics.png", wait=60.0)
    cv = window.compare_view
    for mode, name in (("side by side", "side_by_side.png"), ("wipe", "wipe.png")):
        cv.set_mode(mode)
        shot(name)
    cv.set_mode("result")
    for overlay in ("entropy", "delta_e"):
        cv.set_overlay(overlay)
        shot(f"{overlay}.png", wait=10.0)
    cv.set_overlay(None)
    window.distribution.raise_()
    for name, opener in (("export_dialog.png", window.export_all), ("ab_dialog.png", window.open_ab),
                         ("preferences.png", window.show_preferences), ("about.png", window.show_about)):
        dlg = opener()
        if dlg is None:
            continue
        pump(0.5)
        shot(name, dlg, wait=0.2)
        dlg.close()
        pump(0.2)
    c.shutdown(10000)
    window.compare.shutdown(10000)
    print("wrote " + ", ".join(str(out / s) for s in shots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
