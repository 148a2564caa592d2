"""``project`` objects in processes started with "spawn", through the real ``lighter`` command:
DataLoader workers (``multiprocessing_context: spawn``, the macOS and Windows default) and
``strategy: ddp_spawn``. Both unpickle project objects in a fresh interpreter, which must import
``project`` as the parent did, from a folder that is not named ``project``."""

from __future__ import annotations

import re

import pytest

DATASETS = """\
import torch
from torch.utils.data import Dataset


class Pairs(Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=g)
        self.y = (self.x[:, 0] > 0).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]
"""

EXPERIMENT = """\
project: code/mine
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
  accelerator: cpu
  devices: 1
  logger: false
  enable_checkpointing: false
  enable_progress_bar: false
  enable_model_summary: false
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
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      dataset:
        _target_: project.Pairs
        n: 32
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "code" / "mine").mkdir(parents=True)
    (tmp_path / "code" / "mine" / "__init__.py").write_text(DATASETS)
    (tmp_path / "experiment.yaml").write_text(EXPERIMENT)
    # lighter's generated `project` package goes to the temporary folder: watch that it is removed
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    return tmp_path


# Inside a pytest-xdist worker the spawned DataLoader worker's batch never reaches the parent (the
# run waits for ever); run alone, and from a shell, it does. Not understood yet: run it serially.
@pytest.mark.serial
@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        pytest.param(
            [
                "--system#dataloaders#train#num_workers=1",
                "--system#dataloaders#train#multiprocessing_context=spawn",
            ],
            id="spawned-dataloader-workers",
        ),
        pytest.param(["--trainer#strategy=ddp_spawn", "--trainer#devices=2"], id="ddp_spawn"),
    ],
)
def test_spawned_processes_import_project(options, folder, lighter):
    result = lighter("fit", "experiment.yaml", *options, cwd=folder, script=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ModuleNotFoundError" not in result.stderr
    assert re.search(r"^  train/loss/epoch +\d", result.stdout, re.MULTILINE), result.stdout[-2000:]
    assert list((folder / "tmp").glob("lighter-*")) == []
