"""Stage requirements and pruning, as pure functions of the merged config."""

from __future__ import annotations

import copy

import pytest

from lighter.engine.prune import check_stage, missing_parts, plan_pruning, prune, pruned_ids
from lighter.errors import Location, StageError

FULL = {
    "trainer": {"_target_": "pytorch_lightning.Trainer"},
    "system": {
        "_target_": "lighter.System",
        "model": {"_target_": "torch.nn.Identity"},
        "criterion": {"_target_": "torch.nn.MSELoss"},
        "optimizer": {"_target_": "torch.optim.SGD"},
        "scheduler": {"_target_": "torch.optim.lr_scheduler.StepLR"},
        "inferer": {"_target_": "builtins.object"},
        "metrics": {"train": [], "val": [], "test": []},
        "dataloaders": {"train": {}, "val": {}, "test": {}, "predict": {}},
        "adapters": {"train": {}, "val": {}, "test": {}, "predict": {}},
    },
}


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        pytest.param(
            "fit",
            [
                "system#dataloaders#test",
                "system#dataloaders#predict",
                "system#metrics#test",
                "system#adapters#test",
                "system#adapters#predict",
            ],
            id="fit",
        ),
        pytest.param(
            "validate",
            [
                "system#optimizer",
                "system#scheduler",
                "system#dataloaders#train",
                "system#dataloaders#test",
                "system#dataloaders#predict",
                "system#metrics#train",
                "system#metrics#test",
                "system#adapters#train",
                "system#adapters#test",
                "system#adapters#predict",
            ],
            id="validate",
        ),
        pytest.param(
            "test",
            [
                "system#criterion",
                "system#optimizer",
                "system#scheduler",
                "system#dataloaders#train",
                "system#dataloaders#val",
                "system#dataloaders#predict",
                "system#metrics#train",
                "system#metrics#val",
                "system#adapters#train",
                "system#adapters#val",
                "system#adapters#predict",
            ],
            id="test",
        ),
        pytest.param(
            "predict",
            [
                "system#criterion",
                "system#optimizer",
                "system#scheduler",
                "system#dataloaders#train",
                "system#dataloaders#val",
                "system#dataloaders#test",
                "system#metrics",
                "system#adapters#train",
                "system#adapters#val",
                "system#adapters#test",
            ],
            id="predict-drops-all-metrics",
        ),
        pytest.param(
            "lr_find",
            [
                "system#dataloaders#test",
                "system#dataloaders#predict",
                "system#metrics#test",
                "system#adapters#test",
                "system#adapters#predict",
            ],
            id="lr_find",
        ),
    ],
)
def test_pruned_ids(stage, expected):
    assert pruned_ids(FULL, stage) == expected


def test_pruning_does_not_mutate_the_config():
    before = copy.deepcopy(FULL)
    for stage in ("fit", "test", "predict"):
        pruned_ids(FULL, stage)
    assert FULL == before


def test_absent_parts_are_not_pruned():
    config = {"system": {"model": {}, "dataloaders": {"test": {}}}}
    assert pruned_ids(config, "test") == []


def without(*ids):
    config = copy.deepcopy(FULL)
    for id_ in ids:
        *parents, key = id_.split("#")
        node = config
        for parent in parents:
            node = node[parent]
        del node[key]
    return config


@pytest.mark.parametrize(
    ("stage", "config", "missing"),
    [
        pytest.param("fit", FULL, [], id="fit-complete"),
        pytest.param("fit", without("system#optimizer"), ["system#optimizer"], id="fit-no-optimizer"),
        pytest.param(
            "fit",
            without("system#optimizer", "system#criterion"),
            ["system#optimizer", "system#criterion"],
            id="fit-no-optimizer-no-criterion",
        ),
        pytest.param("fit", without("system#dataloaders#val"), [], id="fit-val-optional"),
        pytest.param(
            "test", without("system#dataloaders#test"), ["system#dataloaders#test"], id="test-no-loader"
        ),
        pytest.param(
            "test", without("system#optimizer", "system#criterion"), [], id="test-needs-no-optimizer"
        ),
        pytest.param(
            "predict", without("system#dataloaders"), ["system#dataloaders#predict"], id="no-dataloaders"
        ),
        pytest.param("validate", without("system#model"), ["system#model"], id="no-model"),
        pytest.param(
            "fit",
            {"system": {**FULL["system"], "optimizer": {"_target_": "torch.optim.SGD", "_disabled_": True}}},
            ["system#optimizer"],
            id="disabled-is-missing",
        ),
        pytest.param(
            "test", {"system": {**FULL["system"], "dataloaders": "@vars#loaders"}}, [], id="reference"
        ),
    ],
)
def test_missing_parts(stage, config, missing):
    assert missing_parts(config, stage) == missing


@pytest.mark.parametrize(
    ("stage", "config", "first_line"),
    [
        pytest.param(
            "test",
            without("system#dataloaders#test"),
            "exp.yaml:12 @ system#dataloaders#test: stage 'test' needs system#dataloaders#test, "
            "which the config does not define",
            id="test-without-test-loader",
        ),
        pytest.param(
            "fit",
            without("system#optimizer", "system#criterion"),
            "exp.yaml:2 @ system#optimizer: stage 'fit' needs system#optimizer, which the config does not define "
            "(also missing: system#criterion)",
            id="fit-without-optimizer",
        ),
    ],
)
def test_check_stage_locates_the_closest_defined_parent(stage, config, first_line):
    lines = {"system": 2, "system#dataloaders": 12}
    with pytest.raises(StageError) as info:
        check_stage(config, stage, lambda id_: Location("exp.yaml", lines[id_]) if id_ in lines else None)
    assert str(info.value).splitlines()[0] == first_line


LOADERS = {
    "_target_": "lighter.System",
    "model": {"_target_": "torch.nn.Identity"},
    "dataloaders": {
        "train": {"_target_": "T", "dataset": "@vars#train_data"},
        "val": "%#train",
        "test": "%#val",
    },
}


def test_macro_from_a_pruned_source_is_inlined():
    config = {"vars": {"train_data": [1]}, "system": LOADERS}
    delete, inline = plan_pruning(config, "test")
    assert delete == ["system#dataloaders#train", "system#dataloaders#val"]
    # The chain test -> val -> train is followed; the copy's references keep their meaning.
    assert inline == {"system#dataloaders#test": {"_target_": "T", "dataset": "@vars#train_data"}}


def test_relative_ids_inside_an_inlined_copy_keep_pointing_at_the_source():
    system = {"model": {}, "dataloaders": {"train": {"dataset": "$f(@###model)", "n": 1}, "test": "%#train"}}
    delete, inline = plan_pruning({"system": system}, "test")
    assert delete == ["system#dataloaders#train"]
    assert inline == {"system#dataloaders#test": {"dataset": "$f(@system#model)", "n": 1}}


def test_a_reference_into_a_pruned_copy_source_keeps_it():
    system = {
        "model": {},
        "dataloaders": {"train": {"dataset": "@#sampler", "sampler": 1}, "test": "%#train"},
    }
    assert plan_pruning({"system": system}, "test") == ([], {})


@pytest.mark.parametrize(
    ("config", "kept"),
    [
        pytest.param(
            {"trainer": {"callbacks": ["$len(@system#dataloaders#train)"]}, "system": LOADERS},
            "system#dataloaders#train",
            id="expression-in-trainer",
        ),
        pytest.param(
            {
                "trainer": {"x": "@vars#n"},
                "vars": {"n": "@system#optimizer"},
                "system": {**LOADERS, "optimizer": {}},
            },
            "system#optimizer",
            id="through-a-used-var",
        ),
    ],
)
def test_referenced_parts_are_kept(config, kept):
    assert kept not in pruned_ids(config, "test")


def test_unused_vars_do_not_keep_parts():
    config = {"vars": {"unused": "@system#optimizer"}, "system": {**LOADERS, "optimizer": {}}}
    assert "system#optimizer" in pruned_ids(config, "test")


def test_other_stages_args_are_pruned():
    config = {"system": LOADERS, "args": {"fit": {"ckpt_path": "%system#dataloaders#train"}, "test": {}}}
    assert pruned_ids(config, "test")[0] == "args#fit"


# --- on a real ConfigParser -----------------------------------------------------------------------

EXPLODING = """
trainer: {_target_: pytorch_lightning.Trainer}
system:
  _target_: lighter.System
  model: {_target_: torch.nn.Linear, in_features: 2, out_features: 1}
  criterion: {_target_: torch.nn.MSELoss}
  optimizer: {_target_: torch.optim.SGD, params: "$@system#model.parameters()", lr: 0.1}
  scheduler: {_target_: torch.optim.lr_scheduler.StepLR, optimizer: "@system#optimizer", step_size: 1}
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      dataset: "$exec('raise RuntimeError(\\"the train data was built\\")')"
    test:
      _target_: torch.utils.data.DataLoader
      dataset: {_target_: torch.utils.data.TensorDataset, _args_: ["$torch.zeros(4, 2)", "$torch.zeros(4, 1)"]}
"""


@pytest.fixture
def parser(tmp_path):
    from lighter.config import ConfigParser

    path = tmp_path / "exp.yaml"
    path.write_text(EXPLODING)
    parser = ConfigParser()
    parser.read_config(path)
    return parser


def test_test_stage_never_builds_training_data_or_optimizer(parser):
    from lighter.system import System

    before = copy.deepcopy(parser.config)
    pruned = prune(parser, "test")
    assert parser.config == before  # the caller's parser is untouched
    assert "system#optimizer" not in pruned and "system#scheduler" not in pruned
    system = pruned.get_parsed_content("system")
    assert isinstance(system, System)
    assert system.optimizer is None and system.scheduler is None
    from pytorch_lightning.utilities.model_helpers import is_overridden

    # no train dataloader was built: the hook is Lightning's default, which Lightning reads as absent
    assert not is_overridden("train_dataloader", system) and system.test_dataloader() is not None


def test_the_unpruned_config_does_build_the_training_data(parser):
    """The counterpart that shows the exploding dataset would be noticed."""
    with pytest.raises(Exception, match="the train data was built"):
        parser.get_parsed_content("system")


def test_pruned_copy_keeps_locations(parser, tmp_path):
    pruned = prune(parser, "test")
    assert pruned.location("system#dataloaders#test") == parser.location("system#dataloaders#test")
    assert str(pruned.location("system#model")).startswith(str(tmp_path / "exp.yaml") + ":5")
