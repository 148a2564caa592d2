"""Evaluating run folders, the untrained-weights note, the record of a failed fit and the flat
hyperparameters every logger gets: in-process, with a real Trainer on tiny CPU data."""

from __future__ import annotations

import json
import threading

import pytest
import yaml

from lighter.engine import run
from lighter.engine.evaluate import choose_checkpoint, new_output_folder, untrained_note
from lighter.engine.stages import Stage
from lighter.errors import StageError, UserCodeError

CONFIG = """\
seed: 3
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
  accelerator: cpu
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  enable_checkpointing: false
  default_root_dir: out
system:
  _target_: lighter.System
  model: {_target_: torch.nn.Linear, in_features: 4, out_features: 2}
  criterion: {_target_: torch.nn.CrossEntropyLoss}
  optimizer:
    _target_: torch.optim.SGD
    params: "$@system#model.parameters()"
    lr: 0.01
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(16, 4)", "$torch.randint(0, 2, (16,))"]
    test: "%#train"
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "exp.yaml"
    path.write_text(CONFIG)
    return path


def test_untrained_weights_are_never_evaluated_silently(config, capsys):
    run("test", str(config))
    out = capsys.readouterr().out
    assert out.count(untrained_note(Stage.TEST)) == 1
    assert untrained_note(Stage.TEST) == (
        "Note: no checkpoint given: test evaluates untrained (randomly initialised) weights. Give a run "
        "folder (lighter test RUN_FOLDER) or --args#test#ckpt_path=PATH; ckpt_path: null says the config "
        "loads its own weights."
    )
    run("test", str(config), ["--args#test#ckpt_path=null"])
    assert "Note:" not in capsys.readouterr().out


def test_a_failed_fit_is_recorded_with_its_error(config):
    with pytest.raises(UserCodeError) as info:
        run("fit", str(config), ["--system#dataloaders#train#collate_fn=$torch.stack"])
    (entry,) = json.loads((config.parent / "out" / "runs" / "version_0" / "run.json").read_text())["entries"]
    assert entry["outcome"] == "failed" and entry["signal"] is None
    assert entry["error"] == str(info.value).splitlines()[0]
    assert "TypeError: expected Tensor as element 0" in entry["error"]
    assert entry["ended"] is not None and entry["best"] is None


def test_tensorboard_and_mlflow_get_the_config_flat(config, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for a database otherwise
    loggers = (
        "[{_target_: pytorch_lightning.loggers.TensorBoardLogger, save_dir: tb},"
        " {_target_: pytorch_lightning.loggers.MLFlowLogger, tracking_uri: 'file:./mlruns', experiment_name: flat}]"
    )
    run("fit", str(config), [f"--trainer#logger={loggers}"])
    version = config.parent / "tb" / "lightning_logs" / "version_0"
    logged = yaml.safe_load((version / "hparams.yaml").read_text())
    assert logged["system#optimizer#lr"] == 0.01 and logged["trainer#max_epochs"] == 1 and logged["seed"] == 3
    assert "system" not in logged  # one entry per value, not the nested config

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(version))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]  # the hparams tab's
    assert b"system#optimizer#lr" in content and b"trainer#logger#0#save_dir" in content
    (params,) = (config.parent / "mlruns").glob("*/*/params")
    # MLflow refuses '#' in a name: the same id, spelled with '::'
    assert (params / "system::optimizer::lr").read_text() == "0.01"
    assert (params / "system::dataloaders::test").read_text() == "%#train"


def test_output_folders_are_numbered_and_never_shared(tmp_path):
    assert new_output_folder(tmp_path, Stage.TEST).name == "test"
    (tmp_path / "test-5").mkdir()
    (tmp_path / "test-x").mkdir()
    (tmp_path / "predict").mkdir()
    made = []
    threads = [
        threading.Thread(target=lambda: made.append(new_output_folder(tmp_path, Stage.TEST)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.name for p in made) == ["test-6", "test-7", "test-8", "test-9"]


def test_checkpoint_choice_without_a_best(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(StageError, match="has no checkpoint to evaluate"):
        choose_checkpoint(tmp_path, None, None, "args#test#ckpt_path")
    (tmp_path / "checkpoints" / "epoch=0-step=2.ckpt").write_bytes(b"")
    with pytest.raises(StageError) as info:
        choose_checkpoint(tmp_path, "best", "command line", "args#test#ckpt_path")
    assert str(info.value) == (
        f"command line @ args#test#ckpt_path: run folder '{tmp_path}' has no best checkpoint (no "
        "ModelCheckpoint recorded one) (use ckpt_path: last, or give a checkpoint path)"
    )
    chosen = choose_checkpoint(tmp_path, "last", None, "args#test#ckpt_path")
    assert chosen.path.name == "epoch=0-step=2.ckpt"
    assert chosen.reason == "the newest one, as there is no last.ckpt: ckpt_path is last"


def test_the_python_api_records_each_stage_it_runs(config):
    import lighter

    experiment = lighter.load(str(config))
    experiment.run("fit")
    experiment.run("test")
    entries = json.loads((config.parent / "out" / "runs" / "version_0" / "run.json").read_text())["entries"]
    assert [(e["stage"], e["outcome"]) for e in entries] == [("fit", "completed"), ("test", "completed")]
    assert entries[1]["output"] is None and entries[1]["seed"] == 3
