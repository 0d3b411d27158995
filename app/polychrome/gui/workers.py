"""All of the GUI's threading lives here; the jobs themselves live in ``runtime.jobs`` and ``training.jobs``.

A :class:`Worker` runs a plain function ``fn(progress, cancel, *args)`` on a thread of a :class:`TaskRunner`'s
pool. The function sees only the core :class:`~polychrome.core.progress.Progress` and
:class:`~polychrome.core.progress.CancelToken`; the worker adapts them to Qt signals, delivered on the UI thread.
A function that is a generator reports partial results: each value it yields arrives as ``yielded``, what it
returns as ``returned`` (superqt's ``thread_worker`` model). Results cross threads as plain Python objects and
numpy arrays — never Qt images.

:class:`Tasks` is the one way controllers start work: the latest task per key wins. Starting a task under a key
cancels the previous task with that key *and disconnects it*, so nothing of a superseded task reaches the UI
(Orange3's ``ConcurrentMixin``); :meth:`Tasks.later` coalesces UI-thread calls the same way (only the latest
call per key runs, after a delay).
"""

from __future__ import annotations

import inspect
import logging
import traceback
from typing import Any, Callable, Dict, Hashable, Optional, Set, Tuple

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from ..core.errors import PolychromeError
from ..core.progress import Cancelled, CancelToken, Progress, ProgressEvent

log = logging.getLogger(__name__)


def error_message(exc: BaseException) -> str:
    """The one-line message of a job's unexpected error."""
    return str(exc) if isinstance(exc, PolychromeError) else f"{type(exc).__name__}: {exc}"


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
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
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
                gen, res = res, None
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
            msg, tb = error_message(exc), traceback.format_exc()
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
        for w in list(self._active):
            if w.done:
                try:
                    w.signals.disconnect()
                except (RuntimeError, TypeError):
                    pass
        self._active = {w for w in self._active if not w.done}
        return ok


_HANDLERS = (("progress", "on_progress"), ("yielded", "on_yielded"), ("returned", "on_returned"),
             ("error", "on_error"), ("cancelled", "on_cancelled"), ("finished", "on_finished"))


def _relay(worker: Worker, handler: Callable[..., Any]) -> Callable[..., Any]:
    def relay(*args: Any) -> None:
        if not worker.discarded:
            handler(*args)

    return relay


class Tasks(QObject):
    """Latest task per key wins.

    ``start(key, fn, *args, on_returned=..., on_yielded=..., ...)`` runs ``fn`` on a worker and delivers its
    signals to the handlers — until another task is started under the same key, or :meth:`discard` is called:
    then the old task is cancelled and its handlers are disconnected, so none of its results, partial results,
    progress or errors reach the UI any more. ``key=None`` starts a task nobody supersedes. :meth:`cancel` only
    asks a task to stop (its ``on_cancelled`` / ``on_finished`` still arrive).

    Threads: with ``lanes`` (the default) every lane gets a pool of one thread, and a task runs on the lane named
    by ``lane=`` (default: its key), so tasks of different keys run side by side while a superseded task's
    successor waits for its thread; without ``lanes`` every task shares one pool of ``threads`` threads.
    """

    def __init__(self, parent: Optional[QObject] = None, lanes: bool = True, threads: int = 1) -> None:
        super().__init__(parent)
        self._lanes = lanes
        self._runners: Dict[Hashable, TaskRunner] = {}
        self._shared = None if lanes else TaskRunner(threads, self)
        self._current: Dict[Hashable, Tuple[Worker, list]] = {}
        self._timers: Dict[Hashable, QTimer] = {}
        self._later: Dict[Hashable, Callable[[], Any]] = {}

    # -- threads ----------------------------------------------------------------------------------
    def runner(self, lane: Hashable = None) -> TaskRunner:
        """The TaskRunner of a lane (created on first use), or the shared one without lanes."""
        if self._shared is not None:
            return self._shared
        r = self._runners.get(lane)
        if r is None:
            r = self._runners[lane] = TaskRunner(1, self)
        return r

    def _all_runners(self) -> list:
        return [self._shared] if self._shared is not None else list(self._runners.values())

    # -- tasks ------------------------------------------------------------------------------------
    def start(self, key: Hashable, fn: Callable[..., Any], *args: Any, lane: Hashable = None, tag: Any = None,
              on_progress: Optional[Callable[[ProgressEvent], Any]] = None,
              on_yielded: Optional[Callable[[Any], Any]] = None,
              on_returned: Optional[Callable[[Any], Any]] = None,
              on_error: Optional[Callable[[str, str], Any]] = None,
              on_cancelled: Optional[Callable[[], Any]] = None,
              on_finished: Optional[Callable[[], Any]] = None, **kwargs: Any) -> Worker:
        """Run ``fn(progress, cancel, *args, **kwargs)`` as the task of ``key``, superseding the previous one."""
        if key is not None:
            self.discard(key)
        worker = Worker(fn, *args, **kwargs)
        worker.tag = tag
        if key is not None:  # first, so a task's own on_finished already sees it gone
            self._current[key] = (worker, [])
            worker.signals.finished.connect(lambda k=key, w=worker: self._forget(k, w))
        handlers = dict(on_progress=on_progress, on_yielded=on_yielded, on_returned=on_returned, on_error=on_error,
                        on_cancelled=on_cancelled, on_finished=on_finished)
        connections = []
        for signal_name, handler_name in _HANDLERS:
            handler = handlers[handler_name]
            if handler is not None:
                signal = getattr(worker.signals, signal_name)
                relay = _relay(worker, handler)
                signal.connect(relay)
                connections.append((signal, relay))
        if key is not None:
            self._current[key] = (worker, connections)
        self.runner(key if lane is None else lane).start(worker)
        return worker

    def _forget(self, key: Hashable, worker: Worker) -> None:
        cur = self._current.get(key)
        if cur is not None and cur[0] is worker:
            del self._current[key]

    def current(self, key: Hashable) -> Optional[Worker]:
        """The live task of ``key`` (started and not finished, not superseded), or None."""
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
        cur = self._current.pop(key, None)
        if cur is None:
            return
        worker, connections = cur
        worker.discarded = True  # also stops what Qt had already queued for delivery
        worker.cancel()
        for signal, handler in connections:
            try:
                signal.disconnect(handler)
            except (RuntimeError, TypeError):
                pass

    # -- coalesced UI-thread calls ------------------------------------------------------------------
    def later(self, key: Hashable, call: Callable[[], Any], delay_ms: int = 0) -> None:
        """Call ``call()`` on the UI thread after ``delay_ms``; a newer call under ``key`` replaces it and
        restarts the delay (a drag's stream of values ends in one call with the newest)."""
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda k=key: self._fire(k))
        self._later[key] = call
        timer.setInterval(int(delay_ms))
        timer.start()

    def _fire(self, key: Hashable) -> None:
        call = self._later.pop(key, None)
        if call is not None:
            call()

    def pending(self, key: Hashable) -> bool:
        """Whether a :meth:`later` call of ``key`` is waiting."""
        return key in self._later

    def drop(self, key: Hashable) -> None:
        """Forget the waiting :meth:`later` call of ``key``."""
        self._later.pop(key, None)
        timer = self._timers.get(key)
        if timer is not None:
            timer.stop()

    # -- all of them ------------------------------------------------------------------------------
    def lane_busy(self, lane: Hashable) -> bool:
        return self.runner(lane).busy

    @property
    def busy(self) -> bool:
        """True while any call waits or any worker has not delivered its ``finished`` yet."""
        return bool(self._later) or any(r.busy for r in self._all_runners())

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Drop waiting calls, cancel and disconnect every task, and join the threads (the window is closing)."""
        for key in list(self._later):
            self.drop(key)
        for key in list(self._current):
            self.discard(key)
        ok = True
        for r in self._all_runners():
            ok = r.shutdown(timeout_ms) and ok
        return ok
