"""The MONAI-compatible raw-access API: get, set, update, [], in, del, copy, files, location."""

from __future__ import annotations

import pytest

from lighter.config import ConfigParser
from lighter.errors import COMMAND_LINE, Location, MissingReferenceError


def make():
    return ConfigParser({"a": {"b": [1, {"c": 2}]}, "n": 1})


@pytest.mark.parametrize(
    ("id_", "expected"),
    [
        pytest.param("a#b#1#c", 2, id="nested"),
        pytest.param("a::b::0", 1, id="double-colon"),
        pytest.param("missing", None, id="missing"),
        pytest.param("n#x", None, id="through-scalar"),
        pytest.param("a#b#9", None, id="index-out-of-range"),
    ],
)
def test_get(id_, expected):
    assert make().get(id_) == expected


def test_get_default_and_root():
    parser = make()
    assert parser.get("zzz", default=7) == 7
    assert parser.get() == parser.config == {"a": {"b": [1, {"c": 2}]}, "n": 1}


def test_getitem_contains_delitem():
    parser = make()
    assert parser["a#b#1"] == {"c": 2}
    assert "a#b#1#c" in parser and "a#x" not in parser
    del parser["a#b#1#c"]
    assert parser["a#b#1"] == {}
    with pytest.raises(MissingReferenceError):
        parser["a#b#1#c"]


def test_setitem_needs_parent_but_set_creates_it():
    parser = make()
    parser["a#new"] = 5
    assert parser["a#new"] == 5
    with pytest.raises(MissingReferenceError):
        parser["x#y#z"] = 1
    parser.set(3, "x#y#z")
    assert parser["x"] == {"y": {"z": 3}}
    parser.set({"fresh": True})
    assert parser.config == {"fresh": True}


def test_update_and_list_item():
    parser = make()
    parser.update({"a#b#0": 10, "n": "$@a#b#0 + 1"})
    assert parser.get_parsed_content("n") == 11


def test_set_copies_the_value():
    value = {"k": [1]}
    parser = make()
    parser["v"] = value
    parser.apply_overrides(["--v#k#0=2"])
    assert value == {"k": [1]}


def test_copy_is_independent():
    parser = make()
    parser.apply_overrides(["--n=5"])
    other = parser.copy()
    other["a#b#0"] = 100
    assert parser["a#b#0"] == 1
    assert other["n"] == 5 and other.location("n") == COMMAND_LINE
    assert parser.get_parsed_content("a") is not other.get_parsed_content("a")


def test_files_and_location(tmp_path):
    (tmp_path / "a.yaml").write_text("x:\n  y: 1\n")
    parser = ConfigParser()
    parser.read_config(tmp_path / "a.yaml")
    assert parser.files == [tmp_path / "a.yaml"]
    assert parser.location("x::y") == Location(str(tmp_path / "a.yaml"), 2, 6)
    assert parser.location("nowhere") is None
    assert make().location("n") is None
    assert make().files == []


def test_parse_then_resolve():
    parser = make()
    parser.parse()
    assert parser.get_parsed_content("a#b#1#c") == 2
