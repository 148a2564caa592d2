"""Checkpoint save time: lighter's AtomicCheckpointIO against Lightning's TorchCheckpointIO.

Run ``python benchmarks/checkpoint_save.py`` (``--quick`` for a smoke run). Both write the same
checkpoint (a state dict of ``--megabytes`` of float32 weights) into the same folder, alternately,
``--repeats`` times; the median time of each and their ratio are printed. lighter's extra cost is
the ``fsync`` that makes the file durable before it replaces the previous one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from lighter.engine.checkpoint_io import AtomicCheckpointIO

__all__ = ["main"]


def _time(io: TorchCheckpointIO, checkpoint: dict, path: Path) -> float:
    start = time.perf_counter()
    io.save_checkpoint(checkpoint, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=64.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="4 MB, 3 repeats")
    args = parser.parse_args(argv)
    megabytes, repeats = (4.0, 3) if args.quick else (args.megabytes, args.repeats)
    checkpoint = {"state_dict": {"w": torch.randn(int(megabytes * 2**20 / 4))}, "global_step": 1}
    lightning, lighter = TorchCheckpointIO(), AtomicCheckpointIO()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.ckpt"
        times: dict[str, list[float]] = {"lightning": [], "lighter": []}
        for _ in range(repeats):
            times["lightning"].append(_time(lightning, checkpoint, path))
            times["lighter"].append(_time(lighter, checkpoint, path))
    base, ours = statistics.median(times["lightning"]), statistics.median(times["lighter"])
    print(f"checkpoint of {megabytes:g} MB, median of {repeats}:")
    print(f"  Lightning TorchCheckpointIO  {base * 1e3:8.1f} ms")
    print(f"  lighter AtomicCheckpointIO   {ours * 1e3:8.1f} ms  ({ours / base:.2f}x)")


if __name__ == "__main__":
    main()
