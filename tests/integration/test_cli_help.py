"""``lighter --help``, ``lighter <stage> --help`` and ``--version``: instant, no torch/Lightning/MONAI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lighter import __version__

STAGES = ["fit", "validate", "test", "predict", "lr_find", "scale_batch_size"]
HEAVY = ("torch", "pytorch_lightning", "lightning_fabric", "monai", "torchmetrics")

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


def test_root_help_lists_the_six_stages_without_heavy_imports():
    out = probe("--help")
    commands = out.split("Commands:")[1].splitlines()
    listed = [line.split()[0] for line in commands if line.startswith("  ") and not line.startswith("   ")]
    assert listed == STAGES
    assert out.rstrip().endswith("HEAVY: []")


@pytest.mark.parametrize("stage", STAGES)
def test_stage_help_explains_config_and_overrides(stage):
    out = probe(stage, "--help")
    assert f"Usage: lighter {stage} [--debug] [--safe] [--ID=VALUE ...] {{CONFIG}}" in out
    assert "config1.yaml,config2.yaml" in out  # comma merging
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
