"""Training (PyTorch): the network, data pipeline, losses, training loop, ONNX export and the ``train`` command.

Layering: this package may import torch, numpy, cv2, :mod:`polychrome.core` and :mod:`polychrome.runtime`; it
never imports Qt or the cli/gui layers. Importing the package itself (and :mod:`polychrome.training.cli`) does not
import torch; the submodules ``network``, ``data``, ``loss``, ``loop`` and ``export`` do.

Modules: :mod:`.network` (EfficientNet-Lite0 encoder, ColorizationNet), :mod:`.data` (folder scan, split,
dataset, degradations), :mod:`.loss` (soft-encoded rebalanced cross-entropy, regression baselines),
:mod:`.loop` (TrainConfig, Trainer, recalibrate_bn), :mod:`.export` (export_onnx, load_base_model),
:mod:`.cli` (``polychrome train``).
"""
