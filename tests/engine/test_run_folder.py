"""Run folders and resuming by folder, in-process with a real Trainer on tiny CPU data."""

from __future__ import annotations

import csv
import os

import pytest
import torch
import yaml

from lighter.atomic import TEMP_PREFIX
from lighter.engine import run
from lighter.engine.resume import find_checkpoint
from lighter.engine.run_folder import fresh_folder
from lighter.errors import StageError

# Shuffled data and dropout: a resumed run only matches an unbroken one if the random generators
# continue where they were, not just the weights.
CONFIG = """\
seed: 11
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 2
  accelerator: cpu
  devices: 1
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  log_every_n_steps: 1
  default_root_dir: out
system:
  _target_: lighter.System
  model:
    _target_: torch.nn.Sequential
    _args_:
      - {_target_: torch.nn.Linear, in_features: 4, out_features: 8}
      - {_target_: torch.nn.Dropout, p: 0.3}
      - {_target_: torch.nn.Linear, in_features: 8, out_features: 2}
  criterion: {_target_: torch.nn.CrossEntropyLoss}
  optimizer:
    _target_: torch.optim.Adam
    params: "$@system#model.parameters()"
    lr: 0.01
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      shuffle: true
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(32, 4)", "$torch.randint(0, 2, (32,))"]
    val:
      _target_: torch.utils.data.DataLoader
      batch_size: 16
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(16, 4)", "$torch.randint(0, 2, (16,))"]
"""

CSV_LOGGER = "--trainer#logger={_target_: pytorch_lightning.loggers.CSVLogger, save_dir: out, name: logs}"


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.yaml").write_text(CONFIG)
    return "exp.yaml"


def test_runs_without_a_logger_get_their_own_folders(config, tmp_path, capsys):
    first = run("fit", config, ["--trainer#max_epochs=1"])
    run("fit", config, ["--trainer#max_epochs=1", "--system#optimizer#lr=0.1"])
    runs = tmp_path / "out" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["version_0", "version_1"]
    for folder, lr in [(runs / "version_0", 0.01), (runs / "version_1", 0.1)]:
        saved = yaml.safe_load((folder / "config.yaml").read_text())
        assert saved["system"]["optimizer"]["lr"] == lr and saved["seed"] == 11
        assert [p.name for p in (folder / "checkpoints").iterdir()] == ["epoch=0-step=4.ckpt"]
    assert not (tmp_path / "out" / "checkpoints").exists()  # nothing left in the shared root
    out = capsys.readouterr().out
    assert f"Run folder: {runs / 'version_0'}\n" in out and f"Run folder: {runs / 'version_1'}\n" in out
    assert set(first) >= {"train/loss/epoch", "val/loss/epoch"}  # fit returns its final metrics


def test_fast_dev_run_still_saves_the_config(config, tmp_path):
    run("fit", config, ["--trainer#fast_dev_run=true"])
    saved = tmp_path / "out" / "runs" / "version_0" / "config.yaml"
    assert yaml.safe_load(saved.read_text())["trainer"]["fast_dev_run"] is True
    assert oct(saved.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # as a plain open() makes it
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_with_a_logger_the_run_folder_is_its_version_folder(config, tmp_path):
    run("fit", config, ["--trainer#max_epochs=1", CSV_LOGGER])
    run("validate", config, [CSV_LOGGER])
    logs = tmp_path / "out" / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["version_0", "version_1"]
    assert {p.name for p in (logs / "version_0").iterdir()} >= {"config.yaml", "checkpoints", "metrics.csv"}
    assert (logs / "version_1" / "config.yaml").is_file()  # validate is a run of its own
    assert not (tmp_path / "out" / "runs").exists()


def test_fresh_folder_takes_the_next_free_number(tmp_path):
    for name in ("version_0", "version_2", "version_x", "notes"):
        (tmp_path / "runs" / name).mkdir(parents=True)
    assert fresh_folder(tmp_path) == tmp_path / "runs" / "version_3"
    assert fresh_folder(tmp_path) == tmp_path / "runs" / "version_4"


def test_find_checkpoint_prefers_last_then_the_newest(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    assert find_checkpoint(tmp_path) is None
    for i, name in enumerate(["epoch=1.ckpt", "epoch=0.ckpt", f"{TEMP_PREFIX}x.ckpt"]):
        (folder / name).write_text("")
        os.utime(folder / name, ns=(10**9 * i, 10**9 * i))
    assert find_checkpoint(tmp_path) == folder / "epoch=0.ckpt"  # newest; the temp file is ignored
    (folder / "last.ckpt").write_text("")
    os.utime(folder / "last.ckpt", ns=(0, 0))
    assert find_checkpoint(tmp_path) == folder / "last.ckpt"


def _epoch_metrics(folder):
    with open(folder / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = ("train/loss/epoch", "val/loss/epoch")
    return [(int(r["epoch"]), n, float(r[n])) for r in rows for n in names if r.get(n)]


def _weights(folder):
    return torch.load(folder / "checkpoints" / "epoch=3-step=16.ckpt", weights_only=True)["state_dict"]


def test_resume_by_folder_equals_an_uninterrupted_run(config, tmp_path):
    """Fit 2 epochs, continue to 4 from the folder: the weights and logged metrics of an unbroken 4."""
    run("fit", config, [CSV_LOGGER, "--trainer#max_epochs=4"])
    run("fit", config, [CSV_LOGGER])
    broken = tmp_path / "out" / "logs" / "version_1"
    run("fit", str(broken), ["--trainer#max_epochs=4"])

    unbroken = tmp_path / "out" / "logs" / "version_0"
    assert sorted(p.name for p in broken.parent.iterdir()) == ["version_0", "version_1"]  # same version
    expected, got = _weights(unbroken), _weights(broken)
    assert expected.keys() == got.keys()
    assert all(torch.allclose(expected[k], got[k]) for k in expected)
    # one metrics.csv holding both parts, equal to the unbroken run's
    assert [m[:2] for m in _epoch_metrics(broken)] == [m[:2] for m in _epoch_metrics(unbroken)]
    assert [m[2] for m in _epoch_metrics(broken)] == pytest.approx([m[2] for m in _epoch_metrics(unbroken)])
    saved = yaml.safe_load((broken / "config.yaml").read_text())
    assert saved["trainer"]["max_epochs"] == 4 and saved["seed"] == 11
    assert "args" not in saved  # the checkpoint resumed from is not part of the run's config


def test_resume_without_a_logger_continues_in_its_folder(config, tmp_path):
    run("fit", config, ["--trainer#max_epochs=1"])
    folder = tmp_path / "out" / "runs" / "version_0"
    metrics = run("fit", "out/runs/version_0", ["--trainer#max_epochs=2"])
    assert sorted(p.name for p in folder.parent.iterdir()) == ["version_0"]
    # Lightning keeps the checkpoint a run resumed from, next to the new one
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == [
        "epoch=0-step=4.ckpt",
        "epoch=1-step=8.ckpt",
    ]
    assert "train/loss/epoch" in metrics


@pytest.mark.parametrize(
    ("setup", "stage", "first_line"),
    [
        pytest.param(
            lambda root: (root / "empty").mkdir(),
            "fit",
            "command line: 'empty' is not a run folder: it has no config.yaml "
            "(give a folder lighter printed as 'Run folder:', or a config file)",
            id="not-a-run-folder",
        ),
        pytest.param(
            lambda root: (root / "empty").mkdir() or (root / "empty" / "config.yaml").write_text(CONFIG),
            "fit",
            "command line: run folder 'empty' has no checkpoint to resume from (looked for *.ckpt in "
            "{root}/empty/checkpoints) (start it again with lighter fit empty/config.yaml, or name one with "
            "--args#fit#ckpt_path=PATH)",
            id="no-checkpoint",
        ),
        pytest.param(
            lambda root: (root / "empty").mkdir(),
            "validate",
            "command line: 'empty' is not a run folder: it has no config.yaml "
            "(give a folder lighter printed as 'Run folder:', or a config file)",
            id="other-stage",
        ),
    ],
)
def test_resume_mistakes_are_one_line_errors(config, tmp_path, setup, stage, first_line):
    setup(tmp_path)
    with pytest.raises(StageError) as info:
        run(stage, "empty")
    assert str(info.value).splitlines()[0] == first_line.format(root=tmp_path)


def test_a_root_that_cannot_hold_run_folders_is_located(config, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(StageError) as info:
        run("fit", config, ["--trainer#default_root_dir=taken"])
    assert str(info.value).splitlines()[0] == (
        "command line @ trainer#default_root_dir: cannot create a run folder under taken/runs: "
        "a parent is not a folder"
    )


def test_lr_find_keeps_its_plot_and_config_in_the_run_folder(config, tmp_path):
    """The tuner swaps the Trainer's callbacks while it runs; the run folder is decided before."""
    run("lr_find", config, ["--args#lr_find#num_training=8", "--args#lr_find#early_stop_threshold=null"])
    folder = tmp_path / "out" / "runs" / "version_0"
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "lr_find.png", "run.json"]
