"""Progress reporting and cooperative cancellation for long work.

Core, runtime and training code take a :class:`Progress` (or ``None``) and call :meth:`Progress.step`
between units of work. ``step`` raises :class:`Cancelled` once the attached :class:`CancelToken` has been
cancelled, so cancelling needs no polling code in the worker. No Qt object ever enters here: the GUI adapts
the plain callback to its signals.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional


class Cancelled(Exception):
    """Raised inside a worker when the user cancelled the job."""


class CancelToken:
    """A thread-safe flag. ``cancel()`` may be called from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; return True early if cancelled."""
        return self._event.wait(timeout)


@dataclass
class ProgressEvent:
    done: float
    total: Optional[float]
    message: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)  # keyword data, or a typed event (read-only mapping)
    elapsed: float = 0.0

    @property
    def fraction(self) -> Optional[float]:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def eta(self) -> Optional[float]:
        """Seconds left, estimated from the rate so far (None until something is done)."""
        f = self.fraction
        if f is None or f <= 0.0 or self.elapsed <= 0.0:
            return None
        return self.elapsed * (1.0 - f) / f


Callback = Callable[[ProgressEvent], Any]


class Progress:
    """Reports how far a job got and carries its cancel token.

    ``callback`` receives a :class:`ProgressEvent` on every update (from the worker's thread).
    ``data`` can carry anything structured (losses, metrics, sample images as numpy arrays).
    """

    def __init__(
        self,
        callback: Optional[Callback] = None,
        total: Optional[float] = None,
        cancel: Optional[CancelToken] = None,
    ) -> None:
        self.callback = callback
        self.total = total
        self.done = 0.0
        self.cancel_token = cancel if cancel is not None else CancelToken()
        self._t0 = time.monotonic()

    # -- cancellation -------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job was cancelled."""
        self.cancel_token.raise_if_cancelled()

    # -- reporting ----------------------------------------------------------------------------
    def set_total(self, total: Optional[float]) -> None:
        self.total = total

    def update(self, done: float, message: str = "", **data: Any) -> None:
        """Set the absolute amount done, report it, then raise if cancelled."""
        self.done = done
        self._emit(message, data)
        self.check()

    def step(self, n: float = 1, message: str = "", **data: Any) -> None:
        """Advance by ``n``, report, then raise if cancelled."""
        self.done += n
        self._emit(message, data)
        self.check()

    def report(self, message: str = "", **data: Any) -> None:
        """Send a message or data without advancing (does not raise)."""
        self._emit(message, data)

    def report_event(self, message: str, event: Mapping[str, Any]) -> None:
        """Send a typed event (a read-only mapping, e.g. a training event dataclass) as the data, without
        advancing (does not raise)."""
        self._emit(message, event)

    def step_event(self, n: float, message: str, event: Mapping[str, Any]) -> None:
        """Advance by ``n`` and send a typed event as the data, then raise if cancelled."""
        self.done += n
        self._emit(message, event)
        self.check()

    def _emit(self, message: str, data: Mapping[str, Any]) -> None:
        if self.callback is not None:
            payload = dict(data) if isinstance(data, dict) else data  # keyword data is copied; events are immutable
            self.callback(ProgressEvent(self.done, self.total, message, payload, time.monotonic() - self._t0))


def format_duration(seconds: Optional[float]) -> str:
    """``1h05m``, ``4m07s``, ``12s``; ``?`` for unknown (None, non-numeric, infinite)."""
    if (
        seconds is None
        or not isinstance(seconds, (int, float))
        or seconds != seconds
        or seconds in (float("inf"), float("-inf"))
    ):
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def ensure_progress(progress: Optional[Progress]) -> Progress:
    """Return ``progress`` or a silent one, so callees never test for None."""
    return progress if progress is not None else Progress()
