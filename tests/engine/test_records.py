"""The run record ``run.json``: flattening, reading, appending entries, git state (pure file work)."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from lighter.engine import records
from lighter.errors import StageError


@pytest.mark.parametrize(
    ("config", "flat"),
    [
        pytest.param(
            {"a": {"b": 1, "c": [2, {"d": "x"}]}}, {"a#b": 1, "a#c#0": 2, "a#c#1#d": "x"}, id="nested"
        ),
        pytest.param({"a": {}, "b": [], "c": None}, {"a": {}, "b": [], "c": None}, id="empty-leaves"),
        pytest.param({"a": float("nan"), "b": (1, 2)}, {"a": "nan", "b#0": 1, "b#1": 2}, id="json-safe"),
        pytest.param({"p": records.Path("/x")}, {"p": "/x"}, id="objects-as-text"),
    ],
)
def test_flat_config(config, flat):
    assert records.flat_config(config) == flat
    json.dumps(flat, allow_nan=False)  # every value is JSON


def test_flat_config_with_another_separator():
    assert records.flat_config({"system": {"optimizer": {"lr": 0.1}}}, "::") == {"system::optimizer::lr": 0.1}


def test_entries_are_appended_and_completed(tmp_path):
    first = records.start_entry(
        tmp_path,
        {"stage": "fit", "started": "2026-01-01T00:00:00.000+00:00"},
        {"a#b": 1},
        {"a#b": "x.yaml:2"},
    )
    second = records.start_entry(
        tmp_path, {"stage": "test", "started": "2026-01-01T00:01:00.000+00:00"}, {"other": 2}
    )
    records.finish_entry(
        tmp_path, second, ended="2026-01-01T00:01:02.500+00:00", outcome="completed", metrics={"m": 0.5}
    )
    saved = records.read_record(tmp_path)
    assert saved["config"] == {"a#b": 1} and saved["sources"] == {"a#b": "x.yaml:2"}  # the first stage's
    assert [e["outcome"] for e in saved["entries"]] == ["running", "completed"]
    assert (first, second) == (0, 1)
    assert saved["entries"][1]["duration_s"] == 2.5 and saved["entries"][1]["metrics"] == {"m": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no lock or temporary file left


def test_concurrent_stages_keep_every_entry(tmp_path):
    threads = [
        threading.Thread(target=records.start_entry, args=(tmp_path, {"stage": "test", "n": n}))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(e["n"] for e in records.read_record(tmp_path)["entries"]) == list(range(8))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            '{"lighter_record": 1, "entr',
            "is not valid JSON (line 1: Unterminated string starting at)",
            id="half",
        ),
        pytest.param("[1, 2]", "is not a lighter run record", id="not-a-mapping"),
        pytest.param(
            '{"entries": []}', "is not a lighter run record (no lighter_record number)", id="no-version"
        ),
    ],
)
def test_unreadable_records_are_located_errors(tmp_path, text, problem):
    (tmp_path / "run.json").write_text(text)
    with pytest.raises(StageError) as info:
        records.read_record(tmp_path)
    assert str(info.value) == (
        f"command line: the run record {tmp_path / 'run.json'} {problem} (move run.json aside to run on this folder anyway)"
    )


def test_a_newer_record_is_refused(tmp_path):
    (tmp_path / "run.json").write_text('{"lighter_record": 7, "entries": []}')
    with pytest.raises(StageError, match="written by a newer lighter \\(record version 7"):
        records.start_entry(tmp_path, {"stage": "test"})
    assert records.read_record(tmp_path / "missing") is None


def test_git_state(tmp_path):
    assert records.git_state(tmp_path) is None  # not a checkout
    git = ["git", "-C", str(tmp_path), "-c", "user.email=a@b.c", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "exp.yaml").write_text("a: 1\n")
    subprocess.run([*git, "add", "exp.yaml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (tmp_path / "sub").mkdir()
    assert records.git_state(tmp_path / "sub") == {"commit": head, "dirty": False}
    (tmp_path / "exp.yaml").write_text("a: 2\n")
    assert records.git_state(tmp_path) == {"commit": head, "dirty": True}


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["/venv/bin/lighter", "test", "run"], ["lighter", "test", "run"]),
        (["/src/lighter/__main__.py", "fit", "a.yaml"], ["lighter", "fit", "a.yaml"]),
        (["train.py", "x"], ["train.py", "x"]),
    ],
)
def test_shown_command(argv, shown):
    assert records.shown_command(argv) == shown


def test_a_continued_fit_replaces_the_runs_config(tmp_path):
    records.start_entry(
        tmp_path, {"stage": "fit"}, {"trainer#max_epochs": 2}, {"trainer#max_epochs": "a.yaml:3"}
    )
    records.start_entry(tmp_path, {"stage": "test"}, {"trainer#max_epochs": 9})
    assert records.read_record(tmp_path)["config"] == {"trainer#max_epochs": 2}
    records.start_entry(tmp_path, {"stage": "fit"}, {"trainer#max_epochs": 4}, {}, replace_config=True)
    saved = records.read_record(tmp_path)
    assert saved["config"] == {"trainer#max_epochs": 4} and len(saved["entries"]) == 3
