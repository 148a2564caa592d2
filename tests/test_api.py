"""The Python API: ``lighter.load`` → Experiment, ``lighter.load_checkpoint`` and ``System.load_from_checkpoint``."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml
from pytorch_lightning.utilities.model_helpers import is_overridden

import lighter
from lighter.errors import StageError

CONFIG = """\
project: project
seed: 5
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 2
  accelerator: cpu
  devices: 1
  enable_progress_bar: false
  enable_model_summary: false
  log_every_n_steps: 1
  default_root_dir: out
  logger: false
system:
  _target_: lighter.System
  model: {_target_: project.Net}
  criterion: {_target_: torch.nn.CrossEntropyLoss}
  optimizer:
    _target_: torch.optim.SGD
    params: "$@system#model.parameters()"
    lr: 0.1
  metrics:
    test:
      _target_: torchmetrics.Accuracy
      task: multiclass
      num_classes: 2
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      dataset: {_target_: project.Data, n: 32}
    test:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      dataset: {_target_: project.Data, n: 16}
"""

PROJECT = """\
import torch


class Net(torch.nn.Sequential):
    def __init__(self):
        super().__init__(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


class Data(torch.utils.data.TensorDataset):
    def __init__(self, n):
        generator = torch.Generator().manual_seed(n)
        super().__init__(torch.randn(n, 4, generator=generator), torch.randint(0, 2, (n,), generator=generator))
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "__init__.py").write_text(PROJECT)
    (tmp_path / "exp.yaml").write_text(CONFIG)
    saved = {n: m for n, m in sys.modules.items() if n == "project" or n.startswith("project.")}
    yield "exp.yaml"
    for name in [n for n in sys.modules if n == "project" or n.startswith("project.")]:
        del sys.modules[name]
    sys.modules.update(saved)


def test_load_resolves_project_targets_and_builds_lazily(config):
    experiment = lighter.load(config, ["--trainer#max_epochs=1"])
    assert experiment.seed == 5 and experiment.config["trainer"]["max_epochs"] == 1
    assert "system" not in vars(experiment)  # nothing built yet
    assert type(experiment.parser.get_parsed_content("system#model")).__name__ == "Net"
    assert isinstance(experiment.system, lighter.System)
    assert experiment.trainer.max_epochs == 1


def test_fit_then_test_in_one_session(config, tmp_path):
    experiment = lighter.load(config)
    metrics = experiment.run("fit")
    assert isinstance(metrics["train/loss/epoch"], float) and metrics["train/loss/epoch"] > 0
    tested = experiment.run("test")  # the trained system, still in memory
    assert set(tested[0]) == {"test/metrics/MulticlassAccuracy/epoch"}
    folder = tmp_path / "out" / "runs" / "version_0"  # one run folder for the experiment
    assert yaml.safe_load((folder / "config.yaml").read_text())["seed"] == 5
    assert [p.name for p in (folder / "checkpoints").iterdir()] == ["epoch=1-step=8.ckpt"]


def test_same_weights_as_the_command_pipeline(config, tmp_path):
    from lighter.engine import run

    run("fit", config)
    lighter.load(config).run("fit")
    first, second = sorted((tmp_path / "out" / "runs").glob("version_*/checkpoints/*.ckpt"))
    a = torch.load(first, weights_only=True)["state_dict"]
    b = torch.load(second, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def checkpoint(config, tmp_path):
    experiment = lighter.load(config)
    experiment.run("fit")
    (path,) = (tmp_path / "out" / "runs" / "version_0" / "checkpoints").glob("*.ckpt")
    return path, experiment.system


@pytest.mark.parametrize("loader", ["load_checkpoint", "load_from_checkpoint"])
def test_a_checkpoint_alone_gives_the_trained_system(checkpoint, tmp_path, loader, monkeypatch):
    path, trained = checkpoint
    monkeypatch.chdir(tmp_path / "out")  # neither the config nor the cwd's project is needed
    system = (
        lighter.load_checkpoint(path)
        if loader == "load_checkpoint"
        else lighter.System.load_from_checkpoint(path)
    )
    assert isinstance(system, lighter.System)
    assert system.optimizer is None  # the model, no data:
    assert not is_overridden("train_dataloader", system)  # Lightning sees no train loop
    x = torch.randn(3, 4)
    assert torch.allclose(system.model(x), trained.model.cpu()(x))
    assert system.hparams["seed"] == 5


def test_load_checkpoint_for_a_stage_builds_its_data(checkpoint):
    path, _ = checkpoint
    system = lighter.load_checkpoint(path, stage="test")
    assert len(system.test_dataloader().dataset) == 16


@pytest.mark.parametrize(
    ("make", "first_line"),
    [
        pytest.param(lambda p: None, "checkpoint '{p}' does not exist", id="missing"),
        pytest.param(
            lambda p: p.write_text("hello"), "'{p}' is not a checkpoint torch can read", id="not-one"
        ),
        pytest.param(
            lambda p: torch.save({"state_dict": {}, "hyper_parameters": {"lr": 1}}, p),
            "checkpoint '{p}' carries no lighter config (its hyper_parameters have no 'system') "
            "(give the config too: lighter.load(CONFIG).system, then load_state_dict)",
            id="no-config",
        ),
    ],
)
def test_load_checkpoint_mistakes(tmp_path, make, first_line):
    path = tmp_path / "model.ckpt"
    make(path)
    with pytest.raises(StageError) as info:
        lighter.load_checkpoint(path)
    assert str(info.value).splitlines()[0] == first_line.format(p=path)


def test_weights_that_do_not_fit_are_an_error(checkpoint):
    path, _ = checkpoint
    with pytest.raises(StageError) as info:
        lighter.load_checkpoint(
            path, ["--system#model={_target_: torch.nn.Linear, in_features: 4, out_features: 2}"]
        )
    assert str(info.value).splitlines()[0] == (
        f"the weights in '{path}' do not fit the System its config builds: missing model.weight, model.bias; "
        "unexpected model.0.weight, model.0.bias, model.2.weight, model.2.bias (pass strict=False to load what fits)"
    )


def test_import_lighter_stays_cheap():
    code = "import sys, lighter; lighter.load; print(sorted(m for m in ('torch', 'pytorch_lightning') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_run_folder_loads_its_config_and_continues(checkpoint, tmp_path):
    folder = tmp_path / "out" / "runs" / "version_0"
    assert lighter.load(folder).config["trainer"]["max_epochs"] == 2  # the saved config.yaml
    metrics = lighter.load(folder, ["--trainer#max_epochs=3"], stage="fit").run("fit")
    assert "train/loss/epoch" in metrics
    assert (folder / "checkpoints" / "epoch=2-step=12.ckpt").is_file()
    assert [p.name for p in folder.parent.iterdir()] == ["version_0"]
