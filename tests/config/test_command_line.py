"""How a command's arguments split into config files and overrides (every config command)."""

from __future__ import annotations

import pytest

from lighter.config.command_line import split_command_line
from lighter.errors import OverrideError


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.yaml", "b.yaml", "exp.yaml"):
        (tmp_path / name).write_text("x: 1\n")
    (tmp_path / "run").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("args", "config", "overrides"),
    [
        pytest.param(["a.yaml"], "a.yaml", [], id="one-file"),
        pytest.param(["a.yaml,b.yaml", "--x=2"], "a.yaml,b.yaml", ["--x=2"], id="comma-separated"),
        pytest.param(["a.yaml", "b.yaml", "--x=2"], "a.yaml,b.yaml", ["--x=2"], id="separate-arguments"),
        pytest.param(["--config=a.yaml,b.yaml", "--x=2"], "a.yaml,b.yaml", ["--x=2"], id="fire-form"),
        pytest.param(["--config", "a.yaml", "--x=2"], "a.yaml", ["--x=2"], id="config-space-value"),
        pytest.param(["--x=2", "--config=a.yaml"], "a.yaml", ["--x=2"], id="override-before-config"),
        pytest.param(["--x=2", "a.yaml", "--y", "3"], "a.yaml", ["--x=2", "--y", "3"], id="override-first"),
        pytest.param(["a.yaml", "--x", "b.yaml"], "a.yaml", ["--x", "b.yaml"], id="space-value-is-a-value"),
        pytest.param(["a.yaml", "--~x", "b.yaml"], "a.yaml,b.yaml", ["--~x"], id="delete-takes-no-value"),
        pytest.param(["a.yaml", "x#y=3"], "a.yaml", ["x#y=3"], id="override-without-dashes"),
        pytest.param(["run", "--x=1"], "run", ["--x=1"], id="run-folder"),
        pytest.param(["missing.yaml"], "missing.yaml", [], id="missing-file-is-left-to-the-loader"),
        pytest.param(["a.yaml", "missing.yml"], "a.yaml,missing.yml", [], id="missing-second-file-too"),
    ],
)
def test_split(folder, args, config, overrides):
    assert split_command_line("fit", args) == (config, overrides)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--config"],
            "command line: --config needs a value: the config file(s) "
            "(e.g. lighter fit --config=experiment.yaml[,more.yaml])",
            id="config-without-value",
        ),
        pytest.param(["--config=", "--x=1"], "command line: --config needs a value", id="config-empty"),
        pytest.param(
            ["--config", "--x=1"], "command line: --config needs a value", id="config-before-an-override"
        ),
        pytest.param(
            ["a.yaml", "--config=b.yaml"],
            "command line: config given twice: as 'a.yaml' and as --config=b.yaml "
            "(give the files one way, e.g. lighter fit b.yaml,a.yaml)",
            id="both-forms",
        ),
        pytest.param(
            ["--config", "a.yaml", "b.yaml"],
            "command line: config given twice: as 'b.yaml' and as --config=a.yaml",
            id="config-takes-one-value",
        ),
        pytest.param(
            ["--config=a.yaml", "--config=b.yaml"],
            "command line: --config given twice ('a.yaml' and 'b.yaml') "
            "(give the files once, comma-separated: --config=a.yaml,b.yaml)",
            id="config-twice",
        ),
        pytest.param(
            ["a.yaml", "exp"],
            "command line: 'exp' is neither a config file nor an override (did you mean 'exp.yaml'?)",
            id="typo-without-suffix",
        ),
        pytest.param(
            ["--x=1"], "command line: no CONFIG given (lighter fit CONFIG [--id=value ...])", id="none"
        ),
    ],
)
def test_mistakes(folder, args, message):
    with pytest.raises(OverrideError) as caught:
        split_command_line("fit", args)
    assert str(caught.value).startswith(message)
