"""Datasets of the digits project: scikit-learn's 1,797 8×8 digit images, split deterministically."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["Digits", "SPLITS"]

# Fractions of the shuffled data in each split; "predict" reuses the test images without labels.
SPLITS = {"train": (0.0, 0.7), "val": (0.7, 0.85), "test": (0.85, 1.0), "predict": (0.85, 1.0)}


class Digits(Dataset):
    """One split of scikit-learn's digits as ``(image, label)`` pairs, images scaled to [0, 1].

    The split is a fixed permutation drawn from ``split_seed``, independent of the global seed, so
    train/val/test never overlap whatever seed an experiment uses.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` or ``"predict"``. ``predict`` yields
            ``{"input": image, "id": "digit_<index>"}`` dicts (no label), so writers can name rows.
        split_seed: Seed of the permutation that assigns samples to splits.
    """

    def __init__(self, split: str = "train", split_seed: int = 0) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
        from sklearn.datasets import load_digits  # scikit-learn is an optional extra: import late

        digits = load_digits()
        order = np.random.default_rng(split_seed).permutation(len(digits.target))
        start, stop = (round(f * len(order)) for f in SPLITS[split])
        self.indices = order[start:stop]
        self.images = torch.as_tensor(digits.images[self.indices] / 16.0, dtype=torch.float32).unsqueeze(1)
        self.labels = torch.as_tensor(digits.target[self.indices], dtype=torch.long)
        self.split = split

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        if self.split == "predict":
            return {"input": self.images[index], "id": f"digit_{int(self.indices[index]):04d}"}
        return self.images[index], self.labels[index]
