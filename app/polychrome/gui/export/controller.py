"""The export feature's controller: writes finished images of the queue at their own T, from their cached
predictions and the sources' metadata kept on the queue items (:func:`polychrome.runtime.jobs.export_predictions`:
no inference and no reading, except for an image whose prediction was dropped). Exports keep the same batch record
as ``polychrome colorize`` in the output folder: an image exported before with the same model, T, options and
result is not written again (its earlier file is reported), and nothing is duplicated as ``name (2)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple

from PySide6.QtCore import QObject, Signal

from ...core.errors import PolychromeError
from ...core.hintsfile import HintsFile, parse_hints
from ...runtime.jobs import Exported, ExportJob, export_predictions
from ...runtime.pipeline import ExportOptions
from ..queue.model import DONE
from ..workers import Tasks, Worker
from .model import SCOPE_CURRENT, split_options

EXPORT = "export"  # the lane: exports run one after the other, beside the queue


def _hints_of(item: Any) -> Optional[HintsFile]:
    """The image's colour points and reference (the hint tool's extras), to steer and to write beside the output."""
    data = getattr(item, "extras", {}).get("hints")
    if not data:
        return None
    try:
        return parse_hints(data, Path(item.path).with_name(Path(item.path).stem + ".hints.json"))
    except PolychromeError:
        return None


class ExportController(QObject):
    """Exports of a :class:`~polychrome.gui.queue.controller.ColorizeController`'s finished images."""

    exported = Signal(object)  # [(row, output path or None, reason)] when an export finished

    def __init__(self, source: Any, tasks: Tasks, parent: Optional[QObject] = None) -> None:
        super().__init__(parent if parent is not None else source)
        self.source = source  # queue, T_of, colorizer, message, failed
        self.tasks = tasks

    def export(self, rows: Optional[Sequence[int]] = None, out_dir: Optional[str] = None, redo: bool = False,
               **options: Any) -> Optional[Worker]:
        """Write finished images (default: all) at their own T into ``out_dir`` (None: next to each input).

        ``options`` are runtime.pipeline.ExportOptions fields (format, bit_depth, suffix, ...). No inference runs.
        Returns the worker (its ``yielded`` reports each file, ``returned`` the results), or None: nothing to do.
        """
        src = self.source
        queue = src.queue
        if rows is None:
            rows = queue.rows_in(DONE)
        jobs = []
        for r in rows:
            it = queue.items[r]
            if it.state == DONE:  # a dropped prediction is computed again by the export
                jobs.append(ExportJob(r, it.path, it.prediction, src.T_of(it), it.source, hints=_hints_of(it)))
        if not jobs:
            src.message.emit("Nothing to export yet: no image has been colorized")
            return None
        opts = ExportOptions(out_dir=Path(out_dir) if out_dir else None, **options)
        bad = opts.problems()
        if bad:
            src.message.emit("Cannot export: " + "; ".join(bad))
            return None
        done = [0]
        self._skipped = set()

        def one(e: Exported) -> None:
            done[0] += 1
            if e.skipped:
                self._skipped.add(e.row)
                src.message.emit(f"Exported {done[0]}/{len(jobs)}: already exported as {e.output}")
            else:
                src.message.emit(f"Exported {done[0]}/{len(jobs)}: {e.output or e.reason}")

        # key None: a second export never supersedes the first, it runs after it on the export lane
        return self.tasks.start(None, export_predictions, jobs, opts, src.colorizer, redo, lane=EXPORT,
                                on_yielded=one, on_returned=self._on_exported, on_error=src._on_worker_error)

    def run(self, options: Mapping[str, Any]) -> Tuple[Optional[Worker], int]:
        """Start an export with the export dialog's options (scope included): (its worker or None, image count)."""
        scope, kw = split_options(options)
        src = self.source
        rows = [src.current] if scope == SCOPE_CURRENT else None
        n = 1 if rows else len(src.queue.rows_in(DONE))
        return self.export(rows, **kw), n

    def _on_exported(self, results) -> None:
        skipped = getattr(self, "_skipped", set())
        ok = sum(1 for row, out, _ in results if out is not None and row not in skipped)
        same = sum(1 for row, out, _ in results if out is not None and row in skipped)
        bad = len(results) - ok - same
        self.source.message.emit(f"Exported {ok} image(s)" + (f", {same} already exported (unchanged)" if same else "")
                                 + (f", {bad} failed" if bad else ""))
        self.exported.emit(results)
