"""The app on a real X server: every library of Qt's xcb platform plugin is installed, and ``python -m polychrome.gui``
starts under Xvfb with QT_QPA_PLATFORM=xcb, maps a window that fits the screen (also at 150 %), and quits cleanly.

Needs Xvfb and xwininfo (scripts/system-packages.sh installs them); without them the tests skip, unless
POLYCHROME_REQUIRE_XVFB=1 (CI sets it), where they fail.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets")

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("POLYCHROME_REQUIRE_XVFB") == "1"
SCREEN = (1920, 1080)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if REQUIRED:
            pytest.fail(f"{tool} is not installed (scripts/system-packages.sh installs it)")
        pytest.skip(f"{tool} is not installed")
    return path


def plugin() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_every_library_of_the_xcb_plugin_is_installed():
    need("Xvfb")  # a machine meant to show the app (or CI) has X; a bare container without it is not checked
    missing = []
    for lib in [plugin(), plugin().parents[2] / "lib" / "libQt6XcbQpa.so.6"]:
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
        missing += [line.split()[0] for line in out.splitlines() if "not found" in line]
    assert not missing, f"missing for the xcb platform plugin: {sorted(set(missing))} (see scripts/system-packages.sh)"


class Xvfb:
    def __init__(self, size=SCREEN):
        r, w = os.pipe()
        self.proc = subprocess.Popen([need("Xvfb"), "-displayfd", str(w), "-screen", "0", f"{size[0]}x{size[1]}x24",
                                      "-nolisten", "tcp"], pass_fds=(w,), stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            self.display = ":" + f.readline().strip()

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def xvfb():
    need("xwininfo")
    x = Xvfb()
    yield x
    x.close()


def find_window(display: str, title: str, timeout: float = 60.0):
    """(id, x, y, w, h, viewable) of the first top-level window titled ``title``, polled with xwininfo."""
    env = {**os.environ, "DISPLAY": display}
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, env=env).stdout
        for m in re.finditer(r"(0x[0-9a-f]+) \"" + re.escape(title) + r"\": \(.*?\)\s+(\d+)x(\d+)\+", tree):
            w, h = int(m.group(2)), int(m.group(3))
            if w < 50 or h < 50:  # Qt's helper windows
                continue
            info = subprocess.run(["xwininfo", "-id", m.group(1)], capture_output=True, text=True, env=env).stdout
            if "IsViewable" in info:
                ax = int(re.search(r"Absolute upper-left X:\s+(-?\d+)", info).group(1))
                ay = int(re.search(r"Absolute upper-left Y:\s+(-?\d+)", info).group(1))
                return m.group(1), ax, ay, w, h, True
        time.sleep(0.2)
    return None


@pytest.mark.parametrize("factor", ["1", "1.5"])
def test_the_app_starts_on_x11_with_the_xcb_plugin_and_shows_a_window(xvfb, tmp_path, known_model, factor):
    import numpy as np

    from polychrome.core import imageio

    img = imageio.write_image(tmp_path / "scan.png", np.tile(np.arange(256, dtype=np.uint8), (120, 1)))
    env = {**os.environ, "DISPLAY": xvfb.display, "QT_QPA_PLATFORM": "xcb", "QT_SCALE_FACTOR": factor,
           "PYTHONPATH": str(ROOT / "app"), "POLYCHROME_SETTINGS": str(tmp_path / "fresh.ini"),
           "QT_DEBUG_PLUGINS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "polychrome.gui", "--model", str(known_model), "--quit-after",
                             "30000", str(img)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        win = find_window(xvfb.display, "Polychrome")
        if win is None:
            proc.kill()
            pytest.fail("no Polychrome window was mapped on the X server:\n" + proc.communicate()[0][-3000:])
        _id, x, y, w, h, _ = win
        # device pixels on the X screen: the whole window (slider and status bar too) is on it
        assert x >= 0 and y >= 0 and x + w <= SCREEN[0] and y + h <= SCREEN[1], win
        assert w >= 800 and h >= 500, win
    finally:
        if proc.poll() is None:
            proc.terminate()  # closes like the window manager's close button would not: SIGTERM ends Qt's loop
    out = proc.communicate(timeout=60)[0]
    assert "Could not load the Qt platform plugin" not in out and "Traceback" not in out, out[-3000:]
