"""The queue's model, in plain Python (no Qt): the images, their states, their own T, and which predictions stay in
memory. :mod:`.controller` presents it to Qt (an item model) and runs the jobs; :mod:`.view` shows it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from ...core.decode import DEFAULT_T  # the one home of T's default and range
from ...core.decode import MAX_T as T_MAX
from ...core.decode import MIN_T as T_MIN
from ...runtime.jobs import DONE, ERROR, QUEUED, RUNNING

STATE_SYMBOL = {QUEUED: "…", RUNNING: "▶", DONE: "✓", ERROR: "✗"}
STATE_COLOR = {QUEUED: "#9e9e9e", RUNNING: "#1e88e5", DONE: "#43a047", ERROR: "#e53935"}
KEEP_PREDICTIONS = 12

__all__ = ["QUEUED", "RUNNING", "DONE", "ERROR", "STATE_SYMBOL", "STATE_COLOR", "T_MIN", "T_MAX", "DEFAULT_T",
           "KEEP_PREDICTIONS", "QueueItem", "Queue", "clamp_T"]


def clamp_T(T: float) -> float:  # noqa: N802
    return float(min(T_MAX, max(T_MIN, float(T))))


@dataclass
class QueueItem:
    path: Path
    state: str = QUEUED
    reason: str = ""
    prediction: Any = None  # runtime.colorizer.Prediction once done
    T: Optional[float] = None  # None: the model's default
    source: Any = None  # core.imageio.ImageInfo (format, bit depth, EXIF, ICC) once read: exports never re-read

    @property
    def label(self) -> str:
        text = f"{STATE_SYMBOL[self.state]} {self.path.name}"
        if self.state == ERROR and self.reason:
            text += f" — {self.reason}"
        return text

    @property
    def tooltip(self) -> str:
        return f"{self.path}\n{self.state}" + (f": {self.reason}" if self.reason else "")

    def forget_result(self) -> None:
        """Back to the queue (e.g. another model): the prediction, its T and the source's metadata go."""
        self.prediction, self.T, self.source = None, None, None


class Queue:
    """The images in the order they were added, each once, and the predictions held in memory.

    At most ``keep`` predictions are held (full-resolution L* + logits: tens of MB each); :meth:`touch` marks one as
    just used and drops the least recently used beyond ``keep`` (never the current image's). A dropped image stays
    "done"; selecting it colorizes it again, exporting it re-runs its inference.
    """

    def __init__(self, keep: int = KEEP_PREDICTIONS) -> None:
        self.items: List[QueueItem] = []
        self.keep = max(1, int(keep))
        self._recent: List[int] = []  # rows with a prediction, least recently used first

    def new_paths(self, paths: Iterable[Path]) -> List[Path]:
        """The paths not in the queue yet (each once, in order)."""
        known = {it.path.resolve() for it in self.items}
        new = []
        for p in paths:
            p = Path(p)
            if p.resolve() in known:
                continue
            known.add(p.resolve())
            new.append(p)
        return new

    def rows_in(self, state: str) -> List[int]:
        return [i for i, it in enumerate(self.items) if it.state == state]

    def counts(self) -> Dict[str, int]:
        out = {QUEUED: 0, RUNNING: 0, DONE: 0, ERROR: 0}
        for it in self.items:
            out[it.state] += 1
        return out

    def touch(self, row: int, current: int) -> None:
        if row in self._recent:
            self._recent.remove(row)
        if self.items[row].prediction is not None:
            self._recent.append(row)
        while len(self._recent) > self.keep:
            victim = next((r for r in self._recent if r != current), None)
            if victim is None:
                break
            self._recent.remove(victim)
            self.items[victim].prediction = None

    def forget_recent(self) -> None:
        self._recent.clear()

    @property
    def held_predictions(self) -> int:
        return sum(1 for it in self.items if it.prediction is not None)
