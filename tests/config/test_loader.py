"""Loading YAML/JSON with a location for every id."""

from __future__ import annotations

import json
import math
import os

import pytest

from lighter.config.loader import load_file, load_text
from lighter.errors import ConfigReadError, ConfigSyntaxError, Location

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
    with pytest.warns(UserWarning, match="f.yaml:2:1: Duplicate key: `a`"):
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


# YAML 1.2 core schema: what PyYAML's YAML 1.1 reads otherwise is marked "1.1:" (see
# docs/configuration.md, "Deliberate differences from MONAI").
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1e-3", 0.001, id="exponent-without-dot"),  # 1.1: string
        pytest.param("1E5", 100000.0, id="capital-exponent"),  # 1.1: string
        pytest.param(".5", 0.5, id="leading-dot"),
        pytest.param("-1.5e-3", -0.0015, id="negative-exponent"),
        pytest.param("+5", 5, id="plus-int"),
        pytest.param("010", 10, id="leading-zero-is-decimal"),  # 1.1: octal 8
        pytest.param("0o10", 8, id="octal"),  # 1.1: string
        pytest.param("0x1F", 31, id="hex"),
        pytest.param("1_000", "1_000", id="underscore-is-a-string"),  # 1.1: 1000
        pytest.param("1:30", "1:30", id="sexagesimal-is-a-string"),  # 1.1: 90
        pytest.param("true", True, id="true"),
        pytest.param("True", True, id="True"),
        pytest.param("TRUE", True, id="TRUE"),
        pytest.param("false", False, id="false"),
        pytest.param("yes", "yes", id="yes-is-a-string"),  # 1.1: True
        pytest.param("no", "no", id="no-is-a-string"),  # 1.1: False
        pytest.param("on", "on", id="on-is-a-string"),  # 1.1: True
        pytest.param("off", "off", id="off-is-a-string"),  # 1.1: False
        pytest.param("y", "y", id="y-is-a-string"),
        pytest.param("2024-01-31", "2024-01-31", id="date-is-a-string"),  # 1.1: datetime.date
        pytest.param("~", None, id="tilde-null"),
        pytest.param("null", None, id="null"),
        pytest.param("'1e-3'", "1e-3", id="quoted-stays-a-string"),
        pytest.param("!!str 010", "010", id="explicit-str"),
        pytest.param("!!float 1", 1.0, id="explicit-float"),
        pytest.param("!!int 0x10", 16, id="explicit-int"),
        pytest.param("[1e3, .inf, -.inf]", [1000.0, math.inf, -math.inf], id="in-a-flow-list"),
    ],
)
def test_scalars_follow_yaml_1_2(text, expected):
    data, _ = load_text(f"v: {text}\n", "f.yaml")
    assert data["v"] == expected
    assert type(data["v"]) is type(expected)


def test_nan():
    assert math.isnan(load_text("v: .nan\n", "f.yaml")[0]["v"])


def _alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        pytest.param("a: !!float x\n", "f.yaml:1:4 @ a: !!float needs a number, got 'x'", id="float-tag"),
        pytest.param("a: !!int x\n", "f.yaml:1:4 @ a: !!int needs an integer, got 'x'", id="int-tag"),
        pytest.param(
            "a: !!int 1_000\n", "f.yaml:1:4 @ a: !!int needs an integer, got '1_000'", id="int-tag-1.1"
        ),
        pytest.param(
            "a: !!bool yes\n", "f.yaml:1:4 @ a: !!bool needs true or false, got 'yes'", id="bool-tag"
        ),
        pytest.param(
            "a: !!python/object/apply:os.system [echo hi]\n",
            "f.yaml:1:4 @ a: unsupported tag '!!python/object/apply:os.system' (a config takes YAML's core "
            "tags only: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
            id="python-tag-on-a-list",
        ),
        pytest.param(
            "a:\n  b: !custom {x: 1}\n", "f.yaml:2:6 @ a#b: unsupported tag '!custom'", id="custom-tag"
        ),
        pytest.param("a: !!binary aGk=\n", "f.yaml:1:4 @ a: unsupported tag '!!binary'", id="yaml-1.1-tag"),
        pytest.param(
            "a: {[1, 2]: 3}\n",
            "f.yaml:1:5 @ a: a key must be a plain value (a string or a number), not a list",
            id="list-as-key",
        ),
        pytest.param(
            "a:\n  ? {x: 1}\n  : 3\n",
            "f.yaml:2:5 @ a: a key must be a plain value (a string or a number), not a mapping",
            id="mapping-as-key",
        ),
        pytest.param(
            "a: &x [1, *x]\n",
            "f.yaml:1:4 @ a#1: recursive alias: a value that contains itself",
            id="recursive-alias",
        ),
        pytest.param(
            "a: &x {b: {c: *x}}\n",
            "f.yaml:1:12 @ a#b#c: recursive alias: a value that contains itself",
            id="recursive-alias-deeper",
        ),
        pytest.param(
            "a: &x {<<: *x}\n",
            "f.yaml:1:4 @ a: recursive alias: a value that contains itself",
            id="recursive-merge",
        ),
        pytest.param(
            "a: " + "9" * 5000 + "\n",
            "f.yaml:1:4 @ a: an integer of 5,000 digits is longer than Python reads (4,300 digits)",
            id="5000-digit-integer",
        ),
        pytest.param(
            "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 300)),
            "f.yaml:201:401 @ a#k1#k2#k3#k4#k5#...: nesting deeper than 200 levels",
            id="deep-nesting",
        ),
        pytest.param(
            "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
            "f.yaml:1:1003: exceeded maximum nesting depth (while increasing flow level)",
            id="nesting-10000-levels",
        ),
        pytest.param(
            _alias_bomb(),
            "f.yaml:1:24 @ a4#7#8#9#0#2: aliases expand to more than 100,000 values (an alias bomb?)",
            id="billion-laughs",
        ),
    ],
)
def test_bad_yaml_is_a_located_syntax_error(text, first_line):
    with pytest.raises(ConfigSyntaxError) as caught:
        load_text(text, "f.yaml")
    assert str(caught.value).splitlines()[0].startswith(first_line)


def test_merge_keys_follow_yaml_1_1_order_without_duplicate_warnings(recwarn):
    text = "a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nc:\n  x: 9\n  <<: [*a, *b]\n"
    data, locations = load_text(text, "f.yaml")
    assert data["c"] == {"x": 9, "y": 1, "z": 2}  # written keys win, then earlier merge sources
    assert locations["c#y"] == Location("f.yaml", 1, 17)
    assert not recwarn.list


def test_honest_anchors_are_copied(recwarn):
    data, locations = load_text(_alias_bomb(levels=3), "f.yaml")
    assert len(data["a3"]) == 10 and data["a3"][9][9][9] == ["lol"] * 10
    assert data["a3"][0] is not data["a3"][1]  # copies: changing one never changes another
    assert locations["a3#9#9#9"] == Location("f.yaml", 1, 5)  # where the anchored value is written


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        pytest.param("a: é\n".encode("utf-8-sig"), "utf-8 with BOM", id="utf-8-bom"),
        pytest.param("a: é\n".encode("utf-16"), "utf-16 with BOM", id="utf-16-bom"),
        pytest.param("a: é\n".encode("utf-32"), "utf-32 with BOM", id="utf-32-bom"),
    ],
)
def test_unicode_with_a_byte_order_mark_is_read(tmp_path, content, encoding):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    assert load_file(path)[0] == {"a": "é"}, encoding


@pytest.mark.parametrize(
    ("content", "where"),
    [
        pytest.param("a: 1\n# café\n".encode("latin-1"), "c.yaml:2:6", id="latin-1"),
        pytest.param(b"a: 1\nb: x\xffy\n", "c.yaml:2:5", id="stray-byte"),
        pytest.param(b"\xff\xfea\x00:\x00 \x00\x00\xd8\n\x00", "c.yaml:1:4", id="broken-utf-16"),
    ],
)
def test_text_that_is_not_unicode_is_a_located_error(tmp_path, content, where):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigSyntaxError) as caught:
        load_file(path)
    assert str(caught.value).startswith(f"{path.parent}/{where}: the file is not UTF")
    assert "(save it as UTF-8)" in str(caught.value)


def test_json_nested_too_deep(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"a": ' + "[" * 300 + "]" * 300 + "}")
    with pytest.raises(ConfigSyntaxError, match=r"@ a#0#0#0#0#0#\.\.\.: nesting deeper than 200 levels"):
        load_file(path)


def test_folder_and_symlink_loop_are_read_errors(tmp_path):
    folder = tmp_path / "exp.yaml"
    folder.mkdir()
    (folder / "inner.yaml").write_text("a: 1\n")
    with pytest.raises(ConfigReadError) as caught:
        load_file(folder)
    assert (
        str(caught.value)
        == f"cannot read config file '{folder}': it is a folder (did you mean '{folder}/inner.yaml'?)"
    )
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(loop)
    with pytest.raises(ConfigReadError, match=r"loop.yaml': too many levels of symbolic links$"):
        load_file(loop)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_a_read_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    with pytest.raises(ConfigReadError, match=r"c.yaml': permission denied$"):
        load_file(path)
