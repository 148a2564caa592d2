"""A tiny experiment on disk and a helper that runs the real ``lighter`` command on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENT = """\
project: project
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 2
  accelerator: cpu
  devices: 1
  enable_progress_bar: false
  enable_model_summary: false
  log_every_n_steps: 1
  default_root_dir: runs
  callbacks:
    - _target_: project.callbacks.RecordSeed
      path: seeds
system:
  _target_: lighter.System
  model:
    _target_: torch.nn.Linear
    in_features: 4
    out_features: 2
  criterion:
    _target_: torch.nn.CrossEntropyLoss
  optimizer:
    _target_: torch.optim.SGD
    params: "$@system#model.parameters()"
    lr: 0.1
  metrics:
    test:
      - _target_: torchmetrics.Accuracy
        task: multiclass
        num_classes: 2
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(64, 4)", "$torch.randint(0, 2, (64,))"]
    val: "%#train"
    test:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(16, 4)", "$torch.randint(0, 2, (16,))"]
    predict:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(16, 4)"]
"""

# Records, per rank, the seed each process was seeded with and the first weight it built, so a
# test can check that every process of a run built the same thing.
CALLBACKS = """\
import json
import os

import torch
from pytorch_lightning import Callback


class RecordSeed(Callback):
    def __init__(self, path):
        self.path = path

    def setup(self, trainer, pl_module, stage):
        os.makedirs(self.path, exist_ok=True)
        record = {"seed": torch.initial_seed(), "weight": pl_module.model.weight.flatten()[0].item()}
        name = getattr(stage, "value", stage)  # a str enum: "fit", "validate", ...
        with open(os.path.join(self.path, f"{name}-rank{trainer.global_rank}.json"), "w") as f:
            json.dump(record, f)
"""


def write_experiment(folder: Path) -> Path:
    """Write ``experiment.yaml`` and its ``project`` folder into ``folder``; return the YAML path."""
    (folder / "project").mkdir(parents=True)
    (folder / "project" / "__init__.py").write_text("")
    (folder / "project" / "callbacks.py").write_text(CALLBACKS)
    path = folder / "experiment.yaml"
    path.write_text(EXPERIMENT)
    return path


def run_lighter(
    *args: str, cwd: Path, script: bool = False, timeout: float = 540
) -> subprocess.CompletedProcess:
    """Run ``lighter ARGS`` in ``cwd``: the console script when ``script``, else ``python -m lighter``."""
    env = {k: v for k, v in os.environ.items() if k not in ("LIGHTER_DEBUG", "PL_GLOBAL_SEED")}
    env["PYTHONWARNINGS"] = "ignore"  # keep captured output readable; behaviour is unchanged
    command = [str(Path(sys.executable).parent / "lighter")] if script else [sys.executable, "-m", "lighter"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("experiment")
    write_experiment(folder)
    return folder


@pytest.fixture
def fresh_experiment(tmp_path) -> Path:
    """A folder of its own with the experiment, for a test that must not see other runs' outputs."""
    write_experiment(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def lighter():
    """The :func:`run_lighter` helper, as a fixture so test modules need no imports from here."""
    return run_lighter
