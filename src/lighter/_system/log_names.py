"""What the System logs under which name: step/epoch names, and optimizer values per epoch."""

from __future__ import annotations

import torch

__all__ = ["LogNames", "optimizer_values"]


class LogNames:
    """Logged names of one mode, formatted once per key so that steps do not format strings.

    Attributes:
        mode: ``train``, ``val``, ``test`` or ``predict``.
        loss_step: ``<mode>/loss/step``, the total loss of a step.
        bar_step: Whether step values of this mode go to the progress bar (the train loss does: the
            bar then shows how training goes, as every Lightning tutorial's bar does).
        bar_epoch: Whether epoch values of this mode go to the progress bar (val's do, so the bar
            shows the last validation's loss and metrics next to the train loss).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.loss_step = f"{mode}/loss/step"
        self.bar_step = mode == "train"
        self.bar_epoch = mode == "val"
        self._cache: dict[tuple[str, str, str], str] = {}

    def name(self, group: str, key: str, when: str) -> str:
        """``<mode>/<group>/<key>/<when>``; the total loss is plain ``<mode>/loss/<when>``."""
        name = self._cache.get((group, key, when))
        if name is None:
            middle = "loss" if group == "loss" and key == "total" else f"{group}/{key}"
            name = self._cache[(group, key, when)] = f"{self.mode}/{middle}/{when}"
        return name


def optimizer_values(optimizers: list[torch.optim.Optimizer]) -> list[tuple[str, float]]:
    """``(name, value)`` of lr, momentum and betas of every optimizer's parameter groups.

    The names are those of the reference system (Lighter 0.0.4), so a migrating user's ``monitor:``
    and dashboards keep working: ``train/optimizer/<OptimizerClass>/lr`` (``…/momentum``,
    ``…/beta1``, ``…/beta2`` when the optimizer has them), with ``/group<N>`` (counted from 1)
    appended when the optimizer has several parameter groups. Several optimizers of one class,
    which the reference system never had, are told apart by their position: ``<OptimizerClass><i>``.
    """
    classes = [type(optimizer).__name__ for optimizer in optimizers]
    values = []
    for i, optimizer in enumerate(optimizers):
        name = classes[i] + (str(i) if classes.count(classes[i]) > 1 else "")
        base = f"train/optimizer/{name}"
        groups = optimizer.param_groups
        for j, group in enumerate(groups):
            suffix = f"/group{j + 1}" if len(groups) > 1 else ""
            values.append((f"{base}/lr{suffix}", float(group["lr"])))
            if "momentum" in group:
                values.append((f"{base}/momentum{suffix}", float(group["momentum"])))
            if "betas" in group:
                values.append((f"{base}/beta1{suffix}", float(group["betas"][0])))
                values.append((f"{base}/beta2{suffix}", float(group["betas"][1])))
    return values
