"""Command-line overrides: YAML-typed values, list items, new keys, locations."""

from __future__ import annotations

import pytest

from lighter.config import ConfigParser, parse_overrides
from lighter.errors import COMMAND_LINE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("--a#b=20", ("a#b", 20), id="int"),
        pytest.param("a#b=20", ("a#b", 20), id="no-dashes"),
        pytest.param("--a=0.5", ("a", 0.5), id="float"),
        pytest.param("--a=[1,2]", ("a", [1, 2]), id="list"),
        pytest.param("--a={x: 1}", ("a", {"x": 1}), id="dict"),
        pytest.param("--a=null", ("a", None), id="null"),
        pytest.param("--a=true", ("a", True), id="bool"),
        pytest.param("--a='20'", ("a", "20"), id="quoted-string"),
        pytest.param("--a=text", ("a", "text"), id="plain-string"),
        pytest.param("--a=$@b + 1", ("a", "$@b + 1"), id="expression"),
        pytest.param("--a=@b#c", ("a", "@b#c"), id="reference"),
        pytest.param("--a=%b#c", ("a", "%b#c"), id="macro"),
        pytest.param("--a::b=1", ("a#b", 1), id="double-colon"),
        pytest.param("--a=x=y", ("a", "x=y"), id="equals-in-value"),
        pytest.param("--a=", ("a", None), id="empty-value"),
    ],
)
def test_parse_overrides(text, expected):
    assert parse_overrides([text]) == [expected]


def test_mapping_values_are_taken_as_they_are():
    assert parse_overrides({"a::b": "20"}) == [("a#b", "20")]


@pytest.mark.parametrize(
    ("override", "id_", "value"),
    [
        pytest.param("--trainer#max_epochs=3", "trainer#max_epochs", 3, id="existing-key"),
        pytest.param(
            "--trainer#callbacks#1#monitor=val_loss",
            "trainer#callbacks#1#monitor",
            "val_loss",
            id="list-item-by-index",
        ),
        pytest.param("--trainer#devices=2", "trainer#devices", 2, id="new-key"),
        pytest.param("--args#fit#ckpt_path=best.ckpt", "args#fit#ckpt_path", "best.ckpt", id="new-parents"),
        pytest.param("--trainer#callbacks#0=[1, 2]", "trainer#callbacks#0", [1, 2], id="replace-list-item"),
    ],
)
def test_apply_overrides(override, id_, value):
    parser = ConfigParser(
        {"trainer": {"max_epochs": 1, "callbacks": [{"monitor": "loss"}, {"monitor": "acc"}]}}
    )
    parser.apply_overrides([override])
    assert parser[id_] == value
    assert parser.location(id_) == COMMAND_LINE


def test_override_value_sub_ids_are_located_on_command_line():
    parser = ConfigParser({"a": 1})
    parser.apply_overrides(["--b={x: [1, 2]}"])
    assert parser.location("b#x#1") == COMMAND_LINE


def test_overrides_apply_in_order_and_invalidate_resolution():
    parser = ConfigParser({"n": 1, "m": "$@n * 10"})
    assert parser.get_parsed_content("m") == 10
    parser.apply_overrides(["--n=2", "--n=3"])
    assert parser.get_parsed_content("m") == 30


def test_override_does_not_touch_the_callers_dict():
    given = {"trainer": {"max_epochs": 1}}
    parser = ConfigParser(given)
    parser.apply_overrides({"trainer#max_epochs": 5})
    assert given == {"trainer": {"max_epochs": 1}}
    assert parser["trainer#max_epochs"] == 5


# A component whose signature decides which new keys an override may create.
_TRAINER = {"_target_": "pytorch_lightning.Trainer", "limit_train_batches": 2}


@pytest.mark.parametrize(
    ("overrides", "id_", "value"),
    [
        pytest.param(
            ["--trainer#limit_val_batches=1"],
            "trainer#limit_val_batches",
            1,
            id="parameter-close-to-a-sibling",
        ),
        pytest.param(
            ["--trainer#limit_train_batches=3", "--trainer#limit_val_batches=1"],
            "trainer#limit_val_batches",
            1,
            id="after-overriding-the-sibling",
        ),
        pytest.param(["--trainer#_disabled_=true"], "trainer#_disabled_", True, id="reserved-key"),
        pytest.param(
            ["--model#in_features=3", "--model#out_features=4"],
            "model#out_features",
            4,
            id="parameter-of-another-target",
        ),
    ],
)
def test_new_key_that_the_target_takes_is_accepted(overrides, id_, value):
    parser = ConfigParser(
        {"trainer": dict(_TRAINER), "model": {"_target_": "torch.nn.Linear", "in_features": 2}}
    )
    parser.apply_overrides(overrides)
    assert parser[id_] == value
