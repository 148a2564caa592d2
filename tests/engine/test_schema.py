"""Structure validation: every problem at once, each with its id and file:line."""

from __future__ import annotations

import copy

import pytest

from lighter.engine.schema import find_problems, validate_structure
from lighter.errors import Location, ValidationError

MODEL = {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 2}
VALID = {
    "project": "./project",
    "seed": 3,
    "vars": {"lr": 0.1},
    "_meta_": {"note": "anything"},
    "_requires_": ["$import torch"],
    "trainer": {"_target_": "pytorch_lightning.Trainer", "max_epochs": 1},
    "system": {
        "_target_": "lighter.System",
        "model": MODEL,
        "criterion": {"_target_": "torch.nn.CrossEntropyLoss"},
        "optimizer": {
            "_target_": "torch.optim.SGD",
            "params": "$@system#model.parameters()",
            "lr": "@vars#lr",
        },
        "scheduler": None,
        "inferer": None,
        "metrics": {"train": [], "val": "%#train", "test": "%#train"},
        "dataloaders": {"train": {}, "val": {}, "test": {}, "predict": {}},
        "adapters": {"train": {"batch": {}, "criterion": {}, "metrics": {}, "logging": {}}},
    },
    "args": {"fit": {"ckpt_path": None}, "lr_find": None, "predict": "@vars#predict_args"},
}


def at(line: int):
    """A locate function that puts every id on the same line of exp.yaml (enough to check formatting)."""
    return lambda _id: Location("exp.yaml", line)


def with_(**changes):
    config = copy.deepcopy(VALID)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = config
        for parent in parents:
            node = node[parent]
        node[key] = value
    return config


def test_valid_config_has_no_problems():
    assert find_problems(VALID) == []


@pytest.mark.parametrize(
    ("config", "first_line"),
    [
        pytest.param(
            with_(trainr={}),
            "exp.yaml:7 @ trainr: unknown top-level key 'trainr' (did you mean 'trainer'?)",
            id="top-level-typo",
        ),
        pytest.param(
            with_(system__optimiser={}),
            "exp.yaml:7 @ system#optimiser: unknown key 'optimiser' in system (did you mean 'optimizer'?)",
            id="system-typo",
        ),
        pytest.param(
            with_(system__banana=1),
            "exp.yaml:7 @ system#banana: unknown key 'banana' in system (expected one of: model, criterion, "
            "optimizer, scheduler, inferer, metrics, dataloaders, adapters)",
            id="system-unknown-no-match",
        ),
        pytest.param(
            with_(system__dataloaders__training={}),
            "exp.yaml:7 @ system#dataloaders#training: unknown mode 'training' in system#dataloaders "
            "(did you mean 'train'?)",
            id="dataloader-mode",
        ),
        pytest.param(
            with_(system__metrics__predict=[]),
            "exp.yaml:7 @ system#metrics#predict: unknown mode 'predict' in system#metrics "
            "(expected one of: train, val, test)",
            id="metrics-have-no-predict",
        ),
        pytest.param(
            with_(system__adapters__train__batchs={}),
            "exp.yaml:7 @ system#adapters#train#batchs: unknown adapter 'batchs' in system#adapters#train "
            "(did you mean 'batch'?)",
            id="adapter-key",
        ),
        pytest.param(
            with_(args__fitt={}),
            "exp.yaml:7 @ args#fitt: unknown stage 'fitt' in args (did you mean 'fit'?)",
            id="args-stage",
        ),
        pytest.param(
            with_(args__test=[1]),
            "exp.yaml:7 @ args#test: args#test must be a mapping of keyword arguments, got list [1]",
            id="args-not-mapping",
        ),
        pytest.param(
            with_(seed="abc"), "exp.yaml:7 @ seed: seed must be an integer, got str 'abc'", id="seed-not-int"
        ),
        pytest.param(
            with_(system__dataloaders=[1]),
            "exp.yaml:7 @ system#dataloaders: system#dataloaders must be a mapping of modes "
            "(train, val, test, predict), got list [1]",
            id="dataloaders-not-mapping",
        ),
    ],
)
def test_first_line_names_id_and_location(config, first_line):
    with pytest.raises(ValidationError) as info:
        validate_structure(config, at(7))
    assert str(info.value).splitlines()[0] == first_line


def test_missing_required_keys():
    problems = find_problems({"vars": {}}, lambda id_: Location("exp.yaml", 1) if id_ == "" else None)
    assert [str(p) for p in problems] == [
        "exp.yaml:1 @ trainer: missing required top-level key 'trainer'",
        "exp.yaml:1 @ system: missing required top-level key 'system'",
    ]


def test_every_problem_is_reported_at_once_with_its_own_location():
    config = with_(trainr={}, system__optimiser={}, system__dataloaders__tets={}, args__fitt={})
    lines = {"trainr": 20, "system#optimiser": 9, "system#dataloaders#tets": 14, "args#fitt": 18}
    with pytest.raises(ValidationError) as info:
        validate_structure(config, lambda id_: Location("exp.yaml", lines[id_]) if id_ in lines else None)
    assert str(info.value).splitlines() == [
        "exp.yaml:20 @ trainr: unknown top-level key 'trainr' (did you mean 'trainer'?)",
        "exp.yaml:9 @ system#optimiser: unknown key 'optimiser' in system (did you mean 'optimizer'?)",
        "exp.yaml:14 @ system#dataloaders#tets: unknown mode 'tets' in system#dataloaders (did you mean 'test'?)",
        "exp.yaml:18 @ args#fitt: unknown stage 'fitt' in args (did you mean 'fit'?)",
        "(4 problems in the config)",
    ]
    assert [e.id for e in info.value.errors] == [
        "trainr",
        "system#optimiser",
        "system#dataloaders#tets",
        "args#fitt",
    ]


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(with_(system="%base.yaml#system"), id="system-macro"),
        pytest.param(with_(system__dataloaders="@vars#loaders"), id="dataloaders-reference"),
        pytest.param(with_(args="%base.yaml#args"), id="args-macro"),
        pytest.param(with_(seed="$int('7')"), id="seed-expression"),
        pytest.param(with_(system__adapters__val={"_target_": "builtins.dict"}), id="adapters-component"),
    ],
)
def test_references_are_not_second_guessed(config):
    assert find_problems(config) == []


def test_validation_does_not_mutate_the_config():
    config = with_(trainr={}, system__optimiser={})
    before = copy.deepcopy(config)
    find_problems(config)
    assert config == before
