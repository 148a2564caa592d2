"""Evaluate a run from its folder, and the run record, through the real ``lighter`` command.

One fitted run folder (module-scoped) is tested, validated and predicted on; each invocation must
land in a sub-folder of its own inside the run folder and add an entry to its ``run.json``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

HINT = "(run with --debug for the full traceback)"
CHECKPOINT = (
    "[{_target_: pytorch_lightning.callbacks.ModelCheckpoint, monitor: val/loss/epoch, save_last: true}]"
)
CSV_LOGGER = "{_target_: pytorch_lightning.loggers.CSVLogger, save_dir: runs/rec}"
FIT_OVERRIDES = [
    "--trainer#default_root_dir=runs/rec",
    f"--trainer#logger={CSV_LOGGER}",
    f"--+trainer#callbacks={CHECKPOINT}",
]


def files_outside(root: Path, run: Path) -> set[Path]:
    # `seeds/` is written by the experiment's own callback, relative to the working directory.
    return {p for p in root.rglob("*") if run not in p.parents and p != run and "seeds" not in p.parts}


@pytest.fixture(scope="module")
def fitted(experiment, lighter):
    result = lighter("fit", "experiment.yaml", *FIT_OVERRIDES, cwd=experiment)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = experiment / "runs" / "rec" / "lightning_logs" / "version_0"
    return folder, result


def record(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def test_fit_records_the_run(fitted, experiment):
    folder, result = fitted
    saved = record(folder)
    assert saved["lighter_record"] == 1 and saved["run_folder"] == str(folder)
    assert saved["config"]["system#optimizer#lr"] == 0.1
    assert saved["config"]["trainer#callbacks#1#monitor"] == "val/loss/epoch"
    lr_line = next(
        n for n, t in enumerate((experiment / "experiment.yaml").read_text().splitlines(), 1) if "lr:" in t
    )
    assert saved["sources"]["system#optimizer#lr"] == f"experiment.yaml:{lr_line}"
    assert saved["sources"]["trainer#callbacks#1#monitor"] == "command line"
    (entry,) = saved["entries"]
    seed = int(re.search(r"^Seed: (\d+)$", result.stdout, re.MULTILINE)[1])
    assert entry["stage"] == "fit" and entry["outcome"] == "completed" and entry["output"] is None
    assert entry["command"] == ["lighter", "fit", "experiment.yaml", *FIT_OVERRIDES]
    assert entry["configs"] == [str(experiment / "experiment.yaml")] and entry["overrides"] == FIT_OVERRIDES
    assert entry["seed"] == seed and saved["config"]["seed"] == seed
    assert entry["error"] is None and entry["signal"] is None and entry["world_size"] == 1
    assert entry["duration_s"] > 0 and entry["ended"] > entry["started"]
    assert entry["git"] is None  # the experiment is not in a git checkout
    assert set(entry["versions"]) == {"lighter", "torch", "pytorch_lightning", "python"}
    best = entry["best"]
    assert best["monitor"] == "val/loss/epoch" and best["mode"] == "min"
    assert f"Best checkpoint: {folder / best['path']} (val/loss/epoch = {best['score']:.4f})" in result.stdout
    assert entry["metrics"]["val/loss/epoch"] == pytest.approx(
        float(re.search(r"val/loss/epoch\s+([\d.]+)", result.stdout)[1]), abs=1e-4
    )


def test_test_on_the_run_folder_twice_keeps_both_inside_it(fitted, experiment, lighter):
    folder, _ = fitted
    before = files_outside(experiment, folder)
    best = record(folder)["entries"][0]["best"]
    for name in ("test", "test-2"):
        result = lighter("test", str(folder.relative_to(experiment)), cwd=experiment)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"Output folder: {folder / name}" in result.stdout
        assert (
            f"Checkpoint: {best['path']} (the best by val/loss/epoch = {best['score']:.4g}, "
            "as its ModelCheckpoint recorded)"
        ) in result.stdout
        printed = float(re.search(r"test/metrics/MulticlassAccuracy/epoch\s*│\s*([\d.]+)", result.stdout)[1])
        metrics = json.loads((folder / name / "metrics.json").read_text())
        assert metrics == {"test/metrics/MulticlassAccuracy/epoch": pytest.approx(printed, abs=1e-4)}
        assert (folder / name / "metrics.csv").read_text().splitlines()[
            0
        ] == "test/metrics/MulticlassAccuracy/epoch"
        assert (folder / name / "logs" / "metrics.csv").is_file()  # the logger's own files
        assert (folder / name / "config.yaml").is_file()
    assert files_outside(experiment, folder) == before  # no version_N, nothing else outside the run
    assert [p.name for p in folder.parent.iterdir()] == ["version_0"]
    entries = record(folder)["entries"]
    tests = [e for e in entries if e["stage"] == "test"]
    assert [(e["output"], e["checkpoint"], e["outcome"]) for e in tests] == [
        ("test", best["path"], "completed"),
        ("test-2", best["path"], "completed"),
    ]
    assert tests[0]["metrics"] == json.loads((folder / "test" / "metrics.json").read_text())


def test_predict_writes_relative_writer_paths_into_its_output_folder(fitted, experiment, lighter):
    folder, _ = fitted
    writer = "[{_target_: lighter.callbacks.TableWriter, path: predictions.csv, writer: tensor}]"
    result = lighter("predict", str(folder), f"--+trainer#callbacks={writer}", cwd=experiment)
    assert result.returncode == 0, result.stderr[-3000:]
    table = (folder / "predict" / "predictions.csv").read_text().splitlines()
    assert table[0] == "identifier,pred" and len(table) == 17  # 16 samples
    assert not (experiment / "predictions.csv").exists()


def test_validate_with_the_last_checkpoint(fitted, experiment, lighter):
    folder, _ = fitted
    result = lighter("validate", str(folder), "--args#validate#ckpt_path=last", cwd=experiment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Checkpoint: checkpoints/last.ckpt (the last one: ckpt_path is last)" in result.stdout
    entry = record(folder)["entries"][-1]
    assert (entry["stage"], entry["output"], entry["checkpoint"]) == (
        "validate",
        "validate",
        "checkpoints/last.ckpt",
    )
    assert "val/loss/epoch" in json.loads((folder / "validate" / "metrics.json").read_text())


def test_a_moved_run_folder_without_a_record_finds_its_best_checkpoint(fitted, tmp_path, lighter):
    """The best checkpoint's path saved in the checkpoints is where the run was; it is found by name."""
    folder, _ = fitted
    best = record(folder)["entries"][0]["best"]["path"]
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved, ignore=shutil.ignore_patterns("test*", "predict*", "validate*"))
    (moved / "run.json").unlink()
    result = lighter("test", "moved", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Checkpoint: {best} (the best by val/loss/epoch = " in result.stdout
    assert f"Loaded model weights from the checkpoint at {moved / best}" in result.stdout + result.stderr
    assert record(moved)["entries"][0]["stage"] == "test"


BAD_RECORDS = [
    pytest.param(
        '{"lighter_record": 2, "entries": []}',
        "command line: the run record {run} was written by a newer lighter (record version 2; this lighter "
        "reads up to 1) (upgrade lighter to run stages on this folder)",
        id="newer",
    ),
    pytest.param(
        '{"lighter_record": 1, "entries": [{"stage": "fit", "outc',
        "command line: the run record {run} is not valid JSON (line 1: Unterminated string starting at) "
        "(move run.json aside to run on this folder anyway)",
        id="half-written",
    ),
]


@pytest.mark.parametrize(("text", "first_line"), BAD_RECORDS)
@pytest.mark.parametrize("stage", ["test", "fit"])
def test_a_record_lighter_cannot_extend_stops_the_stage(tmp_path, lighter, text, first_line, stage):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("{}")
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    (run / "run.json").write_text(text)
    result = lighter(stage, "run", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [first_line.format(run=run / "run.json"), HINT]


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        pytest.param(
            ["test", "experiment.yaml", "--args#test#ckpt_path=best"],
            "command line @ args#test#ckpt_path: ckpt_path: best needs a run folder, and this config is not "
            "one: lighter finds a run's checkpoints from its folder (give the run folder (lighter test "
            "RUN_FOLDER), or a checkpoint path (--args#test#ckpt_path=RUN_FOLDER/checkpoints/last.ckpt))",
            id="best-for-a-plain-config",
        ),
        pytest.param(
            ["predict", "experiment.yaml", "--args#predict#ckpt_path=last"],
            "command line @ args#predict#ckpt_path: ckpt_path: last needs a run folder, and this config is "
            "not one: lighter finds a run's checkpoints from its folder (give the run folder (lighter predict "
            "RUN_FOLDER), or a checkpoint path (--args#predict#ckpt_path=RUN_FOLDER/checkpoints/last.ckpt))",
            id="last-for-a-plain-config",
        ),
        pytest.param(
            ["test", "project"],
            "command line: 'project' is not a run folder: it has no config.yaml "
            "(give a folder lighter printed as 'Run folder:', or a config file)",
            id="not-a-run-folder",
        ),
    ],
)
def test_what_cannot_be_evaluated_is_one_located_error(experiment, lighter, args, first_line):
    result = lighter(*args, cwd=experiment)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [first_line, HINT]
