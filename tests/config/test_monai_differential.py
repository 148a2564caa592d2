"""Differential tests: lighter's ConfigParser resolves configs exactly like ``monai.bundle.ConfigParser``.

Every case is run through both parsers; for every id (nested ones too, with ``#`` and ``::``) and
for the root, ours must build an equivalent object where MONAI succeeds and raise a
``LighterError`` where MONAI raises. Shared objects (``@``) and fresh copies (``%``) must match too.
"""

from __future__ import annotations

import json

import pytest
from _gen_compare import all_ids, difference
from _gen_configs import generate_config
from _gen_harness import check_like_monai, monai_parser, our_parser, resolve_each
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

pytest.importorskip("monai.bundle")

COMP = "collections.OrderedDict"
LINEAR = {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 2}


def every_id(config: dict) -> list[str]:
    """All ids of ``config``, nested ones also spelled with ``::``, then the root."""
    ids = all_ids(config)
    return ids + [i.replace("#", "::") for i in ids if "#" in i] + [""]


VALID = [
    pytest.param({"a": {"b": [1, {"c": 2.5}], "d": "x"}, "e": [[1, 2], [3]], "f": None}, id="nested-literals"),
    pytest.param({"s": "price $5", "t": "a@b.com", "u": "50%", "v": ""}, id="sigils-inside-plain-strings"),
    pytest.param({"a": {"b": 1}, "r": "@a#b", "r2": "@a::b", "whole": "@a"}, id="ref-into-dict"),
    pytest.param({"l": [10, 20, {"x": 3}], "r": "@l#1", "r2": "@l::2::x", "r3": "@l#2#x"}, id="ref-into-list-by-index"),
    pytest.param({"a": 1, "b": "@a", "c": "@b", "d": ["@c", "@b", {"e": "@d#0"}]}, id="ref-chain"),
    pytest.param({"m": {"_target_": COMP, "x": 1}, "r1": "@m", "r2": ["@m", {"k": "@m"}]}, id="ref-shares-one-object"),
    pytest.param({"m": {"_target_": COMP, "x": [1]}, "c1": "%m", "c2": "%m", "r": "@m"}, id="macro-gives-fresh-copies"),
    pytest.param({"a": {"b": [1, 2]}, "c": "%a#b", "d": "%a::b", "e": {"f": "%a"}}, id="macro-of-plain-values"),
    pytest.param({"x": 0, "a": {"x": 1, "y": "@#x", "z": "%#x", "w": "@x"}}, id="relative-sibling"),
    pytest.param(
        {"x": 1, "a": {"x": 2, "b": {"c": 3, "up1": "@##x", "up2": "@###x", "sib": "@#c", "deep": "@##b#c"}}},
        id="relative-parents",
    ),
    pytest.param({"a": [1, "@#0", "$@#0 + 1", {"b": "@##0"}]}, id="relative-in-list"),
    pytest.param({"a": {"x": 2, "y": "$@#x * 10", "m": {"_target_": COMP, "v": "%##x"}}}, id="relative-in-expr-and-macro"),
    pytest.param({"a": 2, "b": [1, 2, 3], "c": "$@a + len(@b)", "d": "$[i * @a for i in @b]"}, id="expr-with-refs"),
    pytest.param({"a": {"x": 1}, "b": "$@a['x'] + @a::x", "c": "$None", "d": {"e": "$None"}}, id="expr-values"),
    pytest.param({"imp": "$import math", "v": "$math.sqrt(16)", "w": ["$math.floor(2.5)"]}, id="expr-import"),
    pytest.param({"imp": "$from collections import OrderedDict", "v": "$OrderedDict(a=1)"}, id="expr-from-import"),
    pytest.param({"v": "$math.floor(2.5)", "imports": ["$import math"]}, id="import-written-after-use"),
    pytest.param({"imp": "$import collections as co", "v": "$co.Counter('aab')"}, id="import-as"),
    pytest.param({"t": "$torch.zeros(2)", "n": "$np.arange(3)", "m": "$numpy.ones(2)"}, id="default-globals"),
    pytest.param({"o": {"_target_": COMP, "a": 1, "b": [1, {"c": "@o#a"}]}}, id="target-ordereddict"),
    pytest.param({"net": {**LINEAR, "bias": False}}, id="target-torch-linear"),
    pytest.param(
        {"l1": LINEAR, "mods": {"_target_": "torch.nn.ModuleList", "modules": ["@l1", {"_target_": "torch.nn.ReLU"}]}},
        id="target-torch-modulelist",
    ),
    pytest.param(
        {"net": LINEAR, "opt": {"_target_": "torch.optim.SGD", "params": "$@net.parameters()", "lr": 0.1}},
        id="target-optimizer-with-expr",
    ),
    pytest.param(
        {"t": {"_target_": "Compose", "transforms": [{"_target_": "ScaleIntensity", "minv": 0.0}]}},
        id="target-monai-short-name",
    ),
    pytest.param({"f": {"_target_": COMP, "_mode_": "callable"}, "o": {"_target_": "@f", "a": 1}}, id="target-is-ref"),
    pytest.param({"imp": "$import collections", "o": {"_target_": "$collections.Counter", "a": 2}}, id="target-is-expr"),
    pytest.param(
        {"d": {"x": 1, "c": {"_target_": COMP, "_disabled_": True}}, "r": "@d#c", "e": "$@d#c is None"},
        id="disabled-in-dict",
    ),
    pytest.param({"l": [1, {"_target_": COMP, "_disabled_": "true"}, 3], "r": "@l#1"}, id="disabled-in-list"),
    pytest.param({"c": {"_target_": COMP, "_disabled_": "false", "a": 1}, "d": {"_target_": COMP, "_disabled_": False}}, id="disabled-false"),
    pytest.param({"d": {"x": {"_target_": "os.sched_yield"}, "y": 1}, "l": [{"_target_": "os.sched_yield"}]}, id="component-returning-none"),
    pytest.param({"f": {"_target_": "operator.add", "_mode_": "callable"}, "v": "$@f(1, 2)"}, id="callable-without-args"),
    pytest.param(
        {"f": {"_target_": "builtins.sorted", "_mode_": "callable", "reverse": True}, "v": "$@f([1, 3, 2])"},
        id="callable-with-args-is-partial",
    ),
    pytest.param(
        {"f": {"_target_": "fractions.Fraction", "_mode_": "callable", "denominator": 3}, "v": "$@f(1)"},
        id="callable-class-partial",
    ),
    pytest.param({"c": {"_target_": COMP, "_mode_": "default", "a": 1}}, id="mode-default"),
    pytest.param(
        {"first": {"_target_": "collections.Counter", "a": 1}, "a": {"_target_": COMP, "_requires_": "@first", "x": 1}},
        id="requires-ref",
    ),
    pytest.param(
        {"f": {"_target_": "collections.Counter"}, "a": {"_target_": COMP, "_requires_": ["@f", "$import math"], "x": "$math.pi"}},
        id="requires-list",
    ),
    pytest.param({"a": {"_target_": COMP, "_desc_": "some docs", "x": 1}}, id="desc-ignored"),
    pytest.param(
        {"c": {"_target_": "builtins.dict", "inner": {"_target_": "fractions.Fraction", "numerator": 1, "denominator": 3},
               "lst": [{"_target_": "collections.Counter", "a": 2}]}},
        id="nested-components",
    ),
    pytest.param({"m": {"_target_": COMP}, "same": "$@m", "pair": "$[@m, @m]", "n": {"k": "@m"}}, id="expr-returns-shared-object"),
]


@pytest.mark.parametrize("config", VALID)
def test_resolves_like_monai(config: dict) -> None:
    check_like_monai(config, every_id(config))


@pytest.mark.parametrize(
    ("config", "globals_"),
    [
        pytest.param({"v": "$myconst * 2", "w": "@v"}, {"myconst": 21}, id="value"),
        pytest.param({"v": "$m.floor(2.5)"}, {"m": "math"}, id="string-is-a-module-name"),
        pytest.param({"v": "$fn(3)"}, {"fn": abs}, id="callable"),
    ],
)
def test_globals_argument_like_monai(config: dict, globals_: dict) -> None:
    check_like_monai(config, every_id(config), globals=globals_)


FAILING = [
    pytest.param({"a": "@b"}, "a", id="missing-ref"),
    pytest.param({"a": {"x": 1}, "b": "@a#y"}, "b", id="missing-nested-ref"),
    pytest.param({"a": "$@nope + 1"}, "a", id="missing-ref-in-expr"),
    pytest.param({"a": 1}, "nope", id="missing-requested-id"),
    pytest.param({"a": "@b", "b": "@a"}, "a", id="cycle-of-two"),
    pytest.param({"a": {"x": "@a"}}, "a", id="cycle-self"),
    pytest.param({"a": "$@b", "b": {"_target_": "builtins.dict", "x": "@a"}}, "b", id="cycle-through-expr-and-component"),
    pytest.param({"a": "@##x"}, "a", id="relative-out-of-range"),
    pytest.param({"a": "%nope"}, "a", id="missing-macro"),
    pytest.param({"a": {"_target_": "collections.NoSuchThing"}}, "a", id="bad-target"),
    pytest.param({"a": "$1 / 0"}, "a", id="failing-expr"),
    pytest.param({"a": {"_target_": "fractions.Fraction", "numerator": 1, "denominator": 0}}, "a", id="raising-constructor"),
    pytest.param({"a": {"_target_": "fractions.Fraction", "numerator": 1, "denom": 2}}, "a", id="unexpected-argument"),
]


@pytest.mark.parametrize(("config", "bad_id"), FAILING)
def test_raises_where_monai_raises(config: dict, bad_id: str) -> None:
    monai_outcome = resolve_each(lambda: monai_parser(config), [bad_id])[bad_id]
    assert not monai_outcome.ok, "the case must make MONAI raise"
    check_like_monai(config, [bad_id, ""] if bad_id in config else [bad_id])


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_generated_configs_resolve_like_monai(data: st.DataObject) -> None:
    generated = generate_config(lambda n: data.draw(st.integers(0, n - 1)) if n > 1 else 0)
    note(json.dumps(generated.config, indent=1))
    ids = ["", generated.broken] if generated.broken else every_id(generated.config)
    check_like_monai(generated.config, ids)
