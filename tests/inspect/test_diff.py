"""``lighter runs diff RUN_A RUN_B``: differing config values with their sources, outcome and metrics."""

from __future__ import annotations

import pytest
from tests.inspect.records import entry, write_run

from lighter.errors import LighterError
from lighter.inspect.diff import diff_runs

LR = "system#optimizer#lr"


@pytest.fixture
def pair(tmp_path):
    write_run(tmp_path / "runs" / "version_0", sources={LR: "digits.yaml:14"})
    write_run(
        tmp_path / "runs" / "version_1",
        **{LR: 0.01, "trainer#max_epochs": 5},
        entries=[
            entry(metrics={"train/loss/epoch": 0.7, "val/loss/epoch": 0.5}),
            entry("test", number=1, outcome="failed", error="ValueError: boom", metrics={}),
        ],
    )
    return tmp_path


def test_diff_names_each_differing_value_with_where_it_came_from(pair, lighter):
    result = lighter("runs", "diff", "runs/version_0", "runs/version_1", cwd=pair)
    assert result.returncode == 0, result.stderr
    # val/loss/epoch and the best score are the same in both, so only the train loss is shown.
    assert result.stdout == (
        "A: runs/version_0\n"
        "B: runs/version_1\n"
        "\n"
        "config (2 values differ)   A                       B\n"
        "trainer#max_epochs         3  (experiment.yaml:2)  5  (command line)\n"
        "system#optimizer#lr        0.1  (digits.yaml:14)   0.01  (command line)\n"
        "\n"
        "run                        A                       B\n"
        "stages                     fit                     fit,test\n"
        "outcome                    completed               failed: ValueError: boom\n"
        "\n"
        "metrics (1 value differs)  A                       B\n"
        "train/loss/epoch           0.6                     0.7\n"
    )


def test_a_value_set_in_one_run_only(tmp_path):
    write_run(tmp_path / "a")
    write_run(tmp_path / "b", **{"system#scheduler#step_size": 2})
    rows = diff_runs(tmp_path / "a", tmp_path / "b").splitlines()
    assert rows[3].split() == ["config", "(1", "value", "differs)", "A", "B"]
    assert rows[4].split() == ["system#scheduler#step_size", "(not", "set)", "2", "(command", "line)"]


def test_two_equal_runs(tmp_path):
    write_run(tmp_path / "a")
    write_run(tmp_path / "b")
    assert diff_runs(tmp_path / "a", tmp_path / "b").splitlines()[-1] == (
        "no difference: the same config (8 values), outcome and metrics"
    )


def test_a_folder_that_is_not_a_run_is_a_located_error_with_the_closest_run(pair, lighter):
    result = lighter("runs", "diff", "runs/version_0", "runs/version_2", cwd=pair)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "command line: 'runs/version_2' is not a run folder: it does not exist (run folders in runs: version_0, version_1)",
        "(run with --debug for the full traceback)",
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda p: (p / "x").mkdir(),
            "'{p}/x' is not a run folder: it has no run.json (give a folder lighter printed as 'Run folder:'; lighter runs lists them)",
            id="empty-folder",
        ),
        pytest.param(
            lambda p: (p / "x").write_text(""),
            "'{p}/x' is not a run folder: it is not a folder (give a folder lighter printed as 'Run folder:'; lighter runs lists them)",
            id="a-file",
        ),
        pytest.param(
            lambda p: write_run(p / "x" / "deep"),
            "'{p}/x' is not a run folder: it holds 1 run below it (lighter runs {p}/x lists them)",
            id="folder-of-runs",
        ),
    ],
)
def test_not_a_run(tmp_path, make, message):
    write_run(tmp_path / "a")
    make(tmp_path)
    with pytest.raises(LighterError) as caught:
        diff_runs(tmp_path / "a", tmp_path / "x")
    assert str(caught.value) == "command line: " + message.format(p=tmp_path)


def test_a_half_written_or_newer_record_is_an_error_at_the_file(tmp_path, lighter):
    write_run(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "run.json").write_text('{"lighter_record": 1,')
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "run.json").write_text('{"lighter_record": 3, "config": {}, "entries": [{}]}')
    half = lighter("runs", "diff", "a", "b", cwd=tmp_path)
    newer = lighter("runs", "diff", "c", "a", cwd=tmp_path)
    assert half.returncode == newer.returncode == 1
    assert half.stderr.splitlines()[0] == (
        "b/run.json:1:22: the run record is not valid JSON: Expecting property name enclosed in double quotes "
        "(half-written or edited by hand)"
    )
    assert newer.stderr.splitlines()[0] == (
        "c/run.json: the run record was written by a newer lighter (record version 3; this lighter reads version 1) "
        "(upgrade lighter: pip install -U lighter)"
    )
