"""Synthetic 2D segmentation data: noisy images of discs and their binary masks."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["SyntheticDiscs"]

# Each split draws from its own seed so that train, val, test and predict never share an image.
SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2, "predict": 3}


class SyntheticDiscs(Dataset):
    """``num_samples`` images of ``size``×``size`` pixels with discs to segment, built once in memory.

    Items are dicts ``{"image": 1×H×W float, "label": 1×H×W float in {0, 1}, "id": "<split>_<n>"}``;
    the ``predict`` split leaves out ``label``.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` or ``"predict"``.
        num_samples: Number of images.
        size: Height and width in pixels.
        num_objs: Number of discs per image.
        noise: Maximum amplitude of the uniform noise added to each image.
    """

    def __init__(
        self,
        split: str = "train",
        num_samples: int = 200,
        size: int = 64,
        num_objs: int = 4,
        noise: float = 0.5,
    ) -> None:
        if split not in SPLIT_SEEDS:
            raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_SEEDS)}")
        from monai.data import create_test_image_2d

        rng = np.random.RandomState(SPLIT_SEEDS[split])
        pairs = [
            create_test_image_2d(
                size,
                size,
                num_objs=num_objs,
                rad_max=size // 6,
                rad_min=size // 16,
                noise_max=noise,
                num_seg_classes=1,
                channel_dim=0,
                random_state=rng,
            )
            for _ in range(num_samples)
        ]
        self.images = torch.as_tensor(np.stack([image for image, _ in pairs]), dtype=torch.float32)
        self.labels = torch.as_tensor(np.stack([label for _, label in pairs]) > 0, dtype=torch.float32)
        self.split = split

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        item = {"image": self.images[index], "id": f"{self.split}_{index:04d}"}
        if self.split != "predict":
            item["label"] = self.labels[index]
        return item
