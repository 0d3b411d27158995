"""The training wizard: fine-tune (or train) a colorization model on the user's own photos.

* :mod:`.model` — plain Python (no Qt): the settings, the run's progress and curves, drawing helpers;
* :mod:`.controller` — :class:`TrainingWizardController`: state and the background jobs, all of which call the
  training core (the same :class:`~polychrome.training.loop.Trainer` as ``polychrome train``);
* :mod:`.pages` — one module per page (and the install page shown without PyTorch): views only;
* :mod:`.wizard` — :class:`TrainingWizard` and :func:`open_training_wizard`.

Nothing here imports PyTorch at import time, and importing the package imports no Qt (the names below load their
modules on first use), so :mod:`.model` stays Qt-free.
"""

from typing import Any

__all__ = ["TrainingWizard", "TrainingWizardController", "open_training_wizard"]


def __getattr__(name: str) -> Any:
    if name == "TrainingWizardController":
        from .controller import TrainingWizardController

        return TrainingWizardController
    if name in ("TrainingWizard", "open_training_wizard"):
        from . import wizard

        return getattr(wizard, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
