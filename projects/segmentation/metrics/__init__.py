"""Metrics of the segmentation project."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric

__all__ = ["MonaiMetric"]


class MonaiMetric(Metric):
    """Use a MONAI iteration metric (``DiceMetric``, ``MeanIoU``, …) as a torchmetrics ``Metric``.

    ``lighter.System`` takes torchmetrics metrics, which it moves to the right device, resets each
    epoch and syncs across processes. MONAI's metrics keep a Python list of per-batch values
    instead, so this wrapper asks the MONAI metric for each batch's per-sample values and keeps only
    their running sum and count as torchmetrics states (summed across processes in DDP). Samples the
    MONAI metric reports as NaN (e.g. an empty mask with ``ignore_empty=True``) are left out, as
    MONAI's own mean reduction does.

    Args:
        metric: A MONAI ``CumulativeIterationMetric`` called as ``metric(y_pred=..., y=...)``.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, metric: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metric = metric
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        values = self.metric(y_pred=preds, y=target)
        self.metric.reset()  # the running sum below replaces MONAI's per-batch buffer
        values = torch.as_tensor(values).to(self.total.device, torch.float64)
        valid = ~torch.isnan(values)
        self.total += values[valid].sum()
        self.count += valid.sum()

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp(min=1)).float()
