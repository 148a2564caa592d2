"""The sweep section is checked as a whole before any trial: located errors, nothing started."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from lighter.config import ConfigParser
from lighter.engine.runner import run
from lighter.engine.sweep import run_sweep
from lighter.engine.sweep_overrides import override_text, trial_overrides
from lighter.engine.sweep_spec import (
    Param,
    SweepSpec,
    grid_values,
    parse_sweep,
    space_size,
)
from lighter.errors import ConfigError, LighterError, MissingDependencyError, ValidationError

EXPERIMENT = """\
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
vars:
  batch_size: 8
system:
  _target_: lighter.System
  model:
    _target_: torch.nn.Linear
    in_features: 4
    out_features: 2
  criterion:
    _target_: torch.nn.CrossEntropyLoss
  optimizer:
    _target_: torch.optim.SGD
    params: "$@system#model.parameters()"
    lr: 0.1
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      batch_size: "@vars#batch_size"
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(16, 4)", "$torch.randint(0, 2, (16,))"]
"""

SWEEP = """\
sweep:
  monitor: val/loss/epoch
  direction: minimize
  trials: 2
  params:
    lr: {id: system#optimizer#lr, log_uniform: [1.0e-4, 1.0]}
    batch_size: {id: vars#batch_size, choice: [4, 8]}
"""


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiment.yaml").write_text(EXPERIMENT)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    return tmp_path


# The logger Lightning gives a Trainer without one, which a trial is given explicitly.
DEFAULT_LOGGER = "TensorBoardLogger" if importlib.util.find_spec("tensorboard") else "CSVLogger"


def first_line(error: BaseException) -> str:
    return str(error).splitlines()[0]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        pytest.param(
            "--sweep#params#lr#id=system#optimizer#lrr",
            "command line @ sweep#params#lr#id: 'system#optimizer#lrr': the sweep would create a new key "
            "'lrr' next to the existing 'lr' (did you mean 'system#optimizer#lr'?)",
            id="unknown-argument",
        ),
        pytest.param(
            "--sweep#params#lr#id=system#optimzer#lr",
            "command line @ sweep#params#lr#id: 'system#optimzer#lr' is not in the config "
            "('system#optimzer' does not exist) (did you mean 'system#optimizer'?)",
            id="unknown-parent",
        ),
        pytest.param(
            "--sweep#params#batch_size#id=vars#batchsize",
            "command line @ sweep#params#batch_size#id: 'vars#batchsize' is not in the config "
            "(did you mean 'vars#batch_size'?)",
            id="unknown-var",
        ),
        pytest.param(
            "--sweep#params#lr={id: system#optimizer#lr, log_uniform: [1.0, 1.0e-4]}",
            "command line @ sweep#params#lr#log_uniform: inverted range [1.0, 0.0001] (did you mean [0.0001, 1.0]?)",
            id="inverted-range",
        ),
        pytest.param(
            "--sweep#params#lr={id: system#optimizer#lr, uniform: [0.1, 0.1]}",
            "command line @ sweep#params#lr#uniform: empty range [0.1, 0.1] (give low < high, or drop the "
            "param and set the value)",
            id="empty-range",
        ),
        pytest.param(
            "--sweep#params#lr={id: system#optimizer#lr, loguniform: [1.0e-4, 1.0]}",
            "command line @ sweep#params#lr#loguniform: unknown distribution 'loguniform' (did you mean 'log_uniform'?)",
            id="unknown-distribution",
        ),
        pytest.param(
            "--sweep#params#lr={id: system#optimizer#lr, log_uniform: [0.0, 1.0]}",
            "command line @ sweep#params#lr#log_uniform: log_uniform needs low > 0, got 0.0 (use uniform for a "
            "range that includes 0)",
            id="log-of-zero",
        ),
        pytest.param(
            "--sweep#direction=maximise",
            "command line @ sweep#direction: direction must be maximize or minimize, got 'maximise' "
            "(did you mean 'maximize'?)",
            id="direction",
        ),
        pytest.param(
            "--sweep#trials=0",
            "command line @ sweep#trials: trials must be a positive integer (the total the study aims for), got 0",
            id="no-trials",
        ),
        pytest.param(
            "--sweep#pruner=medain",
            "command line @ sweep#pruner: unknown pruner 'medain' (did you mean 'median'?)",
            id="pruner",
        ),
        pytest.param(
            "--sweep#storage=sqlite.db",
            "command line @ sweep#storage: storage must be a database URL such as sqlite:///sweep.db or "
            "postgresql://host/db, got 'sqlite.db'",
            id="storage-not-a-url",
        ),
    ],
)
def test_a_wrong_sweep_is_reported_before_any_trial(files, override, expected):
    with pytest.raises(ValidationError) as info:
        run_sweep("experiment.yaml,sweep.yaml", [override])
    assert first_line(info.value) == expected
    assert not (files / "sweeps").exists()  # nothing started, not even the sweep folder


def test_every_problem_is_reported_at_once_with_its_file_and_line(files):
    (files / "sweep.yaml").write_text(
        SWEEP.replace("choice: [4, 8]", "choice: []").replace(
            "lr: {id: system#optimizer#lr", "lr: {id: system#optimizer#rl"
        )
    )
    with pytest.raises(ValidationError) as info:
        run_sweep("experiment.yaml,sweep.yaml")
    assert [first_line(e) for e in info.value.errors] == [
        "sweep.yaml:6:14 @ sweep#params#lr#id: 'system#optimizer#rl': the sweep would create a new key 'rl', "
        "which torch.optim.SGD does not take",
        "sweep.yaml:7:39 @ sweep#params#batch_size#choice: choice needs a non-empty list of values, e.g. [16, 32, 64]",
    ]


def test_a_sqlite_storage_in_a_folder_that_cannot_be_created(files):
    (files / "a-file").write_text("")  # a folder cannot be made inside a file, whoever runs the test
    url = f"sqlite:///{files}/a-file/x/study.db"
    with pytest.raises(ConfigError) as info:
        run_sweep("experiment.yaml,sweep.yaml", [f"--sweep#storage={url}"])
    assert first_line(info.value) == (
        f"command line @ sweep#storage: cannot open the sweep storage '{url}': cannot create its folder "
        f"{files}/a-file/x: a parent is not a folder"
    )
    assert not list((files / "sweeps").glob("*/trial-*"))


def test_a_database_that_cannot_be_reached_is_one_line(files):
    with pytest.raises(ConfigError) as info:
        run_sweep("experiment.yaml,sweep.yaml", ["--sweep#storage=postgresql://nohost/db"])
    assert str(info.value).count("\n") == 0
    assert first_line(info.value).startswith(
        "command line @ sweep#storage: cannot open the sweep storage 'postgresql://nohost/db': "
    )
    assert not list((files / "sweeps").glob("*/trial-*"))


def test_other_stages_reject_the_sweep_section(files):
    with pytest.raises(LighterError) as info:
        run("fit", "experiment.yaml,sweep.yaml")
    assert first_line(info.value) == (
        "sweep.yaml:1:1 @ sweep: the sweep section is read by `lighter sweep` only "
        "(run `lighter sweep` with this config, or set --sweep=null to run this stage)"
    )


def test_sweep_without_a_sweep_section(files):
    with pytest.raises(ValidationError) as info:
        run_sweep("experiment.yaml")
    assert first_line(info.value) == (
        "@ sweep: lighter sweep needs a sweep section: monitor, direction, trials and params (see docs/sweeps.md)"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-05, "1.0e-05"),
        (0.1, "0.1"),
        (32, "32"),
        ("adam", '"adam"'),
        ("@vars#big", "@vars#big"),
        (True, "true"),
        (None, "null"),
    ],
)
def test_override_text_reads_back_as_the_same_value(value, text):
    assert override_text(value) == text
    parser = ConfigParser({"x": 0})
    parser.apply_overrides([f"--x={text}"])
    assert parser.get("x") == value


def test_trial_overrides_make_a_plain_fit_in_the_trial_folder(tmp_path):
    spec = SweepSpec(
        monitor="m",
        direction="minimize",
        trials=1,
        params=(Param("lr", "system#optimizer#lr", "log_uniform", (1e-4, 1.0)),),
        name="s",
        folder=tmp_path,
        folder_ids=("vars#out",),
        logger_id="trainer#logger",
    )
    folder = tmp_path / "trial-3"
    assert trial_overrides(spec, {"lr": 0.01}, folder) == [
        "--sweep=null",
        f'--trainer#default_root_dir="{folder}"',
        f'--vars#out="{folder}"',
        # the logger's version folder save_dir/name/version is the trial folder: it is the run folder
        f'--trainer#logger#save_dir="{tmp_path}"',
        '--trainer#logger#name=""',
        '--trainer#logger#version="trial-3"',
        "--system#optimizer#lr=0.01",
    ]


@pytest.mark.parametrize(
    ("logger", "placement"),
    [
        pytest.param(None, (None, f"pytorch_lightning.loggers.{DEFAULT_LOGGER}"), id="default"),
        pytest.param(
            {"_target_": "pytorch_lightning.loggers.CSVLogger", "save_dir": "logs"},
            ("trainer#logger", None),
            id="csv",
        ),
        pytest.param(
            [{"_target_": "pytorch_lightning.loggers.TensorBoardLogger", "save_dir": "logs"}],
            ("trainer#logger#0", None),
            id="list",
        ),
        pytest.param(False, (None, None), id="none"),
    ],
)
def test_the_trial_logger_is_placed_in_the_trial_folder(files, logger, placement):
    parser = ConfigParser()
    parser.read_config(str(files / "experiment.yaml"))
    if logger is not None:
        parser.set(logger, "trainer#logger")
    parser.set(
        {
            "monitor": "m",
            "direction": "minimize",
            "trials": 1,
            "params": {"lr": {"id": "system#optimizer#lr", "uniform": [0.1, 0.2]}},
        },
        "sweep",
    )
    spec = parse_sweep(parser, "s")
    assert (spec.logger_id, spec.default_logger) == placement


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        pytest.param(
            "--sweep#params#lr={id: system#optimizer#lr, log_uniform: [1.0e-4, 1.0]}",
            "command line @ sweep#params#lr: a grid needs a finite set of values; lr is a log_uniform range "
            "(give it as choice: [a, b, c]; int_uniform ranges are enumerated)",
            id="float-range",
        ),
        pytest.param(
            "--sweep#samplr=grid",
            "command line @ sweep#samplr: unknown key 'samplr' in sweep (did you mean 'sampler'?)",
            id="misspelt-key",
        ),
    ],
)
def test_a_grid_needs_finite_values(files, override, expected):
    overrides = ["--sweep#sampler=grid", override] if "samplr" not in override else [override]
    with pytest.raises(ValidationError) as info:
        run_sweep("experiment.yaml,sweep.yaml", overrides)
    assert first_line(info.value) == expected


def test_a_grid_in_a_file_is_located_at_its_param(files):
    (files / "sweep.yaml").write_text(SWEEP.replace("  trials: 2\n", "  sampler: grid\n"))
    with pytest.raises(ValidationError) as info:
        run_sweep("experiment.yaml,sweep.yaml")
    assert first_line(info.value) == (
        "sweep.yaml:6:5 @ sweep#params#lr: a grid needs a finite set of values; lr is a log_uniform range "
        "(give it as choice: [a, b, c]; int_uniform ranges are enumerated)"
    )


def test_a_grid_takes_its_size_as_trials_and_enumerates_int_ranges(files):
    parser = ConfigParser()
    parser.read_config(str(files / "experiment.yaml"))
    parser.set(
        {
            "monitor": "m",
            "direction": "minimize",
            "sampler": "grid",
            "params": {
                "batch_size": {"id": "vars#batch_size", "choice": [4, 8]},
                "width": {"id": "system#model#out_features", "int_uniform": [2, 4]},
            },
        },
        "sweep",
    )
    spec = parse_sweep(parser, "s")
    assert (spec.sampler, spec.trials) == ("grid", 6)
    assert [grid_values(p) for p in spec.params] == [(4, 8), (2, 3, 4)]
    assert space_size(spec.params) == 6


def test_the_pictures_of_a_study(tmp_path):
    import optuna

    from lighter.engine.sweep_plots import draw_history, draw_importance
    from lighter.engine.sweep_report import row_of

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(6):
        trial = study.ask()
        x, y = trial.suggest_float("x", -1, 1), trial.suggest_categorical("y", [0, 1])
        study.tell(trial, x * x + 0.01 * y)
    rows = [row_of(t) for t in study.trials]
    assert draw_history(rows, "loss", "minimize", tmp_path / "history.png")
    notes = []
    assert draw_importance(study, ["x", "y"], tmp_path / "importance.png", notes.append)
    for name in ("history.png", "importance.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert notes == []
    # One param, or too few finished trials: no importance picture, and no complaint.
    assert not draw_importance(study, ["x"], tmp_path / "one.png", notes.append)
    assert not (tmp_path / "one.png").exists() and notes == []


def test_the_pictures_module_leaves_pyplot_alone(tmp_path):
    import subprocess

    code = "import lighter.engine.sweep_plots, sys; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_digits_sweep_is_valid(monkeypatch):
    from pathlib import Path

    from lighter.engine.project import find_project, import_project
    from lighter.engine.runner import load

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    parser = load("projects/digits/experiments/digits.yaml,projects/digits/experiments/sweep.yaml")
    import_project(find_project(parser.get("project"), parser.files))
    spec = parse_sweep(parser, "sweep")
    assert [p.id for p in spec.params] == [
        "vars#lr",
        "vars#batch_size",
        "system#model#dropout",
        "system#model#channels",
    ]
    assert (spec.name, spec.monitor, spec.pruner) == ("digits", "val/metrics/accuracy/epoch", "median")


def test_without_optuna_the_sweep_says_what_to_install(files, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # what `import optuna` meets when it is not installed
    with pytest.raises(MissingDependencyError) as info:
        run_sweep("experiment.yaml,sweep.yaml")
    assert first_line(info.value) == (
        "lighter sweep needs Optuna, which is not installed (pip install 'lighter[sweep]' (or pip install optuna))"
    )
