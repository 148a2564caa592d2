"""The example projects under ``projects/``: every YAML loads and validates, every stage builds, and
fit → test → predict run end to end through the real ``lighter`` command on a few steps."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from pytorch_lightning.utilities.model_helpers import is_overridden

from lighter.config import ConfigParser
from lighter.engine.module_kind import use_datamodule
from lighter.engine.prune import check_stage, prune
from lighter.engine.runner import build, build_data, load
from lighter.engine.schema import validate_structure
from lighter.engine.stages import Stage, stage_spec

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "projects"
LIGHTER = Path(sys.executable).with_name("lighter")

DIGITS = "projects/digits/experiments"
SEGMENTATION = "projects/segmentation/experiments"

# Every experiment (a file, or an overlay merged after its base) and the stages it is meant for.
EXPERIMENTS = [
    pytest.param(f"{DIGITS}/digits.yaml", ("fit", "validate", "test", "predict", "lr_find"), id="digits"),
    pytest.param(f"{DIGITS}/digits.yaml,{DIGITS}/overrides.yaml", ("fit",), id="digits+overrides"),
    pytest.param(f"{DIGITS}/digits.yaml,{DIGITS}/test.yaml", ("test",), id="digits+test"),
    pytest.param(f"{DIGITS}/digits.yaml,{DIGITS}/predict.yaml", ("predict",), id="digits+predict"),
    # `lighter sweep` runs `fit` trials of it (tests/engine/test_sweep_spec.py checks its sweep section).
    pytest.param(f"{DIGITS}/digits.yaml,{DIGITS}/sweep.yaml", ("fit",), id="digits+sweep"),
    # Its data as a LightningDataModule (`data:`), and a LightningModule of the project's own.
    pytest.param(f"{DIGITS}/datamodule.yaml", ("fit", "validate", "test", "predict"), id="digits-datamodule"),
    pytest.param(f"{DIGITS}/own_module.yaml", ("fit", "validate", "test", "predict"), id="digits-own-module"),
    pytest.param(
        f"{SEGMENTATION}/segmentation.yaml", ("fit", "validate", "test", "predict"), id="segmentation"
    ),
    pytest.param(
        f"{SEGMENTATION}/segmentation.yaml,{SEGMENTATION}/predict.yaml",
        ("predict",),
        id="segmentation+predict",
    ),
]


# The dataloaders each stage builds (the others are pruned before anything is built).
STAGE_MODES = {
    "fit": {"train", "val"},
    "lr_find": {"train", "val"},
    "validate": {"val"},
    "test": {"test"},
    "predict": {"predict"},
}


def _files(param) -> list[str]:
    return param.values[0].split(",")


def test_every_project_yaml_is_covered():
    """A YAML added under projects/ must be added to EXPERIMENTS, so that it is tested."""
    shipped = {str(p.relative_to(ROOT)) for p in PROJECTS.rglob("*.yaml")}
    covered = {f for param in EXPERIMENTS for f in _files(param)}
    assert shipped == covered


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in PROJECTS.rglob("*.yaml")))
def test_yaml_loads_with_config_parser(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    parser = ConfigParser()
    parser.read_config(path)
    assert parser.config  # something beyond the empty _meta_


@pytest.mark.parametrize(("config", "stages"), [pytest.param(*p.values, id=p.id) for p in EXPERIMENTS])
def test_experiment_validates_and_builds_for_its_stages(config, stages, monkeypatch):
    """Structure, stage requirements, and the real objects (System and Trainer) of every stage."""
    monkeypatch.chdir(ROOT)
    parser = load(config)
    validate_structure(parser.config, parser.location, sweep="sweep" in parser.config)
    from lighter.engine.project import find_project, import_project

    import_project(find_project(parser.get("project"), parser.files))
    for stage in stages:
        check_stage(parser.config, stage, parser.location)
        pruned = prune(parser, Stage(stage))
        system, trainer = build(pruned)
        datamodule = build_data(pruned)
        if datamodule is not None:
            use_datamodule(system, datamodule, stage_spec(stage).modes)  # as the runner does
        # A System leaves Lightning's default dataloader hooks for modes it has no dataloader for;
        # a DataModule has its own loaders, all of which stay (the stage reads those it needs).
        holder = datamodule if datamodule is not None else system
        built = {
            mode
            for mode in ("train", "val", "test", "predict")
            if is_overridden(f"{mode}_dataloader", holder)
        }
        expected = STAGE_MODES[stage]
        assert built == expected if datamodule is None else built >= expected, stage
        step_names = {"train": "training_step", "val": "validation_step"}
        assert all(is_overridden(step_names.get(mode, f"{mode}_step"), system) for mode in expected), stage


@pytest.mark.parametrize(("config", "stages"), [pytest.param(*p.values, id=p.id) for p in EXPERIMENTS])
def test_experiment_passes_lighter_check_for_its_stages(config, stages, monkeypatch):
    """The whole-graph pre-flight finds nothing wrong in a shipped experiment (no false alarms)."""
    from lighter.engine.check import check_config

    monkeypatch.chdir(ROOT)
    for stage in (None, *stages):
        report = check_config(config, stage=stage)
        assert report.problems == [], [str(p) for p in report.problems]


@pytest.mark.parametrize("config", [f"{DIGITS}/digits.yaml", f"{SEGMENTATION}/segmentation.yaml"])
@pytest.mark.parametrize("from_experiments_folder", [False, True], ids=["from-root", "from-experiments"])
def test_project_is_found_from_any_working_directory(config, from_experiments_folder, monkeypatch):
    """``project: ../`` names the project from the repository root and from the config's own folder."""
    from lighter.engine.project import find_project

    path = ROOT / config
    monkeypatch.chdir(path.parent if from_experiments_folder else ROOT)
    parser = load(path.name if from_experiments_folder else config)
    assert find_project(parser.get("project"), parser.files) == path.parent.parent


def test_another_project_under_the_working_directory_is_an_error():
    """From projects/segmentation/metrics, the digits config's `project: ../` names both projects."""
    cwd = PROJECTS / "segmentation" / "metrics"
    config = "../../digits/experiments/digits.yaml"
    result = subprocess.run(
        [str(LIGHTER), "fit", config], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 1
    digits = PROJECTS / "digits"
    lines = (digits / "experiments" / "digits.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("project:"))
    assert result.stderr.splitlines()[0] == (
        f"{config}:{line}:10 @ project: project folder '../' names two different packages: "
        f"{PROJECTS / 'segmentation'} (from the working directory) and {digits} (from the folder of "
        f"{config}) (give an absolute path, e.g. --project={digits}, or run from {digits / 'experiments'})"
    )


# --- end to end, through the `lighter` command -------------------------------------------------

QUICK = ["--trainer#max_epochs=1", "--trainer#limit_train_batches=2", "--trainer#enable_progress_bar=false"]


def lighter(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the real ``lighter`` command from the repository root; fail with its output on error."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [str(LIGHTER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (
        f"lighter {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.mark.slow
def test_digits_fit_test_predict(tmp_path):
    out = f"--vars#out={tmp_path}"
    fit = lighter("fit", f"{DIGITS}/digits.yaml", out, *QUICK)
    assert (
        "epoch 0/0: val/loss/epoch" in fit.stdout
    )  # the project's PrintMetrics callback, counting as the bar
    run_folder = tmp_path / "logs" / "version_0"
    assert f"Run folder: {run_folder}" in fit.stdout
    assert f"Best checkpoint: {run_folder / 'checkpoints' / 'best.ckpt'}" in fit.stdout
    assert {p.name for p in (run_folder / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    assert (run_folder / "config.yaml").is_file()

    # a second run with another lr gets its own folder: nothing of the first is overwritten
    again = lighter("fit", f"{DIGITS}/digits.yaml", out, *QUICK, "--vars#lr=0.01")
    assert f"Run folder: {tmp_path / 'logs' / 'version_1'}" in again.stdout
    assert (tmp_path / "logs" / "version_1" / "checkpoints" / "best.ckpt").is_file()

    test = lighter("test", str(run_folder))  # the documented command: the run folder itself
    assert f"Output folder: {run_folder / 'test'}" in test.stdout
    assert "Checkpoint: checkpoints/best.ckpt (the best by val/metrics/accuracy/epoch = " in test.stdout
    assert "test/metrics/accuracy/epoch" in json.loads((run_folder / "test" / "metrics.json").read_text())

    run = f"--vars#run={run_folder}"

    lighter("predict", f"{DIGITS}/digits.yaml,{DIGITS}/predict.yaml", out, run)
    with open(run_folder / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 270  # the whole predict split, one row per digit
    assert all(r["identifier"].startswith("digit_") and 0 <= int(r["pred"]) <= 9 for r in rows)
    assert len({r["identifier"] for r in rows}) == len(rows)


@pytest.mark.slow
def test_segmentation_fit_predict(tmp_path):
    out = f"--vars#out={tmp_path}"
    small = [
        "--system#dataloaders#train#dataset#num_samples=16",
        "--system#dataloaders#val#dataset#num_samples=4",
    ]
    lighter("fit", f"{SEGMENTATION}/segmentation.yaml", out, *QUICK, *small)
    run_folder = tmp_path / "logs" / "version_0"
    assert (run_folder / "checkpoints" / "best.ckpt").is_file()

    run = f"--vars#run={run_folder}"
    lighter("predict", f"{SEGMENTATION}/segmentation.yaml,{SEGMENTATION}/predict.yaml", out, run)
    masks = sorted((run_folder / "predictions").glob("*.png"))
    assert [m.name for m in masks] == [f"predict_{i:04d}.png" for i in range(8)]
    pixels = set(Image.open(masks[0]).getdata())
    assert Image.open(masks[0]).size == (64, 64) and pixels <= {0, 255}


@pytest.mark.slow
def test_digits_datamodule_and_own_module_fit(tmp_path):
    """The DataModule experiment (lighter.System + data:) and the own-LightningModule one, one epoch each."""
    for name, monitor in (("datamodule", "val/metrics/accuracy/epoch"), ("own_module", "val/accuracy")):
        fit = lighter("fit", f"{DIGITS}/{name}.yaml", f"--vars#out={tmp_path / name}", *QUICK)
        run_folder = tmp_path / name / "logs" / "version_0"
        assert f"Best checkpoint: {run_folder / 'checkpoints' / 'best.ckpt'} ({monitor} = " in fit.stdout
        assert (run_folder / "config.yaml").is_file()


# --- safe mode (docs/safe_mode.md): the shipped examples need only `--allow project` -------------


@pytest.mark.parametrize(("config", "stages"), [pytest.param(*p.values, id=p.id) for p in EXPERIMENTS])
def test_experiment_passes_lighter_check_in_safe_mode(config, stages, monkeypatch):
    from lighter.engine.check import check_config

    monkeypatch.chdir(ROOT)
    report = check_config(config, safe=True, allow=["project"])
    assert report.problems == [], [str(p) for p in report.problems]
    refused = check_config(config, safe=True)  # the project folder is the one thing to allow
    assert refused.problems and all("--allow project" in str(p) for p in refused.problems)


@pytest.mark.slow
def test_digits_fit_in_safe_mode(tmp_path):
    result = lighter(
        "fit",
        f"{DIGITS}/digits.yaml",
        "--safe",
        "--allow",
        "project",
        f"--vars#out={tmp_path}",
        "--trainer#fast_dev_run=true",
        "--trainer#enable_progress_bar=false",
    )
    assert "Seed: 0" in result.stdout
