"""The progress events of a training run, as typed dataclasses.

The trainer reports each one as the ``data`` of a :class:`~polychrome.core.progress.ProgressEvent` (the message
stays in ``ProgressEvent.message``). Consume them by type::

    def on_progress(ev):
        if isinstance(ev.data, TrainStepEvent):
            plot(ev.data.step, ev.data.loss)

Every event is also a read-only mapping with the keys of the older ``phase`` dicts (its field names, ``phase``
included), so ``ev.data.get("phase") == "train"`` and ``ev.data["step"]`` keep working during the transition.
Optional values are present as None where the dicts used to leave the key out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional


class TrainingEvent(Mapping[str, Any]):
    """Base of the training events: a dataclass whose fields (``phase`` first) read like a dict."""

    phase: str

    def _keys(self) -> List[str]:
        return [f.name for f in fields(self)]  # type: ignore[arg-type]  # every subclass is a dataclass

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def as_dict(self) -> Dict[str, Any]:
        """A plain dict of the fields (shallow: arrays and lists are shared)."""
        return {k: getattr(self, k) for k in self._keys()}


@dataclass(frozen=True, eq=False)
class PhaseEvent(TrainingEvent):
    """A notice without data: "scan" (listing photos), "prepare" (the colour prior), "recalibrate" (BatchNorm
    statistics re-estimated), "estimate" (a timed step of :func:`estimate_epoch_time`)."""

    phase: str


@dataclass(frozen=True, eq=False)
class ScanEvent(TrainingEvent):
    """The photos found: counts per outcome, how many train and validate, the first unreadable files."""

    counts: Dict[str, int]
    n_train: int
    n_val: int
    unreadable: List[Any] = field(default_factory=list)
    phase: str = "scan"


@dataclass(frozen=True, eq=False)
class StartEvent(TrainingEvent):
    """Training starts (or resumes at ``step``)."""

    n_train: int
    n_val: int
    total_steps: int
    steps_per_epoch: int
    step: int
    device: str
    parameters: int
    trainable_parameters: int
    phase: str = "start"


@dataclass(frozen=True, eq=False)
class TrainStepEvent(TrainingEvent):
    """One optimizer step: ``epoch`` is 1-based, ``step`` global and 1-based, ``loss`` this step's (NaN when it
    was not finite and skipped), ``train_loss`` the running mean over the epoch, ``eta_s`` the seconds left."""

    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float
    train_loss: Optional[float]
    lr: float
    images_per_s: Optional[float]
    eta_s: Optional[float]
    phase: str = "train"


@dataclass(frozen=True, eq=False)
class ValEvent(TrainingEvent):
    """A validation pass (``final``: the one after the BatchNorm re-estimation). ``metrics``: means of
    :func:`polychrome.core.metrics.compute_all` over a few photos at the default T; ``colorfulness_ratio``:
    prediction / ground truth; ``warning``: garish or washed-out colours; ``samples``: dicts with uint8 RGB
    ``gray``, ``truth``, ``pred`` and the photo's ``name``. The metric fields are None without metric photos."""

    final: bool
    epoch: int
    epochs: int
    step: int
    val_loss: float
    samples: List[Dict[str, Any]] = field(default_factory=list)
    metrics: Optional[Dict[str, float]] = None
    colorfulness: Optional[float] = None
    colorfulness_gt: Optional[float] = None
    colorfulness_ratio: Optional[float] = None
    warning: Optional[str] = None
    phase: str = "val"


@dataclass(frozen=True, eq=False)
class CheckpointEvent(TrainingEvent):
    path: str
    step: int
    phase: str = "checkpoint"


@dataclass(frozen=True, eq=False)
class CancelledEvent(TrainingEvent):
    step: int
    checkpoint: str
    phase: str = "cancelled"


@dataclass(frozen=True, eq=False)
class ExportEvent(TrainingEvent):
    """The ONNX export: first with ``path`` only (starting), then with ``size_mb`` (written)."""

    path: str
    size_mb: Optional[float] = None
    phase: str = "export"


@dataclass(frozen=True, eq=False)
class InstalledEvent(TrainingEvent):
    """The exported model was copied into the user's models folder."""

    installed: str
    phase: str = "export"


@dataclass(frozen=True, eq=False)
class DoneEvent(TrainingEvent):
    summary: Dict[str, Any]
    output: Optional[str]
    phase: str = "done"
