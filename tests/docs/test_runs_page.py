"""docs/runs.md: each ``<!-- runs-command -->`` command prints exactly what the page shows.

The commands run through the real ``lighter`` in a folder holding the records of four digits runs
(``outputs/digits/logs/version_0..3``: lr 0.003 also tested, 0.01, 0.03, and 0.1 still running),
written here as RECORD_SCHEMA describes them, from the digits config and with the per-epoch values
real 5-epoch digits fits logged (``lighter fit projects/digits/experiments/digits.yaml
--vars#max_epochs=5 --vars#lr=...``, CPU, seed 0). ``outputs/broken`` holds one half-written record.

Until the run records of issue 19 (runs-core) are merged, records cannot come from real runs; once
they are, tests/integration/test_runs_e2e.py checks the commands on records the runner writes.
"""

from __future__ import annotations

import itertools
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tests.docs.test_docs import blocks
from tests.inspect.records import entry, write_metrics, write_run

from lighter.config import ConfigParser

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "runs.md"
DIGITS = "projects/digits/experiments/digits.yaml"
LIGHTER = Path(sys.executable).with_name("lighter")
MONITOR = "val/metrics/accuracy/epoch"

# Per epoch, as the digits fits logged them (metrics.csv, rounded to 4 digits).
LOGGED = {
    0.003: {
        "train/loss/epoch": [1.1557, 0.3126, 0.1595, 0.1232, 0.087],
        "val/loss/epoch": [0.6053, 0.1285, 0.0981, 0.0707, 0.0657],
        MONITOR: [0.881, 0.9814, 0.9888, 0.9888, 0.9888],
        "val/metrics/f1/epoch": [0.8852, 0.9819, 0.9897, 0.9899, 0.9896],
    },
    0.01: {
        "train/loss/epoch": [0.8727, 0.1682, 0.0724, 0.054, 0.0251],
        "val/loss/epoch": [0.2408, 0.0545, 0.0378, 0.0232, 0.0277],
        MONITOR: [0.9331, 0.9777, 0.9777, 0.9926, 0.9926],
        "val/metrics/f1/epoch": [0.9352, 0.978, 0.9779, 0.993, 0.993],
    },
    0.03: {
        "train/loss/epoch": [1.2199, 0.198, 0.0719, 0.0489, 0.028],
        "val/loss/epoch": [0.2539, 0.0854, 0.0289, 0.0234, 0.022],
        MONITOR: [0.9331, 0.9628, 0.9888, 0.9926, 0.9888],
        "val/metrics/f1/epoch": [0.9348, 0.9628, 0.989, 0.993, 0.989],
    },
}
TESTED = {"test/metrics/accuracy/epoch": 0.9815, "test/metrics/f1/epoch": 0.9819}
RUNNING = {
    "train/loss/epoch": [2.1],
    "val/loss/epoch": [1.9],
    MONITOR: [0.31],
    "val/metrics/f1/epoch": [0.27],
}


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix: value}
    flat = {}
    for key, item in items:
        flat.update(_flat(item, f"{prefix}#{key}" if prefix else str(key)))
    return flat


def _digits_run(folder: Path, lr: float, number: int, logged: dict, tested: bool, running: bool) -> None:
    parser = ConfigParser()
    parser.read_config(str(ROOT / DIGITS))
    overrides = {"vars#max_epochs": 5} | ({} if lr == 0.003 else {"vars#lr": lr})
    config = _flat(parser.config) | overrides
    sources = {}
    for key in config:
        location = parser.location(key)
        if location is not None and location.line is not None:
            sources[key] = f"{DIGITS}:{location.line}"
    sources |= dict.fromkeys(overrides, "command line")
    command = ["lighter", "fit", DIGITS, *(f"--{k}={v}" for k, v in overrides.items())]
    accuracy = logged[MONITOR]
    best = max(range(len(accuracy)), key=accuracy.__getitem__)  # the first epoch with the highest value
    minutes = 7 * number
    fit = entry(
        command=command,
        configs=[str(ROOT / DIGITS)],
        overrides=command[3:],
        started=f"2026-12-08T10:{minutes:02d}:05.120+00:00",
        ended=None if running else f"2026-12-08T10:{minutes + 1:02d}:47.900+00:00",
        duration_s=None if running else 102.8 + number,
        outcome="running" if running else "completed",
        best=None
        if running
        else {"path": "checkpoints/best.ckpt", "monitor": MONITOR, "score": accuracy[best], "mode": "max"},
        metrics={} if running else {name: values[-1] for name, values in logged.items()},
    )
    entries = [fit]
    if tested:
        entries.append(
            entry(
                "test",
                command=["lighter", "test", str(folder.relative_to(folder.parents[3]))],
                started=f"2026-12-08T10:{minutes + 2:02d}:10.000+00:00",
                duration_s=4.1,
                metrics=TESTED,
            )
        )
    write_run(folder, config=config, entries=entries, sources=sources)
    write_metrics(folder, logged)


def write_digits_runs(root: Path) -> None:
    """The four digits runs of the page under ``root/outputs/digits/logs``, and ``outputs/broken``."""
    logs = root / "outputs" / "digits" / "logs"
    for number, lr in enumerate(LOGGED):
        _digits_run(logs / f"version_{number}", lr, number, LOGGED[lr], tested=number == 0, running=False)
    _digits_run(logs / "version_3", 0.1, 3, RUNNING, tested=False, running=True)
    broken = root / "outputs" / "broken" / "logs" / "version_0"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text('{"lighter_record": 1, "run_folder": "/home/me/outputs/bro')


def cases() -> list:
    found = blocks(PAGE)
    return [
        pytest.param(block.body.strip(), shown.body, id=block.name)
        for block, shown in itertools.pairwise(found)
        if block.mark == "runs-command"
    ]


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("digits-runs")
    write_digits_runs(root)
    return root


def test_the_page_has_its_commands():
    assert len(cases()) >= 6
    assert all(
        shown.lang == "text"
        for block, shown in itertools.pairwise(blocks(PAGE))
        if block.mark == "runs-command"
    )


@pytest.mark.parametrize(("command", "shown"), cases())
def test_documented_runs_command_prints_what_is_shown(digits, command, shown):
    argv = shlex.split(command)
    assert argv[0] == "lighter"
    result = subprocess.run(
        [str(LIGHTER), *argv[1:]], cwd=digits, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == (1 if "(run with --debug" in shown else 0), result.stderr
    assert result.stderr + result.stdout == shown


def test_the_picture_is_on_the_page():
    assert "](images/runs_plot.png)" in PAGE.read_text()
    assert (PAGE.parent / "images" / "runs_plot.png").read_bytes().startswith(b"\x89PNG")


if __name__ == "__main__":
    # Redraw the page's picture from the repository root: python -m tests.docs.test_runs_page
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        write_digits_runs(Path(folder))
        runs = [f"outputs/digits/logs/version_{n}" for n in range(3)]
        out = PAGE.parent / "images" / "runs_plot.png"
        subprocess.run([str(LIGHTER), "runs", "plot", *runs, "--out", str(out)], cwd=folder, check=True)
