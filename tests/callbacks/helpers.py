"""Helpers for the callback tests: real ``lighter.System`` runs on tiny CPU data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from lighter import BatchAdapter, System


class ListDataset(Dataset):
    """A dataset over a list of ready-made samples (tensors or dicts)."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        return self.items[index]


def run_predict(
    callbacks: list[pl.Callback],
    items: Sequence[Any],
    model: nn.Module | None = None,
    identifier_key: str | None = None,
    batch_size: int = 4,
    loader: Any = DataLoader,
) -> Any:
    """Predict over ``items`` with a System; dict items are read through a BatchAdapter."""
    adapters = None
    if identifier_key is not None:
        adapters = {"predict": {"batch": BatchAdapter("input", identifier_accessor=identifier_key)}}
    system = System(
        model=model or nn.Identity(),
        dataloaders={"predict": loader(ListDataset(items), batch_size=batch_size)},
        adapters=adapters,
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    result = trainer.predict(system)
    return trainer, result


def fit(
    model: nn.Module,
    callbacks: list[pl.Callback],
    optimizer: torch.optim.Optimizer,
    max_epochs: int = 1,
    samples: int = 8,
    batch_size: int = 4,
) -> pl.Trainer:
    """Train ``model`` on a fixed random regression problem."""
    generator = torch.Generator().manual_seed(0)
    data = [
        (torch.randn(4, generator=generator), torch.randn(2, generator=generator)) for _ in range(samples)
    ]
    system = System(
        model=model,
        dataloaders={"train": DataLoader(ListDataset(data), batch_size=batch_size)},
        optimizer=optimizer,
        criterion=nn.MSELoss(),
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=max_epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        callbacks=callbacks,
    )
    trainer.fit(system)
    return trainer
