"""``monai.bundle``'s Python API on lighter.config: the item classes, ReferenceResolver, ComponentLocator,
the extra ConfigParser members, and the builtin exception kinds MONAI users catch."""

from __future__ import annotations

import collections
import functools
import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import yaml

from lighter.config import (
    ComponentLocator,
    ConfigComponent,
    ConfigExpression,
    ConfigItem,
    ConfigParser,
    ReferenceResolver,
)
from lighter.config.merge import copy_tree
from lighter.errors import (
    ArgumentError,
    CircularReferenceError,
    DuplicateKeyError,
    ExpressionError,
    InstantiationError,
    MissingReferenceError,
)


def first_line(error: BaseException) -> str:
    return str(error).splitlines()[0]


# --- exceptions a MONAI user catches -------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "id_", "ours", "builtin", "line"),
    [
        pytest.param(
            {"a": "@b"},
            "a",
            MissingReferenceError,
            ValueError,
            "@ a: reference '@b' does not exist",
            id="missing-reference-is-value-error",
        ),
        pytest.param(
            {"a": "@b", "b": "@a"},
            "a",
            CircularReferenceError,
            ValueError,
            "@ b: circular reference: a -> b -> a",
            id="cycle-is-value-error",
        ),
        pytest.param(
            {"a": "$1 + []"},
            "a",
            ExpressionError,
            RuntimeError,
            "@ a: expression '$1 + []' failed: TypeError: unsupported operand type(s) for +: 'int' and 'list'",
            id="expression-is-runtime-error",
        ),
        pytest.param(
            {"a": {"_target_": "builtins.int", "_args_": ["x"]}},
            "a",
            InstantiationError,
            RuntimeError,
            "@ a: builtins.int raised ValueError: invalid literal for int() with base 10: 'x'",
            id="constructor-is-runtime-error",
        ),
    ],
)
def test_builtin_kinds_still_catch(config, id_, ours, builtin, line):
    with pytest.raises(builtin) as caught:
        ConfigParser(config).get_parsed_content(id_)
    assert isinstance(caught.value, ours)
    assert first_line(caught.value) == line


def test_wrong_argument_is_type_and_runtime_error():
    parser = ConfigParser({"a": {"_target_": "fractions.Fraction", "numeratr": 1}})
    with pytest.raises(RuntimeError) as caught:
        parser.get_parsed_content("a")
    assert isinstance(caught.value, ArgumentError) and isinstance(caught.value, TypeError)
    assert first_line(caught.value) == (
        "@ a: fractions.Fraction got an unexpected argument 'numeratr' (did you mean 'numerator'?)"
    )


def test_missing_id_is_still_a_key_error():
    with pytest.raises(KeyError):
        ConfigParser({"a": 1}).get_parsed_content("b")


# --- ConfigParser members -----------------------------------------------------------------------


def test_ids_read_as_attributes():
    parser = ConfigParser({"n": 2, "m": "$@n * 3", "d": {"_target_": "collections.OrderedDict", "k": "@m"}})
    assert parser.m == 6
    assert parser.d == collections.OrderedDict(k=6)
    assert parser.d is parser.get_parsed_content("d")  # the same object: attribute access is lazy too
    with pytest.raises(AttributeError, match="has no attribute or config id 'mm' \\(did you mean 'm'\\?\\)"):
        parser.mm  # noqa: B018
    assert not hasattr(parser, "mm")


def test_ref_resolver_view_follows_the_parser():
    parser = ConfigParser({"a": 1, "b": "$@a + 1", "c": {"_target_": "collections.OrderedDict", "x": "@b"}})
    view = parser.ref_resolver
    assert not view.is_resolved()
    built = parser.get_parsed_content("c")
    assert view.resolved_content["c"] is built
    assert "b" in view.resolved_content and "a" in view.resolved_content
    assert view.get_resolved_content("b") == 2
    assert isinstance(view.items["c"], ConfigComponent) and isinstance(view.items["b"], ConfigExpression)
    assert view.items is view.items  # made once per parse, not per access
    item = view.get_item("c", resolve=True)
    assert item.get_config() == {"_target_": "collections.OrderedDict", "x": 2}
    assert item.instantiate() == built and item.instantiate() is not built
    assert view.remove_resolved_content("c") is built
    assert parser.get_parsed_content("c") is not built  # built again once forgotten


def test_default_config_item_is_resolved():
    parser = ConfigParser({"a": 1})
    assert parser.get_parsed_content("x", default=ConfigItem("$2 * 3", "x")) == 6
    assert parser.get_parsed_content("x", default=7) == 7


def test_load_export_and_merge_files(tmp_path):
    base, extra = tmp_path / "base.json", tmp_path / "extra.yaml"
    ConfigParser.export_config_file({"k": [0], "t": {"x": 1, "y": 2}}, base)
    ConfigParser.export_config_file({"+k": [4], "t#x": 5, "~t#y": None}, extra, fmt="yaml")
    assert json.loads(base.read_text()) == {"k": [0], "t": {"x": 1, "y": 2}}
    assert yaml.safe_load(extra.read_text()) == {"+k": [4], "t#x": 5, "~t#y": None}
    assert ConfigParser.load_config_file(base) == {"k": [0], "t": {"x": 1, "y": 2}}
    assert ConfigParser.load_config_file("") == {}
    merged = ConfigParser.load_config_files(f"{base},{extra}")
    assert merged == {"k": [0, 4], "t": {"x": 5}}
    assert ConfigParser.load_config_files([base, extra]) == merged
    given = {"a": 1}
    assert ConfigParser.load_config_files(given) is given
    with pytest.raises(ValueError, match="unknown config format 'toml'"):
        ConfigParser.export_config_file({}, tmp_path / "x.toml", fmt="toml")


def test_read_meta(tmp_path):
    meta = tmp_path / "meta.json"
    meta.write_text('{"version": "0.1"}')
    parser = ConfigParser({"a": 1})
    parser.read_meta(str(meta))
    assert parser["_meta_"] == {"version": "0.1"} and parser["a"] == 1


def test_resolve_macro_and_relative_ids_rewrites_the_raw_config(tmp_path):
    (tmp_path / "other.yaml").write_text("e: 4\n")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        textwrap.dedent(
            """\
            a: {b: 1, c: "@#b"}
            d: [3, "%a#b", "%#0", "%other.yaml#e", "$@##a#b + 1"]
            """
        )
    )
    parser = ConfigParser()
    parser.read_config(exp)
    parser.resolve_macro_and_relative_ids()
    assert parser.get() == {"_meta_": {}, "a": {"b": 1, "c": "@a#b"}, "d": [3, 1, 3, 4, "$@a#b + 1"]}
    assert str(parser.location("d#4")) == f"{exp}:2:40"  # locations follow the values
    assert parser.get_parsed_content("d") == [3, 1, 3, 4, 2]


def test_relative_id_and_path_helpers():
    assert ConfigParser.resolve_relative_ids("a::b", "@#c + @##d") == "@a#c + @d"
    assert ConfigParser.split_path_id("x/f.yaml#a#b") == ("x/f.yaml", "a#b")
    with pytest.raises(ValueError, match="above the root"):
        ConfigParser.resolve_relative_ids("a", "@###c")


def test_allow_missing_reference_keeps_text(monkeypatch):
    monkeypatch.setattr(ReferenceResolver, "allow_missing_reference", True)
    parser = ConfigParser({"a": "@nope", "e": "$'x' + '@F'", "f": "$@g + 1", "g": 1})
    with pytest.warns(UserWarning, match=r"@ a: reference '@nope' does not exist; kept as text"):
        assert parser.get_parsed_content("a") == "@nope"
    with pytest.warns(UserWarning, match=r"@ e: reference '@F' does not exist"):
        assert parser.get_parsed_content("e") == "x@F"
    assert parser.get_parsed_content("f") == 2  # existing references are unaffected
    monkeypatch.setattr(ReferenceResolver, "allow_missing_reference", False)
    parser.parse()
    with pytest.raises(ValueError, match="reference '@nope' does not exist"):
        parser.get_parsed_content("a")


# --- ReferenceResolver's helpers on raw configs, with MONAI's as the oracle -------------------------

RAW = {
    "net": {"_target_": "torch.nn.Linear", "in_features": "@dims#in", "out_features": "$@dims#out * 2"},
    "dims": {"in": 4, "out": 3, "pair": ["@dims::in", "$@dims#in + @dims#in + @dims#out"]},
    "mail": "name@example.org",
    "off": {"_target_": "torch.nn.ReLU", "_disabled_": True},
    "text": "plain text",
}
STRINGS = ["@a", "@a::b#c", "$@a + @a + @b::c", "$'@x'", "me@host", "@", "plain", "$1 + 1", "x @a"]


def hashed(value):
    """MONAI's result with its ``::`` ids written with ``#``, as lighter writes them (a documented difference)."""
    if isinstance(value, str):
        return value.replace("::", "#")
    if isinstance(value, dict):
        return {hashed(k): hashed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hashed(v) for v in value]
    return value


def coloned(refs):
    return {k.replace("#", "::"): v for k, v in refs.items()}


@pytest.mark.parametrize("value", STRINGS)
def test_match_refs_pattern_counts_like_monai(value):
    from monai.bundle import ReferenceResolver as Monai

    assert ReferenceResolver.match_refs_pattern(value) == hashed(Monai.match_refs_pattern(value))


@pytest.mark.parametrize("id_", ["", "net", "dims", "dims#pair"])
def test_find_refs_in_config_finds_what_monai_finds(id_):
    from monai.bundle import ReferenceResolver as Monai

    config = RAW if not id_ else ConfigParser(RAW)[id_]
    assert ReferenceResolver.find_refs_in_config(config, id_) == hashed(
        Monai.find_refs_in_config(config, id_)
    )
    given = {"dims#in": 5}
    assert ReferenceResolver.find_refs_in_config(config, id_, given) is given  # updated in place


@pytest.mark.parametrize("value", [*STRINGS, "@a::b"])
def test_update_refs_pattern_rewrites_like_monai(value):
    from monai.bundle import ReferenceResolver as Monai

    refs = {"a": object(), "a#b#c": 2, "b#c": 3, "x": 4, "": 5, "a#b": 6}
    assert ReferenceResolver.update_refs_pattern(value, refs) == hashed(
        Monai.update_refs_pattern(value, coloned(refs))
    )


def test_update_config_with_refs_puts_built_parts_in_like_monai():
    from monai.bundle import ReferenceResolver as Monai

    refs = {"net": "built net", "dims#pair#1": 11, "dims#in": 4, "dims#out": 3, "off": None}
    config = copy_tree(RAW)
    ours = ReferenceResolver.update_config_with_refs(config, "", refs)
    assert ours == hashed(Monai.update_config_with_refs(config, "", coloned(refs)))
    assert ours["dims"]["pair"] == [4, 11] and "off" not in ours  # a disabled component is left out
    # Text that refers to nothing is left as written (MONAI turns '#' into '::' there too).
    assert ReferenceResolver.update_config_with_refs({"c": "color #fff", "d": "a::b"}, "") == {
        "c": "color #fff",
        "d": "a::b",
    }
    assert config == RAW  # the input is not changed


def test_a_missing_reference_in_the_helpers_is_a_key_error_or_a_warning(monkeypatch):
    with pytest.raises(KeyError, match="can not find expected ID 'b' in the references") as caught:
        ReferenceResolver.update_refs_pattern("$@a + @b", {"a": 1})
    assert isinstance(caught.value, MissingReferenceError)
    with pytest.raises(KeyError):
        ReferenceResolver.update_config_with_refs({"x": "$1"}, "", {})
    monkeypatch.setattr(ReferenceResolver, "allow_missing_reference", True)
    with pytest.warns(UserWarning, match="can not find expected ID 'b'"):
        assert ReferenceResolver.update_refs_pattern("$@a + @b", {"a": 1}) == "$__local_refs['a'] + @b"
    with pytest.warns(UserWarning):
        assert ReferenceResolver.update_refs_pattern("@b", {}) == "@b"


# --- duplicate keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        pytest.param("dup.yaml", "key:\n  u: 1\n  d: 0\n  d: 4\n", "dup.yaml:4:3", id="yaml"),
        pytest.param("dup.json", '{"key": {"u": 1, "d": 0, "d": 4}}', "dup.json:1:26", id="json"),
    ],
)
def test_duplicate_keys_warn_with_monai_text_or_fail_when_asked(tmp_path, monkeypatch, name, text, line):
    path = tmp_path / name
    path.write_text(text)
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parser = ConfigParser()
        parser.read_config(name)
    assert [str(w.message) for w in caught] == [f"{line}: Duplicate key: `d` (the last one wins)"]
    assert parser.get_parsed_content("key#d") == 4
    # read when a file is loaded, not when lighter is imported
    monkeypatch.setenv("MONAI_FAIL_ON_DUPLICATE_CONFIG", "1")
    with pytest.raises(DuplicateKeyError) as failed:
        ConfigParser().read_config(name)
    assert isinstance(failed.value, ValueError)
    assert first_line(failed.value) == f"{line}: Duplicate key: `d`"


# --- _debug_ ------------------------------------------------------------------------------------


# The debugger reads the real standard input, which pytest holds: run it in a child process.
DEBUG_SCRIPT = """
import sys
from lighter.config import ConfigParser
mode = sys.argv[1]
f = {"_target_": "fractions.Fraction", "numerator": 3, "_mode_": mode, "_debug_": True}
try:
    built = ConfigParser({"items": [f]}).get_parsed_content("items")
except RuntimeError as e:
    print("\\nRAISED", type(e).__name__, str(e).splitlines()[0])
else:
    print("\\nBUILT", [b() if callable(b) else b for b in built], type(built[0]).__name__)
"""


def _debug(mode: str, commands: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONBREAKPOINT"}
    done = subprocess.run(
        [sys.executable, "-c", DEBUG_SCRIPT, mode], input=commands, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("mode", "result"),
    [
        pytest.param("default", "BUILT [Fraction(3, 1)] Fraction", id="default-builds"),
        pytest.param("callable", "BUILT [Fraction(3, 1)] partial", id="callable-gives-partial"),
    ],
)
def test_debug_enters_the_debugger_then_builds_per_mode(mode, result):
    out = _debug(mode, "continue\n")
    assert "(Pdb)" in out  # the debugger did stop
    assert out.splitlines()[-1] == result


def test_quitting_the_debugger_raises_instead_of_dropping_the_item():
    out = _debug("default", "quit\n")
    assert out.splitlines()[-1] == (
        "RAISED InstantiationError @ items#0: quit the debugger (bdb.BdbQuit) before fractions.Fraction was built"
    )


# --- item classes -------------------------------------------------------------------------------


def test_config_item_get_update():
    item = ConfigItem({"lr": 0.1}, id="opt")
    config = item.get_config()
    config["lr"] = 0.01
    item.update_config(config)
    assert item.get_id() == "opt" and item.get_config() == {"lr": 0.01}
    assert repr(item) == "ConfigItem: \n{'lr': 0.01}"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"_target_": "fractions.Fraction", "numerator": 3}, 3, id="dotted"),
        pytest.param({"_target_": "fractions.Fraction", "_args_": [1, 4]}, 0.25, id="positional"),
        pytest.param(
            {"_target_": "fractions.Fraction", "_disabled_": "TRUE", "numerator": 3}, None, id="disabled"
        ),
        pytest.param({"numerator": 3}, None, id="not-a-component"),
    ],
)
def test_config_component_instantiate(config, expected):
    assert ConfigComponent(config, id="c").instantiate() == expected


def test_config_component_callable_mode_and_extra_kwargs():
    component = ConfigComponent({"_target_": "fractions.Fraction", "_mode_": "callable", "numerator": 3})
    built = component.instantiate(denominator=4)
    assert isinstance(built, functools.partial) and built() == 0.75
    assert component.resolve_args() == {"numerator": 3}
    assert ConfigComponent.is_instantiable({"_target_": "x"}) and not ConfigComponent.is_instantiable("x")


def test_config_component_errors_are_located_by_id():
    with pytest.raises(RuntimeError) as caught:
        ConfigComponent({"_target_": "fractions.Fraction", "numeratr": 3}, id="frac").instantiate()
    assert first_line(caught.value) == (
        "@ frac: fractions.Fraction got an unexpected argument 'numeratr' (did you mean 'numerator'?)"
    )
    with pytest.raises(ModuleNotFoundError) as missing:  # what MONAI raises for a target it cannot find
        ConfigComponent({"_target_": "fractions.Fractoin"}, id="frac").instantiate()
    assert first_line(missing.value) == (
        "@ frac: cannot import 'fractions.Fractoin': module 'fractions' has no attribute 'Fractoin' "
        "(did you mean 'fractions.Fraction'?)"
    )


def test_config_expression_evaluate_and_imports():
    names: dict = {}
    assert ConfigExpression("$import json as j", globals=names).evaluate() is json
    assert names["j"] is json  # bound into the very dict given, as in MONAI
    expression = ConfigExpression("$j.dumps(v) + suffix", id="e", globals=names)
    assert expression.evaluate(globals={"v": [1]}, locals={"suffix": "!"}) == "[1]!"
    with pytest.warns(UserWarning, match="expression global 'j' given again"):
        assert (
            expression.evaluate(globals={"j": json, "v": 2, "suffix": ""}) == "2"
        )  # same object: no warning
        ConfigExpression("$j", globals=names).evaluate(globals={"j": yaml})
    assert ConfigExpression("not an expression").evaluate() is None
    assert ConfigExpression.is_import_statement("$from os import path")
    assert not ConfigExpression.is_import_statement("$print()") and not ConfigExpression.is_expression(1)


def test_config_expression_failure_is_a_located_runtime_error():
    with pytest.raises(RuntimeError) as caught:
        ConfigExpression("$1 + []", id="x").evaluate()
    assert isinstance(caught.value, ExpressionError)
    assert first_line(caught.value) == (
        "@ x: expression '$1 + []' failed: TypeError: unsupported operand type(s) for +: 'int' and 'list'"
    )


def test_reference_resolver_built_by_hand():
    resolver = ReferenceResolver()
    resolver.add_item(ConfigComponent({"_target_": "collections.OrderedDict", "d": "@data"}, id="holder"))
    resolver.add_item(ConfigItem([1, 2], id="data"))
    resolver.add_item(ConfigItem(99, id="data"))  # an id already there keeps its first item
    resolver.add_item(ConfigItem(2, id="data::1"))
    resolver.add_item(ConfigExpression("$len(@data) + k", id="size", globals={"k": 10}))
    holder = resolver.get_resolved_content("holder")
    assert holder == collections.OrderedDict(d=[1, 2])
    assert resolver.get_resolved_content("size") == 12
    assert resolver.resolved_content["holder"] is holder and "data::1" not in resolver.items
    item = resolver.get_item("holder", resolve=True)
    assert item.get_config() == {"_target_": "collections.OrderedDict", "d": [1, 2]}
    resolver.reset()
    assert resolver.items == {} and not resolver.is_resolved()


def test_reference_resolver_cycle_and_missing():
    resolver = ReferenceResolver(
        [ConfigItem("@b", id="a"), ConfigItem("@c", id="b"), ConfigItem("@a", id="c")]
    )
    with pytest.raises(ValueError) as cycle:
        resolver.get_resolved_content("b")
    assert first_line(cycle.value) == "@ a: circular reference: b -> c -> a -> b"
    with pytest.raises(ValueError, match="reference '@nowhere' does not exist"):
        ReferenceResolver([ConfigItem("@nowhere", id="x")]).get_resolved_content("x")


def test_reference_resolver_id_helpers():
    assert ReferenceResolver.normalize_id("a::b") == "a#b"
    assert ReferenceResolver.split_id("a::b#c") == ["a", "b", "c"]
    assert ReferenceResolver.split_id("a#b#c", last=True) == ["a#b", "c"]
    assert list(ReferenceResolver.iter_subconfigs("x", {"k": 1})) == [("k", "x#k", 1)]
    assert list(ReferenceResolver.iter_subconfigs("", [5])) == [(0, "0", 5)]


def test_component_locator_finds_monai_names():
    pytest.importorskip("monai")
    locator = ComponentLocator(excludes=["monai.apps"])
    assert locator.get_component_module_name("LoadImage") == "monai.transforms.io.array"
    assert locator.get_component_module_name("NoSuchComponent") is None
    assert not any(
        module.startswith("monai.apps") for mods in locator._components_table.values() for module in mods
    )
    with pytest.raises(ValueError, match="a component name must be a string"):
        locator.get_component_module_name(3)
    component = ConfigComponent({"_target_": "LoadImage", "image_only": True}, locator=locator)
    assert component.resolve_module_name() == "monai.transforms.io.array.LoadImage"


def test_parser_excludes_narrow_bare_monai_names():
    pytest.importorskip("monai")
    config = {"load": {"_target_": "LoadImage", "image_only": True}}
    assert type(ConfigParser(config).load).__module__ == "monai.transforms.io.array"
    with pytest.raises(ImportError) as caught:
        ConfigParser(config, excludes="monai.transforms").get_parsed_content("load")
    assert first_line(caught.value) == (
        "@ load: cannot import 'LoadImage': not a builtin, module or MONAI name "
        "(give the full dotted path, e.g. 'torch.nn.Linear')"
    )
