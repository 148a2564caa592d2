"""Run folders through the real command: one folder for all processes of a run, and
``lighter fit RUN_FOLDER`` to continue a run, or say clearly why not."""

from __future__ import annotations

import json

import pytest
import torch
import yaml


def version_folder(experiment, name):
    return experiment / "runs" / name / "lightning_logs" / "version_0"


@pytest.mark.slow
def test_fit_run_folder_continues_the_run(experiment, lighter):
    first = lighter("fit", "experiment.yaml", "--trainer#default_root_dir=runs/resume", cwd=experiment)
    assert first.returncode == 0, first.stderr[-3000:]
    folder = version_folder(experiment, "resume")
    result = lighter("fit", str(folder.relative_to(experiment)), "--trainer#max_epochs=3", cwd=experiment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resuming {folder} from epoch=1-step=16.ckpt" in result.stdout
    assert f"Run folder: {folder}" in result.stdout
    assert [p.name for p in folder.parent.iterdir()] == ["version_0"]  # the same logger version
    checkpoint = torch.load(folder / "checkpoints" / "epoch=2-step=24.ckpt", weights_only=True)
    assert checkpoint["hyper_parameters"]["trainer"]["max_epochs"] == 3
    assert yaml.safe_load((folder / "config.yaml").read_text())["trainer"]["max_epochs"] == 3
    record = json.loads((folder / "run.json").read_text())
    assert [(e["stage"], e["outcome"]) for e in record["entries"]] == [
        ("fit", "completed"),
        ("fit", "completed"),
    ]
    assert record["entries"][1]["checkpoint"] == "checkpoints/epoch=1-step=16.ckpt"  # continued from
    assert record["config"]["trainer#max_epochs"] == 3  # the run's config now, as config.yaml says


@pytest.mark.slow
def test_a_config_that_no_longer_builds_is_located_in_the_saved_config(experiment, lighter):
    result = lighter("fit", "experiment.yaml", "--trainer#default_root_dir=runs/broken", cwd=experiment)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = version_folder(experiment, "broken")
    saved = folder / "config.yaml"
    saved.write_text(saved.read_text().replace("torch.nn.Linear", "torch.nn.Lineer"))
    result = lighter("fit", str(folder), cwd=experiment)
    assert result.returncode == 1
    line = next(n for n, text in enumerate(saved.read_text().splitlines(), 1) if "Lineer" in text)
    assert result.stderr.splitlines()[0] == (
        f"{saved}:{line} @ system#model: cannot import 'torch.nn.Lineer': "
        "module 'torch.nn' has no attribute 'Lineer' (did you mean 'torch.nn.Linear'?)"
    )


@pytest.mark.parametrize(
    ("make", "first_line"),
    [
        pytest.param(
            lambda folder: folder.mkdir(),
            "command line: 'notarun' is not a run folder: it has no config.yaml "
            "(give a folder lighter printed as 'Run folder:', or a config file)",
            id="not-a-run",
        ),
        pytest.param(
            lambda folder: folder.mkdir() or (folder / "config.yaml").write_text("{}"),
            "command line: run folder 'notarun' has no checkpoint to resume from (looked for *.ckpt in "
            "{folder}/checkpoints) (start it again with lighter fit notarun/config.yaml, or name one with "
            "--args#fit#ckpt_path=PATH)",
            id="no-checkpoint",
        ),
    ],
)
def test_resume_mistakes_exit_1_with_one_line(tmp_path, lighter, make, first_line):
    make(tmp_path / "notarun")
    result = lighter("fit", "notarun", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == first_line.format(folder=tmp_path / "notarun")
    assert len(result.stderr.splitlines()) <= 2 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_ddp_without_a_logger_writes_one_run_folder(experiment, lighter):
    """Process 0 creates the folder and the other process uses it (it would otherwise make its own)."""
    result = lighter(
        "fit",
        "experiment.yaml",
        "--trainer#logger=false",
        "--trainer#strategy=ddp",
        "--trainer#devices=2",
        "--trainer#max_epochs=1",
        "--trainer#default_root_dir=runs/ddp-nolog",
        cwd=experiment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = experiment / "runs" / "ddp-nolog" / "runs"
    assert [p.name for p in runs.iterdir()] == ["version_0"]
    assert result.stdout.count(f"Run folder: {runs / 'version_0'}") == 1  # printed by process 0 only
    assert [p.name for p in (runs / "version_0" / "checkpoints").iterdir()] == ["epoch=0-step=4.ckpt"]
    assert (runs / "version_0" / "config.yaml").is_file()
