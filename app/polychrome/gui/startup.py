"""Start-up helpers for the desktop app: the window icon and an opt-in cold-start timer.

Cold start: with ``POLYCHROME_STARTUP_TIMING`` set, the app prints one line to stderr when its main window is first
shown and first painted::

    polychrome-gui startup: window shown 1.234 s, first paint 1.301 s after launch (clock: launcher)

The value is the launch time, as seconds since the epoch, stamped by whoever starts the app (the packaging smoke
test does ``POLYCHROME_STARTUP_TIMING=$(date +%s.%N)``): that includes the frozen bootloader and every import. Any
other value (``1``) measures from the process creation time the OS reports (Linux), else from this module's import.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional, Tuple

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QIcon

ENV = "POLYCHROME_STARTUP_TIMING"
_IMPORTED_AT = time.time()


def icon_path() -> Optional[Path]:
    """resources/icon.png: in a frozen bundle, the installed package, or the source checkout."""
    pkg = Path(__file__).resolve().parent.parent
    for cand in (Path(getattr(sys, "_MEIPASS", "/nonexistent")) / "resources", pkg / "resources",
                 pkg.parent.parent / "resources"):
        if (cand / "icon.png").is_file():
            return cand / "icon.png"
    return None


def apply_app_icon(app) -> None:
    p = icon_path()
    if p is not None:
        app.setWindowIcon(QIcon(str(p)))


def _launch_time() -> Tuple[float, str]:
    value = os.environ.get(ENV, "")
    try:
        t0 = float(value)
        if t0 > 1e9:
            return t0, "launcher"
    except ValueError:
        pass
    try:  # Linux: process start in clock ticks after boot
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK"), "process start"
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORTED_AT, "gui import"


class _FirstShow(QObject):
    def __init__(self, t0: float, clock: str) -> None:
        super().__init__()
        self.t0, self.clock, self.shown = t0, clock, None

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind == QEvent.Type.Show and self.shown is None:
            self.shown = time.time() - self.t0
        elif kind == QEvent.Type.Paint and self.shown is not None:
            painted = time.time() - self.t0
            obj.removeEventFilter(self)
            print(f"polychrome-gui startup: window shown {self.shown:.3f} s, first paint {painted:.3f} s after "
                  f"launch (clock: {self.clock})", file=sys.stderr, flush=True)
        return False


def watch_first_show(window) -> None:
    """With $POLYCHROME_STARTUP_TIMING set, report when ``window`` is first shown and painted (call before show)."""
    if os.environ.get(ENV) is None or sys.stderr is None:
        return
    timer = _FirstShow(*_launch_time())
    timer.setParent(window)
    window.installEventFilter(timer)
