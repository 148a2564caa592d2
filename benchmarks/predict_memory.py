"""Does memory stay flat over a long predict run with lighter's writers?

Predicts 20,000 samples of 1×64×64 with a tiny conv net and samples the process RSS (psutil)
after every batch, for three runs:

1. ``FileWriter("tensor")`` — lighter as shipped (writers switch off ``return_predictions``);
2. ``TableWriter("tensor")`` on a scalar per sample — lighter as shipped;
3. baseline: the same FileWriter run *without* that switch, i.e. Lightning keeping every
   ``predict_step`` output (pred and input, 32 KiB per sample) until the end.

Growth = RSS at the last batch / RSS after warm-up (10% of the batches). Run::

    .venv/bin/python benchmarks/predict_memory.py [--samples 20000] [--batch-size 50]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from pathlib import Path
from typing import Any

import psutil
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from lighter import System
from lighter.callbacks import FileWriter, TableWriter

__all__ = ["main"]

MIB = 2**20


class Noise(Dataset):
    """Samples generated on demand, so the dataset itself holds no memory."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.randn(1, 64, 64, generator=torch.Generator().manual_seed(index))


class RssProbe(pl.Callback):
    """RSS after every predict batch."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.rss: list[int] = []

    def on_predict_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self.rss.append(self.process.memory_info().rss)


class KeepingFileWriter(FileWriter):
    """The baseline: a FileWriter that leaves Lightning's ``return_predictions`` as it is."""

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self.path.mkdir(parents=True, exist_ok=True)


def run(label: str, writer: pl.Callback, samples: int, batch_size: int, model: nn.Module) -> float:
    gc.collect()
    start = psutil.Process().memory_info().rss
    probe = RssProbe()
    system = System(model=model, dataloaders={"predict": DataLoader(Noise(samples), batch_size=batch_size)})
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[writer, probe],
    )
    result = trainer.predict(system)
    warm = probe.rss[max(len(probe.rss) // 10 - 1, 0)]
    end = probe.rss[-1]
    growth = end / warm
    kept = 0 if result is None else len(result)
    print(
        f"{label:<34} start {start / MIB:7.1f} MiB  after warm-up {warm / MIB:7.1f} MiB  "
        f"end {end / MIB:7.1f} MiB  peak {max(probe.rss) / MIB:7.1f} MiB  growth ×{growth:.2f}  "
        f"(+{(end - warm) / MIB:.1f} MiB; batches returned: {kept})"
    )
    del result, trainer, system
    return growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1))
    mean = nn.Sequential(model, nn.Flatten(), nn.AdaptiveAvgPool1d(1), nn.Flatten(0))  # one scalar per sample
    print(f"predict of {args.samples} samples of 1×64×64, batch size {args.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        files = run(
            "FileWriter(tensor)", FileWriter(Path(tmp) / "a", "tensor"), args.samples, args.batch_size, model
        )
        table = run(
            "TableWriter(tensor, scalar)",
            TableWriter(Path(tmp) / "t.csv", "tensor"),
            args.samples,
            args.batch_size,
            mean,
        )
        base = run(
            "baseline: FileWriter, outputs kept",
            KeepingFileWriter(Path(tmp) / "b", "tensor"),
            args.samples,
            args.batch_size,
            model,
        )
    print(f"growth: FileWriter ×{files:.2f}, TableWriter ×{table:.2f}, baseline without the fix ×{base:.2f}")


if __name__ == "__main__":
    main()
