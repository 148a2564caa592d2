"""How much does `lighter.System` cost over a hand-written LightningModule?

Fits the same MLP on the same data (4096 samples, 20 features, batch 64, 3 epochs, CPU) with
`System` and with hand-written modules that do the same work: the loss and an accuracy metric
logged per step and per epoch, and the learning rate once per epoch. Runs alternate, in one
process, with fixed seeds; the table shows median wall times and the median of the per-pair ratios.

Two hand-written baselines:

- ``lean``: the same logging scheme as System (one ``self.log`` per quantity per step, epoch values
  from a running tensor sum and the metric's own ``compute()``) -- System's own overhead;
- ``idiomatic``: what the Lightning docs show (``self.log(..., on_step=True, on_epoch=True)`` for the
  loss and for the Metric object).

Usage: ``python benchmarks/step_overhead.py [--repeats 7]``
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import Accuracy

from lighter import System

__all__ = ["main"]

SAMPLES, FEATURES, BATCH, EPOCHS = 4096, 20, 64, 3


def _data() -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(SAMPLES, FEATURES, generator=g)
    y = (x[:, :2].sum(1) > 0).long()
    return TensorDataset(x, y)


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(FEATURES, 64), nn.ReLU(), nn.Linear(64, 2))


def _loader(dataset: TensorDataset) -> DataLoader:
    return DataLoader(dataset, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(1))


class Lean(pl.LightningModule):
    """Hand-written, with System's logging scheme."""

    def __init__(self, dataset: TensorDataset) -> None:
        super().__init__()
        self.model = _mlp()
        self.criterion = nn.CrossEntropyLoss()
        self.accuracy = Accuracy(task="multiclass", num_classes=2)
        self.dataset = dataset
        self.loss_sum: torch.Tensor | None = None
        self.loss_count = 0

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        x, y = batch
        pred = self.model(x)
        loss = self.criterion(pred, y)
        detached = loss.detach()
        self.log("train/loss/step", detached, on_step=True, on_epoch=False)
        if self.loss_sum is None:
            self.loss_sum, self.loss_count = detached.clone(), 1
        else:
            self.loss_sum += detached
            self.loss_count += 1
        self.log("train/metrics/Accuracy/step", self.accuracy(pred, y), on_step=True, on_epoch=False)
        return loss

    def on_train_epoch_start(self) -> None:
        group = self.trainer.optimizers[0].param_groups[0]
        self.log("train/optimizer/SGD/lr", group["lr"], on_epoch=True, batch_size=1)
        self.log("train/optimizer/SGD/momentum", group["momentum"], on_epoch=True, batch_size=1)

    def on_train_epoch_end(self) -> None:
        self.log("train/loss/epoch", self.loss_sum / self.loss_count, sync_dist=True, batch_size=1)
        self.loss_sum = None
        self.log("train/metrics/Accuracy/epoch", self.accuracy.compute(), batch_size=1)
        self.accuracy.reset()

    def configure_optimizers(self):  # noqa: ANN201
        return torch.optim.SGD(self.parameters(), lr=0.05)

    def train_dataloader(self) -> DataLoader:
        return _loader(self.dataset)


class Idiomatic(Lean):
    """Hand-written, as the Lightning docs show it."""

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        x, y = batch
        pred = self.model(x)
        loss = self.criterion(pred, y)
        self.log("train/loss", loss, on_step=True, on_epoch=True)
        self.accuracy(pred, y)
        self.log("train/accuracy", self.accuracy, on_step=True, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        pass


def _system(dataset: TensorDataset) -> System:
    model = _mlp()
    return System(
        model,
        {"train": _loader(dataset)},
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
        criterion=nn.CrossEntropyLoss(),
        metrics={"train": {"Accuracy": Accuracy(task="multiclass", num_classes=2)}},
    )


def _fit(module: pl.LightningModule) -> tuple[float, float]:
    """Fit and return (wall seconds, this process's CPU seconds)."""
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=EPOCHS,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
    )
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit(module)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    dataset = _data()
    builders = {"System": _system, "lean": Lean, "idiomatic": Idiomatic}
    # One thread: the figure is about per-step Python overhead, and a shared machine is less noisy so.
    torch.set_num_threads(1)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in builders}
    for build in builders.values():  # warm-up: imports, first-call caches
        pl.seed_everything(0, verbose=False)
        _fit(build(dataset))
    for rep in range(repeats):
        order = list(builders) if rep % 2 == 0 else list(reversed(builders))
        for name in order:
            pl.seed_everything(0, verbose=False)
            times[name].append(_fit(builders[name](dataset)))
    steps = EPOCHS * SAMPLES // BATCH
    print(
        f"{EPOCHS} epochs x {SAMPLES // BATCH} steps, MLP {FEATURES}-64-2, batch {BATCH}, {repeats} repeats"
    )
    print(
        "ratio: median over repeats of System time / this module's time (wall, CPU); min: ratio of fastest runs"
    )
    print(
        f"{'module':<11}{'wall s':>8}{'ms/step':>9}{'cpu s':>8}{'ratio wall':>12}{'ratio cpu':>11}{'min cpu':>9}"
    )
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        system = times["System"]
        ratios = [statistics.median(s[i] / t[i] for s, t in zip(system, values, strict=True)) for i in (0, 1)]
        fastest = min(s[1] for s in system) / min(v[1] for v in values)
        print(
            f"{name:<11}{wall:>8.3f}{1000 * wall / steps:>9.3f}{cpu:>8.3f}"
            f"{ratios[0]:>11.3f}x{ratios[1]:>10.3f}x{fastest:>8.3f}x"
        )


if __name__ == "__main__":
    main()
