"""The runner in-process: the checks that need built objects or resolved args."""

from __future__ import annotations

import pytest

from lighter.engine import Stage, run
from lighter.errors import ConfigError, StageError

CONFIG = """\
seed: 3
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
  model: {_target_: torch.nn.Linear, in_features: 2, out_features: 1}
  dataloaders:
    predict:
      _target_: torch.utils.data.DataLoader
      batch_size: 4
      dataset: {_target_: torch.utils.data.TensorDataset, _args_: ["$torch.ones(8, 2)"]}
vars:
  keep: true
args:
  predict:
    return_predictions: "@vars#keep"
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.yaml").write_text(CONFIG)
    return "exp.yaml"


def test_predict_returns_predictions_and_resolves_args(config, capsys):
    predictions = run(Stage.PREDICT, config)
    assert len(predictions) == 2  # two batches of 4; args#predict#return_predictions came from @vars#keep
    assert predictions[0]["pred"].shape == (4, 1)
    assert capsys.readouterr().out.splitlines()[0] == "Seed: 3"


def test_unknown_stage_argument_is_located_with_suggestion(config):
    with pytest.raises(StageError) as info:
        run("predict", config, ["--args#predict#ckpt=last.ckpt"])
    assert str(info.value) == (
        "command line @ args#predict#ckpt: stage 'predict' takes no argument 'ckpt' (did you mean 'ckpt_path'?)"
    )


@pytest.mark.parametrize(
    ("override", "first_line"),
    [
        pytest.param(
            "--system#_target_=torch.nn.Identity",
            "exp.yaml:11:1 @ system: system must build a lighter.System, but it built torch.nn.modules.linear.Identity "
            "(set system#_target_: lighter.System)",
            id="system-not-a-System",
        ),
        pytest.param(
            "--trainer#_target_=builtins.dict",
            "exp.yaml:2:1 @ trainer: trainer must build a pytorch_lightning.Trainer, but it built builtins.dict "
            "(set trainer#_target_: pytorch_lightning.Trainer)",
            id="trainer-not-a-Trainer",
        ),
    ],
)
def test_built_parts_must_have_the_right_type(config, override, first_line):
    with pytest.raises(ConfigError) as info:
        run("predict", config, [override])
    assert str(info.value).splitlines()[0] == first_line


def test_tuner_stage_with_ddp_is_refused(config):
    with pytest.raises(StageError) as info:
        run(
            "lr_find",
            config,
            [
                "--trainer#strategy=ddp",
                "--trainer#devices=2",
                "--system#optimizer={_target_: torch.optim.SGD, params: $@system#model.parameters(), lr: 0.1}",
                "--system#criterion={_target_: torch.nn.MSELoss}",
                "--system#dataloaders#train=%system#dataloaders#predict",
            ],
        )
    assert (
        str(info.value)
        .splitlines()[0]
        .startswith("@ trainer#strategy: the tuner stages run on a single device")
    )


def test_missing_checkpoint_is_located(config):
    with pytest.raises(StageError) as info:
        run("predict", config, ["--args#predict#ckpt_path=runs/nope.ckpt"])
    assert str(info.value) == "command line @ args#predict#ckpt_path: checkpoint 'runs/nope.ckpt' does not exist"
