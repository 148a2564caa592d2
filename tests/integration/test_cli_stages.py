"""All six stages through the real ``lighter`` command, as the user's page runs them."""

from __future__ import annotations

import csv
import json
import re

import pytest
import torch
import yaml

# Lightning's default logger is TensorBoard's when tensorboard is installed, else a CSV logger; the
# tests that read metrics.csv name the CSV logger, so they do not depend on what is installed.
CSV_LOGGER = {"_target_": "pytorch_lightning.loggers.CSVLogger", "save_dir": "@trainer#default_root_dir"}
CSV = [f"--trainer#logger={json.dumps(CSV_LOGGER)}"]


def run_dir(folder, name):
    """The logger's run directory of a run made with ``--trainer#default_root_dir=runs/NAME``."""
    return folder / "runs" / name / "lightning_logs" / "version_0"


def only_checkpoint(folder, name):
    (path,) = (run_dir(folder, name) / "checkpoints").glob("*.ckpt")
    return path


def epochs_trained(folder, name):
    with open(run_dir(folder, name) / "metrics.csv") as f:
        return sorted({int(row["epoch"]) for row in csv.DictReader(f) if row.get("train/loss/epoch")})


@pytest.fixture(scope="module")
def fitted(experiment, lighter):
    """``lighter fit experiment.yaml`` (the seed page's command), run once for the module."""
    result = lighter(
        "fit",
        "experiment.yaml",
        "--trainer#default_root_dir=runs/fit",
        "--trainer#enable_progress_bar=true",
        *CSV,
        cwd=experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_fit_trains_and_prints_the_seed_once(fitted, experiment):
    seeds = re.findall(r"^Seed: (\d+)$", fitted.stdout, re.MULTILINE)
    assert len(seeds) == 1
    assert only_checkpoint(experiment, "fit").name == "epoch=1-step=16.ckpt"
    assert epochs_trained(experiment, "fit") == [0, 1]
    # the project's callback ran: `project` was imported, and the process was seeded as printed
    assert json.loads((experiment / "seeds" / "fit-rank0.json").read_text())["seed"] == int(seeds[0])


def test_fit_ends_with_its_final_metrics_and_best_checkpoint(fitted, experiment):
    lines = fitted.stdout.splitlines()
    start = lines.index("Metrics after epoch 1:")
    metrics = dict(line.split() for line in lines[start + 1 : start + 3])
    assert sorted(metrics) == ["train/loss/epoch", "val/loss/epoch"]
    logged = list(csv.DictReader(open(run_dir(experiment, "fit") / "metrics.csv")))
    last_val = [row["val/loss/epoch"] for row in logged if row.get("val/loss/epoch")][-1]
    assert float(metrics["val/loss/epoch"]) == pytest.approx(float(last_val), abs=1e-4)
    assert lines[start + 3] == f"Best checkpoint: {only_checkpoint(experiment, 'fit')}"


def test_progress_bar_shows_the_losses_and_counts_epochs_as_the_summary(fitted):
    # Lightning's bar (rich on stdout when installed, else tqdm on stderr) shows the step's train loss
    # and the last validation's values; its last "Epoch N" is the epoch the summary names.
    bar = fitted.stdout.split("Metrics after epoch")[0] + fitted.stderr
    assert re.findall(r"Epoch (\d+)", bar)[-1] == "1"
    assert re.search(r"train/loss/step[:=]\s*[0-9.]+", bar), bar
    assert re.search(r"val/loss/epoch[:=]\s*[0-9.]+", bar), bar
    assert "Metrics after epoch 1:" in fitted.stdout.splitlines()


def test_fit_saves_the_merged_config_with_its_seed(fitted, experiment):
    saved = yaml.safe_load((run_dir(experiment, "fit") / "config.yaml").read_text())
    expected = yaml.safe_load((experiment / "experiment.yaml").read_text())
    # the overrides are part of the run's config
    expected["trainer"]["default_root_dir"] = "runs/fit"
    expected["trainer"]["enable_progress_bar"] = True
    expected["trainer"]["logger"] = CSV_LOGGER
    expected["project"] = str((experiment / "project").resolve())  # the folder actually imported
    seed = int(re.search(r"^Seed: (\d+)$", fitted.stdout, re.MULTILINE).group(1))
    assert saved.pop("seed") == seed
    assert {k: v for k, v in saved.items() if k != "_meta_"} == expected
    checkpoint = torch.load(only_checkpoint(experiment, "fit"), weights_only=True)
    assert checkpoint["hyper_parameters"] == {**saved, "seed": seed}
    # The loggers get it flat, one entry per value, named by the id that overrides it.
    logged = yaml.safe_load((run_dir(experiment, "fit") / "hparams.yaml").read_text())
    assert logged["seed"] == seed and logged["system#optimizer#lr"] == saved["system"]["optimizer"]["lr"]


def test_saved_config_reproduces_the_run(fitted, experiment, lighter):
    """Running the saved config.yaml again, from another folder, gives exactly the same weights."""
    saved = run_dir(experiment, "fit") / "config.yaml"
    elsewhere = experiment / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    result = lighter("fit", str(saved), "--trainer#default_root_dir=../runs/again", cwd=elsewhere)
    assert result.returncode == 0, result.stderr[-3000:]
    first = torch.load(only_checkpoint(experiment, "fit"), weights_only=True)["state_dict"]
    again = torch.load(only_checkpoint(experiment, "again"), weights_only=True)["state_dict"]
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_resume_from_the_command_line(fitted, experiment, lighter):
    """`lighter fit experiment.yaml --args#fit#ckpt_path=...` continues from the checkpoint's epoch."""
    ckpt = only_checkpoint(experiment, "fit")
    result = lighter(
        "fit",
        "experiment.yaml",
        f"--args#fit#ckpt_path={ckpt}",
        "--trainer#max_epochs=3",
        "--trainer#default_root_dir=runs/resumed",
        *CSV,
        cwd=experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert epochs_trained(experiment, "resumed") == [2]  # only the one epoch left
    assert only_checkpoint(experiment, "resumed").name == "epoch=2-step=24.ckpt"


def test_comma_merged_configs_with_args_in_the_config(fitted, experiment, lighter):
    """`lighter fit experiment.yaml,resume.yaml`: the second file sets args#fit#ckpt_path and max_epochs."""
    ckpt = only_checkpoint(experiment, "fit")
    (experiment / "resume.yaml").write_text(
        f"trainer:\n  max_epochs: 4\n  default_root_dir: runs/merged\nargs:\n  fit:\n    ckpt_path: {ckpt}\n"
    )
    result = lighter("fit", "experiment.yaml,resume.yaml", *CSV, cwd=experiment, script=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert epochs_trained(experiment, "merged") == [2, 3]
    saved = yaml.safe_load((run_dir(experiment, "merged") / "config.yaml").read_text())
    # merged recursively: the first file's trainer keys stay, the second file's win
    assert saved["trainer"]["_target_"] == "pytorch_lightning.Trainer"
    assert saved["trainer"]["max_epochs"] == 4 and saved["args"] == {"fit": {"ckpt_path": str(ckpt)}}


def test_validate(fitted, experiment, lighter):
    ckpt = only_checkpoint(experiment, "fit")
    result = lighter(
        "validate",
        "experiment.yaml",
        f"--args#validate#ckpt_path={ckpt}",
        "--trainer#default_root_dir=runs/val",
        cwd=experiment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "val/loss" in result.stdout


def test_test_builds_neither_train_data_nor_optimizer(fitted, experiment, lighter):
    """Both would fail to import if built: exit 0 proves the test stage pruned them."""
    result = lighter(
        "test",
        "experiment.yaml",
        "--system#optimizer#_target_=not_a_module.Optimizer",
        "--system#dataloaders#train#dataset#_target_=not_a_module.Dataset",
        f"--args#test#ckpt_path={only_checkpoint(experiment, 'fit')}",
        "--trainer#default_root_dir=runs/test",
        cwd=experiment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/metrics/" in result.stdout and "Accuracy" in result.stdout
    saved = yaml.safe_load((run_dir(experiment, "test") / "config.yaml").read_text())
    assert saved["system"]["optimizer"]["_target_"] == "not_a_module.Optimizer"  # saved unpruned


def test_predict(experiment, lighter):
    result = lighter("predict", "experiment.yaml", "--trainer#default_root_dir=runs/predict", cwd=experiment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir(experiment, "predict") / "config.yaml").is_file()
    assert json.loads((experiment / "seeds" / "predict-rank0.json").read_text())


def test_lr_find_prints_suggestion_and_saves_plot(experiment, lighter):
    result = lighter(
        "lr_find",
        "experiment.yaml",
        "--trainer#max_epochs=4",
        "--args#lr_find#num_training=24",
        "--args#lr_find#early_stop_threshold=null",
        "--trainer#default_root_dir=runs/lr_find",
        cwd=experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    suggested = re.search(r"^Suggested learning rate: (\S+)$", result.stdout, re.MULTILINE)
    assert suggested and 1e-8 <= float(suggested.group(1)) <= 1
    plot = re.search(r"^Learning-rate plot: (.+)$", result.stdout, re.MULTILINE).group(1)
    assert (experiment / plot) == run_dir(experiment, "lr_find") / "lr_find.png"
    assert (experiment / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lr_find ran only" not in result.stdout  # 4 epochs x 8 batches hold the 24 steps


def test_lr_find_cut_short_by_max_epochs_says_so_and_how_to_fix(experiment, lighter):
    # The index page's situation: 2 epochs x 8 batches end the search after 16 of 24 steps.
    result = lighter(
        "lr_find",
        "experiment.yaml",
        "--args#lr_find#num_training=24",
        "--args#lr_find#early_stop_threshold=null",
        "--trainer#default_root_dir=runs/lr_find_short",
        cwd=experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    (warning,) = [i for i, line in enumerate(lines) if line.startswith("Warning: lr_find")]
    assert lines[warning].startswith(
        "Warning: lr_find ran only 16 of its 24 steps: trainer#max_epochs=2 x 8 train batches per epoch "
        "ended it first, so it tried learning rates up to "
    )
    assert lines[warning + 1] == (
        "  Run all steps with --trainer#max_epochs=3, or sweep the whole range in fewer steps with "
        "--args#lr_find#num_training=16."
    )
    # Lightning's own notice blames a diverging loss, which is not what happened.
    assert "diverging loss" not in result.stdout + result.stderr


def test_scale_batch_size_prints_the_batch_size(experiment, lighter):
    result = lighter(
        "scale_batch_size",
        "experiment.yaml",
        "--args#scale_batch_size#max_trials=4",
        "--trainer#default_root_dir=runs/scale",
        cwd=experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # init_val 2, doubled on each of the 4 trials that fit in memory: 2, 4, 8, 16
    assert re.search(r"^Batch size found: 16$", result.stdout, re.MULTILINE), result.stdout[-2000:]
