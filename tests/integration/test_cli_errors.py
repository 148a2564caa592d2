"""Mistakes give one short located message and exit status 1; ``--debug`` adds the traceback."""

from __future__ import annotations

import pytest

HINT = "(run with --debug for the full traceback)"


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        pytest.param(
            ["fit", "typo.yaml"],
            "typo.yaml:1:1 @ trainr: unknown top-level key 'trainr' (did you mean 'trainer'?)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            ["fit", "experiment.yaml,system_typo.yaml"],
            "system_typo.yaml:3:3 @ system#optimiser: unknown key 'optimiser' in system (did you mean 'optimizer'?)",
            id="unknown-system-key-in-second-file",
        ),
        pytest.param(
            ["test", "experiment.yaml", "--system#dataloaders#test=null"],
            "experiment.yaml:31:3 @ system#dataloaders#test: stage 'test' needs system#dataloaders#test, "
            "which the config does not define",
            id="test-without-test-loader",
        ),
        pytest.param(
            ["fit", "experiment.yaml", "--system#optimizer=null"],
            "experiment.yaml:14:1 @ system#optimizer: stage 'fit' needs system#optimizer, "
            "which the config does not define",
            id="fit-without-optimizer",
        ),
        pytest.param(
            ["fit", "missing.yaml"], "config file not found: 'missing.yaml'", id="missing-config-file"
        ),
        pytest.param(
            ["fit", "experiment.yaml", "--trainer#max_epochs"],
            "command line: bad override '--trainer#max_epochs': expected --ID=VALUE, e.g. --trainer#max_epochs=10",
            id="malformed-override",
        ),
        pytest.param(
            ["fit", "experiment.yaml", "--trainer#max_epoch=3"],
            "command line @ trainer#max_epoch: override creates a new key 'max_epoch' next to the existing "
            "'max_epochs' (did you mean 'trainer#max_epochs'?)",
            id="override-typo",
        ),
        pytest.param(
            ["fit", "experiment.yaml", "--trainer#max_epochs=ten"],
            "command line @ trainer#max_epochs: expects int, got 'ten' (str)",
            id="override-of-the-wrong-type",
        ),
        pytest.param(
            ["fit", "bad_project.yaml"],
            "bad_project.yaml:1:10 @ project: project folder 'no_such_folder' does not exist",
            id="missing-project-folder",
        ),
        pytest.param(
            ["fit", "--trainer#max_epochs=1", "--config"],
            "command line: --config needs a value: the config file(s) "
            "(e.g. lighter fit --config=experiment.yaml[,more.yaml])",
            id="config-option-without-value",
        ),
        pytest.param(
            ["fit", "experiment.yaml", "experimnt.yml"],
            "config file not found: 'experimnt.yml' (did you mean 'experiment.yaml'?)",
            id="typo-in-a-second-config-file",
        ),
        pytest.param(
            ["fit", "experiment.yaml", "experiment"],
            "command line: 'experiment' is neither a config file nor an override (did you mean 'experiment.yaml'?)",
            id="positional-neither-file-nor-override",
        ),
    ],
)
def test_error_is_short_located_and_without_traceback(experiment, lighter, args, first_line):
    (experiment / "typo.yaml").write_text("trainr: {}\n" + (experiment / "experiment.yaml").read_text())
    (experiment / "system_typo.yaml").write_text("system:\n  _target_: lighter.System\n  optimiser: {}\n")
    (experiment / "bad_project.yaml").write_text(
        "project: no_such_folder\n"
        + (experiment / "experiment.yaml").read_text().replace("project: project\n", "")
    )
    result = lighter(*args, cwd=experiment)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(first_line), result.stderr
    assert lines[-1] == HINT
    assert "Traceback" not in result.stderr
    assert len(lines) <= 32


def test_debug_flag_and_environment_show_the_traceback(experiment, lighter, monkeypatch):
    (experiment / "typo.yaml").write_text("trainr: {}\n" + (experiment / "experiment.yaml").read_text())
    result = lighter("fit", "typo.yaml", "--debug", cwd=experiment)
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "lighter.errors.ValidationError: typo.yaml:1:1 @ trainr: unknown top-level key" in result.stderr
    monkeypatch.setenv("LIGHTER_DEBUG", "1")
    import os
    import subprocess
    import sys

    from_env = subprocess.run(
        [sys.executable, "-m", "lighter", "fit", "typo.yaml"],
        cwd=experiment,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert from_env.returncode == 1
    assert from_env.stderr.startswith("Traceback (most recent call last):")


def test_a_system_mistake_is_reported_before_the_trainer_starts(experiment, lighter):
    result = lighter(
        "fit", "experiment.yaml", "--system#optimizer#params=$@system#modle.parameters()", cwd=experiment
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "command line @ system#optimizer#params: reference '@system#modle' does not exist "
        "(did you mean 'system#model'?)"
    )
    # The system is built before the Trainer, so nothing about devices was printed first.
    assert "GPU available" not in result.stdout + result.stderr
