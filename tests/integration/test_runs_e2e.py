"""``lighter runs``, ``runs diff`` and ``runs plot`` on runs the real ``lighter fit`` made.

Three fits of the tiny experiment with different learning rates (a CSV logger, a checkpoint
monitoring val/loss/epoch), one of them then tested from its folder, and the three commands on the
folder that holds them. The listing, diff and plot are tested on hand-written records in
tests/inspect; this module proves they read what the runner really writes.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

LR = "system#optimizer#lr"
RATES = (0.1, 0.01, 0.001)
SETUP = [
    "--trainer#logger={_target_: pytorch_lightning.loggers.CSVLogger, save_dir: runs, name: logs}",
    "--+trainer#callbacks=[{_target_: pytorch_lightning.callbacks.ModelCheckpoint, monitor: val/loss/epoch}]",
]


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory, lighter):
    from tests.integration.conftest import write_experiment

    folder = tmp_path_factory.mktemp("runs-e2e")
    write_experiment(folder)
    for lr in RATES:
        fit = lighter("fit", "experiment.yaml", *SETUP, f"--{LR}={lr}", cwd=folder)
        assert fit.returncode == 0, fit.stdout[-2000:] + fit.stderr[-3000:]
    listed = lighter("runs", "--format", "json", "--sort", f"-{LR}", cwd=folder, script=True)
    assert listed.returncode == 0, listed.stderr
    first = json.loads(listed.stdout)[0]["folder"]
    test = lighter("test", first, cwd=folder)
    assert test.returncode == 0, test.stdout[-2000:] + test.stderr[-3000:]
    return folder


def test_the_listing_has_a_row_per_run_with_the_learning_rate_that_differs(three_runs, lighter):
    result = lighter("runs", "--format", "json", "--sort", f"-{LR}", cwd=three_runs, script=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = json.loads(result.stdout)
    assert [row[LR] for row in rows] == list(RATES)
    assert all(row["folder"].startswith("runs/logs/version_") for row in rows)
    assert [row["stages"] for row in rows] == ["fit,test", "fit", "fit"]
    assert {row["outcome"] for row in rows} == {"completed"}
    assert all(isinstance(row["best val/loss/epoch"], float) for row in rows)
    assert all(isinstance(row["duration"], float) and row["duration"] > 0 for row in rows)
    assert "trainer#max_epochs" not in rows[0]  # the same in every run: not a column
    tested = [c for c in rows[0] if c.startswith("test/metrics/")]
    assert tested and isinstance(rows[0][tested[0]], float) and rows[1][tested[0]] is None
    table = lighter("runs", cwd=three_runs, script=True)
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 4, table.stderr


def test_diff_says_the_learning_rate_came_from_the_command_line(three_runs, lighter):
    rows = json.loads(lighter("runs", "--format", "json", "--sort", LR, cwd=three_runs, script=True).stdout)
    result = lighter("runs", "diff", rows[0]["folder"], rows[1]["folder"], cwd=three_runs, script=True)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith(LR))
    assert line.split() == [LR, "0.001", "(command", "line)", "0.01", "(command", "line)"]
    assert "train/loss/epoch" in result.stdout


def test_plot_draws_the_three_runs(three_runs, lighter):
    result = lighter("runs", "plot", "runs", cwd=three_runs, script=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Plot: runs.png (val/loss/epoch, train/loss/epoch of 3 runs)\n"
    assert (three_runs / "runs.png").read_bytes().startswith(b"\x89PNG")
