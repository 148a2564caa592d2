"""What the System logs under which name: step/epoch names, and optimizer values per epoch."""

from __future__ import annotations

import torch

__all__ = ["LogNames", "optimizer_values"]


class LogNames:
    """Logged names of one mode, formatted once per key so that steps do not format strings."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.loss_step = f"{mode}/loss/step"
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

    Names gain ``/optimizer<i>`` and ``/group<j>`` suffixes only when there is more than one.
    """
    values = []
    for i, optimizer in enumerate(optimizers):
        groups = optimizer.param_groups
        for j, group in enumerate(groups):
            suffix = (f"/optimizer{i}" if len(optimizers) > 1 else "") + (
                f"/group{j}" if len(groups) > 1 else ""
            )
            values.append((f"train/lr{suffix}", float(group["lr"])))
            if "momentum" in group:
                values.append((f"train/momentum{suffix}", float(group["momentum"])))
            if "betas" in group:
                values.append((f"train/beta1{suffix}", float(group["betas"][0])))
                values.append((f"train/beta2{suffix}", float(group["betas"][1])))
    return values
