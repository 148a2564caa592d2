"""Time to report a config mistake, against the time Lightning takes to import.

Run ``python benchmarks/error_latency.py`` (``--repeats N``; ``--check`` exits with status 1 when
a target is missed). Each case runs the real ``lighter fit`` command on a small experiment with
one mistake that needs nothing built (an unknown key, an override typo after an override that
adds a Trainer argument, a missing reference, an expression that does not compile, a bad YAML
value) and measures the wall time until it exits with the error. The baseline is
``python -c "import pytorch_lightning"`` measured in the same run, so the ratio does not depend
on the machine. Target (issue 10, item 4): every case under 0.5x the baseline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]

TARGET = 0.5

EXPERIMENT = """\
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
system:
  _target_: lighter.System
  model: {_target_: torch.nn.Linear, in_features: 4, out_features: 2}
  criterion: {_target_: torch.nn.CrossEntropyLoss}
  optimizer: {_target_: torch.optim.SGD, params: "$@system#model.parameters()", lr: 0.1}
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      dataset: {_target_: torch.utils.data.TensorDataset, _args_: ["$torch.randn(8, 4)"]}
"""

CASES = {
    "override typo after a new trainer key": [
        "experiment.yaml",
        "--trainer#fast_dev_run=true",
        "--sytem#x=1",
    ],
    "unknown key in a second file": ["experiment.yaml,typo.yaml", "--trainer#fast_dev_run=true"],
    "missing reference": ["experiment.yaml", "--trainer#fast_dev_run=true", "--system#optimizer#lr=@vars#lr"],
    "expression syntax": ["experiment.yaml", "--trainer#fast_dev_run=true", "--system#optimizer#lr=$0.1 *"],
    "value starting with '='": ["experiment.yaml", "--trainer#max_epochs==1"],
}


def _best(command: list[str], cwd: Path, repeats: int, expect: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "LIGHTER_DEBUG"}
    env["PYTHONWARNINGS"] = "ignore"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != expect:
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return min(times)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--repeats", type=int, default=3, help="runs per case (the best counts)")
    options.add_argument("--check", action="store_true", help="exit with status 1 if a target is missed")
    args = options.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "experiment.yaml").write_text(EXPERIMENT)
        (folder / "typo.yaml").write_text("system:\n  optimiser: {}\n")
        baseline = _best([sys.executable, "-c", "import pytorch_lightning"], folder, args.repeats, 0)
        rows, met = [], []
        for name, case in CASES.items():
            seconds = _best([sys.executable, "-m", "lighter", "fit", *case], folder, args.repeats, 1)
            ratio = seconds / baseline
            met.append(ratio < TARGET)
            rows.append(
                f"{name:<40} {seconds:8.3f} {ratio:8.2f}x  < {TARGET}x  {'met' if ratio < TARGET else 'MISSED'}"
            )
    print(
        f"time to error (seconds, best of {args.repeats}) against `import pytorch_lightning`: {baseline:.3f} s"
    )
    print(f"{'case':<40} {'seconds':>8} {'ratio':>9}  target")
    print("\n".join(rows))
    print("all targets met" if all(met) else "SOME TARGETS MISSED")
    return 0 if all(met) or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
