"""``system`` as the user's own LightningModule, and ``data:`` as a LightningDataModule, end to end.

In-process runs of the runner the CLI calls (one Lightning import for all), and the real
``lighter`` command where the command itself is what is tested (resume by folder, check, show).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
import torch
import yaml

import lighter
from lighter.engine.reproduce import CHECKPOINT_KEY
from lighter.engine.runner import prepare, run
from lighter.engine.stages import Stage
from lighter.errors import ConfigError, LighterError, StageError

MODULES = '''\
import torch
import pytorch_lightning as pl
from torch.utils.data import DataLoader, TensorDataset


def _data(n, labelled=True):
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, 4, generator=g)
    tensors = (x, (x.sum(1) > 0).long()) if labelled else (x,)
    return DataLoader(TensorDataset(*tensors), batch_size=8)


class TinyModule(pl.LightningModule):
    """Its own loaders, steps and optimizer; it saves its own hyperparameters."""

    def __init__(self, lr: float = 0.1, hidden: int = 4):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", torch.nn.functional.cross_entropy(self(x), y))

    def predict_step(self, batch, batch_idx):
        return self(batch[0]).argmax(dim=1)  # a bare tensor

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def train_dataloader(self):
        return _data(32)

    def val_dataloader(self):
        return _data(16)

    def predict_dataloader(self):
        return _data(12, labelled=False)


class NamedPredictions(TinyModule):
    def predict_step(self, batch, batch_idx):
        pred = self(batch[0]).argmax(dim=1)
        return {"pred": pred, "identifier": [f"s{batch_idx}_{i}" for i in range(len(pred))]}


class TinyData(pl.LightningDataModule):
    def __init__(self, batch_size: int = 8):
        super().__init__()
        self.batch_size = batch_size

    def _loader(self, n, labelled=True):
        loader = _data(n, labelled)
        return DataLoader(loader.dataset, batch_size=self.batch_size)

    def train_dataloader(self):
        return self._loader(32)

    def val_dataloader(self):
        return self._loader(16)

    def test_dataloader(self):
        return self._loader(16)

    def predict_dataloader(self):
        return self._loader(12, labelled=False)


import lighter


class MySystem(lighter.System):
    """A subclass of System: known as one only once imported."""


class Broken(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        raise ValueError("bad sample")


class BrokenData(TinyData):
    def train_dataloader(self):
        return DataLoader(Broken(), batch_size=4)


class TrainOnly(pl.LightningDataModule):
    def train_dataloader(self):
        return _data(32)


class PredictOnly(pl.LightningDataModule):
    def predict_dataloader(self):
        return _data(12, labelled=False)
'''

TRAINER = """\
project: project
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
  accelerator: cpu
  devices: 1
  enable_progress_bar: false
  enable_model_summary: false
  logger: false
  default_root_dir: out
  callbacks:
    - _target_: pytorch_lightning.callbacks.ModelCheckpoint
      save_last: true
"""

OWN = (
    TRAINER
    + """\
system:
  _target_: project.modules.TinyModule
  lr: 0.05
"""
)

WITH_DATA = (
    TRAINER
    + """\
data:
  _target_: project.modules.TinyData
  batch_size: 8
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
      _target_: torchmetrics.Accuracy
      task: multiclass
      num_classes: 2
"""
)

QUIET = ["--trainer#enable_progress_bar=false"]


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "__init__.py").write_text("")
    (tmp_path / "project" / "modules.py").write_text(MODULES)
    (tmp_path / "own.yaml").write_text(OWN)
    (tmp_path / "data.yaml").write_text(WITH_DATA)
    monkeypatch.chdir(tmp_path)
    logging.disable(logging.INFO)  # Lightning's banners
    yield tmp_path
    logging.disable(logging.NOTSET)


def _table_writer(path: str) -> str:
    return f"--trainer#callbacks=[{{_target_: lighter.callbacks.TableWriter, path: {path}, writer: tensor}}]"


def test_own_module_fit_keeps_config_in_run_folder_and_checkpoint(folder):
    metrics = run("fit", "own.yaml")
    assert "train/loss" in metrics and "val/loss" in metrics
    run_folder = folder / "out" / "runs" / "version_0"
    saved = yaml.safe_load((run_folder / "config.yaml").read_text())
    assert saved["system"] == {"_target_": "project.modules.TinyModule", "lr": 0.05}
    checkpoint = torch.load(run_folder / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint[CHECKPOINT_KEY] == saved  # seed included
    assert checkpoint["hyper_parameters"] == {"lr": 0.05, "hidden": 4}  # the module's own, untouched

    system = lighter.load_checkpoint(run_folder / "checkpoints" / "last.ckpt")
    assert type(system).__qualname__ == "TinyModule" and system.hparams.lr == 0.05
    state = {k: v for k, v in checkpoint["state_dict"].items()}
    assert state.keys() == system.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in system.state_dict().items())


@pytest.mark.parametrize(
    ("target", "identifiers"),
    [
        pytest.param("TinyModule", [str(i) for i in range(12)], id="tensor"),
        pytest.param(
            "NamedPredictions", [f"s{b}_{i}" for b in (0, 1) for i in range(8 if b == 0 else 4)], id="dict"
        ),
    ],
)
def test_writer_reads_what_an_own_predict_step_returns(folder, target, identifiers):
    run("predict", "own.yaml", [f"--system#_target_=project.modules.{target}", _table_writer("preds.csv")])
    with open(folder / "preds.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["identifier"] for row in rows] == identifiers
    assert {row["pred"] for row in rows} <= {"0", "1"}


def test_system_with_data_runs_every_stage(folder):
    metrics = run("fit", "data.yaml")
    assert "train/loss/epoch" in metrics and "val/loss/epoch" in metrics  # val from the DataModule
    assert run("validate", "data.yaml")[0]["val/loss/epoch"] > 0
    assert "test/metrics/MulticlassAccuracy/epoch" in run("test", "data.yaml")[0]
    run("predict", "data.yaml", [_table_writer("preds.csv")])
    with open(folder / "preds.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 12


def test_scale_batch_size_tunes_the_datamodules_batch_size(folder, capsys):
    run("scale_batch_size", "data.yaml", ["--args#scale_batch_size={max_trials: 2, steps_per_trial: 1}"])
    # Lightning starts from init_val=2 and doubles once per trial: found on the DataModule (the
    # System has no batch_size of its own here), else the tuner would have stopped with an error.
    assert "Batch size found: 4" in capsys.readouterr().out


def test_system_with_data_but_no_loader_for_the_stage_is_an_error(folder):
    with pytest.raises(ConfigError) as info:
        prepare(
            "data.yaml", ["--data#_target_=project.modules.TrainOnly", "--~data#batch_size"], Stage.VALIDATE
        )
    assert str(info.value).splitlines()[0] == (
        "command line @ data: stage 'validate' needs val data, but data (project.modules.TrainOnly) "
        "defines no val_dataloader()"
    )


def test_a_failing_datamodule_loader_is_blamed_on_data(folder):
    from lighter.errors import UserCodeError

    with pytest.raises(UserCodeError) as info:
        run(
            "fit",
            "data.yaml",
            ["--data#_target_=project.modules.BrokenData", "--trainer#num_sanity_val_steps=0"],
        )
    assert str(info.value).splitlines()[0] == (
        "data.yaml:14 @ data: during fit, epoch 0, step 0: ValueError: bad sample"
    )


def test_data_and_system_dataloaders_for_one_stage_is_an_error(folder):
    loader = "--system#dataloaders#train={_target_: torch.utils.data.DataLoader, dataset: [1, 2]}"
    with pytest.raises(StageError) as info:
        prepare("data.yaml", [loader], Stage.FIT)
    assert str(info.value).splitlines()[0] == (
        "command line @ system#dataloaders#train: both data and system#dataloaders#train give the 'fit' "
        "stage its train data; give one (with data, the DataModule's dataloaders are used and the "
        "System's ignored: remove system#dataloaders#train, or remove data)"
    )
    prepare("data.yaml", [loader], Stage.TEST)  # test does not use the train loader: no conflict


def test_data_that_is_not_a_datamodule_is_an_error(folder):
    with pytest.raises(ConfigError) as info:
        prepare("data.yaml", ["--data={_target_: torch.nn.Identity}"], Stage.FIT)
    assert str(info.value).splitlines()[0] == (
        "command line @ data: data must be a LightningDataModule (passed to every stage as datamodule=); "
        "got torch.nn.Identity"
    )


def test_wrong_argument_of_data_is_located_with_suggestion(folder):
    with pytest.raises(LighterError) as info:
        prepare("data.yaml", ["--data={_target_: project.modules.TinyData, batchsize: 8}"], Stage.FIT)
    assert str(info.value).splitlines()[0] == (
        "command line @ data: project.modules.TinyData got an unexpected argument 'batchsize' "
        "(did you mean 'batch_size'?)"
    )


def test_data_that_is_not_a_datamodule_fails_the_command(folder, lighter):
    result = lighter("fit", "data.yaml", "--data={_target_: torch.nn.Identity}", cwd=folder)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "command line @ data: data must be a LightningDataModule (passed to every stage as datamodule=); "
        "got torch.nn.Identity"
    )
    assert "Traceback" not in result.stderr


def test_system_that_is_not_a_lightning_module_is_an_error(folder):
    (folder / "linear.yaml").write_text(
        TRAINER + "system:\n  _target_: torch.nn.Linear\n  in_features: 4\n  out_features: 2\n"
    )
    with pytest.raises(ConfigError) as info:
        prepare("linear.yaml", [], Stage.FIT)
    assert str(info.value).splitlines()[0] == (
        "linear.yaml:15 @ system: system must be a LightningModule (lighter.System or your own); got torch.nn.Linear"
    )


def test_subclass_of_system_is_checked_and_pruned_as_a_system(folder):
    with pytest.raises(StageError) as info:
        prepare("data.yaml", ["--system#_target_=project.modules.MySystem", "--data=null"], Stage.FIT)
    assert str(info.value).splitlines()[0] == (
        "data.yaml:17:1 @ system#dataloaders#train: stage 'fit' needs system#dataloaders#train, which the "
        "config does not define"
    )
    prepared = prepare("data.yaml", ["--system#_target_=project.modules.MySystem"], Stage.TEST)
    assert "optimizer" not in prepared.parser.config["system"]  # pruned: test has no use for it
    assert prepared.record["system"]["optimizer"]["lr"] == 0.1  # the saved config keeps it


def test_experiment_api_runs_stages_with_data(folder):
    experiment = lighter.load("data.yaml")
    assert "train/loss/epoch" in experiment.run("fit")
    assert "test/metrics/MulticlassAccuracy/epoch" in experiment.run("test")[0]
    assert type(experiment.datamodule).__qualname__ == "TinyData"


def test_wrong_argument_of_own_module_is_located_with_suggestion(folder):
    (folder / "typo.yaml").write_text(OWN.replace("lr: 0.05", "lrr: 0.05"))
    with pytest.raises(LighterError) as info:
        prepare("typo.yaml", [], Stage.FIT)
    assert str(info.value).splitlines()[0] == (
        "typo.yaml:16 @ system: project.modules.TinyModule got an unexpected argument 'lrr' (did you mean 'lr'?)"
    )


def test_sweep_over_an_argument_of_own_module(folder):
    from lighter.engine.project import import_project
    from lighter.engine.runner import load
    from lighter.engine.sweep_spec import parse_sweep
    from lighter.errors import ValidationError

    import_project(folder / "project")  # as `lighter sweep` does before reading the section
    sweep = "sweep: {monitor: val/loss, direction: minimize, trials: 2, params: {p: {id: SWEPT, log_uniform: [0.01, 0.1]}}}\n"
    for swept in ("system#lr", "system#hidden"):  # set in the config, and an argument it does not set
        (folder / "sweep.yaml").write_text(OWN + sweep.replace("SWEPT", swept))
        assert [p.id for p in parse_sweep(load("sweep.yaml"), "sweep").params] == [swept]
    (folder / "bad.yaml").write_text(OWN + sweep.replace("SWEPT", "system#hiden"))
    with pytest.raises(ValidationError) as info:
        parse_sweep(load("bad.yaml"), "bad")
    assert "did you mean 'system#hidden'?" in str(info.value)


# --- through the real command ---------------------------------------------------------------------


def test_fit_run_folder_continues_an_own_module(folder, lighter):
    run("fit", "own.yaml")
    run_folder = folder / "out" / "runs" / "version_0"
    result = lighter("fit", str(run_folder), "--trainer#max_epochs=2", cwd=folder)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Resuming {run_folder} from last.ckpt" in result.stdout
    # The second epoch, continuing the first one's steps (4 per epoch), in the same folder.
    assert sorted(p.name for p in (run_folder / "checkpoints").iterdir()) == [
        "epoch=1-step=8.ckpt",
        "last.ckpt",
    ]


def test_check_and_show_an_own_module(folder, lighter):
    ok = lighter("check", "own.yaml", cwd=folder)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.startswith("OK: own.yaml is ready for fit")
    (folder / "typo.yaml").write_text(OWN.replace("lr: 0.05", "lrr: 0.05"))
    bad = lighter("check", "typo.yaml", cwd=folder)
    assert bad.returncode == 1
    assert (
        "typo.yaml:16 @ system: project.modules.TinyModule got an unexpected argument 'lrr' "
        "(did you mean 'lr'?)" in bad.stderr
    )
    shown = lighter("show", "own.yaml", cwd=folder)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "_target_: project.modules.TinyModule" in shown.stdout and "lr: 0.05" in shown.stdout


def test_check_without_a_stage_checks_the_stages_data_sets_up(folder):
    from lighter.engine.check import check_config

    report = check_config("data.yaml")
    assert report.stages == [Stage.FIT, Stage.VALIDATE, Stage.TEST, Stage.PREDICT]
    assert report.problems == []
    # A predict-only experiment has no optimizer or criterion: no false alarm about fit.
    only = ["--data#_target_=project.modules.PredictOnly", "--~data#batch_size"]
    report = check_config("data.yaml", [*only, "--~system#optimizer", "--~system#criterion"])
    assert report.stages == [Stage.PREDICT]
    assert report.problems == []
