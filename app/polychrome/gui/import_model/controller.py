"""The import dialog's controller: runs :func:`polychrome.training.zhang.import_original_model` on a worker
(:class:`~polychrome.gui.workers.Tasks`) and turns its progress, result and errors into signals."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from ..workers import Tasks, Worker
from .model import ImportForm, progress_text

IMPORT = "import-original-model"


def _run_import(progress: Any, cancel: Any, **kwargs: Any) -> Any:
    from ...training.zhang import import_original_model  # imports torch only when the job runs

    return import_original_model(progress, cancel, **kwargs)


class ImportController(QObject):
    progressed = Signal(str, float)  # text, fraction (−1 when unknown)
    imported = Signal(object)  # training.zhang.ImportedModel
    failed = Signal(str)  # one line
    cancelled = Signal()
    running_changed = Signal(bool)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.tasks = Tasks(self)
        self.form = ImportForm()
        self.result: Any = None
        self.error = ""

    @property
    def running(self) -> bool:
        return self.tasks.running(IMPORT)

    def start(self) -> Optional[Worker]:
        """Start the import of the current form; None (and ``failed``) when the form cannot start."""
        why = self.form.problem()
        if why:
            self.error = why
            self.failed.emit(why)
            return None
        self.result, self.error = None, ""
        worker = self.tasks.start(
            IMPORT, _run_import, **self.form.job_kwargs(),
            on_progress=self._on_progress, on_returned=self._on_returned, on_error=self._on_error,
            on_cancelled=self.cancelled.emit, on_finished=lambda: self.running_changed.emit(False),
        )
        self.running_changed.emit(True)
        return worker

    def cancel(self) -> None:
        self.tasks.cancel(IMPORT)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        return self.tasks.shutdown(timeout_ms)

    def _on_progress(self, ev: Any) -> None:
        f = ev.fraction
        self.progressed.emit(progress_text(ev.message, f), -1.0 if f is None else float(f))

    def _on_returned(self, res: Any) -> None:
        self.result = res
        self.imported.emit(res)

    def _on_error(self, message: str, _tb: str) -> None:
        self.error = message
        self.failed.emit(message)
