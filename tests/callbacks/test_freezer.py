"""Freezer on real fits: frozen weights do not move (weight decay, momentum), then train."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from tests.callbacks.helpers import fit
from torch import nn

from lighter.callbacks import Freezer
from lighter.errors import LighterError


def make_model() -> nn.Module:
    torch.manual_seed(0)
    # parameters: 0.weight, 0.bias, 2.weight, 2.bias
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


class Snapshots(pl.Callback):
    """Copies of the parameters after every optimizer step and at every epoch end."""

    def __init__(self) -> None:
        self.steps: list[dict[str, torch.Tensor]] = []
        self.epochs: list[dict[str, torch.Tensor]] = []

    @staticmethod
    def _copy(pl_module):
        return {k: v.detach().clone() for k, v in pl_module.model.named_parameters()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append(self._copy(pl_module))

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs.append(self._copy(pl_module))


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


OPTIMIZERS = [
    pytest.param(lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.5), id="adamw-weight-decay"),
    pytest.param(
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.5), id="sgd-momentum-decay"
    ),
]


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS)
def test_frozen_until_epoch_then_trained(make_optimizer):
    model = make_model()
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    snapshots = Snapshots()

    fit(
        model,
        [Freezer(name_starts_with="0.", until_epoch=2), snapshots],
        make_optimizer(model.parameters()),
        max_epochs=3,
    )

    first, second, third = snapshots.epochs
    assert changed(initial, first) == {"2.weight", "2.bias"}
    assert changed(initial, second) == {"2.weight", "2.bias"}
    assert changed(second, third) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_until_step_with_model_prefixed_names():
    model = make_model()
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    snapshots = Snapshots()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)

    fit(model, [Freezer(names=["model.2.weight", "2.bias"], until_step=3), snapshots], optimizer, samples=20)

    assert [changed(initial, s) & {"2.weight", "2.bias"} for s in snapshots.steps[:3]] == [
        set(),
        set(),
        set(),
    ]
    assert changed(snapshots.steps[2], snapshots.steps[3]) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_only_exceptions_freeze_everything_else_for_the_whole_run():
    model = make_model()
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    snapshots = Snapshots()

    fit(
        model,
        [Freezer(except_name_starts_with="2."), snapshots],
        torch.optim.SGD(model.parameters(), lr=0.1),
        max_epochs=2,
    )

    assert changed(initial, snapshots.epochs[-1]) == {"2.weight", "2.bias"}


def test_parameters_frozen_by_the_user_stay_frozen():
    model = make_model()
    model[2].bias.requires_grad_(False)

    fit(
        model,
        [Freezer(names="0.weight", until_epoch=1)],
        torch.optim.SGD(model.parameters(), lr=0.1),
        max_epochs=2,
    )

    assert model[0].weight.requires_grad and not model[2].bias.requires_grad


@pytest.mark.parametrize(
    "kwargs, first_line",
    [
        pytest.param(
            {},
            "Freezer needs at least one of names, name_starts_with, except_names, except_name_starts_with",
            id="no-selector",
        ),
        pytest.param(
            {"names": "0.weight", "until_step": 2, "until_epoch": 1},
            "Freezer takes until_step or until_epoch, not both",
            id="both-limits",
        ),
        pytest.param(
            {"names": "0.weight", "until_epoch": -1},
            "Freezer's until_epoch must be a non-negative integer, got -1",
            id="negative-limit",
        ),
    ],
)
def test_construction_errors(kwargs, first_line):
    with pytest.raises(LighterError) as info:
        Freezer(**kwargs)
    assert str(info.value).splitlines()[0] == first_line


@pytest.mark.parametrize(
    "kwargs, first_line",
    [
        pytest.param(
            {"names": ["0.weight", "0.weigth"]},
            "Freezer's names has '0.weigth', which is no parameter of the model (did you mean '0.weight'?)",
            id="name-typo",
        ),
        pytest.param(
            {"names": "0.bias", "except_names": "model.2.bais"},
            "Freezer's except_names has 'model.2.bais', which is no parameter of the model (did you mean '2.bias'?)",
            id="except-name-typo",
        ),
        pytest.param(
            {"name_starts_with": "encoder."},
            "Freezer's name_starts_with has 'encoder.', which starts no parameter name of the model",
            id="prefix-matches-nothing",
        ),
    ],
)
def test_names_that_match_no_parameter_fail_at_setup(kwargs, first_line):
    model = make_model()
    with pytest.raises(LighterError) as info:
        fit(model, [Freezer(**kwargs)], torch.optim.SGD(model.parameters(), lr=0.1))
    assert str(info.value).splitlines()[0] == first_line
