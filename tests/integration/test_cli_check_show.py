"""``lighter check`` and ``lighter show`` through the real command."""

from __future__ import annotations

import sys

import pytest
import yaml

from lighter.config import ConfigParser

# Five independent mistakes, and a dataset whose construction would leave a file behind.
MISTAKES = """\
system:
  model:
    _target_: torch.nn.Lineer
  optimizer:
    momentun: 0.9
    params: "$@system#modell.parameters()"
  scheduler: 5
trainer:
  max_epochs: ten
"""

BUILT_MARKER = """\
import pathlib

from torch.utils.data import Dataset


class Marked(Dataset):
    def __init__(self, size: int):
        pathlib.Path("built").write_text("constructed")
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        raise IndexError(i)
"""


@pytest.fixture(scope="module")
def folder(experiment):
    (experiment / "project" / "marked.py").write_text(BUILT_MARKER)
    (experiment / "mistakes.yaml").write_text(MISTAKES)
    (experiment / "marked.yaml").write_text(
        "system:\n  dataloaders:\n    train:\n      dataset:\n        _target_: project.marked.Marked\n"
        "        _args_: []\n        size: 4\n"
    )
    return experiment


def test_check_reports_every_mistake_at_once_and_builds_nothing(folder, lighter):
    result = lighter("check", "experiment.yaml,marked.yaml,mistakes.yaml", cwd=folder)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "mistakes.yaml:3 @ system#model: cannot import 'torch.nn.Lineer': module 'torch.nn' has no "
        "attribute 'Lineer' (did you mean 'torch.nn.Linear'?)",
        "mistakes.yaml:5 @ system#optimizer: torch.optim.SGD got an unexpected argument 'momentun' "
        "(did you mean 'momentum'?)",
        "mistakes.yaml:6 @ system#optimizer#params: reference '@system#modell' does not exist "
        "(did you mean 'system#model'?)",
        "mistakes.yaml:7 @ system#scheduler: expects torch.optim.lr_scheduler.LRScheduler | Mapping[str, Any], "
        "got 5 (int)",
        "mistakes.yaml:9 @ trainer#max_epochs: expects int, got 'ten' (str)",
        "5 problems in experiment.yaml,marked.yaml,mistakes.yaml (checked for fit, validate, test, predict; "
        "nothing built)",
    ]
    assert not (folder / "built").exists()


def test_check_says_ok_and_what_it_checked(folder, lighter):
    result = lighter("check", "experiment.yaml,marked.yaml", "--stage", "fit", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "OK: experiment.yaml,marked.yaml is ready for fit "
        "(10 components, 0 references, 1 expression checked; nothing built)"
    ]
    assert not (folder / "built").exists()


SWEEP = """\
sweep:
  monitor: val/loss/epoch
  direction: minimise
  trials: 4
  params:
    lr: {id: system#optimizer#lrr, log_uniform: [0.1, 0.001]}
    size: {id: system#dataloaders#train#batch_size, choice: [4, 8]}
"""


def test_check_reads_a_sweep_section_as_lighter_sweep_does(folder, lighter):
    (folder / "sweep.yaml").write_text(SWEEP)
    result = lighter("check", "experiment.yaml,sweep.yaml", cwd=folder)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "sweep.yaml:3:14 @ sweep#direction: direction must be maximize or minimize, got 'minimise' "
        "(did you mean 'minimize'?)",
        "sweep.yaml:6:14 @ sweep#params#lr#id: 'system#optimizer#lrr': the sweep would create a new key "
        "'lrr' next to the existing 'lr' (did you mean 'system#optimizer#lr'?)",
        "sweep.yaml:6:36 @ sweep#params#lr#log_uniform: inverted range [0.1, 0.001] (did you mean [0.001, 0.1]?)",
        "3 problems in experiment.yaml,sweep.yaml (checked for fit and its sweep; nothing built)",
    ]
    fixed = [
        "--sweep#direction=minimize",
        "--sweep#params#lr={id: system#optimizer#lr, log_uniform: [0.001, 0.1]}",
    ]
    result = lighter("check", "experiment.yaml,sweep.yaml", *fixed, cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: experiment.yaml,sweep.yaml is ready for fit and its sweep (")


def test_check_for_a_stage_reports_its_missing_parts(folder, lighter):
    result = lighter("check", "experiment.yaml", "--stage=fit", "--system#optimizer=null", cwd=folder)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "experiment.yaml:14:1 @ system#optimizer: stage 'fit' needs system#optimizer, which the config does not define"
    )


def test_runs_catch_wrongly_typed_parts_before_building_anything(folder, lighter):
    result = lighter(
        "fit",
        "experiment.yaml,marked.yaml",
        "--system#inferer=5",
        "--trainer#callbacks=[5]",
        "--system#scheduler=5",
        cwd=folder,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[:4] == [
        "command line @ trainer#callbacks#0: expects pytorch_lightning.Callback, got 5 (int)",
        "command line @ system#inferer: expects callable, got 5 (int)",
        "command line @ system#scheduler: expects torch.optim.lr_scheduler.LRScheduler | Mapping[str, Any], "
        "got 5 (int)",
        "(3 problems in the config)",
    ]
    assert not (folder / "built").exists()


def test_show_prints_yaml_that_reads_back_as_the_merged_config(folder, lighter):
    result = lighter("show", "experiment.yaml,marked.yaml", "--trainer#max_epochs=5", cwd=folder)
    assert result.returncode == 0, result.stderr
    parser = ConfigParser()
    parser.read_config(str(folder / "experiment.yaml") + "," + str(folder / "marked.yaml"))
    parser.apply_overrides(["--trainer#max_epochs=5"])
    assert yaml.safe_load(result.stdout) == parser.config
    lines = result.stdout.splitlines()
    assert lines[0] == "# lighter show: experiment.yaml, marked.yaml, with 1 command-line override"
    assert "  max_epochs: 5  # command line" in lines
    assert "  enable_progress_bar: false  # experiment.yaml:7" in lines
    assert "        _target_: project.marked.Marked  # marked.yaml:5" in lines


def test_show_for_a_stage_prunes_and_resolved_says_what_references_stand_for(folder, lighter):
    result = lighter("show", "experiment.yaml", "--stage", "predict", "--resolved", cwd=folder)
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert "optimizer" not in shown["system"] and list(shown["system"]["dataloaders"]) == ["predict"]
    result = lighter("show", "experiment.yaml", "--resolved", cwd=folder)
    lines = result.stdout.splitlines()
    assert (
        "    params: $@system#model.parameters()  # experiment.yaml:24  "
        "@system#model = torch.nn.Linear(...) built at system#model (experiment.yaml:16)"
    ) in lines
    assert "    val:  # experiment.yaml:38  copy of %#train" in lines
    assert yaml.safe_load(result.stdout)["system"]["dataloaders"]["val"]["batch_size"] == 8


PROBE = """
import sys
from lighter.cli import main
sys.argv = ["lighter", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("HEAVY:", sorted({m.split(".")[0] for m in sys.modules} & {"torch", "pytorch_lightning", "monai"}))
"""


def test_show_imports_neither_torch_nor_lightning(folder):
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", PROBE, "show", "experiment.yaml", "--resolved", "--stage", "fit"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.rstrip().endswith("HEAVY: []")


@pytest.mark.parametrize("command", ["check", "show"])
def test_a_file_that_cannot_be_read_is_one_located_error(folder, lighter, command):
    result = lighter(command, "missing.yaml", cwd=folder)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "config file not found: 'missing.yaml'",
        "(run with --debug for the full traceback)",
    ]


UNTRUSTED = """\
project: evil
vars:
  where: "$__import__('os').getcwd()"
trainer:
  _target_: pytorch_lightning.Trainer
system:
  _target_: lighter.System
  model:
    _target_: os.system
    command: "touch pwned"
"""


def test_check_safe_lists_what_would_run_code_and_runs_none_of_it(tmp_path, lighter):
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "__init__.py").write_text("import pathlib\npathlib.Path('imported').touch()\n")
    (tmp_path / "untrusted.yaml").write_text(UNTRUSTED)

    result = lighter("check", "untrusted.yaml", "--safe", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    listed = result.stdout.splitlines()
    assert listed[0] == "5 places in untrusted.yaml would run code:"
    assert "  untrusted.yaml:5 @ trainer#_target_: target pytorch_lightning.Trainer (allowed)" in listed
    refused = result.stderr.splitlines()
    assert refused[0].startswith("untrusted.yaml:1 @ project: safe mode refuses importing the project folder")
    assert refused[1] == (
        "untrusted.yaml:3 @ vars#where: safe mode refuses the name '__import__' in an expression (only "
        "references, lambda parameters, torch, monai and allowed imports): $__import__('os').getcwd()"
    )
    assert refused[2].startswith(
        "untrusted.yaml:9 @ system#model#_target_: safe mode refuses 'os.system' whatever is allowed"
    )
    assert refused[-1].startswith("3 problems in untrusted.yaml")
    assert not (tmp_path / "imported").exists() and not (tmp_path / "pwned").exists()


def test_a_reference_to_a_wrongly_typed_value_is_caught_before_building(folder, lighter):
    result = lighter(
        "fit",
        "experiment.yaml,marked.yaml",
        "--trainer#max_epochs=@vars#epochs",
        "--vars#epochs=ten",
        cwd=folder,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "command line @ trainer#max_epochs: expects int, got 'ten' (str)"
    assert "Traceback" not in result.stderr
    assert not (folder / "built").exists()
