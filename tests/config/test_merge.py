"""Merging several config files: recursive dicts, `a#b` keys, `+`, `=`, `~`, and locations."""

from __future__ import annotations

import textwrap

import pytest

from lighter.config import ConfigParser
from lighter.errors import Location

BASE = """\
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
  callbacks: [a, b]
  logger: {x: 1, y: 2}
vars:
  lr: 0.1
"""


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        pytest.param(
            "trainer: {max_epochs: 5}",
            {
                "_target_": "pytorch_lightning.Trainer",
                "max_epochs": 5,
                "callbacks": ["a", "b"],
                "logger": {"x": 1, "y": 2},
            },
            id="dicts-merge-recursively",
        ),
        pytest.param(
            "trainer: {callbacks: [c]}",
            {
                "_target_": "pytorch_lightning.Trainer",
                "max_epochs": 1,
                "callbacks": ["c"],
                "logger": {"x": 1, "y": 2},
            },
            id="lists-are-replaced",
        ),
        pytest.param(
            "trainer#max_epochs: 7",
            {
                "_target_": "pytorch_lightning.Trainer",
                "max_epochs": 7,
                "callbacks": ["a", "b"],
                "logger": {"x": 1, "y": 2},
            },
            id="hash-key",
        ),
        pytest.param(
            "trainer::callbacks::1: z",
            {
                "_target_": "pytorch_lightning.Trainer",
                "max_epochs": 1,
                "callbacks": ["a", "z"],
                "logger": {"x": 1, "y": 2},
            },
            id="double-colon-list-index",
        ),
        pytest.param(
            "trainer: {+callbacks: [c]}",
            {
                "_target_": "pytorch_lightning.Trainer",
                "max_epochs": 1,
                "callbacks": ["a", "b", "c"],
                "logger": {"x": 1, "y": 2},
            },
            id="plus-extends-list",
        ),
        pytest.param(
            "+trainer#logger: {y: 3, z: 4}",
            {
                "_target_": "pytorch_lightning.Trainer",
                "max_epochs": 1,
                "callbacks": ["a", "b"],
                "logger": {"x": 1, "y": 3, "z": 4},
            },
            id="plus-merges-dict",
        ),
        pytest.param(
            "trainer: {=logger: {z: 4}}",
            {
                "_target_": "pytorch_lightning.Trainer",
                "max_epochs": 1,
                "callbacks": ["a", "b"],
                "logger": {"z": 4},
            },
            id="equals-replaces",
        ),
        pytest.param(
            "trainer: {~logger: null, ~absent: null}",
            {"_target_": "pytorch_lightning.Trainer", "max_epochs": 1, "callbacks": ["a", "b"]},
            id="tilde-deletes",
        ),
        pytest.param("=trainer: {max_epochs: 2}", {"max_epochs": 2}, id="equals-top-level"),
    ],
)
def test_merge(tmp_path, second, expected):
    (tmp_path / "a.yaml").write_text(BASE)
    (tmp_path / "b.yaml").write_text(second + "\n")
    parser = ConfigParser()
    parser.read_config(f"{tmp_path / 'a.yaml'},{tmp_path / 'b.yaml'}")
    assert parser["trainer"] == expected
    assert parser["vars"] == {"lr": 0.1}


def test_later_file_wins_and_locations_follow(tmp_path):
    (tmp_path / "a.yaml").write_text(BASE)
    (tmp_path / "b.yaml").write_text(
        textwrap.dedent("""\
        # second file
        trainer:
          max_epochs: 5
          +callbacks: [c]
        """)
    )
    parser = ConfigParser()
    parser.read_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    assert parser.location("trainer#max_epochs") == Location(b, 3, 15)
    assert parser.location("trainer#_target_") == Location(a, 2, 13)
    assert parser.location("trainer#callbacks#2") == Location(b, 4, 16)
    assert parser.location("vars#lr") == Location(a, 7, 7)
    assert parser.files == [tmp_path / "a.yaml", tmp_path / "b.yaml"]


def test_replaced_subtree_forgets_old_locations(tmp_path):
    (tmp_path / "a.yaml").write_text("x: {a: 1, b: 2}\n")
    (tmp_path / "b.yaml").write_text("=x: {a: 3}\n")
    parser = ConfigParser()
    parser.read_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert parser.location("x#b") is None
    assert parser.location("x#a") == Location(str(tmp_path / "b.yaml"), 1, 9)


def test_read_config_keeps_meta_and_replaces_content(tmp_path):
    (tmp_path / "a.yaml").write_text("a: 1\n")
    parser = ConfigParser({"_meta_": {"version": 1}, "old": 1})
    parser.read_config(tmp_path / "a.yaml")
    assert parser.config == {"_meta_": {"version": 1}, "a": 1}


def test_read_config_from_dict_copies_it():
    given = {"a": {"b": 1}}
    parser = ConfigParser()
    parser.read_config(given)
    parser["a#b"] = 2
    assert given == {"a": {"b": 1}}
    assert parser.config == {"_meta_": {}, "a": {"b": 2}}


def test_hash_key_creates_missing_parents(tmp_path):
    (tmp_path / "a.yaml").write_text("a: 1\n")
    (tmp_path / "b.yaml").write_text("x#y#z: 2\n")
    parser = ConfigParser()
    parser.read_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert parser["x"] == {"y": {"z": 2}}


_OPTIMIZER = """\
system:
  optimizer:
    _target_: torch.optim.Adam
    lr: 0.001
    betas: [0.9, 0.99]
"""


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        pytest.param(
            "system: {optimizer: {_target_: torch.optim.SGD, lr: 0.1}}",
            {"_target_": "torch.optim.SGD", "lr": 0.1},
            id="nested-swap-replaces",
        ),
        pytest.param(
            "system#optimizer: {_target_: torch.optim.SGD, momentum: 0.9}",
            {"_target_": "torch.optim.SGD", "momentum": 0.9},
            id="hash-key-swap-replaces",
        ),
        pytest.param(
            "system: {optimizer: {_target_: torch.optim.Adam, lr: 0.1}}",
            {"_target_": "torch.optim.Adam", "lr": 0.1, "betas": [0.9, 0.99]},
            id="same-target-merges",
        ),
        pytest.param(
            "system#optimizer: {lr: 0.1}",
            {"_target_": "torch.optim.Adam", "lr": 0.1, "betas": [0.9, 0.99]},
            id="no-target-merges",
        ),
        pytest.param(
            "system: {+optimizer: {_target_: torch.optim.SGD, lr: 0.1}}",
            {"_target_": "torch.optim.SGD", "lr": 0.1, "betas": [0.9, 0.99]},
            id="plus-still-updates",
        ),
    ],
)
def test_a_swapped_component_replaces_the_old_one(tmp_path, second, expected):
    (tmp_path / "a.yaml").write_text(_OPTIMIZER)
    (tmp_path / "b.yaml").write_text(second + "\n")
    parser = ConfigParser()
    parser.read_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert parser["system#optimizer"] == expected
    if "betas" not in expected:
        assert parser.location("system#optimizer#betas") is None  # the old argument left no trace


def test_swap_is_decided_at_each_depth(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "model: {_target_: a.Net, encoder: {_target_: a.Enc, depth: 3}, width: 8}\n"
    )
    (tmp_path / "b.yaml").write_text("model: {encoder: {_target_: b.Enc, size: 2}}\n")
    parser = ConfigParser()
    parser.read_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert parser["model"] == {"_target_": "a.Net", "encoder": {"_target_": "b.Enc", "size": 2}, "width": 8}


def test_command_line_swaps_a_component():
    parser = ConfigParser(
        {"system": {"optimizer": {"_target_": "torch.optim.Adam", "lr": 0.001, "betas": [0.9, 0.99]}}}
    )
    parser.apply_overrides(["--system#optimizer={_target_: torch.optim.SGD, lr: 0.1}"])
    assert parser["system#optimizer"] == {"_target_": "torch.optim.SGD", "lr": 0.1}
