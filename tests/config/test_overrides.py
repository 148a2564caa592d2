"""Command-line overrides: YAML-typed values, list items, new keys, locations."""

from __future__ import annotations

import pytest

from lighter.config import ConfigParser, parse_overrides
from lighter.errors import COMMAND_LINE, OverrideError


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


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--system#optimizer#lr=1e-3"], [("system#optimizer#lr", 0.001)], id="yaml-1.2-float"),
        pytest.param(["--a=yes"], [("a", "yes")], id="yes-stays-a-string"),
        pytest.param(["--a=010"], [("a", 10)], id="leading-zero-is-decimal"),
        pytest.param(["--trainer#max_epochs", "3"], [("trainer#max_epochs", 3)], id="space-separated"),
        pytest.param(["--lr", "-1e-3", "--b=2"], [("lr", -0.001), ("b", 2)], id="space-separated-negative"),
        pytest.param(["--a", "--b=2"], None, id="no-value-before-another-option"),
        pytest.param(["--~system#scheduler"], [("~system#scheduler", None)], id="delete"),
        pytest.param(["--~system#scheduler=null"], [("~system#scheduler", None)], id="delete-file-spelling"),
        pytest.param(["--~a", "--b", "1"], [("~a", None), ("b", 1)], id="delete-takes-no-value"),
        pytest.param(["--+trainer#callbacks=[1]"], [("+trainer#callbacks", [1])], id="extend"),
        pytest.param(["--=system#metrics#val=[2]"], [("=system#metrics#val", [2])], id="replace"),
        pytest.param(["--=a", "[2]"], [("=a", [2])], id="replace-space-separated"),
    ],
)
def test_parse_command_line_habits(args, expected):
    if expected is None:
        with pytest.raises(OverrideError, match=r"^command line: bad override '--a': expected --ID=VALUE"):
            parse_overrides(args)
    else:
        assert parse_overrides(args) == expected


_BASE = {
    "trainer": {"max_epochs": 1, "callbacks": [{"monitor": "loss"}]},
    "system": {"scheduler": {"x": 1}, "metrics": {"val": [1, 2], "opts": {"a": 1, "b": {"c": 1}}}},
}


@pytest.mark.parametrize(
    ("overrides", "id_", "expected"),
    [
        pytest.param(["--~system#scheduler"], "system", {"metrics": _BASE["system"]["metrics"]}, id="delete"),
        pytest.param(["--~system#nothing_like_it"], "system", _BASE["system"], id="delete-absent-is-fine"),
        pytest.param(
            ["--+trainer#callbacks=[{monitor: acc}]"],
            "trainer#callbacks",
            [{"monitor": "loss"}, {"monitor": "acc"}],
            id="extend-a-list",
        ),
        pytest.param(
            ["--+system#metrics#opts={b: 2, z: 3}"],
            "system#metrics#opts",
            {"a": 1, "b": 2, "z": 3},
            id="shallow-update-of-a-dict",
        ),
        pytest.param(["--+trainer#plugins=[1]"], "trainer#plugins", [1], id="plus-creates-when-absent"),
        pytest.param(["--=system#metrics#val=[3]"], "system#metrics#val", [3], id="replace"),
    ],
)
def test_key_prefixes_on_the_command_line(overrides, id_, expected):
    parser = ConfigParser(_BASE)
    parser.apply_overrides(overrides)
    assert parser[id_] == expected
    assert "~system" not in parser.config and "+trainer" not in parser.config


def test_extended_items_are_located_on_the_command_line():
    parser = ConfigParser(_BASE)
    parser.apply_overrides(["--+trainer#callbacks=[{monitor: acc}]"])
    assert parser.location("trainer#callbacks#1#monitor") == COMMAND_LINE
    assert parser.location("trainer#callbacks#0") is None  # still the base config's (no file here)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        pytest.param(
            "--trainer.max_epochs=1",
            "command line @ trainer.max_epochs: override creates a new key 'trainer.max_epochs'; ids join keys "
            "with '#', not '.' (did you mean 'trainer#max_epochs'?)",
            id="dotted-path",
        ),
        pytest.param(
            "--system#metrics.val=[1]",
            "command line @ system#metrics.val: override creates a new key 'metrics.val'; ids join keys "
            "with '#', not '.' (did you mean 'system#metrics#val'?)",
            id="dotted-path-below-the-top",
        ),
        pytest.param(
            "--trainer#max_epochs==1",
            "command line @ trainer#max_epochs: bad value in override '--trainer#max_epochs==1': the value "
            "starts with '=' (did you mean --trainer#max_epochs=1? (quote a string that starts with '=': "
            "--trainer#max_epochs='\"=1\"'))",
            id="double-equals",
        ),
        pytest.param(
            "--~system#scheduler=5",
            "command line @ system#scheduler: '--~system#scheduler' deletes the key and takes no value, got '5' "
            "(write --~system#scheduler to delete it, or --system#scheduler=5 to set it)",
            id="delete-with-a-value",
        ),
        pytest.param(
            "--~system#schedular",
            "command line @ system#schedular: '--~system#schedular' deletes nothing: there is no key "
            "'schedular' (did you mean '--~system#scheduler'?)",
            id="delete-a-typo",
        ),
        pytest.param(
            "--+trainer#max_epochs=[1]",
            "command line @ trainer#max_epochs: '--+trainer#max_epochs' merges a dict into a dict or a list "
            "into a list, not a list into a int (write --trainer#max_epochs=... to replace it)",
            id="plus-kind-mismatch",
        ),
        pytest.param(
            "--a=!!python/object/apply:os.system [ls]",
            "command line @ a: bad value in override '--a=!!python/object/apply:os.system [ls]': unsupported "
            "tag '!!python/object/apply:os.system'",
            id="python-tag",
        ),
        pytest.param(
            "--a=!!float x",
            "command line @ a: bad value in override '--a=!!float x': !!float needs a number, got 'x'",
            id="float-tag",
        ),
    ],
)
def test_command_line_mistakes(override, expected):
    parser = ConfigParser(_BASE)
    with pytest.raises(OverrideError) as caught:
        parser.apply_overrides([override])
    assert str(caught.value).splitlines()[0].startswith(expected)
    assert parser.config == _BASE


def test_a_value_with_a_hash_stays_a_string():
    # `1#2` is no typo the parser can tell; the type check of the target reports it when it is built.
    assert parse_overrides(["--trainer#max_epochs=1#2"]) == [("trainer#max_epochs", "1#2")]


def test_target_check_of_new_keys_can_wait():
    parser = ConfigParser({"trainer": {"_target_": "pytorch_lightning.Trainer", "max_epochs": 1}})
    parser.apply_overrides(["--trainer#fast_dev_rn=true", "--trainer#accelerator=cpu"], check_targets=False)
    assert parser["trainer#fast_dev_rn"] is True  # not checked yet
    with pytest.raises(OverrideError) as caught:
        parser.check_overrides()
    assert str(caught.value) == (
        "command line @ trainer#fast_dev_rn: override creates a new key 'fast_dev_rn', which "
        "pytorch_lightning.Trainer does not take (did you mean 'trainer#fast_dev_run'?)"
    )
    parser.check_overrides()  # each check runs once


def test_waiting_target_check_still_catches_a_sibling_typo():
    parser = ConfigParser({"trainer": {"_target_": "pytorch_lightning.Trainer", "limit_train_batches": 1}})
    parser.apply_overrides(["--trainer#limit_val_batches=1", "--trainer#max_epoch=2"], check_targets=False)
    with pytest.raises(OverrideError, match=r"'max_epoch', which pytorch_lightning.Trainer does not take"):
        parser.check_overrides()
