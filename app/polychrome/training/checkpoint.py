"""Training checkpoints: the RNG state as plain data, atomic saving, reading, and describing interrupted runs.

A checkpoint is a dict saved with ``torch.save`` and read with ``weights_only=True`` (so RNG states are stored
as tensors, lists and numbers); :meth:`polychrome.training.trainer.Trainer.state_dict` says what it holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np
import torch

from ..core.errors import ImageWriteError
from ..core.fileops import atomic_write
from .config import TrainConfig, TrainingError
from .data import batches_for_epoch

CHECKPOINT_NAME = "last.pt"
CHECKPOINT_FORMAT = 1


def rng_state() -> Dict[str, Any]:
    np_state = np.random.get_state()
    py = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached": float(np_state[4]),
        },
        "python": {"version": py[0], "state": list(py[1]), "gauss": py[2]},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except RuntimeError:  # a different number of GPUs: not fatal
            pass


def save_checkpoint_file(obj: Any, path: Path) -> None:
    """torch.save to a temp file in the target folder, fsync, rename: the old file or the new, never half.
    Raises :class:`TrainingError` with the reason."""
    try:
        atomic_write(path, lambda fh: torch.save(obj, fh))
    except ImageWriteError as exc:
        reason = exc.reason[len("cannot write: "):] if exc.reason.startswith("cannot write: ") else exc.reason
        raise TrainingError(f"{path}: cannot write the checkpoint: {reason}") from None


@dataclass
class CheckpointInfo:
    """What an interrupted (or finished) run's checkpoint holds, read without building the network."""

    path: Path
    config: TrainConfig
    step: int
    total_steps: int
    epoch: int
    n_train: int
    n_val: int
    modified: float  # the file's mtime (seconds since the epoch)
    val_paths: List[str] = field(default_factory=list)  # the run's validation photos
    scan_counts: Dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.step >= self.total_steps

    @property
    def name(self) -> str:
        return self.config.name


def read_checkpoint(path: Union[str, Path], mmap: bool = False) -> Tuple[Path, Dict[str, Any]]:
    """Load a Polychrome checkpoint (a file, or a folder holding ``last.pt``) on the CPU; returns the file's path
    and its contents. ``mmap``: map the tensors instead of reading them (enough to look at the metadata).
    Raises :class:`TrainingError` with the reason."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise TrainingError(f"{path}: checkpoint not found")
    try:
        ck = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001
        raise TrainingError(f"{path}: cannot read the checkpoint: {exc}") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path}: not a Polychrome training checkpoint")
    return path, ck


def checkpoint_info(path: Union[str, Path]) -> CheckpointInfo:
    """Describe a checkpoint file (or a folder holding ``last.pt``); raises :class:`TrainingError`."""
    path, ck = read_checkpoint(path, mmap=True)
    cfg = TrainConfig.from_dict(ck["config"])
    n_train = len(ck.get("train_records") or [])
    spe = len(batches_for_epoch(n_train, cfg.batch_size, cfg.seed, 0))
    total = spe * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, int(cfg.max_steps))
    return CheckpointInfo(
        path=path,
        config=cfg,
        step=int(ck["step"]),
        total_steps=max(1, total),
        epoch=int(ck["epoch"]),
        n_train=n_train,
        n_val=len(ck.get("val_records") or []),
        modified=path.stat().st_mtime,
        val_paths=[str(r["path"]) for r in (ck.get("val_records") or [])],
        scan_counts=dict(ck.get("scan_counts") or {}),
    )


def find_checkpoints(root: Union[str, Path], include_finished: bool = False) -> List[CheckpointInfo]:
    """The runs under ``root`` (``root/*/last.pt``), newest first; unfinished ones only unless asked.
    Unreadable checkpoints are left out."""
    root = Path(root)
    out: List[CheckpointInfo] = []
    if not root.is_dir():
        return out
    for ck in root.glob(f"*/{CHECKPOINT_NAME}"):
        try:
            info = checkpoint_info(ck)
        except TrainingError:
            continue
        if include_finished or not info.finished:
            out.append(info)
    return sorted(out, key=lambda i: -i.modified)
