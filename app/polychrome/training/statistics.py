"""Before training: the train/validation split of a scan and the colour statistics (bins and prior) of a run.

Shared by the trainer and by front ends that show them before training starts (the wizard's data and colour
pages), so both see exactly what the run will use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..core.bins import ABBins, in_gamut_bins
from ..core.prior import PriorAccumulator
from ..core.progress import Progress, ensure_progress
from .config import TrainConfig, TrainingError
from .data import ImageRecord, ScanReport, sample_ab
from .events import PhaseEvent
from .export import BaseModel


def split_for_training(
    report: ScanReport, config: TrainConfig, val_report: Optional[ScanReport] = None
) -> Tuple[List[ImageRecord], List[ImageRecord]]:
    """(train, val) records of a scan as ``config`` asks: a held-out share of ``report`` or the photos of
    ``val_report`` (the scan of ``config.val_data``), ``max_train_images`` applied, validation thinned evenly to
    ``max_val_images`` (so every source of a folder tree stays represented)."""
    if val_report is not None:
        train = list(report.usable)
        val = list(val_report.usable)
    else:
        train, val = report.split(config.val_fraction)
    if config.max_train_images is not None:
        train = train[: int(config.max_train_images)]
    if len(val) > int(config.max_val_images):
        idx = np.linspace(0, len(val) - 1, int(config.max_val_images)).round().astype(int)
        val = [val[i] for i in idx]
    return train, val


@dataclass
class ColorStatistics:
    """The bin table and priors of a run, as :meth:`Trainer.prepare` would choose them.

    ``prior`` is what the rebalanced loss uses (None for the regression losses when nothing was sampled);
    ``data_prior`` is the training photos' own smoothed prior on ``bins`` (None when the photos were not
    sampled); ``prior_source`` says where ``prior`` came from ("data" or "base").
    """

    bins: ABBins
    prior: Optional[np.ndarray]
    data_prior: Optional[np.ndarray]
    prior_source: str
    n_images: int

    def weights(self, lam: float) -> Optional[np.ndarray]:
        """The class-rebalancing weights of ``prior`` at ``lam`` (None without a prior)."""
        from ..core.prior import rebalance_weights

        return None if self.prior is None else rebalance_weights(self.prior, lam)


def color_statistics(
    config: TrainConfig,
    records: Sequence[ImageRecord],
    base: Optional[BaseModel] = None,
    progress: Optional[Progress] = None,
    always_sample: bool = False,
) -> ColorStatistics:
    """Choose the bin table and estimate the prior for training ``records`` as ``config`` says.

    Fine-tuning (``base`` given) keeps the base model's bins; otherwise ``config.bins`` decides (every in-gamut
    cell, or the cells the photos occupy). The prior is the base model's when ``config.prior_source`` allows it
    and the base stores one, else the photos' own. ``always_sample`` also samples the photos when the base prior is
    used (to show the data's prior next to it).
    """
    c = config
    progress = ensure_progress(progress)
    use_base_prior = base is not None and base.prior is not None and c.prior_source in ("auto", "base")
    if c.prior_source == "base" and not use_base_prior:
        raise TrainingError("prior_source='base' needs a base model that stores its prior")
    need_samples = always_sample or (c.loss == "ce" and not use_base_prior) or (base is None and c.bins == "data")
    samples: List[np.ndarray] = []
    if need_samples:
        progress.report_event("estimating the colour prior", PhaseEvent("prepare"))
        samples = sample_ab(records, c.prior_images, max_side=max(16, c.size // c.stride), progress=progress)
    if base is not None:
        bins = base.bins
    elif c.bins == "data":
        if not samples:
            raise TrainingError("no readable photos to derive the bins from")
        bins = ABBins.from_ab(samples, min_count=c.bins_min_count, name="data")
    else:
        bins = in_gamut_bins()
    data_prior = None
    if need_samples:  # (no readable photo: a uniform prior, as smooth_prior gives for zero counts)
        acc = PriorAccumulator(bins)
        for ab in samples:
            acc.add_ab(ab)
        data_prior = acc.prior()
    prior = None
    if c.loss == "ce" or samples:
        prior = np.asarray(base.prior, dtype=np.float64) if use_base_prior else data_prior
    return ColorStatistics(bins, prior, data_prior, "base" if use_base_prior else "data", len(samples))
