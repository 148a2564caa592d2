"""Loading YAML/JSON with a location for every id."""

from __future__ import annotations

import json

import pytest

from lighter.config.loader import load_file, load_text
from lighter.errors import ConfigSyntaxError, Location

YAML = """\
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 3
  callbacks:
    - _target_: a.B
    - 7
vars: {lr: 0.1, n: [1, 2]}
"""


@pytest.mark.parametrize(
    ("id_", "line", "column"),
    [
        pytest.param("", 1, 1, id="root"),
        pytest.param("trainer", 1, 1, id="multi-line-value-points-at-its-key"),
        pytest.param("trainer#max_epochs", 3, 15, id="scalar-value"),
        pytest.param("trainer#callbacks#0", 5, 7, id="list-item-mapping"),
        pytest.param("trainer#callbacks#0#_target_", 5, 17, id="inside-list-item"),
        pytest.param("trainer#callbacks#1", 6, 7, id="list-item-scalar"),
        pytest.param("vars#lr", 7, 12, id="flow-mapping"),
        pytest.param("vars#n#1", 7, 24, id="flow-sequence"),
    ],
)
def test_yaml_locations(id_, line, column):
    _, locations = load_text(YAML, "exp.yaml")
    assert locations[id_] == Location("exp.yaml", line, column)


def test_yaml_values():
    data, _ = load_text(YAML, "exp.yaml")
    assert data == {
        "trainer": {
            "_target_": "pytorch_lightning.Trainer",
            "max_epochs": 3,
            "callbacks": [{"_target_": "a.B"}, 7],
        },
        "vars": {"lr": 0.1, "n": [1, 2]},
    }


def test_every_value_has_a_location():
    data, locations = load_text(YAML, "exp.yaml")
    expected = {
        "",
        "trainer",
        "trainer#_target_",
        "trainer#max_epochs",
        "trainer#callbacks",
        "trainer#callbacks#0",
        "trainer#callbacks#0#_target_",
        "trainer#callbacks#1",
        "vars",
        "vars#lr",
        "vars#n",
        "vars#n#0",
        "vars#n#1",
    }
    assert set(locations) == expected


def test_anchors_and_merge_keys():
    data, locations = load_text("base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert data == {"base": {"x": 1}, "d": {"x": 1, "y": 2}}
    assert locations["d#y"] == Location("f.yaml", 4, 6)


def test_duplicate_key_warns_and_last_wins():
    with pytest.warns(UserWarning, match="duplicate key 'a'"):
        data, _ = load_text("a: 1\na: 2\n", "f.yaml")
    assert data == {"a": 2}


def test_empty_file_is_empty_mapping():
    assert load_text("", "f.yaml")[0] == {}
    assert load_text("# only a comment\n", "f.yaml")[0] == {}


def test_json_numbers_and_locations(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"a": {"b": 1e5, "c": [1, 2]}}, indent=2))
    data, locations = load_file(path)
    assert data == {"a": {"b": 100000.0, "c": [1, 2]}}
    assert locations["a#b"].line == 3


def test_unsafe_tag_is_a_syntax_error():
    with pytest.raises(ConfigSyntaxError, match="f.yaml:1:4"):
        load_text("a: !!python/name:os.system\n", "f.yaml")


def test_unknown_suffix(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a: 1")
    with pytest.raises(ConfigSyntaxError, match="unsupported config file"):
        load_file(path)
