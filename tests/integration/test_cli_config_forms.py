"""Every config command takes its files the same ways: comma-separated, as separate arguments, or
``--config=FILES`` (the original Lighter's form), with overrides before or after them."""

from __future__ import annotations

import pytest

SECOND = "trainer:\n  max_epochs: 7\n"

FORMS = [
    pytest.param(["experiment.yaml,second.yaml", "--seed=3"], id="comma-separated"),
    pytest.param(["experiment.yaml", "second.yaml", "--seed=3"], id="separate-arguments"),
    pytest.param(["--config=experiment.yaml,second.yaml", "--seed=3"], id="config-equals"),
    pytest.param(["--config", "experiment.yaml,second.yaml", "--seed", "3"], id="config-space"),
    pytest.param(["--seed=3", "--config=experiment.yaml,second.yaml"], id="override-first"),
]


@pytest.mark.parametrize("args", FORMS)
def test_show_merges_the_files_in_every_form(experiment, lighter, args):
    (experiment / "second.yaml").write_text(SECOND)
    result = lighter("show", *args, cwd=experiment)
    assert result.returncode == 0, result.stderr
    assert "  max_epochs: 7  # second.yaml:2\n" in result.stdout
    assert "seed: 3  # command line\n" in result.stdout


@pytest.mark.parametrize(
    "command", ["fit", "validate", "test", "predict", "lr_find", "scale_batch_size", "sweep", "check"]
)
def test_every_command_refuses_config_without_a_value(experiment, lighter, command):
    result = lighter(command, "--config", cwd=experiment)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"command line: --config needs a value: the config file(s) (e.g. lighter {command} "
    )
    assert "Traceback" not in result.stderr


def test_fit_with_the_original_command_line(experiment, lighter):
    (experiment / "second.yaml").write_text(SECOND)
    result = lighter(
        "fit",
        "--trainer#max_epochs=1",
        "--config=experiment.yaml,second.yaml",
        "--trainer#default_root_dir=runs/fire",
        cwd=experiment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    saved = (experiment / "runs" / "fire" / "lightning_logs" / "version_0" / "config.yaml").read_text()
    assert "max_epochs: 1" in saved  # the override wins over both files
    assert "epoch=0-step=8.ckpt" in result.stdout or list(
        (experiment / "runs" / "fire").rglob("epoch=0-*.ckpt")
    )
