"""scale_batch_size rebuilds the System's loaders keeping their class and every argument (real Tuner)."""

from __future__ import annotations

import pytest
import torch
from pytorch_lightning.tuner import Tuner
from torch import nn
from torch.utils.data import DataLoader

from lighter import System
from lighter._system.dataloaders import recording_init_args
from lighter.config import ConfigParser
from lighter.engine.runner import build
from lighter.errors import SystemError_


class TaggedLoader(DataLoader):
    """A subclass with an argument of its own that it does not keep under its name."""

    def __init__(self, dataset, tag, **kwargs):
        super().__init__(dataset, **kwargs)
        self.label = f"loader-{tag}"


class KeepingLoader(DataLoader):
    """A subclass that keeps its own argument as an attribute of the same name."""

    def __init__(self, dataset, tag, **kwargs):
        super().__init__(dataset, **kwargs)
        self.tag = tag


def make_system(train, val):
    model = nn.Linear(4, 2)
    return System(
        model,
        {"train": train, "val": val},
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        criterion=nn.CrossEntropyLoss(),
    )


def tune(system, trainer):
    return Tuner(trainer()).scale_batch_size(
        system, mode="power", init_val=2, max_trials=2, steps_per_trial=1
    )


def test_a_recorded_subclass_keeps_its_class_and_every_argument(dataset, trainer):
    with recording_init_args():
        train = TaggedLoader(dataset, "t", batch_size=3, shuffle=True, drop_last=True, in_order=False)
        val = TaggedLoader(dataset, tag="v", batch_size=3, pin_memory_device="cpu", timeout=5)
    system = make_system(train, val)
    assert tune(system, trainer) == 4  # init_val 2, doubled once: the 2nd trial ran with 4
    train, val = system.train_dataloader(), system.val_dataloader()
    assert (type(train), type(val)) == (TaggedLoader, TaggedLoader)
    assert (train.batch_size, val.batch_size) == (4, 4)
    assert (train.label, val.label) == ("loader-t", "loader-v")
    assert train.in_order is False and train.drop_last is True
    assert isinstance(train.sampler, torch.utils.data.RandomSampler)
    assert (val.pin_memory_device, val.timeout) == ("cpu", 5)


def test_the_runner_records_the_arguments_of_config_built_loaders(dataset, trainer, tmp_path, monkeypatch):
    (tmp_path / "loaders.py").write_text(
        "from torch.utils.data import DataLoader\n\n\n"
        "class TaggedLoader(DataLoader):\n"
        "    def __init__(self, dataset, tag, **kwargs):\n"
        "        super().__init__(dataset, **kwargs)\n"
        "        self.label = tag\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loader = {
        "_target_": "loaders.TaggedLoader",
        "dataset": "$torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))",
        "tag": "from-config",
        "batch_size": 3,
        "in_order": False,
    }
    parser = ConfigParser(
        {
            "trainer": {"_target_": "pytorch_lightning.Trainer", "logger": False},
            "system": {
                "_target_": "lighter.System",
                "model": {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 2},
                "criterion": {"_target_": "torch.nn.CrossEntropyLoss"},
                "optimizer": {
                    "_target_": "torch.optim.SGD",
                    "params": "$@system#model.parameters()",
                    "lr": 0.1,
                },
                "dataloaders": {"train": loader, "val": "%#train"},
            },
        },
        globals={"torch": torch},
    )
    system, _ = build(parser)
    tune(system, trainer)
    train = system.train_dataloader()
    assert (type(train).__qualname__, train.label, train.in_order, train.batch_size) == (
        "TaggedLoader",
        "from-config",
        False,
        4,
    )


def test_an_unrecorded_loader_is_read_back_from_its_attributes(dataset, trainer):
    train = KeepingLoader(dataset, "k", batch_size=3, shuffle=True, in_order=False)
    system = make_system(train, DataLoader(dataset, batch_size=3, drop_last=True))
    tune(system, trainer)
    train, val = system.train_dataloader(), system.val_dataloader()
    assert (type(train), train.tag, train.in_order, train.batch_size) == (KeepingLoader, "k", False, 4)
    assert isinstance(train.sampler, torch.utils.data.RandomSampler)
    assert (type(val), val.drop_last, val.batch_size) == (DataLoader, True, 4)


def test_an_unrecorded_loader_whose_argument_cannot_be_read_back(dataset):
    system = make_system(TaggedLoader(dataset, "t", batch_size=3), DataLoader(dataset, batch_size=3))
    with pytest.raises(SystemError_) as info:
        system.batch_size = 4
    assert str(info.value).splitlines()[0] == (
        "@ system#dataloaders#train: cannot rebuild TaggedLoader with a new batch size: its argument 'tag' "
        "is not kept as an attribute of the same name (keep it as self.tag in __init__, or build the loader "
        "from a config (lighter records every argument of the loaders it builds))"
    )


def test_recording_ends_with_the_block(dataset):
    with recording_init_args():
        inside = DataLoader(dataset, batch_size=2)
    outside = DataLoader(dataset, batch_size=2)
    assert "_lighter_init_args" in vars(inside) and "_lighter_init_args" not in vars(outside)
    assert outside.batch_size == 2 and len(list(outside)) == 32  # the class still works as before


def test_recording_leaves_dataloaders_signature_and_its_checks_as_they_were(dataset, tmp_path):
    """Once the hook is installed, DataLoader's own signature (what config checks read) is unchanged:
    a wrong batch size is still caught before building, in the same process as a finished run."""
    import inspect

    before = inspect.signature(DataLoader.__init__)
    with recording_init_args():
        DataLoader(dataset, batch_size=2)
    assert list(inspect.signature(DataLoader).parameters) == list(before.parameters)[1:]
    path = tmp_path / "exp.yaml"
    path.write_text(
        "loader:\n  _target_: torch.utils.data.DataLoader\n  dataset: []\n  batch_size: two\n  shufle: true\n"
    )
    parser = ConfigParser()
    parser.read_config(str(path))
    found = sorted(str(problem).removeprefix(f"{tmp_path}/") for problem in parser.find_problems())
    assert found == [
        "exp.yaml:4 @ loader#batch_size: expects int, got 'two' (str)",
        "exp.yaml:5 @ loader: torch.utils.data.DataLoader got an unexpected argument 'shufle' (did you mean 'shuffle'?)",
    ], found
