"""A LightningDataModule over the digits splits, for experiments that give their data as ``data:``."""

from __future__ import annotations

import pytorch_lightning as pl
from project.datasets import Digits
from torch.utils.data import DataLoader

__all__ = ["DigitsData"]


class DigitsData(pl.LightningDataModule):
    """The four splits of :class:`project.datasets.Digits` as dataloaders.

    ``batch_size`` is an attribute read each time the train loader is made, which is what
    ``lighter scale_batch_size`` tunes (Lightning looks for ``batch_size`` on the DataModule when
    the module has none).

    Args:
        batch_size: Train batch size.
        eval_batch_size: Batch size of the val, test and predict loaders.
        split_seed: Seed of the permutation that assigns samples to splits.
    """

    def __init__(self, batch_size: int = 32, eval_batch_size: int = 256, split_seed: int = 0) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.split_seed = split_seed
        self.splits: dict[str, Digits] = {}

    def setup(self, stage: str) -> None:
        # Only the splits the stage reads: `lighter test` never loads the training images.
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("predict",)}
        for split in wanted.get(stage, ()):
            if split not in self.splits:
                self.splits[split] = Digits(split, split_seed=self.split_seed)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["train"], batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["val"], batch_size=self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=self.eval_batch_size)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["predict"], batch_size=self.eval_batch_size)
