"""A monitor that names a value the stage never logs is found before anything is built."""

from __future__ import annotations

import pytest

from lighter.config import ConfigParser
from lighter.engine.check import check_config
from lighter.engine.monitors import monitor_problems
from lighter.engine.runner import prepare
from lighter.engine.stages import Stage
from lighter.errors import ConfigError

BASE = {
    "trainer": {"_target_": "pytorch_lightning.Trainer", "callbacks": []},
    "system": {
        "_target_": "lighter.System",
        "model": {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 2},
        "optimizer": {"_target_": "torch.optim.Adam", "params": "$@system#model.parameters()"},
        "metrics": {"val": [{"_target_": "torchmetrics.Accuracy", "task": "multiclass", "num_classes": 2}]},
        "dataloaders": {"train": {"_target_": "torch.utils.data.DataLoader"}, "val": "%#train"},
    },
}


def parser_with(monitor, callback="pytorch_lightning.callbacks.ModelCheckpoint", **system):
    config = {
        **BASE,
        "trainer": {**BASE["trainer"], "callbacks": [{"_target_": callback, "monitor": monitor}]},
    }
    config["system"] = {**BASE["system"], **system}
    return ConfigParser(config)


@pytest.mark.parametrize(
    "monitor",
    [
        "val/loss/epoch",
        "train/loss/step",
        "val/metrics/MulticlassAccuracy/epoch",
        "train/optimizer/Adam/lr",
        "train/loss/dice/epoch",  # a criterion returning a dict logs its parts too
        "epoch",
    ],
)
def test_values_the_system_logs_pass(monitor):
    assert monitor_problems(parser_with(monitor), Stage.FIT) == []


@pytest.mark.parametrize(
    ("monitor", "system", "message"),
    [
        pytest.param(
            "val/loss/epoch",
            {"dataloaders": {"train": {"_target_": "torch.utils.data.DataLoader"}}},
            "ModelCheckpoint monitors 'val/loss/epoch', which fit never logs: fit has no val data "
            "(system#dataloaders#val), so no val/ value is logged (did you mean 'train/loss/epoch'? "
            "fit logs: train/loss/step, train/loss/epoch, train/optimizer/Adam/lr)",
            id="val-without-val-data",
        ),
        pytest.param(
            "val_loss",
            {},
            "ModelCheckpoint monitors 'val_loss', which fit never logs: lighter.System logs no value named "
            "'val_loss' (did you mean 'val/loss/step'? fit logs: train/loss/step, train/loss/epoch, "
            "val/loss/step, val/loss/epoch, val/metrics/MulticlassAccuracy/step, "
            "val/metrics/MulticlassAccuracy/epoch, train/optimizer/Adam/lr)",
            id="no-such-name",
        ),
        pytest.param(
            "val/metrics/Accuracy/epoch",
            {},
            "ModelCheckpoint monitors 'val/metrics/Accuracy/epoch', which fit never logs: lighter.System "
            "logs no value named 'val/metrics/Accuracy/epoch' (did you mean "
            "'val/metrics/MulticlassAccuracy/epoch'? fit logs: train/loss/step, train/loss/epoch, "
            "val/loss/step, val/loss/epoch, val/metrics/MulticlassAccuracy/step, "
            "val/metrics/MulticlassAccuracy/epoch, train/optimizer/Adam/lr)",
            id="metric-class-name",
        ),
        pytest.param(
            "train/metrics/acc/epoch",
            {},
            "ModelCheckpoint monitors 'train/metrics/acc/epoch', which fit never logs: no train metrics are "
            "configured (system#metrics#train) (did you mean 'train/loss/epoch'? fit logs: train/loss/step, train/loss/epoch, val/loss/step, "
            "val/loss/epoch, val/metrics/MulticlassAccuracy/step, val/metrics/MulticlassAccuracy/epoch, "
            "train/optimizer/Adam/lr)",
            id="no-metrics-of-the-mode",
        ),
    ],
)
def test_values_never_logged_are_reported_with_what_is(monitor, system, message):
    (problem,) = monitor_problems(parser_with(monitor, **system), Stage.FIT)
    assert problem.id == "trainer#callbacks#0#monitor"
    assert problem.message + f" ({problem.suggestion})" == message


def test_early_stopping_and_scheduler_monitors_are_checked_too():
    scheduler = {
        "scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau"},
        "monitor": "val/los",
    }
    parser = parser_with("test/loss/epoch", "pytorch_lightning.callbacks.EarlyStopping", scheduler=scheduler)
    assert [(p.id, p.message.split(":")[0]) for p in monitor_problems(parser, Stage.FIT)] == [
        ("trainer#callbacks#0#monitor", "EarlyStopping monitors 'test/loss/epoch', which fit never logs"),
        ("system#scheduler#monitor", "the scheduler monitors 'val/los', which fit never logs"),
    ]


def test_a_users_own_module_is_not_judged():
    parser = parser_with("whatever/it/logs")
    parser["system#_target_"] = "torch.nn.Linear"
    assert monitor_problems(parser, Stage.FIT) == []


CONFIG = """\
trainer:
  _target_: pytorch_lightning.Trainer
  callbacks:
    - _target_: pytorch_lightning.callbacks.ModelCheckpoint
      monitor: val/loss/epoch
system:
  _target_: lighter.System
  model: {_target_: torch.nn.Linear, in_features: 4, out_features: 2}
  criterion: {_target_: torch.nn.CrossEntropyLoss}
  optimizer: {_target_: torch.optim.SGD, params: "$@system#model.parameters()", lr: 0.1}
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      dataset: {_target_: torch.utils.data.TensorDataset, _args_: ["$torch.randn(8, 4)", "$torch.zeros(8).long()"]}
"""

FIRST_LINE = (
    "exp.yaml:5 @ trainer#callbacks#0#monitor: ModelCheckpoint monitors 'val/loss/epoch', which fit never "
    "logs: fit has no val data (system#dataloaders#val), so no val/ value is logged (did you mean "
    "'train/loss/epoch'? fit logs: train/loss/step, train/loss/epoch, train/optimizer/SGD/lr)"
)


def test_check_and_fit_report_it_before_building(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.yaml").write_text(CONFIG)
    report = check_config("exp.yaml")
    assert [str(p) for p in report.problems] == [FIRST_LINE]
    with pytest.raises(ConfigError) as info:
        prepare("exp.yaml", stage=Stage.FIT)  # builds nothing: the pre-flight stops here
    assert str(info.value) == FIRST_LINE
