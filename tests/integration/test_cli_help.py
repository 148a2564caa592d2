"""``lighter --help``, ``lighter <stage> --help`` and ``--version``: instant, no torch/Lightning/MONAI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lighter import __version__

STAGES = ["fit", "validate", "test", "predict", "lr_find", "scale_batch_size"]
HEAVY = ("torch", "pytorch_lightning", "lightning_fabric", "monai", "torchmetrics", "optuna")

# Runs the CLI in-process in a fresh interpreter, then reports which heavy packages got imported.
PROBE = """
import sys
from lighter.cli import main
sys.argv = ["lighter", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("HEAVY:", sorted({m.split(".")[0] for m in sys.modules} & set({heavy!r})))
"""


def probe(*args):
    code = PROBE.replace("{heavy!r}", repr(HEAVY))
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    ).stdout


def test_root_help_lists_the_six_stages_then_check_show_and_runs_without_heavy_imports():
    out = probe("--help")
    commands = out.split("Commands:")[1].splitlines()
    listed = [line.split()[0] for line in commands if line.startswith("  ") and not line.startswith("   ")]
    assert listed == [*STAGES, "sweep", "check", "show", "runs"]
    assert out.rstrip().endswith("HEAVY: []")


def test_sweep_help_is_instant_and_imports_no_optuna():
    out = probe("sweep", "--help")
    usage = "Usage: lighter sweep (CONFIG... | --config=CONFIG) [--debug] [--safe] [--allow PACKAGE] [--ID=VALUE ...]"
    assert usage in " ".join(out.split())  # click wraps a long usage line
    assert "monitor: val/metrics/accuracy/epoch" in out


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (
            "check",
            "Usage: lighter check (CONFIG... | --config=CONFIG) [--stage STAGE] [--safe] [--allow PACKAGE] [--debug] [--ID=VALUE ...]",
        ),
        (
            "show",
            "Usage: lighter show (CONFIG... | --config=CONFIG) [--stage STAGE] [--resolved] [--debug] [--ID=VALUE ...]",
        ),
    ],
)
def test_check_and_show_help(command, usage):
    out = probe(command, "--help")
    assert usage in " ".join(out.split())  # click wraps a long usage line
    assert "fit|validate|test|predict|lr_find|scale_batch_size" in out
    assert out.rstrip().endswith("HEAVY: []")


@pytest.mark.parametrize("stage", STAGES)
def test_stage_help_explains_config_and_overrides(stage):
    out = probe(stage, "--help")
    usage = " ".join(out.split("Usage: ", 1)[1].split("\n\n", 1)[0].split())  # unwrapped
    assert (
        usage
        == f"lighter {stage} (CONFIG... | --config=CONFIG) [--debug] [--safe] [--allow PACKAGE] [--ID=VALUE ...]"
    )
    assert "config1.yaml,config2.yaml" in out  # comma merging
    assert "config1.yaml\nconfig2.yaml" in out or "config1.yaml config2.yaml" in " ".join(
        out.split()
    )  # separate files
    assert f"lighter {stage} --config=a.yaml,b.yaml" in out  # the original Lighter's form
    assert f"lighter {stage} experiment.yaml --trainer#max_epochs=3" in out  # override syntax
    assert f"--args#{stage}#NAME=VALUE" in out
    assert out.rstrip().endswith("HEAVY: []")


def test_version_and_python_dash_m():
    result = subprocess.run(
        [sys.executable, "-m", "lighter", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout == f"lighter {__version__}\n"


def test_shell_completion_is_offered():
    result = subprocess.run(
        [sys.executable, "-m", "lighter", "--help"], capture_output=True, text=True, check=True
    )
    assert "--install-completion" in result.stdout


@pytest.mark.parametrize("command", [["--help"], ["fit", "--help"]], ids=["root", "fit"])
def test_cli_page_shows_the_real_help(command):
    # docs/cli.md holds each help text under a heading naming the command, as an 80-column terminal shows it.
    page = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    heading = f"## `lighter {' '.join(command)}`"
    documented = page.split(heading, 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
    env = {**os.environ, "COLUMNS": "80"}
    real = subprocess.run(
        [sys.executable, "-m", "lighter", *command], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert documented == real.rstrip().replace("python -m lighter", "lighter")


@pytest.mark.parametrize(
    ("command", "run_folder"),
    [
        pytest.param("fit", "A run folder continues that run from its last checkpoint.", id="fit"),
        pytest.param(
            "test", "A run folder tests its best checkpoint, writing into a new sub-folder of it.", id="test"
        ),
        pytest.param("predict", "A run folder predicts with its best checkpoint", id="predict"),
        pytest.param("sweep", None, id="sweep"),
        pytest.param("check", None, id="check"),
        pytest.param("show", None, id="show"),
    ],
)
def test_config_help_says_what_a_run_folder_means_only_where_it_means_something(command, run_folder):
    text = " ".join(probe(command, "--help").split())  # click wraps the paragraph
    assert "Experiment config: a YAML/JSON file" in text
    if run_folder is None:
        assert "run folder" not in text.split("Options:")[0]
    else:
        assert run_folder in text
