"""The training wizard's pages, one module per page: views of :class:`~..controller.TrainingWizardController`, no
logic of their own.

Each page reads the controller, calls its methods and listens to its signals. :meth:`WizardPage.on_shown` runs
every time a page becomes the current one (going forward or back), so a page whose inputs changed elsewhere
catches up then.
"""

from typing import Any, List, Tuple

from .colors import ColorsPage
from .common import (
    PAGE_COLORS,
    PAGE_DATA,
    PAGE_EVALUATE,
    PAGE_EXPORT,
    PAGE_NO_TORCH,
    PAGE_SETTINGS,
    PAGE_TRAIN,
    ImageGrid,
    NumberItem,
    WizardPage,
    rgb_pixmap,
    side_by_side,
)
from .data import DataPage
from .evaluate import EvaluatePage
from .export import ExportPage
from .no_torch import NoTorchPage
from .settings import SettingsPage
from .train import TrainPage

ALL_PAGES: List[Tuple[int, Any]] = [
    (PAGE_DATA, DataPage),
    (PAGE_COLORS, ColorsPage),
    (PAGE_SETTINGS, SettingsPage),
    (PAGE_TRAIN, TrainPage),
    (PAGE_EVALUATE, EvaluatePage),
    (PAGE_EXPORT, ExportPage),
]

__all__ = ["ALL_PAGES", "PAGE_NO_TORCH", "PAGE_DATA", "PAGE_COLORS", "PAGE_SETTINGS", "PAGE_TRAIN", "PAGE_EVALUATE",
           "PAGE_EXPORT", "WizardPage", "NoTorchPage", "DataPage", "ColorsPage", "SettingsPage", "TrainPage",
           "EvaluatePage", "ExportPage", "ImageGrid", "NumberItem", "rgb_pixmap", "side_by_side"]
