"""Resolution: `@` references, `%` macros, relative ids, laziness, memoization, no mutation."""

from __future__ import annotations

import copy
import gc
import sys
import textwrap

import pytest

from lighter.config import ConfigParser
from lighter.errors import CircularReferenceError, ExpressionError, Location, MissingReferenceError


@pytest.mark.parametrize(
    ("config", "id_", "expected"),
    [
        pytest.param({"a": 1, "b": "@a"}, "b", 1, id="reference"),
        pytest.param({"a": {"b": [5, 6]}, "c": "@a#b#1"}, "c", 6, id="nested-reference"),
        pytest.param({"a": {"b": [5, 6]}, "c": "@a::b::0"}, "c", 5, id="double-colon"),
        pytest.param({"a": 1, "b": "@a", "c": "@b"}, "c", 1, id="chain"),
        pytest.param({"a": "user@example.com"}, "a", "user@example.com", id="at-inside-plain-string"),
        pytest.param({"a": {"x": 1}, "b": {"y": "@a"}}, "b", {"y": {"x": 1}}, id="reference-to-dict"),
        pytest.param({"a": [1, {"b": "@##0"}]}, "a", [1, {"b": 1}], id="relative-up"),
        pytest.param({"a": {"b": 2, "c": "@#b"}}, "a#c", 2, id="relative-sibling"),
        pytest.param({"n": 2, "a": {"b": {"c": "$@###n * 3"}}}, "a#b#c", 6, id="relative-in-expression"),
        pytest.param({"a": {"b": 2}, "c": "%a"}, "c", {"b": 2}, id="macro"),
        pytest.param({"a": {"b": 2, "c": "%#b"}}, "a#c", 2, id="relative-macro"),
        pytest.param(
            {"a": {"x": "@#y", "y": 3}, "b": {"y": 4, "m": "%##a"}},
            "b#m",
            {"x": 3, "y": 3},
            id="macro-keeps-relative-ids-of-its-source",
        ),
        pytest.param({"a": [1, 2], "b": "%a", "c": "%b"}, "c", [1, 2], id="macro-of-macro"),
        pytest.param(
            {"a": {"_target_": "dict", "_disabled_": True}, "b": "@a"},
            "b",
            None,
            id="reference-to-disabled-is-none",
        ),
        pytest.param(
            {"a": [1, {"_target_": "dict", "_disabled_": True}, 3]},
            "a",
            [1, 3],
            id="disabled-list-item-dropped",
        ),
        pytest.param(
            {"a": {"k": {"_target_": "dict", "_disabled_": "true"}, "j": 1}},
            "a",
            {"j": 1},
            id="disabled-dict-value-dropped",
        ),
        pytest.param({"a": 1}, "", {"a": 1}, id="root"),
        pytest.param(None, "", {"_meta_": {}}, id="empty-parser"),
    ],
)
def test_resolve(config, id_, expected):
    assert ConfigParser(config).get_parsed_content(id_) == expected


def test_every_reference_shares_one_object():
    parser = ConfigParser(
        {"obj": {"_target_": "collections.OrderedDict"}, "a": "@obj", "b": ["@obj"], "c": "$@obj"}
    )
    obj = parser.get_parsed_content("obj")
    assert parser.get_parsed_content("a") is obj
    assert parser.get_parsed_content("b")[0] is obj
    assert parser.get_parsed_content("c") is obj


def test_macro_builds_fresh_objects():
    parser = ConfigParser({"train": {"m": {"_target_": "collections.OrderedDict", "a": 1}}, "val": "%train"})
    train, val = parser.get_parsed_content("train"), parser.get_parsed_content("val")
    assert train == val
    assert train["m"] is not val["m"]


def test_macro_from_another_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "shared.yaml").write_text(
        "metrics:\n  acc: {_target_: collections.OrderedDict, k: 1}\n"
    )
    (tmp_path / "sub" / "exp.yaml").write_text(
        "vars: {k: 2}\nval: '%shared.yaml#metrics'\nall: '%shared.yaml'\n"
    )
    parser = ConfigParser()
    parser.read_config(tmp_path / "sub" / "exp.yaml")  # the macro's file is found next to exp.yaml
    assert parser.get_parsed_content("val") == {"acc": {"k": 1}}
    assert parser.get_parsed_content("all#metrics#acc#k") == 1
    assert parser.location("val#acc#k") == Location(str(tmp_path / "sub" / "shared.yaml"), 2, 47)


def test_macro_file_from_working_directory(tmp_path, monkeypatch):
    (tmp_path / "shared.yaml").write_text("x: 5\n")
    monkeypatch.chdir(tmp_path)
    assert ConfigParser({"a": "%shared.yaml#x"}).get_parsed_content("a") == 5


def test_macro_cycle_is_reported():
    with pytest.raises(CircularReferenceError, match="macros expand into each other: b -> a -> b"):
        ConfigParser({"a": "%b", "b": "%a"}).get_parsed_content("a")


@pytest.mark.parametrize(
    ("config", "cycle"),
    [
        pytest.param({"a": "@a"}, "a -> a", id="self"),
        pytest.param({"a": "@b", "b": "@a"}, "a -> b -> a", id="two"),
        pytest.param({"a": {"x": "$@a"}}, "a -> a#x -> a", id="through-a-child"),
        pytest.param(
            {"a": {"_target_": "dict", "k": "@b"}, "b": ["@a"]},
            "a -> a#k -> b -> b#0 -> a",
            id="through-a-component",
        ),
    ],
)
def test_cycles(config, cycle):
    with pytest.raises(CircularReferenceError) as caught:
        ConfigParser(config).get_parsed_content("a")
    assert cycle in str(caught.value).splitlines()[0]


def test_laziness_broken_sibling_is_not_touched():
    parser = ConfigParser(
        {
            "good": {"_target_": "collections.OrderedDict", "x": "@vars#n"},
            "bad_target": {"_target_": "no_such_module.Thing"},
            "bad_ref": "@nowhere",
            "bad_expr": "$1 / 0",
            "vars": {"n": 1},
        }
    )
    assert parser.get_parsed_content("good") == {"x": 1}
    with pytest.raises(MissingReferenceError):
        parser.get_parsed_content("bad_ref")


def test_laziness_nothing_else_is_built():
    built = []
    parser = ConfigParser(
        {
            "a": {"_target_": "$log", "name": "a"},
            "b": {"_target_": "$log", "name": "b"},
            "c": "$log(name='c')",
            "d": "@a",
        },
        globals={"log": lambda name: built.append(name)},
    )
    parser.get_parsed_content("d")
    assert built == ["a"]
    parser.get_parsed_content("d")
    assert built == ["a"]


def test_lazy_false_rebuilds():
    parser = ConfigParser({"a": {"_target_": "collections.OrderedDict"}})
    first = parser.get_parsed_content("a")
    assert parser.get_parsed_content("a") is first
    assert parser.get_parsed_content("a", lazy=False) is not first


def test_set_resets_resolution():
    parser = ConfigParser({"a": 1, "b": "$@a + 1"})
    assert parser.get_parsed_content("b") == 2
    parser["a"] = 10
    assert parser.get_parsed_content("b") == 11


def test_instantiate_false_and_eval_expr_false():
    parser = ConfigParser({"n": 2, "c": {"_target_": "collections.OrderedDict", "x": "@n"}, "e": "$@n + 1"})
    assert parser.get_parsed_content("c", instantiate=False) == {
        "_target_": "collections.OrderedDict",
        "x": 2,
    }
    assert parser.get_parsed_content("e", eval_expr=False) == "$@n + 1"
    assert parser.get_parsed_content("e") == 3


def test_default_for_missing_id():
    assert ConfigParser({"a": 1}).get_parsed_content("b", default=5) == 5


def test_long_reference_chain_resolves_at_the_normal_recursion_limit():
    n = 10_000  # ten times the default recursion limit: resolution must not recurse per link
    config = {"v0": 0, **{f"v{i}": f"@v{i - 1}" for i in range(1, n)}, "e": f"$@v{n - 1} + 1"}
    limit = sys.getrecursionlimit()
    assert ConfigParser(config).get_parsed_content("e") == 1
    assert sys.getrecursionlimit() == limit


def observe_interpreter(*_args, **_kwargs):
    """A user target that records the interpreter state it runs in."""
    return {"gc": gc.isenabled(), "limit": sys.getrecursionlimit()}


def test_user_code_runs_in_a_normal_interpreter():
    """Constructors and expressions see the garbage collector on and the user's recursion limit."""
    target = f"{__name__}.observe_interpreter"
    config = {
        "direct": {"_target_": target},
        "chain": [{"_target_": target, "x": "@direct"}, "$@chain#0"],
        "expr": f"$__import__('{__name__}', fromlist=['x']).observe_interpreter()",
    }
    limit = sys.getrecursionlimit()
    assert gc.isenabled()
    resolved = ConfigParser(config).get_parsed_content("")
    normal = {"gc": True, "limit": limit}
    assert resolved["direct"] == normal
    assert resolved["chain"] == [normal, normal]
    assert resolved["expr"] == normal
    assert gc.isenabled() and sys.getrecursionlimit() == limit


def test_callers_config_is_never_mutated(tmp_path):
    (tmp_path / "other.yaml").write_text("m: {_target_: collections.OrderedDict, k: [1, 2]}\n")
    config = {
        "_requires_": "$import collections",
        "vars": {"n": 2, "items": [1, {"k": "@###n"}]},
        "comp": {
            "_target_": "collections.OrderedDict",
            "_args_": [[["a", 1]]],
            "b": "%vars#items",
            "c": "@#d",
            "d": "$@vars#n + 1",
        },
        "lst": [{"_target_": "dict", "_disabled_": True}, "%vars"],
        "file": f"%{tmp_path / 'other.yaml'}#m",
        "partial": {"_target_": "builtins.sorted", "_mode_": "callable", "reverse": True},
    }
    snapshot = copy.deepcopy(config)
    parser = ConfigParser(config)
    parser.apply_overrides(["--vars#n=3"])
    resolved = parser.get_parsed_content()
    assert resolved["comp"]["d"] == 4
    parser.copy().get_parsed_content(lazy=False)
    del parser["lst"]
    assert config == snapshot


def test_failed_import_fails_only_where_used():
    parser = ConfigParser({"imp": "$import not_a_module_xyz", "ok": 1, "uses": "$not_a_module_xyz.x"})
    assert parser.get_parsed_content("ok") == 1
    with pytest.raises(ExpressionError, match="ModuleNotFoundError"):
        parser.get_parsed_content("uses")
    assert "failed import" in repr(parser.get_parsed_content("imp"))


def test_yaml_file_end_to_end(tmp_path):
    (tmp_path / "exp.yaml").write_text(
        textwrap.dedent("""\
        vars:
          n: 3
        model:
          _target_: collections.OrderedDict
          size: "@vars#n"
          double: "$@vars#n * 2"
        copies: ["%model", "%model"]
        """)
    )
    parser = ConfigParser()
    parser.read_config(str(tmp_path / "exp.yaml"))
    resolved = parser.get_parsed_content()
    assert resolved["model"] == {"size": 3, "double": 6}
    assert resolved["copies"][0] == resolved["copies"][1] == resolved["model"]
    assert resolved["copies"][0] is not resolved["copies"][1]
