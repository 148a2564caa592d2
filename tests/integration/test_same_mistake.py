"""The same mistake gets the same message from every command, before anything heavy is imported.

Each case runs every stage, ``show`` and ``lighter.load`` in one fresh interpreter (the real
console entry point, ``lighter.cli.main``), then ``check``: the stages, ``show`` and ``load`` must
report it without importing torch, Lightning or the project, and all of them, ``check`` included
(which goes on to import targets), with the same first line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENT = """\
project: project
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
vars:
  nf: 4
system:
  _target_: lighter.System
  model:
    _target_: torch.nn.Linear
    in_features: "@vars#nf"
    out_features: 2
  criterion:
    _target_: torch.nn.CrossEntropyLoss
  optimizer:
    _target_: torch.optim.SGD
    params: "$@system#model.parameters()"
    lr: 0.1
  dataloaders:
    train: &loader
      _target_: torch.utils.data.DataLoader
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(8, 4)", "$torch.randint(0, 2, (8,))"]
    val: *loader
    test: *loader
    predict: *loader
"""

# Runs each command in this one process and reports its first error line and whether torch,
# Lightning or the project had been imported by then; `check` runs last (it imports).
PROBE = """
import contextlib, io, json, sys
import lighter.cli as cli
import lighter

args = json.loads(sys.argv[1])
report = {}
for command in ["fit", "validate", "test", "predict", "lr_find", "scale_batch_size", "show", "load", "check"]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        if command == "load":
            try:
                lighter.load(args[0], args[1:])
            except lighter.LighterError as e:
                print(str(e), file=sys.stderr)
        else:
            try:
                cli.app([command, *args], prog_name="lighter", standalone_mode=False)
            except SystemExit:
                pass
            except Exception as e:  # typer's Exit when not standalone
                if type(e).__name__ != "Exit":
                    raise
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    heavy = sorted(m for m in ("torch", "pytorch_lightning", "project") if m in sys.modules)
    report[command] = {"first": lines[0] if lines else "", "heavy": heavy}
print(json.dumps(report))
"""

LONG = "$4" + "+0" * 40_000  # one sum CPython's compiler cannot take: it recurses per operator

CASES = [
    pytest.param(
        ["--system#model#in_features=@vars#number_features"],
        "command line @ system#model#in_features: reference '@vars#number_features' does not exist "
        "(did you mean 'vars#nf'?)",
        id="missing-reference-initials",
    ),
    pytest.param(
        ["--vars#a=@vars#b", "--vars#b=@vars#a", "--system#model#in_features=@vars#a"],
        "command line @ vars#b: circular reference: vars#a -> vars#b -> vars#a",
        id="reference-cycle",
    ),
    pytest.param(
        ["--seeds=3"],
        "command line @ seeds: unknown top-level key 'seeds' (did you mean 'seed'?)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        ["--trainer#max_epoch=3"],
        "command line @ trainer#max_epoch: override creates a new key 'max_epoch' next to the existing "
        "'max_epochs' (did you mean 'trainer#max_epochs'?)",
        id="override-typo",
    ),
    pytest.param(
        ["--sytem#model#in_features=3"],
        "command line @ sytem: override creates a new key 'sytem' next to the existing 'system' "
        "(did you mean 'system'?)",
        id="top-level-typo",
    ),
    pytest.param(
        [f"--system#model#in_features={LONG}"],
        f"command line @ system#model#in_features: expression '{LONG[:117]}...' failed: SyntaxError: too long "
        f"or too deeply nested for Python to compile ({len(LONG) - 1:,} characters)",
        id="expression-too-long-to-compile",
    ),
    pytest.param(
        ["--vars#" + "#".join(["deep"] * 5_000) + "=1"],
        "command line @ vars#deep#deep#deep#deep#deep#...: bad override: the id is 5,001 keys deep (at most 200)",
        id="override-id-thousands-deep",
    ),
]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("same-mistake")
    (folder / "experiment.yaml").write_text(EXPERIMENT)
    (folder / "project").mkdir()
    (folder / "project" / "__init__.py").write_text("")
    return folder


@pytest.mark.parametrize(("overrides", "first_line"), CASES)
def test_every_command_reports_the_mistake_alike_before_heavy_imports(experiment, overrides, first_line):
    env = {k: v for k, v in os.environ.items() if k not in ("LIGHTER_DEBUG", "LIGHTER_SAFE")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["experiment.yaml", *overrides])],
        cwd=experiment,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    for command, seen in report.items():
        assert seen["first"] == first_line, command
        if command != "check":
            assert seen["heavy"] == [], f"{command} imported {seen['heavy']} before reporting the mistake"
