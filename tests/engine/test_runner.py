"""The runner in-process: the checks that need built objects or resolved args."""

from __future__ import annotations

import pytest

from lighter.engine import Stage, run
from lighter.errors import ConfigError, LighterError, StageError

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
            "command line @ system: system must be a LightningModule (lighter.System or your own); "
            "got torch.nn.Identity",
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
    assert str(info.value).splitlines()[0] == (
        "command line @ trainer#strategy: the tuner stages run on a single device, but the trainer uses "
        "DDPStrategy (run with --trainer#devices=1 --trainer#strategy=auto)"
    )


def test_missing_checkpoint_is_located(config):
    with pytest.raises(StageError) as info:
        run("predict", config, ["--args#predict#ckpt_path=runs/nope.ckpt"])
    assert (
        str(info.value) == "command line @ args#predict#ckpt_path: checkpoint 'runs/nope.ckpt' does not exist"
    )


# Errors raised by lighter's own components (System, adapters, writers) name their id; the engine
# adds where that id was written.
@pytest.mark.parametrize(
    ("mistake", "first_line"),
    [
        pytest.param(
            'system:\n  model: "$lambda x: x"\n',
            "mistake.yaml:2 @ system#model: model must be a torch.nn.Module (got function)",
            id="system-at-build",
        ),
        pytest.param(
            "system:\n  adapters:\n    predict:\n      batch:\n        _target_: lighter.adapters.BatchAdapter\n"
            "        input_accessor: image\n",
            "mistake.yaml:4 @ system#adapters#predict#batch: BatchAdapter: input_accessor 'image' does not fit "
            "the batch, which is a list of length 1",
            id="adapter-at-run-time",
        ),
        pytest.param(
            "trainer:\n  callbacks:\n    - _target_: lighter.callbacks.FileWriter\n      path: out\n"
            "      writer: png\n",
            "mistake.yaml:3 @ trainer#callbacks#0: unknown writer 'png' "
            "(choose one of tensor, image, nifti, itk_nifti, itk_nrrd, itk_seg_nrrd, video)",
            id="writer-constructor",
        ),
    ],
)
def test_component_errors_are_located(config, mistake, first_line, tmp_path):
    (tmp_path / "mistake.yaml").write_text(mistake)
    with pytest.raises(LighterError) as info:
        run("predict", f"{config},mistake.yaml")
    assert str(info.value).splitlines()[0] == first_line


@pytest.mark.parametrize(
    ("logger", "writes_csv", "writes_events"),
    [
        pytest.param(None, True, False, id="no-logger-key"),
        pytest.param("true", True, False, id="logger-true"),
        pytest.param(
            "{_target_: pytorch_lightning.loggers.TensorBoardLogger, save_dir: .}",
            False,
            True,
            id="configured",
        ),
    ],
)
def test_the_default_logger_is_csv_whatever_is_installed(config, logger, writes_csv, writes_events, tmp_path):
    pytest.importorskip("tensorboard")  # Lightning's own default would be TensorBoard here
    overrides = ["--~trainer#logger"] if logger is None else [f"--trainer#logger={logger}"]
    fit = [
        "--system#criterion={_target_: torch.nn.MSELoss}",
        "--system#optimizer={_target_: torch.optim.SGD, params: '$@system#model.parameters()', lr: 0.1}",
        "--system#dataloaders#train={_target_: torch.utils.data.DataLoader, batch_size: 4, dataset: "
        "{_target_: torch.utils.data.TensorDataset, _args_: ['$torch.ones(8, 2)', '$torch.ones(8, 1)']}}",
        "--trainer#log_every_n_steps=1",
    ]
    run(Stage.FIT, config, [*overrides, *fit])
    version = tmp_path / "lightning_logs" / "version_0"
    assert (version / "metrics.csv").exists() == writes_csv
    assert bool(list(version.glob("events.out.tfevents.*"))) == writes_events
