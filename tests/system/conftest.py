"""Tiny CPU data and a quiet Trainer for the System tests."""

from __future__ import annotations

import logging

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


@pytest.fixture(autouse=True)
def _quiet_lightning():
    for name in ("pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    pl.seed_everything(0, verbose=False)


@pytest.fixture
def dataset() -> TensorDataset:
    """64 samples, 4 features, a class that depends on the first feature."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long())


@pytest.fixture
def loader(dataset):
    def make(batch_size: int = 16, **kwargs) -> DataLoader:
        return DataLoader(dataset, batch_size=batch_size, **kwargs)

    return make


@pytest.fixture
def trainer(tmp_path):
    def make(**kwargs) -> pl.Trainer:
        options = {
            "accelerator": "cpu",
            "max_epochs": 1,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "enable_checkpointing": False,
            "default_root_dir": tmp_path,
        }
        options.update(kwargs)
        return pl.Trainer(**options)

    return make
