"""The training wizard: fine-tune (or train) a colorization model on the user's own photos.

* :mod:`.controller` — :class:`TrainingWizardController`: state, settings and the background jobs, all of which
  call the training core (the same :class:`~polychrome.training.loop.Trainer` as ``polychrome train``);
* :mod:`.pages` — the six pages (and the install page shown without PyTorch): views only;
* :mod:`.wizard` — :class:`TrainingWizard` and :func:`open_training_wizard`.

Nothing here imports PyTorch at import time.
"""

from .controller import TrainingWizardController
from .wizard import TrainingWizard, open_training_wizard

__all__ = ["TrainingWizard", "TrainingWizardController", "open_training_wizard"]
