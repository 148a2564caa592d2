"""How much longer does predict take when every sample is written to disk?

64 volumes of 1×48×48×48 go through a 2-layer Conv3d on the CPU (one torch thread), batch size 4,
for each of these callbacks, side by side in one run:

- no writer (the baseline every ratio is relative to);
- ``FileWriter("nifti")`` and ``FileWriter("tensor")``, inline (``workers=0``: the model waits for
  every file, lighter's behaviour before background writes) and with background threads
  (the default ``workers=2``);
- MONAI's ``SaveImage`` called per sample from ``on_predict_batch_end`` (the synchronous anchor).

Each configuration's CPU time (all its threads) is printed too: on a machine whose cores are all
busy, background writing cannot hide that cost. A writer's time includes waiting for its last files: ``trainer.predict`` returns only once every
file is on disk. The configurations are interleaved over ``--repeats`` rounds and each reports its
median, so a load change on a shared machine hits all of them alike. Goals: nifti ≤ 1.3×, tensor ≤
1.1× the time without a writer. Run::

    .venv/bin/python benchmarks/predict_writing.py [--repeats 5] [--samples 64] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lighter import System
from lighter.callbacks import FileWriter

__all__ = ["main"]

GOALS = {"FileWriter(nifti)": 1.3, "FileWriter(tensor)": 1.1}


class MonaiSaveImage(pl.Callback):
    """MONAI's ``SaveImage`` on every predicted sample, in the predict loop (as users do today)."""

    def __init__(self, folder: Path) -> None:
        from monai.transforms import SaveImage

        self.save = SaveImage(
            output_dir=str(folder),
            output_ext=".nii.gz",
            output_postfix="",
            separate_folder=False,
            resample=False,
            print_log=False,
        )
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)  # SaveImage given a file name does not create it
        self.count = 0

    def on_predict_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        for pred in outputs["pred"]:
            self.save(pred.detach().cpu(), filename=self.folder / str(self.count))
            self.count += 1


def predict_seconds(
    model: nn.Module, volumes: torch.Tensor, callbacks: list[pl.Callback], device: str
) -> float:
    system = System(model=model, dataloaders={"predict": DataLoader(TensorDataset(volumes), batch_size=4)})
    trainer = pl.Trainer(
        accelerator=device,
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    start, cpu = time.perf_counter(), time.process_time()
    trainer.predict(system, return_predictions=False)
    if device == "gpu":
        torch.cuda.synchronize()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    volumes = torch.rand(args.samples, 1, 48, 48, 48)
    model = nn.Sequential(nn.Conv3d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 1, 3, padding=1)).eval()
    root = Path(tempfile.mkdtemp(prefix="lighter-bench-"))

    def fresh(name: str) -> Path:
        folder = root / name
        shutil.rmtree(folder, ignore_errors=True)  # every round writes new files, as a real run does
        return folder

    configs: dict[str, Callable[[], list[pl.Callback]]] = {
        "no writer": lambda: [],
        "FileWriter(nifti, workers=0)": lambda: [FileWriter(fresh("n0"), "nifti", workers=0)],
        "FileWriter(nifti)": lambda: [FileWriter(fresh("n2"), "nifti")],
        "FileWriter(tensor, workers=0)": lambda: [FileWriter(fresh("t0"), "tensor", workers=0)],
        "FileWriter(tensor)": lambda: [FileWriter(fresh("t2"), "tensor")],
        "MONAI SaveImage (nifti)": lambda: [MonaiSaveImage(fresh("monai"))],
    }
    times: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    try:
        predict_seconds(model, volumes[:8], [], args.device)  # warm-up: imports, allocator, first conv
        for _ in range(args.repeats):
            for name, callbacks in configs.items():
                wall, used = predict_seconds(model, volumes, callbacks(), args.device)
                times[name].append(wall)
                cpu[name].append(used)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"predict of {args.samples} volumes 1×48×48×48, 2-layer Conv3d on {args.device}, 1 torch thread, "
        f"{os.cpu_count()} CPUs, load average {load:.2f}; median of {args.repeats} rounds"
    )
    print("wall: median seconds and ratio to no writer (the goal); cpu: CPU seconds of all threads, ratio")
    base = statistics.median(times["no writer"])
    cpu_base = statistics.median(cpu["no writer"])
    for name, values in times.items():
        median = statistics.median(values)
        used = statistics.median(cpu[name])
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"  goal ≤{goal}× {'met' if median / base <= goal else 'MISSED'}"
        spread = f"(rounds {min(values):.2f}–{max(values):.2f} s)"
        print(
            f"{name:<30} wall {median:6.2f} s ×{median / base:.2f} {spread:<24} "
            f"cpu {used:6.2f} s ×{used / cpu_base:.2f}{verdict}"
        )


if __name__ == "__main__":
    main()
