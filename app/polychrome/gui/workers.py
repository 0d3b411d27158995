"""All of the GUI's threading lives here; the jobs themselves live in ``runtime.jobs`` and ``training.jobs``.

A :class:`Worker` runs a plain function ``fn(progress, cancel, *args)`` on a pool thread of a :class:`TaskRunner`.
The function sees only the core :class:`~polychrome.core.progress.Progress` and ``CancelToken``; the worker adapts
them to Qt signals, delivered on the UI thread. A generator function reports partial results: each value it yields
arrives as ``yielded``, what it returns as ``returned`` (superqt's ``thread_worker`` model). Results cross threads
as plain Python objects and numpy arrays — never Qt images. :class:`Tasks` is how controllers start work: the
latest task per key wins (Orange3's ``ConcurrentMixin``).
"""

from __future__ import annotations

import inspect
import logging
import traceback
from typing import Any, Callable, Dict, Hashable, Optional, Set, Tuple

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from ..core.errors import PolychromeError
from ..core.progress import Cancelled, CancelToken, Progress

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """Signals of one :class:`Worker` (a QRunnable cannot have signals itself)."""

    started = Signal()
    progress = Signal(object)  # ProgressEvent
    yielded = Signal(object)  # a partial result (each value a generator job yields)
    returned = Signal(object)  # the job's result
    error = Signal(str, str)  # one-line message, traceback text
    cancelled = Signal()
    finished = Signal()  # always last, after returned / error / cancelled


class Worker(QRunnable):
    """Runs ``fn(progress, cancel, *args, **kwargs)`` on a pool thread and reports through :attr:`signals`."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the TaskRunner keeps it alive until ``finished`` arrives
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.cancel_token = CancelToken()
        self.signals = WorkerSignals()
        self.done = False
        self.discarded = False  # superseded or discarded by Tasks: its signals reach no handler any more
        self.tag: Any = None  # what the task is about (free for its owner)

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled

    def run(self) -> None:  # on the pool thread
        progress = Progress(callback=self.signals.progress.emit, cancel=self.cancel_token)
        self.signals.started.emit()
        try:
            progress.check()
            res = self.fn(progress, self.cancel_token, *self.args, **self.kwargs)
            if inspect.isgenerator(res):
                gen = res
                try:
                    while True:
                        try:
                            item = next(gen)
                        except StopIteration as stop:
                            res = stop.value
                            break
                        self.signals.yielded.emit(item)
                finally:
                    gen.close()
        except Cancelled:
            self.signals.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - reported to the UI, never lost
            msg = str(exc) if isinstance(exc, PolychromeError) else f"{type(exc).__name__}: {exc}"
            tb = traceback.format_exc()
            log.error("worker failed: %s\n%s", msg, tb)
            self.signals.error.emit(msg, tb)
        else:
            self.signals.returned.emit(res)
        finally:
            self.done = True
            self.signals.finished.emit()


class TaskRunner(QObject):
    """Owns a thread pool and the workers running on it; cancels and joins them on shutdown."""

    def __init__(self, max_threads: int = 1, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, max_threads))
        self._active: Set[Worker] = set()

    def start(self, worker: Worker) -> Worker:
        self._active.add(worker)
        worker.signals.finished.connect(lambda w=worker: self._active.discard(w))
        self.pool.start(worker)
        return worker

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Worker:
        return self.start(Worker(fn, *args, **kwargs))

    @property
    def busy(self) -> bool:
        """True until every worker's ``finished`` has been delivered on the UI thread (so its results are too)."""
        return bool(self._active)

    def cancel_all(self) -> None:
        for w in list(self._active):
            w.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every worker has returned (True) or the timeout passed (False)."""
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and join the threads (used when the window closes)."""
        self.pool.clear()  # workers not started yet never start
        self.cancel_all()
        ok = self.wait(timeout_ms)
        for w in [w for w in self._active if w.done]:
            try:
                w.signals.disconnect()
            except (RuntimeError, TypeError):
                pass
        self._active = {w for w in self._active if not w.done}
        return ok


def _relay(worker: Worker, handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` for as long as ``worker`` is not discarded."""

    def relay(*args: Any) -> None:
        if not worker.discarded:
            handler(*args)

    return relay


_SIGNALS = {"on_progress": "progress", "on_yielded": "yielded", "on_returned": "returned", "on_error": "error",
            "on_cancelled": "cancelled", "on_finished": "finished"}


class Tasks(QObject):
    """Latest task per key wins.

    ``start(key, fn, *args, on_returned=..., on_yielded=..., on_progress=..., on_error=..., on_cancelled=...,
    on_finished=...)`` runs ``fn`` on a worker and delivers its signals to the handlers — until another task is
    started under the same key, or :meth:`discard` is called: then the old task is cancelled and disconnected, so
    none of its results, partial results, progress or errors reach the UI (not even what Qt had already queued).
    ``key=None`` starts a task nobody supersedes. :meth:`cancel` only asks a task to stop (its ``on_cancelled`` /
    ``on_finished`` still arrive). :meth:`later` coalesces UI-thread calls per key.

    Threads: with ``lanes`` (the default) each lane has one thread, and a task runs on the lane ``lane=`` (default:
    its key): tasks of different keys run side by side, a superseded task's successor waits for its thread.
    Without ``lanes`` every task shares one pool of ``threads`` threads.
    """

    def __init__(self, parent: Optional[QObject] = None, lanes: bool = True, threads: int = 1) -> None:
        super().__init__(parent)
        self._runners: Dict[Hashable, TaskRunner] = {}
        self._shared = None if lanes else TaskRunner(threads, self)
        self._current: Dict[Hashable, Tuple[Worker, list]] = {}  # key -> (worker, [(signal, relay)])
        self._timers: Dict[Hashable, QTimer] = {}
        self._later: Dict[Hashable, Callable[[], Any]] = {}

    def runner(self, lane: Hashable = None) -> TaskRunner:
        """The TaskRunner of a lane (created on first use), or the shared one without lanes."""
        if self._shared is not None:
            return self._shared
        if lane not in self._runners:
            self._runners[lane] = TaskRunner(1, self)
        return self._runners[lane]

    def start(self, key: Hashable, fn: Callable[..., Any], *args: Any, lane: Hashable = None, tag: Any = None,
              **kwargs: Any) -> Worker:
        """Run ``fn(progress, cancel, *args, **kwargs)`` as the task of ``key``, superseding the previous one;
        ``on_*`` keyword arguments are the handlers, ``tag`` is kept on the worker for its owner."""
        handlers = {name: kwargs.pop(name) for name in _SIGNALS if kwargs.get(name) is not None}
        for name in _SIGNALS:
            kwargs.pop(name, None)
        if key is not None:
            self.discard(key)
        worker = Worker(fn, *args, **kwargs)
        worker.tag = tag
        connections: list = []
        if key is not None:  # connected first, so the task's own on_finished already sees it gone
            self._current[key] = (worker, connections)
            worker.signals.finished.connect(lambda k=key, w=worker: self._forget(k, w))
        for name, handler in handlers.items():
            signal = getattr(worker.signals, _SIGNALS[name])
            relay = _relay(worker, handler)
            signal.connect(relay)
            connections.append((signal, relay))
        self.runner(key if lane is None else lane).start(worker)
        return worker

    def _forget(self, key: Hashable, worker: Worker) -> None:
        if self.current(key) is worker:
            del self._current[key]

    def current(self, key: Hashable) -> Optional[Worker]:
        """The live task of ``key`` (not finished, not superseded), or None."""
        cur = self._current.get(key)
        return cur[0] if cur is not None else None

    def running(self, key: Hashable) -> bool:
        return key in self._current

    def keys(self) -> list:
        return list(self._current)

    def cancel(self, key: Hashable) -> None:
        """Ask the task of ``key`` to stop; it still reports how it ended (cancelled, or done after all)."""
        w = self.current(key)
        if w is not None:
            w.cancel()

    def discard(self, key: Hashable) -> None:
        """Cancel the task of ``key`` and disconnect it: nothing of it reaches its handlers any more."""
        worker, connections = self._current.pop(key, (None, []))
        if worker is None:
            return
        worker.discarded = True  # the relays also drop what Qt had already queued for delivery
        worker.cancel()
        for signal, relay in connections:
            try:
                signal.disconnect(relay)
            except (RuntimeError, TypeError):
                pass

    def later(self, key: Hashable, call: Callable[[], Any], delay_ms: int = 0) -> None:
        """Call ``call()`` on the UI thread after ``delay_ms``; a newer call under ``key`` replaces it and restarts
        the delay (a drag's stream of values ends in one call with the newest)."""
        if key not in self._timers:
            timer = self._timers[key] = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda k=key: (self._later.pop(k, lambda: None))())
        self._later[key] = call
        self._timers[key].start(int(delay_ms))

    def pending(self, key: Hashable) -> bool:
        """Whether a :meth:`later` call of ``key`` is waiting."""
        return key in self._later

    def drop(self, key: Hashable) -> None:
        """Forget the waiting :meth:`later` call of ``key``."""
        self._later.pop(key, None)
        if key in self._timers:
            self._timers[key].stop()

    def _all_runners(self) -> list:
        return [self._shared] if self._shared is not None else list(self._runners.values())

    @property
    def busy(self) -> bool:
        """True while a call waits or a worker has not delivered its ``finished`` yet."""
        return bool(self._later) or any(r.busy for r in self._all_runners())

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Drop waiting calls, cancel and disconnect every task, and join the threads (the window is closing)."""
        for key in list(self._later):
            self.drop(key)
        for key in list(self._current):
            self.discard(key)
        return all([r.shutdown(timeout_ms) for r in self._all_runners()])
