"""The queue's model, in plain Python (no Qt): the images, their states, their own T, and which predictions stay in
memory. :mod:`.controller` presents it to Qt (an item model) and runs the jobs; :mod:`.view` shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

from ...core.decode import DEFAULT_T  # the one home of T's default and range
from ...core.decode import MAX_T as T_MAX
from ...core.decode import MIN_T as T_MIN
from ...runtime.jobs import DONE, ERROR, QUEUED, RUNNING

STATE_SYMBOL = {QUEUED: "…", RUNNING: "▶", DONE: "✓", ERROR: "✗"}
STATE_COLOR = {QUEUED: "#9e9e9e", RUNNING: "#1e88e5", DONE: "#43a047", ERROR: "#e53935"}
KEEP_PREDICTIONS = 12
THUMB_SIDE = 56  # the queue's thumbnails: longest side in pixels
FINISHED = (DONE, ERROR)

__all__ = ["QUEUED", "RUNNING", "DONE", "ERROR", "STATE_SYMBOL", "STATE_COLOR", "T_MIN", "T_MAX", "DEFAULT_T",
           "KEEP_PREDICTIONS", "QueueItem", "Queue", "clamp_T", "FINISHED"]


def clamp_T(T: float) -> float:  # noqa: N802
    return float(min(T_MAX, max(T_MIN, float(T))))


def _thumb_size(h: int, w: int, side: int) -> tuple:
    s = min(1.0, side / float(max(h, w)))
    return max(1, int(round(h * s))), max(1, int(round(w * s)))


def thumbnail_from_rgb(rgb: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """A small copy (longest side ``side``) of an RGB preview: what the queue shows for the image."""
    import cv2

    h, w = rgb.shape[:2]
    th, tw = _thumb_size(h, w, side)
    step = max(1, min(h // (4 * th), w // (4 * tw)))  # stride first: cheap on a big preview, then area-average
    small = np.ascontiguousarray(rgb[::step, ::step])
    return cv2.resize(small, (tw, th), interpolation=cv2.INTER_AREA)


def thumbnail_from_prediction(prediction: Any, T: float, side: int = THUMB_SIDE) -> np.ndarray:
    """The colorized thumbnail of a cached prediction at T: its lightness sampled down (never the full-size merge)
    with the network's ab at T — about a millisecond, even for a 24 MP scan."""
    import cv2

    from ...core.merge import merge_lab, upsample_ab_fixed

    L = prediction.L
    H, W = L.shape
    th, tw = _thumb_size(H, W, side)
    step = max(1, min(H // (4 * th), W // (4 * tw)))
    small_L = cv2.resize(np.ascontiguousarray(L[::step, ::step], dtype=np.float32), (tw, th),
                         interpolation=cv2.INTER_AREA)
    return merge_lab(small_L, upsample_ab_fixed(prediction.ab(T), (th, tw), method="bilinear"), np.uint8, threads=1)


@dataclass
class QueueItem:
    path: Path
    state: str = QUEUED
    reason: str = ""
    prediction: Any = None  # runtime.colorizer.Prediction once done
    T: Optional[float] = None  # None: the model's default
    source: Any = None  # core.imageio.ImageInfo (format, bit depth, EXIF, ICC) once read: exports never re-read
    thumbnail: Any = None  # small uint8 RGB numpy array of the result at its T (None: not colorized yet)
    extras: Dict[str, Any] = field(default_factory=dict)  # per-image JSON-able data of other tools (hints), saved

    @property
    def finished(self) -> bool:
        return self.state in (DONE, ERROR)

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
        """Back to the queue (e.g. another model): the prediction, its T, the thumbnail and the source's metadata
        go (the extras stay: they belong to the image, not to the model)."""
        self.prediction, self.T, self.source, self.thumbnail = None, None, None, None


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

    def row_of(self, path: Path) -> int:
        """The row of ``path`` (the same file, however it is spelt), or -1."""
        key = Path(path).resolve()
        return next((i for i, it in enumerate(self.items) if it.path.resolve() == key), -1)

    def remove(self, rows: Sequence[int]) -> List[QueueItem]:
        """Take ``rows`` out of the queue (the others keep their order; the recently-used list follows the new
        row numbers); returns the removed items."""
        gone = sorted({r for r in rows if 0 <= r < len(self.items)})
        if not gone:
            return []
        removed = [self.items[r] for r in gone]
        gone_set = set(gone)
        keep = [i for i in range(len(self.items)) if i not in gone_set]
        new_row = {old: new for new, old in enumerate(keep)}
        self.items[:] = [self.items[i] for i in keep]
        self._recent = [new_row[r] for r in self._recent if r in new_row]
        return removed

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
