"""The training layer's former single module, kept so ``from polychrome.training.loop import ...`` goes on working
(the wizard, ``polychrome train`` and running trainings import these names).

The code lives in:

* :mod:`.config` — :class:`TrainConfig`, :class:`TrainResult`, :class:`TrainingError`, devices;
* :mod:`.checkpoint` — RNG state, atomic saving, :func:`read_checkpoint`, :func:`checkpoint_info`,
  :func:`find_checkpoints`;
* :mod:`.statistics` — :func:`split_for_training`, :func:`color_statistics`;
* :mod:`.state` — :class:`~polychrome.training.state.TrainState` (model, loss, optimizer, schedule, datasets),
  :func:`model_inputs`, :func:`recalibrate_bn`;
* :mod:`.trainer` — :class:`Trainer` (``train_one_epoch``, ``validate``, checkpoints, export);
* :mod:`.estimate` — :func:`estimate_epoch_time`;
* :mod:`.events` — the typed progress events.
"""

from __future__ import annotations

import json
from typing import Any, Dict

from ..core.jsonsafe import json_safe
from .checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    CheckpointInfo,
    checkpoint_info,
    find_checkpoints,
    read_checkpoint,
)
from .checkpoint import rng_state as _rng_state
from .checkpoint import save_checkpoint_file as _atomic_torch_save
from .checkpoint import set_rng_state as _set_rng_state
from .config import (
    TrainConfig,
    TrainingError,
    TrainResult,
    available_devices,
    default_checkpoint_dir,
    resolve_device,
)
from .estimate import TimeEstimate, estimate_epoch_time
from .state import model_inputs, recalibrate_bn
from .statistics import ColorStatistics, color_statistics, split_for_training
from .trainer import DULL_RATIO, GARISH_RATIO, MAX_BAD_STEPS, StepHook, Trainer

plain = json_safe  # the old name of the JSON sanitiser


def summary_json(summary: Dict[str, Any]) -> str:
    return json.dumps(json_safe(summary), indent=2, default=str)


__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "DULL_RATIO",
    "GARISH_RATIO",
    "MAX_BAD_STEPS",
    "CheckpointInfo",
    "ColorStatistics",
    "StepHook",
    "TimeEstimate",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "_atomic_torch_save",
    "_rng_state",
    "_set_rng_state",
    "available_devices",
    "checkpoint_info",
    "color_statistics",
    "default_checkpoint_dir",
    "estimate_epoch_time",
    "find_checkpoints",
    "model_inputs",
    "plain",
    "read_checkpoint",
    "recalibrate_bn",
    "resolve_device",
    "split_for_training",
    "summary_json",
]
