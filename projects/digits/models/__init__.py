"""Models of the digits project: a network, and a LightningModule of its own around it."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DigitsCNN", "DigitsClassifier"]


class DigitsCNN(nn.Module):
    """A small CNN for 1×8×8 digit images: two conv blocks and a linear head.

    Args:
        num_classes: Number of output logits.
        channels: Width of the first conv block (the second has twice as many).
        dropout: Dropout before the linear head.
    """

    def __init__(self, num_classes: int = 10, channels: int = 16, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8×8 → 4×4
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 4×4 → 2×2
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * channels * 4, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DigitsClassifier(pl.LightningModule):
    """A plain LightningModule with its own steps and optimizer, for ``system: {_target_: project.models.DigitsClassifier}``.

    What a team with its own LightningModule writes (lighter builds it from its arguments and runs
    it as it runs a System). Predict batches are ``{"input", "id"}`` dicts, and ``predict_step``
    returns ``{"pred", "identifier"}``, which lighter's writers read.

    Args:
        lr: Adam's learning rate.
        channels: Width of the CNN's first block.
        num_classes: Number of classes.
    """

    def __init__(self, lr: float = 0.003, channels: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.lr = lr
        self.net = DigitsCNN(num_classes=num_classes, channels=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch
        loss = F.cross_entropy(self(images), labels)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], mode: str) -> None:
        images, labels = batch
        logits = self(images)
        self.log(f"{mode}/loss", F.cross_entropy(logits, labels))
        self.log(f"{mode}/accuracy", (logits.argmax(dim=1) == labels).float().mean(), prog_bar=True)

    def predict_step(self, batch: dict, batch_idx: int) -> dict:
        return {"pred": self(batch["input"]).argmax(dim=1), "identifier": batch["id"]}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)
