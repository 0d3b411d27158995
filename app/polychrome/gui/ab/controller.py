"""Blind A/B comparison: two contenders (a model at a temperature each) shown unlabeled over the loaded images.

:class:`ABController` holds the whole session and no widget: the contenders, the trials in a random order (a seeded
RNG; the seed is recorded), which contender each trial shows on the left (hidden from the view), the user's choices,
the tally with a sign test, and the CSV record. Both contenders' previews are rendered on a worker
(:func:`~polychrome.runtime.jobs.ab_prepare`, the plain session in :mod:`.model`) in trial order, so the first trial
can start while later ones are still prepared: a model whose prediction of an image is already cached (the queue's)
is only decoded — two temperatures of the current model need no inference at all — and another model runs once per
image.

    ab = ABController.from_controller(colorize_controller)
    ab.start(Contender(model_path, 0.2), Contender(model_path, 0.6), seed=None)
    ab.choose("left")   # or "right", "tie", "skip" — mapped back to contender A or B
    ab.tally()          # ABTally(wins_a, wins_b, ties, ...) with preference and p-value
    ab.export_csv(path)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PySide6.QtCore import QObject, Signal

from ...core import imageio
from ...core.decode import DEFAULT_T
from ...core.errors import PolychromeError
from ...runtime.jobs import ABJob, ABPrepared, ABSide, ab_prepare
from ..workers import Tasks
from .model import (
    AB_PREVIEW_PIXELS,
    CHOICES,
    CSV_COLUMNS,
    LEFT,
    RESULTS,
    RIGHT,
    RUNNING,
    SETUP,
    SKIP,
    TIE,
    ABTally,
    Contender,
    ItemLike,
    Trial,
    _is_colorizer,
    csv_bytes,
    draw_session,
    model_key,
    new_seed,
    records_of,
    sign_test_p,
    summary_text,
    tally_of,
)
from .model import (
    now as _now,
)

log = logging.getLogger(__name__)

PREPARE = "prepare"  # the task key


class ABController(QObject):
    """A blind A/B session over a list of images (see the module docstring). Views only call in and listen."""

    state_changed = Signal(str)  # setup | running | results
    trial_changed = Signal(int)  # the current trial, or its images, changed: re-read current_images()
    prepare_progress = Signal(int, int)  # images prepared (or failed), total
    reveal_changed = Signal()  # which contender was which may now be shown
    message = Signal(str)  # something to tell the user (e.g. why the session did not start)
    failed = Signal(str, str)  # an unexpected error in the worker: message, traceback

    def __init__(
        self,
        items: Sequence[ItemLike],
        base_colorizer=None,
        provider: Optional[str] = None,
        models: Union[None, Sequence[Tuple[str, Path]], Callable[[], Sequence[Tuple[str, Path]]]] = None,
        preview_pixels: int = AB_PREVIEW_PIXELS,
        max_pixels: Optional[int] = imageio.DEFAULT_MAX_PIXELS,
        parent: Optional[QObject] = None,
    ) -> None:
        """``items``: image paths, or queue items (``.path``, ``.state``, ``.prediction``) whose cached predictions
        were made by ``base_colorizer``; ``models``: (name, path) pairs (or a function giving them) offered in the
        setup; ``provider``: the execution provider other models are opened with."""
        super().__init__(parent)
        self.items: List[ItemLike] = list(items)
        self.base_colorizer = base_colorizer
        self.provider = provider
        self._models = models
        self.preview_pixels = int(preview_pixels)
        self.max_pixels = max_pixels
        self.tasks = Tasks(self)
        self.state = SETUP
        self.trials: List[Trial] = []
        self.current = -1
        self.seed: Optional[int] = None
        self.contenders: Dict[str, Contender] = {}
        self.descriptions: Dict[str, str] = {}
        self.colorizers: Dict[str, Any] = {}
        self.prepared = 0
        self.revealed = False
        self._history: List[int] = []  # trial numbers in the order they were decided (for undo)

    @classmethod
    def from_controller(cls, controller, parent: Optional[QObject] = None, **kwargs: Any) -> ABController:
        """A session over a :class:`~polychrome.gui.queue.controller.ColorizeController`'s queue, reusing its cached
        predictions and offering its models."""
        return cls(controller.queue.items, base_colorizer=controller.colorizer, provider=controller.provider,
                   models=controller.available_models, parent=parent, **kwargs)

    # -- setup ------------------------------------------------------------------------------------------
    @property
    def default_T(self) -> float:
        return float(self.base_colorizer.default_T) if self.base_colorizer is not None else DEFAULT_T

    @property
    def base_model_path(self) -> Optional[Path]:
        if self.base_colorizer is None:
            return None
        p = getattr(self.base_colorizer.session, "path", None) or self.base_colorizer.manifest.path
        return Path(p) if p else None

    def model_choices(self) -> List[Tuple[str, str]]:
        """(label, model path) for a model menu: the current model first, then the other usable models."""
        out: List[Tuple[str, str]] = []
        seen = set()
        base = self.base_model_path
        if base is not None:
            out.append((f"{self.base_colorizer.manifest.name} ({base.name}) — current", str(base)))
            seen.add(base.resolve())
        models = self._models() if callable(self._models) else (self._models or [])
        for name, path in models:
            p = Path(path)
            if p.resolve() in seen:
                continue
            seen.add(p.resolve())
            out.append((f"{name} ({p.name})", str(p)))
        return out

    def images(self) -> List[Tuple[Path, Any]]:
        """(path, cached prediction or None) of every image a session would show: failed queue rows are left out."""
        out = []
        for it in self.items:
            if isinstance(it, (str, Path)):
                out.append((Path(it), None))
            elif getattr(it, "state", None) != "error":
                out.append((Path(it.path), getattr(it, "prediction", None)))
        return out

    def _open(self, contender: Contender):
        """The colorizer of a contender; the base colorizer for its own model, so its cached predictions count."""
        model = contender.model
        if _is_colorizer(model):
            return model
        base = self.base_colorizer
        if base is not None:
            if model in (None, ""):
                return base
            base_path = self.base_model_path
            if base_path is not None and Path(model).suffix.lower() == ".onnx" and \
                    Path(model).resolve() == base_path.resolve():
                return base
        from ...runtime.colorizer import Colorizer

        colorizer = Colorizer(model, provider=self.provider)
        if base is not None and model_key(colorizer) == model_key(base):
            return base
        return colorizer

    @staticmethod
    def describe(colorizer, T: float) -> str:
        path = getattr(colorizer.session, "path", None) or colorizer.manifest.path
        where = f" ({Path(path).name})" if path else ""
        return f"{colorizer.manifest.name}{where} · T = {T:.2f}"

    # -- the session ------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while previews are still being prepared."""
        return self.tasks.running(PREPARE)

    @property
    def runner(self):
        """The TaskRunner (thread) the previews are prepared on."""
        return self.tasks.runner(PREPARE)

    def start(self, a: Contender, b: Contender, seed: Optional[int] = None) -> bool:
        """Open both models, draw the trial order and the sides, and start preparing the previews.

        Returns False (and says why through ``message``) if a model cannot be opened, the contenders are the same,
        or there is no image."""
        if self.running:
            self.message.emit("A session is still being prepared")
            return False
        try:
            col_a, col_b = self._open(a), self._open(b)
        except PolychromeError as exc:
            self.message.emit(f"Could not open the model: {exc}")
            return False
        key_a, key_b = model_key(col_a), model_key(col_b)
        if key_a == key_b and abs(float(a.T) - float(b.T)) < 1e-9:
            self.message.emit("Both contenders are the same: choose two models or two temperatures")
            return False
        images = self.images()
        if not images:
            self.message.emit("There are no images to compare: open some first")
            return False

        self.seed = int(seed) if seed is not None else new_seed()
        order, lefts = draw_session(len(images), self.seed)
        n = len(order)

        self.contenders = {"A": a, "B": b}
        self.colorizers = {"A": col_a, "B": col_b}
        desc_a, desc_b = a.label or self.describe(col_a, a.T), b.label or self.describe(col_b, b.T)
        self.descriptions = {"A": f"A: {desc_a}", "B": f"B: {desc_b}"} if desc_a == desc_b else \
            {"A": desc_a, "B": desc_b}
        self.trials = [Trial(i, images[j][0], lefts[i]) for i, j in enumerate(order)]
        self.current = 0
        self.prepared = 0
        self.revealed = False
        self._history = []

        base_key = model_key(self.base_colorizer) if self.base_colorizer is not None else None
        jobs = []
        for i, j in enumerate(order):
            cached = images[j][1]
            jobs.append(ABJob(i, images[j][0], {base_key: cached} if cached is not None and base_key else {}))
        sides = [ABSide("A", key_a, col_a, float(a.T)), ABSide("B", key_b, col_b, float(b.T))]
        self.tasks.start(PREPARE, ab_prepare, jobs, sides, self.preview_pixels, self.max_pixels,
                         on_yielded=self._on_prepared, on_error=self._on_error, on_finished=self._on_finished)
        self._set_state(RUNNING)
        self.prepare_progress.emit(0, n)
        self.trial_changed.emit(self.current)
        return True

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _on_prepared(self, p: ABPrepared) -> None:
        t = p.trial
        if not 0 <= t < len(self.trials):
            return
        trial = self.trials[t]
        if p.images is not None:
            trial.images = p.images
        else:
            trial.error = p.reason or "could not be prepared"
            trial.timestamp = _now()
        self.prepared += 1
        self.prepare_progress.emit(self.prepared, len(self.trials))
        if t == self.current and self.state == RUNNING:
            if trial.error:
                self.message.emit(f"{trial.path.name}: {trial.error}")
                self._advance()
            else:
                self.trial_changed.emit(self.current)

    def _on_error(self, message: str, tb: str) -> None:
        log.error("A/B preparation stopped: %s\n%s", message, tb)
        self.message.emit(f"Preparing the comparison stopped: {message}")
        self.failed.emit(message, tb)

    def _on_finished(self) -> None:
        self.prepare_progress.emit(self.prepared, len(self.trials))  # preparing is over (done, cancelled, failed)
        if self.state != RUNNING:  # the session ended early: trials never prepared were simply not reached
            return
        for trial in self.trials:  # cancelled or stopped by an error: what was not prepared cannot be shown
            if not trial.ready and not trial.error:
                trial.error = "not prepared (cancelled)"
                trial.timestamp = _now()
        if 0 <= self.current < len(self.trials) and self.trials[self.current].error:
            self._advance()

    def _advance(self) -> None:
        """Move to the next trial still to decide (in session order), or end the session."""
        nxt = next((t.number for t in self.trials[max(0, self.current):] if not t.done), None)
        if nxt is None:
            nxt = next((t.number for t in self.trials if not t.done), None)
        if nxt is None:
            self.finish()
            return
        self.current = nxt
        self.trial_changed.emit(self.current)

    @property
    def current_trial(self) -> Optional[Trial]:
        if self.state == RUNNING and 0 <= self.current < len(self.trials):
            return self.trials[self.current]
        return None

    def current_images(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(left, right) previews of the current trial, None while it is being prepared. Unlabeled on purpose."""
        t = self.current_trial
        if t is None or not t.ready:
            return None
        return t.images[t.left], t.images[t.right]

    def position(self) -> Tuple[int, int]:
        """(1-based number of the current trial, number of trials) — "image 3 of 18"."""
        return (self.current + 1 if self.current_trial is not None else len(self.trials), len(self.trials))

    def choose(self, choice: str) -> bool:
        """Record the user's verdict on the current trial and move on; False if there is nothing to decide yet."""
        if choice not in CHOICES:
            raise ValueError(f"unknown choice {choice!r}; one of {', '.join(CHOICES)}")
        t = self.current_trial
        if t is None or not t.ready or t.done:
            return False
        t.choice = choice
        t.timestamp = _now()
        self._history.append(t.number)
        self._advance()
        return True

    @property
    def can_undo(self) -> bool:
        return self.state == RUNNING and bool(self._history)

    def undo(self) -> bool:
        """Take back the last choice and show that trial again (within a running session)."""
        if self.state != RUNNING or not self._history:
            return False
        t = self.trials[self._history.pop()]
        t.choice, t.timestamp = None, ""
        self.current = t.number
        self.trial_changed.emit(self.current)
        return True

    def finish(self) -> None:
        """End the session (all trials decided, or the user stops early): preparation stops, results are shown."""
        if self.state != RUNNING:
            return
        self.tasks.cancel(PREPARE)
        self.current = -1
        self._set_state(RESULTS)
        self.trial_changed.emit(self.current)

    def reveal(self) -> None:
        """Show which contender was which; asked for during the trials, it ends the session first (nothing after
        that would be blind)."""
        if self.state == RUNNING:
            self.finish()
        if not self.revealed:
            self.revealed = True
            self.reveal_changed.emit()

    def reset(self) -> None:
        """Back to the setup for a new session (the current one is dropped)."""
        self.tasks.cancel(PREPARE)
        self.trials, self.current, self._history = [], -1, []
        self.revealed = False
        self._set_state(SETUP)
        self.trial_changed.emit(self.current)

    def cancel(self) -> None:
        """Stop preparing previews; trials not prepared yet are left out."""
        self.tasks.cancel(PREPARE)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel and join the worker (the dialog is closing)."""
        return self.tasks.shutdown(timeout_ms)

    # -- results ------------------------------------------------------------------------------------------
    def tally(self) -> ABTally:
        return tally_of(self.trials)

    def summary(self) -> str:
        """One paragraph on the outcome, naming the contenders only once revealed."""
        name = (lambda s: self.descriptions.get(s, s)) if self.revealed else (lambda s: f"contender {s}")
        return summary_text(self.tally(), name, self.seed)

    def records(self) -> List[Dict[str, str]]:
        """One row per trial that was decided or failed, in session order (the CSV's rows)."""
        return records_of(self.trials, self.descriptions, self.seed)

    def csv_bytes(self) -> bytes:
        return csv_bytes(self.records())

    def export_csv(self, path: Union[str, Path], overwrite: bool = False) -> Path:
        """Write the record atomically (temp file, then rename). An existing file is replaced only with
        ``overwrite`` (after the user confirmed it); raises ImageWriteError with a one-line reason otherwise.
        The file names the contenders, so writing it reveals them."""
        written = imageio.atomic_write_bytes(path, self.csv_bytes(), overwrite=overwrite)
        self.reveal()
        return written


__all__ = ["ABController", "ABTally", "Contender", "Trial", "CHOICES", "CSV_COLUMNS", "AB_PREVIEW_PIXELS", "LEFT",
           "RIGHT", "TIE", "SKIP", "SETUP", "RUNNING", "RESULTS", "sign_test_p", "model_key"]
