"""A small terminal progress bar driven by core Progress events (stderr; silent when not a TTY unless forced)."""

from __future__ import annotations

import shutil
import sys
import time

from ..core.progress import ProgressEvent


class ProgressBar:
    def __init__(self, label: str = "", stream=None, enabled=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self._last = 0.0

    def __call__(self, ev: ProgressEvent) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = ev.total is not None and ev.done >= ev.total
        if not final and now - self._last < 0.1:
            return
        self._last = now
        width = max(20, min(100, shutil.get_terminal_size((80, 20)).columns) - 40)
        frac = ev.fraction or 0.0
        fill = int(round(frac * width))
        eta = ev.eta
        eta_s = f" ETA {int(eta) // 60}:{int(eta) % 60:02d}" if eta is not None and not final else ""
        total = f"{int(ev.done)}/{int(ev.total)}" if ev.total else f"{int(ev.done)}"
        line = f"\r{self.label}[{'#' * fill}{'.' * (width - fill)}] {total}{eta_s}   "
        self.stream.write(line)
        if final:
            self.stream.write("\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
