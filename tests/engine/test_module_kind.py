"""System or the user's own LightningModule, and ``data``: what the config alone decides (no import)."""

from __future__ import annotations

import pytest

from lighter.engine.module_kind import has_data, literal_kind
from lighter.engine.prune import check_stage, missing_parts, pruned_ids
from lighter.engine.schema import find_problems
from lighter.errors import StageError

OWN = {
    "trainer": {"_target_": "pytorch_lightning.Trainer"},
    "system": {"_target_": "project.MyGAN", "lr": 0.05, "optimizer": "adam", "criterion": "bce"},
}
SYSTEM = {
    "trainer": {"_target_": "pytorch_lightning.Trainer"},
    "data": {"_target_": "project.Data"},
    "system": {
        "_target_": "lighter.System",
        "model": {"_target_": "torch.nn.Linear"},
        "criterion": {"_target_": "torch.nn.MSELoss"},
        "optimizer": {"_target_": "torch.optim.SGD"},
    },
}


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        pytest.param({"_target_": "lighter.System"}, True, id="lighter.System"),
        pytest.param({"_target_": "lighter.system.System"}, True, id="lighter.system.System"),
        pytest.param({"model": {}}, True, id="no-target"),
        pytest.param({"_target_": "project.MyGAN"}, None, id="other-target"),
        pytest.param({"_target_": "$make_module"}, None, id="expression-target"),
    ],
)
def test_literal_kind(system, expected):
    assert literal_kind({"system": system}) is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(None, False, id="absent"),
        pytest.param({"_target_": "project.Data"}, True, id="given"),
        pytest.param({"_target_": "project.Data", "_disabled_": True}, False, id="disabled"),
        pytest.param({"_target_": "project.Data", "_disabled_": "$False"}, True, id="expression-flag"),
    ],
)
def test_has_data(data, expected):
    assert has_data({"data": data}) is expected


def test_own_module_arguments_are_not_system_keys():
    assert find_problems(OWN) == []
    assert [str(p) for p in find_problems({**OWN, "system": {"_target_": "lighter.System", "lr": 1}})] == [
        "@ system#lr: unknown key 'lr' in system (expected one of: model, criterion, optimizer, scheduler, "
        "inferer, metrics, dataloaders, adapters)"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            5, "@ data: data must be a LightningDataModule component (a mapping with _target_), got int 5"
        ),
        pytest.param(
            {"batch_size": 8},
            "@ data: data needs a _target_: the LightningDataModule class to build "
            "(e.g. data: {_target_: project.datamodules.MyData, batch_size: 32})",
        ),
    ],
)
def test_data_must_be_a_component(data, message):
    assert [str(p) for p in find_problems({**SYSTEM, "data": data})] == [message]


@pytest.mark.parametrize("stage", ["fit", "validate", "test", "predict", "lr_find", "scale_batch_size"])
def test_own_module_keeps_its_arguments_and_needs_no_system_parts(stage):
    assert missing_parts(OWN, stage) == []
    check_stage(OWN, stage)
    assert pruned_ids({**OWN, "args": {"test": {}, "fit": {}}}, stage) == [
        f"args#{name}" for name in ("test", "fit") if name != stage
    ]


def test_system_with_data_needs_no_dataloaders():
    assert missing_parts(SYSTEM, "fit") == []
    assert missing_parts({**SYSTEM, "data": None}, "fit") == ["system#dataloaders#train"]
    assert missing_parts(SYSTEM, "fit", system=False) == []


def test_data_and_a_dataloader_the_stage_uses():
    both = {**SYSTEM, "system": {**SYSTEM["system"], "dataloaders": {"val": {"_target_": "x"}}}}
    with pytest.raises(StageError) as info:
        check_stage(both, "fit")
    assert (
        str(info.value)
        .splitlines()[0]
        .startswith(
            "@ system#dataloaders#val: both data and system#dataloaders#val give the 'fit' stage its val data"
        )
    )
    check_stage(both, "test")  # test reads neither train nor val
