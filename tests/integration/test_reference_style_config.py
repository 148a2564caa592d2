"""A config written the way the reference system's (Lighter 0.0.4) examples are written, run through
the real command: a relative ``project`` path that an expression reads back (``@project``), a
FileWriter in ``trainer#callbacks`` during ``fit``, metrics and loaders shared with ``%#train`` /
``%#val``, loaders with worker processes and ``pin_memory``, and a ``BatchAdapter`` by index.
The dataset is generated (the reference examples download CIFAR-10)."""

from __future__ import annotations

import pytest
import torch

NET = """\
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        return self.head(self.features(x))
"""

DATA = """\
import torch
from torch.utils.data import Dataset


class Pictures(Dataset):
    \"\"\"(image, label) pairs shaped like CIFAR-10's, made up.\"\"\"

    def __init__(self, train: bool = True, size: int = 40):
        generator = torch.Generator().manual_seed(int(train))
        self.images = torch.rand(size, 3, 16, 16, generator=generator)
        self.labels = torch.randint(0, 10, (size,), generator=generator)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], int(self.labels[index])
"""

CONFIG = """\
project: ./projects/pictures

trainer:
    _target_: pytorch_lightning.Trainer
    max_epochs: 2
    accelerator: cpu
    logger: False
    enable_progress_bar: False
    callbacks:
        - _target_: lighter.callbacks.FileWriter
          path: '$f"{@project}/predictions"'
          writer: tensor

system:
    _target_: lighter.System
    model:
        _target_: project.models.net.Net
    criterion:
        _target_: torch.nn.CrossEntropyLoss
    optimizer:
        _target_: torch.optim.Adam
        params: "$@system#model.parameters()"
        lr: 0.001
        weight_decay: 0.00001
    metrics:
        train:
            - _target_: torchmetrics.Accuracy
              task: multiclass
              num_classes: 10
              average: macro
            - _target_: torchmetrics.F1Score
              task: multiclass
              num_classes: 10
              average: macro
        val: "%#train"
        test: "%#train"
    dataloaders:
        train:
            _target_: torch.utils.data.DataLoader
            batch_size: 16
            num_workers: 2
            pin_memory: True
            shuffle: True
            dataset:
                _target_: project.data.Pictures
                train: True
        val:
            _target_: torch.utils.data.DataLoader
            batch_size: 16
            num_workers: 2
            pin_memory: True
            shuffle: False
            dataset:
                _target_: project.data.Pictures
                train: False
        test: "%#val"
        predict: "%#val"
    adapters:
        train:
            batch:
                _target_: lighter.adapters.BatchAdapter
                input_accessor: 0
                target_accessor: 1
        val: "%#train"
        test: "%#train"
        predict: "%#train"
"""


@pytest.mark.slow
def test_a_reference_style_experiment_fits_tests_and_predicts(tmp_path, lighter):
    project = tmp_path / "projects" / "pictures"
    (project / "models").mkdir(parents=True)
    (project / "__init__.py").write_text("")
    (project / "models" / "__init__.py").write_text("")
    (project / "models" / "net.py").write_text(NET)
    (project / "data.py").write_text(DATA)
    (tmp_path / "example.yaml").write_text(CONFIG)

    fit = lighter("fit", "example.yaml", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "val/metrics/MulticlassAccuracy/epoch" in fit.stdout
    assert not (project / "predictions").exists()  # the writer waits for predict
    (checkpoint,) = tmp_path.glob("runs/version_0/checkpoints/*.ckpt")

    test = lighter("test", "example.yaml", f"--args#test#ckpt_path={checkpoint}", cwd=tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    assert "test/metrics/MulticlassF1Score/epoch" in test.stdout

    predict = lighter("predict", "example.yaml", f"--args#predict#ckpt_path={checkpoint}", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr[-3000:]
    files = sorted((project / "predictions").iterdir(), key=lambda p: int(p.stem))
    assert [p.name for p in files] == [f"{i}.pt" for i in range(40)]  # each validation sample once
    assert torch.load(files[0], weights_only=True).shape == (10,)  # the logits of one image
