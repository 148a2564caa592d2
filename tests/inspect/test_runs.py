"""``lighter runs [ROOT]``: the listing of run records, its formats, sorting and bad records."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from tests.inspect.records import entry, write_metrics, write_run, write_trial

from lighter.errors import LighterError
from lighter.inspect.records import find_runs, open_run
from lighter.inspect.runs import list_runs, tabulate

LR = "system#optimizer#lr"


@pytest.fixture
def three(tmp_path):
    """Three runs of an lr sweep; the second also tested, the third still running."""
    logs = tmp_path / "logs"
    write_run(logs / "version_0", **{LR: 0.1})
    write_run(
        logs / "version_1",
        **{LR: 0.01},
        entries=[
            entry(
                number=1,
                metrics={"train/loss/epoch": 0.4, "val/loss/epoch": 0.3},
                best={
                    "path": "checkpoints/best.ckpt",
                    "monitor": "val/loss/epoch",
                    "score": 0.25,
                    "mode": "min",
                },
            ),
            entry("test", number=2, metrics={"test/metrics/Accuracy/epoch": 0.875}),
        ],
    )
    write_run(
        logs / "version_10",
        **{LR: 0.001},
        entries=[entry(number=3, outcome="running", ended=None, duration_s=None, best=None, metrics={})],
    )
    return tmp_path


def test_the_table_has_one_row_per_run_and_only_the_config_values_that_differ(three, lighter):
    result = lighter("runs", cwd=three)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (
        "folder           stages    outcome    start                duration  system#optimizer#lr  best val/loss/epoch  test/metrics/Accuracy/epoch  train/loss/epoch  val/loss/epoch\n"
        "logs/version_0   fit       completed  2026-12-08 01:00:00  12.5s                     0.1                  0.5                                            0.6             0.5\n"
        "logs/version_1   fit,test  completed  2026-12-08 01:01:00  25.0s                    0.01                 0.25                        0.875               0.4             0.3\n"
        "logs/version_10  fit       running    2026-12-08 01:03:00                          0.001\n"
    )


def test_root_may_be_given_and_list_is_the_same_command(three, lighter):
    given = lighter("runs", "logs", cwd=three)
    spelled = lighter("runs", "list", str(three / "logs"), cwd=three.parent)
    assert given.returncode == spelled.returncode == 0, given.stderr + spelled.stderr
    assert given.stdout.splitlines()[1].startswith("version_0 ")
    assert given.stdout == spelled.stdout


def test_a_metric_several_stages_log_gets_a_column_per_stage(tmp_path):
    write_run(tmp_path / "a", entries=[entry(), entry("validate", number=1, metrics={"val/loss/epoch": 0.7})])
    write_run(tmp_path / "b", **{LR: 0.5})
    table = tabulate(find_runs(tmp_path)[0], tmp_path)
    assert [c for c in table.columns if "val/loss" in c] == [
        "best val/loss/epoch",
        "fit:val/loss/epoch",
        "validate:val/loss/epoch",
    ]
    assert [(r["fit:val/loss/epoch"], r["validate:val/loss/epoch"]) for r in table.rows] == [
        (0.5, 0.7),
        (0.5, None),
    ]


def test_a_value_set_in_one_run_only_differs(tmp_path):
    write_run(tmp_path / "a")
    write_run(tmp_path / "b", **{"system#scheduler#_target_": "torch.optim.lr_scheduler.StepLR"})
    table = tabulate(find_runs(tmp_path)[0], tmp_path)
    assert [r["system#scheduler#_target_"] for r in table.rows] == [None, "torch.optim.lr_scheduler.StepLR"]
    assert LR not in table.columns


def test_csv_and_json_keep_the_exact_values(three):
    rows = list(csv.DictReader(io.StringIO(list_runs(three, "csv")[0])))
    assert [(r["folder"], r[LR], r["duration"]) for r in rows] == [
        ("logs/version_0", "0.1", "12.5"),
        ("logs/version_1", "0.01", "25.0"),
        ("logs/version_10", "0.001", ""),
    ]
    assert rows[0]["start"] == "2026-12-08T01:00:00.000+00:00"
    data = json.loads(list_runs(three, "json")[0])
    assert data[1]["stages"] == "fit,test" and data[1]["best val/loss/epoch"] == 0.25
    assert data[2]["outcome"] == "running" and data[2]["duration"] is None


def test_markdown_is_a_table_for_a_paper(three):
    lines = list_runs(three, "markdown")[0].splitlines()
    assert lines[0].startswith("| folder | stages | outcome | start | duration | system#optimizer#lr |")
    assert lines[1] == "|---|---|---|---|---|---:|---:|---:|---:|---:|"
    assert (
        lines[3]
        == "| logs/version_1 | fit,test | completed | 2026-12-08 01:01:00 | 25.0s | 0.01 | 0.25 | 0.875 | 0.4 | 0.3 |"
    )


@pytest.mark.parametrize(
    ("sort", "folders"),
    [
        pytest.param(LR, ["version_10", "version_1", "version_0"], id="ascending"),
        pytest.param("-" + LR, ["version_0", "version_1", "version_10"], id="descending"),
        pytest.param("best", ["version_1", "version_0", "version_10"], id="best-alias-empty-last"),
        pytest.param(
            "-best val/loss/epoch", ["version_0", "version_1", "version_10"], id="descending-empty-last"
        ),
        pytest.param("folder", ["version_0", "version_1", "version_10"], id="text"),
        pytest.param("seed", ["version_0", "version_1", "version_10"], id="same-everywhere"),
    ],
)
def test_sort(three, sort, folders):
    rows = json.loads(list_runs(three, "json", sort)[0])
    assert [r["folder"].split("/")[-1] for r in rows] == folders


def test_sort_takes_a_leading_minus_through_the_command(three, lighter):
    result = lighter("runs", "--sort", "-best", "--format", "csv", cwd=three)
    assert result.returncode == 0, result.stderr
    assert [line.split(",")[0] for line in result.stdout.splitlines()[1:]] == [
        "logs/version_0",
        "logs/version_1",
        "logs/version_10",
    ]


@pytest.mark.parametrize(
    ("sort", "message"),
    [
        pytest.param(
            "lr",
            "command line: --sort 'lr' names no column of the runs listed (did you mean 'system#optimizer#lr'?)",
            id="typo",
        ),
        pytest.param(
            "-val/loss",
            "command line: --sort '-val/loss' names no column of the runs listed (did you mean 'val/loss/epoch'?)",
            id="desc-typo",
        ),
    ],
)
def test_an_unknown_sort_column_is_an_error_with_the_closest(three, sort, message, lighter):
    result = lighter("runs", f"--sort={sort}", cwd=three)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == message
    assert "Traceback" not in result.stderr


def test_best_with_several_monitors_offers_each(tmp_path):
    write_run(tmp_path / "a")
    best = {"path": "b.ckpt", "monitor": "val/acc/epoch", "score": 0.9, "mode": "max"}
    write_run(tmp_path / "b", entries=[entry(best=best)])
    with pytest.raises(LighterError, match=r"did you mean 'best val/loss/epoch' or 'best val/acc/epoch'\?"):
        list_runs(tmp_path, "table", "best")


def test_a_metric_per_stage_is_offered_for_its_bare_name(tmp_path):
    write_run(tmp_path / "a", entries=[entry(), entry("validate", number=1, metrics={"val/loss/epoch": 0.7})])
    with pytest.raises(
        LighterError, match=r"did you mean 'fit:val/loss/epoch' or 'validate:val/loss/epoch'\?"
    ):
        list_runs(tmp_path, "table", "val/loss/epoch")


def test_an_unknown_format_is_an_error(three, lighter):
    result = lighter("runs", "--format", "tabel", cwd=three)
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[0]
        == "command line: --format 'tabel' is not a format of lighter runs (did you mean 'table'?)"
    )


BAD_RECORDS = [
    pytest.param(
        '{"lighter_record": 1, "config": {',
        "run.json:1:34: the run record is not valid JSON",
        id="half-written",
    ),
    pytest.param("", "run.json:1:1: the run record is not valid JSON: Expecting value", id="empty"),
    pytest.param("[1, 2]", "run.json: the run record is not a JSON object", id="not-object"),
    pytest.param(
        '{"lighter_record": 2, "config": {}, "entries": []}',
        "run.json: the run record was written by a newer lighter (record version 2; this lighter reads version 1)",
        id="newer",
    ),
    pytest.param(
        '{"config": {}, "entries": []}',
        "run.json: the run record has no 'lighter_record' version number",
        id="no-version",
    ),
    pytest.param(
        '{"lighter_record": 1, "entries": []}',
        "run.json: the run record has no 'config' mapping",
        id="no-config",
    ),
    pytest.param(
        '{"lighter_record": 1, "config": {}, "entries": []}',
        "run.json: the run record has no entries",
        id="no-entries",
    ),
    pytest.param(
        '{"lighter_record": 1, "config": {}, "entries": [{"stage": "fit"}]}',
        "run.json: entry 0 of the run record is missing 'outcome'",
        id="entry-field",
    ),
]


@pytest.mark.parametrize(("text", "note"), BAD_RECORDS)
def test_a_bad_record_is_skipped_with_a_one_line_note(three, text, note, lighter):
    (three / "logs" / "version_5").mkdir()
    (three / "logs" / "version_5" / "run.json").write_text(text)
    result = lighter("runs", cwd=three)
    assert result.returncode == 0, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"skipped logs/version_5/{note}")
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == [
        "logs/version_0",
        "logs/version_1",
        "logs/version_10",
    ]


def test_no_runs_is_an_error_that_says_what_a_run_folder_is(tmp_path, lighter):
    (tmp_path / "notes.txt").write_text("")
    result = lighter("runs", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "command line: no runs under '.' (a run folder holds run.json, written by lighter fit and every stage run on it)"
    )


def test_only_bad_records_says_so(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "run.json").write_text("{")
    with pytest.raises(
        LighterError,
        match=r"^command line: no runs under '.*'; 1 unreadable record skipped \(a run folder holds run.json",
    ):
        list_runs(tmp_path)


def test_a_root_that_is_not_a_folder(tmp_path, lighter):
    result = lighter("runs", "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "command line: 'nowhere' does not exist (lighter runs [ROOT])"


def test_hidden_cache_and_run_sub_folders_are_not_searched(tmp_path):
    write_run(tmp_path / "runs" / "a")
    write_run(tmp_path / ".venv" / "b")
    write_run(tmp_path / "x" / "__pycache__" / "c")
    (tmp_path / "runs" / "a" / "test").mkdir()  # a stage's outputs inside a run: never a run of its own
    (tmp_path / "runs" / "a" / "test" / "run.json").write_text("{")
    assert find_runs(tmp_path) == ([find_runs(tmp_path / "runs" / "a")[0][0]], [])
    assert [r.folder.name for r in find_runs(tmp_path)[0]] == ["a"]


def test_sweep_trials_show_their_params(tmp_path):
    for number, (lr, dropout) in enumerate([(0.1, 0.2), (0.01, 0.2)]):
        folder = write_run(tmp_path / f"trial_{number}", **{"vars#lr": lr, "system#model#dropout": dropout})
        write_trial(
            folder,
            number,
            {"lr": lr, "system#model#dropout": dropout},
            state="PRUNED" if number else "COMPLETE",
        )
    write_run(tmp_path / "plain", **{"vars#lr": 0.5, "system#model#dropout": 0.2})
    table = tabulate(find_runs(tmp_path)[0], tmp_path)
    # A param named by its id is already the config column; one named otherwise gets its own.
    assert table.columns[5:9] == ["trial", "trial state", "lr", "vars#lr"]
    assert [(r["folder"], r["trial"], r["trial state"], r["lr"]) for r in table.rows] == [
        ("plain", None, None, None),
        ("trial_0", "study#0", "COMPLETE", 0.1),
        ("trial_1", "study#1", "PRUNED", 0.01),
    ]
    assert "system#model#dropout" not in table.columns


HEAVY = ("torch", "pytorch_lightning", "lightning", "lightning_fabric", "torchmetrics", "monai", "optuna")


@pytest.mark.parametrize(
    ("args", "light"),
    [
        pytest.param(["runs", ".", "--sort", "best"], ("numpy", "matplotlib", "yaml"), id="list"),
        pytest.param(
            ["runs", "diff", "logs/version_0", "logs/version_1"], ("numpy", "matplotlib", "yaml"), id="diff"
        ),
        pytest.param(["runs", "plot", "logs", "--metric", "val/loss/epoch", "--out", "p.png"], (), id="plot"),
    ],
)
def test_runs_commands_import_neither_torch_nor_lightning(three, args, light):
    """Run in-process in a fresh interpreter, then look at what got imported (plot may load matplotlib)."""
    write_metrics(three / "logs" / "version_0", {"val/loss/epoch": [0.9, 0.5]})
    code = (
        "import sys\n"
        "from lighter.cli import main\n"
        f"sys.argv = ['lighter', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print('HEAVY', sorted({{m.split('.')[0] for m in sys.modules}} & set({(*HEAVY, *light)!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=three, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "HEAVY []"


def test_open_run_accepts_the_record_file_itself(three):
    assert open_run(three / "logs" / "version_1" / "run.json").stages == ["fit", "test"]


def test_help_lists_runs_and_its_subcommands(lighter, tmp_path):
    top = lighter("--help", cwd=tmp_path)
    runs = lighter("runs", "--help", cwd=tmp_path)
    assert top.returncode == runs.returncode == 0
    assert "runs              List, compare and plot runs from their folders' records." in top.stdout
    assert "lighter runs diff RUN_A RUN_B" in runs.stdout and "plot" in runs.stdout


def test_metric_selects_result_columns_by_name_or_glob(three, lighter):
    result = lighter("runs", "--metric", "test/*", "--metric", "val/loss/epoch", "--format", "csv", cwd=three)
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split(",")
    assert header == [
        "folder", "stages", "outcome", "start", "duration", LR,
        "best val/loss/epoch", "test/metrics/Accuracy/epoch", "val/loss/epoch",
    ]  # fmt: skip


def test_rows_may_be_sorted_by_a_metric_not_shown(three):
    rows = json.loads(list_runs(three, "json", "-train/loss/epoch", ["test/*"])[0])
    assert [r["folder"] for r in rows] == ["logs/version_0", "logs/version_1", "logs/version_10"]
    assert "train/loss/epoch" not in rows[0]


def test_a_metric_that_matches_nothing_names_the_closest(three, lighter):
    result = lighter("runs", "--metric", "test/metrics/accuracy/epoch", cwd=three)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "command line: --metric 'test/metrics/accuracy/epoch' matches no metric of the runs listed "
        "(did you mean 'test/metrics/Accuracy/epoch'?)"
    )


ODD_VALUES = [[1], {"a": 1}, "text", 3, 2.5, True, None]


def test_no_shape_of_a_damaged_record_crashes_the_listing_or_the_diff(tmp_path):
    """Every field of a record and of its entry set to every odd JSON value: listed, or skipped with a note."""
    write_run(tmp_path / "good")
    good = json.loads((tmp_path / "good" / "run.json").read_text())
    cases = [("top", key) for key in good] + [("entry", key) for key in good["entries"][0]]
    cases += [("best", key) for key in good["entries"][0]["best"]] + [("metrics", "val/loss/epoch")]
    for n, ((where, key), value) in enumerate((c, v) for c in cases for v in ODD_VALUES):
        record = json.loads(json.dumps(good))
        target = {
            "top": record,
            "entry": record["entries"][0],
            "best": record["entries"][0]["best"],
            "metrics": record["entries"][0]["metrics"],
        }[where]
        target[key] = value
        write_run(tmp_path / "odd" / f"case_{n}")
        (tmp_path / "odd" / f"case_{n}" / "run.json").write_text(json.dumps(record))
    for fmt in ("table", "csv", "json", "markdown"):
        text, notes = list_runs(tmp_path / "odd", fmt, sort="-start")
        assert all(note.startswith("skipped ") and "\n" not in note for note in notes)
    runs, _ = find_runs(tmp_path / "odd")
    from lighter.inspect.diff import format_diff
    from lighter.inspect.plot import curve_labels

    for run in runs:
        format_diff(run, runs[0])
    curve_labels(runs)


def test_a_bad_trial_record_skips_the_run_with_a_note(tmp_path):
    write_run(tmp_path / "a")
    write_run(tmp_path / "b")
    (tmp_path / "b" / "trial.json").write_text("[")
    text, notes = list_runs(tmp_path)
    assert len(text.splitlines()) == 2
    assert notes == [
        f"skipped {tmp_path}/b/trial.json:1:2: the run record is not valid JSON: Expecting value (half-written or edited by hand)"
    ]


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("diff", "Usage: lighter runs diff RUN_A RUN_B [--debug]"),
        ("plot", "Usage: lighter runs plot RUN ... [--metric NAME] [--out FILE.png] [--debug]"),
    ],
)
def test_subcommand_usage_lines(lighter, tmp_path, command, usage):
    result = lighter("runs", command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == usage
