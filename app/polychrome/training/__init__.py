"""Training (PyTorch): the network, data pipeline, losses, training loop, ONNX export and the ``train`` command.

Layering: this package may import torch, numpy, cv2, :mod:`polychrome.core` and :mod:`polychrome.runtime`; it
never imports Qt or the cli/gui layers. Importing the package itself (and :mod:`.events`, :mod:`.jobs`) does not
import torch; the submodules ``network``, ``data``, ``loss``, ``config``, ``trainer`` ... and ``export`` do.

Modules: :mod:`.network` (EfficientNet-Lite0 encoder, ColorizationNet), :mod:`.data` (folder scan, split,
dataset, degradations), :mod:`.loss` (soft-encoded rebalanced cross-entropy, regression baselines),
:mod:`.config` (TrainConfig), :mod:`.checkpoint`, :mod:`.statistics` (split, colour statistics), :mod:`.state`
(model, optimizer, datasets), :mod:`.trainer` (Trainer: train_one_epoch, validate), :mod:`.estimate`, :mod:`.events`
(typed progress events), :mod:`.loop` (the old names, re-exported), :mod:`.export` (export_onnx, load_base_model),
:mod:`.model_files` (average, stamp), :mod:`.publish` (naming, model card and installation of a trained model).
The ``polychrome train`` command is :mod:`polychrome.cli.train`.

:func:`missing_dependencies` tells a front end, without importing anything heavy for good, whether training can
run here at all; :data:`INSTALL_HINT` says how to get what is missing.
"""

from __future__ import annotations

import importlib
from typing import List

INSTALL_HINT = (
    "Training needs PyTorch and ONNX (the 'train' extra). For the CPU build of PyTorch run\n"
    "    pip install torch --index-url https://download.pytorch.org/whl/cpu\n"
    "then\n"
    "    pip install 'polychrome[train]'\n"
    "(with a CUDA GPU, install the CUDA build of PyTorch from pytorch.org instead of the first line)."
)
REQUIRED_MODULES = ("torch", "onnx")


def missing_dependencies() -> List[str]:
    """The modules training needs that cannot be imported here ("torch", "onnx"); empty when training can run.

    Imports them to find out (a broken install counts as missing), so the first call may take a second.
    """
    missing = []
    for name in REQUIRED_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - ImportError, or a broken build failing while it loads
            missing.append(name)
    return missing
